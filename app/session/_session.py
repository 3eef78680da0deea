"""The session: every job on one object, and what leaves it for a worker thread or a file.

Work that runs off the GUI thread (validation, the preview) gets a frozen copy
built here, on the caller's thread, never the live items list: the user may edit
the mapping while it runs.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

from app.discover import rois_of, rt_everything
from app.export import ExportSummary, LinkMode, export_items, replace_question
from app.items import ItemsList, Task, Taxonomy, task_label
from app.merge import entries_of, merge_inputs, series_inputs
from app.parallel import IN_PROCESS, Jobs, default_jobs
from app.preview import PreviewRequest
from app.progress import Work
from app.session._codes import SessionCodes
from app.session._fields import SessionFields
from app.session._history import SessionHistory
from app.session._model import REVIEW_KEYS, CaseState, Review, SignOff
from app.session._repairs import SessionRepairs
from app.session._templates import SessionTemplates
from app.validate import Code, FileCache, Finding, finding, sort_findings, validate_work

# Series from which validating on every core beats this process with the session's
# cache (measured, BENCHMARKS.md issue 14: nnU-Net, 300 cases 0.45 s here vs 0.69 s on
# 2 processes; 1,000 cases 4.4 s here vs 1.4 s).
POOL_FROM_SERIES = 500


def validation_jobs(items: ItemsList) -> Jobs:
    """Where a session's validation runs: every core for ``POOL_FROM_SERIES`` series or
    more (the workers read the files again: a cache is one process's memory), else here."""
    n = default_jobs()
    series = sum(len(t.series) for t in items.tasks)
    return Jobs(n) if n > 1 and series >= POOL_FROM_SERIES else IN_PROCESS


class Session(SessionRepairs, SessionTemplates, SessionCodes, SessionFields, SessionHistory):
    """The items list being built or edited, with one CaseState per task.

    Rows and colours (``app.session._rows``), edits (``_edits``), repairs
    (``_repairs``), templates (``_templates``), task names and fields (``_fields``) and
    snapshots for undo (``_history``) each live in their own module; every edit returns a
    ``Change``.
    """

    def included_items(self, sign_offs_in_metadata: bool = False) -> ItemsList:
        """The items list restricted to the included cases (same base), each case's task a
        copy with its task name and fields (``task_fields``), the others the same objects.

        With ``sign_offs_in_metadata``, each case's task is a copy whose ``metaData``
        holds its sign-off (``SignOff.metadata``: ``segmapReview`` and the rest), and a
        case not reviewed loses the ``segmap*`` keys an earlier export wrote; without it,
        only tasks that already carry such keys are so updated. The session's own tasks
        stay as they are.
        """
        keep = {id(c.task): c for c in self.cases if c.included}
        tasks = [t for t in self.items.tasks if id(t) in keep or not self._owned(t)]
        # A list that already carries sign-offs (exported so before) gets them updated even
        # without the option: a stale "reviewed" in RedBrick's viewer would be worse than none.
        tasks = [with_sign_off(t, keep[id(t)].sign_off)
                 if id(t) in keep and (sign_offs_in_metadata or _carries_sign_off(t)) else t
                 for t in tasks]
        plan = self.task_names()  # once: each case asking would read every case
        tasks = [self.task_fields(keep[id(t)], plan)[0] if id(t) in keep else t for t in tasks]
        return ItemsList(tasks=tasks, path=self.items.path, root=self.items.root,
                         problems=self.items.problems)

    def frozen(self) -> Session:
        """A copy of the session for work on a worker thread (the dataset report): the
        items list and its cases copied, each case still holding its own list's task; the
        file cache and the taxonomy shared, as validation shares them. Edits made while
        the work runs do not reach it."""
        memo: dict[int, Any] = {id(self.cache): self.cache}
        if self.taxonomy is not None:
            memo[id(self.taxonomy)] = self.taxonomy
        return copy.deepcopy(self, memo)

    def _owned(self, task: Task) -> bool:
        return any(c.task is task for c in self.cases)

    def validate_work(self) -> Work[list[Finding]]:
        """Validate the included cases (as ``segmap validate`` would) plus the review state.

        The items list is copied now, on the caller's thread; the returned work reads
        only that copy.
        """
        items = self.included_items().copy()
        unreviewed = {c.name: (c.series_index, sorted(c.unreviewed)) for c in self.cases
                      if c.included and c.unreviewed}
        # Findings name the case (the task's name in the session), as every page finds it.
        plan = self.task_names()
        cases = {self.task_name(c, plan): c.name for c in self.cases if c.included}
        jobs = validation_jobs(items)
        cache = self.cache if jobs.n <= 1 else None
        return _validate(items, self.taxonomy, cache, unreviewed, cases, jobs)

    def preview_request(self, case: CaseState) -> PreviewRequest:
        """What the preview of ``case`` needs, frozen, for a worker thread.

        A case whose label maps are not in the list yet (no value mapped) still shows
        them, every value unmapped: the user must see what value 1 is to name it.
        Binary masks not in the list are not imported, so they do not show.
        """
        if rois_of(case.masks) is not None:  # an RTSTRUCT: every ROI, by its place in the file
            every = rt_everything(case.masks[0], case.image.files)
            smap = case.task.segment_map_of(case.series_index)
            mapped = dict.fromkeys(smap.segments) if smap is not None else {}
            merge = merge_inputs(entries_of([str(every)] if every else [], self.base), mapped,
                                 False, False, {}) if every else None
            return PreviewRequest(case.name, tuple(case.image.files), merge,
                                  unlisted=not mapped)
        if case.series.segmentation_paths:
            merge = series_inputs(self.items, case.task, case.series_index)
            return PreviewRequest(case.name, tuple(case.image.files), merge)
        if case.masks and not case.binary:
            files = [str(m) for m in case.masks]
            merge = merge_inputs(entries_of(files, self.base), {}, False, False, {})
            return PreviewRequest(case.name, tuple(case.image.files), merge, unlisted=True)
        return PreviewRequest(case.name, tuple(case.image.files), None)

    def export(self, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
               dcm_names: LinkMode | None = None, replace: bool = False,
               sign_offs_in_metadata: bool = False) -> ExportSummary:
        """Write the included cases as an items list (atomic), paths relative to ``root``;
        with ``dcm_names``, DICOM files RedBrick refuses by name are written under .dcm
        names beside it (``app.export.export_items``).

        A file at ``path`` that Segmap did not write is replaced only with ``replace``
        (ask first: ``replace_question``); an input (the opened list, an image or mask)
        never is (``OutputError``). With ``sign_offs_in_metadata`` each task's
        ``metaData`` carries its case's sign-off (``included_items``)."""
        return export_items(self.included_items(sign_offs_in_metadata), path, root,
                            dcm_names=dcm_names, force=replace)

    def replace_question(self, path: str | os.PathLike[str]) -> str | None:
        """What to ask before exporting to ``path`` (a file there that Segmap did not
        write, or changed since), or None when nothing would be lost."""
        return replace_question(path)


def _validate(items: ItemsList, taxonomy: Taxonomy | None, cache: FileCache | None,
              unreviewed: dict[str, tuple[int, list[int]]], cases: dict[str, str],
              jobs: Jobs) -> Work[list[Finding]]:
    found = yield from validate_work(items, taxonomy, cache=cache, jobs=jobs)
    found = [dataclasses.replace(f, task=cases.get(f.task or "", f.task)) for f in found]
    # The order findings are sorted in: the list's, each task by its case's name.
    items = ItemsList([Task(name=cases.get(label, label) if (label := task_label(t)) else None)
                       for t in items.tasks])
    for name, (series, keys) in unreviewed.items():
        found.append(finding(
            Code.SUGGESTION_UNREVIEWED,
            f"{len(keys)} mapping(s) were suggested by Segmap and not reviewed (ids "
            f"{', '.join(map(str, keys))}). Check them on the Mapping page and accept them.",
            task=name, series=series))
    return sort_findings(items, found)



def _metadata(task: Task) -> Any:
    """A task's own metaData (a legacy flat task keeps it in its one series)."""
    if task.legacy and task.series:
        return task.series[0].meta_data
    return task.extra.get("metaData")


def _carries_sign_off(task: Task) -> bool:
    meta = _metadata(task)
    return isinstance(meta, dict) and any(k in meta for k in REVIEW_KEYS)


def sign_off_of(task: Task) -> SignOff | None:
    """The sign-off a task's ``metaData`` holds (an export with sign-offs wrote it), if any."""
    meta = _metadata(task)
    if not isinstance(meta, dict):
        return None
    fields = [meta.get(k) for k in REVIEW_KEYS]
    if not all(isinstance(v, str) for v in fields if v is not None):
        return None
    review, comment, by, at = (str(v) if v is not None else "" for v in fields)
    try:
        return SignOff(Review(review), comment, by, at)
    except ValueError:  # no review, or one Segmap does not know
        return None


def with_sign_off(task: Task, sign_off: SignOff | None) -> Task:
    """A copy of ``task`` whose task-level ``metaData`` says ``sign_off`` (RedBrick's
    {string: string}, shown in the viewer); other metaData keys are kept. A legacy flat
    task keeps its metaData in its one series (written at the task's level). MetaData
    that is not an object is left as it is: validation reports it."""
    task = copy.deepcopy(task)
    legacy = task.legacy and bool(task.series)
    meta = _metadata(task)
    if meta is not None and not isinstance(meta, dict):
        return task
    words = sign_off.metadata() if sign_off is not None else {}
    if meta is None and not words:
        return task
    meta = {**{k: v for k, v in (meta or {}).items() if k not in REVIEW_KEYS}, **words}
    if legacy:
        task.series[0].meta_data = meta
    else:
        task.extra["metaData"] = meta
    return task
