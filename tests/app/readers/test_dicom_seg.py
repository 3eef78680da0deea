"""DICOM SEG in: every kind reads onto its reference series' grid, equal to references.

References are third-party files (dcmqi's NRRDs, highdicom's own decoding), SEGs this test
writes with highdicom from real masks, and RedBrick's SDK itself (oracle tests).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from app.errors import VolumeReadError
from app.geometry import Grid, align_to_image, compare_grids
from app.progress import run
from app.readers import read_nrrd
from app.readers.dicom import (
    LABELMAP_CLASS,
    DicomSeries,
    read_seg,
    scan_dicom,
    sdk_refusal,
    sdk_seg_volume,
    seg_header,
)
from tests.app.dicom_synth import axial_positions, write_series

DCMQI = "dcmqi/data/segmentations"
HIGHDICOM = "highdicom/data/test_files"
TOTALSEG = "totalsegmentator/tests/reference_files"


def only_image(files: list[Path] | Path) -> DicomSeries:
    found = [s for s in run(scan_dicom(files)) if s.kind == "image"]
    assert len(found) == 1
    return found[0]


def in_world(volume: np.ndarray, grid: Grid, onto: Grid) -> np.ndarray:
    """``volume`` (on ``grid``) on the grid ``onto``, which must hold the same voxels."""
    match = compare_grids(onto, grid)
    assert match.aligned, match.message
    return align_to_image(volume, match)


def write_seg(path: Path, series: DicomSeries, masks: np.ndarray, *, kind: str = "BINARY",
              labels: list[str] | None = None, **kw: object) -> Path:
    """A SEG of ``masks`` ([column, row, slice, segment] on the series' grid) via highdicom."""
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
    frame = generate_uid(entropy_srcs=[series.uid])
    for ds in sources:  # attributes highdicom needs that the sources lack (in memory only)
        ds.SOPClassUID = ds.SOPClassUID or ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.SOPInstanceUID or ds.file_meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = ds.SeriesInstanceUID or series.uid
        for key in ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
                    "ReferringPhysicianName", "AccessionNumber"):
            setattr(ds, key, ds.get(key, ""))
        ds.FrameOfReferenceUID = ds.get("FrameOfReferenceUID", frame)
    n = masks.shape[3]
    algo = hd.AlgorithmIdentificationSequence("test", hd.sr.CodedConcept("123109", "DCM", "M"),
                                              "1.0")
    descriptions = [hd.seg.SegmentDescription(
        s + 1, (labels or [f"seg{s + 1}" for s in range(n)])[s],
        hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
        hd.sr.CodedConcept("10200004", "SCT", "Liver"), "AUTOMATIC", algo)
        for s in range(n)]
    pixels = masks.transpose(2, 1, 0, 3)
    if kind == "LABELMAP":
        lab = np.zeros(pixels.shape[:3], np.uint8)
        for s in range(n):
            lab[pixels[..., s] > 0] = s + 1
        pixels = lab
    seg = hd.seg.Segmentation(
        sources, pixels.astype(np.float32 if kind == "FRACTIONAL" else np.uint8),
        getattr(hd.seg.SegmentationTypeValues, kind), descriptions, generate_uid(), 99,
        generate_uid(), 1, "Segmap tests", "test", "1", "1", **kw)
    seg.save_as(path)
    return path


# dcmqi: SEGs with the NRRD label maps they were made from ----------------------------------


@pytest.mark.shared_data
def test_dcmqi_liver_equals_its_nrrd_on_the_ct_grid(shared_data: Path) -> None:
    root = shared_data / DCMQI
    series = only_image(root / "ct-3slice")
    masks = read_seg(root / "liver.dcm", series)
    assert masks.grid == series.grid and not masks.overlapping
    ref, grid = read_nrrd(root / "liver_seg.nrrd")
    assert series.grid is not None
    np.testing.assert_array_equal(masks.mask(1), in_world(ref, grid, series.grid) == 1)
    assert masks.labelmap().dtype == np.uint8 and masks.mask(1).sum() > 1000


@pytest.mark.shared_data
def test_dcmqi_partial_overlaps_equal_their_nrrds(shared_data: Path) -> None:
    root = shared_data / DCMQI
    series = only_image(sorted((root / "ct-3slice").iterdir()))
    masks = read_seg(root / "partial_overlaps.dcm", series.files)
    assert masks.overlapping and len(masks.segments) == 5
    with pytest.raises(VolumeReadError, match="overlap"):
        masks.labelmap()
    assert series.grid is not None
    for part, numbers in ((1, (1, 4, 5)), (2, (2,)), (3, (3,))):
        ref, grid = read_nrrd(root / f"partial_overlaps-{part}.nrrd")
        ref = in_world(ref, grid, series.grid)
        for n in numbers:
            np.testing.assert_array_equal(masks.mask(n), ref == n)
    assert "overlap" in (sdk_refusal(masks) or "")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["ppv5", "noppv"])
def test_dcmqi_sparse_label_maps_equal_their_nrrds(shared_data: Path, name: str) -> None:
    root = shared_data / DCMQI
    path = root / f"sparse-labelmap-{name}.dcm"
    header = seg_header(path)
    assert header.kind == "LABELMAP" and header.sop_class_uid == LABELMAP_CLASS
    masks = read_seg(path)
    ref, grid = read_nrrd(root / f"sparse_labelmap_{name}_seg.nrrd")
    # dcmqi fills the frames absent from the SEG with the PixelPaddingValue (5): empty here.
    np.testing.assert_array_equal(in_world(masks.mask(1), masks.grid, grid), ref == 1)
    assert [s.label for s in masks.segments] == ["Liver"]
    assert "label-map" in (sdk_refusal(header) or "")


# highdicom's test SEGs against highdicom's own frames ---------------------------------------


def _frame_segments(ds: pydicom.Dataset) -> list[int]:
    shared = ds.SharedFunctionalGroupsSequence[0].get("SegmentIdentificationSequence")
    return [int(f.get("SegmentIdentificationSequence", shared)[0].ReferencedSegmentNumber)
            for f in ds.PerFrameFunctionalGroupsSequence]


HIGHDICOM_CT = ["seg_image_ct_binary.dcm", "seg_image_ct_binary_fractional.dcm",
                "seg_image_ct_binary_overlap.dcm", "seg_image_ct_binary_single_frame.dcm",
                "seg_image_ct_true_fractional.dcm", "seg_image_cr_binary.dcm"]
HIGHDICOM_SM = ["seg_image_sm_control.dcm", "seg_image_sm_control_labelmap.dcm",
                "seg_image_sm_control_labelmap_palette_color.dcm", "seg_image_sm_dots.dcm",
                "seg_image_sm_dots_tiled_full.dcm", "seg_image_sm_numbers.dcm"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", HIGHDICOM_CT)
def test_highdicom_ct_segs_hold_every_voxel_of_their_frames(shared_data: Path, name: str) -> None:
    path = shared_data / HIGHDICOM / name
    ds = pydicom.dcmread(path)
    masks = read_seg(path, threshold=0.5)
    frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    fractional = ds.SegmentationType == "FRACTIONAL"
    assert (masks.threshold == 0.5) is fractional
    per_frame = _frame_segments(ds)
    for seg, mask in masks.masks():
        on = frames[[i for i, n in enumerate(per_frame) if n == seg.number]]
        want = (on / ds.MaximumFractionalValue >= 0.5) if fractional else on > 0
        assert int(mask.sum()) == int(want.sum()) > 0
    assert masks.overlapping is (name == "seg_image_ct_binary_overlap.dcm")


@pytest.mark.shared_data
def test_highdicom_single_frame_seg_lies_on_its_ct_image(shared_data: Path) -> None:
    root = shared_data / HIGHDICOM
    ct = root / "ct_image.dcm"
    masks = read_seg(root / "seg_image_ct_binary_single_frame.dcm", [ct])
    series = only_image([ct])
    assert masks.grid == series.grid
    seg = hd.seg.segread(root / "seg_image_ct_binary_single_frame.dcm")
    uid = pydicom.dcmread(ct, stop_before_pixels=True).SOPInstanceUID
    want = seg.get_pixels_by_source_instance([uid])[..., 0].transpose(2, 1, 0) > 0
    np.testing.assert_array_equal(masks.mask(1), want)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", HIGHDICOM_SM)
def test_highdicom_tiled_segs_equal_the_total_pixel_matrix(shared_data: Path, name: str) -> None:
    path = shared_data / HIGHDICOM / name
    masks = read_seg(path)
    seg = hd.seg.segread(path)
    for s, mask in masks.masks():
        want = seg.get_total_pixel_matrix(segment_numbers=[s.number], combine_segments=True)
        np.testing.assert_array_equal(mask[:, :, 0], want.T > 0)
    if "palette" in name:
        assert seg_header(path).kind == "LABELMAP"


# SEGs written here with highdicom from real and synthetic masks --------------------------------


@pytest.fixture(scope="module")
def real_ct(shared_data: Path) -> tuple[DicomSeries, np.ndarray]:
    """The TotalSegmentator CT series and four organs of its label map, on its grid."""
    root = shared_data / TOTALSEG
    series = only_image(root / "example_ct_dicom")
    img = nib.load(root / "example_seg_dicom.nii.gz")
    labels = np.asanyarray(img.dataobj)
    assert series.grid is not None
    labels = in_world(labels, Grid.of(labels.shape, img.affine), series.grid)
    organs = [v for v in (1, 5, 2, 3) if (labels == v).any()][:3]
    return series, np.stack([labels == v for v in organs], axis=-1)


@pytest.mark.shared_data
def test_real_masks_written_as_seg_read_back(tmp_path: Path,
                                             real_ct: tuple[DicomSeries, np.ndarray]) -> None:
    series, organs = real_ct
    path = write_seg(tmp_path / "organs.dcm", series, organs)
    masks = read_seg(path, series)
    assert not masks.overlapping and masks.grid == series.grid
    for s in range(organs.shape[3]):
        np.testing.assert_array_equal(masks.mask(s + 1), organs[..., s])
    header = seg_header(path)
    assert header.referenced_series_uids == (series.uid,) and header.frames < 3 * 20
    assert sdk_refusal(header) is None


@pytest.mark.parametrize("kind", ["BINARY", "FRACTIONAL", "LABELMAP"])
@pytest.mark.parametrize("descending", [False, True])
def test_synthetic_seg_reads_back_on_the_series_grid(tmp_path: Path, kind: str,
                                                     descending: bool) -> None:
    zs = [10.0 - 2 * k for k in range(6)] if descending else [2.0 * k for k in range(6)]
    files = write_series(tmp_path / "ct", axial_positions(zs), rows=8, cols=6)
    series = only_image(files)
    assert series.grid is not None
    masks = np.zeros((*series.grid.shape, 2), bool)
    masks[1:4, 2:6, 1:3, 0] = True  # slices 0 and 3..5 empty: sparse frames
    masks[4:6, 0:2, 2, 1] = True
    path = write_seg(tmp_path / "seg.dcm", series, masks, kind=kind)
    got = read_seg(path, files)
    assert got.grid == series.grid and got.labelmap().dtype == np.uint8
    np.testing.assert_array_equal(got.mask(1), masks[..., 0])
    np.testing.assert_array_equal(got.mask(2), masks[..., 1])
    assert (got.threshold is not None) is (kind == "FRACTIONAL")
    own = read_seg(path)  # on the SEG's own frames: the same voxels in world space
    np.testing.assert_array_equal(align_to_image(own.mask(1), compare_grids(series.grid,
                                                                            own.grid)),
                                  masks[..., 0])


def test_synthetic_fractional_seg_is_cut_at_the_threshold(tmp_path: Path) -> None:
    files = write_series(tmp_path / "ct", axial_positions([0.0, 1.0, 2.0]), rows=4, cols=4)
    series = only_image(files)
    assert series.grid is not None
    prob = np.zeros((*series.grid.shape, 1), np.float32)
    prob[1, 1, 1, 0], prob[2, 2, 1, 0], prob[0, 0, 0, 0] = 0.9, 0.4, 0.6
    path = write_seg(tmp_path / "seg.dcm", series, prob, kind="FRACTIONAL")
    assert read_seg(path, files, threshold=0.5).mask(1).sum() == 2
    assert read_seg(path, files, threshold=0.3).mask(1).sum() == 3
    assert "BINARY" in (sdk_refusal(seg_header(path)) or "")


# broken and mismatched files -----------------------------------------------------------------


@pytest.fixture
def synthetic_seg(tmp_path: Path) -> tuple[Path, list[Path]]:
    files = write_series(tmp_path / "ct", axial_positions([0.0, 1.0, 2.0]), rows=8, cols=8)
    series = only_image(files)
    assert series.grid is not None
    masks = np.zeros((*series.grid.shape, 1), bool)
    masks[2:5, 2:5, :, 0] = True
    return write_seg(tmp_path / "seg.dcm", series, masks), files


def test_truncated_seg_is_a_clear_error(synthetic_seg: tuple[Path, list[Path]],
                                        tmp_path: Path) -> None:
    path, files = synthetic_seg
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(VolumeReadError, match="cut.dcm") as err:
        read_seg(cut, files)
    assert err.value.hint


def test_unknown_sop_class_is_refused(synthetic_seg: tuple[Path, list[Path]],
                                      tmp_path: Path) -> None:
    path, files = synthetic_seg
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.3.4.5"
    ds.save_as(tmp_path / "odd.dcm")
    with pytest.raises(VolumeReadError, match="not a DICOM SEG") as err:
        seg_header(tmp_path / "odd.dcm")
    assert "Segmentation Storage" in (err.value.hint or "")
    with pytest.raises(VolumeReadError, match="not a DICOM SEG"):
        read_seg(files[0])


def test_a_seg_on_another_series_is_refused(synthetic_seg: tuple[Path, list[Path]],
                                            tmp_path: Path) -> None:
    path, _ = synthetic_seg
    other = write_series(tmp_path / "other", axial_positions([0.0, 1.0, 2.0]), rows=8, cols=8)
    with pytest.raises(VolumeReadError, match="refers to series"):
        read_seg(path, other)
    with pytest.raises(VolumeReadError, match="missing"):
        read_seg(path, [tmp_path / "gone.dcm"])


def test_seg_header_reads_no_pixels(synthetic_seg: tuple[Path, list[Path]]) -> None:
    path, _ = synthetic_seg
    header = seg_header(path)
    assert (header.kind, header.rows, header.columns, len(header.segments)) == ("BINARY", 8, 8, 1)
    assert header.segments[0].type is not None and header.segments[0].type.meaning == "Liver"
    assert len(header.referenced_sop_uids) == 3


# RedBrick's SDK as the oracle ----------------------------------------------------------------


def sdk_convert(path: Path, tmp: Path) -> nib.Nifti1Image:
    """What the SDK stores for ``path``; it deletes its input, so it gets a copy."""
    from redbrick.utils.dicom_seg import convert_dicom_seg_to_nii

    copy = tmp / f"copy-{path.name}"
    shutil.copy(path, copy)
    out = convert_dicom_seg_to_nii([str(copy)], str(tmp))
    img = nib.load(out[0])
    return nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine)


def assert_same_nifti(ours: nib.Nifti1Image, sdk: nib.Nifti1Image) -> None:
    a, b = np.asanyarray(ours.dataobj), np.asanyarray(sdk.dataobj)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.affine, sdk.affine, atol=1e-4)


@pytest.mark.oracle
@pytest.mark.shared_data
def test_sdk_volume_of_binary_segs_equals_the_sdks(shared_data: Path, tmp_path: Path,
                                                   real_ct: tuple[DicomSeries, np.ndarray]
                                                   ) -> None:
    pytest.importorskip("redbrick")
    series, organs = real_ct
    written = write_seg(tmp_path / "organs.dcm", series, organs)
    for path in (shared_data / DCMQI / "liver.dcm", written,
                 shared_data / HIGHDICOM / "seg_image_ct_binary.dcm"):
        assert_same_nifti(sdk_seg_volume(path), sdk_convert(path, tmp_path))
        assert path.exists()


@pytest.mark.oracle
@pytest.mark.shared_data
@pytest.mark.parametrize("name", [f"{DCMQI}/partial_overlaps.dcm",
                                  f"{DCMQI}/sparse-labelmap-ppv5.dcm",
                                  f"{HIGHDICOM}/seg_image_ct_binary_fractional.dcm",
                                  f"{HIGHDICOM}/seg_image_ct_binary_overlap.dcm"])
def test_the_sdk_refuses_what_sdk_refusal_names(shared_data: Path, tmp_path: Path,
                                                name: str) -> None:
    pytest.importorskip("redbrick")
    path = shared_data / name
    why = sdk_refusal(read_seg(path))
    assert why is not None
    with pytest.raises(ValueError):
        sdk_convert(path, tmp_path)
    with pytest.raises(VolumeReadError):
        sdk_seg_volume(path)


def test_a_seg_off_the_reference_slices_is_refused(synthetic_seg: tuple[Path, list[Path]],
                                                   tmp_path: Path) -> None:
    path, files = synthetic_seg
    uid = pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID
    moved = write_series(tmp_path / "moved", axial_positions([0.4, 1.4, 2.4]), uid=uid,
                         rows=8, cols=8)
    with pytest.raises(VolumeReadError, match="do not lie on the reference series"):
        read_seg(path, moved)
