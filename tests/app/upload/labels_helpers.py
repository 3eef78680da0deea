"""Shared set-up of the labels tests: seeded remote tasks, Segmap's run and the SDK's."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from app.items import ItemsList, load_items
from app.progress import run
from app.upload import Destination, UploadReport
from app.upload._labeling import LabelOptions, attach_labels
from app.upload._match import Match
from app.upload._remote import RemoteTask
from app.upload._tasks import list_tasks

from ..rb_server import API_KEY, ORG, PROJECT, RBServer, make_items
from .test_upload_e2e import _normalise, fast_client


def seed(server: RBServer, items_path: Path, **task: Any) -> list[str]:
    """One remote task per local task, of the same name, assigned to the key's user."""
    task.setdefault("assignee", server.key_user)
    return [server.add_task(t["name"], task_id=str(uuid.uuid5(uuid.NAMESPACE_URL, t["name"])),
                            **task) for t in json.loads(items_path.read_text())]


def listed(server: RBServer, **kwargs: Any) -> list[RemoteTask]:
    return list_tasks(fast_client(server), Destination(server.url, ORG, PROJECT), **kwargs)


def by_name(items: ItemsList, remote: list[RemoteTask]) -> list[Match]:
    """Matches by task name, built directly (match_tasks is tested on its own)."""
    named = {r.name: r for r in remote}
    return [Match(i, named[t.name], "task name") for i, t in enumerate(items.tasks)
            if t.name in named]


def segmap_attach(server: RBServer, items_path: Path, remote: list[RemoteTask] | None = None,
                  attempts: int = 8, **options: Any) -> UploadReport:
    """Attach labels with short retries; Segmap's own validation is tested on its own."""
    options.setdefault("validate", False)
    items = load_items(items_path)
    matches = by_name(items, remote if remote is not None else listed(server))
    return run(attach_labels(items, matches, Destination(server.url, ORG, PROJECT),
                             options=LabelOptions(**options),
                             client=fast_client(server, attempts=attempts)))


def sdk_tasks(items_path: Path, remote: list[RemoteTask]) -> list[dict[str, Any]]:
    """The local tasks as an SDK user passes them: each with its remote taskId."""
    ids = {r.name: r.task_id for r in remote}
    return [dict(t, taskId=ids[t["name"]]) for t in json.loads(items_path.read_text())]


def sdk_run(server: RBServer, items_path: Path, call: Any) -> Any:
    """``call(project)`` with redbrick-sdk against ``server``, in the list's folder."""
    redbrick = pytest.importorskip("redbrick")
    from redbrick.upload import interact
    from redbrick.utils import nifti
    from redbrick.utils import upload as sdk_upload

    tmp = tempfile.mkdtemp()
    cwd = os.getcwd()
    os.chdir(items_path.parent)  # the SDK resolves relative paths against the cwd
    try:
        with patch.object(nifti, "config_path", return_value=tmp), \
                patch.object(interact, "config_path", return_value=tmp), \
                patch.object(sdk_upload, "config_path", return_value=tmp):
            project = redbrick.get_project(ORG, PROJECT, API_KEY, url=server.url)
            return call(project)
    finally:
        os.chdir(cwd)


def normalised(server: RBServer, op: str) -> dict[str, dict[str, Any]]:
    """The variables of each ``op`` by taskId, label files replaced by their voxels."""
    out = {}
    for v in server.variables(op):
        n = _normalise(server, {**v, "items": []})
        out[v["taskId"]] = n
    return out


def two_servers_with(tmp_path: Path, n: int = 3) -> tuple[Path, RBServer, RBServer]:
    items_path = make_items(tmp_path, n)
    ours, theirs = RBServer().start(), RBServer().start()
    return items_path, ours, theirs
