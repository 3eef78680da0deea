"""NRRD masks written as NIfTI for RedBrick, which reads NIfTI masks only.

Slicer saves segmentations as NRRD; RedBrick's merge refuses anything but NIfTI
('Invalid mask type'). When Segmap builds, exports or uploads an items list, each
NRRD mask it names (in ``segmentations`` or as a ``mask``) is written once as the
NIfTI image ``app.readers.mask_as_nifti`` gives (same voxels, same world grid)
into a folder of the output, and the list is pointed at that copy. The user's
files are never touched; a conversion never overwrites a file the list uses.

An RTSTRUCT series (segmentMap keyed by ROI name) stays itself too (RedBrick's CLI fills it
with --rt-struct), unless the list also holds other masks: it is then written as the label
map the SDK fills from it, on the series' grid (``app.discover.with_rt_as_nifti``), with
its segmentMap keyed by those values.

A DICOM SEG mask stays itself (RedBrick's CLI converts it with --dicom-seg), unless the
list also holds other masks: that flag reads every mask as a SEG, so such a list is
written with each SEG as the NIfTI --dicom-seg makes of it (``seg_as_nifti``: same
values, so the segmentMap holds), and RedBrick's CLI uploads it in one run.

Masks a scan converted from a DICOM SEG or RTSTRUCT live in Segmap's cache
(``app.discover.derived_mask``); a list must not point there (a cache is cleared), so
they are copied the same way, byte for byte, into ``_outside/<source>-<key>/`` of that
folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.discover import RtSeries, derived_mask, rt_series, with_rt_as_nifti
from app.errors import OutputError
from app.items import (
    CONVERTED_FOLDER,
    OUTSIDE_FOLDER,
    ItemsList,
    PathRef,
    PathRole,
    is_remote,
    iter_paths,
    mask_converted,
    relpath,
    walk,
)
from app.jsonio import write_bytes_atomic
from app.readers import is_dicom_seg, mask_as_nifti, nifti_bytes, seg_as_nifti, split_suffix


@dataclass(frozen=True)
class Conversion:
    """One NRRD mask and the NIfTI file it is written as."""

    source: Path
    target: Path
    derived_from: str = ""  # the DICOM SEG / RTSTRUCT a cached mask was converted from
    dicom_seg: bool = False  # a DICOM SEG mask written as the NIfTI --dicom-seg makes
    # an RTSTRUCT series written as the label map --rt-struct fills (its file in the cache)
    rt_label: Path | None = None

    def to_json(self) -> dict[str, str]:
        out = {"source": str(self.source), "target": str(self.target)}
        if self.derived_from:
            out["derived_from"] = self.derived_from
        if self.dicom_seg:
            out["kind"] = "DICOM SEG"
        if self.rt_label is not None:
            out["kind"] = "RTSTRUCT"
        return out


def _nrrd_masks(items: ItemsList) -> dict[Path, Path]:
    """The local NRRD masks, cached DICOM-derived masks, and DICOM SEG masks of a list that
    also holds other masks, the list names: the file itself (links resolved, so one file
    named twice is converted once) -> the path the list names it by (for mirroring)."""
    found: dict[Path, Path] = {}
    segs: dict[Path, Path] = {}
    others = False
    for ref in iter_paths(items):
        if ref.role in (PathRole.SEGMENTATION, PathRole.MASK) and not is_remote(ref.path):
            local = items.resolve(ref.path)
            named = Path(os.path.abspath(local)) if local is not None else None
            # abspath first: the list's folder may not exist yet (../cache/x from out/)
            if named is None:
                continue
            if mask_converted(ref.path) or derived_mask(named):
                found.setdefault(named.resolve(), named)
                others = True
            elif is_dicom_seg(named):
                segs.setdefault(named.resolve(), named)
            else:
                others = True
    if others:
        found.update(segs)
    return found


def _rt_plan(items: ItemsList, folder: Path, base: Path
             ) -> tuple[list[RtSeries], list[Conversion]]:
    """The RTSTRUCT series of a list that also holds other masks, and where each one's label
    map goes (named after the structure set and what was filled: one file per names)."""
    rts = [r for r in rt_series(items) if r.label is not None]
    ours = {(r.task, r.series) for r in rts}
    if not rts or not any((ti, si) not in ours and s.segmentation_paths
                          for ti, _t, si, s in items.iter_series()):
        return [], []
    plan = []
    for rt in rts:
        local = items.resolve(rt.files[0])
        assert local is not None and rt.label is not None  # read, so local
        named = Path(os.path.abspath(local))
        key = rt.label.name.split(".")[0][:8]
        plan.append(Conversion(named, mirrored(named, base, folder,
                                               f"{split_suffix(named.name)[0]}-{key}.nii.gz"),
                               rt_label=rt.label))
    return rts, plan


def mirrored(named: Path, base: Path, folder: Path, filename: str) -> Path:
    """Where a file derived from ``named`` goes: its folder's path under ``base``, mirrored
    in ``folder``, so files of the same name in different cases stay apart."""
    try:
        rel = named.parent.relative_to(Path(os.path.abspath(base)))
    except ValueError:  # outside the list's folder: a folder of its own per source folder
        digest = hashlib.sha1(str(named.parent).encode("utf-8")).hexdigest()[:10]
        rel = Path(OUTSIDE_FOLDER) / f"{named.parent.name}-{digest}"
    return folder / rel / filename


def _target(source: Path, base: Path, folder: Path) -> Path:
    """Where a mask's conversion goes: its path under ``base``, mirrored in ``folder``."""
    stem, _ = split_suffix(source.name)
    return mirrored(source, base, folder, f"{stem}.nii.gz")


def used_files(items: ItemsList) -> set[Path]:
    """Every local file the list names, links resolved (a derived file must not be one)."""
    return {p.resolve() for p in (items.resolve(r.path) for r in iter_paths(items)
                                  if not is_remote(r.path)) if p is not None}


def plan_conversions(items: ItemsList, folder: Path, mirror: Path | None = None
                     ) -> list[Conversion]:
    """The conversions ``convert_masks`` would write, without writing anything.

    A mask's conversion keeps its path relative to ``mirror`` (default: the list's
    folder) under ``folder``, so masks of the same name in different cases stay apart.
    """
    return _plan(items, folder, mirror)[1]


def _plan(items: ItemsList, folder: Path, mirror: Path | None
          ) -> tuple[list[RtSeries], list[Conversion]]:
    """``plan_conversions``, with the RTSTRUCT series it fills (see ``_rt_plan``)."""
    base = mirror if mirror is not None else items.base_dir
    rts, plan = _rt_plan(items, folder, base)
    for src, named in sorted(_nrrd_masks(items).items()):
        cached = derived_mask(src)
        if cached is not None:  # a copy of its own per converted file, named after it
            source, key = cached
            sub = f"{split_suffix(source)[0]}-{key.split('-')[0][:8]}"
            plan.append(Conversion(src, folder / OUTSIDE_FOLDER / sub / src.name, source))
        else:
            plan.append(Conversion(src, _target(named, base, folder),
                                   dicom_seg=is_dicom_seg(src)))
    used = used_files(items)
    for c in plan:
        if c.target.resolve() in used:
            raise OutputError(
                f"Cannot convert {c.source.name} to NIfTI: {c.target} is a file the items "
                "list uses.", f"Move that file, or write the items list to another folder "
                f"(conversions go into {CONVERTED_FOLDER}/ beside it).")
    return rts, plan


def conversions_text(conversions: Sequence[Conversion], folder: Path) -> str:
    """``Converted 2 NRRD mask(s) to NIfTI in ...; copied 3 mask(s) converted from DICOM SEG
    / RTSTRUCT (liver.dcm) into ...`` (empty when none)."""
    nrrd = [c for c in conversions if not c.derived_from and not c.dicom_seg and
            c.rt_label is None]
    dicom = [c for c in conversions if c.derived_from]
    segs = [c for c in conversions if c.dicom_seg]
    rts = [c for c in conversions if c.rt_label is not None]
    parts = []
    if rts:
        parts.append(f"Wrote {len(rts)} RT Structure Set series as the label map RedBrick's "
                     f"--rt-struct fills from them, in {folder}: the list holds other masks "
                     "too, which --rt-struct would read as structure sets.")
    if segs:
        parts.append(f"Wrote {len(segs)} DICOM SEG mask(s) as the NIfTI RedBrick's --dicom-seg "
                     f"makes of them, in {folder}: the list holds other masks too, which "
                     "--dicom-seg would read as SEG.")
    if nrrd:
        parts.append(f"Converted {len(nrrd)} NRRD mask(s) to NIfTI in {folder} (RedBrick "
                     "reads NIfTI masks only).")
    if dicom:
        sources = ", ".join(dict.fromkeys(c.derived_from for c in dicom))
        parts.append(f"Copied {len(dicom)} mask(s) converted from DICOM SEG / RTSTRUCT "
                     f"({sources}) into {folder}, out of Segmap's cache.")
    return " ".join(parts)


def convert_masks(items: ItemsList, folder: Path, write: bool = True,
                  mirror: Path | None = None) -> tuple[ItemsList, list[Conversion]]:
    """A copy of ``items`` whose NRRD masks point at their NIfTI conversions in ``folder``,
    and whose masks converted from DICOM (in the cache) point at their copies there.

    Paths to the conversions are written relative to the list's folder. Every
    ``segmentations`` entry and ``mask`` naming one NRRD file points at the same
    conversion, so a binary mask still names its segmentation exactly. With
    ``write`` False nothing is written and ``items`` itself is returned (a dry run).
    """
    rts, plan = _plan(items, folder, mirror)
    if not plan or not write:
        return items, plan
    for c in plan:
        if c.rt_label is not None or c.derived_from:
            data = (c.rt_label or c.source).read_bytes()
        else:
            data = nifti_bytes(seg_as_nifti(c.source) if c.dicom_seg else
                               mask_as_nifti(c.source))
        if not _holds(c.target, data):
            write_bytes_atomic(c.target, data)  # unchanged conversions keep their time
    source = with_rt_as_nifti(items, rts)[0] if rts else items
    out = repoint(source, {(c.rt_label or c.source): c.target for c in plan},
                  (PathRole.SEGMENTATION, PathRole.MASK))
    filled = {(r.task, r.series) for r in rts}
    for ti, _task, si, series in out.iter_series():  # the label maps: relative, as others
        if (ti, si) in filled and isinstance(series.segmentations, str):
            series.segmentations = relpath(Path(series.segmentations), out.base_dir)
    return out, plan


def _holds(path: Path, data: bytes) -> bool:
    """True when ``path`` is a file holding ``data`` (one that cannot be read does not)."""
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def repoint(items: ItemsList, targets: dict[Path, Path], roles: tuple[PathRole, ...]
            ) -> ItemsList:
    """A copy of ``items`` whose paths of ``roles`` that name a file of ``targets`` (by its
    resolved path) name its target instead: absolute stays absolute, relative stays
    relative to the list's folder."""
    out = items.copy()
    base = out.base_dir

    def point(ref: PathRef) -> str | None:
        if ref.role not in roles or is_remote(ref.path):
            return None
        local = out.resolve(ref.path)
        target = targets.get(local.resolve()) if local is not None else None
        if target is None:
            return None
        return str(target) if os.path.isabs(ref.path) else relpath(target, base)

    walk(out, point)
    return out
