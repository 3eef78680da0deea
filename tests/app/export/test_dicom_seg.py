"""DICOM SEG out: written from Segmap's masks, read back with highdicom, voxel for voxel."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from app.errors import InputError, OutputError
from app.export import (
    LOCAL_SCHEME,
    Code,
    LabelRow,
    ReplaceRefused,
    SegKind,
    SegmentSpec,
    read_slicer_colour_table,
    write_dicom_seg,
    write_slicer_colour_table,
)
from app.geometry import Grid
from app.mapping import suggest_code
from app.readers import dicom_image_series, nifti_info, read_raw

from ..dicom_synth import AXIAL, SAGITTAL, write_slice

TS = Path("totalsegmentator/tests/reference_files")
LIVER = Code("SCT", "10200004", "Liver")
KIDNEY = Code("SCT", "64033007", "Kidney")
LEFT = Code("SCT", "7771000", "Left")
ANATOMY = Code("SCT", "123037004", "Anatomical Structure")
LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
BINARY_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def _series(folder: Path, orientation=AXIAL, n: int = 5, rows: int = 6, cols: int = 4
            ) -> list[Path]:
    """A synthetic CT series whose files are named out of slice order (z = 3, 1, 4, 0, 2)."""
    uid, frame_uid = generate_uid(), generate_uid()
    order = [3, 1, 4, 0, 2][:n] if n == 5 else list(range(n))
    normal = np.cross(orientation[:3], orientation[3:])
    return [write_slice(folder / f"slice{i}.dcm", series_uid=uid,
                        position=tuple(float(x) for x in np.array([-5.0, 10.0, 0.0])
                                       + 2.5 * k * normal),
                        orientation=orientation, rows=rows, cols=cols, instance=k + 1,
                        FrameOfReferenceUID=frame_uid)
            for i, k in enumerate(order)]


def _source_uids(files) -> list[str]:
    return [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
            for f in dicom_image_series(files).files]


def _labels(shape) -> np.ndarray:
    """A label map whose values tell the slice, so a swapped or flipped frame shows."""
    lab = np.zeros(shape, np.uint8)
    lab[1:3, 0:2, :] = 1  # liver on every slice
    lab[0, -1, 0] = 2  # one kidney voxel, in the first slice's corner
    lab[-1, 2:, -1] = 2
    return lab


SPECS = [SegmentSpec(1, "liver", ANATOMY, LIVER, rgb=(220, 20, 20)),
         SegmentSpec(2, "kidney_left", ANATOMY, KIDNEY, LEFT, rgb=(0, 200, 0),
                     algorithm="TotalSegmentator", algorithm_version="2.4")]


@pytest.mark.parametrize("orientation", [AXIAL, SAGITTAL], ids=["axial", "sagittal"])
@pytest.mark.parametrize("kind", [SegKind.LABELMAP, SegKind.BINARY])
def test_seg_round_trips_voxels_in_source_order(tmp_path, orientation, kind):
    files = _series(tmp_path / "ct", orientation)
    series = dicom_image_series(files)
    lab = _labels(series.grid.shape)
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab, SPECS, kind=kind)
    assert out.kind is kind and out.sop_class_uid == (LABELMAP_CLASS if kind is SegKind.LABELMAP
                                                      else BINARY_CLASS)
    seg = hd.seg.segread(out.path)
    assert seg.SOPClassUID == out.sop_class_uid
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series.uid
    assert seg.StudyInstanceUID == pydicom.dcmread(files[0]).StudyInstanceUID
    px = seg.get_pixels_by_source_instance(_source_uids(files), combine_segments=True,
                                           relabel=False)
    # Frame k is source slice k, rows x columns: Segmap's [column, row, slice] transposed.
    assert np.array_equal(px, lab.transpose(2, 1, 0))
    assert seg.get_segment_numbers() == [1, 2]
    liver, kidney = seg.get_segment_description(1), seg.get_segment_description(2)
    assert liver.segment_label == "liver" and kidney.segment_label == "kidney_left"
    assert liver.segmented_property_type.value == "10200004"
    assert liver.segmented_property_category.value == "123037004"
    assert kidney.segmented_property_type.value == "64033007"
    modifier = kidney.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence
    assert modifier[0].CodeValue == "7771000" and modifier[0].CodeMeaning == "Left"
    assert kidney.algorithm_type.value == "AUTOMATIC"
    assert kidney.algorithm_identification[0].AlgorithmName == "TotalSegmentator"
    assert liver.algorithm_type.value == "MANUAL"
    colour = hd.color.CIELabColor.from_dicom_value(liver.RecommendedDisplayCIELabValue)
    assert tuple(colour.to_rgb()) == pytest.approx((220, 20, 20), abs=1)
    # No temporary file left: the SEG, its record as Segmap's output, and the sources.
    assert {p.name for p in tmp_path.iterdir()} == {"seg.dcm", ".seg.dcm.segmap", "ct"}


def test_binary_seg_numbers_segments_from_one_and_keeps_empty_ones(tmp_path):
    files = _series(tmp_path / "ct")
    shape = dicom_image_series(files).grid.shape
    lab = np.zeros(shape, np.uint8)
    lab[0, 0, 1] = 5
    lab[2, 3, 4] = 2
    specs = [SegmentSpec(2, "b", ANATOMY, KIDNEY), SegmentSpec(5, "e", ANATOMY, LIVER),
             SegmentSpec(7, "never drawn", ANATOMY, LIVER)]
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab, specs, kind="BINARY")
    assert out.segment_numbers == {2: 1, 5: 2, 7: 3} and out.empty == (7,)
    assert out.frames == 2  # empty frames omitted: one frame per segment slice with voxels
    seg = hd.seg.segread(out.path)
    assert [seg.get_segment_description(n).segment_label for n in (1, 2, 3)] == \
        ["b", "e", "never drawn"]
    px = seg.get_pixels_by_source_instance(_source_uids(files), combine_segments=True,
                                           relabel=False)
    expect = np.zeros_like(lab)
    expect[lab == 2], expect[lab == 5] = 1, 2
    assert np.array_equal(px, expect.transpose(2, 1, 0))


def test_label_map_seg_keeps_label_values_as_segment_numbers(tmp_path):
    files = _series(tmp_path / "ct")
    shape = dicom_image_series(files).grid.shape
    lab = np.zeros(shape, np.uint16)
    lab[1, 1, 1], lab[2, 2, 2] = 4, 300
    specs = [SegmentSpec(4, "four"), SegmentSpec(300, "three hundred")]
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab, specs)
    assert out.kind is SegKind.LABELMAP and out.segment_numbers == {4: 4, 300: 300}
    seg = hd.seg.segread(out.path)
    assert seg.get_segment_numbers() == [4, 300]
    px = seg.get_pixels_by_source_instance(_source_uids(files), combine_segments=True,
                                           relabel=False)
    assert np.array_equal(px, lab.transpose(2, 1, 0))


def test_segment_without_code_gets_a_declared_local_code(tmp_path):
    files = _series(tmp_path / "ct")
    lab = np.zeros(dicom_image_series(files).grid.shape, np.uint8)
    lab[0, 0, 0] = 1
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab, [SegmentSpec(1, "Lesion A")])
    seg = hd.seg.segread(out.path)
    d = seg.get_segment_description(1)
    assert d.segmented_property_type.scheme_designator == LOCAL_SCHEME
    assert d.segmented_property_type.meaning == "Lesion A"
    assert d.segmented_property_type.value == "LESION_A"
    assert d.segmented_property_category.scheme_designator == LOCAL_SCHEME
    assert seg.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == LOCAL_SCHEME


def test_overlapping_masks_make_a_binary_seg(tmp_path):
    files = _series(tmp_path / "ct")
    shape = dicom_image_series(files).grid.shape
    a, b = np.zeros(shape, bool), np.zeros(shape, bool)
    a[0:2, 0:2, 0:2] = True
    b[1:3, 1:3, 1:3] = True  # overlaps a at [1, 1, 1]
    specs = [SegmentSpec(1, "organ", ANATOMY, LIVER), SegmentSpec(2, "tumour", ANATOMY, KIDNEY)]
    with pytest.raises(InputError, match="overlap"):
        write_dicom_seg(tmp_path / "x.dcm", files, {1: a, 2: b}, specs, kind=SegKind.LABELMAP)
    out = write_dicom_seg(tmp_path / "seg.dcm", files, {1: a, 2: b}, specs)
    assert out.kind is SegKind.BINARY
    seg = hd.seg.segread(out.path)
    px = seg.get_pixels_by_source_instance(_source_uids(files), combine_segments=False)
    assert np.array_equal(px[..., 0], a.transpose(2, 1, 0))
    assert np.array_equal(px[..., 1], b.transpose(2, 1, 0))


def test_a_mask_on_a_reoriented_grid_is_placed_in_world_space(tmp_path):
    files = _series(tmp_path / "ct")
    series = dicom_image_series(files)
    lab = _labels(series.grid.shape)
    # The same voxels stored with the first axis flipped (as a NIfTI writer may store them).
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = series.grid.shape[0] - 1
    grid = Grid(series.grid.shape, series.grid.affine @ flip)
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab[::-1], SPECS, grid=grid)
    px = hd.seg.segread(out.path).get_pixels_by_source_instance(
        _source_uids(files), combine_segments=True, relabel=False)
    assert np.array_equal(px, lab.transpose(2, 1, 0))


def test_a_nifti_only_case_says_a_seg_needs_the_dicom_series(tmp_path):
    img = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), img)
    with pytest.raises(InputError, match="references the DICOM series") as err:
        write_dicom_seg(tmp_path / "seg.dcm", [img], np.zeros((4, 4, 4), np.uint8),
                        [SegmentSpec(1, "liver")])
    assert "NIFTI" in str(err.value) and err.value.hint
    assert not (tmp_path / "seg.dcm").exists()


def test_refuses_values_without_a_segment_and_writing_over_a_source(tmp_path):
    files = _series(tmp_path / "ct")
    lab = np.zeros(dicom_image_series(files).grid.shape, np.uint8)
    lab[0, 0, 0], lab[1, 1, 1] = 1, 9
    with pytest.raises(InputError, match="no segment describes: 9"):
        write_dicom_seg(tmp_path / "seg.dcm", files, lab, [SegmentSpec(1, "liver")])
    lab[1, 1, 1] = 0
    before = files[0].read_bytes()
    with pytest.raises(OutputError, match="input"):
        write_dicom_seg(files[0], files, lab, [SegmentSpec(1, "liver")])
    assert files[0].read_bytes() == before
    with pytest.raises(InputError, match="voxels where"):
        write_dicom_seg(tmp_path / "seg.dcm", files, lab[:-1], [SegmentSpec(1, "liver")])


def test_an_all_empty_seg_is_still_written(tmp_path):
    files = _series(tmp_path / "ct")
    lab = np.zeros(dicom_image_series(files).grid.shape, np.uint8)
    out = write_dicom_seg(tmp_path / "seg.dcm", files, lab, [SegmentSpec(1, "liver")],
                          kind="BINARY")
    assert out.empty == (1,)
    seg = hd.seg.segread(out.path)
    assert seg.get_segment_numbers() == [1]


def _ts_case(shared_data: Path, tmp_path: Path):
    """TotalSegmentator's CT (copied, with the Study / Series / SOP UIDs its anonymiser
    blanked put back) and its label map."""
    study, series = generate_uid(), generate_uid()
    (tmp_path / "ct").mkdir()
    ct = []
    for f in sorted((shared_data / TS / "example_ct_dicom").iterdir()):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ct.append(tmp_path / "ct" / f"{f.name}.dcm")
        ds.save_as(ct[-1])
    info = nifti_info(shared_data / TS / "example_seg_dicom.nii.gz")
    return ct, read_raw(info), Grid.of(info.shape, info.affine), info


@pytest.mark.shared_data
def test_totalsegmentator_seg_of_its_dicom_ct(shared_data, tmp_path):
    """31 TotalSegmentator labels, stored LAS in the NIfTI, on a JPEG 2000 LPS CT series."""
    files, mask, grid, info = _ts_case(shared_data, tmp_path)
    series = dicom_image_series(files)
    values = [int(v) for v in np.unique(mask) if v]
    assert len(values) == 31
    specs = [SegmentSpec(v, f"label {v}", ANATOMY, LIVER if v == 5 else Code(
        "SCT", "85756007", "Tissue")) for v in values]
    out = write_dicom_seg(tmp_path / "ts.dcm", files, mask, specs, grid=grid)
    seg = hd.seg.segread(out.path)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series.uid
    assert seg.get_segment_numbers() == values
    vol = seg.get_volume(combine_segments=True, relabel=False)
    # World-space check, independent of the writer's transposes: every labelled NIfTI voxel
    # is found at its own world position in the SEG's volume (highdicom works in LPS).
    ijk = np.argwhere(mask > 0)[:: 97]
    ras = ijk @ info.affine[:3, :3].T + info.affine[:3, 3]
    lps = ras * np.array([-1.0, -1.0, 1.0])
    seg_ijk = np.rint((lps - vol.affine[:3, 3]) @ np.linalg.inv(vol.affine[:3, :3]).T)
    seg_ijk = seg_ijk.astype(int)
    got = vol.array[seg_ijk[:, 0], seg_ijk[:, 1], seg_ijk[:, 2]]
    assert np.array_equal(got, mask[tuple(ijk.T)])
    assert int((vol.array > 0).sum()) == int((mask > 0).sum())


@pytest.mark.shared_data
def test_totalsegmentator_names_codes_and_tables_agree(shared_data, tmp_path):
    """A binary SEG and a Slicer colour table from the same suggested codes say the same."""
    files, mask, grid, _info = _ts_case(shared_data, tmp_path)
    names = {1: "spleen", 5: "liver", 6: "stomach", 52: "aorta"}
    sub = np.where(np.isin(mask, list(names)), mask, 0)
    specs, rows = [], []
    for v, name in names.items():
        s = suggest_code(name)
        assert s is not None
        specs.append(SegmentSpec(v, name, s.code.category, s.code.type, s.code.modifier))
        rows.append(LabelRow(v, name, (v, 2 * v, 3), s.code))
    out = write_dicom_seg(tmp_path / "ts.dcm", files, sub, specs, grid=grid, kind="BINARY")
    seg = hd.seg.segread(out.path)
    table = {r.name: r for r in read_slicer_colour_table(
        write_slicer_colour_table(tmp_path / "ts.csv", rows))}
    for n in seg.get_segment_numbers():
        d = seg.get_segment_description(n)
        assert d.segmented_property_type.value == table[d.segment_label].code.type.value


@pytest.mark.shared_data
def test_a_series_without_uids_cannot_be_referenced(shared_data, tmp_path):
    """TotalSegmentator's test CT as shipped: its Series and Study UIDs are blank."""
    files = sorted((shared_data / TS / "example_ct_dicom").iterdir())
    shape = dicom_image_series(files).grid.shape
    with pytest.raises(InputError, match="no StudyInstanceUID"):
        write_dicom_seg(tmp_path / "seg.dcm", files, np.zeros(shape, np.uint8),
                        [SegmentSpec(1, "liver")])


def test_writing_again_replaces_segmaps_own_seg_only(tmp_path):
    files = _series(tmp_path / "ct")
    lab = _labels(dicom_image_series(files).grid.shape)
    first = write_dicom_seg(tmp_path / "seg.dcm", files, lab, SPECS)
    second = write_dicom_seg(tmp_path / "seg.dcm", files, lab, SPECS)
    assert first.sop_instance_uid != second.sop_instance_uid
    other = tmp_path / "other.dcm"
    other.write_bytes(b"not Segmap's")
    with pytest.raises(ReplaceRefused):
        write_dicom_seg(other, files, lab, SPECS)
    assert other.read_bytes() == b"not Segmap's"


def test_an_enhanced_multi_frame_source_is_segmented_frame_by_frame(tmp_path):
    """One multi-frame CT whose frames are out of slice order: SEG frame f is source frame f."""
    slices = [pydicom.dcmread(f) for f in _series(tmp_path / "ct")]
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        slices, series_instance_uid=hd.UID(), series_number=3, sop_instance_uid=hd.UID(),
        instance_number=1)
    path = tmp_path / "mf" / "enhanced.dcm"
    path.parent.mkdir()
    enhanced.save_as(path)
    series = dicom_image_series([path])
    assert series.frames and list(series.frames) != sorted(series.frames)
    lab = _labels(series.grid.shape)
    out = write_dicom_seg(tmp_path / "seg.dcm", [path], lab, SPECS)
    seg = hd.seg.segread(out.path)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == enhanced.SeriesInstanceUID
    n = int(enhanced.NumberOfFrames)
    px = seg.get_pixels_by_source_frame(enhanced.SOPInstanceUID, list(range(1, n + 1)),
                                        combine_segments=True, relabel=False)
    for k, f in enumerate(series.frames):
        assert np.array_equal(px[f], lab[:, :, k].T)
