"""Every path an items list holds, in one walk.

An items list names files in several places: a series' image ``items``, its
``segmentations``, the ``mask`` of a segmentMap entry (in a series' map or a
task-level one, a string or a list), heat maps, and the same keys at task level
in a legacy flat task. ``walk`` visits each of them, in that order, and can
rewrite it; export (``rebase``), the upload's preflight, NRRD conversion and
the wizard's opening of an items list all use it, so no place is forgotten.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.items._model import ItemsList, SegmentMap, Series, Task
from app.items._rules import is_remote


class PathRole(StrEnum):
    """What a path of an items list points at."""

    ITEM = "item"  # an image file of a series
    SEGMENTATION = "segmentation"  # a file (or folder) in `segmentations`
    MASK = "mask"  # the `mask` of a segmentMap entry
    HEAT_MAP = "heat map"  # the `item` of a heat map


@dataclass(frozen=True)
class PathRef:
    """One path of an items list and where it is.

    ``series`` is None for the mask of a task-level segmentMap; ``instance`` is the
    segmentMap key of a mask; ``in_list`` is True when the value it came from is a
    list (a DICOM series' items, several segmentations, a list-valued ``mask``).
    """

    role: PathRole
    task: int
    series: int | None
    path: str
    instance: int | None = None
    in_list: bool = False

    def where(self) -> str:
        """``series 0: mask of instance 3`` and the like, for messages."""
        at = f"series {self.series}" if self.series is not None else "task-level segmentMap"
        what = f"mask of instance {self.instance}" if self.role is PathRole.MASK else self.role
        return f"{at}: {what}"


# A visitor gets each path and returns its replacement, or None to keep it.
Visitor = Callable[[PathRef], str | None]


def _strings(value: Any, make: Callable[[str, bool], str | None]) -> Any:
    """Visit a str or list[str] value; returns the value with replacements applied."""
    if isinstance(value, str):
        new = make(value, False)
        return value if new is None else new
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v if (new := make(v, True)) is None else new for v in value]
    return value


def _walk_map(smap: SegmentMap | None, ti: int, si: int | None, visit: Visitor) -> None:
    if smap is None:
        return
    for inst, seg in smap.segments.items():
        def mask(p: str, many: bool, inst: int = inst) -> str | None:
            return visit(PathRef(PathRole.MASK, ti, si, p, inst, many))

        seg.mask = _strings(seg.mask, mask)


def _walk_series(s: Series, ti: int, si: int, visit: Visitor) -> None:
    s.items = _strings(s.items, lambda p, many: visit(PathRef(PathRole.ITEM, ti, si, p,
                                                               in_list=many)))
    s.segmentations = _strings(s.segmentations, lambda p, many: visit(
        PathRef(PathRole.SEGMENTATION, ti, si, p, in_list=many)))
    _walk_map(s.segment_map, ti, si, visit)
    for hm in s.extra.get("heatMaps") or []:
        if isinstance(hm, dict) and isinstance(hm.get("item"), str):
            new = visit(PathRef(PathRole.HEAT_MAP, ti, si, hm["item"]))
            if new is not None:
                hm["item"] = new


def walk(items: ItemsList, visit: Visitor) -> None:
    """Call ``visit`` on every path of ``items``; a returned string replaces the path.

    A legacy flat task's own ``items``, ``segmentations`` and heat maps are its
    series 0 in the model, and its ``segmentMap`` is the task-level one.
    """
    for ti, task in enumerate(items.tasks):
        walk_task(task, ti, visit)


def walk_task(task: Task, ti: int, visit: Visitor) -> None:
    """``walk`` over one task (``ti`` is its index in the list)."""
    for si, series in enumerate(task.series):
        _walk_series(series, ti, si, visit)
    _walk_map(task.segment_map, ti, None, visit)


def iter_paths(items: ItemsList) -> Iterator[PathRef]:
    """Every path of ``items`` (see ``walk``), without changing anything."""
    found: list[PathRef] = []
    walk(items, lambda ref: _keep(found, ref))
    return iter(found)


def task_paths(task: Task, ti: int = 0) -> list[PathRef]:
    """Every path of one task."""
    found: list[PathRef] = []
    walk_task(task, ti, lambda ref: _keep(found, ref))
    return found


def _keep(found: list[PathRef], ref: PathRef) -> None:
    found.append(ref)


def relpath(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` with POSIX separators (absolute on another drive),
    as Segmap writes paths into an items list."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows): RedBrick takes absolute paths too
        return str(path)


def rebase(items: ItemsList, new_base: Path) -> ItemsList:
    """A copy of ``items`` whose relative local paths are relative to ``new_base``.

    URLs, storage keys and absolute paths are kept as they are.
    """
    old = items.base_dir
    out = items.copy(root=new_base)

    def move(ref: PathRef) -> str | None:
        p = ref.path
        if is_remote(p) or os.path.isabs(p):
            return None
        return relpath((old / p).resolve(), new_base)

    walk(out, move)
    return out
