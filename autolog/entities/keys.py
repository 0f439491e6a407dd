"""Reserved keys of trace metadata, trace tags and span attributes, with MLflow's names.

Metadata set automatically is immutable once the trace is stored; tags stay mutable.
"""

from __future__ import annotations

__all__ = [
    "CHAT_TOOLS", "CHUNK_EVENT_NAME", "CHUNK_EVENT_VALUE", "GIT_BRANCH", "GIT_COMMIT", "GIT_REPO_URL", "LLM_COST",
    "LLM_MODEL", "LLM_PROVIDER", "MESSAGE_FORMAT", "MODEL_ID", "SCHEMA_VERSION_KEY", "SOURCE_NAME", "SOURCE_RUN",
    "SOURCE_TYPE", "SPAN_FUNCTION_NAME", "SPAN_INPUTS", "SPAN_OUTPUTS", "SPAN_TYPE", "TOKEN_USAGE",
    "TOKEN_USAGE_ATTRIBUTE", "TRACE_COST", "TRACE_INPUTS", "TRACE_NAME_TAG", "TRACE_OUTPUTS", "TRACE_REQUEST_ID",
    "TRACE_SCHEMA_VERSION", "TRACE_SESSION", "TRACE_USER", "USER",
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
# The root span's inputs/outputs as JSON, cut to 250 characters ("" if none): MLflow's request/response
# columns. autolog derives them from the stored root span when a trace is read (they are never stored).
TRACE_INPUTS = "mlflow.traceInputs"
TRACE_OUTPUTS = "mlflow.traceOutputs"

# -- trace tags ------------------------------------------------------------------------------------------
TRACE_NAME_TAG = "mlflow.traceName"

# -- span attributes -------------------------------------------------------------------------------------
SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
TRACE_REQUEST_ID = "mlflow.traceRequestId"  # the trace id, on every span (derived, never stored)
SPAN_FUNCTION_NAME = "mlflow.spanFunctionName"  # the function's __name__, on @trace spans of plain functions
TOKEN_USAGE_ATTRIBUTE = "mlflow.chat.tokenUsage"
LLM_MODEL = "mlflow.llm.model"
LLM_PROVIDER = "mlflow.llm.provider"
LLM_COST = "mlflow.llm.cost"  # {input_cost, output_cost, total_cost} in USD, set on the export worker
MESSAGE_FORMAT = "mlflow.message.format"
CHAT_TOOLS = "mlflow.chat.tools"

# -- span events -----------------------------------------------------------------------------------------
CHUNK_EVENT_NAME = "mlflow.chunk.item.{index}"  # one per item a traced generator yields (0-based)
CHUNK_EVENT_VALUE = "mlflow.chunk.value"  # the item as JSON text
