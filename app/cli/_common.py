"""Helpers shared by the subcommands: their common options, progress on stderr, JSON on stdout."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TypeVar

from app.export import LinkMode
from app.jsonio import dumps
from app.progress import Progress, Work, run

T = TypeVar("T")


def add_root_argument(p: argparse.ArgumentParser) -> None:
    """``--root DIR``: what an items list's relative paths are resolved against."""
    p.add_argument("--root", metavar="DIR", help="resolve relative paths against DIR "
                   "(default: the items list's folder)")


def add_series_arguments(p: argparse.ArgumentParser) -> None:
    """``ITEMS.json --task NAME [--series N] [--root DIR]``: one series of an items list."""
    p.add_argument("items", metavar="ITEMS.json", help="the items list")
    p.add_argument("--task", required=True, metavar="NAME", help="task name")
    p.add_argument("--series", type=int, default=0, metavar="N", help="series index (default 0)")
    add_root_argument(p)


def add_dcm_names_argument(p: argparse.ArgumentParser) -> None:
    """``--dcm-names [link|symlink|copy]``: DICOM files RedBrick refuses for their names
    written under ``.dcm`` names beside the list (``app.export.rename_dicom``)."""
    p.add_argument("--dcm-names", nargs="?", const=LinkMode.HARDLINK, type=LinkMode,
                   choices=list(LinkMode), metavar="link|symlink|copy",
                   help="DICOM files without .dcm (PACS exports named by UID, which RedBrick "
                   "refuses): write them under .dcm names into dicom-renamed/ beside the list "
                   "and point the list there; as hard links (link, the default: no space "
                   "used), symbolic links, or copies; links fall back to copies where they "
                   "cannot be made")


class StderrProgress:
    """Prints progress on stderr: one updating line on a terminal; otherwise (a log, a
    pipe) a line when the text changes, at most one a second, never the same line twice."""

    def __init__(self, label: str, enabled: bool = True, interval: float = 1.0) -> None:
        self.label = label
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.interval = interval
        self._last = 0.0
        self._shown = False
        self._text = ""

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = p.total and p.done >= p.total
        if not final and now - self._last < (0.1 if self.tty else self.interval):
            return
        pct = f"{100 * p.fraction:3.0f}%" if p.total else "   "
        text = f"{self.label}: {pct} {p.message}"
        if not self.tty and text == self._text:
            return
        self._last, self._text = now, text
        if self.tty:
            text = text[:110]  # one line that updates in place
            sys.stderr.write("\r\033[K" + text)
            self._shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def drive(work: Work[T], label: str, enabled: bool = True) -> T:
    """Run a generator to completion with progress on stderr."""
    bar = StderrProgress(label, enabled)
    try:
        return run(work, bar)
    finally:
        bar.close()


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (the only thing --json prints there)."""
    sys.stdout.write(dumps(obj))
    sys.stdout.flush()
