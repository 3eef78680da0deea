"""One task's upload, in the SDK's order: images, merged labels, then createDatapoint.

Runs on a worker thread. Finished files are in the journal and are reused on the
next run; createDatapoint is written to the journal before it is sent, so an
interrupted run looks the task up instead of creating it twice. The label merges run
on the run's worker processes (``_merge_pool``, ``TaskContext.merges``) or, without
them (``Jobs(1)``), on this thread; either way at most ``merge_slots`` at once.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

from app.errors import Cancelled, MergeError, SegmapError
from app.export import upload_name
from app.items import NIFTI_TYPE, VIDEO_EXTENSIONS, file_type
from app.merge import SeriesInputs
from app.progress import run
from app.readers import nifti_bytes
from app.upload import _datapoint as dp
from app.upload import _protocol as protocol
from app.upload._client import RedBrickClient, RedBrickError, TransientError
from app.upload._credentials import REDBRICK_STORAGE, Destination
from app.upload._journal import Journal, fingerprint
from app.upload._merge_pool import MergeDone, MergePool, WorkerDied, discard
from app.upload._report import TaskState


@dataclass
class TaskContext:
    """What every task of a run shares."""

    client: RedBrickClient
    destination: Destination
    storage: str
    label_validate: bool
    prune: bool
    ground_truth: bool
    dry_run: bool
    files_per_task: int
    journal: Journal
    task_dir: Path
    merge_slots: threading.Semaphore
    update: Callable[..., None]  # update(index, **TaskResult fields)
    file_done: Callable[[int, bool], None]  # file_done(index, reused)
    # The .dcm names RedBrick was shown for DICOM files it refuses by name -> the paths
    # of the files themselves, as the list writes them (``_Run._dcm_names``).
    aliases: dict[str, str] = field(default_factory=dict)
    # The .nii.gz names RedBrick was shown for DICOM SEG masks -> the SEGs' paths as the
    # list writes them (``_Run._seg_names``): the merge reads the SEG as that NIfTI.
    seg_aliases: dict[str, str] = field(default_factory=dict)
    # The run's merge processes; None: each merge runs on its task's thread.
    merges: MergePool | None = None


def upload_task(ctx: TaskContext, index: int, name: str, converted: dict[str, Any]) -> None:
    """Upload one converted task; reports through ``ctx.update``; raises on failure."""
    point = copy.deepcopy(converted)
    _unalias(point, ctx.aliases)
    unalias_segs(point, ctx.seg_aliases)
    dp.prepare_point(point, ctx.task_dir, ctx.storage)
    dp.apply_segment_map(point)
    dp.check_structure(point)
    direct = ctx.storage == REDBRICK_STORAGE
    if direct and any(os.path.splitext(i)[1].lower() in VIDEO_EXTENSIONS
                      for i in point["items"]):
        raise dp.TaskError("Video items are not supported by Segmap's upload.",
                           "Upload videos with the RedBrick CLI (`redbrick upload`).")
    volumes = dp.label_volumes(point, ctx.task_dir)
    files = list(point["items"]) + [h["item"] for h in point.get("heatMaps") or []]
    # The names files go up under: their own, or with .dcm for DICOM files RedBrick
    # refuses by name; the MIME type is the name's, as the SDK judges it.
    names = [upload_name(f) for f in files] if direct else []
    types = [file_type(n) for n in names]
    ctx.update(index, state=TaskState.UPLOADING,
               files_total=(len(files) if direct else 0) + len(volumes))
    if direct and not ctx.dry_run:
        _upload_items(ctx, index, name, point, files, names, types)
    labels_data_path = upload_labels(ctx, index, name, point, volumes)
    labels_map = [m if m and m.get("labelName") else None for m in point.get("labelsMap") or []]
    if ctx.dry_run:
        ctx.update(index, state=TaskState.READY)
        return
    variables = dp.datapoint_variables(
        org_id=ctx.destination.org_id, project_id=ctx.destination.project_id,
        storage_id=ctx.storage, point=point, labels_data_path=labels_data_path,
        labels_map=labels_map, ground_truth=ctx.ground_truth)
    _create(ctx, index, name, variables)


def _ours(ctx: TaskContext, variables: dict[str, Any]) -> protocol.Created | None:
    """The task of this name in the project, if it holds what ``variables`` would create."""
    dest = ctx.destination
    found = protocol.find_task(ctx.client, dest.org_id, dest.project_id, variables["name"])
    return found if found is not None and found.holds(variables) else None


def _create(ctx: TaskContext, index: int, name: str, variables: dict[str, Any]) -> None:
    if ctx.client.cancel.is_set():
        raise Cancelled()
    ctx.journal.creating(name)
    ctx.update(index, state=TaskState.CREATING)
    try:
        created = protocol.create_datapoint(ctx.client, variables,
                                            reconcile=lambda: _ours(ctx, variables))
    except TransientError:
        raise  # outcome unknown: the journal keeps "creating", the next run looks first
    except RedBrickError as exc:
        if "already exist" in exc.message.lower():
            # A create that worked but answered with an error fails this way ever after:
            # the task there is ours when it holds what we would create.
            found = _ours(ctx, variables)
            if found is not None:
                ctx.journal.created(name, found.dp_id, found.task_id, found.task_ids)
                ctx.update(index, state=TaskState.EXISTING, dp_id=found.dp_id,
                           task_id=found.task_id, task_ids=tuple(found.task_ids),
                           note="RedBrick already had this task (an earlier attempt made it "
                                "although RedBrick answered with an error): kept")
                return
            ctx.journal.not_created(name)
            raise RedBrickError(
                f"A task called {name!r} already exists in this project with other images, "
                "so Segmap did not create another.",
                "Rename this task in the items list, or delete the other one in RedBrick, "
                "then upload again.", exc.detail) from None
        ctx.journal.not_created(name)  # an answer: the task was not created
        raise
    # Cancelled passes through too: a cancel during a backoff may follow an attempt
    # that worked, so "creating" stays and the next run looks the task up first.
    ctx.journal.created(name, created.dp_id, created.task_id, created.task_ids)
    ctx.update(index, state=TaskState.CREATED, dp_id=created.dp_id, task_id=created.task_id,
               task_ids=tuple(created.task_ids))


def _unalias(point: dict[str, Any], aliases: dict[str, str]) -> None:
    """The converted task's items back at the files themselves (RedBrick saw .dcm names)."""
    if not aliases:
        return
    items = point.get("items")
    if isinstance(items, list):
        point["items"] = [aliases.get(i, i) if isinstance(i, str) else i for i in items]
    for heat_map in point.get("heatMaps") or []:
        if isinstance(heat_map, dict) and isinstance(heat_map.get("item"), str):
            heat_map["item"] = aliases.get(heat_map["item"], heat_map["item"])


def unalias_segs(point: dict[str, Any], aliases: dict[str, str]) -> None:
    """The converted task's label files back at the DICOM SEGs they name (RedBrick saw the
    names of their NIfTI conversions)."""
    if not aliases:
        return

    def back(name: Any) -> Any:
        if isinstance(name, str):
            return aliases.get(name, name)
        if isinstance(name, dict):  # the legacy {series index: path} form
            return {k: back(n) for k, n in name.items()}
        return [back(n) for n in name] if isinstance(name, list) else name

    for label_map in point.get("labelsMap") or []:
        if isinstance(label_map, dict) and "labelName" in label_map:
            label_map["labelName"] = back(label_map["labelName"])
    for key in ("segmentations", "labelsPath"):
        if key in point:
            point[key] = back(point[key])
    for info in point.get("seriesInfo") or []:
        if isinstance(info, dict) and isinstance(info.get("masks"), dict):
            info["masks"] = {k: back(m) for k, m in info["masks"].items()}


def _upload_items(ctx: TaskContext, index: int, name: str, point: dict[str, Any],
                  files: list[str], names: list[str], types: list[str]) -> None:
    """Presign and PUT every image (and heat map) not uploaded before; use RedBrick's paths."""
    dest, targets = ctx.destination, [""] * len(files)
    pending: list[tuple[int, list[int]]] = []
    for i, path in enumerate(files):
        fp = fingerprint(path)
        earlier = ctx.journal.uploaded_file(name, path, fp)
        if earlier:
            targets[i] = earlier
            ctx.file_done(index, True)
        else:
            pending.append((i, fp))
    if pending:
        presigned = protocol.items_upload_presign(
            ctx.client, dest.org_id, dest.project_id,
            [names[i] for i, _ in pending], [types[i] for i, _ in pending])

        def put(job: tuple[int, list[int]], link: protocol.Presigned) -> None:
            i, fp = job
            ctx.client.put(link.url, Path(files[i]), {"Content-Type": types[i]},
                           what=os.path.basename(files[i]))
            ctx.journal.record_file(name, files[i], fp, link.file_path)
            targets[i] = link.file_path
            ctx.file_done(index, False)

        _run_all(ctx.files_per_task, [partial(put, j, p)
                                      for j, p in zip(pending, presigned, strict=True)])
    n_items = len(point["items"])
    point["items"] = targets[:n_items]
    for j, heat_map in enumerate(point.get("heatMaps") or []):
        heat_map["item"] = targets[n_items + j]


def _run_all(workers: int, jobs: list[Callable[[], None]]) -> None:
    """Run jobs, ``workers`` at a time; the first error is raised once the rest stop."""
    if len(jobs) == 1 or workers <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            f.cancel()
        for f in futures:
            if f.done() and not f.cancelled() and f.exception() is not None:
                raise f.exception()  # type: ignore[misc]


def _label_key(inputs: SeriesInputs, validate: bool, prune: bool) -> str:
    """A fingerprint of everything the merged volume depends on."""
    parts = [
        [(f, fingerprint(f)) for f in inputs.files],
        sorted((k, sorted(v) if v else None) for k, v in inputs.instances.items()),
        inputs.binary_mask, inputs.png_mask,
        sorted((k, m, fingerprint(m) if os.path.isfile(m) else None)
               for k, m in inputs.masks.items() if isinstance(m, str)),
        validate, prune,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def upload_labels(ctx: TaskContext, index: int, name: str, point: dict[str, Any],
                   volumes: list[dp.LabelVolume]) -> str | None:
    """Merge each label volume as RedBrick does, upload it, and rewrite labels and labelsMap."""
    dest = ctx.destination
    for vol in volumes:
        key = _label_key(vol.inputs, ctx.label_validate, ctx.prune)
        earlier = ctx.journal.label(name, vol.index, key)
        if earlier is not None:
            segments, file_path = earlier.segments, earlier.file_path
            ctx.file_done(index, True)
        else:
            segments, file_path = _merge_and_put(ctx, name, vol)
            if not ctx.dry_run:
                ctx.journal.record_label(name, vol.index, key, file_path, segments)
            ctx.file_done(index, False)
        dp.apply_segments(point, vol.index, segments, ctx.prune)
        label_map = point["labelsMap"][vol.index]
        if file_path is None:
            ctx.update(index, note=f"series {vol.index}: skipping empty labels (all pruned)")
        label_map["labelName"] = file_path
    labels = point.get("labels") or []
    if len(labels) <= dp.LABELS_ARRAY_LIMIT or ctx.dry_run:
        return None
    # Over 1000 labels the SDK sends them as a gzipped JSON file instead of inline.
    data, _ = protocol.presign_uploads(ctx.client, dest.org_id, dest.project_id,
                                       str(uuid4()), str(uuid4()), 1, 0)
    ctx.client.put(data[0].url, gzip.compress(json.dumps(labels).encode("utf-8")),
                   {"Content-Type": "application/json", "Content-Encoding": "gzip",
                    "x-ms-blob-type": "BlockBlob"}, what="labels data")
    point["labels"] = []
    return data[0].file_path


def _merge_and_put(ctx: TaskContext, name: str, vol: dp.LabelVolume
                   ) -> tuple[dict[int, list[int] | None], str | None]:
    if ctx.client.cancel.is_set():
        raise Cancelled()
    if ctx.merges is not None:
        return _pooled_merge_and_put(ctx, ctx.merges, name, vol)
    with ctx.merge_slots:
        try:
            result = run(vol.inputs.merge(label_validate=ctx.label_validate, prune=ctx.prune))
        except MergeError as exc:
            raise _merge_failed(name, vol, exc.message, exc.hint, exc.sdk_message) from None
        body: bytes | Path | None = None
        if not result.empty and not ctx.dry_run:
            # Unchanged single files go up as they are, as the SDK sends them.
            body = result.source if result.source is not None else nifti_bytes(
                result.image())
    if body is None:
        return result.segments, (None if result.empty else "(dry run)")
    return result.segments, _put_label(ctx, vol, body)


def _pooled_merge_and_put(ctx: TaskContext, merges: MergePool, name: str,
                          vol: dp.LabelVolume) -> tuple[dict[int, list[int] | None], str | None]:
    """The merge on a worker process, which writes the merged volume to a temp file; the
    PUT streams that file, deleted afterwards whatever happens."""
    job = merges.job(vol.inputs, label_validate=ctx.label_validate, prune=ctx.prune,
                     dry_run=ctx.dry_run)
    with ctx.merge_slots:
        try:
            done: MergeDone = merges.merge(job)
        except WorkerDied as exc:
            raise dp.TaskError(f"The merge of series {vol.index} stopped: {exc.message}",
                               "Free some memory, or upload with fewer tasks at once "
                               "(--concurrency) or --jobs 1, then run again.") from None
    try:
        if done.error is not None:
            if not done.merge_error:
                raise SegmapError(done.error, done.hint)
            raise _merge_failed(name, vol, done.error, done.hint, done.sdk_message)
        if done.path is None:
            return done.segments, (None if done.empty else "(dry run)")
        return done.segments, _put_label(ctx, vol, Path(done.path))
    finally:
        discard(done)


def _merge_failed(name: str, vol: dp.LabelVolume, message: str, hint: str | None,
                  sdk_message: str | None) -> dp.TaskError:
    sdk = f" (SDK: `{name}`: Error processing labels: {sdk_message})" if sdk_message else ""
    return dp.TaskError(f"Series {vol.index}: {message}{sdk}", hint)


def _put_label(ctx: TaskContext, vol: dp.LabelVolume, body: bytes | Path) -> str:
    """Presign a segmentation upload and PUT ``body`` there; RedBrick's path of it."""
    dest = ctx.destination
    _, seg = protocol.presign_uploads(ctx.client, dest.org_id, dest.project_id,
                                      str(uuid4()), str(uuid4()), 0, 1)
    ctx.client.put(seg[0].url, body, {"Content-Type": NIFTI_TYPE,
                                      "x-ms-blob-type": "BlockBlob"},
                   what=f"merged labels of series {vol.index}")
    return seg[0].file_path
