"""Upload speed on loopback: Segmap's upload next to redbrick-sdk's create_datapoints.

50 tasks (shapes I, II and III in turn; a 128x128x64 int16 image and five organs
each, as one label file, two overlapping label files, or five binary masks of
which two overlap) go to the RedBrick-protocol test server (tests/app/rb_server.py),
run in its own process, a fresh one per contender. Contenders, one run each, in
one process, concurrency 10 for both (the SDK's default):

* ``sdk``: ``redbrick.get_project`` + ``project.upload.create_datapoints``
  (redbrick-sdk 2.35.4), what ``redbrick upload`` runs;
* ``segmap``: ``app.upload.upload`` as ``segmap upload`` runs it, Segmap's
  validation against the project's taxonomy included;
* ``segmap --no-validate``: the same without Segmap's own validation.

Each contender's tasks are counted on the server afterwards.

Run: python -m bench.bench_upload
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

import nibabel as nib
import numpy as np

from app.items import load_items
from app.progress import run
from app.upload import (
    Credentials,
    Destination,
    RedBrickClient,
    UploadOptions,
    upload,
)
from app.upload import (
    _queries as queries,
)
from bench import harness, synth
from tests.app.rb_server import API_KEY, ORG, PROJECT

N_TASKS = 50
SHAPE = (128, 128, 64)
CATEGORIES = ["category-a", "category-b", "category-c", "liver", "spleen"]


def _save(arr: np.ndarray, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([1.2, 1.2, 2.5, 1.0])), str(path))
    return str(path.relative_to(path.parents[1]))


def make_data(root: Path) -> Path:
    """The 50-task items list (written once, reused)."""
    items_path = root / "items.json"
    if items_path.exists():
        return items_path
    tasks = []
    rng = np.random.default_rng(0)
    for k in range(N_TASKS):
        kind = ("I", "II", "III")[k % 3]
        name = f"case-{k:03d}-{kind}"
        labels = synth.label_field(SHAPE, len(CATEGORIES), seed=k)
        folder = root / name
        image = (labels.astype(np.int16) * 40 - 1000 + rng.integers(0, 30, SHAPE)).astype(np.int16)
        series: dict = {"name": "CT", "items": _save(image, folder / "image.nii.gz")}
        present = [int(v) for v in np.unique(labels) if v]  # a synthetic organ may be empty
        smap = {str(i): CATEGORIES[i - 1] for i in present}
        if kind == "I":
            series.update(segmentations=_save(labels, folder / "seg.nii.gz"), segmentMap=smap)
        elif kind == "II":
            first = np.where(labels <= 3, labels, 0).astype(np.uint8)
            second = np.where(labels > 3, labels, 0).astype(np.uint8)
            second[1:] |= second[:-1]  # spill one voxel into the first file's organs
            series.update(segmentations=[_save(first, folder / "s1.nii.gz"),
                                         _save(second, folder / "s2.nii.gz")], segmentMap=smap)
        else:
            masks = {}
            for i in present:
                m = labels == i
                if i == present[1]:
                    m[1:] |= m[:-1]  # overlaps its neighbours
                masks[i] = _save(m.astype(np.uint8), folder / f"organ{i}.nii.gz")
            series.update(segmentations=list(masks.values()), segmentMap={
                **{str(i): {"category": CATEGORIES[i - 1], "mask": m}
                   for i, m in masks.items()}, "binaryMask": True})
        tasks.append({"name": name, "series": [series]})
    items_path.write_text(json.dumps(tasks, indent=1))
    return items_path


@contextlib.contextmanager
def server():
    """A fresh RBServer in its own process; yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.app.rb_server"], cwd=harness.ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def created_on(url: str) -> int:
    client = RedBrickClient(API_KEY, url)
    data = client.execute(queries.TASKS_LIST, {
        "orgId": ORG, "projectId": PROJECT, "stageName": None, "taskSearch": "",
        "manualLabelingFilters": {}, "first": 50, "after": None})
    return len(data["genericTasks"]["entries"])


def run_sdk(url: str, items_path: Path) -> float:
    import redbrick
    from redbrick.upload import interact
    from redbrick.utils import nifti
    from redbrick.utils import upload as sdk_upload

    tmp = tempfile.mkdtemp()
    points = json.loads(items_path.read_text())
    cwd = os.getcwd()
    os.chdir(items_path.parent)  # the SDK resolves relative paths against the cwd
    sink = io.StringIO()
    try:
        with patch.object(nifti, "config_path", return_value=tmp), \
                patch.object(interact, "config_path", return_value=tmp), \
                patch.object(sdk_upload, "config_path", return_value=tmp), \
                contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            t = time.perf_counter()
            project = redbrick.get_project(ORG, PROJECT, API_KEY, url=url)
            out = project.upload.create_datapoints(redbrick.StorageMethod.REDBRICK, points,
                                                   concurrency=10)
            seconds = time.perf_counter() - t
    finally:
        os.chdir(cwd)
    assert all("response" in o for o in out), [o for o in out if "error" in o][:2]
    return seconds


def run_segmap(url: str, items_path: Path, validate: bool) -> float:
    for old in items_path.parent.glob("*.upload-journal.jsonl"):
        old.unlink()
    t = time.perf_counter()
    report = run(upload(load_items(items_path), Destination(url, ORG, PROJECT),
                        Credentials(API_KEY, "bench"),
                        UploadOptions(concurrency=10, validate=validate)))
    seconds = time.perf_counter() - t
    assert report.ok, report.summary()
    return seconds


def main() -> None:
    items_path = make_data(harness.DATA / "upload")
    size = sum(f.stat().st_size for f in items_path.parent.rglob("*.nii.gz")) / 2**20
    print(f"machine: {harness.machine()}")
    print(f"{N_TASKS} tasks, {size:.0f} MB of NIfTI files, loopback, concurrency 10, one run each")
    rows = []
    for label, fn in (("redbrick-sdk 2.35.4 create_datapoints", lambda u: run_sdk(u, items_path)),
                      ("segmap upload", lambda u: run_segmap(u, items_path, True)),
                      ("segmap upload --no-validate",
                       lambda u: run_segmap(u, items_path, False))):
        with server() as url:
            seconds = fn(url)
            rows.append((label, seconds, created_on(url)))
    print("| contender | seconds | tasks created |")
    print("|---|---|---|")
    for label, seconds, n in rows:
        print(f"| {label} | {seconds:.2f} | {n} |")
    print(f"sdk / segmap: {rows[0][1] / rows[1][1]:.1f}x "
          f"(without Segmap's validation: {rows[0][1] / rows[2][1]:.1f}x)")


if __name__ == "__main__":
    main()
