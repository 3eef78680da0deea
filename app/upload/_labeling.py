"""Attach the labels of a local items list to tasks already in a RedBrick project.

Two protocols, as redbrick-sdk 2.35.4 has them (reference redbrick.md §5.5):

* no stage: ``project.upload.update_tasks_labels`` -- any stage,
  ``updateTasksLabelsSDK`` (putLabels), not finalized unless asked;
* a stage: ``project.labeling.put_tasks(stage, tasks)`` -- tasks queued in that
  Label stage (and assigned to the key's user), ``putTaskAndLabelsSDK``,
  finalized (submitted) unless asked not to.

Either way: ``getProjectSDK`` -> ``getLabelStorageSDK`` ->
``validateAndConvertToImportFormat`` (the local task with its ``taskId``, as the
SDK sends it) -> per task the merge exactly as the upload does it (``_task_upload``, on
``jobs`` processes),
``presignUploads``, PUT, and the mutation. RedBrick *replaces* labels a task has:
unless ``replace``, a run that would replace any is refused before any request.
The journal (beside the list, ``*.labels-journal.jsonl``) records each remote task
id, so a re-run never attaches twice and resumes where it stopped; an attach whose
answer was lost is looked up (``taskSDK``) before it is sent again.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import Cancelled, SegmapError
from app.items import ItemsList, task_label
from app.parallel import Jobs, default_jobs
from app.progress import Work
from app.upload import _datapoint as dp
from app.upload import _protocol as protocol
from app.upload import _queries as queries
from app.upload._client import RedBrickClient, RedBrickError, TransientError
from app.upload._credentials import PUBLIC_STORAGE, Credentials, Destination
from app.upload._journal import Journal
from app.upload._locks import Held, hold_upload
from app.upload._match import Match
from app.upload._preflight import task_problems
from app.upload._remote import RemoteTask
from app.upload._report import TaskResult, TaskState, UploadReport
from app.upload._task_upload import TaskContext, unalias_segs, upload_labels
from app.upload._tasks import check_stage, get_task
from app.upload._uploader import UploadOptions, _Board, _Run

LABEL_BRICK = "manual-labeling"  # the brickName of a Label stage (the SDK's LabelStage)
DUMMY_ITEM = "https://test"  # what put_tasks puts in place of items (SDK DUMMY_FILE_PATH)


class LabelsWouldBeReplaced(SegmapError):
    """Matched tasks have labels that RedBrick would replace; nothing was sent."""

    def __init__(self, tasks: list[RemoteTask]) -> None:
        names = ", ".join(f"{t.name!r}" for t in tasks[:10])
        more = f" and {len(tasks) - 10} more" if len(tasks) > 10 else ""
        super().__init__(
            f"{len(tasks)} task(s) already have labels in RedBrick, which attaching would "
            f"replace: {names}{more}. Nothing was sent.",
            "Pass --replace to replace their labels, or leave those tasks out.")
        self.tasks = tasks


@dataclass(frozen=True)
class LabelOptions:
    """How to attach labels. ``stage`` None: update_tasks_labels; a name: put_tasks there.

    ``finalize`` None is the SDK's default: False for update, True for put_tasks.
    """

    stage: str | None = None
    finalize: bool | None = None
    concurrency: int = 10
    label_validate: bool = False
    prune: bool = False
    validate: bool = True
    dry_run: bool = False
    restart: bool = False
    journal: Path | None = None  # default: beside the items list
    root: Path | None = None  # where the list's relative paths start (default: its folder)
    replace: bool = False
    # processes for the merges, as UploadOptions.jobs (default every core; Jobs(1): none)
    jobs: Jobs = dataclasses.field(default_factory=lambda: Jobs(default_jobs()))

    @property
    def finalized(self) -> bool:
        return self.finalize if self.finalize is not None else self.stage is not None


def labels_journal_path(items_path: Path) -> Path:
    """Where the labels journal of an items list lives."""
    return items_path.with_name(items_path.stem + ".labels-journal.jsonl")


def attach_labels(items: ItemsList, matches: Sequence[Match], destination: Destination,
                  credentials: Credentials | None = None, options: LabelOptions | None = None,
                  *, client: RedBrickClient | None = None) -> Work[UploadReport]:
    """Attach each matched local task's labels to its remote task; yields UploadProgress,
    returns the report (one TaskResult per match, by local task index).

    Pass ``credentials`` (a client is made from them) or a ready ``client``.
    """
    options = options or LabelOptions()
    if options.root is not None:
        items = dataclasses.replace(items, root=options.root)
    if client is not None:
        return (yield from _LabelRun(items, matches, destination, options, client).work())
    if credentials is None:
        raise ValueError("attach_labels() needs credentials or a client")
    own = RedBrickClient(credentials.api_key, destination.url,
                         pool_size=options.concurrency * 2 + 4)
    try:
        return (yield from _LabelRun(items, matches, destination, options, own).work())
    finally:
        own.close()


class _LabelRun(_Run):
    images_remote = True  # the images are in RedBrick: local image files are not needed

    def __init__(self, items: ItemsList, matches: Sequence[Match], destination: Destination,
                 options: LabelOptions, client: RedBrickClient) -> None:
        super().__init__(items, destination, UploadOptions(
            label_validate=options.label_validate, prune=options.prune,
            concurrency=options.concurrency, batch_size=options.concurrency,
            dry_run=options.dry_run, restart=options.restart, validate=options.validate,
            journal=options.journal, jobs=options.jobs), client)
        self.labels = options
        self.matches = sorted(matches, key=lambda m: m.task_index)
        self.by_index = {m.task_index: m for m in self.matches}
        self.journal_key = f"{destination.key} labels"
        self.path = options.journal or (labels_journal_path(items.path) if items.path
                                        else None)

    def _hold(self) -> list[Held]:
        return hold_upload(self.journal_key, self.items.path,
                           [t.to_json() for t in self.items.tasks])

    def _steps(self, pool: ThreadPoolExecutor, started: float) -> Work[UploadReport]:
        self._refuse_replacing()  # before any request
        yield self.board.progress("Checking the RedBrick project")
        project = yield from self._call(pool, "Checking the RedBrick project",
                                        protocol.get_project, self.client,
                                        self.dest.org_id, self.dest.project_id)
        self._check_stage(project)
        self._seg_names()
        yield from self._validate(project, [m.task_index for m in self.matches])
        self._convert_masks()
        self.journal = journal = Journal(self.path, self.journal_key,
                                         restart=self.labels.restart,
                                         read_only=self.labels.dry_run)
        self._journal_damage(journal)
        selected = self._select(journal)
        if selected and not self.labels.dry_run:  # first, as the SDK asks
            yield from self._call(pool, "Attaching labels", protocol.get_label_storage,
                                  self.client, self.dest.org_id, self.dest.project_id)
        converted = yield from self._server_validate(pool, selected)
        yield from self._run_tasks(pool, journal, converted)
        return self._report(project, started, self.path)

    # -- before any request --------------------------------------------------------

    def _ours_before(self) -> set[str]:
        """Remote task ids an earlier run attached labels to (or was attaching)."""
        if self.path is None or not self.path.exists() or self.labels.restart:
            return set()
        earlier = Journal(self.path, self.journal_key, read_only=True)
        return {m.remote.task_id for m in self.matches
                if earlier.state(m.remote.task_id)[0] in ("created", "creating")}

    def _refuse_replacing(self) -> None:
        ours = self._ours_before()
        labelled = [m.remote for m in self.matches
                    if m.remote.has_labels and m.remote.task_id not in ours]
        if not labelled or self.labels.replace:
            return
        if not self.labels.dry_run:
            raise LabelsWouldBeReplaced(labelled)
        self.warnings.append(LabelsWouldBeReplaced(labelled).message.replace(
            "Nothing was sent.", "A run without --replace is refused."))

    def _check_stage(self, project: protocol.Project) -> None:
        stage = self.labels.stage
        if stage is None:
            return
        check_stage([s for s, _ in project.stages], stage, repr(project.name))
        label_stages = [s for s, brick in project.stages if brick == LABEL_BRICK]
        if stage not in label_stages:
            raise RedBrickError(
                f"Stage {stage!r} of project {project.name!r} is not a Label stage, so labels "
                "cannot be put there (the SDK's labeling.put_tasks refuses it too).",
                ("Its Label stages: " + ", ".join(repr(s) for s in label_stages) + "; "
                 if label_stages else "") + "or leave out --stage to attach labels in "
                "whatever stage the tasks are.")

    def _select(self, journal: Journal) -> list[tuple[int, str]]:
        results, selected = [], []
        remotes: dict[str, int] = {}
        seen: set[int] = set()
        for m in self.matches:
            task = self.items.tasks[m.task_index] if 0 <= m.task_index < len(
                self.items.tasks) else None
            name = (task_label(task) if task is not None else None) or f"(task {m.task_index})"
            remote = m.remote
            result = TaskResult(m.task_index, name, task_id=remote.task_id)
            state, _ = journal.state(remote.task_id)
            stage = self.labels.stage
            if task is None:
                result = result.with_(state=TaskState.FAILED, error=(
                    f"The items list has no task {m.task_index}."))
            elif m.task_index in seen:  # one result per local task: the first match stands
                self.warnings.append(f"Local task {name!r} was matched twice; only its first "
                                     f"match is used, not task {remote.name!r}.")
                continue
            elif remote.task_id in remotes:
                result = result.with_(state=TaskState.FAILED, error=(
                    f"Task {remote.name!r} in RedBrick is matched by another local task too "
                    f"(task {remotes[remote.task_id]}); labels go to one task from one."))
            elif state == "created":
                result = result.with_(state=TaskState.ATTACHED_BEFORE)
            elif stage is not None and remote.stage != stage:
                result = result.with_(state=TaskState.FAILED, error=(
                    f"Task {remote.name!r} is in stage {remote.stage!r}, not {stage!r}: "
                    "put_tasks puts labels on tasks queued in that stage only."))
            elif len(task.series) > len(remote.series):
                result = result.with_(state=TaskState.FAILED, error=(
                    f"The local task has {len(task.series)} series, the task in RedBrick "
                    f"{len(remote.series)}: labels of a series it does not have would be lost."))
            # The images are in RedBrick: only the label files must be on this computer.
            elif problems := task_problems(self.items, task, PUBLIC_STORAGE):
                result = result.with_(state=TaskState.FAILED,
                                      error="Nothing sent: " + "; ".join(problems))
            else:
                selected.append((m.task_index, remote.task_id))
            seen.add(m.task_index)
            remotes.setdefault(remote.task_id, m.task_index)
            results.append(result)
        self.board = _Board(results)
        return selected

    def _payload(self, index: int) -> dict[str, Any]:
        """The local task with its taskId, as the SDK's two methods send it to validation."""
        body = {**self._shown(index), "taskId": self.by_index[index].remote.task_id}
        if self.labels.stage is None:  # update_tasks_labels
            body["name"] = body.get("name", "test")
            body["series"] = body.get("series") or [{"items": DUMMY_ITEM}]
            for series in body["series"]:
                series["items"] = series.get("items", DUMMY_ITEM)
        else:  # put_tasks: names and items are RedBrick's already
            body["name"] = "test"
            body["series"] = body.get("series") or [{"name": "test", "items": DUMMY_ITEM}]
            for series in body["series"]:
                series["name"] = "test"
                series["items"] = DUMMY_ITEM
        return body

    def _one(self, ctx: TaskContext, index: int, name: str, point: dict) -> None:
        attach_task(ctx, index, name, point, self.labels.stage, self.labels.finalized)


def label_variables(org_id: str, project_id: str, task_id: str, point: dict[str, Any],
                    labels_data_path: str | None, labels_map: list[dict[str, Any] | None],
                    stage: str | None, finalize: bool) -> dict[str, Any]:
    """The mutation's variables, key for key as the SDK sends them."""
    labels_data = json.dumps(point.get("labels") or [], separators=(",", ":")) \
        if "labels" in point else None
    if stage is None:  # repo/upload.py update_labels
        return {"orgId": org_id, "projectId": project_id, "taskId": task_id,
                "labelsData": labels_data, "labelsDataPath": labels_data_path,
                "labelsMap": labels_map, "finalize": finalize, "timeSpentMs": None,
                "extraData": json.dumps(None)}
    return {"orgId": org_id, "projectId": project_id, "stageName": stage,  # put_labeling_results
            "taskId": task_id, "labelsData": labels_data, "labelsDataPath": labels_data_path,
            "labelsMap": labels_map, "finished": finalize, "elapsedTimeMs": 0}


def holds(remote: RemoteTask, variables: dict[str, Any]) -> bool:
    """True when the remote task's latest labels are the ones ``variables`` attach."""
    sent = sorted(m["labelName"] for m in variables.get("labelsMap") or [] if m)
    theirs = sorted(str(m["labelName"]) for m in remote.extra.get("labelsMap") or []
                    if isinstance(m, dict) and m.get("labelName"))
    if sent or theirs:
        return sent == theirs
    if variables.get("labelsDataPath"):
        return remote.extra.get("labelsDataPath") == variables["labelsDataPath"]
    try:
        return bool(json.loads(remote.extra.get("labelsData") or "null")
                    == json.loads(variables.get("labelsData") or "null"))
    except (TypeError, ValueError):
        return False


def attach_task(ctx: TaskContext, index: int, task_id: str, converted: dict[str, Any],
                stage: str | None, finalize: bool) -> None:
    """Merge and upload one task's labels, then attach them; reports through ``ctx``."""
    point = copy.deepcopy(converted)
    unalias_segs(point, ctx.seg_aliases)
    dp.resolve_label_paths(point, ctx.task_dir)
    volumes = dp.label_volumes(point, ctx.task_dir)
    ctx.update(index, state=TaskState.UPLOADING, files_total=len(volumes))
    labels_data_path = upload_labels(ctx, index, task_id, point, volumes)
    if ctx.dry_run:
        ctx.update(index, state=TaskState.READY)
        return
    labels_map = [m if m and m.get("labelName") else None for m in point.get("labelsMap") or []]
    dest = ctx.destination
    variables = label_variables(dest.org_id, dest.project_id, task_id, point,
                                labels_data_path, labels_map, stage, finalize)
    query, answer = ((queries.UPDATE_TASKS_LABELS, "putLabels") if stage is None else
                     (queries.PUT_TASK_AND_LABELS, "putManualLabelingTaskAndLabels"))

    def ours() -> bool:
        return holds(get_task(ctx.client, dest, task_id), variables)

    if ctx.client.cancel.is_set():
        raise Cancelled()
    if ctx.journal.unsure(task_id) and ours():  # an earlier run's attach did arrive
        ctx.journal.created(task_id, None, task_id, [task_id])
        ctx.update(index, state=TaskState.ATTACHED_BEFORE,
                   note="an earlier run attached these labels (its answer was lost): kept")
        return
    ctx.journal.creating(task_id)
    ctx.update(index, state=TaskState.CREATING)
    try:
        data = ctx.client.execute(query, variables,
                                  reconcile=lambda: {answer: {"ok": True}} if ours() else None)
    except TransientError:
        raise  # outcome unknown: the journal keeps "creating", the next run looks first
    except RedBrickError:
        ctx.journal.not_created(task_id)
        raise
    out = data.get(answer)
    if not isinstance(out, dict) or not out.get("ok"):
        ctx.journal.not_created(task_id)
        why = out.get("message") if isinstance(out, dict) else None
        raise RedBrickError("RedBrick did not attach the labels" + (f": {why}" if why else "."))
    ctx.journal.created(task_id, None, task_id, [task_id])
    ctx.update(index, state=TaskState.ATTACHED)
