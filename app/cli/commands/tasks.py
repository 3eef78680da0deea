"""`segmap tasks --org ORG --project PROJECT`: the tasks already in a RedBrick project."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

from app.cli._common import print_json
from app.cli.commands.upload import (
    add_destination_arguments,
    credentials_and_destination,
    json_error,
)
from app.errors import SegmapError
from app.upload import RedBrickClient, RemoteTask, list_tasks

NAME = "tasks"
HELP = ("List the tasks of a RedBrick AI project: name, stage, series, instances, whether "
        "it has labels, who it is assigned to.")
ORDER = 61


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_destination_arguments(p)
    p.add_argument("--stage", metavar="NAME", help="only the tasks in this stage")
    p.add_argument("--json", action="store_true", help="print the tasks as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    try:
        credentials, destination = credentials_and_destination(args, None)
        client = RedBrickClient(credentials.api_key, destination.url)
        try:
            tasks = list_tasks(client, destination, stage=args.stage)
        finally:
            client.close()
    except SegmapError as exc:
        if not args.json:
            raise
        return json_error("tasks", exc)
    if args.json:
        print_json({"ok": True, "count": len(tasks), "tasks": [task_json(t) for t in tasks]})
    else:
        print_tasks(tasks)
    return 0


def task_json(task: RemoteTask) -> dict[str, object]:
    """A task as ``segmap tasks --json`` gives it."""
    return {"taskId": task.task_id, "name": task.name, "stage": task.stage,
            "series": [{"name": s.name, "instances": s.num_instances, "dataType": s.data_type,
                        "seriesInstanceUID": s.series_uid, "studyInstanceUID": s.study_uid}
                       for s in task.series],
            "hasLabels": task.has_labels, "assignee": task.assignee,
            "priority": task.priority}


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def print_tasks(tasks: Sequence[RemoteTask]) -> None:
    """A table of the tasks, then how many there are per stage and how many have labels."""
    rows = [(t.name, t.stage or "-", ", ".join(t.series_names) or "-",
             "+".join(str(s.num_instances) for s in t.series) or "0",
             "yes" if t.has_labels else "no", t.assignee or "-") for t in tasks]
    head = ("name", "stage", "series", "instances", "labels", "assignee")
    widths = [min(40, max([len(h), *(len(r[k]) for r in rows)])) for k, h in enumerate(head)]
    for row in (head, *rows):
        print("  ".join(_cell(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    stages = Counter(t.stage or "-" for t in tasks)
    labelled = sum(t.has_labels for t in tasks)
    per_stage = ", ".join(f"{n} in {s}" for s, n in stages.items())
    print(f"{len(tasks)} task(s)" + (f" ({per_stage})" if per_stage else "")
          + f", {labelled} with labels, {len(tasks) - labelled} without.")
