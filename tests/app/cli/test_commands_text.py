"""What the commands print for a person: the command list, categories, values left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text") / "demo"
    assert main(["demo", str(root)]) == 0
    return root


def test_segmap_alone_lists_its_commands(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert "required" not in out + err
    for command in ("demo", "scan", "build", "census", "merge", "stats", "validate", "export",
                    "upload"):
        assert f"\n    {command} " in out, command
    assert "segmap COMMAND --help" in out


def test_merge_names_the_category_of_every_instance(demo, capsys):
    items = str(demo / "items.json")
    capsys.readouterr()
    assert main(["merge", items, "--task", "demo-III-binary-mask-per-organ"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["instance", "1", "Liver", "overlap", "groups", "[7]"]
    assert lines[6].split() == ["instance", "6", "Liver", "Tumor", "overlap", "groups", "[7]"]
    assert main(["merge", items, "--task", "demo-I-one-multilabel-file"]) == 0
    assert "instance     7  (no category)" in capsys.readouterr().out


def test_stats_says_which_values_it_left_out(demo, capsys):
    items = str(demo / "items.json")
    capsys.readouterr()
    assert main(["stats", items, "--task", "demo-I-one-multilabel-file"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:7]] == ["1", "2", "3", "4", "5", "6"]
    assert lines[7].startswith("Left out (1 value in the masks with no segmentMap entry")
    assert lines[8].split()[:4] == ["7", "(no", "category)", "19,008"]
    assert main(["stats", items, "--task", "demo-I-one-multilabel-file", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["key"] for s in out["segments"]] == ["1", "2", "3", "4", "5", "6"]
    [left] = out["left_out"]
    assert (left["value"], left["voxels"], left["category"]) == (7, 19008, None)
    # Everything mapped: nothing is said to be left out.
    assert main(["stats", items, "--task", "demo-III-binary-mask-per-organ"]) == 0
    assert "Left out" not in capsys.readouterr().out


def test_a_command_loads_no_other_commands_module(demo, tmp_path):
    """``segmap validate`` imports its own module, not the upload's or the report's: every
    command's import was 0.2 s of a 1,000-case validation before any case was read."""
    import subprocess
    import sys

    code = ("import sys\nfrom app.cli import main\n"
            f"code = main(['validate', {str(demo / 'items.json')!r}, '-q', '--jobs', '1'])\n"
            "print(code, ' '.join(sorted(m.rsplit('.', 1)[1] for m in sys.modules"
            " if m.startswith('app.cli.commands.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2:] == ["0", "validate"], out


def test_a_misspelt_command_lists_them_all(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["valdate", "items.json"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'valdate'" in err and "'validate'" in err and "'upload'" in err
