"""Real third-party DICOM (../shared/data and pydicom's own test files): volumes equal references.

A reference NIfTI may store the same voxels with another axis order; the check is
in world space: compare_grids must find the same voxels (SAME or REORIENTED) and
the voxel values, once aligned, must be equal.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from app.geometry import Grid, align_to_image, compare_grids
from app.progress import run
from app.readers.dicom import DicomSeries, load_dicom_volume, scan_dicom

pytestmark = pytest.mark.shared_data
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
GROUND_TRUTHS = [
    "anatomical/001", "anatomical/001_implicit", "failing/slicecount/001",
    "ge/anatomical/001", "ge/anatomical/001_implicit", "ge/anatomical/001_single_slice",
    "generic/anatomical/001", "generic/anatomical/002_non_isotropic",
    "generic/compressed/001", "generic/compressed_j2k/001", "generic/compressed_jpeg/001",
    "generic/compressed_jpegls/001", "generic/compressed_rle/001", "generic/rgb/001",
    "hitachi/anatomical/001", "hitachi/anatomical/001_implicit",
    "philips_enhanced/anatomical/001", "philips_enhanced/anatomical/001_implicit",
    "siemens/anatomical/001", "siemens_multiframe/anatomical/001",
]


def only_image(folder: Path) -> DicomSeries:
    found = [s for s in run(scan_dicom(folder)) if s.kind in ("image", "localizer")]
    assert len(found) == 1, [s.to_json() for s in found]
    return found[0]


def assert_equal_in_world(series: DicomSeries, reference: Path) -> None:
    img = nib.load(reference)
    ref = np.asanyarray(img.dataobj)
    if ref.dtype.fields:  # RGB(A) reference: compare with our luminance
        rgb = np.stack([ref[c] for c in "RGB"], -1).astype(np.float32)
        ref = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    ref = ref.reshape(ref.shape[:3])
    assert series.grid is not None
    match = compare_grids(Grid.of(ref.shape, img.affine), series.grid)
    assert match.aligned, match.message
    assert match.max_corner_mm < 1e-3
    ours = align_to_image(run(load_dicom_volume(series)), match)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("case", GROUND_TRUTHS)
def test_dicom2nifti_series_equal_their_ground_truth(shared_data: Path, case: str) -> None:
    root = shared_data / "dicom2nifti"
    series = only_image(root / case)
    assert_equal_in_world(series, root / f"{case}_ground_truth.nii.gz")


@pytest.mark.parametrize(("case", "warning"), [
    ("gantrytilting/001", "Gantry tilt"),
    ("sliceincrement/001", "Missing slices"),
    ("sliceincrement/002", "Missing slices"),
    ("sliceorientation/001", "Mixed orientations"),
    ("slicecount/001", "Too few slices"),
    ("notavolume/001", "Several volumes"),
])
def test_dicom2nifti_failing_series_give_warnings_not_crashes(
        shared_data: Path, case: str, warning: str) -> None:
    found = [s for s in run(scan_dicom(shared_data / "dicom2nifti" / "failing" / case))
             if s.kind in ("image", "localizer")]
    assert found
    assert any(w.startswith(warning) for s in found for w in s.warnings), \
        [s.warnings for s in found]
    for s in found:  # each part still loads for preview
        assert s.grid is not None
        assert run(load_dicom_volume(s)).shape == s.grid.shape


def test_gantry_tilt_grid_keeps_each_slice_at_its_position(shared_data: Path) -> None:
    series = only_image(shared_data / "dicom2nifti" / "failing" / "gantrytilting" / "001")
    assert series.grid is not None
    for k, f in enumerate(series.files):
        ipp = np.array(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient, float)
        assert (series.grid.affine @ [0, 0, k, 1])[:3] == pytest.approx(ipp * [-1, -1, 1],
                                                                        abs=1e-3)


def test_siemens_mosaic_in_nine_transfer_syntaxes(shared_data: Path) -> None:
    root = shared_data / "dcm_qa_ts"
    found = run(scan_dicom(root / "In"))
    assert sorted(s.series_number or 0 for s in found) == list(range(1, 10))
    for s in found:
        assert s.grid is not None and s.grid.shape == (64, 64, 35)
        assert_equal_in_world(s, root / "Ref" / f"{s.series_number}.nii")


@pytest.mark.parametrize("position", ["HFS", "HFDR"])
def test_decubitus_series_slices_lie_on_the_grid(shared_data: Path, position: str) -> None:
    folder = next(p for p in (shared_data / "dcm_qa_decubitus" / "In" / position).iterdir()
                  if p.is_dir())
    series = only_image(folder)
    assert series.warnings == () and series.grid is not None
    assert series.grid.shape[2] == len(series.files) == 35
    for k, f in enumerate(series.files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ipp = np.array(ds.ImagePositionPatient, float)
        assert (series.grid.affine @ [0, 0, k, 1])[:3] == pytest.approx(ipp * [-1, -1, 1],
                                                                        abs=1e-3)
    vol = run(load_dicom_volume(series))
    ds = pydicom.dcmread(series.files[10])
    assert np.array_equal(vol[:, :, 10], ds.pixel_array.T)


def test_totalsegmentator_mask_lands_on_the_anatomy(shared_data: Path) -> None:
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    series = only_image(ref / "example_ct_dicom")  # JPEG 2000, anonymised (no UIDs)
    assert series.grid is not None and series.grid.shape == (512, 512, 20)
    assert series.grid.spacing == pytest.approx((0.9765625, 0.9765625, 2.0))
    ct = run(load_dicom_volume(series))
    seg_img = nib.load(ref / "example_seg_dicom.nii.gz")
    seg = np.asanyarray(seg_img.dataobj)
    match = compare_grids(series.grid, Grid.of(seg.shape, seg_img.affine))
    assert match.relation == "reoriented"
    labels = align_to_image(seg, match)
    for value in (1, 5):  # spleen, liver: enhanced soft tissue
        assert 40 < float(ct[labels == value].mean()) < 150
        # Overlaid by array index instead, the organs land on air and fat.
        assert float(ct[seg == value].mean()) < float(ct[labels == value].mean()) - 100


def test_pydicom_folder_with_three_series(shared_data: Path) -> None:
    folder = PYDICOM_FILES / "dicomdirtests" / "98892003" / "MR2"
    originals = {pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID
                 for f in folder.iterdir()}
    found = run(scan_dicom(folder))
    # Parts split off a series carry its UID plus ".2", ".3", ...
    bases = {s.uid if s.uid in originals else s.uid.rsplit(".", 1)[0] for s in found}
    assert bases == originals and len(originals) == 3
    assert all(s.kind == "localizer" for s in found)


def test_pydicom_compressed_files_decode_like_the_uncompressed_one(shared_data: Path) -> None:
    names = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
             "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"]
    volumes = []
    for name in names:
        (s,) = [s for s in run(scan_dicom([PYDICOM_FILES / name])) if s.kind == "image"]
        volumes.append(run(load_dicom_volume(s)))
    for v in volumes[1:]:
        assert np.array_equal(v, volumes[0])


def test_pydicom_truncated_multiframe_and_gzip_files(shared_data: Path) -> None:
    (trunc,) = run(scan_dicom([PYDICOM_FILES / "MR_truncated.dcm"]))
    assert any("truncated" in w for w in trunc.warnings)
    assert trunc.files == (PYDICOM_FILES / "MR_truncated.dcm",)
    (gz,) = run(scan_dicom([PYDICOM_FILES / "zipMR.gz"]))
    assert gz.modality == "MR" and gz.grid is not None
    (rgb2,) = run(scan_dicom([PYDICOM_FILES / "SC_rgb_rle_2frame.dcm"]))
    assert len(rgb2.frames) == 2 and rgb2.grid is None  # frames without geometry


def test_non_image_objects_are_reported_by_kind(shared_data: Path) -> None:
    files = [PYDICOM_FILES / n for n in ("rtstruct.dcm", "test-SR.dcm", "rtplan.dcm")]
    files.append(shared_data / "dcmqi" / "data" / "segmentations" / "liver.dcm")
    kinds = sorted(s.kind for s in run(scan_dicom(files)))
    assert kinds == ["RTSTRUCT", "SEG", "SR", "other"]


def test_whole_shared_data_tree_scans_without_unreadable_files(shared_data: Path) -> None:
    found = run(scan_dicom(shared_data))
    assert not [s for s in found if s.uid == ""]
    assert sum(1 for s in found if s.kind == "SEG") >= 10
