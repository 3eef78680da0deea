"""app.allocator: with a Dask nanny's MALLOC_TRIM_THRESHOLD_ set, every buffer a census
allocates and frees is a fresh mapping the kernel faults in again (1.5-1.9x the CPU);
tuned, the same buffer is reused. Counted in page faults (what the kernel did), not time."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import allocator

pytestmark = pytest.mark.skipif(allocator._LIBC is None, reason="glibc's malloc only")

ROUNDS = 40
PAGES = (1 << 20) // resource.getpagesize()  # a 1 MB buffer's pages


def faults() -> int:
    """Page faults of this thread while a 1 MB buffer is filled and freed ROUNDS times."""
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(ROUNDS):
        buffer = np.ones(1 << 20, np.uint8)
        del buffer
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def fresh_each_time(count: int) -> bool:
    return count > ROUNDS * PAGES // 2


def reused(count: int) -> bool:
    return count < ROUNDS * PAGES // 8


_SCRIPT = """
import json
from app import allocator
from tests.app.test_allocator import faults
out = {"as_set": faults()}
with allocator.for_task():
    out["in_task"] = faults()
out["after_task"] = faults()
allocator.tune()
out["tuned"] = faults()
print(json.dumps(out))
"""


def test_a_nanny_setting_refaults_every_buffer_and_tuning_reuses_it() -> None:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # what a Dask nanny sets
    out = json.loads(subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    assert fresh_each_time(out["as_set"]), out
    assert reused(out["in_task"]), out  # a Segmap task on a cluster's worker
    assert fresh_each_time(out["after_task"]), out  # the worker's own setting back
    assert reused(out["tuned"]), out  # Segmap's own processes


_POOL = """
from app.parallel import process_pool
from tests.app.test_allocator import faults
if __name__ == "__main__":
    with process_pool(1, "forkserver") as pool:
        print(pool.submit(faults).result())
"""


def test_a_pool_worker_started_by_a_fork_server_is_tuned(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"  # a fresh fork server, started with the nanny's setting
    script.write_text(_POOL)
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    count = int(subprocess.run([sys.executable, str(script)], env=env, check=True, cwd=tmp_path,
                               capture_output=True, text=True).stdout)
    assert reused(count), count
