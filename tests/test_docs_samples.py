"""MLflow 3's version-tracking documentation samples, run with ``import autolog as mlflow``.

Each test runs one published code sample as written, except that OpenAI / LangChain / FastAPI objects are
replaced by plain Python functions (no network), ``subprocess`` git calls are monkeypatched, and lines
marked ``# added`` are assertions or tracing added for the test. The source of each sample is in the
comment above it. Where a sample behaves unexpectedly in MLflow itself (checked against MLflow 3.17.2),
the test pins autolog to the same behaviour and says so.

APIs the samples use that autolog does not have are listed in ``MISSING`` at the end, as strict xfails:
when one is added, its xfail fails and the sample should move into a real test.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import autolog as mlflow
from autolog._tracing import versions as _versions

VERSION_CONCEPTS = "https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts"
MLFLOW_DOCS_SRC = "https://github.com/mlflow/mlflow/blob/master/docs/docs/genai"


def _model_ids(df: pd.DataFrame) -> list[str | None]:
    return [m.get("mlflow.modelId") for m in df["trace_metadata"]]


class _FakeCompletions:
    """Stands in for ``openai.OpenAI().chat.completions``: a traced plain function, no network."""

    @staticmethod
    @mlflow.trace(name="Completions", span_type=mlflow.SpanType.CHAT_MODEL)
    def create(model: str, messages: list[dict[str, str]], **params: Any) -> Any:
        text = f"[{model}] answer to: {messages[-1]['content']}"
        message = type("Message", (), {"content": text, "role": "assistant"})()
        dump = {"choices": [{"message": {"role": "assistant", "content": text}}]}
        return type("Response", (), {"choices": [type("Choice", (), {"message": message})()],
                                     "model_dump": lambda self, **kw: dump})()  # serialized like the SDK's models


class _FakeOpenAI:
    def __init__(self) -> None:
        self.chat = type("Chat", (), {"completions": _FakeCompletions()})()


# -- Version tracking and LoggedModel (Databricks) ----------------------------------------------------------

# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("set_active_model" → "Example Usage")
def test_set_active_model_example_usage(capsys: pytest.CaptureFixture[str]) -> None:
    @mlflow.trace  # added: a traced step, to see where its traces go
    def step(x: int) -> int:
        return x

    # Simple usage - creates model if it doesn't exist
    mlflow.set_active_model(name="my-agent-v1.0")
    v1_id = mlflow.get_active_model_id()  # added
    step(1)  # added

    # Use as context manager
    with mlflow.set_active_model(name="my-agent-v2.0") as model:
        print(f"Model ID: {model.model_id}")
        # Traces within this context are linked to this model
        step(2)  # added
    v2_id = model.model_id  # added

    assert mlflow.get_active_model_id() == v1_id  # added: the context manager restored the previous model
    # Use with existing model ID
    with pytest.raises(mlflow.ResourceDoesNotExist, match="existing-model-id"):  # added: MLflow 3.17 raises too
        mlflow.set_active_model(model_id="existing-model-id")
    mlflow.set_active_model(model_id=v2_id)  # added: an id that exists
    step(3)  # added

    assert capsys.readouterr().out == f"Model ID: {v2_id}\n"
    assert v1_id and v2_id and v1_id != v2_id and v1_id.startswith("m-")
    assert mlflow.set_active_model(name="my-agent-v1.0").model_id == v1_id  # reused, not created again
    assert mlflow.get_logged_model(v1_id).name == "my-agent-v1.0"
    assert mlflow.search_traces(model_id=v1_id)["request"].tolist() == [{"x": 1}]
    assert mlflow.search_traces(model_id=v2_id, order_by=["timestamp_ms ASC"])["request"].tolist() == [{"x": 2},
                                                                                                        {"x": 3}]


# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("create_external_model" → "Example Usage")
def test_create_external_model_example_usage() -> None:
    # Basic usage
    model = mlflow.create_external_model(
        name="customer-support-agent-v1.0"
    )
    basic = model  # added

    # With full metadata
    model = mlflow.create_external_model(
        name="recommendation-engine-v2.1",
        model_type="rag-agent",
        params={
            "llm_model": "gpt-4",
            "temperature": "0.7",
            "max_tokens": "1000",
            "retrieval_k": "5"
        },
        tags={
            "team": "ml-platform",
            "environment": "staging",
            "git_commit": "abc123def"
        }
    )
    # "Within a run context" (mlflow.start_run(), source_run_id=run.info.run_id) needs runs: see MISSING.

    # added: the LoggedModel fields the page lists as the return value
    assert (basic.name, basic.status, basic.params, basic.tags, basic.model_type) == (
        "customer-support-agent-v1.0", "READY", {}, {"mlflow.model.isExternal": "true"}, None)  # MLflow's tag
    assert (model.name, model.status, model.model_type, model.experiment_id) == (
        "recommendation-engine-v2.1", "READY", "rag-agent", "0")
    assert model.params == {"llm_model": "gpt-4", "temperature": "0.7", "max_tokens": "1000", "retrieval_k": "5"}
    assert model.tags == {"team": "ml-platform", "environment": "staging", "git_commit": "abc123def",
                          "mlflow.model.isExternal": "true"}
    assert model.model_id.startswith("m-") and model.model_uri == f"models:/{model.model_id}"
    assert abs(model.creation_timestamp - datetime.now().timestamp() * 1000) < 60_000
    assert model.last_updated_timestamp >= model.creation_timestamp
    assert mlflow.get_logged_model(model.model_id) == model
    found = mlflow.search_logged_models(filter_string="params.temperature = '0.7' AND tags.team = 'ml-platform'")
    assert list(found["model_id"]) == [model.model_id]  # a DataFrame by default, as MLflow


# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("Common Issues" → "Invalid parameter types"; "Best Practices" 3: parameters must be strings)
def test_parameters_must_be_strings() -> None:
    # Error: Parameters must be strings
    # Wrong:
    params = {"temperature": 0.7, "max_tokens": 1000}
    # added: autolog keeps the page's promise with a TypeError naming the key and the type
    # (MLflow 3.17.2 itself silently stores str(value)).
    with pytest.raises(TypeError, match=r"param 'temperature' must be a str, got float"):
        mlflow.create_external_model(name="wrong-params", params=params)

    # Correct:
    params = {"temperature": "0.7", "max_tokens": "1000"}
    model = mlflow.create_external_model(name="right-params", params=params)  # added
    assert model.params == params  # added
    assert list(mlflow.search_logged_models()["name"]) == ["right-params"]  # added: nothing half-created


# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("Common Patterns" → "Version Tracking with Git Integration"); git is monkeypatched.
def test_version_tracking_with_git_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "check_output", lambda cmd, **kw: b"3f2a9c1d7e6b5a4f\n")  # added

    # Get current git commit
    git_commit = subprocess.check_output(["git", "rev-parse", "HEAD"]).decode().strip()[:8]

    # Create versioned model name
    model_name = f"my-app-git-{git_commit}"

    # Track the version
    model = mlflow.create_external_model(
        name=model_name,
        tags={"git_commit": git_commit}
    )

    assert (model.name, model.tags) == ("my-app-git-3f2a9c1d", {"git_commit": "3f2a9c1d",  # added
                                                                 "mlflow.model.isExternal": "true"})


# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("Common Patterns" → "Linking Traces to Versions")
def test_linking_traces_to_versions() -> None:
    # Set active model - all subsequent traces will be linked
    mlflow.set_active_model(name="my-agent-v1.0")

    # Your application code with tracing
    @mlflow.trace
    def process_request(query: str):
        # This trace will be automatically linked to my-agent-v1.0
        return f"Processing: {query}"

    # Run the application
    result = process_request("Hello world")

    # added: the trace carries the version, and search_traces(model_id=...) finds it
    model_id = mlflow.get_active_model_id()
    assert result == "Processing: Hello world"
    trace = mlflow.get_trace(mlflow.get_last_active_trace_id())
    assert trace.info.trace_metadata["mlflow.modelId"] == model_id
    assert mlflow.get_logged_model(model_id).name == "my-agent-v1.0"
    df = mlflow.search_traces(model_id=model_id)
    assert (df["request"].tolist(), df["response"].tolist(), df["state"].tolist()) == (
        [{"query": "Hello world"}], ["Processing: Hello world"], ["OK"])


# Source: https://docs.databricks.com/aws/en/mlflow3/genai/prompt-version-mgmt/version-tracking/version-concepts
# ("Common Patterns" → "Production Deployment": export MLFLOW_ACTIVE_MODEL_ID="my-agent-v1.0")
def test_production_deployment_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ACTIVE_MODEL_ID", "my-agent-v1.0")  # the sample's `export`
    _versions._global_model_id = _versions._UNSET  # added: the environment is read once per process

    @mlflow.trace  # added
    def handle(query: str) -> str:
        return query.upper()

    handle("hi")
    # added: as in MLflow, the value is used as the model id as it is (the page puts a name there)
    trace = mlflow.get_trace(mlflow.get_last_active_trace_id())
    assert trace.info.trace_metadata["mlflow.modelId"] == "my-agent-v1.0"
    assert len(mlflow.search_traces(model_id="my-agent-v1.0")) == 1


# -- mlflow.org: Link Production Traces to App Versions ----------------------------------------------------

# Source: https://mlflow.org/docs/latest/genai/prompt-version-mgmt/version-tracking/link-production-traces-to-app-versions
# (source text: docs/docs/genai/prompt-version-mgmt/version-tracking/link-production-traces-to-app-versions.mdx)
# FastAPI's app/Request are replaced by a plain function.
def test_link_production_traces_to_app_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "/Shared/production-genai-app")
    monkeypatch.setenv("MLFLOW_ACTIVE_MODEL_ID", "m-930352f2b0c246c9a8ac7df98a03cede")
    _versions._global_model_id = _versions._UNSET  # added: the environment is read once per process

    def process_message(message: str) -> str:  # added: the application logic the sample leaves out
        return f"echo: {message}"

    @mlflow.trace
    def handle_chat(request: Any, message: str):
        # Your traces are automatically linked to the LoggedModel
        # specified in MLFLOW_ACTIVE_MODEL_ID

        # Your application logic here
        response = process_message(message)
        return {"response": response}

    assert handle_chat(None, "hello") == {"response": "echo: hello"}  # added

    # Querying Version-Specific Traces
    from autolog.client import MlflowClient  # from mlflow.client import MlflowClient

    client = MlflowClient()

    # Get the experiment ID
    experiment = client.get_experiment_by_name("/Shared/production-genai-app")

    # Find all traces from a specific model version
    traces = mlflow.search_traces(
        experiment_ids=[experiment.experiment_id],
        model_id="m-930352f2b0c246c9a8ac7df98a03cede",
    )

    assert len(traces) == 1  # added
    assert traces["response"][0] == {"response": "echo: hello"}
    assert _model_ids(traces) == ["m-930352f2b0c246c9a8ac7df98a03cede"]
    assert mlflow.Trace.from_json(traces["trace"][0]).info.experiment_id == experiment.experiment_id != "0"


# -- mlflow.org: Track Versions & Environments ---------------------------------------------------------------

# Source: https://mlflow.org/docs/latest/genai/tracing/track-environments-context
# (source text: docs/docs/genai/tracing/track-environments-context/index.mdx). FastAPI decorators are dropped
# and Request is a plain object with headers; the rest is as written.
def test_track_environments_context(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from pydantic import BaseModel

    monkeypatch.setenv("APP_VERSION", "2.1.0")  # added: the deployment's environment
    monkeypatch.setenv("DEPLOYMENT_ID", "deploy-abc-123")

    class Request:  # added: stands in for fastapi.Request
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    class ChatRequest(BaseModel):
        message: str

    @mlflow.trace  # Ensure @mlflow.trace is the outermost decorator
    def handle_chat(request: Request, chat_request: ChatRequest):
        # Retrieve all context from request headers
        client_request_id = request.headers.get("X-Request-ID")
        session_id = request.headers.get("X-Session-ID")
        user_id = request.headers.get("X-User-ID")

        # Update the current trace with all context and environment metadata
        # The @mlflow.trace decorator ensures an active trace is available
        mlflow.update_current_trace(
            client_request_id=client_request_id,
            metadata={
                # Reserved session metadata - groups traces from multi-turn conversations
                "mlflow.trace.session": session_id,
                # Reserved user metadata - associates traces with specific users
                "mlflow.trace.user": user_id,
                # Override automatically populated environment metadata
                "mlflow.source.type": os.getenv(
                    "APP_ENVIRONMENT", "development"
                ),  # Override default LOCAL/NOTEBOOK
                # Add custom environment metadata
                "environment": "production",
                "app_version": os.getenv("APP_VERSION", "1.0.0"),
                "deployment_id": os.getenv("DEPLOYMENT_ID", "unknown"),
                "region": os.getenv("REGION", "us-east-1"),
            },
        )

        response_text = f"Processed message: '{chat_request.message}'"

        return {"response": response_text}

    headers = {"X-Request-ID": "req-abc-123-xyz-789", "X-Session-ID": "session-abc-456",  # added: the curl example
               "X-User-ID": "user-jane-doe-12345"}
    result = handle_chat(Request(headers), ChatRequest(message="What is my account balance?"))

    trace = mlflow.get_trace(trace_id=mlflow.get_last_active_trace_id())
    print(trace.info.trace_metadata)

    # added: what the page says the trace carries, and the three searches it lists
    assert result == {"response": "Processed message: 'What is my account balance?'"}
    assert trace.info.client_request_id == "req-abc-123-xyz-789"
    assert {k: trace.info.trace_metadata[k] for k in ("mlflow.trace.session", "mlflow.trace.user",
                                                      "mlflow.source.type", "environment", "app_version",
                                                      "deployment_id", "region")} == {
        "mlflow.trace.session": "session-abc-456", "mlflow.trace.user": "user-jane-doe-12345",
        "mlflow.source.type": "development", "environment": "production", "app_version": "2.1.0",
        "deployment_id": "deploy-abc-123", "region": "us-east-1"}
    for query in ("metadata.environment = 'production'", "metadata.app_version = '2.1.0'",
                  "metadata.`mlflow.trace.session` = 'session-abc-456'"):
        assert mlflow.search_traces(filter_string=query)["trace_id"].tolist() == [trace.info.trace_id], query
    assert mlflow.search_traces(filter_string="metadata.app_version = '1.0.0'").empty


# -- mlflow.org: Version Tracking for Agents and LLMs (index) and Quickstart ---------------------------------

# Source: https://mlflow.org/docs/latest/genai/version-tracking/ (source text: docs/docs/genai/version-tracking/
# index.mdx, "Automatic Version Tracking with Git Integration" and "Version Management Made Simple").
# openai.OpenAI is replaced by a stand-in; the cwd is a folder outside any git repository.
def test_version_tracking_index_samples(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # added: get_git_commit(".") then finds no repository, as the sample's fallback
    from autolog.utils.git_utils import get_git_commit  # as written: from mlflow.utils.git_utils import ...

    monkeypatch.setenv("OPENAI_API_KEY", "your-api-key-here")  # the sample sets os.environ directly

    # Configure MLflow experiment
    mlflow.set_experiment("customer-support-agent")

    # Get current git commit using MLflow's built-in utilities
    git_commit = get_git_commit(".")
    if git_commit:  # noqa: SIM108 - as written
        git_commit = git_commit[:8]  # Use short hash
    else:
        git_commit = "local-dev"  # Fallback if not in git repo

    # Create version identifier
    app_name = "customer_support_agent"
    version_name = f"{app_name}-{git_commit}"

    # Set active model context - all traces will link to this version
    mlflow.set_active_model(name=version_name)

    # Enable automatic tracing
    # mlflow.openai.autolog()  -> not called: no OpenAI client here (the spelling works: test_autolog_spelling)

    # Your application code - now automatically versioned and traced
    client = _FakeOpenAI()  # openai.OpenAI()
    test_questions = [
        "How do I reset my password?",
        "What are your business hours?",
        "Can I get a refund for my order?",
    ]

    for question in test_questions:
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            temperature=0.7,
            max_tokens=1000,
        )
        # ✅ Automatically: traced, versioned, and linked to git commit

    v1_id = mlflow.get_active_model_id()  # added
    new_commit = "9e8d7c6b"  # added: the sample leaves it undefined

    # Create a new version for experimentation
    with mlflow.set_active_model(name=f"agent-v2-{new_commit}"):
        # Test new prompt engineering approach
        improved_response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {
                    "role": "system",
                    "content": "You are a helpful customer support agent. Be concise and actionable.",
                },
                {"role": "user", "content": question},
            ],
            temperature=0.3,  # Lower temperature for consistency
            max_tokens=500,  # More focused responses
        )
        # ✅ New version automatically tracked with different configurations
        v2_id = mlflow.get_active_model_id()  # added

    # added: three traces on the first version, one on the second, all in the experiment set above
    assert mlflow.get_active_model_id() == v1_id != v2_id
    assert mlflow.get_logged_model(v1_id).name == "customer_support_agent-local-dev"
    assert mlflow.get_logged_model(v2_id).name == "agent-v2-9e8d7c6b"
    experiment_id = mlflow.get_logged_model(v1_id).experiment_id
    assert experiment_id != "0" and mlflow.get_logged_model(v2_id).experiment_id == experiment_id
    v1 = mlflow.search_traces(experiment_ids=[experiment_id], model_id=v1_id, order_by=["timestamp_ms ASC"])
    assert [r["messages"][0]["content"] for r in v1["request"]] == test_questions
    v2 = mlflow.search_traces(model_id=v2_id)
    assert [(r["temperature"], r["max_tokens"]) for r in v2["request"]] == [(0.3, 500)]
    assert response.choices[0].message.content.endswith(test_questions[-1])
    assert improved_response.choices[0].message.content.endswith(test_questions[-1])


def test_autolog_spelling() -> None:
    """``mlflow.openai.autolog()`` (MLflow's spelling) is the same function as ``autolog.openai()``."""
    assert mlflow.openai.autolog is mlflow.openai
    assert mlflow.langchain.autolog is mlflow.langchain
    assert mlflow.llama_index.autolog is mlflow.llama_index


# Source: https://mlflow.org/docs/latest/genai/version-tracking/quickstart (source text:
# docs/docs/genai/version-tracking/quickstart.mdx, "Configure Active Model and Autologging", "Generate Test Traces").
# The LangChain chain is replaced by a traced plain function; mlflow.langchain.autolog() is not called.
def test_quickstart_active_model_and_traces() -> None:
    @mlflow.trace(name="RunnableSequence", span_type=mlflow.SpanType.CHAIN)  # stands in for the LangChain chain
    def invoke(inputs: dict[str, str]) -> str:
        return f"Answer: {inputs['question']}"

    chain = type("Chain", (), {"invoke": staticmethod(invoke)})()

    # Set the active model for linking traces
    mlflow.set_active_model(name="langchain_model")

    questions = [
        {"question": "What is MLflow Tracking and how does it work?"},
        {"question": "What is Unity Catalog?"},
        {"question": "What are user-defined functions (UDFs)?"},
    ]
    outputs = []

    for question in questions:
        outputs.append(chain.invoke(question))

    # Verify traces are linked to the active model
    active_model_id = mlflow.get_active_model_id()
    traces = mlflow.search_traces(model_id=active_model_id)  # added: `traces =`

    assert len(traces) == 3 and set(_model_ids(traces)) == {active_model_id}  # added
    assert sorted(traces["response"]) == sorted(outputs)
    assert set(traces["tags"].map(lambda t: t["mlflow.traceName"])) == {"RunnableSequence"}


# -- mlflow.org: Track Application Versions with Externally Managed Code ------------------------------------

# Source: https://github.com/mlflow/mlflow/blob/15f6c756daba1701c88065520b222d58452c7778/docs/docs/genai/prompt-version-mgmt/version-tracking/track-application-versions-with-mlflow.mdx
# (Steps 1, 3 and 4; step 2 uses mlflow.log_model_params: see MISSING). git is monkeypatched.
def test_track_application_versions_steps(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(subprocess, "check_output", lambda cmd, **kw: b"0badc0ffee1234567\n")  # added
    mlflow.set_experiment("my_genai_app_versions")  # "Environment Setup"

    # Step 1: Create a LoggedModel (Metadata Hub)
    # Define your application and its version identifier
    app_name = "customer_support_agent"

    # Get current git commit hash for versioning
    try:
        git_commit = (
            subprocess.check_output(["git", "rev-parse", "HEAD"])
            .decode("ascii")
            .strip()[:8]
        )
        version_identifier = f"git-{git_commit}"
    except subprocess.CalledProcessError:
        version_identifier = "local-dev"  # Fallback if not in a git repo

    logged_model_name = f"{app_name}-{version_identifier}"

    # Set the active model context
    active_model_info = mlflow.set_active_model(name=logged_model_name)
    print(
        f"Active LoggedModel: '{active_model_info.name}', Model ID: '{active_model_info.model_id}'"
    )

    # Step 3: Link Traces to the Application Version (openai client replaced, traced by the stand-in)
    def simple_agent_call(user_query):
        client = _FakeOpenAI()  # openai.OpenAI()
        response = client.chat.completions.create(
            model="gpt-4o-mini",  # Matches "llm" param
            messages=[{"role": "user", "content": user_query}],
            temperature=0.7,  # Matches "temperature" param
            max_tokens=150,
        )
        return response.choices[0].message.content

    agent_response = simple_agent_call("How can I track my package?")

    # Step 4: Retrieve and Inspect the LoggedModel
    # Fetch the LoggedModel using its ID
    logged_model = mlflow.get_logged_model(model_id=active_model_info.model_id)

    # Inspect basic properties
    print("\n=== LoggedModel Information ===")
    print(f"Model ID: {logged_model.model_id}")
    print(f"Name: {logged_model.name}")
    print(f"Experiment ID: {logged_model.experiment_id}")
    print(f"Status: {logged_model.status}")
    print(f"Model Type: {logged_model.model_type}")

    # Access the parameters
    for param_name, param_value in logged_model.params.items():
        print(f"{param_name}: {param_value}")

    # Check creation timestamp
    creation_time = datetime.fromtimestamp(logged_model.creation_timestamp / 1000)
    print(f"Created at: {creation_time}")

    # You can also search for all LoggedModels in the experiment
    from autolog import search_logged_models  # from mlflow import search_logged_models

    all_models = search_logged_models(
        experiment_ids=[logged_model.experiment_id],
        filter_string=f"name = '{app_name}'",
        output_format="list",
    )

    # added
    assert logged_model.name == "customer_support_agent-git-0badc0ff" == active_model_info.name
    assert (logged_model.status, logged_model.model_type, logged_model.params) == ("READY", None, {})
    assert abs(creation_time - datetime.now()) < timedelta(minutes=1)
    out = capsys.readouterr().out
    assert f"Model ID: '{logged_model.model_id}'" in out and "Status: READY" in out
    # The filter names the app, not the version, so it matches nothing: in MLflow 3.17.2 too.
    assert all_models == []
    assert search_logged_models(experiment_ids=[logged_model.experiment_id], filter_string=f"name LIKE '{app_name}-%'",
                                output_format="list") == [logged_model]
    [row] = mlflow.search_traces(model_id=logged_model.model_id).itertuples()
    assert row.response["choices"][0]["message"]["content"] == agent_response
    assert row.spans[0]["attributes"]["mlflow.spanType"] == '"CHAT_MODEL"' and row.request["temperature"] == 0.7


# -- mlflow.org: Compare App Versions (LoggedModels) -------------------------------------------------------

# Source: https://github.com/mlflow/mlflow/blob/master/docs/docs/genai/prompt-version-mgmt/version-tracking/compare-app-versions.mdx
# ("Ranking and Searching Versions"). The version names come from set_active_model as in the sample's first
# part; no params or metrics are logged here (evaluation's metrics: tests/genai/test_evaluate.py).
def test_compare_app_versions_ranking_and_search() -> None:
    logged_model_name = "customer_support_agent-git-0badc0ff"
    improved_model_name = "customer_support_agent-v2-git-0badc0ff"
    active_model_info = mlflow.set_active_model(name=logged_model_name)
    time.sleep(0.002)  # added: creation times are in ms; ties are ordered arbitrarily (as in MLflow)
    improved_model_info = mlflow.set_active_model(name=improved_model_name)

    from autolog import search_logged_models  # from mlflow import search_logged_models

    # Search for all versions of our customer support agent
    # Order by creation time to see version progression
    all_versions = search_logged_models(
        filter_string=f"name IN ('{logged_model_name}', '{improved_model_name}')",
        order_by=[{"field_name": "creation_time", "ascending": False}],  # Most recent first
        output_format="list",
    )

    print(f"Found {len(all_versions)} versions of customer support agent\n")

    # Compare key metrics across versions
    for model in all_versions[:2]:  # Compare latest 2 versions
        print(f"Version: {model.name}")
        print(f"  Model ID: {model.model_id}")
        print(f"  Created: {model.creation_timestamp}")

        # Display evaluation metrics
        for metric in model.metrics:
            print(f"  {metric.key}: {metric.value}")

        # Display parameters
        print(f"  Temperature: {model.params.get('temperature', 'N/A')}")
        print(f"  LLM: {model.params.get('llm', 'N/A')}")
        print()

    # Side-by-Side Comparison
    v1 = mlflow.get_logged_model(
        model_id=active_model_info.model_id
    )  # Original from previous section
    v2 = mlflow.get_logged_model(model_id=improved_model_info.model_id)  # Improved

    # added: newest first; both found by the IN filter; the sample's "best by metric" step needs evaluation metrics
    assert [m.model_id for m in all_versions] == [improved_model_info.model_id, active_model_info.model_id]
    assert [m.name for m in all_versions] == [improved_model_name, logged_model_name]
    assert (v1.name, v2.name) == (logged_model_name, improved_model_name)
    ascending = search_logged_models(order_by=[{"field_name": "creation_time", "ascending": True}], max_results=None,
                                     output_format="list")
    assert [m.model_id for m in ascending] == [active_model_info.model_id, improved_model_info.model_id]
    with pytest.raises(mlflow.InvalidArgumentError):
        search_logged_models(order_by=[{"ascending": True}])


# -- mlflow.org: Compare Application Versions with Traces --------------------------------------------------

# Source: https://mlflow.org/docs/latest/genai/version-tracking/compare-app-versions
# (source text: docs/docs/genai/version-tracking/compare-app-versions.mdx). OpenAI calls replaced by plain
# functions. Checked against MLflow 3.17.2: its search filter is rejected and its loop iterates the DataFrame's
# column names, so the sample stops with the same errors there; autolog behaves the same way.
def test_compare_app_versions_with_traces() -> None:
    @mlflow.trace
    def basic_agent(question: str) -> str:
        """Basic customer support agent."""
        return f"Here is how: {question}"  # client.chat.completions.create(...)

    @mlflow.trace
    def empathetic_agent(question: str) -> str:
        """Enhanced customer support agent with empathetic prompting."""
        return f"I understand how frustrating this must be. {question}"  # client.chat.completions.create(...)

    # Test scenarios for fair comparison
    test_questions = [
        "How can I track my package?",
        "What's your return policy?",
        "I need help with my account login",
        "My order arrived damaged, what should I do?",
        "Can I cancel my subscription?",
    ]

    print("🔄 Generating traces for version comparison...")

    # Run both versions on the same inputs
    for i, question in enumerate(test_questions):
        print(f"Testing scenario {i + 1}: {question[:30]}...")

        # Generate trace for v1
        v1_response = basic_agent(question)

        # Generate trace for v2
        v2_response = empathetic_agent(question)

        print(f"  V1 response: {v1_response[:50]}...")
        print(f"  V2 response: {v2_response[:50]}...")

    print(f"\n✅ Generated {len(test_questions) * 2} traces for comparison")

    assert (v1_response, v2_response) == (f"Here is how: {question}",  # added
                                          f"I understand how frustrating this must be. {question}")

    # Search for traces from the last hour (adjust timeframe as needed)
    recent_time = datetime.now() - timedelta(hours=1)

    # Get traces for both versions
    with pytest.raises(mlflow.InvalidFilterError, match="number"):  # added: MLflow rejects this filter too
        mlflow.search_traces(
            filter_string=f"timestamp >= '{recent_time.isoformat()}'", max_results=100
        )
    # added: the filter MLflow accepts for "the last hour"
    all_traces = mlflow.search_traces(
        filter_string=f"timestamp_ms >= {int(recent_time.timestamp() * 1000)}", max_results=100)
    assert len(all_traces) == 10

    # Separate traces by version using trace metadata
    v1_traces = []
    v2_traces = []

    with pytest.raises(AttributeError, match="'str' object has no attribute 'to_dict'"):  # added: as in MLflow
        for trace in all_traces:  # iterating a DataFrame yields its column names
            # Parse trace data to get metadata
            trace_data = trace if isinstance(trace, dict) else trace.to_dict()

            if "customer_support_v1" in trace_data.get("info", {}).get("name", ""):
                v1_traces.append(trace_data)
            elif "customer_support_v2" in trace_data.get("info", {}).get("name", ""):
                v2_traces.append(trace_data)

    # added: over the traces the loop meant (the "trace" cells: each trace's JSON, as MLflow's), the dicts
    # have no info "name" and no "execution_time_ms", exactly as in MLflow 3, so nothing is assigned
    for trace in all_traces["trace"]:
        trace_data = json.loads(trace)
        assert "name" not in trace_data["info"] and "execution_time_ms" not in trace_data["info"]
        assert trace_data["info"]["execution_duration_ms"] == mlflow.Trace.from_json(trace).info.execution_time_ms
    assert v1_traces == v2_traces == []


# -- version comparison by model id (the pattern of the pages above, written for this test) -----------------

def test_version_comparison_by_model_id() -> None:
    """Per-version counts, error rate and latency from search_traces(model_id=...) DataFrame columns.

    Not a verbatim sample (the pages above compare versions this way but their code needs evaluation
    runs); the numbers are checked against values computed independently from the traces recorded here.
    """
    expected: dict[str, dict[str, Any]] = {}

    @mlflow.trace
    def agent(question: str, fail: bool) -> str:
        if fail:
            raise RuntimeError("upstream timeout")
        return question[::-1]

    for version, failures in (("support-v1", [False, True, False, True]), ("support-v2", [False, False, True])):
        with mlflow.set_active_model(name=version) as model:
            for i, fail in enumerate(failures):
                try:
                    agent(f"q{i}", fail)
                except RuntimeError:
                    pass
        expected[model.model_id] = {"n": len(failures), "errors": sum(failures)}

    def compare_versions(model_ids: list[str]) -> pd.DataFrame:
        rows = []
        for model_id in model_ids:
            traces = mlflow.search_traces(model_id=model_id)
            rows.append({
                "model_id": model_id,
                "total_traces": len(traces),
                "error_rate": (traces["status"] == "ERROR").mean(),
                "error_rate_v3": (traces["state"] == "ERROR").mean(),
                "avg_latency_ms": traces["execution_time_ms"].mean(),
                "max_latency_ms": traces["execution_duration"].max(),
                "linked": traces["trace_metadata"].map(lambda m: m["mlflow.modelId"]).unique().tolist(),
            })
        return pd.DataFrame(rows)

    report = compare_versions(list(expected))
    for row in report.itertuples():
        traces = mlflow.search_traces(model_id=row.model_id, return_type="list")
        durations = [t.info.execution_duration for t in traces]
        assert row.total_traces == expected[row.model_id]["n"] == len(traces)
        assert row.error_rate == row.error_rate_v3 == expected[row.model_id]["errors"] / expected[row.model_id]["n"]
        assert row.avg_latency_ms == sum(durations) / len(durations)
        assert row.max_latency_ms == max(durations)
        assert row.linked == [row.model_id]
    assert sorted(report["total_traces"]) == [3, 4]
