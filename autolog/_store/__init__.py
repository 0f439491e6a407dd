"""SQL stores of traces, LoggedModels, experiments and assessments.

Modules: ``schema`` (tables, indexes and forward migrations), ``records`` (the record a
trace is written as, also the spool's format), ``rows`` (stored rows back into entities),
``filter_parser`` and ``filter_sql`` (MLflow filter strings to bound SQL), ``sqlite`` (the
embedded store) with ``logged_models`` (its LoggedModel tables), ``connections`` (per-thread
connections, fork safety, errors as ``StoreError``) and ``sqlite_io`` (opening, error
translation, batched statements), ``pages`` (keyset page tokens). A store knows entities
and records; it never sees a span being recorded.
"""
