"""Per-case work on every core: ``map_work`` runs one picklable function per case on a
process pool and hands the outcomes back in the cases' order.

Threads (``app.progress.in_parallel``) overlap reads that release the GIL; the census,
the header parsing and the checks around them are Python, so a scan or a validation
needs processes to use more than one core. The rules:

* ``fn`` is a top-level function (it is pickled by name) and its argument and result
  are picklable; a worker holds one case at a time, and at most ``2 * n`` cases are
  submitted at once, so memory stays bounded by the pool's size.
* One case failing never stops the others: its ``Outcome`` carries the error (a
  ``SegmapError``'s message and hint, or one line naming any other exception's type).
* A worker that dies (killed, out of memory) fails the cases the pool held then (at most
  ``2 * n`` batches, and any sent before the pool saw it), each with that error; a new
  pool runs the rest.
* Closing the work (the wizard's Cancel, Ctrl-C in the CLI) cancels what has not
  started and terminates the workers: nothing keeps running, no zombie is left.
* ``Jobs(1)`` runs everything here, one case after another, with no pool at all.

Workers start by ``fork`` where that is safe (Linux, this process running one thread: a
CLI command), a pool then ready in milliseconds with Segmap already imported; else by
``forkserver``: forking the wizard's process (a QThread, a report's thread pool) could
copy a lock another thread holds and hang the child, while the fork server is a fresh
single-threaded process that forks each worker; its first start imports Segmap once
(0.7 s quiet, 1.5 s under load; ``warm_up`` starts it early), a pool after it ~30 ms.
A forked worker reads its cases from its copy of this process's memory (``call_shared``:
a request names the run and the cases' places); the fork server's workers receive them
pickled. Results always come back pickled (``app.readers.Runs`` packs its arrays small).

``Jobs.scheduler`` (``--scheduler``, ``SEGMAP_SCHEDULER``) sends the same work to a Dask
cluster: ``app.cluster.executor_for`` gives the executor.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass
from importlib import import_module
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from app import allocator, cores
from app.errors import InputError, SegmapError
from app.progress import Progress, Work

A = TypeVar("A")
R = TypeVar("R")

SCHEDULER_VARIABLE = "SEGMAP_SCHEDULER"
# How often a waiting run yields (so a cancel is seen) when no case has finished.
_TICK = 0.25
# Batches per worker thread on a Dask cluster (``map_work``): each task through its scheduler
# costs about 5 ms, as long as a small case; 16 keep the workers even at the end of a run (with
# 4, one worker idled for the last batch of each step: 1,000 nnU-Net cases took 6.6-7.1 s on a
# LocalCluster of 2 where 16 take 5.7 s).
CLUSTER_BATCHES = 16
# Modules the fork server imports once, so each worker starts with them loaded.
_PRELOAD = ["app.parallel", "app.discover", "app.validate"]


@dataclass(frozen=True)
class Jobs:
    """How per-case work runs: ``n`` processes here (1: in this process), or on the Dask
    scheduler at ``scheduler`` (``tcp://HOST:8786``) when one is given."""

    n: int
    scheduler: str | None = None


IN_PROCESS = Jobs(1)  # the default of the core's functions: no pool


def default_jobs() -> int:
    """The cores this process may run on (its CPU affinity where the system says)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def jobs_of(n: int | None, scheduler: str | None = None) -> Jobs:
    """``Jobs`` from a command line: ``n`` (None: every usable core) and ``scheduler``
    (None: ``$SEGMAP_SCHEDULER``, if set and not empty)."""
    if n is not None and n < 1:
        raise InputError(f"--jobs {n}: the number of processes is 1 or more.",
                         "Leave --jobs out to use every core, or give --jobs 1 to run in "
                         "one process.")
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_VARIABLE) or None
    return Jobs(default_jobs() if n is None else n, scheduler)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What one case's work gave: its ``value``, or the ``error`` that stopped it (with
    the ``hint`` a ``SegmapError`` carried)."""

    value: R | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        """The value; the error raised again as a ``SegmapError`` if the case failed."""
        if self.error is not None:
            raise SegmapError(self.error, self.hint)
        return self.value  # type: ignore[return-value]  # R may itself allow None


def call(fn: Callable[[A], R], arg: A) -> Outcome[R]:
    """``fn(arg)`` as an ``Outcome``: an error becomes data, so it crosses a process
    boundary whole (some exceptions do not pickle) and never stops the other cases."""
    try:
        return Outcome(fn(arg))
    except SegmapError as exc:
        return Outcome(error=exc.message, hint=exc.hint)
    except Exception as exc:  # noqa: BLE001 -- reported as the case's outcome, not lost
        return Outcome(error=_internal(exc))


def _internal(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"internal error: {type(exc).__name__}" + (f": {first[0]}" if first else "")


def _quiet_worker(spare: bool) -> None:
    """Ctrl-C reaches the whole process group: the parent alone decides (it terminates
    the workers), so a worker never dies half-way through a case on its own. What the
    worker inherited is left out of its garbage collections (``gc.freeze``): a collection
    touching each of the parent's objects would copy every page they are on. Its
    allocator is tuned and its collector paced (``app.allocator``); ``spare``: whether
    each worker has a core beside its own for a second thread (``app.cores``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
    allocator.tune()  # a fork server's worker starts without its parent's settings
    allocator.pace_collector()
    cores.set_spare(spare)


def start_method() -> str:
    """How workers start: ``fork`` on Linux while this process runs one thread (a CLI
    command: a worker is a copy made in a millisecond, Segmap already imported); else
    ``forkserver`` (see the module): a copy of a process with other threads (the
    wizard's QThread, Qt's own) could hold a lock no thread of the copy will release."""
    single = threading.active_count() == 1
    return "fork" if single and sys.platform.startswith("linux") else "forkserver"


def _context(method: str) -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(method)
    if isinstance(context, multiprocessing.context.ForkServerContext):
        context.set_forkserver_preload(_PRELOAD)
    return context


def process_pool(n: int, method: str | None = None) -> ProcessPoolExecutor:
    """A pool of ``n`` worker processes started by ``method`` (default: ``start_method``);
    a worker has a core to spare when the pool takes at most half of them."""
    return ProcessPoolExecutor(max_workers=n, mp_context=_context(method or start_method()),
                               initializer=_quiet_worker, initargs=(2 * n <= default_jobs(),))


def warm_up(jobs: Jobs) -> None:
    """Start the fork server now when ``jobs`` will need it: it imports Segmap (1-1.5 s)
    while this process does its first steps (walking a folder), not after."""
    if jobs.n > 1 and jobs.scheduler is None and start_method() == "forkserver":
        _context("forkserver")
        forkserver.ensure_running()


def _executor_for(jobs: Jobs) -> Callable[[], Executor]:
    """The executor a run makes: the Dask cluster's when ``jobs.scheduler`` is set."""
    if jobs.scheduler is None:
        return lambda: process_pool(jobs.n)
    try:
        cluster = import_module("app.cluster")  # optional: only with a scheduler
    except ImportError as exc:
        raise InputError(f"--scheduler {jobs.scheduler}: this Segmap cannot run work on a Dask "
                         f"cluster ({exc}).",
                         "Install the dask extra (pip install 'segmap[dask]'), or leave "
                         "--scheduler and SEGMAP_SCHEDULER unset to use this machine's "
                         "cores.") from exc
    made: Callable[[Jobs], Executor] = cluster.executor_for
    return lambda: made(jobs)


def call_all(fn: Callable[[A], R], args: Sequence[A]) -> list[Outcome[R]]:
    """``call`` for each of ``args``, one after another (a batch of cheap cases)."""
    return [call(fn, arg) for arg in args]


class Batch(Generic[R]):
    """A batch's outcomes as one object, so that every transport pickles them whole: Dask
    serialises a list item by item (the 3,104 outcomes of a 1,000-case scan took 6.5 MB
    and 0.44 s to load in its client, against 2.1 MB and 0.1 s as one pickle)."""

    __slots__ = ("outcomes",)

    def __init__(self, outcomes: list[Outcome[R]]) -> None:
        self.outcomes = outcomes


def call_batch(fn: Callable[[A], R], args: Sequence[A]) -> Batch[R]:
    """``call_all``, its outcomes sent back as one ``Batch``."""
    return Batch(call_all(fn, args))


# The function and cases of each run on this computer's pool, by run: a worker forked from
# this process reads its batch from its copy of them (``call_shared``), so no case is
# pickled to it (a scan's census job, paths and header, costs more to unpickle than to send).
_SHARED: dict[int, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
_RUNS = itertools.count()


def call_shared(run: int, start: int, stop: int) -> Batch[Any]:
    """``call_batch`` of cases ``start:stop`` of run ``run``, in a worker forked after the
    run was shared (its memory holds them)."""
    fn, args = _SHARED[run]
    return call_batch(fn, args[start:stop])


def _local_pool(n: int) -> tuple[ProcessPoolExecutor, bool]:
    """A pool of ``n`` (``process_pool``) and whether its workers are forks of this process."""
    method = start_method()
    return process_pool(n, method), method == "fork"


def map_work(fn: Callable[[A], R], args: Sequence[A], jobs: Jobs, *,
             what: Callable[[A], str], batch: int = 1,
             executor: Callable[[], Executor] | None = None,
             on_done: Callable[[int, Outcome[R]], None] | None = None
             ) -> Work[list[Outcome[R]]]:
    """Run ``fn(arg)`` for every ``arg`` (on ``jobs.n`` processes; ``executor`` makes
    another pool), yield Progress as cases finish (``what(arg)`` says which), return
    their outcomes in the order of ``args``. ``batch`` cases go to a worker at once:
    more than 1 for cases of a millisecond (a header read), where sending each alone
    would cost as much as the case. ``on_done(i, outcome)`` is called here, before the
    next Progress, for each case in the order of ``args`` as soon as it and every case
    before it are done (a caller shows results while the rest run). Closing it stops
    everything (see the module)."""
    total = len(args)
    if executor is None and jobs.scheduler is None and (jobs.n <= 1 or total <= 1):
        out: list[Outcome[R]] = []
        for i, arg in enumerate(args):
            out.append(call(fn, arg))
            if on_done is not None:
                on_done(i, out[-1])
            yield Progress(i + 1, total, what(arg))  # as a pool says: done, and which
        return out
    local = executor is None and jobs.scheduler is None
    make = executor if executor is not None else _executor_for(jobs)

    def new_pool() -> tuple[Executor, bool]:  # the pool, and whether its workers are forks
        return _local_pool(jobs.n) if local else (make(), False)

    results: list[Outcome[R]] = []
    pending: dict[Future[Batch[R]], int] = {}  # a batch -> its first case
    finished: dict[int, list[Outcome[R]]] = {}
    survivors: list[BaseProcess] = []  # of broken pools
    shared = next(_RUNS)
    _SHARED[shared] = (fn, args)  # before any fork: a forked worker finds the cases there
    try:
        pool, forked = new_pool()
    except BaseException:
        del _SHARED[shared]
        raise
    # bounded: every worker busy, one more batch each waiting (a cluster says its workers)
    slots = getattr(pool, "slots", None)
    limit = 2 * max(1, slots if isinstance(slots, int) else jobs.n)
    size = max(1, batch)
    if isinstance(slots, int):  # a cluster's task costs ~5 ms: a few batches per worker
        size = max(size, -(-total // (CLUSTER_BATCHES * max(1, slots))))
    starts: Iterator[int] = iter(range(0, total, size))
    try:
        while True:
            for start in starts:
                try:
                    future = _submit(pool, forked, shared, fn, args, start, size)
                except BrokenExecutor:  # a worker died (killed, out of memory): the cases
                    survivors.extend(let_go(pool))  # it had are errors; a new pool goes on
                    pool, forked = new_pool()
                    future = _submit(pool, forked, shared, fn, args, start, size)
                pending[future] = start
                if len(pending) >= limit:
                    break
            if not pending:
                break
            done, _ = wait(pending, timeout=_TICK, return_when=FIRST_COMPLETED)
            last = None
            for future in done:
                last = pending.pop(future)
                finished[last] = _outcomes(future, min(size, total - last))
            while len(results) in finished:  # in order, as far as they are done
                first = len(results)
                results.extend(finished.pop(first))
                if on_done is not None:
                    for i in range(first, len(results)):
                        on_done(i, results[i])
            count = len(results) + sum(len(x) for x in finished.values())
            message = what(args[last]) if last is not None else "working"
            yield Progress(count, total, message)  # a cancel stops here
    finally:
        del _SHARED[shared]
        stop_pool(pool, pending)
        reap(survivors)
    return results


def _submit(pool: Executor, forked: bool, shared: int, fn: Callable[[A], R],
            args: Sequence[A], start: int, size: int) -> Future[Batch[R]]:
    """Send cases ``start:start + size``: by their place in the run when the workers are
    forks of this process (``call_shared``), else the cases themselves."""
    if forked:
        return pool.submit(call_shared, shared, start, start + size)
    return pool.submit(call_batch, fn, args[start:start + size])


def _outcomes(future: Future[Batch[R]], size: int) -> list[Outcome[R]]:
    """A finished batch's outcomes; a worker that died (killed, out of memory) is the
    error of each case of its batch."""
    exc = future.exception()
    if exc is not None:
        return [Outcome(error=_internal(exc))] * size
    return future.result().outcomes


def stop_pool(pool: Executor, pending: Collection[Future[Any]]) -> None:
    """Shut ``pool`` down: at once, with its workers terminated, if cases are still
    pending (a cancel or an error here); else after the workers have exited."""
    if not pending:
        pool.shutdown(wait=True)
        return
    for future in pending:
        future.cancel()
    # a process pool's workers (Python 3.14 has terminate_workers(); 3.11 keeps them here)
    processes = _processes(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    reap(processes)


def _processes(pool: Executor) -> list[BaseProcess]:
    return list((getattr(pool, "_processes", None) or {}).values())


def let_go(broken: Executor) -> list[BaseProcess]:
    """Shut a broken pool down without waiting; its workers, which it terminates on its own
    thread (maybe after the run has gone on, and its shutdown then forgets them), for
    ``reap`` at the run's end."""
    processes = _processes(broken)
    broken.shutdown(wait=False)
    return processes


def reap(processes: Sequence[BaseProcess]) -> None:
    """Wait for ``processes`` to end (5 s each, then killed): none outlives its run."""
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
