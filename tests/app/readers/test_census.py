"""Label census: exact counts for every dtype, flags, and clear errors on bad files."""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from app.cli import main
from app.errors import VolumeReadError
from app.readers import RUNS, census, iter_raw, nifti_info, read_raw, tally_chunks


def save(path, arr, affine=None, **kw):
    img = nib.Nifti1Image(arr, np.diag([0.5, 0.5, 2.0, 1.0]) if affine is None else affine,
                          dtype=arr.dtype, **kw)
    nib.save(img, path)
    return path


def reference_counts(arr):
    vals, counts = np.unique(arr, return_counts=True)
    return {float(v) if not float(v).is_integer() else int(v): int(n)
            for v, n in zip(vals, counts, strict=True)}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint32,
                                   np.int64, np.float32, np.float64])
def test_counts_equal_np_unique(tmp_path, dtype):
    rng = np.random.default_rng(3)
    # Blobs (long runs) plus noise (short runs) exercise both counting paths.
    arr = np.zeros((40, 30, 20), dtype)
    arr[5:25, 5:20, 3:15] = 3
    arr[10:30, 12:28, 8:18] = 7
    noise = rng.integers(0, 6, size=arr.shape)
    arr[30:, :, :] = noise[30:].astype(dtype)
    c = census(save(tmp_path / "m.nii.gz", arr))
    assert c.values == reference_counts(arr)
    assert c.shape == (40, 30, 20) and c.dtype == np.dtype(dtype).name
    assert sum(c.values.values()) == arr.size
    assert c.flags == ()


def test_binary_empty_and_volume(tmp_path):
    arr = np.zeros((10, 10, 10), np.uint8)
    arr[:2] = 255
    c = census(save(tmp_path / "b.nii.gz", arr))
    assert c.binary and not c.empty and c.nonzero == {255: 200}
    assert c.voxel_volume_ml == pytest.approx(0.5 * 0.5 * 2.0 / 1000)
    e = census(save(tmp_path / "e.nii.gz", np.zeros((3, 3, 3), np.uint8)))
    assert e.empty and e.binary and e.values == {0: 27}
    multi = census(save(tmp_path / "m.nii.gz", np.arange(27, dtype=np.uint8).reshape(3, 3, 3) % 3))
    assert not multi.binary


def test_flags(tmp_path):
    arr = np.array([[[0, -2, 1.5, 70000.0]]], np.float32)
    c = census(save(tmp_path / "f.nii.gz", arr))
    assert set(c.flags) == {"negative", "non-integer", "over-65535"}
    nan = census(save(tmp_path / "n.nii.gz", np.array([[[0, np.nan, 1]]], np.float32)))
    assert "non-finite" in nan.flags
    ints = census(save(tmp_path / "i.nii.gz", np.array([[[0, -1, 2]]], np.int16)))
    assert ints.flags == ("negative",) and ints.values == {-1: 1, 0: 1, 2: 1}


def test_scaled_values_are_what_readers_see(tmp_path):
    arr = np.array([[[0, 1, 2, 2]]], np.uint8)
    img = nib.Nifti1Image(arr, np.eye(4))
    img.header.set_slope_inter(2.0, 1.0)
    nib.save(img, tmp_path / "s.nii.gz")
    assert census(tmp_path / "s.nii.gz").values == {1: 1, 3: 1, 5: 2}


def test_big_endian_and_nifti2_and_uncompressed(tmp_path):
    arr = np.array([[[0, 300, 300, 7]]], np.uint16)
    be = nib.Nifti1Image(arr, np.eye(4), nib.Nifti1Image(arr, np.eye(4)).header.as_byteswapped(">"))
    nib.save(be, tmp_path / "be.nii.gz")
    nib.save(nib.Nifti2Image(arr, np.eye(4)), tmp_path / "n2.nii.gz")
    nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / "plain.nii")
    for name in ("be.nii.gz", "n2.nii.gz", "plain.nii"):
        assert census(tmp_path / name).values == {0: 1, 7: 1, 300: 2}, name


def test_streaming_matches_whole_volume_on_many_chunks(tmp_path):
    rng = np.random.default_rng(0)
    arr = (rng.random((64, 64, 64)) < 0.3).astype(np.uint8) * rng.integers(1, 9, (64, 64, 64)).astype(np.uint8)
    path = save(tmp_path / "big.nii.gz", arr)
    info = nifti_info(path)
    for prefetch in (False, True):
        t = tally_chunks(iter_raw(info, chunk_bytes=4096, prefetch=prefetch))
        assert t.counts == reference_counts(arr)


def test_read_raw_is_writable_and_never_touches_the_file(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = save(tmp_path / "r.nii.gz", arr)
    before = path.read_bytes()
    data = read_raw(nifti_info(path))
    np.testing.assert_array_equal(data, arr)
    data[:] = 0
    assert path.read_bytes() == before


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.write_bytes(b"hello, not a volume at all" * 20), "not a NIfTI file"),
    (lambda p: p.write_bytes(gzip.compress(b"x" * 400)), "not a NIfTI file"),
    (lambda p: p.write_bytes(b"\x1f\x8b" + b"garbage" * 100), "not a valid gzip file"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_bad_files_are_clear_errors(tmp_path, make, needle):
    p = tmp_path / "bad.nii.gz"
    make(p)
    with pytest.raises(VolumeReadError, match=needle):
        census(p)


def test_truncated_files_say_so(tmp_path):
    arr = np.random.default_rng(1).integers(0, 5, (50, 50, 50)).astype(np.uint8)
    full = save(tmp_path / "t.nii.gz", arr).read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(VolumeReadError, match="truncated"):
        census(cut)
    raw = tmp_path / "cut.nii"
    nib.save(nib.Nifti1Image(arr, np.eye(4)), raw)
    raw.write_bytes(raw.read_bytes()[:-1000])
    with pytest.raises(VolumeReadError, match="truncated"):
        census(raw)


def test_missing_file(tmp_path):
    with pytest.raises(VolumeReadError, match="not found"):
        census(tmp_path / "nope.nii.gz")


def test_cli_census_json(tmp_path, capsys):
    a = save(tmp_path / "a.nii.gz", np.array([[[0, 1, 1, 2]]], np.uint8))
    b = save(tmp_path / "b.nii.gz", np.array([[[0, 0.5, 1, 1]]], np.float32))
    assert main(["census", str(a), str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [
        {"file": str(a), "shape": [1, 1, 4], "dtype": "uint8",
         "values": {"0": 1, "1": 2, "2": 1}, "binary": False, "flags": []},
        {"file": str(b), "shape": [1, 1, 4], "dtype": "float32",
         "values": {"0": 1, "0.5": 1, "1": 2}, "binary": False, "flags": ["non-integer"]},
    ]


def test_cli_census_bad_file_is_one_line_no_traceback(tmp_path, capsys):
    assert main(["census", str(tmp_path / "missing.nii.gz")]) == 1
    err = capsys.readouterr().err
    assert "error: NIfTI file not found" in err and "Traceback" not in err


def test_census_keeps_the_runs_the_merge_rebuilds_voxels_from(tmp_path):

    rng = np.random.default_rng(5)
    arr = np.zeros((30, 20, 10), np.uint16)
    arr[3:12, 4:9, 2:7] = 4
    arr[10:25, 8:18, 5:9] = 300
    arr[26:, :, :] = rng.integers(0, 3, (4, 20, 10))  # noisy corner: short runs
    path = save(tmp_path / "r.nii.gz", arr)
    census(path)
    kept = RUNS.get(path)
    assert kept is not None and kept.shape == arr.shape
    idx, vals = kept.expand()
    flat = arr.reshape(-1, order="F")
    np.testing.assert_array_equal(idx, np.flatnonzero(flat))
    np.testing.assert_array_equal(vals, flat[np.flatnonzero(flat)])
    floats = save(tmp_path / "f.nii.gz", arr.astype(np.float32))
    census(floats)
    assert RUNS.get(floats) is None  # only integer label maps are kept


@pytest.mark.parametrize(("dtype", "values"), [
    (dtype, values) for dtype in (np.uint8, np.int8, np.int16, np.uint16, np.int32)
    for values in ((0, 1), (0,), (-1, 0, 1), (0, 1, 2), (1,))
    if min(values) >= 0 or np.dtype(dtype).kind == "i"])
def test_a_binary_chunk_counts_as_any_chunk(dtype, values):
    # the census skips looking at the voxels of a 0/1 chunk: the same counts and flags as
    # the path that looks (the runs kept for a merge always look)
    rng = np.random.default_rng(len(values))
    chunks = [rng.choice(np.array(values, dtype=dtype), size=n) for n in (4096, 77, 1)]
    chunks.append(np.zeros(50, dtype=dtype))
    fast, looked = tally_chunks(chunks), tally_chunks(chunks, record=[])
    assert fast.counts == looked.counts
    assert fast.flags == looked.flags
    assert sum(fast.counts.values()) == sum(c.size for c in chunks)
