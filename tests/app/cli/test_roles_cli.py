"""`segmap scan` / `build` with 8-bit volumes: --image / --mask GLOB, and a plain reason
when nothing pairs (issue 10 item 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from tests.app.discover.test_roles_evidence import grey_u8, labels_u8

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def two_masks(tmp_path: Path) -> Path:
    """Two uint8 volumes with few values and bland names: both taken as masks."""
    labels_u8(tmp_path / "data" / "one.nii.gz", 3)
    labels_u8(tmp_path / "data" / "two.nii.gz", 3)
    return tmp_path / "data"


def test_scan_says_why_it_found_no_case(two_masks: Path, capsys: Capsys) -> None:
    assert main(["scan", str(two_masks), "-q"]) == 0
    out = capsys.readouterr().out
    assert "0 cases: 2 volume(s), both taken as mask(s) (uint8, few values); " \
           "pass --image 'one.nii.gz'" in out
    assert "one.nii.gz: mask, uint8, 4 distinct values" in out  # the evidence, per file
    assert "mask one.nii.gz: no image found in the scanned folder (taken as a mask: uint8, " \
           "4 distinct values" in out  # why it is a mask, where it is not paired


def test_scan_json_carries_the_evidence_and_the_reason(two_masks: Path, capsys: Capsys) -> None:
    assert main(["scan", str(two_masks), "-q", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["no_cases"].startswith("0 cases: 2 volume(s)")
    assert all(m["evidence"] for m in out["masks"])


def test_scan_image_glob_flips_a_role_and_pairs(two_masks: Path, capsys: Capsys) -> None:
    assert main(["scan", str(two_masks), "-q", "--json", "--image", "one*"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["image"] for c in out["cases"]] == ["one.nii.gz"]
    assert out["volumes"][0]["why"] == "set by you (--image 'one*')"
    assert "no_cases" not in out


def test_scan_mask_glob_wins_when_later(two_masks: Path, capsys: Capsys) -> None:
    assert main(["scan", str(two_masks), "-q", "--json", "--image", "*", "--mask",
                 "two.nii.gz"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["file"] for v in out["volumes"]] == ["one.nii.gz"]
    assert [m["file"] for m in out["masks"]] == ["two.nii.gz"]


def test_build_with_no_case_exits_1_and_writes_nothing(two_masks: Path, tmp_path: Path,
                                                       capsys: Capsys) -> None:
    out = tmp_path / "out" / "items.json"
    assert main(["build", str(two_masks), "-q", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "nothing written: 0 cases: 2 volume(s), both taken as mask(s)" in err
    assert not out.exists()


def test_build_with_an_image_glob_writes_the_case(two_masks: Path, tmp_path: Path) -> None:
    out = tmp_path / "items.json"
    assert main(["build", str(two_masks), "-q", "-o", str(out), "--image", "one.nii.gz"]) == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 1 and tasks[0]["series"][0]["items"].endswith("one.nii.gz")


def test_build_pairs_an_8bit_template_with_its_seg(tmp_path: Path) -> None:
    grey_u8(tmp_path / "d" / "case.nii.gz")
    labels_u8(tmp_path / "d" / "case_seg.nii.gz", 3)
    out = tmp_path / "items.json"
    assert main(["build", str(tmp_path / "d"), "-q", "-o", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 1


def test_scan_of_a_real_uint8_label_map_beside_its_ct(shared_data: Path, tmp_path: Path,
                                                     capsys: Capsys) -> None:
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(ref / "example_ct_sm.nii.gz", folder / "case.nii.gz")
    shutil.copy(ref / "example_seg.nii.gz", folder / "case_seg.nii.gz")
    assert main(["scan", str(folder), "-q", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["segmentations"] for c in out["cases"]] == [["case_seg.nii.gz"]]
