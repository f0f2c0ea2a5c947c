"""REDCap in one package: the project model, its data dictionary and XML, the records, the pull.

=================  ================================================================================
module             what it holds
=================  ================================================================================
``project``        :class:`~.project.RedcapProject`, the one model of a project (dictionary, events,
                   arms, form–event mapping, repeating instruments, DAGs, records, log)
``loaders``        a project from a folder of CSV files, its project XML or the codebook
                   (:func:`~.loaders.load_project`, :func:`~.loaders.codebook_project`)
``dictionary``     the data dictionary: its columns, choices, checkbox columns, staged field kinds
``xml_*``          REDCap's project XML (CDISC ODM with REDCap's extensions): ``xml_layout``
                   (shared), ``xml_write`` (+ ``_forms``, ``_data``), ``xml_read`` (+ ``_meta``, ``_records``)
``layout``         the flat records layout (:func:`~.layout.flat_columns`) and its column checks
``records``        :func:`~.records.stage_records`: a flat export typed and split by form
``form_types``     one form's staged table, missing-data codes
``errors``         :class:`~.errors.RedcapPullError`, refusals, transient failures, token redaction
``retries``        :class:`~.retries.RetryPolicy` and :func:`~.retries.call_with_retries`
``answers``        CSV answers checked and read as tables of strings
``client``         PyCap's project with a response hook: every answer kept in 01 raw
``watermark``      the pull's watermark and structure fingerprint
``incremental``    deletions from the log, :func:`~.incremental.merge_incremental`
``batches``        record ids, batches, their checks and typing
``structure``,     the pull's steps: project structure, record ids and records, staging
``fetch``,
``steps``
``commit``         the staged state written aside, gated, moved into place, marked ``LATEST``
``pull``           :func:`~.pull.pull_redcap`
=================  ================================================================================

The REDCap *file* source (an export folder in an input directory) is
:class:`proximite.cohort.sources.files.RedcapExportSource`; it stages with :mod:`.records`.
"""

# Staging reuses the sources' cell coercions (proximite.cohort.sources.coerce), and the sources
# register the REDCap file source, which imports this package: loading the sources first keeps
# either import order from meeting a half-initialised module.
import proximite.cohort.sources  # noqa: F401  (import order, see above)
