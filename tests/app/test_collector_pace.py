"""app.allocator paces Python's garbage collector for a command's length: building a large
structure that stays (10,000 cases' items list) ran 12 full collections that found nothing,
1.3-1.5 s of an 8.6 s ``segmap build``. Counted in collections, in a fresh process, not
timed; the pace is put back after (a Qt process's collections must not be put off)."""

from __future__ import annotations

import json
import subprocess
import sys

_SCRIPT = """
import contextlib, gc, json, sys
from dataclasses import dataclass
from app import allocator
pace = allocator.paced_collector() if sys.argv[1] == "tuned" else contextlib.nullcontext()
before = gc.get_threshold()
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2
                    and full.append(info["collected"]))

@dataclass
class Row:  # what a case's items and rows are made of: small objects that stay
    name: str
    values: list
    extra: dict

with pace:
    kept = [Row(f"case_{i}", [i, i + 1], {"k": [i]}) for i in range(300_000)]
print(json.dumps({"full": len(full), "found": sum(full),
                  "put_back": gc.get_threshold() == before}))
"""


def _full_collections(mode: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_building_a_large_structure_runs_no_full_collection_once_tuned() -> None:
    untuned, tuned = _full_collections("default"), _full_collections("tuned")
    assert untuned["full"] >= 2 and untuned["found"] == 0  # what tune() saves: work for nothing
    assert tuned["full"] == 0 and tuned["put_back"]


def test_a_command_runs_paced_and_puts_the_pace_back(monkeypatch) -> None:
    """``segmap`` runs its command paced; called in a process that goes on (a test, a
    notebook, the wizard's), the collector's pace is what it was before."""
    import gc

    import app.cli.commands.validate as command
    from app import allocator
    from app.cli import main

    seen = []
    monkeypatch.setattr(command, "run", lambda args: seen.append(gc.get_threshold()) or 0)
    before = gc.get_threshold()
    assert main(["validate", "items.json"]) == 0
    assert seen == [allocator.COLLECTOR] and gc.get_threshold() == before
