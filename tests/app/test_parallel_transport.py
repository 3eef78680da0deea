"""What crosses between the parent and the workers: runs packed small and equal on arrival,
batches sized for a cluster's per-task cost, workers that leave inherited objects alone."""

from __future__ import annotations

import gc
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from app import parallel
from app.parallel import CLUSTER_BATCHES, Jobs, map_work, process_pool, start_method
from app.progress import run
from app.readers import Runs


def _same(a: Runs, b: Runs) -> None:
    for x, y in ((a.starts, b.starts), (a.lengths, b.lengths), (a.values, b.values)):
        assert x.dtype == y.dtype and np.array_equal(x, y)
        assert y.flags.writeable  # arrays of their own, as a census in this process makes
    assert a.shape == b.shape and isinstance(b.shape, tuple)


def _runs(n: int, values: np.dtype, spread: int, seed: int = 0) -> Runs:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 300, n).astype(np.int32)
    gaps = rng.integers(0, spread, n)
    starts = (np.cumsum(gaps) + np.concatenate(([0], np.cumsum(lengths[:-1])))).astype(np.int64)
    vals = rng.integers(1, 200, n).astype(values)
    return Runs(starts, lengths, vals, (512, 512, 4096))


@pytest.mark.parametrize("runs", [
    _runs(5000, np.dtype(np.uint8), 50),
    _runs(5000, np.dtype(np.uint16), 10_000_000),  # starts past 2**32: kept in 8 bytes
    _runs(1, np.dtype(np.uint8), 3),
    Runs(np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.uint8), (4, 4, 4)),
    Runs(np.array([90, 10, 50], np.int64), np.array([5, 70000, 1], np.int32),  # unsorted
         np.array([1, 2, 3], np.uint16), (10, 10, 1000)),
    Runs(np.array([3, 9], np.int32), np.array([2, 2], np.int64),  # other integer types
         np.array([7, 7], np.int16), (2, 2, 4)),
    Runs(np.array([0, 5], np.int64), np.array([1, 3], np.int32),  # big-endian float values
         np.array([1.5, -2.0], ">f8"), (8,)),
], ids=["uint8", "uint16-far", "one", "empty", "unsorted", "other-types", "float-values"])
def test_runs_unpickle_to_equal_arrays_of_their_types(runs: Runs) -> None:
    _same(runs, pickle.loads(pickle.dumps(runs)))
    _same(runs, pickle.loads(pickle.dumps(runs, protocol=5)))


def test_runs_pickle_in_about_half_the_bytes_of_their_arrays() -> None:
    runs = _runs(30_000, np.dtype(np.uint8), 50)  # a 5-organ label map's 30,000 runs
    plain = runs.starts.nbytes + runs.lengths.nbytes + runs.values.nbytes
    assert len(pickle.dumps(runs)) < 0.6 * plain


def test_runs_that_are_not_flat_integer_arrays_pickle_as_they_are() -> None:
    odd = Runs(np.array([0.5, 2.0]), np.array([1, 1], np.int32), np.array([1, 2], np.uint8),
               (4,))
    back = pickle.loads(pickle.dumps(odd))
    assert back.starts.dtype == np.float64 and np.array_equal(back.starts, odd.starts)
    named = Runs(np.array([0], np.int64), np.array([1], np.int32),
                 np.array(["a"], dtype=object), (1,))
    assert pickle.loads(pickle.dumps(named)).values.tolist() == ["a"]


def _runs_back(runs: Runs) -> Runs:
    return runs


def test_runs_cross_a_process_pool_equal() -> None:
    runs = _runs(20_000, np.dtype(np.uint16), 5000, seed=3)
    with process_pool(1) as pool:
        _same(runs, pool.submit(_runs_back, runs).result())


def _frozen(_: int) -> int:
    return gc.get_freeze_count()


def test_a_worker_leaves_what_it_inherited_out_of_its_collections() -> None:
    out = run(map_work(_frozen, [1, 2, 3], Jobs(2), what=str))
    assert all(o.ok and (o.value or 0) > 0 for o in out)


class _Cluster(ThreadPoolExecutor):
    """A stand-in for ``app.cluster.ClusterExecutor``: ``slots`` worker threads, and the
    size of every batch submitted remembered."""

    def __init__(self, slots: int) -> None:
        super().__init__(max_workers=slots)
        self.slots = slots
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self.lock:
            self.sizes.append(len(args[1]))  # call_batch(fn, part)
        return super().submit(fn, *args, **kwargs)


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize(("total", "batch", "expected"), [
    (400, 1, [13] * 30 + [10]),  # 400 cases on 2 slots: 16 batches a slot (the last short)
    (60, 20, [20, 20, 20]),  # the caller's larger batch stands
    (3, 1, [1, 1, 1]),
])
def test_a_cluster_gets_a_few_batches_per_worker(total: int, batch: int,
                                                 expected: list[int]) -> None:
    assert CLUSTER_BATCHES == 16
    pool = _Cluster(2)
    out = run(map_work(_square, list(range(total)), Jobs(2, "tcp://h:8786"), what=str,
                       batch=batch, executor=lambda: pool))
    assert [o.value for o in out] == [x * x for x in range(total)]
    assert sorted(pool.sizes, reverse=True) == expected


def test_a_local_pool_keeps_the_callers_batch() -> None:
    pool = ThreadPoolExecutor(2)
    sizes: list[int] = []
    real = pool.submit

    def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        sizes.append(len(args[1]))
        return real(fn, *args, **kwargs)

    pool.submit = submit  # type: ignore[method-assign]
    out = run(map_work(_square, list(range(10)), Jobs(2), what=str, executor=lambda: pool))
    assert [o.value for o in out] == [x * x for x in range(10)] and sizes == [1] * 10


def _call_it(f: Callable[[], int]) -> int:
    return f()


def test_forked_workers_read_their_cases_from_memory_not_from_pickles() -> None:
    if start_method() != "fork":
        pytest.skip("the workers start by fork only on Linux with one thread running")
    cases = [lambda k=k: k * 10 for k in range(7)]  # a lambda does not pickle
    out = run(map_work(_call_it, cases, Jobs(2), what=str, batch=2))
    assert [o.value for o in out] == [k * 10 for k in range(7)]
    assert not parallel._SHARED  # forgotten with the run


def test_workers_the_fork_server_starts_get_their_cases_pickled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "start_method", lambda: "forkserver")
    out = run(map_work(_square, list(range(9)), Jobs(2), what=str, batch=2))
    assert [o.value for o in out] == [x * x for x in range(9)]
    assert not parallel._SHARED


def test_a_cancelled_run_forgets_its_cases() -> None:
    work = map_work(_square, list(range(50)), Jobs(2), what=str)
    next(work)
    assert len(parallel._SHARED) == 1
    work.close()
    assert not parallel._SHARED
