"""Helpers shared by the subcommands: their common options, progress on stderr, JSON on stdout."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO, TypeVar

from app.export import LinkMode
from app.jsonio import dumps, printable
from app.parallel import SCHEDULER_VARIABLE, Jobs, default_jobs, jobs_of
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


def jobs_count(text: str) -> int:
    """``--jobs N``: a whole number of 1 or more (argparse says so otherwise)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number of 1 or more, not {text!r}")
    return n


def add_jobs_arguments(p: argparse.ArgumentParser, help: str | None = None,
                       scheduler: bool = True) -> None:
    """``-j/--jobs N`` (default: every usable core; 1 runs in this process) and, with
    ``scheduler``, ``--scheduler ADDRESS`` (a Dask cluster; default $SEGMAP_SCHEDULER)."""
    p.add_argument("-j", "--jobs", type=jobs_count, metavar="N", help=help or (
        f"processes to run the per-case work on (default: every core, {default_jobs()} "
        "here; 1 runs it in this process)"))
    if scheduler:
        p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                       help=f"run the per-case work on this Dask scheduler's workers "
                       f"(default: ${SCHEDULER_VARIABLE}; needs segmap[dask], and the "
                       "files at the same paths on every worker)")


def jobs_from(args: argparse.Namespace) -> Jobs:
    """The ``Jobs`` of ``add_jobs_arguments``' options."""
    address = getattr(args, "scheduler", None)
    if address is not None:
        from app.cluster import scheduler_address  # only with a scheduler named

        address = scheduler_address(address)
    return jobs_of(args.jobs, address)


class EscapedStream:
    """A text stream that shows what a terminal would act on as escapes (``printable``):
    a task or file name holding ESC, BEL or CR cannot clear the screen, set the window's
    title or fake a line of the output, and a non-UTF-8 file name prints as ``\\udcff``
    instead of failing. Segmap's own control sequences (the progress line) go to
    ``raw`` instead."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        return self.raw.write(printable(text))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self.raw, name)


def raw_stream(stream: TextIO | EscapedStream) -> TextIO:
    """The stream under an ``EscapedStream`` (for Segmap's own control sequences)."""
    return stream.raw if isinstance(stream, EscapedStream) else stream


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Run the body with stdout and stderr escaping what a terminal would act on."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapedStream(saved[0]), EscapedStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


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
        text = printable(text)
        err = raw_stream(sys.stderr)
        if self.tty:
            text = text[:110]  # one line that updates in place
            err.write("\r\033[K" + text)
            self._shown = True
        else:
            err.write(text + "\n")
        err.flush()

    def close(self) -> None:
        if self._shown:
            err = raw_stream(sys.stderr)
            err.write("\r\033[K")
            err.flush()


def drive(work: Work[T], label: str, enabled: bool = True) -> T:
    """Run a generator to completion with progress on stderr."""
    bar = StderrProgress(label, enabled)
    try:
        return run(work, bar)
    finally:
        bar.close()


_C1 = re.compile("[\u007f-\u009f]")


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (the only thing --json prints there).

    JSON escapes C0 controls itself; DEL and the C1 controls (``\\x9b`` is a terminal's
    CSI) it leaves raw, so they are written as ``\\u009b`` (they occur only in strings)."""
    out = raw_stream(sys.stdout)
    out.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", dumps(obj)))
    out.flush()
