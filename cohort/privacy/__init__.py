"""Privacy of the files a project keeps: encryption at rest of layer 01 raw and of the quarantine.

:mod:`~proximite.cohort.privacy.encryption` is the file format (AES-256-GCM in segments),
:mod:`~proximite.cohort.privacy.keys` where the keys come from, :mod:`~proximite.cohort.privacy.storage`
how raw and quarantine files are written and read, :mod:`~proximite.cohort.privacy.rotation` the
key rotation.
"""
