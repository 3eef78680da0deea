"""Every write error is a plain error naming the path, never an internal error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs") / "demo"
    assert main(["demo", str(root)]) == 0
    return root


@pytest.mark.parametrize("command", ["export", "build", "merge", "template"])
def test_an_output_under_an_existing_file_is_a_plain_error(demo, tmp_path, capsys, command):
    blocker = tmp_path / "some-file"
    blocker.write_text("not a folder")
    out = blocker / ("merged.nii.gz" if command == "merge" else "out.json")
    args = {
        "export": ["export", str(demo / "items.json"), "-o", str(out)],
        "build": ["build", str(demo), "-o", str(out), "-q"],
        "merge": ["merge", str(demo / "items.json"), "--task", "demo-I-one-multilabel-file",
                  "-o", str(out)],
        "template": ["build", str(demo), "-o", str(tmp_path / "ok" / "items.json"), "-q",
                     "--save-template", str(out)],
    }[command]
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert f"Cannot write {out}: {blocker} is a file, not a folder." in err
    assert "hint: Choose another output path" in err
    assert blocker.read_text() == "not a folder"


def test_an_output_that_is_a_folder_is_a_plain_error(demo, tmp_path, capsys):
    capsys.readouterr()
    assert main(["export", str(demo / "items.json"), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"Cannot write {tmp_path}: it is a folder." in err and "internal error" not in err


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_outputs_honour_the_umask(demo, tmp_path):
    """items.json, the merged NIfTI and a template are -rw-r--r-- under umask 022, as a file
    any other program writes (not the -rw------- of a temporary file)."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "built" / "items.json"
        assert main(["build", str(demo), "-o", str(out), "-q",
                     "--save-template", str(tmp_path / "map.json")]) == 0
        assert main(["merge", str(demo / "items.json"), "--task",
                     "demo-I-one-multilabel-file", "-o", str(tmp_path / "merged.nii.gz")]) == 0
        assert main(["export", str(demo / "items.json"), "-o", str(tmp_path / "x.json")]) == 0
    finally:
        os.umask(old)
    for path in (out, tmp_path / "map.json", tmp_path / "merged.nii.gz", tmp_path / "x.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
