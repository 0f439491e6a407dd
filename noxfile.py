"""Automation: `nox -s tests`, `lint`, `typecheck`, `bench`, `demo`, `record`, and a library-version matrix."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (what CI runs through .ci/run)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("openai", ["1.109.1", "2.*"])
@nox.parametrize("langchain_core", ["0.3.*", "1.*"])
def compat(session: nox.Session, openai: str, langchain_core: str) -> None:
    """The integration tests against older and newer majors of the instrumented libraries."""
    session.install("-e", ".[test]")
    lc_openai = "langchain-openai<0.4" if langchain_core.startswith("0.3") else "langchain-openai"
    session.install(f"openai=={openai}", f"langchain-core=={langchain_core}", lc_openai)
    session.run("python", "-m", "pytest", "tests/integrations", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "autolog", "integrations", "tests", "bench", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on autolog/ and integrations/ (the files are set in pyproject.toml)."""
    session.install("-e", ".[test]", "mypy>=1.11", "types-PyYAML")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark side by side with its peers (MLflow, OpenInference); writes bench/results/ and the plot."""
    session.install("-e", ".[test]", "-r", "bench/requirements.txt")
    session.run("python", "bench/run_all.py", *session.posargs)


@nox.session(python=PYTHON)
def mlflow_parity(session: nox.Session) -> None:
    """Trace-search filters against MLflow 3.17.2 and autolog (bench/mlflow_parity.py); --write-golden updates
    tests/mlflow_compat/data/parity_expected.json. MLflow runs in $MLFLOW_PYTHON, else .nox/mlflow-control."""
    session.install(".[test]")
    session.run("python", "bench/mlflow_parity.py", "--json", "bench/results/mlflow_parity.json", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Minutes of writers killed with SIGKILL and restarted, counting submitted against stored (BENCHMARKS.md)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/soak.py", "--json", "bench/results/soak.json", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    session.install("-e", ".[all]")
    session.run("autolog", "demo")


@nox.session(python=PYTHON)
def record(session: nox.Session) -> None:
    """Re-record the cassettes against the real APIs (needs OPENAI_API_KEY; costs a few cents)."""
    if not os.environ.get("OPENAI_API_KEY"):
        session.error("set OPENAI_API_KEY to re-record cassettes")
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "tests/integrations", "--record-mode=rewrite", *session.posargs,
                env={"AUTOLOG_RECORD": "1"})
