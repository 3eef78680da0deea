"""``write_report``: the dataset report as one folder (index.html and thumbs/*.png).

Each case runs in a worker process (``app.parallel.map_work``: 1.13x the threads it
replaced, BENCHMARKS.md issue 14). Bounded memory: a worker holds one case (its image
read, drawn and dropped); the cases' HTML is streamed to a temporary file beside the
report and copied into index.html after the dataset sections, which need every case.
index.html is written atomically.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from app.about import segmap_version
from app.errors import InputError, OutputError, SegmapError
from app.export import guard_output, record_output
from app.items import ItemsList, Taxonomy
from app.jsonio import atomic_path
from app.parallel import Jobs, map_work
from app.progress import Progress, Work, in_parallel, run
from app.readers import available_memory, image_grid
from app.report._case import CasePlan, CaseRecord, gather_case, plan_case
from app.report._dataset import Dataset, dataset
from app.report._html import case_html, dataset_html, e, page_head, page_tail, table
from app.session import Session, open_folder, open_items, open_source
from app.validate import Finding, Severity, counts

THUMBS = "thumbs"


@dataclass(frozen=True)
class ReportSummary:
    """What ``write_report`` wrote and found."""

    index: Path
    cases: int
    thumbnails: int
    findings: dict[str, int]  # severity -> count
    outliers: list[str]
    reviewed: int
    needs_work: int

    def to_json(self) -> dict[str, Any]:
        """As ``segmap report --json`` prints it."""
        return {"index": str(self.index), "cases": self.cases, "thumbnails": self.thumbnails,
                "findings": self.findings, "outliers": self.outliers,
                "reviewed": self.reviewed, "needs_work": self.needs_work}


Source = Session | ItemsList | str | os.PathLike[str]


def _session(source: Source, taxonomy: Taxonomy | None, template: str | None
             ) -> Work[Session]:
    if isinstance(source, Session):
        return source
    if isinstance(source, ItemsList):
        if source.path is None:
            raise InputError("The items list has no file to report on.",
                             "Save the items list first, or pass its path.")
        return (yield from open_items(source.path, taxonomy))
    if template is not None and Path(source).is_dir():
        return (yield from open_folder(source, taxonomy, template))
    return (yield from open_source(source, taxonomy))


@dataclass
class _Frozen:
    """What the work needs of a session, taken where the session lives: the plans of its
    cases and its validation over a copy of the list (``Session.validate_work``)."""

    source: Path
    items_path: Path | None
    taxonomy_path: str | None
    inputs: list[Path]
    plans: list[CasePlan]
    validation: Work[list[Finding]]


def _freeze(session: Session, taxonomy_path: str | None) -> _Frozen:
    inputs = [session.source, *(p for p in [session.items.path] if p is not None)]
    for case in session.cases:
        inputs += [*case.image.files, *case.masks]
    tax = taxonomy_path or (str(session.taxonomy_path) if session.taxonomy_path else None)
    return _Frozen(session.source, session.items.path, tax, inputs,
                   [plan_case(session, c) for c in session.cases], session.validate_work())


def _refuse_file(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"Cannot write the report into {out}: it is a file, not a folder.",
                          "Pass -o with a folder (it is created when missing).")


def _check_output(out: Path, frozen: _Frozen, force: bool) -> Path:
    _refuse_file(out)
    guard_output(out / "index.html", frozen.inputs, force=force)
    return out / "index.html"


_BYTES_PER_VOXEL = 8  # a case's peak above imports: 460 MB for 512x512x300 int16 + uint8


def _jobs(plans: Sequence[CasePlan], jobs: int | None) -> int:
    """How many cases are read at once: ``jobs``, or as many as there are cores (at most
    4) while that many of the first case's size fit twice into the free memory."""
    if jobs is not None:
        return max(1, jobs)
    cores = min(4, os.cpu_count() or 1)
    first = next((p.image_files for p in plans if p.image_files), None)
    free = available_memory()
    if cores == 1 or not first or free is None:
        return 1
    try:
        shape = image_grid(list(first)).shape
    except (SegmapError, OSError, ValueError):
        return 1
    case = _BYTES_PER_VOXEL * int(np.prod(shape[:3]))
    return max(1, min(cores, free // (2 * case)))


@dataclass(frozen=True)
class _CaseJob:
    """One case's work as a worker process gets it (picklable: the plan, no session)."""

    plan: CasePlan
    index: int
    folder: Path
    findings: list[Finding]


def _gather(job: _CaseJob) -> CaseRecord:
    """A worker's case: read, merge, measure, draw, hash, then let go."""
    return run(gather_case(job.plan, job.index, job.folder, job.findings))


def _picklable(plan: CasePlan) -> CasePlan:
    """``plan`` with its merge's read-only mappings as dicts (a mappingproxy does not
    pickle); the same values, so the same merge."""
    merge = plan.request.merge if plan.request is not None else None
    if plan.request is None or merge is None:
        return plan
    merge = dataclasses.replace(merge, instances=dict(merge.instances), masks=dict(merge.masks))
    return dataclasses.replace(plan, request=dataclasses.replace(plan.request, merge=merge))


def _job_name(job: _CaseJob) -> str:
    return job.plan.name


def _gather_all(plans: Sequence[CasePlan], folder: Path, by_task: dict[str | None, list[Finding]],
                n: int, done: Callable[[CaseRecord], None]) -> Work[None]:
    """Every case's record, handed to ``done`` in order: on ``n`` processes (a worker
    holds one case; closing this terminates them), or here when ``n`` is 1."""
    if n <= 1:  # one case at a time, its steps' progress shown
        works = ((p.name, gather_case(p, i, folder, by_task.get(p.name, [])))
                 for i, p in enumerate(plans))
        yield from in_parallel(works, len(plans), 1, done)
        return
    jobs = [_CaseJob(_picklable(p), i, folder, by_task.get(p.name, [])) for i, p in enumerate(plans)]
    for outcome in (yield from map_work(_gather, jobs, Jobs(n), what=_job_name)):
        done(outcome.unwrap())  # a case that failed fails the report, as it would here


def _title(source: Path) -> str:
    """The source as a title: its folder's name, or an items list with its folder."""
    return source.name if source.is_dir() else f"{source.parent.name}/{source.name}"


def _provenance(frozen: _Frozen, records: Sequence[CaseRecord], template: str | None,
                when: str) -> str:
    rows = [["Segmap", e(segmap_version())], ["source", e(frozen.source)],
            ["items list", e(frozen.items_path or "(built from the folder)")],
            ["taxonomy", e(frozen.taxonomy_path or "(none)")],
            ["template", e(template or "(none)")], ["written", e(when)]]
    out = ["<h2>Provenance</h2>", table(["", ""], rows), "<h3>Files (SHA-256)</h3>"]
    out.append('<div class="scroll">' + table(["case", "file", "sha256"], (
        [e(r.name), e(path), f"<td><code>{e(digest)}</code></td>"]
        for r in records for path, digest in r.hashes)) + "</div>")
    return "\n".join(out) + "\n"


def _summary(index: Path, records: Sequence[CaseRecord], found: Sequence[Finding],
             ds: Dataset) -> ReportSummary:
    n = counts(found)
    reviews = [r.sign_off.review.value for r in records if r.sign_off is not None]
    return ReportSummary(index, len(records), sum(len(r.thumbs) for r in records),
                         {str(s): n[s] for s in Severity}, [o.why for o in ds.outliers],
                         reviews.count("reviewed"), reviews.count("needs work"))


def write_report(source: Source, out: str | os.PathLike[str], *,
                 taxonomy: Taxonomy | None = None, taxonomy_path: str | None = None,
                 template: str | None = None, force: bool = False, jobs: int | None = None
                 ) -> Work[ReportSummary]:
    """Write the dataset report of ``source`` (a ``Session``, an items list, or the path of
    a folder or items list) into the folder ``out``: index.html and thumbs/*.png.

    ``taxonomy`` checks the categories (``taxonomy_path`` is what the report names);
    ``template`` suggests the mapping of a folder (and is named in the provenance).
    A ``Session`` is read now, on the caller's thread (its cases' plans and a copy of the
    list to validate): the returned work never touches it, so it may run on a worker.

    Refuses an ``out`` whose index.html is an input, or a file Segmap did not write
    unless ``force``. ``jobs`` cases are read at once (default: one per core while memory
    allows; 1 keeps memory to one case). Yields Progress; returns a ``ReportSummary``.
    """
    frozen = _freeze(source, taxonomy_path) if isinstance(source, Session) else None
    return _write(source, frozen, Path(out).expanduser(), taxonomy, taxonomy_path, template,
                  force, jobs)


def _write(source: Source, frozen: _Frozen | None, folder: Path, taxonomy: Taxonomy | None,
           taxonomy_path: str | None, template: str | None, force: bool, jobs: int | None
           ) -> Work[ReportSummary]:
    _refuse_file(folder)  # before a long scan
    if frozen is None:
        frozen = _freeze((yield from _session(source, taxonomy, template)), taxonomy_path)
    index = _check_output(folder, frozen, force)
    yield Progress(0, 1, "Validating")
    found = yield from frozen.validation
    thumbs = folder / THUMBS
    thumbs.mkdir(parents=True, exist_ok=True)
    records: list[CaseRecord] = []
    plans = frozen.plans
    # The cases' HTML waits in a temporary file: the dataset sections come first.
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=folder,
                                prefix=".report-cases.") as part:
        by_task: dict[str | None, list[Finding]] = {}
        for f in found:
            by_task.setdefault(f.task, []).append(f)

        def done(rec: CaseRecord) -> None:
            part.write(case_html(rec))
            records.append(rec)

        yield from _gather_all(plans, thumbs, by_task, _jobs(plans, jobs), done)
        ds = dataset(records)
        when = datetime.now(UTC).isoformat(timespec="seconds")
        with atomic_path(index) as tmp, open(tmp, "w", encoding="utf-8") as html:
            html.write(page_head(f"Segmap report: {_title(frozen.source)}"))
            html.write(dataset_html(ds, found, records))
            html.write(f"<h2>Cases ({len(records)})</h2>\n")
            part.seek(0)
            shutil.copyfileobj(part, html)
            html.write(_provenance(frozen, records, template, when))
            html.write(page_tail())
    record_output(index, "report")
    yield Progress(len(records), max(1, len(records)), "Report written")
    return _summary(index, records, found, ds)
