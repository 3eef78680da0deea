"""Files that are no regular files, JSON that no Segmap file is, and temporaries a kill left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.errors import InputError, JsonFileError, OutputError
from app.jsonio import (
    atomic_path,
    dumps,
    load_json,
    open_regular,
    printable,
    regular_file,
    sweep_stale_temporaries,
    write_json_atomic,
)
from tests.app.hostile.corpus import device_link, fifo, needs_fifo, nested_json


@needs_fifo
def test_a_fifo_is_refused_by_what_it_is_without_blocking(tmp_path):
    pipe = fifo(tmp_path / "items.json")
    with pytest.raises(JsonFileError, match=r"is a named pipe \(FIFO\)"):
        load_json(pipe, "items list")
    with pytest.raises(InputError, match="FIFO"):
        open_regular(pipe)


def test_dev_zero_as_the_list_is_refused_before_reading(tmp_path):
    with pytest.raises(JsonFileError, match="is a character device"):
        load_json(device_link(tmp_path / "items.json"), "items list")


def test_a_dangling_link_says_so(tmp_path):
    link = tmp_path / "items.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(InputError, match="not found") as err:
        regular_file(link, "items list")
    assert "points to nothing" in (err.value.hint or "")


def test_json_nested_900_levels_is_a_plain_error(tmp_path):
    for depth in (200, 950, 5000):
        with pytest.raises(JsonFileError, match="nests"):
            load_json(nested_json(tmp_path / f"deep{depth}.json", depth))


def test_nan_infinity_and_1e999_are_refused_when_read(tmp_path):
    for text in ('{"series": NaN}', '{"series": Infinity}', '{"series": 1e999}'):
        p = tmp_path / "autosave.json"
        p.write_text(text)
        with pytest.raises(JsonFileError, match="not plain JSON"):
            load_json(p)


def test_a_lone_surrogate_is_refused_when_read(tmp_path):
    p = tmp_path / "items.json"
    p.write_text('[{"name": "\\ud800"}]')
    with pytest.raises(JsonFileError, match="UTF-8 cannot carry"):
        load_json(p)


def test_nan_and_bad_names_are_refused_when_written_not_written_as_nan(tmp_path):
    with pytest.raises(OutputError, match="NaN"):
        dumps({"voxelSpacing": float("nan")})
    bad_name = os.fsdecode(b"case\xff.nii.gz")
    with pytest.raises(OutputError, match="not valid UTF-8"):
        write_json_atomic(tmp_path / "items.json", [{"items": [bad_name]}])
    assert not (tmp_path / "items.json").exists()
    assert not list(tmp_path.iterdir())


def test_printable_escapes_what_a_terminal_would_act_on():
    assert printable("a\x1b]0;pwned\x07b\rc") == "a\\x1b]0;pwned\\x07b\\x0dc"
    assert printable("línea\tok\n") == "línea\tok\n"
    assert printable(os.fsdecode(b"x\xff")) == "x\\udcff"


def _stale(target: Path, age: float = 60.0) -> Path:
    tmp = target.parent / f".{target.name}.0123abcd.json"
    tmp.write_bytes(b"x" * 1000)
    os.utime(tmp, (time.time() - age, time.time() - age))
    return tmp


def test_a_temporary_a_kill_left_is_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "items.json"
    stale = _stale(target)
    other = tmp_path / ".notes.json.0123abcd.json"  # another output's, not ours to judge
    other.write_text("x")
    os.utime(other, (0, 0))
    write_json_atomic(target, [])
    assert not stale.exists() and other.exists()
    assert json.loads(target.read_text()) == []


def test_a_temporary_in_use_by_another_writer_is_kept(tmp_path):
    target = tmp_path / "items.json"
    with atomic_path(target) as tmp:
        tmp.write_text("[]")
        os.utime(tmp, (0, 0))
        assert sweep_stale_temporaries(target) == []
        assert tmp.exists()
    assert target.exists()


def test_kill_9_mid_write_leaves_a_temporary_the_next_run_removes(tmp_path):
    target = tmp_path / "items.json"
    code = (
        "import sys, time\n"
        "from app.jsonio import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 4096)\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[3])
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".items.json.")]
    assert len(left) == 1 and not target.exists()
    os.utime(left[0], (time.time() - 60, time.time() - 60))
    write_json_atomic(target, [])
    assert [p.name for p in tmp_path.iterdir()] == ["items.json"]
