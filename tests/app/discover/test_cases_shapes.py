"""Label maps of one image that reuse values: parts of one map or alternatives, by voxels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import nrrd as pynrrd
import numpy as np
import pytest

from app.cli import main
from app.discover import ScanResult, scan
from app.progress import run
from app.readers import RUNS

from .. import synth_layouts as synth

SHAPE = (6, 4, 3)


def do_scan(root: Path) -> ScanResult:
    return run(scan(root))


def halves(folder: Path, overlap: bool = False, suffix: str = ".nii.gz") -> None:
    """An atlas split into left and right files that both use values 1 and 2 (NIfTI, or
    NRRD on the image's grid)."""
    synth.image(folder / "brain.nii.gz", shape=SHAPE)
    left = np.zeros(SHAPE, np.uint8)
    right = np.zeros(SHAPE, np.uint8)
    left[:3, :2], left[:3, 2:] = 1, 2
    right[3:, :2], right[3:, 2:] = 1, 2
    if overlap:
        right[2] = left[2]  # one slab drawn in both: a second reading, not a half
    for arr, side in ((left, "left"), (right, "right")):
        path = folder / f"brain_atlas_{side}{suffix}"
        if suffix == ".nrrd":  # NRRD's RAS space is the NIfTI world's
            a = synth.affine()
            pynrrd.write(str(path), arr, {"space": "right-anterior-superior",
                                          "space directions": a[:3, :3].T,
                                          "space origin": a[:3, 3]})
        else:
            synth.save(arr, path)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_label_maps_sharing_values_on_disjoint_voxels_are_one_shape_two_case(tmp_path, suffix):
    # NRRD parts were taken for alternatives sharing voxels: no census runs of a conversion
    halves(tmp_path, suffix=suffix)
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.shape == "II"
    assert [m.name for m in c.masks] == [f"brain_atlas_left{suffix}", f"brain_atlas_right{suffix}"]
    assert "disjoint voxels" in c.evidence
    assert not any("alternatives" in w for w in r.warnings)


def test_disjointness_is_decided_without_the_census_runs_too(tmp_path, monkeypatch):
    halves(tmp_path)
    monkeypatch.setattr(RUNS, "get", lambda path: None)  # evicted: one streamed read each
    (c,) = do_scan(tmp_path).cases
    assert c.shape == "II"


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_overlapping_label_maps_sharing_values_are_alternatives_named_in_the_notes(tmp_path,
                                                                                  suffix):
    halves(tmp_path, overlap=True, suffix=suffix)
    r = do_scan(tmp_path)
    assert [c.shape for c in r.cases] == ["I", "I"]
    (note,) = [w for w in r.warnings if "alternatives" in w]
    for c in r.cases:
        assert c.masks[0].name in note and f"case {c.name}" in note
    assert "To keep one" in note


def test_cli_scan_prints_which_alternatives_were_taken(tmp_path, capsys):
    halves(tmp_path, overlap=True)
    main(["scan", str(tmp_path)])
    out = capsys.readouterr().out
    assert "alternatives" in out and "brain_atlas_right.nii.gz" in out


def test_a_real_label_map_cut_in_two_halves_is_one_case(shared_data, tmp_path):
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    shutil.copy(ref / "example_ct_sm.nii.gz", tmp_path / "ct.nii.gz")
    seg = nib.load(ref / "example_seg.nii.gz")
    arr = np.asanyarray(seg.dataobj).astype(np.uint8)
    mid = arr.shape[0] // 2
    for side, keep in (("left", slice(0, mid)), ("right", slice(mid, None))):
        half = np.zeros_like(arr)
        half[keep] = arr[keep]
        synth.save(half, tmp_path / f"ct_seg_{side}.nii.gz", seg.affine)
    shared = set(np.unique(arr[:mid])) & set(np.unique(arr[mid:])) - {0}
    assert shared  # organs across the midline: both halves use their values
    (c,) = do_scan(tmp_path).cases
    assert c.shape == "II" and len(c.masks) == 2


def test_segmap_build_keeps_no_runs_and_still_tells_halves(tmp_path):
    # nothing after the scan merges: the runs of every label map kept 516 MB for 1,000
    # nnU-Net cases; the halves are told apart by reading them (the same list either way)
    halves(tmp_path / "ds")
    (tmp_path / "labels.json").write_text(json.dumps({"values": {"1": "Grey", "2": "White"}}))
    RUNS.clear()
    assert main(["build", str(tmp_path / "ds"), "-o", str(tmp_path / "items.json"), "-q",
                 "--jobs", "1", "--template", str(tmp_path / "labels.json")]) == 0
    assert len(RUNS) == 0
    (task,) = json.loads((tmp_path / "items.json").read_text())
    assert len(task["series"][0]["segmentations"]) == 2  # one case of two parts (II)
