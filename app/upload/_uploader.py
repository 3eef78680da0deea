"""Upload an items list to a RedBrick project: the whole run, as one ``Work`` generator.

Order (reference redbrick.md §5.3, with Segmap's checks first):
the locks (one upload of a list to a project at a time, ``_locks``) ->
``getProjectSDK`` (the project must be ready; its taxonomy is the one validated
against) -> local validation (errors block the upload) -> per-task checks of
local files (a task with missing files uploads nothing) -> the journal (tasks
created earlier are skipped; an interrupted createDatapoint, and every task a
damaged journal cannot vouch for, is looked up by name) ->
``validateAndConvertToImportFormat`` in batches (a rejected batch is asked
about task by task, so one bad task does not sink the rest) -> ``getLabelStorage``
-> per task, ``concurrency`` at a time: images, merged labels, createDatapoint.
The label merges run on ``jobs.n`` worker processes (``_merge_pool``; one pool per
run, at most as many workers as merges run at once), or with ``Jobs(1)`` on the
tasks' threads.

The generator yields :class:`UploadProgress` (with every task's status) about ten
times a second and returns an :class:`UploadReport`. Closing it cancels: requests
stop at their next step, finished work is in the journal, and the next run
resumes. To retry failed tasks run again with ``only=report.failed_names()``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.discover import rt_series, with_rt_as_nifti
from app.errors import Cancelled, SegmapError, TaxonomyError
from app.export import DCM_SUFFIX, convert_masks, dicom_to_rename
from app.items import (
    CONVERTED_FOLDER,
    ItemsList,
    PathRole,
    Taxonomy,
    iter_paths,
    task_label,
    uploadable,
    walk,
)
from app.parallel import Jobs, default_jobs
from app.progress import Work
from app.readers import is_dicom_seg
from app.upload import _protocol as protocol
from app.upload._client import AuthError, RedBrickClient
from app.upload._credentials import REDBRICK_STORAGE, Credentials, Destination
from app.upload._journal import Journal, journal_path
from app.upload._locks import Held, hold_upload
from app.upload._merge_pool import MergePool
from app.upload._preflight import task_problems
from app.upload._report import TaskResult, TaskState, UploadProgress, UploadReport
from app.upload._task_upload import TaskContext, upload_task
from app.validate import Code, Severity, validate_work

T = TypeVar("T")
log = logging.getLogger("segmap.upload")
# Findings about local image files, which an external storage makes moot.
_LOCAL_IMAGE_CODES = frozenset({Code.IMAGE_MISSING, Code.IMAGE_UNREADABLE,
                                Code.IMAGE_TYPE_UNSUPPORTED})
# What the SDK prints when RedBrick gives no reason.
DEFAULT_INVALID = ("Error: Invalid format\n"
                   "Docs: https://sdk.redbrickai.com/formats/index.html#import")


class UploadBlocked(SegmapError):
    """Validation found errors: nothing was uploaded."""

    def __init__(self, message: str, findings: list[Any]) -> None:
        super().__init__(message, "Fix the errors (segmap validate lists them), then upload again.")
        self.findings = findings


@dataclass(frozen=True)
class UploadOptions:
    """How to upload. ``concurrency`` tasks are in flight, each with ``files_per_task`` PUTs.

    ``jobs.n`` processes of this computer run the label merges (default: every core;
    ``Jobs(1)``: each on its task's thread, no processes). ``jobs.scheduler`` is not
    used: the merged volume is PUT from here, so the merge runs here too.
    """

    storage: str = REDBRICK_STORAGE
    label_validate: bool = False
    prune: bool = False
    ground_truth: bool = False
    concurrency: int = 10
    files_per_task: int = 5
    batch_size: int = 10
    dry_run: bool = False
    restart: bool = False
    validate: bool = True  # Segmap's validation first (RedBrick validates in any case)
    only: frozenset[str] | None = None
    journal: Path | None = None  # default: beside the items list
    jobs: Jobs = dataclasses.field(default_factory=lambda: Jobs(default_jobs()))


class _Board:
    """Task statuses shared by the worker threads and the generator."""

    def __init__(self, results: list[TaskResult]) -> None:
        self._lock = threading.Lock()
        self._pos = {r.index: n for n, r in enumerate(results)}
        self.results = results
        self.message = ""
        self.retrying: tuple[str, str] | None = None  # (doing, retry n of m: why), the latest

    def update(self, index: int, note: str | None = None, **changes: Any) -> None:
        with self._lock:
            n = self._pos[index]
            current = self.results[n]
            if note:
                changes["notes"] = (*current.notes, note)
            self.results[n] = current.with_(**changes)
            state = changes.get("state")
            if state is not None:
                self.message = f"{current.name}: {state}"
                self.retrying = None

    def retry(self, doing: str | None, note: str = "") -> None:
        """Say the latest retry in the progress message until the work moves on (None)."""
        with self._lock:
            self.retrying = (doing, note) if doing else None

    def file_done(self, index: int, reused: bool) -> None:
        with self._lock:
            n = self._pos[index]
            r = self.results[n]
            self.results[n] = r.with_(files_done=r.files_done + 1,
                                      files_reused=r.files_reused + reused)

    def progress(self, message: str | None = None) -> UploadProgress:
        with self._lock:
            snapshot = tuple(self.results)
            text = message or self.message
            if self.retrying:
                doing, note = self.retrying
                text = f"{doing}: {note}" if doing == text or not text else \
                    f"{text} ({doing}: {note})"
        done = sum(1.0 if r.state.finished else
                   0.9 * r.files_done / r.files_total if r.files_total else 0.0
                   for r in snapshot)
        return UploadProgress(done, max(1, len(snapshot)), text, snapshot)


def upload(items: ItemsList, destination: Destination, credentials: Credentials | None = None,
           options: UploadOptions | None = None, *, client: RedBrickClient | None = None
           ) -> Work[UploadReport]:
    """Upload ``items`` to ``destination``; yields UploadProgress, returns the report.

    Pass ``credentials`` (a client is made from them) or a ready ``client``.
    """
    options = options or UploadOptions()
    if client is not None:
        return (yield from _Run(items, destination, options, client).work())
    if credentials is None:
        raise ValueError("upload() needs credentials or a client")
    own = RedBrickClient(credentials.api_key, destination.url,
                         pool_size=options.concurrency * options.files_per_task + 4)
    try:
        return (yield from _Run(items, destination, options, own).work())
    finally:
        own.close()


class _Run:
    # True when the images are in RedBrick already (labels onto existing tasks): the
    # local image files are not needed, so findings about them do not count.
    images_remote = False

    def __init__(self, items: ItemsList, destination: Destination, options: UploadOptions,
                 client: RedBrickClient) -> None:
        self.items, self.dest, self.options, self.client = items, destination, options, client
        self.retries = 0
        self.aliases: dict[str, str] = {}  # .dcm name shown to RedBrick -> path as written
        # The .nii.gz name RedBrick is shown for a DICOM SEG mask -> the SEG's path as written.
        self.seg_aliases: dict[str, str] = {}
        self._renamed_series: set[tuple[str | None, int | None]] = set()
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.board = _Board([])
        self.fatal: BaseException | None = None
        self.journal: Journal | None = None
        self.merges: MergePool | None = None  # made with the tasks' context
        self._retry_lock = threading.Lock()
        self._their_on_retry = client.on_retry
        client.on_retry = self._count_retry

    def _count_retry(self, doing: str, failures: int, reason: str) -> None:
        with self._retry_lock:
            self.retries += 1
        retries = self.client.retry.attempts - 1
        self.board.retry(doing, f"retry {failures} of {retries}, after: {reason}")
        if self._their_on_retry is not None:
            self._their_on_retry(doing, failures, reason)

    def _call(self, pool: ThreadPoolExecutor, message: str, fn: Callable[..., T],
              *args: Any) -> Generator[UploadProgress, None, T]:
        """Run ``fn`` on the pool, yielding progress until it returns."""
        future = pool.submit(fn, *args)
        while not future.done():
            wait([future], timeout=0.1)
            yield self.board.progress(message)
        self.board.retry(None)  # done (or given up): its retries are over
        return future.result()

    def work(self) -> Work[UploadReport]:
        started = time.monotonic()
        self.client.cancel.clear()
        # Before anything else: a second run of this list to this project stops here.
        held = [] if self.options.dry_run else self._hold()
        pool = ThreadPoolExecutor(max_workers=max(2, self.options.concurrency),
                                  thread_name_prefix="segmap-upload")
        if self.client.url_note:
            self.notes.append(self.client.url_note)
        try:
            return (yield from self._steps(pool, started))
        except BaseException:
            self.client.cancel.set()  # closed (GeneratorExit), interrupted or failed
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self.merges is not None:  # after the tasks: none submits any more
                self.merges.close()
            for r in self.board.results:
                if not r.state.finished:
                    self.board.update(r.index, state=TaskState.CANCELLED)
            if self.journal is not None:
                self.journal.close()
            for h in held:
                h.release()
            self.client.on_retry = self._their_on_retry

    def _hold(self) -> list[Held]:
        return hold_upload(self.dest.key, self.items.path,
                           [t.to_json() for t in self.items.tasks])

    def _steps(self, pool: ThreadPoolExecutor, started: float) -> Work[UploadReport]:
        opts = self.options
        yield self.board.progress("Checking the RedBrick project")
        project = yield from self._call(pool, "Checking the RedBrick project",
                                        protocol.get_project, self.client,
                                        self.dest.org_id, self.dest.project_id)
        path = opts.journal or (journal_path(self.items.path) if self.items.path else None)
        self._dcm_names()
        self._seg_names()
        yield from self._validate(project, self._to_do(path))
        self._convert_masks()
        self.journal = journal = Journal(path, self.dest.key, restart=opts.restart,
                                         read_only=opts.dry_run)
        self._journal_damage(journal)
        selected = self._select(journal)
        yield self.board.progress("Checking files")
        selected = yield from self._reconcile(pool, journal, selected)
        converted = yield from self._server_validate(pool, selected)
        if converted and not opts.dry_run:
            # As the SDK does once per upload; its answer matters only for label
            # files kept in an external storage, which Segmap does not read.
            yield from self._call(pool, "Uploading", protocol.get_label_storage,
                                  self.client, self.dest.org_id, self.dest.project_id)
        yield from self._run_tasks(pool, journal, converted)
        return self._report(project, started, path)

    def _run_tasks(self, pool: ThreadPoolExecutor, journal: Journal,
                   converted: dict[int, tuple[str, dict]]) -> Generator[UploadProgress, None, None]:
        """Each converted task on the pool, ``concurrency`` at a time, until all are done."""
        ctx = self._context(journal)
        pending: set[Future[None]] = {pool.submit(self._task, ctx, i, name, point)
                                      for i, (name, point) in converted.items()}
        while pending:
            _, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            yield self.board.progress()
        if self.fatal is not None:
            raise self.fatal
        yield self.board.progress("Done")

    def _report(self, project: protocol.Project, started: float,
                path: Path | None) -> UploadReport:
        return UploadReport(project.name, self.dest.key, self.options.dry_run,
                            list(self.board.results), self.retries,
                            time.monotonic() - started, path, self.warnings, self.notes)

    # -- before any task -------------------------------------------------------------

    def _to_do(self, path: Path | None) -> list[int]:
        """Indices of the tasks this run may upload (not created by an earlier run)."""
        earlier = None
        if path is not None and path.exists() and not self.options.restart:
            earlier = Journal(path, self.dest.key, read_only=True)
        out = []
        for i, task in enumerate(self.items.tasks):
            name = task_label(task)
            if self.options.only is not None and name not in self.options.only:
                continue
            if earlier is not None and name and earlier.state(name)[0] == "created":
                continue
            out.append(i)
        return out

    def _validate(self, project: protocol.Project, to_do: list[int]
                  ) -> Generator[UploadProgress, None, None]:
        """App validation against the project's taxonomy; errors block the upload.

        Only the tasks still to upload are validated, so resuming a long upload
        does not read the masks of the tasks already in RedBrick again.
        """
        if not self.options.validate or not to_do:
            return
        taxonomy = None
        if project.taxonomy:
            try:
                taxonomy = Taxonomy.from_json(project.taxonomy,
                                              source=f"project {project.name!r}")
            except TaxonomyError as exc:
                self.warnings.append(f"The project's taxonomy could not be read: {exc.message}")
        # preAssign is checked against the project's stages (when it says them)
        stages = [name for name, _ in project.stages] or None
        work = validate_work(_subset(self.items, to_do), taxonomy, self.items.root,
                             stages=stages, keep_runs=True)  # the merges that follow read them
        while True:  # relay its progress, so a cancel reaches it at the next series
            try:
                step = next(work)
            except StopIteration as stop:
                findings = stop.value
                break
            yield UploadProgress(step.done, step.total, f"Validating: {step.message}")
        if self.options.storage != REDBRICK_STORAGE or self.images_remote:
            # Items are storage paths (or in RedBrick already): nothing to find here.
            findings = [f for f in findings if f.code not in _LOCAL_IMAGE_CODES]
        else:  # refused for their names only: they go up under .dcm names
            findings = [f for f in findings if f.code is not Code.IMAGE_TYPE_UNSUPPORTED
                        or (f.task, f.series) not in self._renamed_series]
        errors = [f for f in findings if f.severity is Severity.ERROR]
        self.warnings += [_finding_text(f) for f in findings
                          if f.severity is Severity.WARNING]
        if errors:
            lines = [_finding_text(f) for f in errors[:20]]
            more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
            raise UploadBlocked(f"{len(errors)} validation error(s); nothing was uploaded:\n  "
                                + "\n  ".join(lines) + more, errors)

    def _dcm_names(self) -> None:
        """DICOM files RedBrick refuses for their names (``CT.1.3...300000``) go up under
        ``.dcm`` names: RedBrick is shown the list as if they were renamed (its validation,
        the presigned names, the MIME type), and the bytes come from the files."""
        if self.options.storage != REDBRICK_STORAGE:
            return  # the items are storage paths: nothing is uploaded from here
        files = set(dicom_to_rename(self.items))
        if not files:
            return
        items = self.items
        written = {p for t in items.tasks for s in t.series for p in s.item_paths}
        refused: set[tuple[str | None, int | None]] = set()
        for ref in iter_paths(items):
            local = items.resolve(ref.path) if ref.role in (PathRole.ITEM,
                                                           PathRole.HEAT_MAP) else None
            if local is None or uploadable(local.name):
                continue
            where = (task_label(items.tasks[ref.task]), ref.series)
            new = ref.path + DCM_SUFFIX
            if Path(os.path.abspath(local)) not in files or new in written:
                refused.add(where)  # not DICOM, or a file of that name is listed too
                continue
            self.aliases[new] = ref.path
            self._renamed_series.add(where)
        self._renamed_series -= refused
        self.notes.append(f"{len(files)} DICOM file(s) without .dcm (RedBrick refuses their "
                          "names) go up under their names with .dcm added.")

    def _seg_names(self) -> None:
        """DICOM SEG masks go up as RedBrick's CLI sends them with ``--dicom-seg``: converted
        to NIfTI (``app.readers.seg_as_nifti``, in memory; the SEG is left as it is), and
        named as the SDK names its conversion (``.dcm`` dropped, ``.nii.gz`` added), so
        RedBrick's validation sees the NIfTI name it would see from its own CLI."""
        items = self.items
        written = {r.path for r in iter_paths(items)}
        segs = 0
        for ref in iter_paths(items):
            if ref.role not in (PathRole.SEGMENTATION, PathRole.MASK) or ref.path in \
                    self.seg_aliases.values():
                continue
            local = items.resolve(ref.path)
            if local is None or not is_dicom_seg(local):
                continue
            new = ref.path.removesuffix(".dcm") + ".nii.gz"  # the SDK's name for it
            if new in written or new in self.seg_aliases:
                continue  # a file of that name is in the list: RedBrick is shown the .dcm
            self.seg_aliases[new] = ref.path
            segs += ref.role is PathRole.SEGMENTATION
        if segs:
            self.notes.append(f"{segs} DICOM SEG mask(s) go up as RedBrick's CLI converts them "
                              "with --dicom-seg: as NIfTI (values = segment numbers), converted "
                              "in memory; the SEG files are left as they are.")

    def _shown(self, index: int) -> dict[str, Any]:
        """Task ``index`` as RedBrick is shown it: DICOM files under their .dcm names, DICOM
        SEG masks under the names of their NIfTI conversions."""
        if not self.aliases and not self.seg_aliases:
            return self.items.tasks[index].to_json()
        shown = {old: new for new, old in self.aliases.items()}
        seg_shown = {old: new for new, old in self.seg_aliases.items()}
        one = dataclasses.replace(self.items, tasks=[self.items.tasks[index]], problems=[])
        copied = one.copy()
        walk(copied, lambda ref: shown.get(ref.path) if ref.role in (
            PathRole.ITEM, PathRole.HEAT_MAP) else seg_shown.get(ref.path))
        task = copied.tasks[0]
        if task.name is None:  # RedBrick names it by its first item: as the list does
            task.name = task_label(self.items.tasks[index])
        return task.to_json()

    def _payload(self, index: int) -> dict[str, Any]:
        """What ``validateAndConvertToImportFormat`` is sent for task ``index``."""
        return self._shown(index)

    def _convert_masks(self) -> None:
        """RedBrick reads NIfTI masks only: NRRD masks go up as their NIfTI conversions,
        written beside the items list (a dry run writes nothing: the merge reads them
        as those conversions anyway)."""
        folder = self.items.base_dir / CONVERTED_FOLDER
        self.items, done = convert_masks(self.items, folder, write=not self.options.dry_run)
        if done:
            verb = "Would convert" if self.options.dry_run else "Converted"
            self.notes.append(f"{verb} {len(done)} NRRD mask(s) to NIfTI in {folder} "
                              "(RedBrick reads NIfTI masks only).")
        # RTSTRUCT series go up as RedBrick's CLI sends them with --rt-struct: the label map
        # its SDK fills (its values, voxel order and affine), from Segmap's cache; the
        # structure sets are left as they are.
        rts = [r for r in rt_series(self.items) if r.sdk is not None]
        if rts:
            self.items, _ = with_rt_as_nifti(self.items, rts, sdk=True)
            self.notes.append(f"{len(rts)} RT Structure Set series go up as RedBrick's CLI "
                              "sends them with --rt-struct: filled into one label map each, "
                              "valued in segmentMap order; the files are left as they are.")

    def _select(self, journal: Journal) -> list[tuple[int, str]]:
        """The tasks of this run: checked for names and files; created ones skipped."""
        results, selected, seen = [], [], set()
        for i, task in enumerate(self.items.tasks):
            name = task_label(task)
            if self.options.only is not None and name not in self.options.only:
                continue
            result = TaskResult(i, name or f"(task {i})")
            state, ids = journal.state(name) if name else (None, {})
            if name is None:
                result = result.with_(state=TaskState.FAILED,
                                      error="The task has no name and no items.")
            elif name in seen:
                result = result.with_(state=TaskState.FAILED, error=(
                    f"Another task is also called {name!r}; RedBrick needs unique names "
                    "(the SDK would skip this one)."))
            elif state == "created":
                result = result.with_(state=TaskState.EXISTING, dp_id=ids.get("dpId"),
                                      task_id=ids.get("taskId"),
                                      task_ids=tuple(ids.get("taskIds") or ()))
            elif problems := task_problems(self.items, task, self.options.storage):
                result = result.with_(state=TaskState.FAILED,
                                      error="Nothing uploaded: " + "; ".join(problems))
            else:
                selected.append((i, name))
            if name:
                seen.add(name)
            results.append(result)
        self.board = _Board(results)
        return selected

    def _journal_damage(self, journal: Journal) -> None:
        """Say a damaged journal: what was wrong, where it is kept, what happens now."""
        if journal.damage is None:
            return
        if journal.damaged_copy is not None:
            self.warnings.append(
                f"The upload journal {journal.path} was damaged ({journal.damage}); it is kept "
                f"as {journal.damaged_copy}, and every task it does not show as created is "
                "looked up in RedBrick by its name before it is created.")
        else:
            self.warnings.append(
                f"The upload journal {journal.path} is damaged ({journal.damage}); an upload "
                "keeps it aside and looks up every task it does not show as created first.")

    def _reconcile(self, pool: ThreadPoolExecutor, journal: Journal,
                   selected: list[tuple[int, str]]
                   ) -> Generator[UploadProgress, None, list[tuple[int, str]]]:
        """Tasks whose createDatapoint was in flight when a run stopped, and those a damaged
        journal cannot vouch for: look them up by name."""
        unsure = [(i, n) for i, n in selected if journal.unsure(n)]
        if not unsure or self.options.dry_run:
            return selected

        def look(name: str) -> protocol.Created | None:
            return protocol.find_task(self.client, self.dest.org_id, self.dest.project_id, name)

        futures = {pool.submit(look, n): (i, n) for i, n in unsure}
        while not all(f.done() for f in futures):
            wait(list(futures), timeout=0.1)
            yield self.board.progress("Checking tasks an earlier run may have created")
        existing = set()
        for future, (i, name) in futures.items():
            found = future.result()
            if found is None:
                journal.not_created(name)
                continue
            journal.created(name, found.dp_id, found.task_id, found.task_ids)
            self.board.update(i, state=TaskState.EXISTING, dp_id=found.dp_id,
                              task_id=found.task_id, task_ids=tuple(found.task_ids))
            existing.add(i)
        return [(i, n) for i, n in selected if i not in existing]

    def _server_validate(self, pool: ThreadPoolExecutor, selected: list[tuple[int, str]]
                         ) -> Generator[UploadProgress, None, dict[int, tuple[str, dict]]]:
        """``validateAndConvertToImportFormat`` in batches; the converted task per index."""
        payloads = []
        for i, name in selected:
            body = self._payload(i)
            body.pop("status", None)  # the SDK deletes it before sending
            payloads.append((i, name, body))
            self.board.update(i, state=TaskState.CHECKING)
        size = max(1, self.options.batch_size)
        batches = [payloads[k:k + size] for k in range(0, len(payloads), size)]
        futures = [pool.submit(self._check_batch, b) for b in batches]
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.1)
            done = sum(f.done() for f in futures)
            yield self.board.progress(f"Validating with RedBrick: {done}/{len(futures)} batches")
        converted: dict[int, tuple[str, dict]] = {}
        for future in futures:
            for i, (name, outcome) in future.result().items():
                if isinstance(outcome, str):
                    self.board.update(i, state=TaskState.FAILED,
                                      error=self.client.redact(outcome))
                else:
                    converted[i] = (name, outcome)
        return converted

    def _check_batch(self, batch: list[tuple[int, str, dict]]
                     ) -> dict[int, tuple[str, dict | str]]:
        verdict = protocol.validate_and_convert(self.client, [b for _, _, b in batch],
                                                self.options.storage)
        if not verdict.valid:
            if len(batch) == 1:
                i, name, _ = batch[0]
                return {i: (name, "RedBrick rejected the task: "
                            + (verdict.error or DEFAULT_INVALID))}
            out: dict[int, tuple[str, dict | str]] = {}
            for one in batch:  # find which tasks of the batch are the bad ones
                out.update(self._check_batch([one]))
            return out
        converted = verdict.converted or [b for _, _, b in batch]
        if len(converted) == len(batch):
            return {i: (name, c) for (i, name, _), c in zip(batch, converted, strict=True)}
        by_name = {c.get("name"): c for c in converted if isinstance(c, dict)}
        return {i: (name, by_name.get(name) or "RedBrick's conversion lost this task.")
                for i, name, _ in batch}

    # -- the tasks -------------------------------------------------------------------

    def _context(self, journal: Journal) -> TaskContext:
        opts = self.options
        merges = max(1, min(opts.concurrency, os.cpu_count() or 1, 4))
        if opts.jobs.n > 1:  # a worker per merge slot, as many as jobs.n allows
            merges = min(merges, opts.jobs.n)
            self.merges = MergePool(merges, self.client.cancel)
        return TaskContext(
            client=self.client, destination=self.dest, storage=opts.storage,
            label_validate=opts.label_validate, prune=opts.prune,
            ground_truth=opts.ground_truth, dry_run=opts.dry_run,
            files_per_task=max(1, opts.files_per_task), journal=journal,
            task_dir=self.items.base_dir, merge_slots=threading.BoundedSemaphore(merges),
            update=self.board.update, file_done=self.board.file_done, aliases=self.aliases,
            seg_aliases=self.seg_aliases, merges=self.merges)

    def _one(self, ctx: TaskContext, index: int, name: str, point: dict) -> None:
        """The work on one converted task."""
        upload_task(ctx, index, name, point)

    def _task(self, ctx: TaskContext, index: int, name: str, point: dict) -> None:
        try:
            self._one(ctx, index, name, point)
        except Cancelled:
            self.board.update(index, state=TaskState.CANCELLED)
        except AuthError as exc:
            self.board.update(index, state=TaskState.FAILED, error=str(exc))
            self.fatal = exc
            self.client.cancel.set()  # every other task would be refused too
        except SegmapError as exc:
            self.board.update(index, state=TaskState.FAILED, error=self.client.redact(str(exc)))
        except OSError as exc:  # a file moved or changed while the upload ran
            self.board.update(index, state=TaskState.FAILED, error=(
                f"Cannot read {exc.filename or 'a file'}: {exc.strerror or exc}."))
        except Exception as exc:  # a bug: fail this task, keep the others going
            log.exception("upload of task %s failed", name)
            self.board.update(index, state=TaskState.FAILED, error=self.client.redact(
                f"internal error: {type(exc).__name__}: {exc}"))


def _subset(items: ItemsList, keep: list[int]) -> ItemsList:
    """The list with only the tasks at ``keep`` (format problems renumbered to match)."""
    if len(keep) == len(items.tasks):
        return items
    new_index = {old: new for new, old in enumerate(keep)}
    problems = [dataclasses.replace(p, task=new_index[p.task]) for p in items.problems
                if p.task in new_index]
    return dataclasses.replace(items, tasks=[items.tasks[i] for i in keep], problems=problems)


def _finding_text(finding: Any) -> str:
    where = []
    for attr in ("task", "series"):
        value = getattr(finding, attr, None)
        if value is not None:
            where.append(f"{attr} {value}")
    message = getattr(finding, "message", str(finding))
    return (", ".join(where) + ": " if where else "") + str(message)
