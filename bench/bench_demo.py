"""How long `segmap demo` takes, next to what Python needs just to load the code.

Budget (issue 2): well under 2 s. Side by side in one run, each in fresh processes:

* ``segmap demo DIR``: what a user waits for (interpreter start to exit);
* reference: a process that only imports ``app.demo._writer`` and ``app.cli``, the floor
  of any command (interpreter, numpy, nibabel, pydicom);
* ``make_demo`` alone, timed inside its process (drawing, DICOM, NIfTI, masks,
  JSON, rename), with the process's peak memory.

Run: python -m bench.bench_demo [RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.demo import make_demo as write_demo_folder
from bench import harness


def make_demo(target: str) -> None:
    """The demo writer alone, imports excluded (run in a child process by the harness)."""
    shutil.rmtree(target, ignore_errors=True)
    write_demo_folder(target)


def _wall(argv: list[str], runs: int, before: Path | None = None) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            shutil.rmtree(before, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(argv, cwd=harness.ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "demo"
        cli = _wall([sys.executable, "-m", "app.cli", "demo", str(target)], runs, before=target)
        imports = _wall([sys.executable, "-c", "import app.demo._writer, app.cli"], runs)
        inner = harness.measure("bench_demo", "make_demo", str(target), runs=runs)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"{harness.machine()}; median of {runs} runs; demo folder {size / 1e6:.1f} MB")
    print(f"| {'what':<52} | {'seconds':>7} |")
    print(f"| {'segmap demo DIR, fresh process (wall)':<52} | {cli:7.2f} |")
    print(f"| {'reference: import app.demo._writer, app.cli (wall)':<52} | {imports:7.2f} |")
    print(f"| {'make_demo alone, peak ' + format(inner['peak_mb'], '.0f') + ' MB':<52} | "
          f"{inner['seconds']:7.2f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one({"make_demo": make_demo})
    else:
        main()
