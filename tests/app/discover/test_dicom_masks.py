"""DICOM SEG and RTSTRUCT in a scan: paired with the series they reference wherever they lie,
converted to binary NIfTI masks (shape III) in a cache, never in the user's folder.

References: dcmqi's NRRDs (the label maps its SEGs were made from), highdicom's test SEGs,
RT Structure Sets written here with rt-utils (what RedBrick's SDK reads them with).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from app.discover import ScanResult, scan
from app.geometry import Grid, align_to_image, compare_grids
from app.items import ImportShape
from app.mapping import build
from app.progress import Progress, run
from app.readers import nifti_info, read_nrrd, read_raw, read_rtstruct
from tests.app.dicom_synth import axial_positions, write_series
from tests.app.rt_synth import STUDY, ball, write_rtstruct

DCMQI = "dcmqi/data/segmentations"
HIGHDICOM = "highdicom/data/test_files"
@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGMAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "derived"


def listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its content's hash."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def mask_array(path: Path) -> tuple[np.ndarray, Grid]:
    info = nifti_info(path)
    return np.asarray(read_raw(info)), Grid.of(info.shape, info.affine)


def names_of(result: ScanResult, tmp: Path) -> dict[str, str]:
    """Each mask of the built list -> its category (no taxonomy: the name itself)."""
    built = run(build(result, tmp / "built" / "items.json", write=False))
    out = {}
    for task in built.items.tasks:
        for i, _ in enumerate(task.series):
            smap = task.segment_map_of(i)
            for seg in smap.segments.values() if smap is not None else ():
                if isinstance(seg.mask, str):
                    out[Path(seg.mask).name] = str(seg.category)
    return out


@pytest.fixture
def dcmqi_folder(shared_data: Path, tmp_path: Path) -> Path:
    """ct-3slice in ct/, liver.dcm in a sibling seg/: the SEG is not beside its series."""
    src = shared_data / DCMQI
    folder = tmp_path / "user"
    shutil.copytree(src / "ct-3slice", folder / "ct")
    (folder / "seg").mkdir()
    shutil.copy(src / "liver.dcm", folder / "seg" / "liver.dcm")
    return folder


def _with_a_nifti_mask(folder: Path) -> Path:
    """Another patient with a NIfTI mask: a list then holds one kind of mask, so every
    DICOM mask of the scan is converted (RedBrick's CLI uploads a list in one run)."""
    import nibabel as nib

    img = np.zeros((6, 6, 4), np.int16)
    lab = np.zeros((6, 6, 4), np.uint8)
    lab[2:4, 2:4, 1:3] = 1
    (folder / "p2").mkdir()
    nib.save(nib.Nifti1Image(img, np.eye(4)), folder / "p2" / "p2_ct.nii.gz")
    nib.save(nib.Nifti1Image(lab, np.eye(4)), folder / "p2" / "p2_seg.nii.gz")
    return folder


@pytest.mark.shared_data
def test_dcmqi_liver_seg_the_sdk_takes_is_kept_as_it_is(
        shared_data: Path, dcmqi_folder: Path, tmp_path: Path) -> None:
    """A SEG RedBrick's SDK takes (binary, no overlap, on the series' grid), alone in the
    scan: the case's mask is the SEG itself, a label map of its segment numbers named by
    its segments, read as --dicom-seg converts it."""
    from app.readers import census, seg_as_nifti

    before = listing(dcmqi_folder)
    result = run(scan(dcmqi_folder))
    (case,) = result.cases
    assert case.shape is ImportShape.LABEL_MAP
    assert case.masks == [dcmqi_folder / "seg" / "liver.dcm"]
    assert "kept as it is" in case.evidence and "--dicom-seg" in case.evidence
    (d,) = result.derived
    assert d.native and d.sdk is None and "kept as it is" in d.note
    assert result.to_json()["derived"][0]["native"] is True
    img = seg_as_nifti(case.masks[0])
    ref, ref_grid = read_nrrd(shared_data / DCMQI / "liver_seg.nrrd")
    match = compare_grids(Grid.of(img.shape[:3], img.affine), ref_grid)
    np.testing.assert_array_equal(np.asarray(img.dataobj) == 1, align_to_image(ref, match) == 1)
    assert dict(census(case.masks[0]).nonzero) == {1: 107098}
    built = run(build(result, tmp_path / "built" / "items.json", write=False))
    (task,) = built.items.tasks
    assert {k: str(s.category) for k, s in task.segment_map_of(0).segments.items()} == {
        1: "Liver"}
    assert listing(dcmqi_folder) == before


@pytest.mark.shared_data
def test_dcmqi_liver_seg_pairs_by_reference_and_equals_its_nrrd(
        shared_data: Path, dcmqi_folder: Path, tmp_path: Path, cache: Path) -> None:
    _with_a_nifti_mask(dcmqi_folder)
    before = listing(dcmqi_folder)
    result = run(scan(dcmqi_folder))
    case = next(c for c in result.cases if c.image.is_dicom)
    assert not [u for u in result.unpaired if u.kind != "image"]
    assert case.image.is_dicom and case.image.label == "ct"
    assert case.shape is ImportShape.BINARY_MASKS
    assert [m.name for m in case.masks] == ["1_Liver.nii.gz"]
    assert cache in case.masks[0].parents  # in the cache, not the user's folder
    assert "same grid" in case.evidence and "liver.dcm" in case.evidence
    mask, grid = mask_array(case.masks[0])
    assert case.image.grid is not None and compare_grids(case.image.grid, grid).relation == "same"
    ref, ref_grid = read_nrrd(shared_data / DCMQI / "liver_seg.nrrd")
    match = compare_grids(grid, Grid.of(ref.shape, ref_grid.affine))
    assert match.aligned, match.message
    np.testing.assert_array_equal(mask.astype(bool), align_to_image(ref, match) == 1)
    (d,) = result.derived
    assert (d.kind, d.seg_type, d.overlapping, d.sdk, d.reused, d.native) == (
        "SEG", "BINARY", False, None, False, False)
    assert result.to_json()["derived"][0]["masks"][0]["name"] == "Liver"
    dicom_case = next(c for c in result.to_json()["cases"] if c.get("derived_from"))
    assert dicom_case["derived_from"] == ["seg/liver.dcm"]
    assert names_of(result, tmp_path)["1_Liver.nii.gz"] == "Liver"
    assert listing(dcmqi_folder) == before


@pytest.mark.shared_data
def test_a_rescan_reuses_the_conversion_and_a_half_folder_is_never_reused(
        dcmqi_folder: Path, cache: Path) -> None:
    _with_a_nifti_mask(dcmqi_folder)
    first = run(scan(dcmqi_folder))
    folder = first.derived[0].folder
    stamp = (folder / "1_Liver.nii.gz").stat().st_mtime_ns
    again = run(scan(dcmqi_folder))
    assert again.derived[0].reused and again.cases[0].masks == first.cases[0].masks
    assert (folder / "1_Liver.nii.gz").stat().st_mtime_ns == stamp
    # An interrupted conversion (no manifest) is converted again, whole.
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "1_Liver.nii.gz").write_bytes(b"half")
    third = run(scan(dcmqi_folder))
    assert not third.derived[0].reused and len(third.cases) == 2
    assert mask_array(third.derived[0].masks[0].path)[0].sum() > 1000
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


@pytest.mark.shared_data
def test_dcmqi_partial_overlaps_give_one_overlapping_mask_per_segment(
        shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / DCMQI
    folder = tmp_path / "user"
    shutil.copytree(src / "ct-3slice", folder / "ct")
    shutil.copy(src / "partial_overlaps.dcm", folder / "partial_overlaps.dcm")
    result = run(scan(folder))
    (case,) = result.cases
    assert case.shape is ImportShape.BINARY_MASKS and len(case.masks) == 5
    (d,) = result.derived
    assert d.overlapping and "overlap" in (d.sdk or "")
    assert case.image.grid is not None
    masks = {m.name: mask_array(m)[0].astype(bool) for m in case.masks}
    for part, numbers in ((1, (1, 4, 5)), (2, (2,)), (3, (3,))):  # dcmqi's input files
        ref, grid = read_nrrd(src / f"partial_overlaps-{part}.nrrd")
        ref = align_to_image(ref, compare_grids(case.image.grid, grid))
        for n in numbers:
            (name,) = [k for k in masks if k.startswith(f"{n}_")]
            np.testing.assert_array_equal(masks[name], ref == n)
    assert sum(m.sum() for m in masks.values()) > np.logical_or.reduce(list(masks.values())).sum()


HIGHDICOM_CT_SEGS = ["seg_image_ct_binary", "seg_image_ct_binary_overlap",
                     "seg_image_ct_binary_fractional"]
# highdicom made those three from pydicom's test series (its README), not from ct_image.dcm
PYDICOM_CT2 = Path(pydicom.__file__).parent / "data/test_files/dicomdirtests/77654033/CT2"


def highdicom_folder(shared_data: Path, tmp_path: Path, image: Path, segs: list[str]) -> Path:
    folder = tmp_path / "user"
    (folder / "image").mkdir(parents=True)
    (folder / "segs").mkdir()
    for f in sorted(image.iterdir()) if image.is_dir() else [image]:
        shutil.copy(f, folder / "image" / f.name)
    for n in segs:
        shutil.copy(shared_data / HIGHDICOM / f"{n}.dcm", folder / "segs" / f"{n}.dcm")
    return folder


@pytest.mark.shared_data
def test_highdicom_single_frame_seg_pairs_with_ct_image_and_converts(
        shared_data: Path, tmp_path: Path) -> None:
    folder = highdicom_folder(shared_data, tmp_path, shared_data / HIGHDICOM / "ct_image.dcm",
                              ["seg_image_ct_binary_single_frame"])
    result = run(scan(_with_a_nifti_mask(folder)))
    case = next(c for c in result.cases if c.image.label == "image")
    assert case.shape is ImportShape.BINARY_MASKS
    assert [m.name for m in case.masks] == ["1_first_segment.nii.gz"]
    assert "same grid" in case.evidence and mask_array(case.masks[0])[0].sum() > 0
    assert result.derived[0].sdk is None


@pytest.mark.shared_data
def test_highdicom_ct_segs_beside_ct_image_name_the_series_they_need(
        shared_data: Path, tmp_path: Path) -> None:
    folder = highdicom_folder(shared_data, tmp_path, shared_data / HIGHDICOM / "ct_image.dcm",
                              HIGHDICOM_CT_SEGS)
    result = run(scan(folder))
    assert not result.cases and not result.derived
    reasons = {u.file: u.reason for u in result.unpaired}
    for n in HIGHDICOM_CT_SEGS:
        assert "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2" in reasons[f"segs/{n}.dcm"]
        assert "not in the scanned folder" in reasons[f"segs/{n}.dcm"]


@pytest.mark.shared_data
@pytest.mark.skipif(not PYDICOM_CT2.is_dir(), reason="pydicom's test files are not installed")
def test_highdicom_ct_segs_pair_with_their_series_and_convert(shared_data: Path,
                                                              tmp_path: Path) -> None:
    """pydicom's CT2 series has uneven slice steps (-99.5, 103, 104.3, 105.5 mm): the SEGs'
    frames fit no regular volume, and land on the very slices they name."""
    folder = highdicom_folder(shared_data, tmp_path, PYDICOM_CT2, HIGHDICOM_CT_SEGS)
    result = run(scan(folder))
    # paired by reference: the reason is the reader's, never a missing series
    assert not any("not in the scanned folder" in u.reason for u in result.unpaired)
    assert {d.label for d in result.derived} == {f"segs/{n}.dcm" for n in HIGHDICOM_CT_SEGS}
    assert len(result.cases) == 3
    kinds = {Path(d.label).stem: d for d in result.derived}
    assert kinds["seg_image_ct_binary_fractional"].seg_type == "FRACTIONAL"
    assert kinds["seg_image_ct_binary_overlap"].overlapping
    ds = pydicom.dcmread(folder / "segs" / "seg_image_ct_binary.dcm")
    frames = np.asarray(ds.pixel_array).reshape(-1, ds.Rows, ds.Columns)
    by_segment: dict[int, int] = {}
    for item, frame in zip(ds.PerFrameFunctionalGroupsSequence, frames, strict=True):
        n = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        by_segment[n] = by_segment.get(n, 0) + int(np.count_nonzero(frame))
    got = {m.number: m.voxels for m in kinds["seg_image_ct_binary"].masks}
    assert got == by_segment  # every labelled pixel of every frame, none lost or doubled


def test_rtstruct_from_rt_utils_pairs_and_roi_names_become_structure_names(
        tmp_path: Path) -> None:
    folder = tmp_path / "user"
    files = write_series(folder / "scans" / "ct", axial_positions([1.5 * k for k in range(5)]),
                         rows=32, cols=32, spacing=(0.8, 0.8), **STUDY)
    assert len(files) == 5
    shape = (32, 32, 5)
    rois = {"Liver": ball(shape, (12, 12, 2), 6), "Spinal Cord": ball(shape, (24, 22, 2), 4)}
    (folder / "rt").mkdir()
    write_rtstruct(folder / "scans" / "ct", folder / "rt" / "structures.dcm", rois)
    before = listing(folder)
    # Alone, and its ROIs apart, RedBrick's SDK takes it as it is (--rt-struct).
    alone = run(scan(folder))
    (kept,) = alone.cases
    assert kept.shape is ImportShape.LABEL_MAP and kept.masks == [
        folder / "rt" / "structures.dcm"]
    assert alone.derived[0].native and "--rt-struct" in alone.derived[0].note
    built = run(build(alone, tmp_path / "kept" / "items.json", write=False))
    smap = built.items.tasks[0].series[0].segment_map
    assert smap is not None and list(smap.to_json()) == ["Liver", "Spinal Cord"]
    # Beside another patient's NIfTI mask (one kind of mask per list), it is converted.
    result = run(scan(_with_a_nifti_mask(folder)))
    case = next(c for c in result.cases if c.image.label == "scans/ct")
    assert case.shape is ImportShape.BINARY_MASKS and case.image.label == "scans/ct"
    assert [m.name for m in case.masks] == ["1_Liver.nii.gz", "2_Spinal_Cord.nii.gz"]
    (d,) = result.derived
    assert (d.kind, d.how) == ("RTSTRUCT", "its Referenced Series") and d.sdk is None
    assert case.image.grid is not None
    filled = read_rtstruct(folder / "rt" / "structures.dcm", files)  # as rt-utils fills them
    for m, (name, want) in zip(case.masks, rois.items(), strict=True):
        got, grid = mask_array(m)
        assert compare_grids(case.image.grid, grid).relation == "same"
        np.testing.assert_array_equal(got.astype(bool), filled.mask(name))
        assert (got.astype(bool) & want).sum() >= 0.6 * want.sum()  # the outline of the ball
    assert {k: v for k, v in names_of(result, tmp_path).items() if k != "p2_seg.nii.gz"} == {
        "1_Liver.nii.gz": "Liver", "2_Spinal_Cord.nii.gz": "Spinal Cord"}
    assert {k: v for k, v in listing(folder).items() if not k.startswith("p2/")} == before


@pytest.mark.shared_data
def test_a_seg_whose_series_is_absent_is_said_plainly(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    shutil.copy(shared_data / DCMQI / "liver.dcm", folder / "liver.dcm")
    result = run(scan(folder))
    assert not result.cases and not result.derived
    (u,) = [u for u in result.unpaired if u.file == "liver.dcm"]
    uid = pydicom.dcmread(folder / "liver.dcm", stop_before_pixels=True) \
        .ReferencedSeriesSequence[0].SeriesInstanceUID
    assert uid in u.reason and "not in the scanned folder" in u.reason
    assert "Scan the folder that holds both" in u.reason


@pytest.mark.shared_data
def test_a_truncated_seg_is_a_warning_and_the_scan_goes_on(dcmqi_folder: Path,
                                                           shared_data: Path) -> None:
    data = (dcmqi_folder / "seg" / "liver.dcm").read_bytes()
    (dcmqi_folder / "seg" / "cut.dcm").write_bytes(data[: len(data) // 2])
    result = run(scan(dcmqi_folder))
    assert [d.label for d in result.derived] == ["seg/liver.dcm"] and len(result.cases) == 1
    assert any("cut.dcm" in w for w in result.warnings)
    assert any(u.file == "seg/cut.dcm" for u in result.unpaired)


@pytest.mark.shared_data
def test_unknown_sop_class_is_a_finding_not_a_traceback(dcmqi_folder: Path) -> None:
    ds = pydicom.dcmread(dcmqi_folder / "seg" / "liver.dcm")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.3.4.5"
    ds.save_as(dcmqi_folder / "seg" / "odd.dcm")
    result = run(scan(dcmqi_folder))
    assert len(result.cases) == 1
    assert any("odd.dcm" in u.file and "not a DICOM SEG" in u.reason for u in result.unpaired)


@pytest.mark.shared_data
def test_cancel_during_conversion_leaves_no_folder_behind(dcmqi_folder: Path, cache: Path
                                                          ) -> None:
    work = scan(_with_a_nifti_mask(dcmqi_folder))  # converted: kept alone, nothing is written
    seen = []
    for step in work:
        assert isinstance(step, Progress)
        seen.append(step.message)
        if "writing" in step.message:
            work.close()  # what the worker does on Cancel
            break
    assert any("converting SEG" in m for m in seen)
    assert not cache.exists() or not any(cache.iterdir())
    assert run(scan(dcmqi_folder)).derived[0].reused is False


@pytest.fixture
def rt_folder(tmp_path: Path) -> Path:
    """A synthetic series in scans/ct and an rt-utils structure set of two ROIs in rt/."""
    folder = tmp_path / "user"
    write_series(folder / "scans" / "ct", axial_positions([1.5 * k for k in range(5)]),
                 rows=32, cols=32, spacing=(0.8, 0.8), **STUDY)
    shape = (32, 32, 5)
    (folder / "rt").mkdir()
    write_rtstruct(folder / "scans" / "ct", folder / "rt" / "rs.dcm",
                   {"Liver": ball(shape, (12, 12, 2), 6), "Cord": ball(shape, (24, 22, 2), 4)})
    return folder


def edit(path: Path, change) -> None:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


def test_contours_outside_the_image_are_a_warning(rt_folder: Path) -> None:
    def shift(ds: pydicom.Dataset) -> None:
        for c in ds.ROIContourSequence[1].ContourSequence:
            pts = [float(v) for v in c.ContourData]
            c.ContourData = [v + 15.0 if i % 3 == 0 else v for i, v in enumerate(pts)]

    edit(rt_folder / "rt" / "rs.dcm", shift)
    result = run(scan(rt_folder))
    (case,) = result.cases
    assert case.masks == [rt_folder / "rt" / "rs.dcm"]  # kept as it is: the SDK takes it
    assert any("rt/rs.dcm" in w and "outside the image" in w and "Cord" in w
               for w in result.warnings)
    assert any("outside the image" in f for f in result.derived[0].findings)


def test_rtstruct_of_a_series_not_scanned_names_it(rt_folder: Path) -> None:
    shutil.rmtree(rt_folder / "scans")
    result = run(scan(rt_folder))
    assert not result.cases
    (u,) = [u for u in result.unpaired if u.file == "rt/rs.dcm"]
    ref = pydicom.dcmread(rt_folder / "rt" / "rs.dcm").ReferencedFrameOfReferenceSequence[0] \
        .RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].SeriesInstanceUID
    assert ref in u.reason and "Scan the folder that holds both" in u.reason


def test_rtstruct_without_series_reference_pairs_by_frame_of_reference(rt_folder: Path) -> None:
    def drop(ds: pydicom.Dataset) -> None:
        del ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence
        for rc in ds.ROIContourSequence:
            for c in rc.ContourSequence:
                if "ContourImageSequence" in c:
                    del c.ContourImageSequence

    edit(rt_folder / "rt" / "rs.dcm", drop)
    result = run(scan(rt_folder))
    (case,) = result.cases
    assert result.derived[0].how == "the only series in its Frame of Reference"
    assert case.masks == [rt_folder / "rt" / "rs.dcm"]  # kept as it is, unconverted
    assert [m.name for m in result.derived[0].masks] == ["Liver", "Cord"]


@pytest.mark.shared_data
def test_a_seg_finds_its_series_among_parts_that_share_its_uid(shared_data: Path) -> None:
    # ct_image.dcm and sr_document.dcm share a SeriesInstanceUID; the reader splits them
    # (uid, uid.2): the SEG goes to the part holding the image it refers to
    folder = shared_data / HIGHDICOM
    before = listing(folder)
    result = run(scan(folder))
    (case,) = result.cases
    assert case.image.label == "ct_image.dcm" and case.image.grid is not None
    assert [d.label for d in result.derived] == ["seg_image_ct_binary_single_frame.dcm"]
    assert listing(folder) == before


@pytest.mark.shared_data
def test_a_cache_that_cannot_be_written_is_said_with_the_fix(
        dcmqi_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SEGMAP_CACHE", str(blocker))
    result = run(scan(_with_a_nifti_mask(dcmqi_folder)))  # converted, so into the cache
    assert not [c for c in result.cases if c.image.label == "ct"]
    (u,) = [u for u in result.unpaired if u.file == "seg/liver.dcm"]
    assert "SEGMAP_CACHE" in u.reason


def test_overlapping_rois_say_what_the_sdk_would_lose(tmp_path: Path) -> None:
    """RedBrick's --rt-struct keeps the last ROI where ROIs overlap; converted, each stays
    whole, and the scan says so."""
    folder = tmp_path / "user"
    write_series(folder / "ct", axial_positions([2.0 * k for k in range(8)]), rows=32,
                 cols=32, spacing=(0.8, 0.8), **STUDY)
    shape = (32, 32, 8)
    write_rtstruct(folder / "ct", folder / "rtss.dcm",
                   {"Liver": ball(shape, (12, 16, 4), 7), "Tumour": ball(shape, (13, 16, 4), 3)})
    result = run(scan(folder))
    (d,) = result.derived
    assert d.overlapping and d.sdk is None
    assert "keep only the last ROI" in d.note and "each ROI stays whole" in d.note
    (case,) = result.cases
    liver, tumour = (mask_array(m)[0].astype(bool) for m in case.masks)
    assert (liver & tumour).sum() == tumour.sum() > 0  # the tumour inside the liver, whole


@pytest.mark.shared_data
def test_a_seg_kept_as_it_is_is_not_converted_at_all(dcmqi_folder: Path, cache: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept as it is, the SEG is decoded once (what the SDK stores, its census) and no mask
    is written: a 117-segment SEG would otherwise be written as 117 NIfTI files for nothing."""
    import app.readers._volumes as volumes

    decoded: list[Path] = []
    sdk_volume = volumes.sdk_seg_volume
    monkeypatch.setattr(volumes, "sdk_seg_volume", lambda p: decoded.append(p) or sdk_volume(p))
    volumes.SEG_CACHE.clear()
    result = run(scan(dcmqi_folder))
    assert len(decoded) == 1
    (d,) = result.derived
    assert d.native and [m.path for m in d.masks] == [dcmqi_folder / "seg" / "liver.dcm"]
    assert d.masks[0].voxels > 0 and d.masks[0].name
    assert not cache.exists() or not any(cache.iterdir())


def test_a_structure_set_kept_as_it_is_is_not_converted(rt_folder: Path, cache: Path) -> None:
    result = run(scan(rt_folder))
    (d,) = result.derived
    assert d.native and {m.name: m.number for m in d.masks} == {"Liver": 1, "Cord": 2}
    assert not cache.exists() or not any(cache.iterdir())
