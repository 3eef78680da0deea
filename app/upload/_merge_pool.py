"""The upload's label merges on worker processes: a merge holds the GIL for most of its
time (one merge of 117 binary masks 256x256x200: 2.0 s CPU in 2.1 s), so merges on the
upload's threads share about one core; and a worker holds the merged volume, not the
upload's process (bench/bench_upload_merge.py measures both).

The rules:

* One pool per upload run (``MergePool``), started at the first merge that needs it, with
  at most as many workers as merges may run at once (``TaskContext.merge_slots``); the task
  threads submit to it and each waits for its own merge, seeing a cancel within ``_TICK``.
* A worker gets a small ``MergeJob`` (the series' merge inputs as plain data, the options,
  the run's temp folder) and returns a small ``MergeDone``: the segments, whether pruning
  left nothing, and the file to PUT -- the unchanged source file, or the merged volume
  written atomically to a new file in the run's temp folder (under
  ``tempfile.gettempdir()``, never beside the user's files). The parent never holds the
  merged volume; the task thread streams the file and deletes it after the PUT.
* A MergeError crosses back as data (message, hint, the SDK's message), so the task fails
  with the same text as a merge on its own thread.
* A worker that dies (killed, out of memory) breaks the pool and every merge it held; a
  new pool takes the next merges. A merge whose pool broke is tried once more (one such
  retry at a time, so one deadly series does not take an innocent one down twice); dying
  again fails its task only.
* ``close`` (the run's end: done, failed or cancelled) shuts the pool down, terminating
  the workers if a merge is still running, and removes the temp folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import MappingProxyType

from app.errors import Cancelled, MergeError, SegmapError
from app.merge import SeriesInputs
from app.parallel import Outcome, call_all, let_go, process_pool, reap, stop_pool
from app.progress import run
from app.readers import nifti_bytes

_TICK = 0.25  # how often a waiting task thread looks at the cancel flag


@dataclass(frozen=True)
class MergeJob:
    """One series' merge as a worker gets it (plain data: a ``SeriesInputs`` holds mapping
    proxies, which do not pickle)."""

    files: tuple[str, ...]
    instances: dict[int, tuple[int, ...] | None]
    binary_mask: bool
    png_mask: bool
    masks: dict[str, str | tuple[str, ...]]
    label_validate: bool
    prune: bool
    dry_run: bool
    folder: str  # the run's temp folder: where a merged volume is written

    @classmethod
    def of(cls, inputs: SeriesInputs, *, label_validate: bool, prune: bool, dry_run: bool,
           folder: str) -> MergeJob:
        return cls(tuple(inputs.files), dict(inputs.instances), inputs.binary_mask,
                   inputs.png_mask, dict(inputs.masks), label_validate, prune, dry_run, folder)

    def inputs(self) -> SeriesInputs:
        return SeriesInputs(self.files, MappingProxyType(dict(self.instances)),
                            self.binary_mask, self.png_mask, MappingProxyType(dict(self.masks)))


@dataclass(frozen=True)
class MergeDone:
    """What a worker's merge gave. ``path`` is the file to PUT (``temp``: a file of the
    run's temp folder, deleted after the PUT; else the source, sent as it is), None when
    nothing goes up (empty, or a dry run). ``error`` and ``hint`` are a MergeError's (or
    another SegmapError's, or a file that cannot be read, when ``merge_error`` is False)."""

    segments: dict[int, list[int] | None]
    empty: bool = False
    path: str | None = None
    temp: bool = False
    error: str | None = None
    hint: str | None = None
    sdk_message: str | None = None
    merge_error: bool = True


def merge_job(job: MergeJob) -> MergeDone:
    """Run one merge in a worker (see the module); a MergeError becomes data."""
    try:
        result = run(job.inputs().merge(label_validate=job.label_validate, prune=job.prune))
    except MergeError as exc:
        return MergeDone({}, error=exc.message, hint=exc.hint, sdk_message=exc.sdk_message)
    except SegmapError as exc:
        return MergeDone({}, error=exc.message, hint=exc.hint, merge_error=False)
    except OSError as exc:  # a file moved or changed: as the upload says it on a thread
        return MergeDone({}, error=f"Cannot read {exc.filename or 'a file'}: "
                         f"{exc.strerror or exc}.", merge_error=False)
    if result.empty or job.dry_run:
        return MergeDone(result.segments, result.empty)
    if result.source is not None:  # an unchanged single file goes up as it is
        return MergeDone(result.segments, path=str(result.source))
    return MergeDone(result.segments, path=_write(job.folder, nifti_bytes(result.image())),
                     temp=True)


def _write(folder: str, data: bytes) -> str:
    """``data`` in a new file of ``folder``, atomically: a reader never sees half of it."""
    fd, part = tempfile.mkstemp(prefix="merged-", suffix=".nii.gz.part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        final = part.removesuffix(".part")
        os.replace(part, final)
    except BaseException:
        with contextlib.suppress(OSError):  # gone already
            os.unlink(part)
        raise
    return final


# What a worker runs: a test replaces it with a top-level function of its own (a worker
# started by forkserver imports it by name).
WORKER: Callable[[MergeJob], MergeDone] = merge_job


class WorkerDied(SegmapError):
    """The worker process running a merge died (killed, out of memory)."""


class MergePool:
    """The run's merge workers and temp folder (see the module). Thread-safe."""

    def __init__(self, workers: int, cancel: threading.Event) -> None:
        self.workers = max(1, workers)
        self.cancel = cancel
        self._lock = threading.Lock()
        self._retry = threading.Lock()  # one merge of a broken pool is retried at a time
        self._pool: ProcessPoolExecutor | None = None
        self._folder: str | None = None
        self._running: dict[Future[list[Outcome[MergeDone]]], ProcessPoolExecutor] = {}
        self._survivors: list[BaseProcess] = []  # of broken pools: waited for at close
        self._closed = False

    def job(self, inputs: SeriesInputs, *, label_validate: bool, prune: bool,
            dry_run: bool) -> MergeJob:
        """The job for ``inputs``, writing into this run's temp folder."""
        return MergeJob.of(inputs, label_validate=label_validate, prune=prune,
                           dry_run=dry_run, folder=self._temp_folder())

    def merge(self, job: MergeJob) -> MergeDone:
        """Run ``job`` on a worker and wait; Cancelled when the run's cancel is set, and
        WorkerDied when its worker died twice."""
        try:
            return self._attempt(job)
        except BrokenProcessPool:
            pass
        with self._retry:
            try:
                return self._attempt(job)
            except BrokenProcessPool:
                raise WorkerDied("its worker process died (out of memory?)") from None

    def _attempt(self, job: MergeJob) -> MergeDone:
        if self.cancel.is_set():  # cancelled while this waited for its turn to retry
            raise Cancelled()
        future, pool = self._submit(job)
        try:
            while True:
                if self.cancel.is_set():
                    future.cancel()  # if it has not started; else close() terminates it
                    raise Cancelled()
                try:
                    outcomes = future.result(timeout=_TICK)
                    break
                except FutureTimeout:
                    continue
                except (BrokenProcessPool, CancelledError):
                    if self.cancel.is_set():
                        raise Cancelled() from None
                    self._renew(pool)
                    raise BrokenProcessPool() from None
        finally:
            if future.done():
                with self._lock:
                    self._running.pop(future, None)
        outcome = outcomes[0]
        if not outcome.ok:  # not a SegmapError: call() says the exception in one line
            raise SegmapError(outcome.error or "internal error", outcome.hint)
        return outcome.unwrap()

    def _submit(self, job: MergeJob
                ) -> tuple[Future[list[Outcome[MergeDone]]], ProcessPoolExecutor]:
        with self._lock:
            if self._closed:
                raise Cancelled()
            if self._pool is None:
                self._pool = process_pool(self.workers)
            pool = self._pool
            try:
                future = pool.submit(call_all, WORKER, [job])
            except BrokenProcessPool:  # it broke since: a new pool
                self._survivors.extend(let_go(pool))
                pool = self._pool = process_pool(self.workers)
                future = pool.submit(call_all, WORKER, [job])
            self._running[future] = pool
            return future, pool

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        """The next merge gets a new pool (once per broken pool, whoever sees it first)."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
                self._survivors.extend(let_go(broken))

    def _temp_folder(self) -> str:
        with self._lock:
            if self._folder is None:
                self._folder = tempfile.mkdtemp(prefix="segmap-merge-")
            return self._folder

    def close(self) -> None:
        """Stop the workers (terminated if a merge is running; a broken pool's, which it
        terminates itself, waited for) and remove the temp folder: none outlives the run."""
        with self._lock:
            self._closed = True
            pools = {id(p): p for p in self._running.values()}
            if self._pool is not None:
                pools[id(self._pool)] = self._pool
            running = dict(self._running)
            self._pool = None
            survivors, self._survivors = self._survivors, []
        for pool in pools.values():
            stop_pool(pool, [f for f, p in running.items() if p is pool and not f.done()])
        reap(survivors)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def discard(done: MergeDone) -> None:
    """Delete ``done``'s temp file (after its PUT, or when it will not be sent)."""
    if done.temp and done.path is not None:
        with contextlib.suppress(OSError):  # gone already
            os.unlink(done.path)
