"""Scanning synthetic DICOM trees: grouping, splitting, sorting, every warning, robustness."""

from __future__ import annotations

import gzip
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from app.errors import InputError, VolumeReadError
from app.progress import Progress, run
from app.readers.dicom import DicomSeries, load_dicom_volume, scan_dicom
from tests.app.dicom_synth import (
    CORONAL,
    SAGITTAL,
    axial_positions,
    pixels_for,
    write_series,
    write_slice,
)


def scan(path: Path | list[Path]) -> list[DicomSeries]:
    return run(scan_dicom(path))


def images(found: list[DicomSeries]) -> list[DicomSeries]:
    return [s for s in found if s.kind in ("image", "localizer")]


def warned(series: DicomSeries, prefix: str) -> str:
    hits = [w for w in series.warnings if w.startswith(prefix)]
    assert hits, f"no {prefix!r} warning in {series.warnings}"
    return hits[0]


def test_regular_series_is_sorted_along_the_normal_and_has_no_warnings(tmp_path: Path) -> None:
    files = write_series(tmp_path, axial_positions([0, 1.5, 3, 4.5, 6]))
    shuffled = files[:]
    random.Random(1).shuffle(shuffled)
    (s,) = scan(shuffled)
    assert s.kind == "image" and s.warnings == ()
    assert s.files == tuple(files)
    assert s.grid is not None and s.grid.shape == (3, 4, 5)
    assert s.grid.spacing == pytest.approx((0.75, 0.5, 1.5))
    assert s.grid.orientation == "LPS"
    j = s.to_json()
    assert (j["files"], j["shape"], j["orientation"]) == (5, [3, 4, 5], "LPS")
    assert j["patient"] == "Test Patient" and j["series_number"] == 7


def test_sorting_ignores_instance_numbers_and_names(tmp_path: Path) -> None:
    uid = generate_uid()
    # Sagittal slices: the normal is along x; instance numbers run backwards.
    zs = [4.0, 0.0, 2.0, 6.0]
    paths = [write_slice(tmp_path / f"f{i}.dcm", series_uid=uid, position=(x, 0, 0),
                         orientation=SAGITTAL, instance=10 - i) for i, x in enumerate(zs)]
    (s,) = scan(tmp_path)
    xs = [zs[paths.index(f)] for f in s.files]
    # Ascending along the normal: row (0,1,0) x column (0,0,-1) cosines = -x here.
    assert xs == [6.0, 4.0, 2.0, 0.0]


def test_affine_maps_voxels_to_dicom_positions_and_volume_matches_pixels(tmp_path: Path) -> None:
    o = (0.8, 0.6, 0.0, -0.6, 0.8, 0.0)  # rotated in-plane
    normal = np.cross(o[:3], o[3:])
    ipp = [np.array([3.0, -7.0, 11.0]) + k * 2.5 * normal for k in range(3)]
    write_series(tmp_path, ipp, orientation=o, spacing=(0.5, 0.75), slope=1, intercept=-1024)
    (s,) = scan(tmp_path)
    assert s.grid is not None
    for k in range(3):
        for i, j in [(0, 0), (2, 0), (0, 3), (2, 3)]:
            lps = ipp[k] + i * 0.75 * np.array(o[:3]) + j * 0.5 * np.array(o[3:])
            ras = s.grid.affine @ [i, j, k, 1]
            assert ras[:3] == pytest.approx(lps * [-1, -1, 1])
    vol = run(load_dicom_volume(s))
    assert vol.shape == (3, 4, 3) and vol.dtype == np.int16
    for k in range(3):
        assert np.array_equal(vol[:, :, k], pixels_for(k + 1, 4, 3).T - 1024)


def test_rescale_with_fractional_slope_gives_float32(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions([0, 1, 2]), slope=0.5, intercept=10)
    (s,) = scan(tmp_path)
    vol = run(load_dicom_volume(s))
    assert vol.dtype == np.float32
    assert np.array_equal(vol[:, :, 1], pixels_for(2, 4, 3).T * 0.5 + 10)


def test_missing_slice(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions([0, 1, 2, 4, 5]))
    (s,) = scan(tmp_path)
    text = warned(s, "Missing slices")
    assert "about 1 slice" in text and "im002.dcm and im003.dcm" in text
    assert s.grid is not None and s.grid.shape[2] == 5


def test_duplicate_position_keeps_the_first(tmp_path: Path) -> None:
    files = write_series(tmp_path, axial_positions([0, 1, 1, 2]))
    (s,) = scan(tmp_path)
    assert "1 slice(s) repeat a position" in warned(s, "Duplicate positions")
    assert s.files == (files[0], files[1], files[3])


def test_duplicate_positions_explained_by_echo_split_the_series(tmp_path: Path) -> None:
    uid = generate_uid()
    for echo in (1, 2):
        write_series(tmp_path, axial_positions([0, 1, 2]), uid=uid, prefix=f"e{echo}_",
                     EchoNumbers=echo)
    found = scan(tmp_path)
    assert [s.uid for s in found] == [uid, uid + ".2"]
    assert all("split by echo" in warned(s, "Several volumes") for s in found)
    assert all(len(s.files) == 3 for s in found)


def test_uneven_spacing(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions([0, 1, 2.3, 3.3, 4.3]))
    (s,) = scan(tmp_path)
    assert "1 mm to 1.3 mm" in warned(s, "Uneven spacing")


def test_gantry_tilt_keeps_slices_at_their_world_positions(tmp_path: Path) -> None:
    positions = [(0.0, 0.4 * k, 2.0 * k) for k in range(4)]
    write_series(tmp_path, positions, GantryDetectorTilt=11.3)
    (s,) = scan(tmp_path)
    assert "11.31°" in warned(s, "Gantry tilt")
    assert s.grid is not None
    for k, p in enumerate(positions):
        assert (s.grid.affine @ [0, 0, k, 1])[:3] == pytest.approx(np.array(p) * [-1, -1, 1])


def test_mixed_orientations_are_split(tmp_path: Path) -> None:
    uid = generate_uid()
    write_series(tmp_path / "a", axial_positions(range(6)), uid=uid)
    write_series(tmp_path / "b", [(k, 0, 0) for k in range(4)], uid=uid, orientation=SAGITTAL,
                 image_type="ORIGINAL\\PRIMARY\\OTHER")
    found = scan(tmp_path)
    assert [(s.uid, len(s.files), s.kind) for s in found] == [
        (uid, 6, "image"), (uid + ".2", 4, "image")]
    assert "2 orientations (6 axial, 4 sagittal)" in warned(found[0], "Mixed orientations")
    assert found[0].grid is not None and found[1].grid is not None
    assert found[0].grid.orientation != found[1].grid.orientation


def test_mixed_image_sizes_are_split(tmp_path: Path) -> None:
    uid = generate_uid()
    write_series(tmp_path, axial_positions(range(3)), uid=uid, prefix="small")
    write_series(tmp_path, axial_positions(range(4)), uid=uid, prefix="big", rows=6, cols=5)
    found = scan(tmp_path)
    assert [s.grid.shape for s in found if s.grid] == [(5, 6, 4), (3, 4, 3)]
    warned(found[0], "Mixed image sizes")


def test_localizer_by_image_type_and_by_three_planes(tmp_path: Path) -> None:
    write_series(tmp_path / "topo", axial_positions([0]),
                 image_type="ORIGINAL\\PRIMARY\\LOCALIZER", description="Topogram")
    uid = generate_uid()
    for n, o in enumerate([(1, 0, 0, 0, 1, 0), SAGITTAL, CORONAL]):
        write_slice(tmp_path / "tri" / f"{n}.dcm", series_uid=uid, position=(0, 0, 0),
                    orientation=o, instance=n + 1, description="Tri plane")
    found = scan(tmp_path)
    assert len(found) == 4
    assert all(s.kind == "localizer" for s in found)
    assert all(s.warnings[0].startswith("Localizer") for s in found)


def test_too_few_slices(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions([0, 1]))
    (s,) = scan(tmp_path)
    assert "only 2" in warned(s, "Too few slices")


def test_no_geometry_is_reported_not_raised(tmp_path: Path) -> None:
    write_series(tmp_path, [None, None], orientation=None)
    (s,) = scan(tmp_path)
    assert s.grid is None
    warned(s, "No geometry")
    with pytest.raises(VolumeReadError, match="no 3-D image"):
        run(load_dicom_volume(s))


def test_non_dicom_files_are_ignored_and_broken_dicom_reported(tmp_path: Path) -> None:
    write_series(tmp_path / "ok", axial_positions(range(3)))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "random.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "mask.nii.gz").write_bytes(gzip.compress(b"\x5c\x01" + bytes(400)))
    (tmp_path / "empty").write_bytes(b"")
    broken = tmp_path / "bad" / "cut.dcm"
    broken.parent.mkdir()
    good = (tmp_path / "ok" / "im000.dcm").read_bytes()
    broken.write_bytes(good[:300])  # the header stops mid-element
    found = scan(tmp_path)
    assert [s.kind for s in found] == ["image", "other"]
    assert found[1].files == (broken,) and found[1].uid == ""
    assert "cut.dcm" in found[1].warnings[0]


def test_truncated_pixel_data_is_left_out_with_a_warning(tmp_path: Path) -> None:
    files = write_series(tmp_path, axial_positions(range(4)))
    files[3].write_bytes(files[3].read_bytes()[:-5])
    (s,) = scan(tmp_path)
    assert "truncated" in warned(s, "Problem in im003.dcm")
    assert s.files == tuple(files[:3])
    assert run(load_dicom_volume(s)).shape == (3, 4, 3)


def test_gzip_wrapped_dicom_is_read(tmp_path: Path) -> None:
    files = write_series(tmp_path / "src", axial_positions(range(3)))
    for f in files:
        (tmp_path / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes()))
        f.unlink()
    (s,) = scan(tmp_path)
    assert len(s.files) == 3 and s.files[0].name.endswith(".gz")
    vol = run(load_dicom_volume(s))
    assert np.array_equal(vol[:, :, 2], pixels_for(3, 4, 3).T)


@pytest.mark.parametrize("syntax", ["implicit", "big"])
def test_other_transfer_syntaxes(tmp_path: Path, syntax: str) -> None:
    write_series(tmp_path, axial_positions(range(3)), syntax=syntax)
    (s,) = scan(tmp_path)
    assert s.warnings == () and s.grid is not None
    assert np.array_equal(run(load_dicom_volume(s))[:, :, 0], pixels_for(1, 4, 3).T)


def test_copies_of_the_same_instance_are_used_once(tmp_path: Path) -> None:
    files = write_series(tmp_path / "a", axial_positions(range(3)))
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "x.dcm").write_bytes(files[1].read_bytes())
    (s,) = scan(tmp_path)
    assert len(s.files) == 3
    warned(s, "Duplicate files")


def test_missing_series_uid_gets_a_stable_made_up_uid(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions(range(3)), uid="")
    (a,) = scan(tmp_path)
    (b,) = scan(tmp_path)
    assert a.uid == b.uid and a.uid.startswith("2.25.")
    warned(a, "No SeriesInstanceUID")


def test_progress_and_missing_root(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions(range(3)))
    steps: list[Progress] = []
    run(scan_dicom(tmp_path, threads=1), steps.append)
    assert steps[-1].done == steps[-1].total == 3
    with pytest.raises(InputError, match="Not found"):
        scan(tmp_path / "nope")


def test_threads_give_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.readers.dicom._scan

    for n in range(3):
        write_series(tmp_path / str(n), axial_positions(range(50)))
    one = run(scan_dicom(tmp_path, threads=1))
    # As if the disk were slow: the first chunk hands the rest to the thread pool.
    monkeypatch.setattr(app.readers.dicom._scan, "_io_bound", lambda wall, cpu: True)
    threads: set[str] = set()
    real = app.readers.dicom._scan.read_chunk

    def spy(paths):  # noqa: ANN001, ANN202
        threads.add(threading.current_thread().name)
        return real(paths)

    monkeypatch.setattr(app.readers.dicom._scan, "read_chunk", spy)
    four = run(scan_dicom(tmp_path, threads=4))
    assert any(name.startswith("dicom-scan") for name in threads)
    assert [(s.uid, s.files) for s in one] == [(s.uid, s.files) for s in four]


@pytest.mark.parametrize("signed", [0, 1])
def test_bits_above_bits_stored_are_treated_as_pydicom_does(tmp_path: Path, signed: int) -> None:
    import pydicom

    raw = np.array([[0x7FFF, 0x1ABC, -1], [5, 0x0FFF, 0x0800]] * 2, dtype=np.int16)
    files = [write_slice(tmp_path / f"{k}.dcm", series_uid="1.2.3", position=(0, 0, k),
                         instance=k + 1, pixels=raw, BitsStored=12, HighBit=11,
                         PixelRepresentation=signed) for k in range(3)]
    (s,) = scan(tmp_path)
    vol = run(load_dicom_volume(s))
    expected = pydicom.dcmread(files[0]).pixel_array
    assert np.array_equal(vol[:, :, 0], expected.T)


def test_scans_of_the_same_tree_compare_equal(tmp_path: Path) -> None:
    write_series(tmp_path, axial_positions(range(3)))
    a, b = scan(tmp_path), scan(tmp_path)
    assert a == b and hash(a[0].grid) == hash(b[0].grid)


@pytest.mark.parametrize("orientation", [(0, 0, 0, 0, 0, 0), (1, 0, 0, 1, 0, 0),
                                         (2, 0, 0, 0, 2, 0)])
def test_unusable_orientation_means_no_geometry_not_a_crash(tmp_path: Path,
                                                            orientation: tuple) -> None:
    write_series(tmp_path, axial_positions(range(3)), orientation=orientation)
    (s,) = scan(tmp_path)
    assert s.grid is None
    warned(s, "No geometry")


def test_damaged_files_never_crash_the_scan_or_the_load(tmp_path: Path) -> None:
    from app.errors import SegmapError

    rng = random.Random(7)
    sources = write_series(tmp_path / "src", axial_positions(range(4)), syntax="implicit")
    sources += write_series(tmp_path / "src2", axial_positions(range(4)), CodeMeaning="x")
    for trial in range(30):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        for i, f in enumerate(sources):
            data = bytearray(f.read_bytes())
            if rng.random() < 0.5:
                data = data[: rng.randrange(0, len(data))]
            else:
                for _ in range(rng.randrange(1, 10)):
                    data[rng.randrange(0, len(data))] = rng.randrange(256)
            (folder / f"{i}.dcm").write_bytes(bytes(data))
        for s in scan(folder):
            if s.grid is not None and s.kind == "image":
                try:
                    run(load_dicom_volume(s))
                except SegmapError:
                    pass
