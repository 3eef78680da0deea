"""Per-case work on a Dask cluster against a process pool of the same size.

The work: ``segmap scan`` of bench_scan's folder (``scan(root, jobs=...)``: headers and a
census per mask on the workers, pairing here), and the census of every label map alone (the
per-mask step of a scan and of a validation) through ``app.parallel.map_work``, on two sets:
bench_scan's synthetic nnU-Net folder (N cases, uint8 192x192x64 with 5 organs, about 10 ms
a case: where starting the workers shows) and N/2 larger maps (uint8 256x256x200 with 12
organs, about 10x the work a case: where the per-case cost shows; 8 distinct maps, the others
hard links to them under their own names):

* ``--jobs 1``: in this process, one case after another (the reference);
* ``--jobs 2``: a process pool of 2, started for the run;
* a LocalCluster of 2 worker processes (1 thread each), started before and left running, as
  a real cluster is; the run connects to it and checks the workers (``executor_for``) and the
  inputs (``check_reachable``) as ``--scheduler`` does.

Each run is a fresh Python process (``python bench/bench_cluster.py --one MODE ADDRESS SET N``),
so no run benefits from a warm import or a page cache another warmed in-process, and each
run's outcomes are compared with the reference's. Best of ``REPEAT``; the load average is
printed, as the machine may be shared.

Each run also says its process's CPU seconds (``cpu``: this process's threads, the Dask
client's included; not the workers'), per case, and the load average when it started.
``--repo PATH`` (repeatable) runs the work of that checkout's ``app`` (its ``map_work``,
its cluster module), the checkouts alternating run by run: a before / after on the same
LocalCluster (its workers import the Segmap of this checkout, which must be the same
version).

Run: ``python bench/bench_cluster.py [--repo PATH ...] [--kinds small,large,scan] [N]``
(default 60 cases, every kind).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("BENCH_REPO") or str(HERE))  # the checkout measured
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import ROOT  # noqa: E402
from bench_scan import make as make_small  # noqa: E402
from harness import take_repos  # noqa: E402
from synth import label_field, save  # noqa: E402

REPEAT = 3
MODES = ("jobs1", "jobs2", "cluster")
KINDS = ("small", "large", "scan")
LARGE = (256, 256, 200)


def make_large(n: int) -> Path:
    root = ROOT.parent / "cluster" / f"large_{n}"
    if (root / ".complete").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = root / f"case_{i:03d}.nii.gz"
        if i < 8:
            save(label_field(LARGE, 12, seed=i), path)
        elif not path.exists():
            os.link(root / f"case_{i % 8:03d}.nii.gz", path)
    (root / ".complete").write_text("ok")
    return root


def masks_of(kind: str, n: int) -> list[Path]:
    if kind == "small":
        return sorted((make_small(n) / "labelsTr").glob("*.nii.gz"))
    return sorted(make_large(n // 2).glob("*.nii.gz"))


def one(mode: str, address: str, kind: str, n: int) -> None:
    """One timed run in this (fresh) process; prints its times and outcomes as JSON."""
    from app import cluster
    from app.parallel import Jobs, map_work, process_pool
    from app.progress import run
    from app.readers import census

    try:  # as segmap's own commands do (a checkout from before it has none)
        from app import allocator
    except ImportError:
        pass
    else:
        allocator.tune()
    started, cpu = time.perf_counter(), time.process_time()
    if kind == "scan":
        from app.discover import scan

        root = make_small(n)
        jobs = Jobs(1) if mode == "jobs1" else Jobs(2, address if mode == "cluster" else None)
        result = run(scan(root, jobs=jobs))
        done = time.perf_counter()
        print(json.dumps({"total": done - started, "setup": 0.0, "work": done - started,
                          "cpu": time.process_time() - cpu,
                          "outcomes": result.to_json()}, default=str))
        return
    masks = masks_of(kind, n)
    if mode == "cluster":
        jobs = Jobs(2, address)
        executor = cluster.executor_for(jobs)
        cluster.check_reachable(executor, masks)
        ready = time.perf_counter()
        out = run(map_work(census, masks, jobs, what=str, executor=lambda: executor))
    else:
        jobs = Jobs(1 if mode == "jobs1" else 2)
        ready = time.perf_counter()
        out = run(map_work(census, masks, jobs, what=str,
                           executor=None if mode == "jobs1" else lambda: process_pool(2)))
    done = time.perf_counter()
    print(json.dumps({"total": done - started, "setup": ready - started, "work": done - ready,
                      "cpu": time.process_time() - cpu,
                      "outcomes": [o.value.to_json() if o.ok else o.error for o in out]}))


def main() -> None:
    argv, repos = take_repos(sys.argv[1:])
    kinds = KINDS
    if "--kinds" in argv:  # e.g. --kinds scan: a dataset-sized run without the others
        at = argv.index("--kinds")
        kinds = tuple(argv[at + 1].split(","))
        del argv[at:at + 2]
    n = int(argv[0]) if argv else 60
    for kind in kinds:
        masks_of("small" if kind == "scan" else kind, n)
    from distributed import LocalCluster

    here = str(Path(__file__).resolve())
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as lc:
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before; "
              f"best of {REPEAT}, each run a fresh process")
        for kind in kinds:
            compare(here, lc.scheduler_address, kind, n, repos)
        print(f"load average {os.getloadavg()[0]:.2f} after")


def compare(here: str, address: str, kind: str, n: int, repos: list[Path]) -> None:
    count = len(masks_of("small" if kind == "scan" else kind, n))
    shape = "256x256x200, 12 organs" if kind == "large" else "192x192x64, 5 organs"
    print(f"{count} uint8 label maps ({shape}), " + (
        "segmap scan of their nnU-Net folder (with their images):" if kind == "scan"
        else "the census of each:"))
    best: dict[tuple[Path, str], dict[str, float]] = {}
    cpus: dict[tuple[Path, str], list[float]] = {}
    loads: dict[Path, list[float]] = {r: [] for r in repos}
    reference = None
    for _ in range(REPEAT):
        for repo in repos:  # the checkouts and the modes alternating, run by run
            for mode in MODES:
                loads[repo].append(os.getloadavg()[0])
                got = json.loads(subprocess.run(
                    [sys.executable, here, "--one", mode, address, kind, str(n)],
                    check=True, capture_output=True, text=True, cwd=repo,
                    env={**os.environ, "BENCH_REPO": str(repo)}).stdout.splitlines()[-1])
                reference = reference if reference is not None else got["outcomes"]
                assert got["outcomes"] == reference, f"{mode}: outcomes differ from --jobs 1"
                cpus.setdefault((repo, mode), []).append(got["cpu"])
                if (repo, mode) not in best or got["total"] < best[repo, mode]["total"]:
                    best[repo, mode] = got
    for repo in repos:
        if len(repos) > 1:
            print(f"  {repo}: load {min(loads[repo]):.2f}-{max(loads[repo]):.2f}")
        for mode in MODES:
            b = best[repo, mode]
            cpu = sorted(cpus[repo, mode])[len(cpus[repo, mode]) // 2]
            print(f"  {mode:8s} {b['total']:6.2f} s  (connect and checks {b['setup']:5.2f} s, "
                  f"map_work {b['work']:5.2f} s, {1000 * b['work'] / count:4.0f} ms/case; "
                  f"process CPU {cpu:5.2f} s median, {1000 * cpu / count:4.1f} ms/case)")
        ratio = best[repo, "cluster"]["total"] / best[repo, "jobs2"]["total"]
        print(f"  cluster / --jobs 2: {ratio:.2f}x (target within 1.3x)")
    print("  outcomes identical to --jobs 1 in every run")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
