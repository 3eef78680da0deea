"""The merge in bounded memory (issue 14), against redbrick-sdk 2.35.4 as the oracle.

Label maps that are not plain uint8 are streamed chunk by chunk into the narrowest volume
that holds their labels (widened at the first value above 255, wherever it falls), binary
masks are merged as they are read when every instance is in the segmentMap, and later
files are read a bounded number ahead. These tests check that none of it changes a voxel,
a dtype, a segment map or an error.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.merge import _engine, _read, merge

from .test_merge_sdk import assert_same, write

pytestmark = pytest.mark.oracle

# More voxels than one streamed chunk holds, so a label above 255 can come late.
_SHAPE = (64, 64, 2 * _read._CHUNK_BYTES // (64 * 64 * 4) + 8)


def _labels(seed: int, high: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vol = np.zeros(_SHAPE, np.int64)
    for k in range(1, 12):
        x, y, z = rng.integers(0, 48), rng.integers(0, 48), rng.integers(0, _SHAPE[2] - 8)
        vol[x : x + 16, y : y + 16, z : z + 8] = k
    vol[:, :, -2:] = np.where(vol[:, :, -2:] > 0, high, 0)  # only in the last chunk
    return vol


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
@pytest.mark.parametrize("high", [7, 300])
def test_streamed_label_maps_match_the_sdk(tmp_path: Path, dtype: str, high: int) -> None:
    vol = _labels(1, high)
    if dtype.startswith("float"):
        vol = vol + 0.5 * (vol % 2)  # halves round to even, as the SDK's np.round does
    f = write(tmp_path / "label.nii.gz", vol.astype(dtype), dtype)
    instances = {k: None for k in (*range(1, 12), high)}
    assert_same([f], instances)
    assert_same([f], instances, prune=True)


def test_negative_and_huge_values_wrap_as_in_the_sdk(tmp_path: Path) -> None:
    vol = _labels(2, 5).astype(np.int32)
    vol[0, 0, -1], vol[1, 0, -1] = -1, 70000  # 65535 and 4464 once cast to uint16
    f = write(tmp_path / "label.nii.gz", vol, np.int32)
    assert_same([f], {k: None for k in range(1, 12)})


def test_a_streamed_later_file_matches_the_sdk(tmp_path: Path) -> None:
    a = write(tmp_path / "a.nii.gz", _labels(3, 9).astype(np.uint8), np.uint8)
    b = write(tmp_path / "b.nii.gz", _labels(4, 400).astype(np.float32), np.float32)
    assert_same([a, b], {k: None for k in (*range(1, 12), 400)})


def _binary_case(tmp_path: Path, n: int) -> tuple[list[str], dict[str, str]]:
    rng = np.random.default_rng(n)
    files = []
    for k in range(n):
        m = np.zeros((12, 10, 6), np.uint8)
        x, y = rng.integers(0, 8), rng.integers(0, 6)
        m[x : x + 5, y : y + 5, 1:5] = 1  # neighbours overlap: overlap groups
        files.append(write(tmp_path / f"m{k}.nii.gz", m, np.uint8))
    return files, {str(k + 1): f for k, f in enumerate(files)}


@pytest.mark.parametrize("validate", [False, True])
@pytest.mark.parametrize("prune", [False, True])
def test_binary_masks_merged_as_read_match_the_sdk(tmp_path: Path, validate: bool,
                                                    prune: bool) -> None:
    files, masks = _binary_case(tmp_path, 20)
    instances = {k: None for k in range(1, 21)}
    assert_same(files, instances, binary_mask=True, masks=masks, label_validate=validate,
                prune=prune)
    # An id in the segmentMap with no file: --label-validate fails before any merge error.
    assert_same(files, {**instances, 40: None}, binary_mask=True, masks=masks,
                label_validate=validate, prune=prune)
    # A mask of an instance the segmentMap lacks: the files are all read first (SDK order).
    assert_same(files, {k: None for k in range(1, 20)}, binary_mask=True, masks=masks,
                label_validate=validate, prune=prune)


def test_binary_masks_with_declared_groups_match_the_sdk(tmp_path: Path) -> None:
    files, masks = _binary_case(tmp_path, 8)
    instances: dict[int, list[int] | None] = {k: None for k in range(1, 9)}
    instances[2], instances[3] = [50], [50]
    assert_same(files, instances, binary_mask=True, masks=masks)


def test_later_files_are_read_a_bounded_number_ahead() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def slow(name: str) -> str:
        with lock:
            started.append(int(name))
        return name

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = []
        for name in _engine._read_ahead(pool, slow, [str(i) for i in range(50)], 3):
            time.sleep(0.001)  # the consumer lags: nothing more than 3 ahead is asked for
            with lock:
                assert len(started) <= len(got) + 1 + 3
            got.append(name)
    assert got == [str(i) for i in range(50)]


def test_a_uint16_label_map_below_256_is_held_as_uint8_and_saved_as_the_sdk_does(
        tmp_path: Path) -> None:
    f = write(tmp_path / "label.nii.gz", _labels(5, 9).astype(np.uint16), np.uint16)
    result = merge([f], {k: None for k in range(1, 12)})
    assert result.volume is not None and result.volume.dtype == np.uint8
    assert_same([f], {k: None for k in range(1, 12)})


@pytest.mark.parametrize("validate", [False, True])
def test_a_merge_error_of_a_mask_merged_as_read_comes_after_the_label_check(
        tmp_path: Path, validate: bool) -> None:
    # Instance 70000 cannot be stored: the merge fails on it, but with --label-validate the
    # SDK reports the segmentMap id 99 that no file has first (it checks before merging).
    files, _ = _binary_case(tmp_path, 5)
    masks = {"1": files[0], "2": files[1], "3": files[2], "70000": files[3], "4": files[4]}
    instances = {1: None, 2: None, 3: None, 4: None, 70000: None, 99: None}
    assert_same(files, instances, binary_mask=True, masks=masks, label_validate=validate)


@pytest.mark.parametrize("late", [3, 4, 5])
def test_label_maps_merged_as_read_match_the_sdk_when_a_later_file_holds_a_free_id(
        tmp_path: Path, late: int) -> None:
    # a and b overlap: the group takes the smallest free id, 3, unless a later file holds
    # 3 (the SDK keeps every file's values out of the free ids: the merge starts again
    # keeping each file, and the group gets 4); 4 or 5 later change nothing.
    a = write(tmp_path / "a.nii.gz", np.array([[[1, 1, 0, 0]]], np.uint8), np.uint8)
    b = write(tmp_path / "b.nii.gz", np.array([[[2, 0, 0, 0]]], np.uint8), np.uint8)
    c = write(tmp_path / "c.nii.gz", np.array([[[0, 0, 0, late]]], np.uint8), np.uint8)
    d = write(tmp_path / "d.nii.gz", np.array([[[0, 2, 1, 0]]], np.uint8), np.uint8)
    assert_same([a, b, c, d], {1: None, 2: None})
    assert_same([a, b, c, d], {1: None, 2: None, late: None})
    restarted = merge([a, b, c, d], {1: None, 2: None})
    assert restarted.segments[1] is not None and (late == 3) == (3 not in restarted.segments[1])


def test_large_label_maps_merged_chunk_by_chunk_match_the_sdk(tmp_path: Path) -> None:
    # More non-zero voxels than one chunk: the pairs are counted chunk by chunk, in the
    # SDK's order, before any voxel is written; overlaps make groups, a later file's own
    # value takes an id out of the free ones.
    shape = (128, 128, 96)
    rng = np.random.default_rng(7)
    z = np.arange(shape[2])[None, None, :]
    a = np.broadcast_to(1 + (z // 9) % 5, shape).astype(np.uint8)
    b = np.broadcast_to(3 + (z // 7) % 4, shape).astype(np.uint8).copy()
    b[rng.random(shape) < 0.2] = 0
    c = np.zeros(shape, np.uint16)
    c[:40, :40, :40] = 9
    fa = write(tmp_path / "a.nii.gz", a, np.uint8)
    fb = write(tmp_path / "b.nii.gz", b, np.uint8)
    fc = write(tmp_path / "c.nii.gz", c, np.uint16)
    assert int(np.count_nonzero(b)) > _engine._CHUNK
    assert_same([fa, fb, fc], {k: None for k in range(1, 7)})
    assert_same([fa, fc, fb], {k: None for k in range(1, 10)})
    # One run longer than a chunk (a whole volume of one value) is split across chunks.
    fd = write(tmp_path / "d.nii.gz", np.full(shape, 2, np.uint8), np.uint8)
    assert_same([fb, fd, fa], {k: None for k in range(1, 7)})
