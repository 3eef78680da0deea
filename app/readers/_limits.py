"""What a file may claim: sizes checked against the file and against free memory.

A header is a promise about the bytes that follow it. Before Segmap streams or
allocates anything it checks the promise with what a ``stat`` already tells: an
uncompressed file must hold its header's voxels; a gzip file cannot inflate to more
than deflate's maximum ratio (1032:1, one 258-byte match per two bits) times its size;
and an array is only allocated when the memory is free. A lying header then costs a
header read, not minutes of inflating or an out-of-memory kill, and the error names
the file and the size.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.errors import VolumeReadError

DEFLATE_MAX_RATIO = 1032  # no deflate stream inflates to more than this times its size


def size_text(n: float) -> str:
    """A byte count as people read it: ``512 bytes``, ``3.1 MB``, ``8.0 TB``."""
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("KB", "MB", "GB", "TB", "PB", "EB"):
        n /= 1000
        if n < 1000 or unit == "EB":
            return f"{n:,.1f} {unit}"
    raise AssertionError("unreachable")


def _meminfo() -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                name, _, rest = line.partition(b":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    found[name.decode("ascii", "replace")] = int(parts[0]) * 1024
    except OSError:
        return {}
    return found


def available_memory() -> int | None:
    """Bytes this process can still allocate without being killed (free memory plus free
    swap, as Linux counts them), or None when the system does not say."""
    info = _meminfo()
    if "MemAvailable" in info:
        return info["MemAvailable"] + info.get("SwapFree", 0)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def require_memory(path: str | os.PathLike[str], need: int, what: str) -> None:
    """Raise a VolumeReadError naming ``path`` and the sizes when ``need`` bytes (for
    ``what``, e.g. "its 512x512x400 uint16 voxels") are more than the memory free now."""
    free = available_memory()
    if free is not None and need > free:
        raise VolumeReadError(
            f"{Path(path)} needs {size_text(need)} of memory for {what}, but only "
            f"{size_text(free)} is free.",
            "Close other programs or use a computer with more memory; if the file is "
            "not that large, its header is broken: export it again.")


def out_of_memory(path: str | os.PathLike[str], need: int, what: str) -> VolumeReadError:
    """The error for an allocation the system refused (MemoryError), naming the file."""
    return VolumeReadError(
        f"Out of memory reading {Path(path)}: {what} need {size_text(need)}.",
        "Close other programs or use a computer with more memory.")
