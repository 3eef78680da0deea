"""Segmap works with docstrings stripped (``python -OO``, as some bundlers build it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.cli import main


def test_validate_runs_under_python_OO(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert main(["demo", str(demo)]) == 0
    done = subprocess.run(
        [sys.executable, "-OO", "-m", "app.cli", "validate", str(demo / "items.json"),
         "--taxonomy", str(demo / "taxonomy.json"), "--json"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    codes = {f["code"] for f in json.loads(done.stdout)["findings"]}
    assert {"unmapped-value", "overlap"} <= codes
