"""Non-zero runs of label maps, kept from the census so a merge need not inflate again.

A label map is piecewise constant: its non-zero voxels, in file order, form runs
(start, length, value), usually a few hundred times fewer than the voxels. The
census streams every mask once anyway; it records the runs here, and the merge
(and so the wizard's preview) rebuilds a mask's non-zero voxels from them instead
of inflating the whole file again. Entries are keyed by path, size and
modification time (a changed file is read again) and the cache is bounded in
bytes, least recently used first out.

A census in a worker process sends its runs to the scan's process, so ``Runs`` pickles
compactly (``pack_runs``): each array in the narrowest integer type its values fit, all in
one buffer. A 192x192x64 label map of 5 organs (31,500 runs) crosses as 189 KB instead of
410 KB; it unpickles to equal arrays of the same types.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_BUDGET = 768 << 20  # bytes of runs kept (about 55M runs)
ENTRY_BYTES = 1024  # what an entry costs beyond its arrays (key, object, array headers)


@dataclass(frozen=True)
class Runs:
    """The non-zero runs of one file: flat (Fortran-order) starts, lengths, values."""

    starts: np.ndarray  # int64
    lengths: np.ndarray  # int32
    values: np.ndarray  # the file's stored dtype, native byte order
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes + self.lengths.nbytes + self.values.nbytes)

    @property
    def cost(self) -> int:
        """The bytes this entry counts against a RunCache's budget: its arrays and its
        overhead, so that many tiny masks (10,000 tasks) are bounded in number too."""
        return self.nbytes + ENTRY_BYTES

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return pack_runs(self)

    def expand(self) -> tuple[np.ndarray, np.ndarray]:
        """(flat indices, values) of every non-zero voxel, in file order.

        Indices are int32 when the volume allows it (half the memory traffic).
        """
        total = int(self.lengths.sum())
        itype = np.int32 if int(np.prod(self.shape)) < 2**31 else np.int64
        first = np.cumsum(self.lengths, dtype=np.int64) - self.lengths
        index = np.arange(total, dtype=itype)
        np.add(index, np.repeat((self.starts - first).astype(itype), self.lengths), out=index)
        return index, np.repeat(self.values, self.lengths)


_NARROW = {True: (np.uint8, np.uint16, np.uint32), False: (np.int8, np.int16, np.int32)}


def _narrowest(a: np.ndarray) -> np.dtype:
    """The smallest integer type that holds every value of ``a`` (int64 if none)."""
    if not a.size:
        return np.dtype(np.uint8)
    lo, hi = int(a.min()), int(a.max())
    for t in _NARROW[lo >= 0]:
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return np.dtype(t)
    return np.dtype(np.int64)


def pack_runs(runs: Runs) -> tuple[object, tuple[object, ...]]:
    """What pickles ``runs`` (its ``__reduce__``): starts, lengths and values, each in the
    narrowest integer type its values fit (a start of a volume under 2**32 voxels in 4
    bytes, not 8; a length under 256 in 1, not 4), as one buffer; ``unpack_runs`` makes
    equal arrays of the original types from it. Runs that are not flat integer arrays of
    one length pickle as their arrays."""
    starts, lengths, values = runs.starts, runs.lengths, runs.values
    if (starts.ndim != 1 or starts.shape != lengths.shape or values.shape != starts.shape
            or starts.dtype.kind not in "iu" or lengths.dtype.kind not in "iu"
            or starts.dtype == np.uint64 or lengths.dtype == np.uint64
            or values.dtype.kind not in "biuf"):
        return Runs, (starts, lengths, values, runs.shape)
    st, lt = _narrowest(starts), _narrowest(lengths)
    buffer = b"".join((starts.astype(st, copy=False).tobytes(),
                       lengths.astype(lt, copy=False).tobytes(), values.tobytes()))
    head = (starts.size, starts.dtype.str, st.str, lengths.dtype.str, lt.str,
            values.dtype.str, runs.shape)
    return unpack_runs, (head, buffer)


def unpack_runs(head: tuple[Any, ...], buffer: bytes) -> Runs:
    """The Runs ``pack_runs`` packed (what unpickling calls): arrays of their own."""
    n, starts_type, st, lengths_type, lt, values_type, shape = head
    starts = np.frombuffer(buffer, st, n, 0)
    lengths = np.frombuffer(buffer, lt, n, starts.nbytes)
    values = np.frombuffer(buffer, values_type, n, starts.nbytes + lengths.nbytes)
    return Runs(starts.astype(starts_type), lengths.astype(lengths_type), values.copy(),
                shape)


def chunk_runs(chunk: np.ndarray, offset: int, nonzero_at: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal non-zero values in a 1-D chunk, starts shifted by ``offset``.

    ``nonzero_at`` are the chunk's non-zero indices when the caller has them.
    """
    idx = np.flatnonzero(chunk) if nonzero_at is None else nonzero_at
    if not idx.size:
        empty = np.empty(0, np.int64)
        return empty, empty.astype(np.int32), chunk[:0]
    vals = chunk[idx]
    # A run breaks where the index jumps or the value changes.
    brk = np.flatnonzero((np.diff(idx) != 1) | (vals[1:] != vals[:-1])) + 1
    starts = np.concatenate(([0], brk))
    lengths = np.diff(np.concatenate((starts, [idx.size])))
    return idx[starts].astype(np.int64) + offset, lengths.astype(np.int32), vals[starts]


class RunCache:
    """A bounded, thread-safe LRU of Runs keyed by (path, size, mtime): at most ``budget``
    bytes, each entry counted with its overhead (``Runs.cost``)."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[str, int, int], Runs] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(path: str | os.PathLike[str]) -> tuple[str, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (os.path.abspath(path), st.st_size, st.st_mtime_ns)

    def get(self, path: str | os.PathLike[str]) -> Runs | None:
        key = self.key(path)
        with self._lock:
            runs = self._items.get(key) if key else None
            if runs is not None:
                self._items.move_to_end(key)  # type: ignore[arg-type]
            return runs

    def put(self, path: str | os.PathLike[str], runs: Runs) -> None:
        key = self.key(path)
        if key is None or runs.cost > self.budget // 4:
            return  # one noisy file must not push out everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.cost
            self._items[key] = runs
            self._bytes += runs.cost
            while self._bytes > self.budget and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.cost

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """The bytes the entries count against the budget (never more than it)."""
        return self._bytes

    def discard(self, path: str | os.PathLike[str]) -> None:
        """Forget the runs of ``path`` (whichever version of it they are of)."""
        where = os.path.abspath(path)
        with self._lock:
            for key in [k for k in self._items if k[0] == where]:
                self._bytes -= self._items.pop(key).cost

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


RUNS = RunCache()
