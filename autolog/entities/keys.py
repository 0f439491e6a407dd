"""Reserved keys of trace metadata, trace tags and span attributes, with MLflow's names.

Metadata set automatically is immutable once the trace is stored; tags stay mutable.
"""

from __future__ import annotations

__all__ = [
    "CHAT_TOOLS", "GIT_BRANCH", "GIT_COMMIT", "GIT_REPO_URL", "LLM_COST", "LLM_MODEL", "LLM_PROVIDER",
    "MESSAGE_FORMAT", "MODEL_ID", "SCHEMA_VERSION_KEY", "SOURCE_NAME", "SOURCE_RUN", "SOURCE_TYPE", "SPAN_INPUTS",
    "SPAN_OUTPUTS", "SPAN_TYPE", "TOKEN_USAGE", "TOKEN_USAGE_ATTRIBUTE", "TRACE_COST", "TRACE_NAME_TAG",
    "TRACE_REQUEST_ID", "TRACE_SCHEMA_VERSION", "TRACE_SESSION", "TRACE_USER", "USER",
]

# -- trace metadata, set once per process --------------------------------------------------------------
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
USER = "mlflow.user"
SCHEMA_VERSION_KEY = "mlflow.trace_schema.version"
TRACE_SCHEMA_VERSION = "3"

# -- trace metadata, per trace ---------------------------------------------------------------------------
MODEL_ID = "mlflow.modelId"
TOKEN_USAGE = "mlflow.trace.tokenUsage"
TRACE_COST = "mlflow.trace.cost"  # JSON {input_cost, output_cost, total_cost} in USD, set on the export worker
TRACE_SESSION = "mlflow.trace.session"
TRACE_USER = "mlflow.trace.user"
SOURCE_RUN = "mlflow.sourceRun"

# -- trace tags ------------------------------------------------------------------------------------------
TRACE_NAME_TAG = "mlflow.traceName"

# -- span attributes -------------------------------------------------------------------------------------
SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
TRACE_REQUEST_ID = "mlflow.traceRequestId"
TOKEN_USAGE_ATTRIBUTE = "mlflow.chat.tokenUsage"
LLM_MODEL = "mlflow.llm.model"
LLM_PROVIDER = "mlflow.llm.provider"
LLM_COST = "mlflow.llm.cost"  # {input_cost, output_cost, total_cost} in USD, set on the export worker
MESSAGE_FORMAT = "mlflow.message.format"
CHAT_TOOLS = "mlflow.chat.tools"
