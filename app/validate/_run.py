"""Running validation over a whole items list: the checks of each task and series."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from app.discover import rt_series, with_rt_as_nifti
from app.items import ItemsList, Taxonomy, task_label
from app.parallel import IN_PROCESS, Jobs, map_work, warm_up
from app.progress import Work, run
from app.validate._dicom_seg import mixed_list
from app.validate._fields import check_fields
from app.validate._files import FileCache
from app.validate._findings import Finding, sort_findings
from app.validate._rtstruct import check_rtstructs, rt_mixed
from app.validate._series import SeriesChecker, SeriesJob, check_series, series_job
from app.validate._tasks import check_tasks


def validate_work(items: ItemsList, taxonomy: Taxonomy | None = None,
                  root: str | os.PathLike[str] | None = None,
                  cache: FileCache | None = None,
                  stages: Sequence[str] | None = None,
                  jobs: Jobs = IN_PROCESS, keep_runs: bool = False) -> Work[list[Finding]]:
    """Validate an items list; yields Progress per series, returns the findings.

    ``jobs``: where the checks of each series run (:mod:`app.parallel`; the findings are
    the same). With a ``cache`` they run here: a cache is one process's memory.

    ``stages``: the project's stage names, when known (``preAssign`` is checked against
    them; without them only its shape and emails).

    ``root`` overrides the folder relative paths resolve against. ``cache`` (a
    ``FileCache``) keeps censuses and image grids between runs, so the wizard can
    validate again after a mapping change without reading the masks again (a file
    changed on disk is read again). ``keep_runs``: without a cache, keep each label map's
    runs for a merge that follows in this process (an upload's; ``FileCache``).
    """
    if cache is None:
        warm_up(jobs)  # the workers' process starts while the list-wide checks run
    if root is not None:
        items = dataclasses.replace(items, root=Path(root).resolve())
    # RTSTRUCT series are checked as the label maps RedBrick's SDK fills from them.
    rts = rt_series(items)
    shown, _ = with_rt_as_nifti(items, rts)
    unread = {(r.task, r.series) for r in rts if r.label is None}
    checker = SeriesChecker(shown, taxonomy, cache if cache is not None else FileCache(keep_runs))
    found: list[Finding] = list(check_tasks(shown, taxonomy))
    found.extend(check_fields([(t, task_label(t)) for t in items.tasks if "" not in t.extra],
                              taxonomy, stages))
    found.extend(check_rtstructs(items, rts))
    if cache is not None or (jobs.n <= 1 and jobs.scheduler is None):
        total = max(1, sum(len(t.series) for t in items.tasks))
        for done, (ti, task, si, _series) in enumerate(shown.iter_series()):
            if (ti, si) not in unread:  # said once, by check_rtstructs
                found.extend((yield from checker.check(ti, task, si, done, total)))
    else:  # each series in a worker (the same findings, in the same order)
        todo = [series_job(shown, taxonomy, ti, si) for ti, _, si, _ in shown.iter_series()
                if (ti, si) not in unread]
        # a batch of series per request where there are many (an nnU-Net series checks in
        # about a millisecond, as long as a request takes), each worker still getting 8
        batch = max(1, min(16, len(todo) // (8 * max(1, jobs.n))))
        checked = yield from map_work(check_series, todo, jobs, batch=batch,
                                      what=_series_name)
        for outcome in checked:
            found.extend(outcome.unwrap())  # a check that failed fails as it would here
    found.extend(mixed_list(items))
    found.extend(rt_mixed(items, rts))
    return sort_findings(items, found)


def _series_name(job: SeriesJob) -> str:
    task = job.items.tasks[0]
    return f"{task_label(task) or f'task {job.task_index + 1}'}, series {job.series_index}"


def validate(items: ItemsList, taxonomy: Taxonomy | None = None,
             root: str | os.PathLike[str] | None = None,
             stages: Sequence[str] | None = None) -> list[Finding]:
    """Validate an items list (see ``app.validate`` for every code)."""
    return run(validate_work(items, taxonomy, root, stages=stages))
