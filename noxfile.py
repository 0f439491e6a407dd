"""Automation: `nox -s tests`, `lint`, `typecheck`, `bench`, `demo`, `record`, and a library-version matrix."""

from __future__ import annotations

import os
from pathlib import Path

import nox
import tomllib

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
ROOT = Path(__file__).resolve().parent


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (what CI runs through .ci/run)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


INTEGRATION_TESTS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "integrations").glob("test_*.py"))
LLAMA_INDEX_OPENAI_TESTS = "tests/integrations/test_llama_index_openai.py"
# llama-index-llms-openai 0.8.x requires "openai<3,>=1.108.1": on openai 3.x it is not installed and its tests not run.
WITHOUT_LLAMA_INDEX_OPENAI = [path for path in INTEGRATION_TESTS if path != LLAMA_INDEX_OPENAI_TESTS]

# (openai, langchain-core, langchain-openai, the test files run). langchain-openai 0.3.x requires
# "openai<3.0.0,>=1.104.2" and langchain-core 0.3; langchain-openai 1.8 requires "openai>=2.45.0" and
# langchain-core 1.x.
COMPAT = [
    nox.param("1.109.1", "0.3.*", "<0.4", INTEGRATION_TESTS, id="openai1"),
    nox.param("2.*", "1.*", ">=1", INTEGRATION_TESTS, id="openai2"),
    nox.param("3.*", "1.*", ">=1", WITHOUT_LLAMA_INDEX_OPENAI, id="openai3"),
]


def _test_requirements(*, llama_index_openai: bool) -> list[str]:
    """The `test` extra of pyproject.toml, without llama-index-llms-openai unless asked for."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    return [req for req in extra if llama_index_openai or not req.startswith("llama-index-llms-openai")]


@nox.session(python=PYTHON)
@nox.parametrize(["openai", "langchain_core", "langchain_openai", "tests"], COMPAT)
def compat(session: nox.Session, openai: str, langchain_core: str, langchain_openai: str, tests: list[str]) -> None:
    """The OpenAI, LangChain and LlamaIndex integration tests on openai 1.x, 2.x and 3.x (`nox -s "compat(openai3)"`).

    One resolver pass, so the pins hold: the `test` extra, then openai / langchain-core / langchain-openai.
    """
    llama_index_openai = LLAMA_INDEX_OPENAI_TESTS in tests
    session.install("-e", ".", *_test_requirements(llama_index_openai=llama_index_openai), f"openai=={openai}",
                    f"langchain-core=={langchain_core}", f"langchain-openai{langchain_openai}")
    if not llama_index_openai:
        session.run("python", "-m", "pip", "uninstall", "-y", "-q", "llama-index-llms-openai")  # a reused venv
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run("python", "-m", "pytest", *tests, *session.posargs)


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
