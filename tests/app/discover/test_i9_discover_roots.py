"""The folder chosen does not change the pairing: a dataset scanned from any ancestor
gives the cases it gives when scanned itself (issue 9, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.discover import ScanResult, scan
from app.progress import run

from .. import synth_layouts as synth

CaseKey = tuple[tuple[Path, ...], tuple[Path, ...], str]


def cases_under(result: ScanResult, folder: Path) -> set[CaseKey]:
    """The cases whose image and masks all lie under ``folder``, by absolute paths.

    Not by name: a parent may hold more masks for the same image (dcmqi's sparse label
    maps beside 24x38x3/), and an image's cases are then told apart by a suffix."""
    folder = folder.resolve()
    out = set()
    for c in result.cases:
        files = (*c.image.files, *c.masks)
        if all(folder in Path(f).resolve().parents for f in files):
            out.add((tuple(c.image.files), tuple(c.masks), str(c.shape)))
    return out


def ancestors(folder: Path, top: Path) -> list[Path]:
    """``folder``'s ancestors up to and including ``top``."""
    out, p = [], folder
    while p != top:
        p = p.parent
        out.append(p)
    return out


def test_a_mask_named_folder_that_holds_images_is_no_mask_folder(tmp_path):
    # dcmqi's layout: segmentations/ holds the image (in a subfolder) and the masks.
    data = tmp_path / "data" / "segmentations"
    synth.image(data / "ct-3slice" / "ct.nii.gz")
    synth.labelmap(data / "liver_seg.nii.gz", (1,))
    synth.labelmap(data / "liver_spine_seg.nii.gz", (1, 2))
    alone = cases_under(run(scan(data)), data)
    assert len(alone) == 2
    for root in ancestors(data, tmp_path):
        assert cases_under(run(scan(root)), data) == alone, root


def test_a_true_mask_folder_keeps_its_meaning_from_any_root(tmp_path):
    # TotalSegmentator: s0001/ct.nii.gz + s0001/segmentations/*.nii.gz (masks only).
    synth.totalseg(tmp_path / "ds", cases=2)
    alone = cases_under(run(scan(tmp_path / "ds")), tmp_path / "ds")
    assert len(alone) == 2 and all(shape == "III" for *_, shape in alone)
    assert cases_under(run(scan(tmp_path)), tmp_path / "ds") == alone


@pytest.fixture(scope="module")
def whole_data_scan(shared_data: Path) -> ScanResult:
    return run(scan(shared_data))


@pytest.mark.parametrize("rel", ["dcmqi/data/segmentations", "dcmqi/data/segmentations/24x38x3",
                                 "totalsegmentator/tests/reference_files"])
def test_real_datasets_give_the_same_cases_from_every_ancestor(shared_data, whole_data_scan,
                                                                 rel):
    folder = shared_data / rel
    alone = cases_under(run(scan(folder)), folder)
    assert alone  # the dataset pairs when chosen itself
    for root in ancestors(folder, shared_data)[:-1]:
        assert cases_under(run(scan(root)), folder) == alone, root
    assert cases_under(whole_data_scan, folder) == alone


def test_dcmqi_from_its_root_pairs_the_label_maps_with_the_ct(shared_data):
    r = run(scan(shared_data / "dcmqi"))
    masks = {p.name: c for c in r.cases for p in c.masks}
    for name in ("liver_seg.nrrd", "spine_seg.nrrd", "heart_seg.nrrd",
                 "partial_overlaps-1.nrrd", "partial_overlaps-2.nrrd", "partial_overlaps-3.nrrd"):
        assert masks[name].image.label == "data/segmentations/ct-3slice", name
