"""Privacy controls of a project.

Consent withdrawal (:mod:`~proximite.cohort.privacy.withdrawal`, its ledger and scans), retention
(:mod:`~proximite.cohort.privacy.retention`), the access log and the privacy inventory; encryption
at rest of layer 01 and the quarantine: :mod:`~proximite.cohort.privacy.encryption` is the file
format (AES-256-GCM in segments), :mod:`~proximite.cohort.privacy.keys` where the keys come from,
:mod:`~proximite.cohort.privacy.storage` how raw and quarantine files are written and read,
:mod:`~proximite.cohort.privacy.rotation` the key rotation.
"""
