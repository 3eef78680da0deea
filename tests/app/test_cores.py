"""app.cores: a volume is inflated on a second thread only where that thread finds a core
of its own: in one process, not in the workers of a pool that fills the cores (there it
only cost 14 % more CPU per file), nor in a cluster's task (tests/app/test_cluster.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app import cores
from app.parallel import default_jobs, process_pool
from app.readers import iter_raw, nifti_info


def inflated_ahead(path: str) -> bool:
    """Whether reading ``path`` (in 4 KB chunks) ran an inflate thread beside this one."""
    seen = False
    for _ in iter_raw(nifti_info(path), chunk_bytes=4096):
        seen = seen or any(t.name == "nifti-inflate" for t in threading.enumerate())
    return seen


@pytest.fixture
def volume(tmp_path: Path) -> str:
    labels = np.random.default_rng(0).integers(0, 5, (32, 32, 32)).astype(np.uint8)
    path = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(labels, np.eye(4)), path)
    return str(path)


@pytest.fixture
def restored() -> Iterator[None]:
    yield
    cores.set_spare(True)


def test_one_process_inflates_ahead_and_stops_when_told_it_has_no_core_to_spare(
        volume: str, restored: None) -> None:
    assert inflated_ahead(volume)
    cores.set_spare(False)
    assert not inflated_ahead(volume)
    chunks = [c.copy() for c in iter_raw(nifti_info(volume), chunk_bytes=4096)]
    assert np.concatenate(chunks).tobytes() == np.asanyarray(
        nib.load(volume).dataobj).tobytes(order="F")  # the same voxels either way


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_pool_filling_the_cores_reads_on_one_thread_per_worker(volume: str,
                                                                 method: str) -> None:
    pool = process_pool(default_jobs(), method)
    try:
        assert not pool.submit(inflated_ahead, volume).result(timeout=60)
    finally:
        pool.shutdown()


def test_a_pool_with_cores_to_spare_reads_ahead(volume: str) -> None:
    if default_jobs() < 2:
        pytest.skip("needs 2 cores")
    pool = process_pool(default_jobs() // 2)
    try:
        assert pool.submit(inflated_ahead, volume).result(timeout=60)
    finally:
        pool.shutdown()
