"""Long work as generators: they yield Progress and return their result.

The core knows nothing of threads. A caller drives the generator: the CLI prints
progress on stderr, the wizard runs it on a worker thread and cancels it by
closing it at the next yield.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
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


def within(work: Work[T], step: float, total: float, what: str) -> Work[T]:
    """Run ``work`` as step ``step`` of ``total``: its progress is yielded as a part of that
    step, its messages after ``what``; its result is returned. Closing this (a cancel)
    closes ``work`` too."""
    try:
        while True:
            try:
                p = next(work)
            except StopIteration as stop:
                result: T = stop.value
                return result
            yield Progress(step + p.fraction, total, f"{what}: {p.message}")
    except GeneratorExit:
        work.close()
        raise
