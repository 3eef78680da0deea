"""Scanning a folder tree for DICOM series: headers only, in parallel where it helps.

Files whose names say they are not DICOM (NIfTI, JSON, images, ...) are skipped
without being opened; other files are sniffed (preamble, bare dataset, gzip) and
non-DICOM ones are ignored silently. Files that look like DICOM but cannot be
read are reported as unreadable entries, never raised.

Reading is I/O then parsing. The parser holds the GIL, so on a warm page cache
threads only slow it down; on a cold disk or a network share they overlap the
waits. ``read_headers`` measures which case it is in and switches to a small
thread pool only when waiting dominates (bench/bench_dicom_scan.py has the figures).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from app.errors import InputError
from app.jsonio import regular_file
from app.progress import Progress, Work
from app.readers._walk import walk_folder
from app.readers.dicom._group import build_series
from app.readers.dicom._header import Header, HeaderError, maybe_dicom_name, read_header
from app.readers.dicom._series import DicomSeries

CHUNK = 64  # files per task: amortises scheduling, keeps progress and cancel responsive
THREADS = 4  # I/O overlap; more gains little with the GIL held while parsing


def _walk(root: Path) -> Iterator[Path]:
    for base, _dirs, names in walk_folder(root):
        for name in names:
            if maybe_dicom_name(name):
                yield base / name


def list_candidates(root_or_paths: Path | str | Sequence[Path | str]) -> list[Path]:
    """Files that may be DICOM under the given folders (and the given files themselves)."""
    roots = [root_or_paths] if isinstance(root_or_paths, str | os.PathLike) else root_or_paths
    found: list[Path] = []
    for r in roots:
        p = Path(r)
        if p.is_dir():
            found.extend(_walk(p))
        elif os.path.lexists(p):
            regular_file(p, "DICOM file")  # a FIFO or a device is refused, never opened
            found.append(p)
        else:
            raise InputError(f"Not found: {p}", "Check the path of the folder or file to scan.")
    return list(dict.fromkeys(found))


def read_chunk(paths: Sequence[Path]) -> tuple[list[Header], list[tuple[Path, str]]]:
    """Headers of the DICOM files among ``paths``, and the unreadable ones with a reason."""
    headers: list[Header] = []
    broken: list[tuple[Path, str]] = []
    for p in paths:
        try:
            h = read_header(p)
        except HeaderError as exc:
            broken.append((p, exc.reason))
            continue
        except OSError as exc:
            broken.append((p, f"it cannot be read ({exc.strerror or exc})"))
            continue
        except Exception as exc:  # noqa: BLE001 - a scan reports a file, it never stops
            broken.append((p, f"unexpected error reading it ({type(exc).__name__}: {exc})"))
            continue
        if h is not None:
            headers.append(h)
    return headers, broken


def _io_bound(wall: float, cpu: float) -> bool:
    # A quarter of the time spent waiting for the disk (or network): threads overlap the
    # waits. From the page cache wall and CPU time agree within 1%.
    return wall > 0.005 and wall > 1.25 * cpu


def read_headers(paths: Sequence[Path], threads: int = THREADS
                 ) -> Work[tuple[list[Header], list[tuple[Path, str]]]]:
    """Read every header; yields progress.

    Chunks are read on this thread while that is CPU-bound (files in the page
    cache: threads only add GIL contention, measured 40% slower); as soon as a
    chunk spends most of its time waiting for I/O (a cold disk, a network
    share), the rest goes to a thread pool so the waits overlap.
    """
    headers: list[Header] = []
    broken: list[tuple[Path, str]] = []
    total = len(paths)
    chunks = [paths[i : i + CHUNK] for i in range(0, total, CHUNK)]
    yield Progress(0, total, "Reading DICOM headers")
    done = 0
    rest = iter(chunks)
    for chunk in rest:
        wall, cpu = time.perf_counter(), time.thread_time()
        h, b = read_chunk(chunk)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        headers += h
        broken += b
        done += len(chunk)
        yield Progress(done, total, "Reading DICOM headers")
        if threads > 1 and _io_bound(wall, cpu):
            break
    pending = list(rest)
    if not pending:
        return headers, broken
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dicom-scan")
    try:
        futures: list[Future[tuple[list[Header], list[tuple[Path, str]]]]] = []
        it = iter(pending)
        for chunk in it:  # a few chunks in flight: bounded memory, prompt cancel
            futures.append(pool.submit(read_chunk, chunk))
            if len(futures) >= 2 * threads:
                break
        while futures:
            h, b = futures.pop(0).result()
            headers += h
            broken += b
            done += CHUNK
            nxt = next(it, None)
            if nxt is not None:
                futures.append(pool.submit(read_chunk, nxt))
            yield Progress(min(done, total), total, "Reading DICOM headers")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return headers, broken


def scan_dicom(root_or_paths: Path | str | Sequence[Path | str], threads: int = THREADS
               ) -> Work[list[DicomSeries]]:
    """Every DICOM series under a folder (or among files), with geometry and warnings.

    Reads headers only (never pixel data). Yields Progress; returns the series
    sorted by patient, study and series number, then one entry per folder of
    unreadable DICOM files (kind "other", uid "").
    """
    yield Progress(0, 0, "Listing files")
    paths = list_candidates(root_or_paths)
    headers, broken = yield from read_headers(paths, threads)
    yield Progress(len(paths), len(paths), "Grouping series")
    return build_series(headers, broken)
