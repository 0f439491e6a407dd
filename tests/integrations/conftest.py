"""pytest-recording settings for the modules that replay ``cassettes/<folder>/``.

Each such module names its folder in a module-level ``CASSETTES``; pytest-recording asks every
module for a folder, so the others get its default (which they never read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integrations import cassette_replay


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return cassette_replay.vcr_settings()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    folder = getattr(request.module, "CASSETTES", None)
    if not isinstance(folder, Path):
        return str(Path(request.module.__file__).parent / "cassettes" / request.module.__name__.split(".")[-1])
    return str(folder)
