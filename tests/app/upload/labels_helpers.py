"""Shared set-up of the labels tests: seeded remote tasks, Segmap's run and the SDK's."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from app.items import ItemsList, load_items
from app.progress import run
from app.upload import Destination, UploadReport
from app.upload._labeling import LabelOptions, attach_labels
from app.upload._match import Match
from app.upload._remote import RemoteTask
from app.upload._tasks import list_tasks

from ..rb_server import ORG, PROJECT, Faults, RBServer, make_items
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


def normalised(server: RBServer, op: str) -> dict[str, dict[str, Any]]:
    """The variables of each ``op`` by taskId, label files replaced by their voxels."""
    out = {}
    for v in server.variables(op):
        n = _normalise(server, {**v, "items": []})
        out[v["taskId"]] = n
    return out


def seeded(tmp_path: Path, n: int, faults: Faults | None = None
           ) -> tuple[Path, RBServer, list[RemoteTask]]:
    """A started server with ``n`` tasks of a new list seeded and listed; then ``faults``."""
    items_path = make_items(tmp_path, n)
    server = RBServer().start()
    seed(server, items_path)
    remote = listed(server)
    if faults is not None:
        server.faults = faults
    return items_path, server, remote


def two_servers_with(tmp_path: Path, n: int = 3) -> tuple[Path, RBServer, RBServer]:
    items_path = make_items(tmp_path, n)
    ours, theirs = RBServer().start(), RBServer().start()
    return items_path, ours, theirs
