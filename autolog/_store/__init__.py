"""SQL stores of traces, LoggedModels, experiments and assessments.

Modules: ``schema`` (tables, indexes and forward migrations), ``records`` (the record a
trace is written as, also the spool's format), ``rows`` (stored rows back into entities),
``filter_parser`` and ``filter_sql`` (MLflow filter strings to bound SQL), ``dialect`` (the
fragments SQLite's and PostgreSQL's SQL differ in, and the schema rendered for each), ``traces``
and the other table mixins (``logged_models``, ``runs``, ``datasets``, ``labeling``) both stores
share, ``sqlite`` (the embedded store) with ``connections`` (per-thread connections, fork safety,
errors as ``StoreError``) and ``sqlite_io`` (opening, error translation, batched statements),
``postgres`` (the PostgreSQL store) with ``pg_connections`` (pooled), ``pg_schema`` (migrations
under an advisory lock) and ``pg_io`` (URIs, errors), ``stores`` (which store a URI opens),
``copy`` (a whole store into another), ``pages`` (keyset page tokens). A store knows entities
and records; it never sees a span being recorded.
"""
