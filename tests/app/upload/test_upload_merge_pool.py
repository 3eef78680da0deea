"""The upload's label merges on worker processes (``app.upload._merge_pool``).

What a user relies on: with ``--jobs 2`` RedBrick receives byte for byte what an upload
with ``--jobs 1`` sends; a worker that dies fails its own task only; a cancel leaves no
process running and no temp file behind; nothing is written beside the user's files.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import tempfile
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from app.items import load_items
from app.parallel import Jobs
from app.progress import run
from app.upload import (
    Destination,
    RedBrickClient,
    RetryPolicy,
    TaskState,
    Timeouts,
    UploadOptions,
    _merge_pool,
    upload,
)
from app.upload._merge_pool import MergeDone, MergeJob, MergePool, merge_job

from ..rb_server import API_KEY, ORG, PROJECT, RBServer, make_case

SHAPE = (8, 8, 4)


# -- workers a test puts in place of the real one (top level: a worker imports them) --

def dying_worker(job: MergeJob) -> MergeDone:
    """Dies as an out-of-memory kill would, on the series whose files say "doomed"."""
    if any("doomed" in f for f in job.files):
        os.kill(os.getpid(), signal.SIGKILL)
    return merge_job(job)


def hanging_worker(job: MergeJob) -> MergeDone:
    """Says it started (a file in the run's temp folder), then merges for ever."""
    Path(job.folder, f"started-{os.getpid()}").touch()
    while True:
        time.sleep(1)


def writes_nothing_worker(job: MergeJob) -> MergeDone:
    """The real merge, failing if it left any file in the temp folder."""
    done = merge_job(job)
    left = os.listdir(job.folder)
    if left:
        raise AssertionError(f"a dry run wrote {left}")
    return done


# -- the items lists ---------------------------------------------------------------

def _save(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([0.8, 0.8, 2.0, 1.0])), str(path))


def masks_case(root: Path, name: str, n: int, seed: int) -> dict[str, Any]:
    """``n`` overlapping binary masks, one category each (binaryMask)."""
    rng = np.random.default_rng(seed)
    _save(rng.random(SHAPE).astype(np.float32), root / name / "image.nii.gz")
    smap: dict[str, Any] = {"binaryMask": True}
    files = []
    for k in range(n):
        rel = f"{name}/m{k}.nii.gz"
        _save((rng.random(SHAPE) < 0.3).astype(np.uint8), root / rel)
        files.append(rel)
        smap[str(k + 1)] = {"category": ("category-a", "category-b")[k % 2], "mask": rel}
    return {"name": name, "series": [{"name": "CT", "items": f"{name}/image.nii.gz",
                                      "segmentations": files, "segmentMap": smap}]}


def unmapped_case(root: Path, name: str, seed: int) -> dict[str, Any]:
    """Two label files, one with a value the segmentMap does not name (prune drops it)."""
    rng = np.random.default_rng(seed)
    _save(rng.random(SHAPE).astype(np.float32), root / name / "image.nii.gz")
    values = rng.integers(0, 4, SHAPE).astype(np.uint8)  # 3 is not mapped
    _save(values, root / name / "a.nii.gz")
    _save((rng.random(SHAPE) < 0.2).astype(np.uint8) * 2, root / name / "b.nii.gz")
    return {"name": name, "series": [{
        "name": "CT", "items": f"{name}/image.nii.gz",
        "segmentations": [f"{name}/a.nii.gz", f"{name}/b.nii.gz"],
        "segmentMap": {"1": "category-a", "2": "category-b"}}]}


def write_items(root: Path, tasks: list[dict[str, Any]]) -> Path:
    path = root / "items.json"
    path.write_text(json.dumps(tasks, indent=1))
    return path


def mixed_items(root: Path) -> Path:
    """Every kind of merge: a file as it is (I), multi-label files (II), binary masks
    (III, and five categories), a value to prune."""
    return write_items(root, [
        make_case(root, "case-I", "I", 1), make_case(root, "case-II", "II", 2),
        make_case(root, "case-III", "III", 3), masks_case(root, "case-masks", 5, 4),
        unmapped_case(root, "case-unmapped", 5)])


# -- running an upload -------------------------------------------------------------

def fast_client(server: RBServer) -> RedBrickClient:
    return RedBrickClient(API_KEY, server.url, retry=RetryPolicy(3, 0.001, 0.01),
                          timeouts=Timeouts(api=(2, 5), put=(2, 5)))


def start_upload(server: RBServer, items_path: Path, **options: Any):
    options.setdefault("validate", False)
    return upload(load_items(items_path), Destination(server.url, ORG, PROJECT),
                  options=UploadOptions(**options), client=fast_client(server))


def content(server: RBServer, path: str) -> str:
    return hashlib.sha256(server.blob(path)).hexdigest()


def received(server: RBServer) -> dict[str, Any]:
    """Per task, what RedBrick got: the createDatapoint variables with its random file
    paths replaced by the bytes uploaded there."""
    out = {}
    for v in server.variables("createDatapointSDK"):
        v = json.loads(json.dumps(v))
        v["items"] = [content(server, p) for p in v["items"]]
        v["labelsMap"] = [dict(m, labelName=content(server, m["labelName"])) if m else None
                          for m in v["labelsMap"] or []]
        out[v["name"]] = v
    return out


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """``tempfile.gettempdir()`` for this test: where the run's temp folder goes."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.mark.parametrize("label_validate,prune", [(False, False), (True, True)])
def test_the_pool_sends_what_one_process_sends(tmp_path, temp_root, monkeypatch,
                                               label_validate, prune):
    items_path = mixed_items(tmp_path / "items")
    before = files_under(tmp_path / "items")
    merges = []
    real = MergePool.merge

    def spy(self: MergePool, job: MergeJob) -> MergeDone:
        merges.append(job)
        return real(self, job)

    monkeypatch.setattr(MergePool, "merge", spy)
    puts: list[Path] = []
    real_put = RedBrickClient.put

    def put(self: RedBrickClient, url: str, body: Any, headers: Any, *, what: str) -> None:
        if isinstance(body, Path) and what.startswith("merged labels"):
            puts.append(body)
        real_put(self, url, body, headers, what=what)

    monkeypatch.setattr(RedBrickClient, "put", put)
    reports, got = [], []
    for jobs in (Jobs(1), Jobs(2)):
        server = RBServer().start()
        try:
            # a journal each: the second server may get the first one's port (its key)
            reports.append(run(start_upload(server, items_path, jobs=jobs,
                                            label_validate=label_validate, prune=prune,
                                            journal=tmp_path / f"journal-{jobs.n}.jsonl")))
            got.append(received(server))
        finally:
            server.stop()
        if jobs.n == 1:
            assert merges == []  # Jobs(1): no pool at all
    one, pooled = reports
    assert len(merges) == 5  # every series merged on the pool
    assert [(t.name, t.state, t.error) for t in one.tasks] == \
        [(t.name, t.state, t.error) for t in pooled.tasks]
    assert sum(t.state is TaskState.CREATED for t in one.tasks) >= 4
    assert got[0] == got[1] and len(got[0]) == sum(t.state is TaskState.CREATED
                                                   for t in one.tasks)
    # The merged volumes went up from files of the run's temp folder, deleted since;
    # the unchanged file of case I went up as it is, from the user's folder.
    merged = [p for p in puts if temp_root in p.parents]
    assert merged and len(merged) == len([p for p in puts if "case-I/" not in str(p)])
    assert not any(p.exists() for p in merged)
    assert list(temp_root.glob("segmap-merge-*")) == []
    new = files_under(tmp_path / "items") - before
    assert new == set()


def test_a_dead_worker_fails_its_task_only(rb, tmp_path, temp_root, monkeypatch):
    root = tmp_path / "items"
    items_path = write_items(root, [make_case(root, f"case-{k}", "II", k) for k in range(3)]
                             + [make_case(root, "case-doomed", "II", 9)]
                             + [masks_case(root, f"case-m{k}", 3, 20 + k) for k in range(2)])
    monkeypatch.setattr(_merge_pool, "WORKER", dying_worker)
    # a broken pool fails its merges, then terminates its other workers on its own thread:
    # late on a loaded machine, after the run has gone on
    terminate = BaseProcess.terminate
    monkeypatch.setattr(BaseProcess, "terminate",
                        lambda self: (time.sleep(2), terminate(self))[1])
    report = run(start_upload(rb, items_path, jobs=Jobs(2)))
    states = {t.name: (t.state, t.error) for t in report.tasks}
    assert states.pop("case-doomed") == (
        TaskState.FAILED, "The merge of series 0 stopped: its worker process died (out of "
        "memory?)\n  hint: Free some memory, or upload with fewer tasks at once "
        "(--concurrency) or --jobs 1, then run again.")
    assert states == {n: (TaskState.CREATED, None) for n in states}
    assert len(states) == 5
    assert multiprocessing.active_children() == []
    assert list(temp_root.glob("segmap-merge-*")) == []


def test_a_cancel_during_a_merge_stops_the_workers(rb, tmp_path, temp_root, monkeypatch):
    items_path = write_items(tmp_path / "items", [
        make_case(tmp_path / "items", f"case-{k}", "III", k) for k in range(4)])
    monkeypatch.setattr(_merge_pool, "WORKER", hanging_worker)
    work = start_upload(rb, items_path, jobs=Jobs(2))
    for _ in range(3000):  # progress comes ten times a second: a bound, not a timing
        next(work)
        if list(temp_root.glob("segmap-merge-*/started-*")):
            break
    else:
        pytest.fail("no merge started")
    assert multiprocessing.active_children() != []
    work.close()
    assert multiprocessing.active_children() == []
    assert list(temp_root.glob("segmap-merge-*")) == []
    assert "createDatapointSDK" not in rb.ops()


def test_a_dry_run_merges_but_writes_no_file(rb, tmp_path, temp_root, monkeypatch):
    items_path = mixed_items(tmp_path / "items")
    before = files_under(tmp_path / "items")
    monkeypatch.setattr(_merge_pool, "WORKER", writes_nothing_worker)
    report = run(start_upload(rb, items_path, jobs=Jobs(2), dry_run=True))
    assert [t.state for t in report.tasks] == [TaskState.READY] * 5, report.tasks
    assert files_under(tmp_path / "items") == before
    assert list(temp_root.glob("segmap-merge-*")) == []


def test_a_merge_error_reads_as_on_one_process(rb, tmp_path, temp_root):
    root = tmp_path / "items"
    task = make_case(root, "case-bad", "II", 1)
    (root / "case-bad" / "s2.nii.gz").write_bytes(b"not a nifti")
    items_path = write_items(root, [task])
    errors = []
    for jobs in (Jobs(1), Jobs(2)):
        report = run(start_upload(rb, items_path, jobs=jobs, restart=True))
        errors.append(report.tasks[0].error)
    assert errors[0] is not None and errors[0].startswith("Series 0: ")
    assert errors[0] == errors[1]


def test_the_cli_jobs_option_picks_where_merges_run(rb, tmp_path, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDBRICK_PROFILE", raising=False)
    monkeypatch.setenv("REDBRICK_API_KEY", API_KEY)
    items_path = write_items(tmp_path / "items", [make_case(tmp_path / "items", "case-II",
                                                            "II", 1)])
    pooled: list[MergeJob] = []
    real = MergePool.merge
    monkeypatch.setattr(MergePool, "merge", lambda self, job: pooled.append(job) or real(
        self, job))
    where = ["--org", ORG, "--project", PROJECT, "--url", rb.url, "--dry-run", "--json"]
    assert main(["upload", str(items_path), *where, "--jobs", "1"]) == 0
    assert pooled == []
    assert main(["upload", str(items_path), *where, "-j", "2"]) == 0
    assert len(pooled) == 1
    for command in ("upload", "label"):
        with pytest.raises(SystemExit) as stop:
            main([command, str(items_path), *where, "--jobs", "0"])
        assert stop.value.code == 2
    assert "--jobs takes a whole number of 1 or more" in capsys.readouterr().err
