"""Bounded memory (issue 14): merge peak memory against the output volume, and the cost per
task of validating and exporting 1,000 and 10,000-task items lists.

Side by side, each method in fresh processes (``harness.measure``), the current checkout
("now") and, when given, another checkout ("before", e.g. a ``git worktree`` of main
before the change) run through the same methods with ``PYTHONPATH`` pointing at it:

* the merge of one 512x512x1000 label map (117 labels) stored as uint8, uint16, int16 and
  float32 (the output is uint8 each time), of three of them in one series, and of 117
  binary masks of 512x512x600 uint8;
  memory is the peak above a process that only imports (VmHWM), next to the output's size;
* ``segmap validate`` and ``segmap export`` of items lists of 1,000 and 10,000 tasks, each
  task a tiny 8x8x4 image and mask of its own (so the run measures the per-task overhead,
  not reading): seconds and MB per task.

Run: python -m bench.bench_memory [--before DIR]   (data under $SEGMAP_BENCH_DATA/memory)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from bench import harness, synth

LABEL_SHAPE = (512, 512, 1000)
BINARY_SHAPE = (512, 512, 600)
N_LABELS = 117
TASK_COUNTS = (1000, 10000)
ROOT = harness.DATA / "memory"


def _save(arr: np.ndarray, path: Path) -> Path:
    """NIfTI-1, gzipped with ISA-L level 1 and streamed (a 1 GB volume needs no copy)."""
    from isal import igzip

    img = nib.Nifti1Image(arr, np.diag([0.8, 0.8, 1.0, 1.0]))
    img.set_data_dtype(arr.dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as raw, igzip.IGzipFile(filename="", mode="wb", fileobj=raw,
                                                 compresslevel=1, mtime=0) as stream:
        img.to_file_map({"image": nib.FileHolder(fileobj=stream)})
    tmp.rename(path)
    return path


def label_maps(root: Path = ROOT) -> dict[str, Path]:
    """One 512x512x1000 label map of 117 organs in each stored dtype (written once)."""
    paths = {dt: root / f"label_{dt}_{'x'.join(map(str, LABEL_SHAPE))}.nii.gz"
             for dt in ("uint8", "uint16", "int16", "float32")}
    if not all(p.exists() for p in paths.values()):
        lab = synth.label_field(LABEL_SHAPE, N_LABELS)
        for dt, p in paths.items():
            if not p.exists():
                _save(lab if dt == "uint8" else lab.astype(dt), p)
    return paths


def binary_masks(root: Path = ROOT) -> Path:
    """117 binary masks of 512x512x600 (every tenth dilated so neighbours overlap)."""
    d = root / f"binary_{'x'.join(map(str, BINARY_SHAPE))}_{N_LABELS}"
    paths = [d / f"organ_{k:03d}.nii.gz" for k in range(1, N_LABELS + 1)]
    if not all(p.exists() for p in paths):
        lab = synth.label_field(BINARY_SHAPE, N_LABELS, seed=1)
        for k, p in enumerate(paths, start=1):
            if not p.exists():
                m = lab == k
                if k % 10 == 0:
                    m[1:] |= m[:-1]
                _save(m.view(np.uint8), p)
    return d


def items_list(n_tasks: int, root: Path = ROOT) -> Path:
    """An items list of ``n_tasks`` tasks, each with its own 8x8x4 image and mask."""
    d = root / f"tasks_{n_tasks}"
    path = d / "items.json"
    if path.exists():
        return path
    shape = (8, 8, 4)
    image = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    tasks = []
    for i in range(n_tasks):
        mask = np.zeros(shape, np.uint8)
        mask[1 + i % 5 : 4 + i % 5, 2:6, 1:3] = 1
        mask[5:7, 5:7, 2] = 2
        case = d / f"case_{i:05d}"
        case.mkdir(parents=True, exist_ok=True)
        for name, arr in (("image.nii.gz", image), ("mask.nii.gz", mask)):
            img = nib.Nifti1Image(arr, np.eye(4))
            img.set_data_dtype(arr.dtype)
            nib.save(img, str(case / name))
        tasks.append({"name": f"case_{i:05d}", "items": f"case_{i:05d}/image.nii.gz",
                      "segmentations": f"case_{i:05d}/mask.nii.gz",
                      "segmentMap": {"1": "liver", "2": "spleen"}})
    path.write_text(json.dumps(tasks, indent=1))
    return path


# ---------------------------------------------------------------- methods (child side)
def merge_label(paths: str) -> None:
    """The merge of the label maps ``paths`` names (comma-separated), in that order."""
    from app.merge import merge

    result = merge(paths.split(","), {k: None for k in range(1, N_LABELS + 1)})
    with tempfile.TemporaryDirectory() as tmp:
        result.save(Path(tmp) / "label.nii.gz")
    _output(result.volume)


def merge_binary(folder: str) -> None:
    from app.merge import merge

    files = sorted(str(p) for p in Path(folder).glob("*.nii.gz"))
    instances = {k: None for k in range(1, len(files) + 1)}
    masks = {str(k): f for k, f in zip(instances, files, strict=True)}
    result = merge(files, instances, binary_mask=True, masks=masks)
    with tempfile.TemporaryDirectory() as tmp:
        result.save(Path(tmp) / "label.nii.gz")
    _output(result.volume)


def _output(volume: np.ndarray | None) -> None:
    # The output's size, for the table: on stderr, so harness.one's last line stays its JSON.
    print(json.dumps({"output_mb": 0 if volume is None else volume.nbytes / 2**20}),
          file=sys.stderr)


def validate_list(path: str) -> None:
    from app.items import load_items
    from app.validate import validate

    findings = validate(load_items(path))
    assert not [f for f in findings if f.is_error], findings[:3]


def export_list(path: str) -> None:
    from app.export import export_items
    from app.items import load_items

    with tempfile.TemporaryDirectory() as tmp:
        export_items(load_items(path), Path(tmp) / "out.json", Path(path).parent)


def noop(path: str) -> None:
    """Same imports, no work: the memory baseline (and which app/ is imported)."""
    from app.export import export_items  # noqa: F401
    from app.items import load_items  # noqa: F401
    from app.merge import merge  # noqa: F401
    from app.validate import validate  # noqa: F401

    print(json.dumps({"app": import_module("app").__file__}), file=sys.stderr)


METHODS: dict[str, Callable[..., object]] = {f.__name__: f for f in (merge_label, merge_binary, validate_list, export_list, noop)}


# ---------------------------------------------------------------- parent side
def _measure(checkout: Path, method: str, arg: str, runs: int) -> dict[str, Any]:
    """harness.measure, with ``checkout``'s app/ imported: this file runs as a script from
    ``checkout`` (``python -m`` would put the current folder, and its app/, first)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), str(harness.ROOT)]))
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, __file__, "--one", method, arg],
                              cwd=checkout, capture_output=True, text=True, check=True,
                              env=env)
        got = json.loads(done.stdout.strip().splitlines()[-1])
        for line in done.stderr.splitlines():
            if line.startswith(('{"output_mb"', '{"app"')):
                got.update(json.loads(line))
        results.append(got)
    seconds = sorted(r["seconds"] for r in results)[len(results) // 2]
    return {"seconds": seconds, "peak_mb": max(r["peak_mb"] for r in results),
            "output_mb": results[0].get("output_mb", 0.0), "app": results[0].get("app", "")}


def main() -> None:
    before = Path(sys.argv[sys.argv.index("--before") + 1]) if "--before" in sys.argv else None
    checkouts = {"now": harness.ROOT, **({"before": before} if before else {})}
    maps, folder = label_maps(), binary_masks()
    lists = {n: items_list(n) for n in TASK_COUNTS}
    print(f"machine: {harness.machine()}; load average before: {os.getloadavg()}")
    noops = {k: _measure(c, "noop", str(folder), 3) for k, c in checkouts.items()}
    base = {k: r["peak_mb"] for k, r in noops.items()}
    print("; ".join(f"{k}: {r['app']}" for k, r in noops.items()))
    print("\n| merge | output MB | " + " | ".join(
        f"{k} peak MB (x output) | {k} s" for k in checkouts) + " |")
    print("|---|---|" + "---|---|" * len(checkouts))
    cases = [(f"label map 512x512x1000 {dt}", "merge_label", str(p)) for dt, p in maps.items()]
    cases.append(("3 label maps (uint8, float32, int16) in one series", "merge_label",
                  ",".join(str(maps[dt]) for dt in ("uint8", "float32", "int16"))))
    cases.append(("117 binary masks 512x512x600", "merge_binary", str(folder)))
    for what, method, arg in cases:
        cells, out = [], 0.0
        for k, c in checkouts.items():
            r = _measure(c, method, arg, 3)
            out, peak = r["output_mb"], r["peak_mb"] - base[k]
            cells.append(f"{peak:.0f} ({peak / out:.2f}x) | {r['seconds']:.2f}")
        print(f"| {what} | {out:.0f} | " + " | ".join(cells) + " |")
    print("\n| items list | " + " | ".join(
        f"{k} s | {k} ms/task | {k} MB | {k} KB/task" for k in checkouts) + " |")
    print("|---|" + "---|---|---|---|" * len(checkouts))
    for method in ("validate_list", "export_list"):
        for n, path in lists.items():
            cells = []
            for k, c in checkouts.items():
                r = _measure(c, method, str(path), 1)
                peak = r["peak_mb"] - base[k]
                cells.append(f"{r['seconds']:.1f} | {1000 * r['seconds'] / n:.2f} | {peak:.0f} | "
                             f"{1024 * peak / n:.1f}")
            print(f"| {method.split('_')[0]} {n:,} tasks | " + " | ".join(cells) + " |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
