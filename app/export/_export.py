"""Export: an items list written where the user wants it, paths relative to a chosen root.

RedBrick's CLI resolves relative paths against the items list's folder, so moving
a list means rewriting its paths. Only local paths change; URLs and storage keys
are kept as they are. The file is written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.items import ItemsList, rebase


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
