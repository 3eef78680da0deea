"""app.cluster: per-case work on a real Dask cluster (a LocalCluster started here: a
scheduler and two worker processes, not a mock), equal to the local run, and the checks
that come before any work: dask installed, the scheduler answering, workers there, running
this Segmap, seeing the input files."""

from __future__ import annotations

import importlib
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")  # the dask extra (in the test extra too)

import psutil  # noqa: E402  (distributed needs it)

import app  # noqa: E402
from app import cluster  # noqa: E402
from app.errors import SegmapError  # noqa: E402
from app.parallel import Jobs, map_work, process_pool  # noqa: E402
from app.progress import run  # noqa: E402
from app.readers import census  # noqa: E402

TIMEOUT = 3.0  # what each check may wait here; the real default is longer


def _start(n_workers: int) -> Any:
    # no dashboard port of its own to collide with another run's (":0": any free one)
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", scheduler_port=0)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of 2 worker processes for the module; none left running after it."""
    lc = _start(2)
    try:
        workers = [psutil.Process(nanny.process.pid) for nanny in lc.workers.values()]
        assert len(workers) == 2
        yield lc.scheduler_address
    finally:
        lc.close()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"worker processes left running: {alive}"


def _masks(demo: Any) -> list[Path]:
    return sorted((demo.root / "masks").rglob("*.nii.gz"))


def _census_json(outcomes: list[Any]) -> list[Any]:
    return [(o.value.to_json(), o.value.affine.tolist()) if o.ok else (o.error, o.hint)
            for o in outcomes]


def test_census_on_the_cluster_equals_the_local_run(scheduler: str, demo_dataset: Any,
                                                    tmp_path: Path) -> None:
    masks = _masks(demo_dataset)
    assert len(masks) >= 5
    # a case that fails (a mask gone) fails alone, with the same message
    cases = masks[:3] + [tmp_path / "gone.nii.gz"] + masks[3:]
    local = run(map_work(census, cases, Jobs(1), what=str))
    pooled = run(map_work(census, cases, Jobs(2), what=str, executor=lambda: process_pool(2)))
    on_cluster = run(map_work(census, cases, Jobs(2, scheduler), what=str))
    assert [o.ok for o in on_cluster] == [True] * 3 + [False] + [True] * (len(masks) - 3)
    assert _census_json(on_cluster) == _census_json(local) == _census_json(pooled)
    assert all(np.array_equal(a.value.affine, b.value.affine)
               for a, b in zip(on_cluster, local, strict=True) if a.ok)


def test_scan_and_validate_on_the_cluster_equal_the_local_run(scheduler: str,
                                                              demo_dataset: Any) -> None:
    from app.discover import scan
    from app.items import load_items, load_taxonomy
    from app.validate import validate_work
    from tests.app.discover.test_scan_jobs import _seen

    assert _seen(run(scan(demo_dataset.root, jobs=Jobs(2, scheduler)))) == \
        _seen(run(scan(demo_dataset.root, jobs=Jobs(1))))
    items = load_items(demo_dataset.items_json)
    taxonomy = load_taxonomy(demo_dataset.taxonomy_json)
    local = run(validate_work(items, taxonomy, jobs=Jobs(1)))
    on_cluster = run(validate_work(items, taxonomy, jobs=Jobs(2, scheduler)))
    assert local and [f.to_json() for f in on_cluster] == [f.to_json() for f in local]


def _twice(x: int) -> int:
    return 2 * x


def test_the_cluster_gets_a_few_batches_per_worker_not_a_task_per_case(
        scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = cluster.ClusterExecutor.submit

    def submit(self: cluster.ClusterExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(args[1]))  # call_batch(fn, part)
        return real(self, fn, *args, **kwargs)

    monkeypatch.setattr(cluster.ClusterExecutor, "submit", submit)
    out = run(map_work(_twice, list(range(40)), Jobs(2, scheduler), what=str))
    assert [o.value for o in out] == [2 * x for x in range(40)]
    assert sizes == [2] * 20  # 40 cases, 2 worker threads, CLUSTER_BATCHES (16) each


def test_a_batch_comes_back_from_the_cluster_as_one_pickle(
        scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Dask serialises a list item by item: each outcome its own pickle, with its classes
    # named again in each (a 1,000-case scan's results: 6.5 MB to load, not 2.1 MB)
    serialize = importlib.import_module("distributed.protocol.serialize")  # the module

    loaded: list[type] = []
    dumps, real, wants_context = serialize.families["pickle"]

    def pickle_loads(header: Any, frames: Any) -> Any:
        value = real(header, frames)
        loaded.append(type(value))
        return value

    monkeypatch.setitem(serialize.families, "pickle", (dumps, pickle_loads, wants_context))
    out = run(map_work(_twice, list(range(40)), Jobs(2, scheduler), what=str))
    assert [o.value for o in out] == [2 * x for x in range(40)]
    # at least one load per batch (this process also hosts the LocalCluster's scheduler)
    assert sum(t.__name__ == "Batch" for t in loaded) >= 20
    assert not any(t.__name__ == "Outcome" for t in loaded)


def test_the_executor_runs_on_the_workers_and_closes_its_client(scheduler: str) -> None:
    executor = cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)
    try:
        workers = set(executor.client.scheduler_info(n_workers=-1)["workers"])
        assert len(workers) == 2 and executor.slots == 2
        assert list(executor.map(abs, [-1, -2, 3])) == [1, 2, 3]
        assert executor.submit(pow, 2, 10).result() == 1024
    finally:
        executor.shutdown()
    assert executor.client.status == "closed"


def test_a_cancel_stops_the_run_at_once_and_closes_its_client(scheduler: str) -> None:
    work = map_work(time.sleep, [1.5] * 8, Jobs(2, scheduler), what=str)
    assert next(work).done == 0  # the first cases are running on the workers
    started = time.monotonic()
    work.close()  # the wizard's Cancel, Ctrl-C in the CLI
    assert time.monotonic() - started < 1.0
    with distributed.Client(scheduler, timeout=TIMEOUT, set_as_default=False) as client:
        # the two sleeps running end; the cases not started were cancelled with the run
        deadline = time.monotonic() + 5
        while any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(client.processing().values())
        tasks = client.run_on_scheduler(_task_count)
        assert tasks == 0, f"{tasks} tasks of the cancelled run are still on the scheduler"


def _task_count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


def test_reachable_inputs_pass_and_a_missing_one_names_worker_and_path(
        scheduler: str, demo_dataset: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    missing = tmp_path / "not-mounted" / "case_001.nii.gz"
    executor = cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)
    try:
        cluster.check_reachable(executor, _masks(demo_dataset) + [demo_dataset.root])
        # a file missing here too is not the cluster's: the work reports it, as without one
        cluster.check_reachable(executor, [missing])
        # one this computer reads but the workers do not (here it is the workers' answer
        # that matters: this computer is told it reads it)
        monkeypatch.setattr(cluster, "_readable_here", lambda path: True)
        with pytest.raises(SegmapError) as caught:
            cluster.check_reachable(executor, _masks(demo_dataset) + [missing])
        workers = executor.client.scheduler_info(n_workers=-1)["workers"]
    finally:
        executor.shutdown()
    with pytest.raises(SegmapError, match="cannot read the input files"):
        cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT, paths=[missing])
    error = caught.value
    assert f"{missing} does not exist" in error.message
    assert all(address in error.message for address in workers)  # every worker named
    assert error.hint is not None and "same path on every worker" in error.hint


@dataclass(frozen=True)
class _Job:
    mask: Path
    folders: frozenset[Path]


def test_map_work_checks_the_inputs_of_its_first_cases_before_sending_them(
        scheduler: str, demo_dataset: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "elsewhere.nii.gz"
    job = _Job(missing, frozenset({demo_dataset.root}))
    assert sorted(cluster.paths_in(((print, [job]), {}))) == sorted([missing, demo_dataset.root])
    monkeypatch.setattr(cluster, "_readable_here", lambda path: True)
    with pytest.raises(SegmapError, match=f"{missing} does not exist"):
        run(map_work(census, [missing] + _masks(demo_dataset), Jobs(2, scheduler), what=str))


def test_a_local_pool_needs_no_reachability_check(tmp_path: Path) -> None:
    with process_pool(1) as pool:
        cluster.check_reachable(pool, [tmp_path / "anything"])


def test_the_sample_spreads_over_the_inputs() -> None:
    paths = [Path(f"/d/{i}") for i in range(100)]
    picked = cluster.sample(paths, 5)
    assert picked == ["/d/0", "/d/25", "/d/50", "/d/74", "/d/99"]
    assert cluster.sample(paths[:3] + paths[:3], 5) == ["/d/0", "/d/1", "/d/2"]


def test_a_worker_on_another_segmap_is_refused(scheduler: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "__version__", "999.0")
    with pytest.raises(SegmapError) as caught:
        cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)
    assert "do not run Segmap 999.0" in caught.value.message
    assert "has Segmap 0.1.0" in caught.value.message
    assert "pip install 'segmap[dask]'" in (caught.value.hint or "")


def test_a_worker_without_segmap_is_refused(scheduler: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # what a worker without Segmap answers: the import fails there, not here
    monkeypatch.setattr(cluster, "_SEGMAP_VERSION", "__import__('no_segmap_here').__version__")
    with pytest.raises(SegmapError, match="cannot import Segmap .*ModuleNotFoundError"):
        cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scheduler_that_does_not_answer_is_said_within_the_timeout() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(SegmapError) as caught:
        run(map_work(abs, [1, 2], Jobs(2, address), what=str,
                     executor=lambda: cluster.executor_for(Jobs(2, address), timeout=1.0)))
    assert time.monotonic() - started < 5
    assert f"scheduler at {address} did not answer within 1 s" in caught.value.message
    assert f"dask worker {address}" in (caught.value.hint or "")


def test_an_unknown_host_and_a_bad_address_are_said() -> None:
    with pytest.raises(SegmapError, match="host 'no-such-host.invalid' .* is not known"):
        cluster.executor_for(Jobs(2, "tcp://no-such-host.invalid:8786"), timeout=1.0)
    for bad in ("localhost", "http://h:8786", "tcp://h:99999", "tcp://h:port"):
        with pytest.raises(SegmapError, match="is not a Dask scheduler address"):
            cluster.executor_for(Jobs(2, bad))
    assert cluster.scheduler_address("h:8786") == "tcp://h:8786"
    assert cluster.scheduler_address("tls://[::1]:8786") == "tls://[::1]:8786"


def test_a_scheduler_without_workers_is_said() -> None:
    lc = _start(0)
    try:
        with pytest.raises(SegmapError, match="has no workers") as caught:
            cluster.executor_for(Jobs(2, lc.scheduler_address), timeout=1.0)
    finally:
        lc.close()
    assert f"dask worker {lc.scheduler_address}" in (caught.value.hint or "")


def test_dask_not_installed_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(SegmapError, match="needs dask.distributed") as caught:
        run(map_work(abs, [1, 2], Jobs(2, "tcp://127.0.0.1:8786"), what=str))
    assert "pip install 'segmap[dask]'" in (caught.value.hint or "")


def test_the_cli_runs_scan_and_validate_on_the_cluster(
        scheduler: str, demo_dataset: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    monkeypatch.delenv("SEGMAP_SCHEDULER", raising=False)
    items, taxonomy = str(demo_dataset.items_json), str(demo_dataset.taxonomy_json)
    printed = {}
    for how in (["--jobs", "1"], ["--scheduler", scheduler]):
        main(["validate", items, "--taxonomy", taxonomy, "--json", "--quiet", *how])
        main(["scan", str(demo_dataset.root), "--json", "--quiet", *how])
        printed[how[0]] = capsys.readouterr().out
    assert printed["--scheduler"] == printed["--jobs"]
    assert '"findings"' in printed["--jobs"]

    monkeypatch.setenv("SEGMAP_SCHEDULER", f"tcp://127.0.0.1:{_free_port()}")
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    assert main(["validate", items, "--quiet"]) == 1  # the environment names the cluster
    err = capsys.readouterr().err
    assert "error: The Dask scheduler at tcp://127.0.0.1:" in err and "hint: Start it" in err


def test_segmap_tasks_run_tuned_on_a_nanny_worker_and_leave_its_setting(scheduler: str
                                                                         ) -> None:
    from app import allocator
    from tests.app.test_allocator import faults, fresh_each_time, reused

    if allocator._LIBC is None:
        pytest.skip("glibc's malloc only")
    executor = cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)
    try:
        assert reused(executor.submit(faults).result())  # a Segmap task
        # the worker's own: its nanny's MALLOC_TRIM_THRESHOLD_, each buffer mapped anew
        assert all(fresh_each_time(n) for n in executor.client.run(faults).values())
    finally:
        executor.shutdown()


def test_a_segmap_task_on_a_worker_reads_on_its_own_thread(scheduler: str,
                                                           tmp_path: Path) -> None:
    from tests.app.test_cores import inflated_ahead

    labels = np.random.default_rng(0).integers(0, 5, (32, 32, 32)).astype(np.uint8)
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "labels.nii.gz")
    executor = cluster.executor_for(Jobs(2, scheduler), timeout=TIMEOUT)
    try:  # the worker runs a task on each of its threads: no core to spare
        assert not executor.submit(inflated_ahead, str(tmp_path / "labels.nii.gz")).result()
    finally:
        executor.shutdown()
