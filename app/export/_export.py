"""Export: an items list written where the user wants it, paths relative to a chosen root.

RedBrick's CLI resolves relative paths against the items list's folder, so moving
a list means rewriting its paths. Only local paths change; URLs and storage keys
are kept as they are. NRRD masks are written as NIfTI into ``nifti-masks/``
beside the list (RedBrick reads NIfTI only), and masks converted from a DICOM SEG or
RTSTRUCT are copied there out of Segmap's cache; on request, DICOM files RedBrick
refuses for their names are written under ``.dcm`` names into ``dicom-renamed/``
(links where possible). The list is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.discover import rt_places
from app.export._convert import Conversion, conversions_text, convert_masks
from app.export._dicom_names import (
    LinkMode,
    Renamed,
    dicom_to_rename,
    rename_dicom,
    renamed_text,
)
from app.export._own import guard_output, list_inputs, record_output
from app.items import CONVERTED_FOLDER, RENAMED_FOLDER, ItemsList, rebase
from app.readers import is_dicom_seg


@dataclass(frozen=True)
class ExportSummary:
    """What was written."""

    path: Path
    tasks: int
    series: int
    segmentation_files: int
    root: Path
    converted: tuple[Conversion, ...] = field(default=())
    renamed: tuple[Renamed, ...] = field(default=())
    not_renamed: int = 0  # DICOM files left under names RedBrick refuses (no rename asked)
    dicom_seg: bool = False  # its masks are DICOM SEG: RedBrick's CLI needs --dicom-seg
    rt_struct: bool = False  # its masks are RT Structure Sets: RedBrick's CLI needs --rt-struct

    @property
    def upload_command(self) -> str:
        """How RedBrick's CLI uploads the list, from its folder."""
        flag = " --dicom-seg" if self.dicom_seg else " --rt-struct" if self.rt_struct else ""
        return f"redbrick upload{flag} {self.path.name}"

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "tasks": self.tasks, "series": self.series,
                "segmentation_files": self.segmentation_files, "root": str(self.root),
                "converted": [c.to_json() for c in self.converted],
                "renamed": [r.to_json() for r in self.renamed],
                "not_renamed": self.not_renamed, "upload_command": self.upload_command}

    def renamed_text(self) -> str:
        """``Wrote 20 DICOM file(s) under .dcm names in .../dicom-renamed (20 hard links)``,
        or what to do about DICOM files left under refused names (empty when neither)."""
        if self.renamed:
            return renamed_text(self.renamed, self.path.parent / RENAMED_FOLDER)
        if self.not_renamed:
            return (f"{self.not_renamed} DICOM file(s) do not end in .dcm, and RedBrick's "
                    "upload refuses their names; export with .dcm names (segmap export "
                    "--dcm-names) for `redbrick upload`, or upload with Segmap, which sends "
                    "them under .dcm names.")
        return ""

    def converted_text(self) -> str:
        """``Converted 2 NRRD masks to NIfTI in .../nifti-masks``, and masks copied out of the
        cache of DICOM SEG / RTSTRUCT conversions (empty when none)."""
        return conversions_text(self.converted, self.path.parent / CONVERTED_FOLDER)


def export_items(items: ItemsList, path: str | os.PathLike[str],
                 root: str | os.PathLike[str] | None = None, *,
                 dcm_names: LinkMode | None = None,
                 mirror: str | os.PathLike[str] | None = None,
                 force: bool = False,
                 inputs: Iterable[str | os.PathLike[str] | None] = ()) -> ExportSummary:
    """Write ``items`` to ``path`` with paths relative to ``root`` (default: its folder).

    A root other than the file's folder is for lists uploaded from another place
    (``redbrick upload`` resolves paths against the list's folder, so Segmap warns
    in the wizard when they differ). With ``dcm_names``, DICOM files RedBrick refuses
    for their names (``needs_dcm_name``) are written under ``.dcm`` names into
    ``dicom-renamed/`` beside the list, as links or copies (``LinkMode``), and the list
    points at them. Derived files keep their folders' paths under ``mirror`` (default:
    the folder the list's paths resolve against).

    Nothing is written when ``path`` is an input (the list, a file it names, or one of
    ``inputs``), when the list holds what JSON cannot (``ItemsList.check_writable``), or
    when ``path`` is a file Segmap did not write and ``force`` is False
    (``ReplaceRefused``; ``replace_question`` says what to ask). The list written is
    recorded as Segmap's (``record_output``).
    """
    guard_output(Path(path).expanduser(), [*list_inputs(items), *inputs], force=force)
    target = Path(path).expanduser().resolve()
    base = Path(root).expanduser().resolve() if root else target.parent
    keep = Path(mirror).expanduser().resolve() if mirror else None
    rebase(items, base).check_writable(target)  # before any file is written
    converted, conversions = convert_masks(items, target.parent / CONVERTED_FOLDER,
                                           mirror=keep)
    out = rebase(converted, base)
    renamed: list[Renamed] = []
    not_renamed = 0
    if dcm_names is not None:
        # After the rebase, which resolves links: a symbolic .dcm name stays the path.
        out, renamed = rename_dicom(out, target.parent / RENAMED_FOLDER, dcm_names,
                                    mirror=keep or converted.base_dir.resolve())
    else:
        not_renamed = len(dicom_to_rename(out))
    out.save(target)
    record_output(target)
    n_series = sum(len(t.series) for t in out.tasks)
    n_files = sum(len(s.segmentation_paths) for t in out.tasks for s in t.series)
    segs = any(is_dicom_seg(local) for t in out.tasks for s in t.series
               for p in s.segmentation_paths if (local := out.resolve(p)) is not None)
    return ExportSummary(target, len(out.tasks), n_series, n_files, base, tuple(conversions),
                         tuple(renamed), not_renamed, segs, bool(rt_places(out)))
