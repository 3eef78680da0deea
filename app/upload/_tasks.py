"""The tasks already in a RedBrick project, read as the SDK's export reads them.

``tasksPagedSDK`` with the SDK's task shard (redbrick-sdk 2.35.4, repo/export.py
``get_datapoints_latest``), paged by its cursor, 50 tasks a page (that
function's default); ``taskSDK`` for one task. Every answer is checked: a
field of the wrong type is a :class:`RedBrickError` that says which task and which
field, never a traceback. :class:`TaskCache` keeps a project's list for the session,
so the CLI and the wizard read it once.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from app.upload import _queries as queries
from app.upload._client import RedBrickClient, RedBrickError
from app.upload._credentials import Destination
from app.upload._protocol import get_project
from app.upload._remote import RemoteSeries, RemoteTask

PAGE_SIZE = 50  # get_datapoints_latest's default page
# Where a DICOM UID may be kept in imageHeaders or metaData (RedBrick does not fix a key).
_SERIES_UID_KEYS = ("SeriesInstanceUID", "seriesInstanceUID", "seriesInstanceUid",
                    "series_uid", "0020000E", "0020000e", "(0020,000E)")
_STUDY_UID_KEYS = ("StudyInstanceUID", "studyInstanceUID", "studyInstanceUid",
                   "study_uid", "0020000D", "0020000d", "(0020,000D)")


class _Bad(Exception):
    """A field of a task's answer is not what the SDK's export expects."""


def _json_field(value: Any, what: str) -> Any:
    """A field RedBrick may send as JSON text or as the value itself."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _Bad(f"{what} is not JSON") from None
    return value


def _dict_or_none(value: Any, what: str) -> dict[str, Any] | None:
    value = _json_field(value, what)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(f"{what} is not an object")
    return value


def _headers(value: Any) -> tuple[dict[str, Any], ...] | None:
    """imageHeaders: one object (the series'), or a list of them (one per instance)."""
    value = _json_field(value, "imageHeaders")
    if value is None:
        return None
    if isinstance(value, dict):
        return (value,)
    if isinstance(value, list) and all(isinstance(h, dict) for h in value):
        return tuple(value) or None
    raise _Bad("imageHeaders is neither an object nor a list of objects")


def _uid(sources: list[dict[str, Any]], keys: tuple[str, ...]) -> str | None:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, dict):  # DICOM JSON: {"vr": "UI", "Value": [uid]}
                value = (value.get("Value") or [None])[0]
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _series(info: Any, n: int) -> RemoteSeries:
    if not isinstance(info, dict):
        raise _Bad(f"seriesInfo[{n}] is not an object")
    name = info.get("name")
    if name is not None and not isinstance(name, str):
        raise _Bad(f"seriesInfo[{n}].name is not text")
    indices = info.get("itemsIndices") or []
    if not isinstance(indices, list):
        raise _Bad(f"seriesInfo[{n}].itemsIndices is not a list")
    data_type = info.get("dataType")
    try:
        headers = _headers(info.get("imageHeaders"))
        meta = _dict_or_none(info.get("metaData"), "metaData")
    except _Bad as exc:
        raise _Bad(f"seriesInfo[{n}].{exc}") from None
    sources = [*(headers or ()), *([meta] if meta else [])]
    return RemoteSeries(name, len(indices), data_type if isinstance(data_type, str) else None,
                        headers, meta, _uid(sources, _SERIES_UID_KEYS),
                        _uid(sources, _STUDY_UID_KEYS))


def _has_labels(data: Any) -> bool:
    """True when the task's latest labels hold anything: a label file or a label."""
    if not isinstance(data, dict):
        return False
    if any(isinstance(m, dict) and m.get("labelName") for m in data.get("labelsMap") or []):
        return True
    if data.get("labelsDataPath"):
        return True
    labels = _json_field(data.get("labelsData"), "latestTaskData.labelsData")
    return bool(labels)


def parse_task(entry: Any) -> RemoteTask:
    """One entry of ``tasksPaged`` (or ``task``) as a :class:`RemoteTask`."""
    if not isinstance(entry, dict):
        raise RedBrickError("RedBrick's list of tasks holds something that is not a task.")
    task_id = entry.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        raise RedBrickError("RedBrick's list of tasks holds a task without a taskId.")
    try:
        datapoint = entry.get("datapoint")
        if not isinstance(datapoint, dict):
            raise _Bad("it has no datapoint")
        name = datapoint.get("name")
        if not isinstance(name, str):
            raise _Bad("its datapoint has no name")
        infos = datapoint.get("seriesInfo") or []
        if not isinstance(infos, list):
            raise _Bad("seriesInfo is not a list")
        series = tuple(_series(info, n) for n, info in enumerate(infos))
        stage = entry.get("currentStageName")
        if stage is not None and not isinstance(stage, str):
            raise _Bad("currentStageName is not text")
        priority = entry.get("priority")
        if priority is not None and (isinstance(priority, bool)
                                     or not isinstance(priority, int | float)):
            raise _Bad("priority is not a number")
        sub = entry.get("currentStageSubTask")
        user = sub.get("assignedTo") if isinstance(sub, dict) else None
        email = user.get("email") if isinstance(user, dict) else None
        latest = entry.get("latestTaskData")
        if latest is not None and not isinstance(latest, dict):
            raise _Bad("latestTaskData is not an object")
        has_labels = _has_labels(latest)
        meta = _dict_or_none(datapoint.get("metaData"), "metaData")
    except _Bad as exc:
        raise RedBrickError(f"RedBrick's answer for task {task_id} cannot be read: {exc}.",
                            "This RedBrick may be newer than Segmap knows; tell Segmap's "
                            "developers what it answered.") from None
    latest = latest or {}
    return RemoteTask(
        task_id, name, stage, series, has_labels,
        float(priority) if priority is not None else None, meta,
        latest.get("createdAt") if isinstance(latest.get("createdAt"), str) else None,
        email if isinstance(email, str) else None,
        {"dpId": entry.get("dpId"), "labelsMap": latest.get("labelsMap"),
         "labelsData": latest.get("labelsData"), "labelsDataPath": latest.get("labelsDataPath")})


def check_stage(stages: list[str], stage: str, project: str) -> None:
    """An error naming the project's stages unless ``stage`` is one of them."""
    if stage not in stages:
        raise RedBrickError(f"Project {project} has no stage called {stage!r}; its stages are "
                            + (", ".join(repr(s) for s in stages) or "none") + ".",
                            "Pass one of those names (they are case-sensitive).")


def list_tasks(client: RedBrickClient, destination: Destination, *,
               stage: str | None = None, page_size: int = PAGE_SIZE) -> list[RemoteTask]:
    """Every task of the project (only those in ``stage`` when given), in RedBrick's order."""
    if stage is not None:
        project = get_project(client, destination.org_id, destination.project_id)
        check_stage([s for s, _ in project.stages], stage, repr(project.name))
    tasks: list[RemoteTask] = []
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        data = client.execute(queries.TASKS_PAGED, {
            "orgId": destination.org_id, "projectId": destination.project_id,
            "stageName": stage, "cacheTime": None, "first": page_size, "after": cursor})
        paged = data.get("tasksPaged")
        if not isinstance(paged, dict):
            raise RedBrickError(f"RedBrick did not list the tasks of project "
                                f"{destination.project_id}.",
                                "Check --org and --project and that the key may read it.")
        entries = paged.get("entries") or []
        if not isinstance(entries, list):
            raise RedBrickError("RedBrick's list of tasks is not a list.")
        tasks += [parse_task(e) for e in entries]
        cursor = paged.get("cursor")
        if cursor is None:
            return tasks
        if not isinstance(cursor, str) or cursor in seen:
            raise RedBrickError("RedBrick's list of tasks does not end (its page cursor "
                                "repeats); Segmap stopped reading it.")
        seen.add(cursor)


def get_task(client: RedBrickClient, destination: Destination, task_id: str) -> RemoteTask:
    """One task as it is now (``taskSDK``)."""
    data = client.execute(queries.TASK, {"orgId": destination.org_id,
                                         "projectId": destination.project_id,
                                         "taskId": task_id})
    if not isinstance(data.get("task"), dict):
        raise RedBrickError(f"Task {task_id} was not found in this project.")
    return parse_task(data["task"])


class TaskCache:
    """A project's tasks, listed once per session per (url, org, project, stage)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, str, str, str | None], list[RemoteTask]] = {}

    def get(self, client: RedBrickClient, destination: Destination, *,
            stage: str | None = None, refresh: bool = False) -> list[RemoteTask]:
        """The tasks, from the cache unless ``refresh`` (or never listed)."""
        key = (destination.url, destination.org_id, destination.project_id, stage)
        with self._lock:
            cached = None if refresh else self._lists.get(key)
        if cached is not None:
            return list(cached)
        tasks = list_tasks(client, destination, stage=stage)
        with self._lock:
            self._lists[key] = tasks
        return list(tasks)

    def forget(self, destination: Destination) -> None:
        """Drop every list of this project (its tasks changed, e.g. labels attached)."""
        with self._lock:
            for key in [k for k in self._lists
                        if k[:3] == (destination.url, destination.org_id,
                                     destination.project_id)]:
                del self._lists[key]
