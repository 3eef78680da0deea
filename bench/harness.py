"""Side-by-side measurement: each method runs in a fresh process, several times.

A method is a function in a bench module; ``measure`` runs
``python -m bench.<module> --one METHOD ARGS`` and reads back the seconds the
method itself took and the process's peak resident memory.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGMAP_BENCH_DATA", "/tmp/segmap-bench"))


def machine() -> str:
    """One line describing this machine, for BENCHMARKS.md."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def one(methods: dict[str, Callable[..., object]]) -> None:
    """Child side: run one method, print {"seconds", "peak_mb"} as JSON."""
    name, args = sys.argv[2], sys.argv[3:]
    try:  # the allocator as segmap's own commands set it (a checkout from before has none)
        from app import allocator
    except ImportError:
        pass
    else:
        allocator.tune()
    t = time.perf_counter()
    methods[name](*args)
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb()}))


def _peak_mb() -> float:
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's peak
    # across fork + exec on Linux.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(module: str, method: str, *args: str, runs: int = 3) -> dict[str, float]:
    """Parent side: median seconds and peak memory of ``method`` over ``runs`` processes."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", "--one", method, *args],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        results.append(json.loads(out))
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "peak_mb": max(r["peak_mb"] for r in results),
        "runs": runs,
    }


def take_repos(argv: list[str]) -> tuple[list[str], list[Path]]:
    """``argv`` without its ``--repo PATH`` pairs, and those paths (resolved; default: this
    checkout): the checkouts a bench alternates run by run."""
    argv, repos = list(argv), []
    while "--repo" in argv:
        at = argv.index("--repo")
        repos.append(Path(argv[at + 1]).resolve())
        del argv[at:at + 2]
    return argv, repos or [ROOT]
