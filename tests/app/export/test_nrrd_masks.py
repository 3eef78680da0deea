"""NRRD masks (Slicer's format) are read like NIfTI ones and go to RedBrick as NIfTI.

RedBrick reads NIfTI masks only. Census, merge, stats, validation and the wizard's
rows read an NRRD mask as the NIfTI image it converts to; build, export and upload
write that image into ``nifti-masks/`` beside the list, point the list at it and
say so. The user's NRRD files are never touched.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import nrrd as pynrrd
import numpy as np
import pytest

from app.cli import main
from app.items import load_items
from app.merge import merge_series
from app.preview import series_stats
from app.progress import run
from app.readers import census
from app.session import open_folder, open_items
from app.validate import validate

from ..builders import dcmqi_case, image

SHAPE = (6, 5, 4)
AFFINE = np.array([[-0.8, 0, 0, 10.0], [0, -0.8, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
LPS = np.diag([-1.0, -1.0, 1.0])


def labels() -> np.ndarray:
    data = np.zeros(SHAPE, np.uint8)
    data[1:3, 1:3, 1] = 1
    data[3:5, 2:4, 2] = 2
    return data


def write_nrrd(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    """``data`` as NRRD in Slicer's LPS space, on the world grid of ``affine`` (RAS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pynrrd.write(str(path), data, {"space": "left-posterior-superior",
                                   "space directions": (LPS @ affine[:3, :3]).T,
                                   "space origin": LPS @ affine[:3, 3]})
    return path


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A NIfTI image, its label map as NRRD, and the same label map as NIfTI elsewhere."""
    image(tmp_path / "img.nii.gz", shape=SHAPE, affine=AFFINE)
    write_nrrd(tmp_path / "seg.nrrd", labels())
    twin = nib.Nifti1Image(labels(), AFFINE)
    twin.header.set_data_dtype(np.uint8)
    (tmp_path / "twin").mkdir()
    nib.save(twin, str(tmp_path / "twin" / "seg.nii.gz"))
    for name, seg in (("items.json", "seg.nrrd"), ("twin.json", "twin/seg.nii.gz")):
        (tmp_path / name).write_text(json.dumps([{"name": "c", "series": [
            {"items": "img.nii.gz", "segmentations": seg,
             "segmentMap": {"1": "liver", "2": "spleen"}}]}]))
    return tmp_path


def test_census_merge_stats_and_validation_read_an_nrrd_mask_as_its_nifti(case):
    nrrd_c, nifti_c = census(case / "seg.nrrd"), census(case / "twin" / "seg.nii.gz")
    assert nrrd_c.values == nifti_c.values and nrrd_c.dtype == nifti_c.dtype
    np.testing.assert_allclose(nrrd_c.affine, nifti_c.affine, atol=1e-9)
    mine, twin = load_items(case / "items.json"), load_items(case / "twin.json")
    a, b = run(merge_series(mine, mine.tasks[0], 0)), run(merge_series(twin, twin.tasks[0], 0))
    assert np.array_equal(a.volume, b.volume) and a.segments == b.segments
    assert a.source is None  # an NRRD never goes up as it is: its conversion does
    assert run(series_stats(mine, mine.tasks[0], 0)) == run(series_stats(twin, twin.tasks[0], 0))
    found = validate(mine)
    assert [f.code for f in found if f.file and f.file.endswith("seg.nrrd")] == ["mask-converted"]
    assert {f.code for f in found} - {"mask-converted"} == {f.code for f in validate(twin)}
    assert "converts" not in found[0].message or found[0].severity == "info"


@pytest.mark.oracle
def test_redbricks_merge_of_the_conversion_is_segmaps_merge_of_the_nrrd(case, tmp_path):
    from app.export import convert_masks

    from ..sdk_oracle import sdk_merge

    items = load_items(case / "items.json")
    converted, done = convert_masks(items, tmp_path / "out")
    (conversion,) = done
    sdk = sdk_merge([str(conversion.target)], {1: None, 2: None})
    ours = run(merge_series(items, items.tasks[0], 0))
    assert sdk.error is None and np.array_equal(sdk.volume, ours.volume)
    assert sdk.segments == ours.segments


def test_the_wizard_shows_rows_for_an_nrrd_mask(case):
    session = run(open_items(case / "items.json"))
    (c,) = session.cases
    rows = session.rows(c)
    assert [(r.value, r.voxels, r.status) for r in rows] == [(1, 4, "ok"), (2, 4, "ok")]
    folder = run(open_folder(case))
    nrrd_cases = [c for c in folder.cases if any(m.suffix == ".nrrd" for m in c.masks)]
    assert nrrd_cases and all(folder.rows(c) for c in nrrd_cases)


def test_export_writes_the_nrrd_mask_as_nifti_and_says_so(case, tmp_path, capsys):
    before = (case / "seg.nrrd").read_bytes()
    out = tmp_path / "export" / "items.json"
    assert main(["export", str(case / "items.json"), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Converted 1 NRRD mask(s) to NIfTI" in said and "seg.nrrd" in said
    (task,) = json.loads(out.read_text())
    seg = task["series"][0]["segmentations"]
    assert seg == "nifti-masks/seg.nii.gz"
    img = nib.load(out.parent / seg)
    assert np.array_equal(np.asanyarray(img.dataobj), labels())
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-6)
    assert (case / "seg.nrrd").read_bytes() == before
    assert validate(load_items(out)) == validate(load_items(case / "twin.json"))
    # Exporting again gives the same file (same bytes, not rewritten).
    mtime = (out.parent / seg).stat().st_mtime_ns
    assert main(["export", str(case / "items.json"), "-o", str(out)]) == 0
    assert (out.parent / seg).stat().st_mtime_ns == mtime


def test_a_binary_nrrd_mask_keeps_naming_its_segmentation(tmp_path, capsys):
    image(tmp_path / "img.nii.gz", shape=SHAPE, affine=AFFINE)
    for name, value in (("liver", 1), ("spleen", 2)):
        write_nrrd(tmp_path / "masks" / f"{name}.seg.nrrd", (labels() == value).astype(np.uint8))
    (tmp_path / "items.json").write_text(json.dumps([{"name": "c", "series": [
        {"items": "img.nii.gz", "segmentations": ["masks/liver.seg.nrrd", "masks/spleen.seg.nrrd"],
         "segmentMap": {"1": {"category": "liver", "mask": "masks/liver.seg.nrrd"},
                        "2": {"category": "spleen", "mask": "./masks/spleen.seg.nrrd"},
                        "binaryMask": True}}]}]))
    out = tmp_path / "out" / "items.json"
    assert main(["export", str(tmp_path / "items.json"), "-o", str(out)]) == 0
    (task,) = json.loads(out.read_text())
    series = task["series"][0]
    assert series["segmentations"] == ["nifti-masks/masks/liver.nii.gz",
                                       "nifti-masks/masks/spleen.nii.gz"]
    assert [series["segmentMap"][k]["mask"] for k in "12"] == series["segmentations"]
    items = load_items(out)
    merged = run(merge_series(items, items.tasks[0], 0))
    assert np.array_equal(merged.volume, labels())
    assert validate(items) == [f for f in validate(items) if f.code == "taxonomy-not-checked"]


def test_build_converts_nrrd_masks(tmp_path, capsys):
    data = tmp_path / "data"
    image(data / "case1" / "ct.nii.gz", shape=SHAPE, affine=AFFINE)
    write_nrrd(data / "case1" / "ct_seg.nrrd", labels())
    (data / "case1" / "labels.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    out = tmp_path / "built" / "items.json"
    assert main(["build", str(data), "-o", str(out), "-q"]) == 0
    said = capsys.readouterr().out
    assert "Converted 1 NRRD mask(s) to NIfTI" in said
    written = out.read_text()
    assert ".nrrd" not in written and "nifti-masks/case1/ct_seg.nii.gz" in written
    img = nib.load(out.parent / "nifti-masks" / "case1" / "ct_seg.nii.gz")
    assert np.array_equal(np.asanyarray(img.dataobj), labels())


def test_upload_sends_the_nifti_conversion(rb, case):
    from ..upload.test_upload_e2e import decode_nifti, segmap_upload

    items, report = segmap_upload(rb, case / "items.json")
    assert report.ok, report.tasks
    assert any("Converted 1 NRRD mask(s) to NIfTI" in n for n in report.notes)
    (variables,) = rb.variables("createDatapointSDK")
    sent = rb.blob(variables["labelsMap"][0]["labelName"])
    assert sent[:2] == b"\x1f\x8b" and gzip.decompress(sent)[344:347] == b"n+1"
    assert np.array_equal(np.asanyarray(decode_nifti(sent).dataobj), labels())
    assert (case / "nifti-masks" / "seg.nii.gz").is_file()


@pytest.mark.shared_data
def test_dcmqi_nrrd_label_maps_in_the_wizard_and_on_export(shared_data, tmp_path, capsys):
    dcmqi_case(shared_data, tmp_path / "ct")
    session = run(open_folder(tmp_path))
    assert session.cases and all(session.rows(c) for c in session.cases)
    voxels = {m.name: sum(r.voxels for r in session.rows(c)) for c in session.cases
              for m in c.masks}
    assert all(n > 0 for n in voxels.values()), voxels
    out = tmp_path / "out" / "items.json"
    summary = session.export(out)
    assert len(summary.converted) == 3
    assert ".nrrd" not in out.read_text()
    # The masks are links into ../shared/data: their conversions mirror the case folder the
    # list names them in, not where the links point.
    assert sorted(c.target.relative_to(out.parent).as_posix() for c in summary.converted) == [
        f"nifti-masks/ct/{m}_seg.nii.gz" for m in ("heart", "liver", "spine")]
