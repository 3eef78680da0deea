"""Export: an items list written where the user wants it, paths relative to a chosen root.

RedBrick's CLI resolves relative paths against the items list's folder, so moving
a list means rewriting its paths. Only local paths change; URLs and storage keys
are kept as they are. NRRD masks are written as NIfTI into ``nifti-masks/``
beside the list (RedBrick reads NIfTI only). The list is written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.export._convert import CONVERTED_FOLDER, Conversion, convert_masks
from app.items import ItemsList, rebase


@dataclass(frozen=True)
class ExportSummary:
    """What was written."""

    path: Path
    tasks: int
    series: int
    segmentation_files: int
    root: Path
    converted: tuple[Conversion, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "tasks": self.tasks, "series": self.series,
                "segmentation_files": self.segmentation_files, "root": str(self.root),
                "converted": [c.to_json() for c in self.converted]}

    def converted_text(self) -> str:
        """``Converted 2 NRRD masks to NIfTI in .../nifti-masks`` (empty when none)."""
        if not self.converted:
            return ""
        folder = self.path.parent / CONVERTED_FOLDER
        return (f"Converted {len(self.converted)} NRRD mask(s) to NIfTI in {folder} "
                "(RedBrick reads NIfTI masks only).")


def export_items(items: ItemsList, path: str | os.PathLike[str],
                 root: str | os.PathLike[str] | None = None) -> ExportSummary:
    """Write ``items`` to ``path`` with paths relative to ``root`` (default: its folder).

    A root other than the file's folder is for lists uploaded from another place
    (``redbrick upload`` resolves paths against the list's folder, so Segmap warns
    in the wizard when they differ).
    """
    target = Path(path).expanduser().resolve()
    base = Path(root).expanduser().resolve() if root else target.parent
    converted, conversions = convert_masks(items, target.parent / CONVERTED_FOLDER)
    out = rebase(converted, base)
    out.save(target)
    n_series = sum(len(t.series) for t in out.tasks)
    n_files = sum(len(s.segmentation_paths) for t in out.tasks for s in t.series)
    return ExportSummary(target, len(out.tasks), n_series, n_files, base, tuple(conversions))
