"""The C allocator's thresholds for volume work: fixed where glibc's own rule would take them.

glibc's ``malloc`` gives a block of 128 KB or more its own ``mmap``, returned to the system
when freed, and raises that threshold as such blocks are freed (its "dynamic" rule), so a
program that allocates and frees the same few MB again and again soon reuses heap memory.
Setting any threshold turns the rule off for good, and a Dask nanny sets one for every worker
it starts (``MALLOC_TRIM_THRESHOLD_=65536``): there, every slice, chunk and run buffer of a
census is a fresh ``mmap`` whose pages the kernel faults in and zeroes again. Measured on 200
nnU-Net label maps, a census took 1.5-1.9x the CPU with that variable set, and one process
without it spent 12-18 % of a scan's CPU on the same page faults while the rule warmed up.

``tune()`` fixes the thresholds at where the dynamic rule ends (blocks up to 32 MB from the
heap, up to 64 MB of freed heap kept), in Segmap's own processes and its pool's workers. A
cluster's worker is someone else's process: ``for_task()`` tunes it for the length of a
Segmap task and then puts back what the worker's environment asked for, returning the freed
memory (``malloc_trim``), as the nanny intended. Elsewhere than glibc these do nothing.

``paced_collector()`` paces Python's cyclic garbage collector for a command's length (see
``COLLECTOR``), and ``pace_collector()`` a pool's worker for good. At its default pace (a
young collection every 700 net allocations, the whole heap at every tenth of the next) a
program that builds a large structure that stays scans all of it again and again:
``segmap build`` of 10,000 cases spent 1.3-1.5 s of 8.6 s in 12 full collections that found
nothing. Paced as mypy paces it for the same reason, the build took 7.2 s with 12 young
collections and no full one, at the same peak memory. Not in the wizard's process: there the
collections that are put off free Qt objects later, in whichever thread allocates then (a
pytest-qt session ended in a segmentation fault collecting them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest dynamic mmap threshold on 64-bit (HEAP_MAX / 2)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what the dynamic rule sets beside it
_ENVIRONMENT = (("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD),
                ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD))

# (young, middle, whole-heap) collection thresholds: a young collection every 100,000 net
# allocations, the next generations after 20 of the one before
COLLECTOR = (100_000, 20, 20)

_lock = threading.Lock()
_tasks = 0  # Segmap tasks running in this process under for_task


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    needed = ("gnu_get_libc_version", "mallopt", "malloc_trim")
    return libc if all(hasattr(libc, name) for name in needed) else None


_LIBC = _glibc()


def tune() -> bool:
    """Fix this process's thresholds (see the module); False where the C library is not
    glibc. A fork keeps them; a process started anew (a fork server's) calls this again."""
    if _LIBC is None:
        return False
    _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return True


def pace_collector() -> None:
    """Pace this process's garbage collector for good, and turn it on (a pool's worker:
    no Qt in it; forked from the wizard, whose window collects on a timer instead)."""
    gc.set_threshold(*COLLECTOR)
    gc.enable()


@contextmanager
def paced_collector() -> Iterator[None]:
    """Pace the garbage collector while the block runs, then put its pace back."""
    before = gc.get_threshold()
    gc.set_threshold(*COLLECTOR)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _restore() -> None:
    """What this process's environment set (the nanny's variables), and the freed memory
    returned to the system; a threshold the environment did not set stays as tuned."""
    assert _LIBC is not None
    for name, parameter in _ENVIRONMENT:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            _LIBC.mallopt(parameter, int(value))
    _LIBC.malloc_trim(0)


@contextmanager
def for_task() -> Iterator[None]:
    """Tuned while the block runs (tasks on several threads of a worker overlap: the last
    one to end restores); afterwards what the process's environment set."""
    global _tasks
    if _LIBC is None:
        yield
        return
    with _lock:
        _tasks += 1
        if _tasks == 1:
            tune()
    try:
        yield
    finally:
        with _lock:
            _tasks -= 1
            if _tasks == 0:
                _restore()
