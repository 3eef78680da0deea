"""Export: an items list written where the user wants it, paths relative to a chosen root.

RedBrick's CLI resolves relative paths against the items list's folder, so moving
a list means rewriting its paths. Only local paths change; URLs and storage keys
are kept as they are. The file is written atomically.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.items._model import ItemsList, Series, is_remote, parse_items
from app.session._model import relpath


@dataclass(frozen=True)
class ExportSummary:
    """What was written."""

    path: Path
    tasks: int
    series: int
    segmentation_files: int
    root: Path

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "tasks": self.tasks, "series": self.series,
                "segmentation_files": self.segmentation_files, "root": str(self.root)}


def _rebase_series(s: Series, move: Callable[[str], str]) -> None:
    if isinstance(s.items, str):
        s.items = move(s.items)
    elif isinstance(s.items, list):
        s.items = [move(p) for p in s.items]
    if isinstance(s.segmentations, str):
        s.segmentations = move(s.segmentations)
    elif isinstance(s.segmentations, list):
        s.segmentations = [move(p) for p in s.segmentations]
    if s.segment_map is not None:
        for seg in s.segment_map.segments.values():
            if isinstance(seg.mask, str):
                seg.mask = move(seg.mask)
            elif isinstance(seg.mask, list):
                seg.mask = [move(p) for p in seg.mask]
    for hm in s.extra.get("heatMaps") or []:
        if isinstance(hm, dict) and isinstance(hm.get("item"), str):
            hm["item"] = move(hm["item"])


def rebase(items: ItemsList, new_base: Path) -> ItemsList:
    """A copy of ``items`` whose local paths are relative to ``new_base``."""
    old = items.base_dir
    out = parse_items(copy.deepcopy(items.to_json()), path=None, root=new_base)

    def move(p: str) -> str:
        if is_remote(p) or os.path.isabs(p):
            return p
        return relpath((old / p).resolve(), new_base)

    for task in out.tasks:
        for s in task.series:
            _rebase_series(s, move)
    return out


def export_items(items: ItemsList, path: str | os.PathLike[str],
                 root: str | os.PathLike[str] | None = None) -> ExportSummary:
    """Write ``items`` to ``path`` with paths relative to ``root`` (default: its folder).

    A root other than the file's folder is for lists uploaded from another place
    (``redbrick upload`` resolves paths against the list's folder, so Segmap warns
    in the wizard when they differ).
    """
    target = Path(path).expanduser().resolve()
    base = Path(root).expanduser().resolve() if root else target.parent
    out = rebase(items, base)
    out.save(target)
    n_series = sum(len(t.series) for t in out.tasks)
    n_files = sum(len(s.segmentation_paths) for t in out.tasks for s in t.series)
    return ExportSummary(target, len(out.tasks), n_series, n_files, base)
