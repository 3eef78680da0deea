"""Names that hold terminal controls are printed escaped by every command (issue 16, item 4)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from app.cli import main
from app.demo import make_demo

EVIL = "evil\x1b]0;pwned\x07\x1b[2J\rFAKE \x9b31m"
ACTIVE = ("\x1b", "\x07", "\r", "\x9b")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err
    return code, out, err


def _evil_demo(tmp_path: Path) -> Path:
    folder = tmp_path / "d"
    make_demo(folder)
    items = json.loads((folder / "items.json").read_text())
    items[0]["name"] = EVIL
    (folder / "items.json").write_text(json.dumps(items))
    return folder


def test_validate_shows_a_task_name_with_controls_escaped(capsys, tmp_path):
    folder = _evil_demo(tmp_path)
    _, out, err = _run(capsys, "validate", str(folder / "items.json"))
    assert "evil" in out + err
    assert not any(c in out + err for c in ACTIVE)
    assert "\\x1b]0;pwned\\x07" in out + err


def test_validate_json_keeps_the_name_exact_and_inert(capsys, tmp_path):
    folder = _evil_demo(tmp_path)
    _, out, _ = _run(capsys, "validate", str(folder / "items.json"), "--json")
    assert not any(c in out for c in ACTIVE)
    findings = json.loads(out)["findings"]
    assert any(f.get("task") == EVIL for f in findings)


def test_scan_shows_a_file_name_with_controls_escaped(capsys, tmp_path):
    folder = tmp_path / "d"
    make_demo(folder)
    shutil.copy(folder / "ct.nii.gz", folder / "masks" / f"{EVIL}.nii.gz")
    _, out, err = _run(capsys, "scan", str(folder))
    assert "evil" in out
    assert not any(c in out + err for c in ACTIVE)


def test_a_non_utf8_file_name_prints_instead_of_failing(capsys, tmp_path):
    folder = tmp_path / "d"
    make_demo(folder)
    raw = os.fsencode(folder / "masks") + b"/bad\xff.nii.gz"
    shutil.copy(folder / "ct.nii.gz", raw)
    code, out, err = _run(capsys, "scan", str(folder))
    assert "bad\\udcff" in out + err


def test_memory_running_out_anyway_is_said_with_what_to_do(capsys, monkeypatch):
    import app.cli.commands.census as census_command

    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr(census_command, "run", exhausted)
    code, _, err = _run(capsys, "census", "x.nii.gz")
    assert code == 1 and "out of memory" in err and "hint: Close other programs" in err
