"""Volumes that lie or are no files: a plain error naming the file, never a hang, a
minutes-long spin, an out-of-memory kill or "This is a bug in Segmap"."""

from __future__ import annotations

import json
import tracemalloc
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.cli import main
from app.discover import scan
from app.errors import MergeError, SegmapError, VolumeReadError
from app.merge import merge_files
from app.progress import run
from app.readers import _limits as limits
from app.readers import census, load_image, nifti_info, read_nrrd, read_raw
from app.readers.dicom import scan_dicom
from app.readers.dicom._header import read_header
from tests.app.builders import check, codes, image, items_file, nifti, volume
from tests.app.hostile import corpus_volumes as cv
from tests.app.hostile.corpus import device_link, fifo, needs_fifo

FIFO_SAYS = r"is a named pipe \(FIFO\)"


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    got = capsys.readouterr()
    return code, got.out, got.err


def _plain(err: str, name: str) -> None:
    """A user's error: it names the file and is not a bug report."""
    assert name in err and "error:" in err
    assert "bug in Segmap" not in err and "internal error" not in err
    assert "Warning" not in err  # no numpy / library warning leaks to the terminal


def _series_list(folder: Path, segmentations: str | list[str], item: str = "img.nii.gz",
                 name: str = "case") -> Path:
    if not (folder / "img.nii.gz").exists():
        image(folder / "img.nii.gz")
    return items_file(folder, [{"name": name, "series": [
        {"items": item, "segmentations": segmentations, "segmentMap": {"1": "liver"}}]}])


# -- 8. FIFOs and devices ------------------------------------------------------------------------


@needs_fifo
def test_a_fifo_mask_is_refused_by_census_merge_stats_and_validate(tmp_path, capsys):
    pipe = fifo(tmp_path / "seg.nii.gz")
    listed = _series_list(tmp_path, "seg.nii.gz")
    with cv.released(pipe):
        with pytest.raises(VolumeReadError, match=FIFO_SAYS):
            census(pipe)
        with pytest.raises(MergeError, match=FIFO_SAYS):
            run(merge_files([str(pipe)], {1: None}))
        for argv in (["census", str(pipe)], ["merge", str(listed), "--task", "case"],
                     ["stats", str(listed), "--task", "case"]):
            code, _, err = _cli(capsys, *argv)
            assert code == 1 and "named pipe (FIFO)" in err and "not found" not in err, argv
            _plain(err, "seg.nii.gz")
        found = check(tmp_path, {"items": "img.nii.gz", "segmentations": "seg.nii.gz",
                                 "segmentMap": {"1": "liver"}})
        assert any("named pipe (FIFO)" in (f.message or "") for f in found)


@needs_fifo
def test_a_fifo_as_the_data_file_of_an_nhdr_is_refused(tmp_path, capsys):
    header = cv.nhdr_with_fifo_data(tmp_path / "seg.nhdr")
    with cv.released(header.with_suffix(".raw")):
        with pytest.raises(VolumeReadError, match=FIFO_SAYS):
            read_nrrd(header)
        with pytest.raises(VolumeReadError, match=FIFO_SAYS):
            census(header)
        code, _, err = _cli(capsys, "census", str(header))
        assert code == 1
        _plain(err, "seg.raw")


@needs_fifo
def test_a_fifo_image_is_refused_not_waited_on(tmp_path):
    pipe = fifo(tmp_path / "ct.nii.gz")
    dicom = fifo(tmp_path / "IM0001")
    with cv.released(pipe, dicom):
        with pytest.raises(VolumeReadError, match=FIFO_SAYS):
            run(load_image([pipe]))
        with pytest.raises(SegmapError, match=FIFO_SAYS):
            run(scan_dicom([dicom]))


@needs_fifo
def test_a_scan_leaves_pipes_and_devices_out_says_so_and_goes_on(tmp_path, capsys):
    root = cv.folder_with_pipes(tmp_path / "data")
    pipes = [root / "case1" / n for n in ("liver_seg.nii.gz", "IM0001", "lungs.nrrd")]
    with cv.released(*pipes):
        result = run(scan(root))
        code, out, err = _cli(capsys, "scan", "-q", str(root))
    assert [c.name for c in result.cases] == ["case1"]
    assert [m.name for m in result.cases[0].masks] == ["ct_seg.nii.gz"]
    said = "\n".join(result.warnings)
    for name in ("liver_seg.nii.gz", "IM0001", "lungs.nrrd"):
        assert f"left out: case1/{name} is a named pipe (FIFO)" in said
    assert "left out: case1/zero_seg.nii.gz is a character device" in said
    assert code == 0 and "left out: case1/IM0001 is a named pipe" in out
    assert "Warning" not in err


@needs_fifo
def test_a_fifo_given_as_the_folder_to_scan_says_what_it_is(tmp_path, capsys):
    pipe = fifo(tmp_path / "data")
    with cv.released(pipe):
        code, _, err = _cli(capsys, "scan", "-q", str(pipe))
    assert code == 1 and "named pipe (FIFO)" in err and "not found" not in err


def test_a_device_link_mask_is_refused_by_what_it_is(tmp_path):
    with pytest.raises(VolumeReadError, match="is a character device"):
        census(device_link(tmp_path / "seg.nii.gz"))


# -- 9. claimed sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,shape,version,gz", [
    ("8e12.nii", (20000, 20000, 20000), 1, False),  # 8 TB of uint8 in a 1 KB file
    ("8e12.nii.gz", (20000, 20000, 20000), 1, True),
    ("1e18.nii", (10**6, 10**6, 10**6), 2, False),  # NIfTI-2: 10^18 voxels
    ("1e18.nii.gz", (10**6, 10**6, 10**6), 2, True),
])
def test_a_header_claiming_more_than_its_file_holds_is_refused_at_once(
        tmp_path, capsys, name, shape, version, gz):
    path = cv.lying_nifti(tmp_path / name, shape, version, gz=gz)
    with pytest.raises(VolumeReadError, match="broken NIfTI header") as err:
        nifti_info(path)
    said = err.value.message
    assert name in said and ("TB" in said or "EB" in said)
    code, _, out = _cli(capsys, "census", str(path))
    assert code == 1
    _plain(out, name)


def test_a_truncated_uncompressed_file_is_said_truncated_from_its_size(tmp_path):
    data = np.zeros((50, 40, 30), np.uint8)
    path = cv.nifti_with(tmp_path / "cut.nii", data)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(VolumeReadError, match="truncated"):
        nifti_info(path)


def test_reading_checks_free_memory_first_and_names_the_file(tmp_path, monkeypatch, capsys):
    bomb = cv.gzip_bomb(tmp_path / "seg.nii.gz", (128, 128, 128))  # 2 MB from a few KB
    listed = _series_list(tmp_path, "seg.nii.gz")
    monkeypatch.setattr(limits, "available_memory", lambda: 1 << 20)
    with pytest.raises(VolumeReadError, match="needs 2.1 MB of memory") as err:
        read_raw(nifti_info(bomb))
    assert "seg.nii.gz" in err.value.message and "1.0 MB is free" in err.value.message
    with pytest.raises(MergeError, match="seg.nii.gz needs"):
        run(merge_files([str(bomb)], {1: None}))
    code, _, out = _cli(capsys, "merge", str(listed), "--task", "case")
    assert code == 1 and "out of memory" not in out
    _plain(out, "seg.nii.gz")


def test_a_refused_allocation_names_the_file(tmp_path, monkeypatch):
    path = cv.gzip_bomb(tmp_path / "seg.nii.gz", (64, 64, 64))
    info = nifti_info(path)

    def refuse(*_a, **_k):
        raise MemoryError

    monkeypatch.setattr(np, "empty", refuse)
    with pytest.raises(VolumeReadError, match="Out of memory reading .*seg.nii.gz"):
        read_raw(info)


def test_a_deflated_dicom_header_is_read_without_inflating_its_pixels(tmp_path):
    # 4096 x 4096 x 8 frames of int16: 268 MB inflated, about 260 KB on disk.
    path = cv.deflated_dicom(tmp_path / "big.dcm", 4096, 4096, frames=8)
    tracemalloc.start()
    try:
        header = read_header(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert header is not None and (header.rows, header.columns) == (4096, 4096)
    assert header.frames == 8 and header.transfer_syntax == "1.2.840.10008.1.2.1.99"
    assert peak < 32 << 20, f"read_header held {peak / 1e6:.0f} MB"


def test_a_small_deflated_dicom_reads_as_before(tmp_path):
    import pydicom

    path = cv.deflated_dicom(tmp_path / "small.dcm", 8, 6)
    header = read_header(path)
    full = pydicom.dcmread(path)
    assert header is not None
    assert (header.rows, header.columns) == (8, 6)
    assert header.series_uid == full.SeriesInstanceUID
    assert header.position == (0.0, 0.0, 0.0)
    (series,) = run(scan_dicom([path]))
    assert series.uid == full.SeriesInstanceUID and series.grid is not None


# -- 10. broken headers are plain errors ---------------------------------------------------------


def test_an_empty_nrrd_is_a_plain_error_and_a_scan_goes_on(tmp_path, capsys):
    root = tmp_path / "data"
    image(root / "case1" / "ct.nii.gz")
    nifti(root / "case1" / "ct_seg.nii.gz", volume({(1, 1, 1): 1}))
    empty = cv.empty_file(root / "case1" / "liver_seg.nrrd")
    with pytest.raises(VolumeReadError, match="empty"):
        read_nrrd(empty)
    with pytest.raises(VolumeReadError, match="empty"):
        census(empty)
    result = run(scan(root))
    assert [c.name for c in result.cases] == ["case1"]
    assert any("liver_seg.nrrd" in u.file and "empty" in u.reason for u in result.unpaired)
    _, _, err = _cli(capsys, "build", str(root), "-o", str(tmp_path / "items.json"), "-q")
    assert "bug in Segmap" not in err and "internal error" not in err


BROKEN = {
    "negative-dim": cv.negative_dim,
    "nan-affine": cv.nan_affine,
    "wrapping-dims": cv.wrapping_dims,
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_header_is_said_as_one_by_census_merge_and_validate(tmp_path, capsys, kind):
    path = BROKEN[kind](tmp_path / "seg.nii")
    with pytest.raises(VolumeReadError, match="broken NIfTI header"):
        nifti_info(path)
    with pytest.raises(MergeError, match="broken NIfTI header"):
        run(merge_files([str(path)], {1: None}))
    listed = _series_list(tmp_path, "seg.nii")
    for argv in (["census", str(path)], ["merge", str(listed), "--task", "case"]):
        code, _, err = _cli(capsys, *argv)
        assert code == 1, argv
        _plain(err, "seg.nii")
        assert "broken NIfTI header" in err
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": "seg.nii",
                             "segmentMap": {"1": "liver"}})
    assert not {c for c in codes(found) if c.startswith("grid-")}
    assert any("broken NIfTI header" in (f.message or "") for f in found)


def test_stats_on_an_image_with_a_nan_affine_is_a_plain_error(tmp_path, capsys):
    cv.nan_affine(tmp_path / "ct.nii.gz")
    nifti(tmp_path / "seg.nii.gz", volume({(1, 1, 1): 1}))
    listed = _series_list(tmp_path, "seg.nii.gz", item="ct.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, err = _cli(capsys, "stats", str(listed), "--task", "case")
    assert code == 1
    _plain(err, "ct.nii.gz")


def test_census_reports_every_file_and_exits_1_when_one_is_broken(tmp_path, capsys):
    good = nifti(tmp_path / "good.nii.gz", volume({(1, 1, 1): 1}))
    bad = cv.negative_dim(tmp_path / "bad.nii")
    code, out, err = _cli(capsys, "census", str(good), str(bad), "--json")
    assert code == 1
    listed = json.loads(out)
    assert listed[0]["file"] == str(good) and listed[0]["values"] == {"0": 23, "1": 1}
    assert listed[1]["file"] == str(bad) and "broken NIfTI header" in listed[1]["error"]
    _plain(err, "bad.nii")


def test_a_float_mask_with_nan_and_infinities_merges_as_the_sdk_without_warnings(tmp_path):
    from tests.app.sdk_oracle import sdk_merge

    data = np.array([[[0, np.nan, np.inf, -1.0, 70000.0, 2.5, 1.0, -np.inf]]], np.float32)
    path = cv.nifti_with(tmp_path / "seg.nii.gz", data, gz=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = census(path)
        merged = run(merge_files([str(path)], {1: None}))
    assert "non-finite" in c.flags
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's own cast warns
        sdk = sdk_merge([str(path)], {1: None})
    np.testing.assert_array_equal(merged.volume, sdk.volume)


# -- 11. where the voxels start ------------------------------------------------------------------


def test_vox_offset_zero_is_refused_where_nibabel_reads_the_header_as_voxels(tmp_path):
    from tests.app.sdk_oracle import sdk_merge

    data = np.zeros((4, 3, 2), np.uint8)
    data[1, 1, 1], data[0, 0, 0] = 1, 2
    path = cv.vox_offset_zero(tmp_path / "seg.nii", data)
    # nibabel (and so RedBrick's SDK) read the voxels from byte 0: the header's own bytes.
    read = np.asanyarray(nib.load(path).dataobj)
    assert read.ravel(order="F")[0] == 92  # sizeof_hdr 348 = 0x015c, low byte first
    assert not np.array_equal(read, data)
    sdk = sdk_merge([str(path)], {1: None})
    assert sdk.volume is None or not np.array_equal(sdk.volume, data)
    with pytest.raises(VolumeReadError, match="vox_offset is 0"):
        nifti_info(path)
    with pytest.raises(MergeError, match="vox_offset is 0"):
        run(merge_files([str(path)], {1: None}))


@pytest.mark.parametrize("offset", [348, 351])
def test_a_vox_offset_inside_the_extension_flag_is_refused_as_nibabel_refuses_it(tmp_path, offset):
    path = cv.nifti_with(tmp_path / "seg.nii", np.zeros((4, 3, 2), np.uint8), vox_offset=offset)
    with pytest.raises(VolumeReadError, match="broken NIfTI header.*too low"):
        nifti_info(path)


def test_what_nibabel_fixes_in_a_header_is_not_printed(tmp_path, capfd):
    data = np.zeros((4, 3, 2), np.uint8)
    data[1, 1, 1] = 1
    head = cv.header_bytes(1, data.shape, vox_offset=353)
    path = tmp_path / "seg.nii"
    path.write_bytes(head + b"\0" + data.tobytes(order="F"))  # voxels from byte 353
    assert census(path).values == {0: 23, 1: 1}
    assert capfd.readouterr().err == ""


def test_grids_that_place_nothing_compare_as_incompatible_not_as_a_crash():
    from app.geometry import Grid, Relation, compare_grids

    good = Grid.of((4, 3, 2), np.eye(4))
    for bad in (Grid.of((4, 3, 2), np.diag([np.nan, 1.0, 1.0, 1.0])),
                Grid.of((4, 3, 2), np.diag([0.0, 1.0, 1.0, 1.0]))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for image_grid, mask_grid in ((good, bad), (bad, good)):
                match = compare_grids(image_grid, mask_grid)
                assert match.relation is Relation.INCOMPATIBLE
                assert "no usable geometry" in match.message
            assert bad.orientation == "???"


def test_loading_a_dicom_series_checks_free_memory_first(tmp_path, monkeypatch):
    from tests.app.dicom_synth import axial_positions, write_series

    write_series(tmp_path / "ct", axial_positions([0, 1, 2, 3]))
    (series,) = run(scan_dicom([tmp_path / "ct"]))
    monkeypatch.setattr(limits, "available_memory", lambda: 100)
    with pytest.raises(VolumeReadError, match=r"im000.dcm needs .* of memory"):
        run(load_image(list(series.files)))
