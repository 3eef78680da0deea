"""RT Structure Sets in: masks equal rt-utils' own, re-oriented to Segmap's array order.

Structure sets are written here with rt-utils from masks on synthetic series and on the
real TotalSegmentator CT; RedBrick's SDK's own conversion is the oracle for what it stores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from rt_utils import RTStructBuilder

from app.errors import VolumeReadError
from app.progress import run
from app.readers.dicom import (
    DicomSeries,
    RtMasks,
    read_rtstruct,
    rtstruct_header,
    scan_dicom,
    sdk_refusal,
    sdk_rtstruct_volume,
)
from tests.app.dicom_synth import axial_positions, write_series
from tests.app.rt_synth import real_ct_organs

TOTALSEG = "totalsegmentator/tests/reference_files"
# What rt-utils copies from the slices into a new structure set.
STUDY = {"StudyDate": "20240101", "StudyTime": "120000", "StudyID": "1",
         "PatientBirthDate": "", "PatientSex": "O", "ReferringPhysicianName": "",
         "AccessionNumber": "", "FrameOfReferenceUID": "1.2.826.0.1.3680043.8.498.1"}


def only_image(files: list[Path]) -> DicomSeries:
    found = [s for s in run(scan_dicom(files)) if s.kind == "image"]
    assert len(found) == 1
    return found[0]


def rt_order(folder: Path, series: DicomSeries) -> list[int]:
    """For each slice of rt-utils' order, Segmap's slice index (told apart by SOP UID)."""
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in series.files]
    rt = RTStructBuilder.create_new(str(folder))
    return [uids.index(ds.SOPInstanceUID) for ds in rt.series_data]


def write_rtstruct(folder: Path, path: Path, series: DicomSeries,
                   masks: dict[str, np.ndarray]) -> Path:
    """An RTSTRUCT of ``masks`` (Segmap's [column, row, slice] order) written by rt-utils."""
    order = rt_order(folder, series)
    rt = RTStructBuilder.create_new(str(folder))
    for name, mask in masks.items():
        rt.add_roi(mask=np.ascontiguousarray(mask.transpose(1, 0, 2)[:, :, order]), name=name,
                   color=[255, 0, 0])
    rt.save(str(path))
    return path


def assert_equals_rt_utils(ours: RtMasks, folder: Path, path: Path) -> None:
    """Every ROI's mask equals rt-utils' get_roi_mask_by_name, re-oriented."""
    rt = RTStructBuilder.create_from(str(folder), str(path))
    for roi, mask in ours.masks():
        want = rt.get_roi_mask_by_name(roi.name)  # [row, column, slice in rt-utils' order]
        np.testing.assert_array_equal(mask.transpose(1, 0, 2)[:, :, list(ours.rt_order)], want)


def blob(shape: tuple[int, int, int], centre: tuple[float, float, float], r: float) -> np.ndarray:
    i, j, k = np.indices(shape)
    return ((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + 4 * (k - centre[2]) ** 2) <= r * r


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, list[Path], DicomSeries]:
    folder = tmp_path / "ct"
    files = write_series(folder, axial_positions([6.0 - 1.5 * k for k in range(5)]), rows=40,
                         cols=40, spacing=(0.8, 0.8), **STUDY)
    return folder, files, only_image(files)


def synthetic_rois(series: DicomSeries) -> dict[str, np.ndarray]:
    assert series.grid is not None
    shape = series.grid.shape
    ring = blob(shape, (20, 18, 2), 12) & ~blob(shape, (20, 18, 2), 5)  # a hole
    return {"ring": ring, "ball": blob(shape, (28, 24, 3), 6),
            "edge": blob(shape, (2, 37, 1), 5)}  # touching the image's border


def test_synthetic_rois_equal_rt_utils(tmp_path: Path,
                                       synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    folder, files, series = synthetic
    rois = synthetic_rois(series)
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, rois)
    ours = read_rtstruct(path, files)
    assert ours.grid == series.grid and [r.name for r in ours.rois] == list(rois)
    assert_equals_rt_utils(ours, folder, path)
    for name, mask in rois.items():  # rt-utils' contours round-trip the masks closely
        got = ours.mask(name)
        assert (got & mask).sum() >= 0.8 * mask.sum()
    assert not [f for f in ours.findings if f.severity == "error"]
    assert sdk_refusal(ours) is None


def test_rtstruct_header(tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    folder, _, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))

    def label(ds: pydicom.Dataset) -> None:
        ds.RTROIObservationsSequence[0].ROIObservationLabel = "Ring obs"
        ds.RTROIObservationsSequence[0].RTROIInterpretedType = "ORGAN"

    header = rtstruct_header(edited(path, tmp_path / "labelled.dcm", label))
    assert [r.name for r in header.rois] == ["ring", "ball", "edge"]
    ring = header.rois[0]
    assert ring.color == (255, 0, 0) and ring.contours > 0
    assert ring.geometric_types == frozenset({"CLOSED_PLANAR"})
    assert (ring.observation_label, ring.interpreted_type) == ("Ring obs", "ORGAN")
    assert header.referenced_series_uids == (series.uid,)
    assert len(header.referenced_sop_uids) == 5


@pytest.fixture(scope="module")
def real_ct(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, list[Path], DicomSeries, dict[str, np.ndarray]]:
    """A copy of the TotalSegmentator CT (its anonymised UIDs filled in, which rt-utils needs)
    and four organs of its label map on its grid."""
    folder = tmp_path_factory.mktemp("real") / "ct"
    organs = real_ct_organs(shared_data, folder)
    files = sorted(folder.iterdir())
    series = only_image(files)
    return folder, files, series, organs


@pytest.mark.shared_data
def test_real_ct_rois_equal_rt_utils(tmp_path: Path, real_ct) -> None:
    folder, files, series, organs = real_ct
    path = write_rtstruct(folder, tmp_path / "organs.dcm", series, organs)
    ours = read_rtstruct(path, files)
    assert len(ours.rois) == len(organs) >= 2
    assert_equals_rt_utils(ours, folder, path)
    for name, mask in organs.items():
        assert (ours.mask(name) & mask).sum() >= 0.9 * mask.sum()


# broken files and findings -------------------------------------------------------------------


def edited(path: Path, out: Path, edit) -> Path:
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(out)
    return out


def test_missing_or_other_series_is_a_clear_error(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    folder, _, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))
    with pytest.raises(VolumeReadError, match="missing") as err:
        read_rtstruct(path, [tmp_path / "gone" / "a.dcm"])
    assert series.uid in str(err.value) and err.value.hint
    with pytest.raises(VolumeReadError, match="missing"):
        read_rtstruct(path, [])
    other = write_series(tmp_path / "other", axial_positions([0.0, 1.0]), rows=40, cols=40,
                         **STUDY)
    with pytest.raises(VolumeReadError, match="refers to series"):
        read_rtstruct(path, other)
    with pytest.raises(VolumeReadError, match="not an RT Structure Set"):
        read_rtstruct(other[0], other)


def test_findings_for_outside_empty_and_open_contours(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    folder, files, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))

    def edit(ds: pydicom.Dataset) -> None:
        ring, ball, edge = ds.ROIContourSequence
        c = ring.ContourSequence[0]
        c.ContourData = [v + (500.0 if i % 3 == 0 else 0.0) for i, v in
                         enumerate(c.ContourData)]
        del ball.ContourSequence
        edge.ContourSequence[0].ContourGeometricType = "OPEN_PLANAR"
        ds.ROIContourSequence[0].ContourSequence[1].ContourImageSequence[0] \
            .ReferencedSOPInstanceUID = "1.2.3.999"

    ours = read_rtstruct(edited(path, tmp_path / "odd.dcm", edit), files)
    codes = {(f.code, f.roi) for f in ours.findings}
    assert ("contour-outside", "ring") in codes
    assert ("roi-empty", "ball") in codes and not ours.mask("ball").any()
    assert ("contour-not-closed", "edge") in codes
    assert ("contour-image-missing", "ring") in codes
    assert all(f.message for f in ours.findings)


def test_a_broken_file_is_a_volume_read_error(tmp_path: Path,
                                              synthetic: tuple[Path, list[Path], DicomSeries]
                                              ) -> None:
    folder, files, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:300])
    with pytest.raises(VolumeReadError, match="cut.dcm"):
        read_rtstruct(cut, files)


# RedBrick's SDK as the oracle ----------------------------------------------------------------


def sdk_convert(path: Path, folder: Path, names: list[str]) -> nib.Nifti1Image:
    from redbrick.utils.rt_struct import convert_rt_struct_to_nii

    copy = path.parent / f"copy-{path.name}"
    shutil.copy(path, copy)
    img, _ = convert_rt_struct_to_nii([str(copy)], str(folder), {n: n for n in names}, False,
                                      [])
    assert img is not None
    return img


def assert_same(ours: nib.Nifti1Image, sdk: nib.Nifti1Image) -> None:
    a, b = np.asanyarray(ours.dataobj), np.asanyarray(sdk.dataobj)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.affine, sdk.affine)


@pytest.mark.oracle
def test_sdk_volume_equals_the_sdks_on_synthetic_rois(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    pytest.importorskip("redbrick")
    folder, files, series = synthetic
    rois = synthetic_rois(series)
    rois["overlap"] = blob(rois["ball"].shape, (24, 22, 3), 6)  # overlaps ring and ball
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, rois)
    ours = read_rtstruct(path, files)
    for names in (["ring", "ball", "edge", "overlap"], ["overlap", "edge", "ball"],
                  ["ball", "not-there", "ring"]):
        assert_same(sdk_rtstruct_volume(ours, names), sdk_convert(path, folder, names))


@pytest.mark.oracle
@pytest.mark.shared_data
def test_sdk_volume_equals_the_sdks_on_the_real_ct(tmp_path: Path, real_ct) -> None:
    pytest.importorskip("redbrick")
    folder, files, series, organs = real_ct
    path = write_rtstruct(folder, tmp_path / "organs.dcm", series, organs)
    ours = read_rtstruct(path, files)
    names = list(organs)[::-1]
    assert_same(sdk_rtstruct_volume(ours, names), sdk_convert(path, folder, names))


@pytest.mark.oracle
def test_sdk_volume_equals_the_sdks_with_open_and_imageless_contours(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    pytest.importorskip("redbrick")
    folder, files, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))

    def edit(ds: pydicom.Dataset) -> None:
        ring, _, edge = ds.ROIContourSequence
        ring.ContourSequence[0].ContourGeometricType = "OPEN_PLANAR"
        del edge.ContourSequence[0].ContourImageSequence

    odd = edited(path, tmp_path / "odd.dcm", edit)
    ours = read_rtstruct(odd, files)
    assert {f.code for f in ours.findings} >= {"contour-not-closed", "contour-no-image"}
    names = ["ring", "ball", "edge"]
    assert_same(sdk_rtstruct_volume(ours, names), sdk_convert(odd, folder, names))


@pytest.mark.oracle
def test_sdk_volume_of_a_non_square_image_equals_the_sdks(tmp_path: Path) -> None:
    pytest.importorskip("redbrick")
    folder = tmp_path / "ct"
    files = write_series(folder, axial_positions([0.0, 1.0, 2.0]), rows=40, cols=30,
                         spacing=(1.0, 1.0), **STUDY)
    series = only_image(files)
    assert series.grid is not None and series.grid.shape == (30, 40, 3)
    shape = series.grid.shape
    rois = {"low": blob(shape, (10, 33, 1), 5), "high": blob(shape, (15, 10, 1), 6)}
    rt = RTStructBuilder.create_new(str(folder))
    order = rt_order(folder, series)
    for name, mask in rois.items():  # rt-utils takes [row, column, slice] masks here
        rt.add_roi(mask=np.ascontiguousarray(mask.transpose(1, 0, 2)[:, :, order]), name=name)
    rt.save(str(tmp_path / "rt.dcm"))
    ours = read_rtstruct(tmp_path / "rt.dcm", files)
    for name, mask in rois.items():  # Segmap's masks are right
        assert (ours.mask(name) & mask).sum() >= 0.8 * mask.sum()
    assert "not square" in (sdk_refusal(ours) or "")
    assert_same(sdk_rtstruct_volume(ours, list(rois)),
                sdk_convert(tmp_path / "rt.dcm", folder, list(rois)))


@pytest.mark.oracle
def test_the_sdk_refuses_a_structure_set_whose_images_are_missing(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    pytest.importorskip("redbrick")
    folder, files, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))
    files[-1].unlink()
    ours = read_rtstruct(path, files[:-1])
    assert "not among the series' files" in (sdk_refusal(ours) or "")
    with pytest.raises(VolumeReadError):
        sdk_rtstruct_volume(ours)
    with pytest.raises(Exception, match="not contained in input series"):
        sdk_convert(path, folder, ["ring"])


def test_contours_on_non_square_pixels_are_placed_in_millimetres(tmp_path: Path) -> None:
    files = write_series(tmp_path / "ct", axial_positions([0.0, 1.0]), rows=20, cols=20,
                         spacing=(2.0, 0.5), **STUDY)  # rows 2 mm apart, columns 0.5 mm
    series = only_image(files)
    rt = RTStructBuilder.create_new(str(tmp_path / "ct"))
    mask = np.zeros((20, 20, 2), bool)
    mask[2:5, 2:5, 0] = True
    rt.add_roi(mask=mask, name="a")
    rt.save(str(tmp_path / "rt.dcm"))
    ds = pydicom.dcmread(tmp_path / "rt.dcm")
    first = pydicom.dcmread(files[0])
    x0, y0, z0 = (float(v) for v in first.ImagePositionPatient)
    # A square outline from column 4 to 12 (x: +2..+6 mm) and row 2 to 6 (y: +4..+12 mm).
    ring = [(4, 2), (12, 2), (12, 6), (4, 6)]
    contour = ds.ROIContourSequence[0].ContourSequence[0]
    contour.ContourData = [v for c, r in ring for v in (x0 + 0.5 * c, y0 + 2.0 * r, z0)]
    contour.NumberOfContourPoints = 4
    contour.ContourImageSequence[0].ReferencedSOPInstanceUID = first.SOPInstanceUID
    del ds.ROIContourSequence[0].ContourSequence[1:]
    ds.save_as(tmp_path / "mm.dcm")
    ours = read_rtstruct(tmp_path / "mm.dcm", files)
    assert series.grid is not None and series.grid.spacing[:2] == (0.5, 2.0)
    want = np.zeros(series.grid.shape, bool)
    want[4:13, 2:7, 0] = True
    np.testing.assert_array_equal(ours.mask("a"), want)
    assert "pixels-not-square" in {f.code for f in ours.findings}


def test_another_frame_of_reference_is_an_error_finding(
        tmp_path: Path, synthetic: tuple[Path, list[Path], DicomSeries]) -> None:
    folder, files, series = synthetic
    path = write_rtstruct(folder, tmp_path / "rt.dcm", series, synthetic_rois(series))

    def edit(ds: pydicom.Dataset) -> None:
        ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.4.5.6"

    ours = read_rtstruct(edited(path, tmp_path / "for.dcm", edit), files)
    assert ("error", "frame-of-reference") in {(f.severity, f.code) for f in ours.findings}
