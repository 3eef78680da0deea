"""Differential tests: Segmap's merge against redbrick-sdk 2.35.4's process_upload.

Every case runs both implementations on the same files and compares the outcome
(error or not, and the SDK's error text where Segmap reports it), the voxels, the
output dtype, the segment map and whether the original file is uploaded as is.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.errors import MergeError
from app.merge import merge

from ..sdk_oracle import Outcome, sdk_merge

pytestmark = pytest.mark.oracle


def write(path: Path, arr: np.ndarray, dtype: object = "compat") -> str:
    """A mask file as the SDK's own tests write them (NIfTI-1, identity affine)."""
    nib.save(nib.Nifti1Image(np.asarray(arr), np.eye(4), dtype=dtype), path)
    return str(path)


def ours(files: list[str], instances: dict, **kw: object) -> Outcome:
    try:
        r = merge(files, instances, **kw)  # type: ignore[arg-type]
    except MergeError as exc:
        return Outcome(None, None, {}, exc.sdk_message or exc.message, False)
    vol = r.volume
    return Outcome(vol, None if vol is None else vol.dtype.name, r.segments, None,
                   r.source is not None)


def _sets_sorted(text: str | None) -> str | None:
    # A Python set prints in hash-table order, which depends on its history; the
    # SDK's messages print sets, so compare them with their members sorted.
    if text is None:
        return None
    return re.sub(r"\{([\d, ]+)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "), key=int)) + "}", text)


def assert_same(files: list[str], instances: dict, *, binary_mask: bool = False,
                masks: dict | None = None, label_validate: bool = False, prune: bool = False,
                exact_error_text: bool = True) -> Outcome:
    theirs = sdk_merge(files, instances, binary_mask, False, masks, label_validate, prune)
    mine = ours(files, instances, binary_mask=binary_mask, masks=masks or {},
                label_validate=label_validate, prune=prune)
    assert (mine.error is None) == (theirs.error is None), (mine.error, theirs.error)
    if theirs.error is not None:
        if exact_error_text and not theirs.error.startswith(("index ", "min()")):
            assert _sets_sorted(mine.error) == _sets_sorted(theirs.error)
        return theirs
    assert {k: sorted(v) if v else None for k, v in mine.segments.items()} == {
        k: sorted(v) if v else None for k, v in theirs.segments.items()}
    if theirs.volume is None:
        assert mine.volume is None
        return theirs
    assert mine.volume is not None
    assert mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine.volume, theirs.volume)
    assert mine.unchanged == theirs.unchanged
    return theirs


# The SDK's own process_upload vectors (tests/test_utils/test_process_upload.py, v2.28.7):
# (name, [(instance the file is the mask of, or None, array)], segment map, binary mode).
A = np.array
SDK_VECTORS = [
    ("empty", [], {}, False),
    ("invalid-2d", [(None, A([[1]]))], {1: None}, False),
    ("group-invalid-4d", [(None, A([[[1]]])), (None, A([[[[1]]]]))], {1: None}, False),
    ("plain", [(None, A([[[1, 20000]]]))], {1: None, 20000: None}, False),
    ("plain-extra-file", [(None, A([[[1, 2]]], np.uint8))], {1: None}, False),
    ("plain-extra-map", [(None, A([[[1, 0]]], np.uint16))], {1: None, 2: None}, False),
    ("binary", [(1, A([[[1, 2]]]))], {1: None}, True),
    ("binary-extra-file", [(1, A([[[1, 0]]])), (2, A([[[0, 1]]]))], {1: None}, True),
    ("binary-extra-map", [(1, A([[[1, 0]]]))], {1: None, 2: None}, True),
    ("multiple", [(None, A([[[1, 2]]])), (None, A([[[0, 3]]], np.uint16)),
                  (None, A([[[1, 0]]], np.uint8))], {1: None, 2: None, 3: None}, False),
    ("multiple-extra-file", [(None, A([[[1, 2]]])), (None, A([[[3, 4]]]))],
     {1: None, 2: None, 3: None}, False),
    ("group", [(None, A([[[1, 2, 3]]]))], {1: [3], 2: [3]}, False),
    ("group-only", [(None, A([[[3]]]))], {1: [3], 2: [3]}, False),
    ("multiple-group", [(None, A([[[1, 2, 3]]])), (None, A([[[2, 2, 3]]]))],
     {1: [3], 2: [3]}, False),
    ("multiple-group-extra", [(None, A([[[0, 2, 0]]])), (None, A([[[4, 2, 3]]])),
                              (None, A([[[0, 0, 0]]])), (None, A([[[1, 2, 4]]]))],
     {1: [3], 2: [3]}, False),
    ("non-decimal-round", [(None, A([[[0.49, 1, 0, 0]]])), (None, A([[[0, 1, 1.49, 1.51]]]))],
     {1: None}, False),
]


def _files(tmp_path: Path, data: list[tuple[int | None, np.ndarray]]) -> tuple[list[str], dict]:
    files, masks = [], {}
    for n, (inst, arr) in enumerate(data):
        f = write(tmp_path / f"{inst or 0}-{n}.nii.gz", arr)
        files.append(f)
        if inst and str(inst) not in masks:
            masks[str(inst)] = f
    return files, masks


@pytest.mark.parametrize("prune", [False, True])
@pytest.mark.parametrize("label_validate", [False, True])
@pytest.mark.parametrize("name,data,segment_map,binary", SDK_VECTORS, ids=[v[0] for v in SDK_VECTORS])
def test_sdk_vectors(tmp_path, name, data, segment_map, binary, label_validate, prune):
    files, masks = _files(tmp_path, data)
    assert_same(files, segment_map, binary_mask=binary, masks=masks,
                label_validate=label_validate, prune=prune)


def test_sdk_vector_outputs_match_the_recorded_ones(tmp_path):
    # Appendix A of the reference: "Multiple (extra file)" without flags -> [5, 6].
    files, _ = _files(tmp_path, [(None, A([[[1, 2]]])), (None, A([[[3, 4]]]))])
    r = merge(files, {1: None, 2: None, 3: None})
    assert r.volume is not None and r.volume.ravel().tolist() == [5, 6]
    assert r.segments_json() == {"1": [5], "2": [6], "3": [5], "4": [6]}


# Seed cases and quirks recorded in reference §3.5.
def _row(tmp_path: Path, name: str, values: list, dtype: object = np.uint8) -> str:
    return write(tmp_path / name, np.array(values).reshape(1, 1, -1), dtype)


def test_seed_case_III_overlap_becomes_group_3(tmp_path):
    m1, m2 = _row(tmp_path, "m1.nii.gz", [1, 1, 0, 0]), _row(tmp_path, "m2.nii.gz", [0, 5, 5, 0])
    out = assert_same([m1, m2], {1: None, 2: None}, binary_mask=True, masks={"1": m1, "2": m2})
    assert out.volume is not None and out.volume.ravel().tolist() == [1, 3, 2, 0]


def test_group_id_is_the_smallest_unused_value(tmp_path):
    m1, m2 = _row(tmp_path, "m1.nii.gz", [1, 1, 0, 0]), _row(tmp_path, "m2.nii.gz", [0, 5, 5, 0])
    out = assert_same([m1, m2], {7: None, 9: None}, binary_mask=True, masks={"7": m1, "9": m2})
    assert out.volume is not None and out.volume.ravel().tolist() == [7, 1, 9, 0]


def test_three_way_overlap(tmp_path):
    m1, m2, m4 = (_row(tmp_path, n, v) for n, v in
                  (("a.nii.gz", [1, 1, 0, 0]), ("b.nii.gz", [0, 5, 5, 0]), ("c.nii.gz", [1, 1, 1, 0])))
    out = assert_same([m1, m2, m4], {1: None, 2: None, 3: None}, binary_mask=True,
                      masks={"1": m1, "2": m2, "3": m4})
    assert out.segments == {1: [5, 7], 2: [6, 7], 3: [5, 6, 7]}


@pytest.mark.parametrize("values,dtype", [
    ([0, -1, 3], np.int16),            # wraps to 65535
    ([0, 0.6, 1.4, 2.5], np.float32),  # rounds half to even
    ([0, 1, 2, 200], np.uint16),       # uint16 with max < 256 is rewritten as uint8
    ([0, 1, 300], np.uint16),          # stays uint16
    ([0, 1, 2, 2], np.uint8),          # unchanged: the original file is uploaded
    ([0, 70000, 1], np.int32),         # > 65535 wraps
    ([0, 0, 0, 0], np.uint8),          # empty
])
@pytest.mark.parametrize("prune", [False, True])
def test_single_file_dtypes(tmp_path, values, dtype, prune):
    f = _row(tmp_path, "s.nii.gz", values, dtype)
    assert_same([f], {1: None, 2: None}, prune=prune)


def test_unreferenced_first_binary_file_leaks_its_values(tmp_path):
    m1, m2, m3 = (_row(tmp_path, n, v) for n, v in
                  (("a.nii.gz", [1, 0, 0, 1]), ("b.nii.gz", [0, 5, 5, 0]), ("c.nii.gz", [0, 1, 0, 0])))
    out = assert_same([m3, m1, m2], {1: None, 2: None}, binary_mask=True, masks={"1": m1, "2": m2})
    assert out.volume is not None and out.volume.ravel().tolist() == [1, 3, 2, 1]


def test_error_cases_report_the_sdk_text(tmp_path):
    m1 = _row(tmp_path, "a.nii.gz", [1, 1, 0, 0])
    assert_same([m1], {1: [2], 2: None})  # common instance and group ids
    assert_same([m1, m1], {1: None, 2: None}, binary_mask=True, masks={"1": m1, "2": m1})
    assert_same([str(tmp_path / "missing.nii.gz")], {1: None})
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not gzip at all, just text")
    assert_same([str(bad)], {1: None}, exact_error_text=False)


def test_png_mask_without_binary_is_refused_like_the_sdk(tmp_path):
    m1 = _row(tmp_path, "a.nii.gz", [1, 1, 0, 0])
    theirs = sdk_merge([m1], {1: None}, False, True, {"1": m1})
    with pytest.raises(MergeError) as exc:
        merge([m1], {1: None}, png_mask=True, masks={"1": m1})
    assert exc.value.sdk_message == theirs.error


def test_output_header_and_affine_match_the_sdk(tmp_path):
    aff = np.array([[-0.8, 0, 0, 90], [0, 0.8, 0, -120], [0, 0, 2.5, -300], [0, 0, 0, 1]])
    a = tmp_path / "a.nii.gz"
    b = tmp_path / "b.nii.gz"
    nib.save(nib.Nifti1Image(np.array([[[1, 1, 0]]], np.uint8), aff), a)
    nib.save(nib.Nifti1Image(np.array([[[0, 2, 2]]], np.uint8), aff), b)
    from unittest.mock import patch

    from ..sdk_oracle import nifti

    with patch.object(nifti, "config_path", return_value=str(tmp_path)):
        out, _, _ = nifti.process_upload([str(a), str(b)], {1: None, 2: None}, False, False, {})
    theirs = nib.load(out)
    mine_path = merge([str(a), str(b)], {1: None, 2: None}).save(tmp_path / "mine.nii.gz")
    mine = nib.load(mine_path)
    np.testing.assert_allclose(mine.affine, theirs.affine)
    assert mine.get_data_dtype() == theirs.get_data_dtype()
    for key in ("qform_code", "sform_code", "pixdim", "dim", "xyzt_units"):
        np.testing.assert_array_equal(mine.header[key], theirs.header[key])
    np.testing.assert_array_equal(np.asanyarray(mine.dataobj), np.asanyarray(theirs.dataobj))


# ----------------------------------------------------------------- random cases
DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64]


def _random_case(rng: random.Random, tmp_path: Path, n: int) -> dict:
    shape = tuple(rng.randint(1, 4) for _ in range(3))
    binary = rng.random() < 0.4
    nfiles = rng.randint(1, 4)
    pool = [1, 2, 3, 4, 5, 7, 9] + ([300] if rng.random() < 0.2 else [])
    files = []
    for k in range(nfiles):
        dtype = rng.choice(DTYPES)
        arr = np.zeros(shape, dtype=np.float64)
        density = rng.random()
        for idx in np.ndindex(shape):
            if rng.random() < density:
                arr[idx] = rng.choice(pool)
        if dtype in (np.int16, np.int32, np.float32, np.float64) and rng.random() < 0.2:
            arr.flat[rng.randrange(arr.size)] = -1
        if dtype in (np.float32, np.float64) and rng.random() < 0.3:
            arr.flat[rng.randrange(arr.size)] = rng.choice([0.5, 1.5, 2.49, 2.51])
        if dtype is np.uint8:
            arr = np.clip(arr, 0, 255)
        files.append(write(tmp_path / f"c{n}_{k}.nii.gz", arr.astype(dtype), dtype))
    instances: dict[int, list[int] | None] = {}
    masks: dict[str, str] = {}
    ids = rng.sample(range(1, 10), rng.randint(1, 5))
    for i in ids:
        instances[i] = None
    if not binary and rng.random() < 0.3 and len(ids) >= 2:
        g = rng.choice([g for g in range(1, 12) if g not in ids] + ([ids[0]] if rng.random() < 0.1 else []))
        for i in rng.sample(ids, 2):
            instances[i] = [g]
    if binary:
        for i, f in zip(ids, rng.sample(files, len(files)), strict=False):
            masks[str(i)] = f
        if rng.random() < 0.1 and len(ids) >= 2:
            masks[str(ids[1])] = masks.get(str(ids[0]), files[0])
    return {"files": files, "instances": instances, "binary_mask": binary, "masks": masks,
            "label_validate": rng.random() < 0.3, "prune": rng.random() < 0.3}


@pytest.mark.parametrize("seed", range(12))
def test_random_cases_match_the_sdk(tmp_path, seed):
    rng = random.Random(seed)
    for n in range(25):  # 300 random cases in all
        case = _random_case(rng, tmp_path, n)
        assert_same(case["files"], case["instances"], binary_mask=case["binary_mask"],
                    masks=case["masks"], label_validate=case["label_validate"],
                    prune=case["prune"])


# ------------------------------------------------ the one deliberate difference
def test_smaller_later_file_is_refused_where_the_sdk_merges_it_into_a_corner(tmp_path):
    big = write(tmp_path / "big.nii.gz", np.ones((4, 4, 3), np.uint8))
    small = write(tmp_path / "small.nii.gz", np.full((2, 2, 3), 2, np.uint8))
    assert sdk_merge([big, small], {1: None, 2: None}).error is None  # the SDK is silent
    with pytest.raises(MergeError) as exc:
        merge([big, small], {1: None, 2: None})
    assert "2x2x3" in exc.value.message and "4x4x3" in exc.value.message


def test_larger_later_file_fails_in_both(tmp_path):
    small = write(tmp_path / "small.nii.gz", np.ones((2, 2, 3), np.uint8))
    big = write(tmp_path / "big.nii.gz", np.full((4, 4, 3), 2, np.uint8))
    assert sdk_merge([small, big], {1: None, 2: None}).error is not None
    with pytest.raises(MergeError) as exc:
        merge([small, big], {1: None, 2: None})
    assert "4x4x3" in exc.value.message and "2x2x3" in exc.value.message


# ------------------------------------------------------------ file-format corners
def _save_variant(path: Path, arr: np.ndarray, kind: str) -> str:
    if kind == "nifti2":
        nib.save(nib.Nifti2Image(arr, np.eye(4)), path)
    elif kind == "big-endian":
        img = nib.Nifti1Image(arr, np.eye(4))
        hdr = img.header.as_byteswapped(">")
        nib.save(nib.Nifti1Image(arr, np.eye(4), hdr), path)
    elif kind == "scaled":
        img = nib.Nifti1Image(arr, np.eye(4))
        img.header.set_slope_inter(2.0, 0.0)
        nib.save(img, path)
    else:
        nib.save(nib.Nifti1Image(arr, np.eye(4)), path)
    return str(path)


@pytest.mark.parametrize("kind,suffix", [("nifti2", ".nii.gz"), ("big-endian", ".nii.gz"),
                                         ("scaled", ".nii.gz"), ("plain", ".nii")])
def test_file_variants(tmp_path, kind, suffix):
    a = _save_variant(tmp_path / f"a{suffix}", np.array([[[1, 2, 0, 3]]], np.uint16), kind)
    b = _save_variant(tmp_path / f"b{suffix}", np.array([[[0, 1, 1, 0]]], np.uint8), kind)
    assert_same([a], {1: None, 2: None, 3: None})
    assert_same([a, b], {1: None, 2: None, 3: None})
    assert_same([b], {1: None})


# ------------------------------------------ merging from the census's kept runs
@pytest.mark.parametrize("seed", range(4))
def test_random_cases_match_the_sdk_when_the_census_kept_runs(tmp_path, seed):
    from app.readers import RUNS, census

    rng = random.Random(1000 + seed)
    for n in range(25):
        case = _random_case(rng, tmp_path, n)
        for f in case["files"]:
            census(f)  # what a scan does first; uint8/uint16 files now merge from runs
        assert_same(case["files"], case["instances"], binary_mask=case["binary_mask"],
                    masks=case["masks"], label_validate=case["label_validate"],
                    prune=case["prune"])
    RUNS.clear()


def test_a_file_changed_after_its_census_is_read_again(tmp_path):
    import os

    from app.readers import census

    a = write(tmp_path / "a.nii.gz", np.array([[[1, 1, 0, 0]]], np.uint8), np.uint8)
    b = write(tmp_path / "b.nii.gz", np.array([[[0, 2, 2, 0]]], np.uint8), np.uint8)
    census(a), census(b)
    write(tmp_path / "b.nii.gz", np.array([[[0, 0, 3, 3]]], np.uint8), np.uint8)
    os.utime(b, ns=(1, 1))  # another size/mtime: the kept runs no longer apply
    assert_same([a, b], {1: None, 3: None})


@pytest.mark.parametrize("keys", [(200, 7), (7, 255), (70000, 1)])
def test_large_instance_ids_like_the_sdk(tmp_path, keys):
    from app.readers import census

    m1, m2 = _row(tmp_path, "m1.nii.gz", [1, 1, 0, 0]), _row(tmp_path, "m2.nii.gz", [0, 1, 1, 0])
    masks = {str(keys[0]): m1, str(keys[1]): m2}
    assert_same([m1, m2], {keys[0]: None, keys[1]: None}, binary_mask=True, masks=masks,
                exact_error_text=False)
    census(m1), census(m2)  # and again with the volume rebuilt from the census's runs
    assert_same([m1, m2], {keys[0]: None, keys[1]: None}, binary_mask=True, masks=masks,
                exact_error_text=False)


@pytest.mark.parametrize("keys", [(300, 7), (7, 300), (255, 256)])
def test_ids_above_255_from_uint8_masks_are_stored_as_uint16_not_corrupted(tmp_path, keys):
    # Deliberate difference 2: the SDK writes these into a uint8 file with a scale
    # factor (7 reads back as 7.06); Segmap writes the true values as uint16.
    m1, m2 = _row(tmp_path, "m1.nii.gz", [1, 1, 0, 0]), _row(tmp_path, "m2.nii.gz", [0, 1, 1, 0])
    masks = {str(keys[0]): m1, str(keys[1]): m2}
    theirs = sdk_merge([m1, m2], {keys[0]: None, keys[1]: None}, True, False, masks)
    r = merge([m1, m2], {keys[0]: None, keys[1]: None}, binary_mask=True, masks=masks)
    assert {k: sorted(v) for k, v in r.segments.items()} == {
        k: sorted(v) for k, v in theirs.segments.items()}
    group = r.segments[keys[0]][0]
    assert r.volume.ravel().tolist() == [keys[0], group, keys[1], 0]
    assert theirs.dtype == "uint8" and not np.allclose(theirs.volume.ravel(), r.volume.ravel())
    saved = nib.load(r.save(tmp_path / "out.nii.gz"))
    assert saved.get_data_dtype() == np.uint16
    assert np.asanyarray(saved.dataobj).ravel().tolist() == [keys[0], group, keys[1], 0]


def test_png_masks_merge_like_the_sdk(tmp_path):
    from PIL import Image

    def png(name: str, on: list[tuple[int, int]], rgba: bool) -> str:
        arr = np.zeros((3, 4, 4 if rgba else 3), np.uint8)
        for r, c in on:
            arr[r, c, 1] = 200
        path = tmp_path / name
        Image.fromarray(arr).save(path)
        return str(path)

    a = png("a.png", [(0, 0), (1, 1)], rgba=False)
    b = png("b.png", [(1, 1), (2, 3)], rgba=True)
    masks = {"1": a, "2": b}
    # The SDK writes <png>.nii.gz beside each PNG; Segmap reads them in memory only.
    theirs = sdk_merge([a, b], {1: None, 2: None}, True, True, dict(masks))
    mine = merge([a, b], {1: None, 2: None}, binary_mask=True, png_mask=True, masks=masks)
    assert theirs.error is None and mine.volume is not None
    np.testing.assert_array_equal(mine.volume, theirs.volume)
    assert {k: sorted(v or []) for k, v in mine.segments.items()} == {
        k: sorted(v or []) for k, v in theirs.segments.items()}
    gray = tmp_path / "g.png"
    Image.fromarray(np.zeros((3, 4), np.uint8)).save(gray)
    with pytest.raises(MergeError, match="single-channel"):
        merge([str(gray)], {1: None}, binary_mask=True, png_mask=True, masks={"1": str(gray)})
