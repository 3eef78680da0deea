"""Checks made before anything is sent: names, and that every local file is there.

The SDK queues a task whose image is missing and fails it ~35 s of retries later,
after uploading what it could; Segmap uploads nothing for such a task and says
which files are missing.
"""

from __future__ import annotations

import os

from app.items import ItemsList, Task
from app.upload._credentials import REDBRICK_STORAGE


def _check(items: ItemsList, path: str, what: str, problems: list[str],
           allow_folder: bool = False) -> None:
    local = items.resolve(path)
    if local is None:
        problems.append(f"{what} {path} is not a local file (Segmap uploads local files only)")
    elif allow_folder and local.is_dir():
        for entry in sorted(os.listdir(local)):
            if not (local / entry).is_file():
                problems.append(f"{what} folder {path} holds {entry}, which is not a file")
    elif not local.is_file():
        problems.append(f"{what} not found: {path}" + (
            f" (looked for {local})" if str(local) != path else ""))


def task_problems(items: ItemsList, task: Task, storage: str) -> list[str]:
    """Why this task cannot go up as it is (missing or unusable files); [] when it can."""
    problems: list[str] = []
    if not task.series:
        return ["the task has no series"]
    for si, series in enumerate(task.series):
        where = f"series {si}"
        if not series.item_paths:
            problems.append(f"{where} has no items (image files)")
        if storage == REDBRICK_STORAGE:
            for path in series.item_paths:
                _check(items, path, f"{where}: image", problems)
            for heat_map in series.extra.get("heatMaps") or []:
                if isinstance(heat_map, dict) and isinstance(heat_map.get("item"), str):
                    _check(items, heat_map["item"], f"{where}: heat map", problems)
        for path in series.segmentation_paths:
            _check(items, path, f"{where}: segmentation", problems, allow_folder=True)
        smap = task.segment_map_of(si)
        if series.is_binary and smap is not None:
            for inst, seg in smap.segments.items():
                if isinstance(seg.mask, str) and seg.mask not in series.segmentation_paths:
                    _check(items, seg.mask, f"{where}: mask of instance {inst}", problems)
    return problems

