"""dcmqi's real data end to end: its NRRD masks scanned with their real values and voxel
counts, mapped by build and shown by the session (issue 9, items 3 and 4); numbered
parts of one segmentation kept together."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import nrrd as pynrrd
import numpy as np
import pytest

from app.discover import ScanResult, scan
from app.items import ImportShape
from app.progress import run

from .. import synth_layouts as synth

SEGS = "dcmqi/data/segmentations"


def counts(values: np.ndarray) -> dict[float, int]:
    v, n = np.unique(values, return_counts=True)
    return {float(a): int(b) for a, b in zip(v, n, strict=True)}


@pytest.fixture(scope="module")
def dcmqi(shared_data: Path) -> ScanResult:
    return run(scan(shared_data / "dcmqi"))


def test_every_nrrd_mask_has_its_real_values_and_voxel_counts(shared_data, dcmqi):
    paired = [p for c in dcmqi.cases for p in c.masks if not dcmqi.derived_of(c)]
    # The scan names files by their real path (../shared may be a link, as in CI).
    assert sorted(paired) == sorted(p.resolve() for p in (shared_data / SEGS).rglob("*.nrrd"))
    for path in paired:
        data, _ = pynrrd.read(str(path))
        assert dcmqi.censuses[path].values == counts(data), path.name


def test_the_partial_overlaps_are_one_case_of_three_parts(dcmqi):
    (case,) = [c for c in dcmqi.cases if any("partial_overlaps" in m.name for m in c.masks)]
    assert case.shape is ImportShape.LABEL_MAPS and case.image.is_dicom
    assert [m.name for m in case.masks] == [f"partial_overlaps-{i}.nrrd" for i in (1, 2, 3)]
    assert case.name == "ct-3slice-partial_overlaps"


def test_one_image_stored_twice_takes_the_series_in_the_image_folder(shared_data):
    # 24x38x3/{image,multiframe}: one image as single- and multi-frame DICOM; dcmqi's
    # DICOM SEGs reference the one in image/, and so does the NRRD label map.
    r = run(scan(shared_data / SEGS / "24x38x3"))
    (case,) = [c for c in r.cases if not r.derived_of(c)]
    assert case.name == "24x38x3-label" and case.image.label == "image"
    assert [m.name for m in case.masks] == ["label.nrrd"]
    assert "image folder (image/)" in case.evidence
    (twin,) = [u for u in r.unpaired if u.file == "multiframe"]
    assert twin.reason == "on the grid of the series image, which its masks are paired with"
    # the SEG in seg/ is converted onto the series it references, image/
    (seg,) = [c for c in r.cases if r.derived_of(c)]
    assert seg.image is case.image and [d.label for d in r.derived_of(seg)] == ["seg/label.seg"]


def test_build_maps_the_nrrd_masks_through_their_nifti_conversions(shared_data, dcmqi,
                                                                   tmp_path):
    from app.mapping import build

    out = tmp_path / "items.json"
    run(build(dcmqi, out))
    tasks = {t["name"]: t for t in json.loads(out.read_text())}
    series = tasks["ct-3slice-segmentations"]["series"][0]
    assert series["segmentMap"].pop("binaryMask") is True
    mapped = {e["category"]: e["mask"] for e in series["segmentMap"].values()}
    assert {"Heart", "Liver", "Spine"} <= set(mapped)
    for category, name in (("Heart", "heart_seg"), ("Liver", "liver_seg"),
                           ("Spine", "spine_seg")):
        converted = np.asanyarray(nib.load(out.parent / mapped[category]).dataobj)
        source, _ = pynrrd.read(str(shared_data / SEGS / f"{name}.nrrd"))
        assert counts(converted) == counts(source), category


def test_the_session_shows_every_value_with_its_voxels(shared_data):
    from app.session import RowStatus, open_folder

    session = run(open_folder(shared_data / "dcmqi"))
    assert len(session.cases) == 8 + 6  # 6 cases of the DICOM SEGs, converted
    for case in session.cases:
        rows = session.rows(case)
        assert rows, case.task.name
        for row in rows:
            assert row.voxels > 0 and row.status is not RowStatus.ABSENT, (case.task.name, row)


def test_numbered_parts_with_a_label_map_stay_together(tmp_path):
    synth.image(tmp_path / "p" / "ct.nii.gz")
    synth.labelmap(tmp_path / "p" / "overlaps-1.nii.gz", (1, 4))
    synth.labelmap(tmp_path / "p" / "overlaps-2.nii.gz", (2,))
    synth.labelmap(tmp_path / "p" / "overlaps-3.nii.gz", (3,))
    (case,) = run(scan(tmp_path)).cases
    assert case.shape is ImportShape.LABEL_MAPS and len(case.masks) == 3
    assert "numbered parts of overlaps" in case.evidence


def test_numbered_binary_structures_stay_binary_masks(tmp_path):
    synth.image(tmp_path / "s1" / "ct.nii.gz")
    for i in (1, 2, 3):
        synth.binary(tmp_path / "s1" / "segmentations" / f"rib_left_{i}.nii.gz")
    (case,) = run(scan(tmp_path)).cases
    assert case.shape is ImportShape.BINARY_MASKS and len(case.masks) == 3
