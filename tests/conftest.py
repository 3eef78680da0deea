"""Fixtures shared by the app and ui tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# SEGMAP_SHARED_DATA points elsewhere (a git worktree has no ../shared beside it).
SHARED_DATA = Path(os.environ.get("SEGMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _derived_cache(tmp_path_factory: pytest.TempPathFactory):
    """Masks converted from DICOM SEG / RTSTRUCT go to a cache of the test run, never the
    user's ~/.cache (a test that sets SEGMAP_CACHE itself still wins)."""
    old = os.environ.get("SEGMAP_CACHE")
    os.environ["SEGMAP_CACHE"] = str(tmp_path_factory.mktemp("segmap-cache"))
    yield
    if old is None:
        os.environ.pop("SEGMAP_CACHE", None)
    else:
        os.environ["SEGMAP_CACHE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party data in ../shared/data; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory: pytest.TempPathFactory):
    """The demo dataset (app.demo._writer), written once per test session; treat it as read-only."""
    from app.demo import make_demo

    return make_demo(tmp_path_factory.mktemp("demo") / "segmap-demo")
