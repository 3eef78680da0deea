"""JSON in and atomic writes out: outputs get the permissions any program would give them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.errors import OutputError
from app.jsonio import atomic_path, write_bytes_atomic, write_json_atomic


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test; the old one comes back afterwards."""
    old = os.umask(0o022)

    def set_(value: int) -> None:
        os.umask(value)

    yield set_
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_output_honours_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    write_json_atomic(tmp_path / "items.json", [])
    write_bytes_atomic(tmp_path / "out" / "merged.nii.gz", b"x")
    assert mode(tmp_path / "items.json") == expected
    assert mode(tmp_path / "out" / "merged.nii.gz") == expected


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_rewriting_a_file_keeps_its_permissions(tmp_path, umask):
    target = tmp_path / "items.json"
    target.write_text("[]")
    target.chmod(0o640)
    write_json_atomic(target, [{"name": "t"}])
    assert mode(target) == 0o640 and '"t"' in target.read_text()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "items.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.json"]


def test_a_file_in_the_way_is_a_plain_output_error(tmp_path):
    (tmp_path / "blocker").write_text("")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        write_json_atomic(tmp_path / "blocker" / "items.json", [])
