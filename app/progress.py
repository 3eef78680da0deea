"""Long work as generators: they yield Progress and return their result.

A caller drives the generator: the CLI prints progress on stderr, the wizard runs it
on a worker thread and cancels it by closing it at the next yield. The one place the
core uses threads is ``in_parallel``: independent works (a report's cases) side by side,
their results handed back in order, a cancel still stopping them at their next step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from queue import Empty, SimpleQueue
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """How far long work has got: ``done`` of ``total`` steps, and what it is doing."""

    done: float
    total: float
    message: str = ""

    @property
    def fraction(self) -> float:
        """Progress in [0, 1]."""
        return min(1.0, self.done / self.total) if self.total else 0.0


Work = Generator[Progress, None, T]


def run(work: Work[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive ``work`` to the end and return its result."""
    while True:
        try:
            step = next(work)
        except StopIteration as stop:
            result: T = stop.value
            return result
        if on_progress is not None:
            on_progress(step)


def relay(work: Work[T], shown: Callable[[Progress], Progress]) -> Work[T]:
    """Run ``work``, yielding ``shown(p)`` for each of its steps ``p``; its result is
    returned. Closing this (a cancel) closes ``work`` too."""
    try:
        while True:
            try:
                p = next(work)
            except StopIteration as stop:
                result: T = stop.value
                return result
            yield shown(p)
    except GeneratorExit:
        work.close()
        raise


def within(work: Work[T], step: float, total: float, what: str) -> Work[T]:
    """Run ``work`` as step ``step`` of ``total``: its progress is yielded as a part of that
    step, its messages after ``what``; its result is returned. Closing this (a cancel)
    closes ``work`` too."""
    return (yield from relay(work, lambda p: Progress(step + p.fraction, total,
                                                      f"{what}: {p.message}")))


class _Stopped(Exception):
    """A work stopped at its next step because the parallel run was closed (a cancel)."""


_Steps = SimpleQueue[tuple[int, Progress | None]]  # (work, its step or None: it has ended)


def _ended(steps: _Steps, i: int, _: object) -> None:
    steps.put((i, None))  # wakes the caller: work i is done


def _drive(work: Work[T], stop: threading.Event, steps: _Steps, i: int) -> T:
    """Run ``work`` on a pool thread, each step put on ``steps``; stop at its next step
    once ``stop`` is set."""
    while True:
        if stop.is_set():
            work.close()
            raise _Stopped
        try:
            steps.put((i, next(work)))
        except StopIteration as done:
            result: T = done.value
            return result


def in_parallel(works: Iterable[tuple[str, Work[T]]], total: int, jobs: int,
                done: Callable[[T], None]) -> Work[None]:
    """Run ``works`` (each with what it is about) on ``jobs`` threads, never more than
    ``jobs`` at a time (so memory is bounded by that many), and hand their results to
    ``done`` in order, on the caller's thread. Yields every step of every work, as the
    progress of the whole (``total`` works: those done, plus the fractions of those
    running); a work's error is raised here, as if it had run alone. Closing this (a
    cancel) stops every running work at its next step. ``jobs`` 1 runs them here, one by
    one.

    The works must only read shared state: numpy, zlib and file reads release the GIL, so
    threads overlap their real work."""
    if jobs <= 1:
        for i, (what, work) in enumerate(works):
            done((yield from within(work, i, total, what)))
        return
    stop = threading.Event()
    steps: _Steps = SimpleQueue()
    queue = enumerate(works)
    running: dict[int, tuple[str, Future[T], float]] = {}  # in order: what, future, fraction
    finished = 0
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="segmap-work") as pool:

        def start_next() -> None:
            for i, (what, work) in queue:
                future = pool.submit(_drive, work, stop, steps, i)
                future.add_done_callback(partial(_ended, steps, i))
                running[i] = (what, future, 0.0)
                return

        try:
            for _ in range(jobs):
                start_next()
            while running:
                head = min(running)
                future = running[head][1]
                if future.done():
                    del running[head]
                    result = future.result()  # a work's error is raised here
                    finished += 1
                    done(result)
                    start_next()
                    continue
                try:
                    i, step = steps.get(timeout=1.0)
                except Empty:
                    continue
                if step is not None and i in running:
                    name, fut, _ = running[i]
                    running[i] = (name, fut, step.fraction)
                    part = sum(f for _, _, f in running.values())
                    yield Progress(min(total, finished + part), total, f"{name}: {step.message}")
        finally:  # a cancel, an error or the end: running works stop at their next step
            stop.set()
            for _, future, _ in running.values():
                future.cancel()
