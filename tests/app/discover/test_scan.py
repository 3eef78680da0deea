"""Scanning folders in real dataset layouts: pairing, evidence, shapes, what is refused."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.discover import ScanResult, scan
from app.errors import InputError
from app.progress import run
from app.readers import ObjectKind
from app.readers import _nifti as niio

from .. import synth_layouts as synth
from ..builders import dcmqi_case

TS_REF = "totalsegmentator/tests/reference_files"


def do_scan(root: Path) -> ScanResult:
    return run(scan(root))


def by_name(r: ScanResult) -> dict[str, dict]:
    return {c["name"]: c for c in r.to_json()["cases"]}


def test_nnunet_pairs_by_case_id_and_keeps_channels_together(tmp_path):
    r = do_scan(synth.nnunet(tmp_path / "Dataset001_Prostate", cases=3))
    cases = by_name(r)
    assert sorted(cases) == ["case_000", "case_001", "case_002"]
    c = cases["case_001"]
    assert c["image"] == "imagesTr/case_001_0000.nii.gz"
    assert c["other_images"] == ["imagesTr/case_001_0001.nii.gz"]
    assert c["segmentations"] == ["labelsTr/case_001.nii.gz"]
    assert (c["shape"], c["layout"]) == ("I", "nnU-Net")
    assert "case_001" in c["evidence"] and "same grid" in c["evidence"]
    # Test images have no labels: listed, with the reason, not silently dropped.
    assert [(u.file, u.reason) for u in r.unpaired] == [
        ("imagesTs/test_000_0000.nii.gz", "no mask found for it")]


def test_msd_uses_the_training_list_and_skips_macos_debris(tmp_path):
    r = do_scan(synth.msd(tmp_path / "Task03_Liver"))
    cases = by_name(r)
    assert sorted(cases) == ["liver_0", "liver_1"]
    assert cases["liver_0"]["layout"] == "MSD"
    assert "dataset.json" in cases["liver_0"]["evidence"]
    assert not any("._" in v["file"] for v in r.to_json()["volumes"] + r.to_json()["masks"])
    assert not r.unpaired


def test_totalsegmentator_case_folders_are_binary_mask_cases(tmp_path):
    r = do_scan(synth.totalseg(tmp_path))
    cases = by_name(r)
    assert sorted(cases) == ["s0000", "s0001"]
    c = cases["s0001"]
    assert (c["shape"], c["layout"], c["image"]) == ("III", "TotalSegmentator", "s0001/ct.nii.gz")
    assert c["segmentations"] == [f"s0001/segmentations/{s}.nii.gz" for s in
                                  ("kidney_left", "kidney_right", "liver", "vertebrae_L3")]


def test_brats_puts_the_mask_on_t1ce_and_lists_the_other_modalities(tmp_path):
    r = do_scan(synth.brats(tmp_path))
    c = by_name(r)["BraTS2021_00001"]
    assert c["image"].endswith("_t1ce.nii.gz")
    assert sorted(Path(o).name for o in c["other_images"]) == [
        "BraTS2021_00001_flair.nii.gz", "BraTS2021_00001_t1.nii.gz", "BraTS2021_00001_t2.nii.gz"]
    assert (c["shape"], c["layout"]) == ("I", "BraTS")


def test_kits_case_folders(tmp_path):
    r = do_scan(synth.kits(tmp_path))
    c = by_name(r)["case_00001"]
    assert c["segmentations"] == ["case_00001/segmentation.nii.gz"]
    assert c["layout"] == "KiTS"
    assert "case_00001" in c["evidence"]


def test_generic_twin_folders_and_case_prefixed_masks(tmp_path):
    synth.image(tmp_path / "images" / "p1.nii.gz")
    synth.labelmap(tmp_path / "labels" / "p1.nii.gz")
    synth.image(tmp_path / "p2" / "p2.nii.gz")
    synth.binary(tmp_path / "p2" / "p2_liver_mask.nii.gz")
    synth.binary(tmp_path / "p2" / "p2_spleen_mask.nii.gz")
    cases = by_name(do_scan(tmp_path))
    assert cases["p1"]["segmentations"] == ["labels/p1.nii.gz"]
    assert cases["p2"]["shape"] == "III"
    assert cases["p2"]["segmentations"] == ["p2/p2_liver_mask.nii.gz", "p2/p2_spleen_mask.nii.gz"]


def test_a_name_match_on_another_grid_is_refused_with_the_reason(tmp_path):
    synth.image(tmp_path / "p1.nii.gz")
    # Same name, but shifted by half a voxel: it would land beside the anatomy.
    synth.labelmap(tmp_path / "p1_seg.nii.gz", aff=synth.affine(origin=(-4.25, 3.0, 10.0)))
    r = do_scan(tmp_path)
    assert r.cases == []
    mask = [u for u in r.unpaired if u.kind == "mask"]
    assert len(mask) == 1 and mask[0].file == "p1_seg.nii.gz"
    assert "refused (incompatible)" in mask[0].reason and "p1.nii.gz" in mask[0].reason


def test_a_mask_stored_with_flipped_axes_is_paired_and_says_so(tmp_path):
    synth.image(tmp_path / "p1.nii.gz")
    aff = synth.affine()
    flipped = aff.copy()
    flipped[:3, 0] *= -1  # x runs the other way ...
    flipped[:3, 3] += aff[:3, 0] * (synth.SHAPE[0] - 1)  # ... from the other end
    synth.labelmap(tmp_path / "p1_seg.nii.gz", aff=flipped)
    c = by_name(do_scan(tmp_path))["p1"]
    assert "reorientation" in c["evidence"]


def test_one_image_with_a_label_map_and_a_folder_of_binary_masks_gives_two_cases(tmp_path):
    synth.image(tmp_path / "ct.nii.gz")
    synth.labelmap(tmp_path / "ct_seg.nii.gz", (1, 2, 3))
    for s in ("liver", "spleen"):
        synth.binary(tmp_path / "masks" / f"{s}.nii.gz")
    cases = do_scan(tmp_path).cases
    assert sorted(c.shape for c in cases) == ["I", "III"]
    assert len({c.name for c in cases}) == 2


def test_label_maps_with_disjoint_values_merge_as_shape_two(tmp_path):
    synth.image(tmp_path / "p1.nii.gz")
    synth.labelmap(tmp_path / "p1_organs_seg.nii.gz", (1, 2))
    synth.labelmap(tmp_path / "p1_tumor_seg.nii.gz", (3, 4))
    (c,) = do_scan(tmp_path).cases
    assert c.shape == "II" and len(c.masks) == 2


def test_label_maps_reusing_values_are_alternatives_one_case_each(tmp_path):
    synth.image(tmp_path / "p1.nii.gz")
    synth.labelmap(tmp_path / "p1_reader1_seg.nii.gz", (1, 2))
    synth.labelmap(tmp_path / "p1_reader2_seg.nii.gz", (1, 2))
    cases = do_scan(tmp_path).cases
    assert [c.shape for c in cases] == ["I", "I"]
    assert "alternatives" in cases[0].evidence


def test_several_images_with_the_mask_grid_and_no_name_is_ambiguous(tmp_path):
    synth.image(tmp_path / "a.nii.gz")
    synth.image(tmp_path / "b.nii.gz")
    synth.binary(tmp_path / "masks" / "liver.nii.gz")
    r = do_scan(tmp_path)
    assert r.cases == []
    (u,) = [u for u in r.unpaired if u.kind == "mask"]
    assert "several images share its grid" in u.reason


def test_a_corrupt_mask_is_reported_and_the_scan_goes_on(tmp_path):
    synth.kits(tmp_path, cases=2)
    (tmp_path / "case_00001" / "segmentation.nii.gz").write_bytes(b"\x1f\x8b\x08garbage")
    r = do_scan(tmp_path)
    assert [c.name for c in r.cases] == ["case_00000"]
    bad = [u for u in r.unpaired if u.file == "case_00001/segmentation.nii.gz"]
    assert bad and "segmentation.nii.gz" in bad[0].reason


def test_scanning_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        run(scan(tmp_path / "nope"))


def test_images_are_read_from_headers_only_and_each_mask_once(tmp_path, monkeypatch):
    synth.nnunet(tmp_path / "nn", cases=4)
    synth.totalseg(tmp_path / "ts", cases=2)
    reads: Counter[Path] = Counter()
    real_iter, real_read = niio.iter_raw, niio.read_raw

    def iter_raw(info, *a, **k):
        reads[info.path] += 1
        return real_iter(info, *a, **k)

    def read_raw(info, *a, **k):
        reads[info.path] += 1
        return real_read(info, *a, **k)

    monkeypatch.setattr(niio, "iter_raw", iter_raw)
    monkeypatch.setattr(niio, "read_raw", read_raw)
    r = do_scan(tmp_path)
    masks = {v.path for v in r.masks}
    assert len(masks) == 4 + 2 * 4
    assert set(reads) == masks  # no image voxel was read
    assert set(reads.values()) == {1}  # every mask exactly once


def test_cli_scan_json_is_clean_and_progress_goes_to_stderr(tmp_path, capsys):
    synth.kits(tmp_path, cases=2)
    assert main(["scan", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert set(data) >= {"series", "volumes", "masks", "cases", "unpaired"}
    assert set(data["cases"][0]) >= {"name", "image", "segmentations", "shape", "layout",
                                      "evidence"}
    assert data["masks"][0]["values"] == {"0": 266, "1": 7, "2": 7}
    assert "scan" in err


def test_cli_scan_text(tmp_path, capsys):
    synth.kits(tmp_path, cases=1)
    assert main(["scan", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "case_00000  [I, KiTS]" in out


# --- real data -----------------------------------------------------------------------


def test_totalsegmentator_reference_files(shared_data):
    r = do_scan(shared_data / TS_REF)
    cases = r.to_json()["cases"]
    mine = {seg: c for c in cases for seg in c["segmentations"]}
    for seg in ("example_seg.nii.gz", "example_seg_fast.nii.gz", "example_seg_roi_subset.nii.gz"):
        assert mine[seg]["image"] == "example_ct_sm.nii.gz"
        assert mine[seg]["shape"] == "I"
    binaries = sorted(f for f in os.listdir(shared_data / TS_REF / "example_seg_fast")
                      if f.endswith(".nii.gz"))
    assert len(binaries) == 117
    fast = [c for c in cases if c["shape"] == "III" and
            c["segmentations"][0].startswith("example_seg_fast/")]
    assert len(fast) == 1 and fast[0]["image"] == "example_ct_sm.nii.gz"
    assert fast[0]["segmentations"] == [f"example_seg_fast/{b}" for b in binaries]
    assert mine["example_seg_mr.nii.gz"]["image"] == "example_mr_sm.nii.gz"
    # The negative pairs: same name family, other grid -> refused with the reason.
    assert "example_ct.nii.gz refused" in mine["example_seg.nii.gz"]["evidence"]
    assert not any(c["image"] == "example_ct.nii.gz" for c in cases)
    dicom_seg = mine.get("example_seg_dicom.nii.gz")
    if dicom_seg is None:
        (u,) = [u for u in r.unpaired if u.file == "example_seg_dicom.nii.gz"]
        assert "example_ct.nii.gz refused" in u.reason
    else:  # with the DICOM reader: the series it was made from, reoriented
        assert dicom_seg["image_files"][0].startswith("example_ct_dicom/")


def test_dicom_case_folder_with_a_nifti_mask(shared_data, tmp_path):
    src = shared_data / TS_REF
    case = tmp_path / "patient1"
    (case / "dicom").mkdir(parents=True)
    for f in sorted((src / "example_ct_dicom").iterdir()):
        (case / "dicom" / f.name).symlink_to(f)
    (case / "seg.nii.gz").symlink_to(src / "example_seg_dicom.nii.gz")
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.is_dicom and len(c.image.files) == 20
    assert c.layout == "DICOM folder" and c.shape == "I"
    assert "reorientation" in c.evidence


def test_dcmqi_nrrd_masks_on_their_dicom_series(shared_data, tmp_path):
    dcmqi_case(shared_data, tmp_path / "ct")
    r = do_scan(tmp_path)
    segs = sorted(Path(p).name for c in r.cases for p in c.masks)
    assert segs == ["heart_seg.nrrd", "liver_seg.nrrd", "spine_seg.nrrd"]
    assert all(c.image.is_dicom for c in r.cases)
    assert np.all([c.layout == "DICOM folder" for c in r.cases])


# --- DICOM, through a test double of the DICOM reader's scan ---------------------------


def _fake_dicom(monkeypatch, series):
    """Serve ``series`` from the DICOM reader's scan_dicom, as the scan calls it."""
    from app.discover import _scan

    def scan_dicom(paths):
        yield from ()
        return series

    monkeypatch.setattr(_scan, "scan_dicom", scan_dicom)


@dataclass(frozen=True)
class _Series:  # the fields of app.readers.dicom.DicomSeries that the scan uses
    uid: str
    files: tuple
    grid: object
    kind: ObjectKind = ObjectKind.IMAGE
    modality: str = "CT"
    description: str = "CT abdomen"
    patient: str = "P1"
    study_uid: str = "1.2"
    study_description: str = ""
    series_number: int | None = 3
    warnings: tuple = ()

    def to_json(self):
        # As app.readers.dicom's DicomSeries: the files as a count, the folder as a path.
        return {"uid": self.uid, "files": len(self.files), "warnings": [],
                "folder": str(self.files[0].parent)}


def test_a_dicom_case_folder_pairs_its_series_with_the_nifti_mask(tmp_path, monkeypatch):
    from app.geometry import Grid

    case = tmp_path / "patient1"
    files = []
    for i in range(synth.SHAPE[2]):
        f = case / "dicom" / f"IM{i}"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"\0" * 132 + b"DICM")
        files.append(f)
    seg = (case / "dicom" / "SEG1")
    seg.write_bytes(b"\0" * 132 + b"DICM")
    synth.labelmap(case / "seg.nii.gz", (1, 2))
    (case / "seg.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    image = _Series("1.2.3", tuple(files), Grid.of(synth.SHAPE, synth.affine()))
    seg_obj = _Series("1.2.4", (seg,), None, kind=ObjectKind.SEG, series_number=4)
    _fake_dicom(monkeypatch, [image, seg_obj])
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.is_dicom and c.layout == "DICOM folder" and c.name == "patient1-S3"
    j = r.to_json()
    assert j["cases"][0]["image_files"] == [f"patient1/dicom/IM{i}" for i in range(5)]
    assert j["cases"][0]["series_uid"] == "1.2.3"
    assert j["series"][0]["files"] == 5 and j["series"][0]["folder"] == "patient1/dicom"
    (u,) = r.unpaired  # a SEG that cannot be read gives no mask, and says why
    assert u.kind == "mask" and "DICOM SEG" in u.reason
    out = tmp_path / "items.json"
    from app.mapping import build
    run(build(r, out))
    task = json.loads(out.read_text())[0]
    assert task["series"][0]["items"] == [f"patient1/dicom/IM{i}" for i in range(5)]
    assert task["series"][0]["segmentations"] == "patient1/seg.nii.gz"
    assert task["series"][0]["segmentMap"] == {"1": "Liver", "2": "Spleen"}


def test_a_mask_folder_beside_the_image_folder_pairs_one_level_up(tmp_path):
    synth.image(tmp_path / "case1" / "image" / "vol.nii.gz")
    synth.labelmap(tmp_path / "case1" / "nrrd" / "label.nii.gz")
    synth.image(tmp_path / "case2" / "image" / "vol.nii.gz", aff=synth.affine(spacing=0.5))
    (c,) = do_scan(tmp_path).cases
    assert c.image.label == "case1/image/vol.nii.gz" and "only image in case1/" in c.evidence
