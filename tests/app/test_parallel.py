"""app.parallel: per-case work on a process pool, outcomes in order, failures and cancels."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.errors import InputError, SegmapError
from app.parallel import (
    Jobs,
    Outcome,
    default_jobs,
    jobs_of,
    map_work,
    process_pool,
    start_method,
)
from app.progress import Progress, run


def _square(x: int) -> int:
    return x * x


def _picky(x: int) -> int:
    if x == 3:
        raise SegmapError(f"case {x} is unreadable", "read it again")
    if x == 5:
        raise KeyError("nope")
    return x


def _slow(x: int) -> int:
    time.sleep(0.05 if x < 2 else 60)
    return x


def test_jobs_default_to_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEGMAP_SCHEDULER", raising=False)
    assert jobs_of(None) == Jobs(default_jobs())
    assert jobs_of(3) == Jobs(3)
    monkeypatch.setenv("SEGMAP_SCHEDULER", "tcp://h:8786")
    assert jobs_of(2) == Jobs(2, "tcp://h:8786")
    assert jobs_of(2, "tcp://other:1").scheduler == "tcp://other:1"
    with pytest.raises(InputError, match="1 or more"):
        jobs_of(0)


@pytest.mark.parametrize("n", [1, 2])
def test_outcomes_come_back_in_the_order_of_the_cases(n: int) -> None:
    steps: list[Progress] = []
    out = run(map_work(_square, list(range(12)), Jobs(n), what=lambda x: f"case {x}"),
              steps.append)
    assert [o.value for o in out] == [x * x for x in range(12)]
    assert all(o.ok for o in out)
    assert steps and steps[-1].done == 12 and steps[-1].total == 12


@pytest.mark.parametrize("n", [1, 2])
def test_a_failing_case_does_not_stop_the_others_and_says_what(n: int) -> None:
    out = run(map_work(_picky, list(range(7)), Jobs(n), what=str))
    assert [o.value for o in out if o.ok] == [0, 1, 2, 4, 6]
    assert out[3] == Outcome(error="case 3 is unreadable", hint="read it again")
    assert out[5].error == "internal error: KeyError: 'nope'"
    with pytest.raises(SegmapError, match="case 3"):
        out[3].unwrap()
    assert out[4].unwrap() == 4


@pytest.mark.parametrize("batch", [1, 3, 50])
def test_batches_keep_the_order_and_each_case_its_own_error(batch: int) -> None:
    steps: list[Progress] = []
    out = run(map_work(_picky, list(range(8)), Jobs(2), what=str, batch=batch), steps.append)
    assert [o.value for o in out] == [0, 1, 2, None, 4, None, 6, 7]
    assert out[3].error == "case 3 is unreadable" and out[5].error is not None
    assert steps[-1].done == 8


@pytest.mark.parametrize(("n", "batch"), [(1, 1), (2, 1), (2, 3)])
def test_each_outcome_is_handed_over_in_order_before_the_run_ends(n: int, batch: int) -> None:
    seen: list[tuple[int, int | None]] = []
    steps: list[int] = []

    def step(p: Progress) -> None:
        steps.append(len(seen))  # what the caller could show at this step

    out = run(map_work(_picky, list(range(9)), Jobs(n), what=str, batch=batch,
                       on_done=lambda i, o: seen.append((i, o.value))), step)
    assert [i for i, _ in seen] == list(range(9))  # each once, in the cases' order
    assert [v for _, v in seen] == [o.value for o in out]
    assert steps[-1] == 9 and steps == sorted(steps)


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)  # a worker killed (out of memory, kill -9)
    time.sleep(0.02)
    return x


def test_a_worker_that_dies_fails_only_the_cases_in_flight(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    # the broken pool terminates its other worker on its own thread: late on a loaded
    # machine, after the run has gone on; the run still leaves no process behind
    terminate = BaseProcess.terminate
    monkeypatch.setattr(BaseProcess, "terminate", lambda self: (time.sleep(2), terminate(self))[1])
    out = run(map_work(_dies_on_three, list(range(30)), Jobs(2), what=str))
    assert multiprocessing.active_children() == []
    failed = [i for i, o in enumerate(out) if not o.ok]
    assert 3 in failed and len(failed) <= 8  # those in flight: 2 * 2, and a few sent since
    assert all("BrokenProcessPool" in str(out[i].error) for i in failed)
    assert [o.value for o in out if o.ok] == [i for i in range(30) if i not in failed]


class _Counting(ThreadPoolExecutor):
    """A thread pool that remembers the most cases submitted and not yet finished."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.lock = threading.Lock()
        self.open = 0
        self.most = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self.lock:
            self.open -= 1


def test_at_most_twice_the_jobs_are_submitted_at_once() -> None:
    pool = _Counting()
    out = run(map_work(_square, list(range(40)), Jobs(2), what=str, executor=lambda: pool))
    assert [o.value for o in out] == [x * x for x in range(40)]
    assert 1 <= pool.most <= 4


def _workers(pool: Executor) -> list[int]:
    return [p.pid for p in getattr(pool, "_processes", {}).values()]


def _state(pid: int) -> str | None:
    """The process's state letter from /proc (``Z``: a zombie), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def test_fork_only_while_this_process_runs_one_thread() -> None:
    assert start_method() == ("fork" if threading.active_count() == 1 else "forkserver")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # the wizard's QThread, say
    other.start()
    try:
        assert start_method() == "forkserver"
    finally:
        stop.set()
        other.join()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_cancel_stops_the_run_and_leaves_no_worker_process(method: str) -> None:
    pool: ProcessPoolExecutor = process_pool(2, method)
    work = map_work(_slow, list(range(6)), Jobs(2), what=str, executor=lambda: pool)
    deadline = time.monotonic() + 30
    seen: list[int] = []
    while time.monotonic() < deadline:  # until both workers are in a 60 s case
        p = next(work)
        seen = _workers(pool) or seen
        if p.done >= 2 and len(seen) == 2:
            break
    assert len(seen) == 2
    started = time.monotonic()
    work.close()  # the wizard's Cancel
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while any(_state(pid) is not None for pid in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {pid: _state(pid) for pid in seen} == {pid: None for pid in seen}  # nor zombies


def test_a_scheduler_asks_the_cluster_module_for_its_executor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Jobs] = []

    def executor_for(jobs: Jobs) -> Executor:
        asked.append(jobs)
        return ThreadPoolExecutor(2)

    monkeypatch.setitem(sys.modules, "app.cluster", SimpleNamespace(executor_for=executor_for))
    out = run(map_work(_square, [1, 2, 3], Jobs(1, "tcp://h:8786"), what=str))
    assert [o.value for o in out] == [1, 4, 9]
    assert asked == [Jobs(1, "tcp://h:8786")]


def test_a_scheduler_without_the_cluster_module_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "app.cluster", None)  # importing it fails
    with pytest.raises(SegmapError, match="Dask cluster"):
        run(map_work(_square, [1, 2], Jobs(2, "tcp://127.0.0.1:1"), what=str))
