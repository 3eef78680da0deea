"""Validating many tasks in bounded memory (issue 14): the caches a validation fills stay
within their bounds however many distinct files it reads, and no mask volume outlives its
task."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np

from app.errors import VolumeReadError
from app.items import ItemsList, load_items
from app.readers import RUNS, RunCache, Runs
from app.readers._runs import ENTRY_BYTES
from app.readers._volumes import _SegCache
from app.validate import validate

from ..builders import items_file, nifti


def _runs(n: int) -> Runs:
    return Runs(np.arange(n, dtype=np.int64), np.ones(n, np.int32), np.ones(n, np.uint8),
                (n, 1, 1))


def test_the_run_cache_stays_within_its_bound_after_many_distinct_files(tmp_path: Path) -> None:
    cache = RunCache(budget=64 * ENTRY_BYTES)
    for i in range(1000):
        f = tmp_path / f"m{i}.nii.gz"
        f.write_bytes(b"x")
        cache.put(f, _runs(1 + i % 7))  # tiny runs: bounded by their number too
        assert cache.nbytes <= cache.budget
    assert 0 < len(cache) <= 64
    assert cache.get(tmp_path / "m999.nii.gz") is not None  # the newest are kept
    assert cache.get(tmp_path / "m0.nii.gz") is None


def test_the_seg_cache_stays_within_its_bound_after_many_distinct_files() -> None:
    cache = _SegCache(budget=1 << 20)
    img = nib.Nifti1Image(np.zeros((32, 32, 16), np.uint8), np.eye(4))
    for i in range(1000):
        got = img if i % 2 else VolumeReadError(f"refused {i}")  # refusals count too
        cache.put((f"/data/seg{i}.dcm", 1, i), got)
        assert cache.nbytes <= cache.budget
    assert 0 < len(cache) < 1000


def test_items_list_finds_a_task_by_identity_and_follows_changes(tmp_path: Path) -> None:
    items = load_items(items_file(tmp_path, [{"name": f"t{i}", "items": "x.nii.gz"}
                                             for i in range(5)]))
    tasks = items.tasks
    assert [items.index_of(t) for t in tasks] == [0, 1, 2, 3, 4]
    tasks.insert(0, tasks.pop())  # the list changed: positions are found again
    assert [items.index_of(t) for t in tasks] == [0, 1, 2, 3, 4]
    assert ItemsList(tasks=[]).index_of(tasks[0]) is None
    other = load_items(items_file(tmp_path, [{"name": "t0", "items": "x.nii.gz"}], "o.json"))
    assert items.index_of(other.tasks[0]) is None  # an equal task is not this one


def test_validating_many_tasks_keeps_no_mask_volume(tmp_path: Path) -> None:
    shape = (64, 64, 64)  # 256 KB a mask; the runs of its box are a few KB
    image = np.zeros(shape, np.int16)
    tasks = []
    for i in range(30):
        mask = np.zeros(shape, np.uint8)
        mask[8 + i : 20 + i, 10:22, 5:15] = 1
        mask[40:44, 40:44, 40:44] = 2
        nifti(tmp_path / f"c{i}" / "img.nii.gz", image)
        nifti(tmp_path / f"c{i}" / "seg.nii.gz", mask)
        tasks.append({"name": f"c{i}", "items": f"c{i}/img.nii.gz",
                      "segmentations": f"c{i}/seg.nii.gz", "segmentMap": {"1": "a", "2": "b"}})
    items = load_items(items_file(tmp_path, tasks))
    RUNS.clear()
    validate(items)  # warm-up: imports and one-time tables are not what is measured
    RUNS.clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        findings = validate(items)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert not [f for f in findings if f.is_error]
    volume = int(np.prod(shape))
    # 30 masks were read; together, what is left is less than one of them.
    assert kept < volume, kept
    assert RUNS.nbytes <= RUNS.budget and len(RUNS) <= 30
