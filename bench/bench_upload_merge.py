"""The upload's label merges on one process against worker processes (``--jobs``).

A dry-run upload (the merges run, nothing is sent; Segmap's own validation off, so the
merges are what is timed) of 8 tasks of 117 binary masks 256x256x200 each (a
TotalSegmentator case, ``synth.binary_case``; the same masks hard-linked into each task's
folder), under /tmp/segmap-bench/upload-merge, against the RedBrick-protocol test server
(``tests/app/rb_server.py``) in its own process.

Each measurement is a fresh process (``_CHILD``: ``app.upload.upload`` with
``UploadOptions(jobs=Jobs(n), dry_run=True, validate=False)``, the pool's start counted),
``--jobs`` alternating run by run, R runs each (default 3); the median is printed. For
each run: the wall time, the parent's peak RSS (``RUSAGE_SELF``) and CPU seconds, the
workers' peak RSS and CPU seconds (``/proc/PID/status`` VmHWM and ``/proc/PID/stat``,
sampled every 0.1 s: forkserver workers are the fork server's children, so
``RUSAGE_CHILDREN`` of the parent does not see them; it is printed too) and the
1-minute load average when the run started: the machine is shared.

Run: ``python bench/bench_upload_merge.py [TASKS] [R] [JOBS...]`` (default 8 3 1 2).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "bench"))

from synth import binary_case, label_field, save  # noqa: E402

ROOT = Path("/tmp/segmap-bench/upload-merge")
SHAPE = (256, 256, 200)
CATEGORIES = ["category-a", "category-b", "category-c", "liver", "spleen"]

_CHILD = r"""
import json, multiprocessing, os, resource, sys, threading, time
from app.items import load_items
from app.parallel import Jobs
from app.progress import run
from app.upload import Destination, RedBrickClient, UploadOptions, upload
from tests.app.rb_server import API_KEY, ORG, PROJECT

url, items_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
peaks, cpu, stop = {}, {}, threading.Event()
tick = os.sysconf("SC_CLK_TCK")

def sample():  # the workers' peak RSS (kB) and CPU seconds, while they live
    while not stop.is_set():
        for p in multiprocessing.active_children():
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, StopIteration):
                continue
            peaks[p.pid] = max(peaks.get(p.pid, 0), hwm)
            cpu[p.pid] = (int(fields[11]) + int(fields[12])) / tick
        stop.wait(0.1)

threading.Thread(target=sample, daemon=True).start()
t = time.perf_counter()
report = run(upload(load_items(items_path), Destination(url, ORG, PROJECT),
                    options=UploadOptions(jobs=Jobs(n), dry_run=True, validate=False),
                    client=RedBrickClient(API_KEY, url)))
wall = time.perf_counter() - t
stop.set()
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "wall": wall, "states": [r.state.value for r in report.tasks],
    "errors": [r.error for r in report.tasks if r.error],
    "parent_mb": me.ru_maxrss / 1024, "parent_cpu": me.ru_utime + me.ru_stime,
    "workers_cpu": sum(cpu.values()),
    "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "workers_mb": sorted(round(v / 1024, 1) for v in peaks.values()),
}))
"""


def make_items(n_tasks: int) -> Path:
    """The items list: ``n_tasks`` tasks, each its image and the 117 masks (hard links)."""
    masks = binary_case(ROOT / "masks", SHAPE)
    image = ROOT / "ct.nii.gz"
    if not image.exists():
        save((label_field(SHAPE, 117, seed=1).astype("int16") * 3 - 1000), image)
    tasks = []
    for i in range(n_tasks):
        folder = ROOT / "items" / f"case-{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        files, smap = [], {"binaryMask": True}
        for k, m in enumerate([image, *masks]):
            link = folder / m.name
            if not link.exists():
                os.link(m, link)
            if k:
                files.append(f"case-{i:02d}/{m.name}")
                smap[str(k)] = {"category": CATEGORIES[k % len(CATEGORIES)], "mask": files[-1]}
        tasks.append({"name": f"case-{i:02d}", "series": [{
            "name": "CT", "items": f"case-{i:02d}/{image.name}", "segmentations": files,
            "segmentMap": smap}]})
    path = ROOT / "items" / f"items-{n_tasks}.json"
    path.write_text(json.dumps(tasks, indent=1))
    return path


def main(argv: list[str]) -> None:
    n_tasks = int(argv[0]) if argv else 8
    runs = int(argv[1]) if len(argv) > 1 else 3
    jobs = [int(j) for j in argv[2:]] or [1, 2]
    items = make_items(n_tasks)
    server = subprocess.Popen([sys.executable, "-m", "tests.app.rb_server"], cwd=HERE,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    url = server.stdout.readline().strip()
    results: dict[int, list[dict]] = {j: [] for j in jobs}
    try:
        for r in range(runs):
            for j in (jobs if r % 2 == 0 else jobs[::-1]):
                load = os.getloadavg()[0]
                out = subprocess.run([sys.executable, "-c", _CHILD, url, str(items), str(j)],
                                     cwd=HERE, capture_output=True, text=True, check=True)
                one = json.loads(out.stdout.strip().splitlines()[-1])
                one["load"] = load
                assert not one["errors"] and set(one["states"]) == {"ready"}, one
                results[j].append(one)
                print(f"run {r + 1} --jobs {j}: {one['wall']:.2f} s, CPU parent "
                      f"{one['parent_cpu']:.1f} s + workers {one['workers_cpu']:.1f} s, parent "
                      f"{one['parent_mb']:.0f} MB, workers {one['workers_mb']} MB, "
                      f"RUSAGE_CHILDREN {one['children_mb']:.0f} MB, load {load:.2f}",
                      flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(f"\n{n_tasks} tasks x 117 binary masks {'x'.join(map(str, SHAPE))}, dry run, "
          f"median of {runs} (cpus {os.cpu_count()}):")
    for j, rs in results.items():
        wall = statistics.median(x["wall"] for x in rs)
        parent = statistics.median(x["parent_mb"] for x in rs)
        workers = max((max(x["workers_mb"], default=0) for x in rs), default=0)
        loads = ", ".join(f"{x['load']:.2f}" for x in rs)
        cpu = statistics.median(x["parent_cpu"] + x["workers_cpu"] for x in rs)
        print(f"  --jobs {j}: {wall:.2f} s, CPU {cpu:.1f} s, parent peak {parent:.0f} MB, "
              f"largest worker peak {workers:.0f} MB, load at start {loads}")


if __name__ == "__main__":
    main(sys.argv[1:])
