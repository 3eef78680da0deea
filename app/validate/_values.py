"""Checks of label values: census flags, mapped and unmapped values, binary masks, overlaps."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from app.items import category_label
from app.merge import MergeResult, sdk_label
from app.readers import Census, ValueFlag, value_text
from app.validate._codes import Code
from app.validate._context import SeriesContext
from app.validate._findings import Finding, Where, finding


def category_text(run: SeriesContext, inst: int) -> str:
    """The category of a segmentMap id as people read it."""
    smap = run.smap
    seg = smap.segments.get(inst) if smap is not None else None
    if seg is None or seg.category is None:
        return "no category"
    return repr(category_label(seg.category))


def describe(run: SeriesContext, inst: int) -> str:
    """``'Liver' (id 1)`` for a segmentMap id of the series."""
    return f"{category_text(run, inst)} (id {inst})"


def _ml(ml: float) -> str:
    return f"{ml:,.0f} mL" if ml >= 100 else f"{ml:.3g} mL" if ml >= 0.01 else f"{ml:.2g} mL"


def _n(count: int, c: Census | None = None) -> str:
    ml = f", {_ml(count * c.voxel_volume_ml)}" if c is not None and c.voxel_volume_ml else ""
    return f"{count:,} voxel{'s' if count != 1 else ''}{ml}"


def _some(values: Sequence[float], limit: int = 5) -> str:
    shown = ", ".join(value_text(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_census(c: Census) -> Iterator[tuple[Code, str, int | None]]:
    """(code, message, value) for the value flags of one file's census."""
    name = os.path.basename(str(c.file))
    vals = sorted(v for v in c.values if v != 0 and np.isfinite(v))
    if ValueFlag.NON_INTEGER in c.flags:
        frac = [v for v in vals if not float(v).is_integer()]
        n = sum(c.values[v] for v in frac)
        lost = sum(c.values[v] for v in frac if abs(v) <= 0.5)
        yield Code.VALUES_NON_INTEGER, (
            f"{name} holds fractional values ({_some(frac)}; {_n(n, c)}). RedBrick rounds "
            "them half to even (0.5 becomes 0, 1.5 becomes 2)"
            + (f", so {_n(lost)} at or below 0.5 become background" if lost else "")
            + ". A probability map or an interpolated resampling is the usual cause: save "
            "whole-number labels (threshold, or resample with nearest neighbour)."), None
    if ValueFlag.NEGATIVE in c.flags:
        neg = [v for v in vals if v < 0]
        to = ", ".join(f"{value_text(v)} -> {sdk_label(v)}" for v in neg[:4])
        yield Code.VALUES_NEGATIVE, (
            f"{name} holds negative values ({_some(neg)}; {_n(sum(c.values[v] for v in neg))}). "
            f"RedBrick stores labels as 0..65535 and wraps them ({to}), creating labels no "
            "segmentMap entry expects. Use 0 for background and positive label values."), (
            int(neg[0]) if neg and float(neg[0]).is_integer() else None)
    if ValueFlag.OVER_UINT16 in c.flags:
        big = [v for v in vals if v > 65535]
        to = ", ".join(f"{value_text(v)} -> {sdk_label(v)}" for v in big[:4])
        yield Code.VALUES_OVER_65535, (
            f"{name} holds values above 65535 ({_some(big)}). RedBrick stores labels as 16-bit "
            f"values and wraps them ({to}), mixing them up with other labels. Renumber the "
            "labels from 1."), (int(big[0]) if big and float(big[0]).is_integer() else None)
    if ValueFlag.NON_FINITE in c.flags:
        bad = sum(n for v, n in c.values.items() if not np.isfinite(v))
        yield Code.VALUES_NON_FINITE, (
            f"{name} holds {bad:,} NaN or infinite voxels; RedBrick's conversion to 16-bit "
            "labels turns them into arbitrary values. Replace them with 0 before upload."), None


def _files_with(values: dict[str, dict[int, int]], v: int) -> list[str]:
    return [f for f, vals in values.items() if v in vals]


def check_values(run: SeriesContext, values: dict[str, dict[int, int]]) -> Iterator[Finding]:
    """Non-binary mode: mapped values present in the files, file values present in the map."""
    smap = run.smap
    where: Where = {"task": run.label, "series": run.index}
    for f, vals in values.items():
        if not vals and run.checks[f].census is not None:
            yield finding(Code.EMPTY_MASK, (
                f"{os.path.basename(f)} holds no labelled voxel (every value is 0); it adds "
                "nothing to the task. Check it is the right file, or remove it."), file=f, **where)
    yield from _uncompressed(run)
    masks = {m for m in run.inputs.masks.values() if isinstance(m, str)}
    if len(masks) > 1:
        yield finding(Code.BINARY_FLAG_MISSING, (
            f"segmentMap entries name {len(masks)} separate `mask` files, but binaryMask is not "
            "set. RedBrick then ignores `mask` and reads each file's own values, so every file "
            "whose voxels are 1 lands in the label of id 1. Add \"binaryMask\": true to the "
            "series."), **where)
    present = {v for vals in values.values() for v in vals}
    keys = set(smap.segments) if smap else set()
    declared = {g for s in (smap.segments.values() if smap else []) for g in
                s.overlapping_groups or []}
    if smap is not None and run.complete and run.files:
        for inst, seg in smap.segments.items():
            if not 1 <= inst <= 65535:
                continue
            if inst in present or any(g in present for g in seg.overlapping_groups or []):
                continue
            have = _some(sorted(present)) if present else "none"
            yield finding(Code.MAPPED_VALUE_ABSENT, (
                f"segmentMap id {inst} ({category_text(run, inst)}) "
                f"occurs in no segmentation file (values present: {have}). RedBrick creates "
                "this label with no voxels, and with --label-validate refuses the task. Fix the "
                "value, or remove the entry (RedBrick's --prune-segmentations drops it)."),
                value=inst, **where)
    unmapped = sorted(present - keys - declared)
    if smap is None and unmapped:  # one finding, not one per label of an unmapped file
        yield finding(Code.UNMAPPED_VALUE, (
            f"The series has segmentations but no segmentMap: all its values "
            f"({_some([float(v) for v in unmapped], 10)}) import as uneditable, view-only "
            "annotations with no category. Add a segmentMap that maps each value to a "
            "category."), file=_files_with(values, unmapped[0])[0], **where)
        return
    for v in unmapped:
        files = _files_with(values, v)
        where_n = "; ".join(f"{os.path.basename(f)}: {_n(values[f][v], run.checks[f].census)}"
                            for f in files[:3])
        yield finding(Code.UNMAPPED_VALUE, (
            f"Value {v} occurs in the masks ({where_n}) but has no segmentMap entry; it imports "
            "as an uneditable, view-only annotation with no category. Map it to a category, or "
            "set those voxels to 0 (RedBrick's --prune-segmentations drops them)."),
            file=files[0], value=v, **where)


def _uncompressed(run: SeriesContext) -> Iterator[Finding]:
    # A single uint8 file needs no rewrite, so the SDK uploads it as it is, under a key
    # ending in .nii.gz even when it is an uncompressed .nii (reference §9, quirk 8).
    if len(run.files) != 1 or run.series.flag("pngMask"):
        return
    f = run.files[0]
    c = run.checks.get(f)
    if c is None or not c.ok or c.census is None or c.census.dtype != "uint8":
        return
    if f.lower().endswith(".nii"):
        yield finding(Code.UNCOMPRESSED_UPLOAD, (
            f"{os.path.basename(f)} is an uncompressed .nii holding uint8 labels; RedBrick "
            "uploads such a file unchanged but stores it under a name ending in .nii.gz, which "
            "readers then try to decompress. Save it as .nii.gz."),
            task=run.label, series=run.index, file=f)


def check_binary(run: SeriesContext, values: dict[str, dict[int, int]]) -> Iterator[Finding]:
    """binaryMask mode: every entry names one listed file, every file is named once."""
    smap = run.smap
    where: Where = {"task": run.label, "series": run.index}
    users: dict[str, list[int]] = {}
    for inst, seg in (smap.segments.items() if smap else []):
        mask = seg.mask
        if isinstance(mask, list):  # reported as mask-list for every shape
            continue
        if mask is None:
            if inst:
                yield finding(Code.BINARY_NO_MASK, (
                    f"{describe(run, inst)} names no `mask` file, but the series is in binaryMask "
                    "mode; RedBrick creates this label with no voxels. Add \"mask\": \"<its "
                    "file>\" to the entry."), value=inst, **where)
            continue
        norm = run.inputs.masks[str(inst)]
        assert isinstance(norm, str)
        users.setdefault(norm, []).append(inst)
        if norm not in run.files:
            yield _not_listed(run, inst, mask, norm)
    for norm, insts in users.items():
        if len(insts) > 1:
            yield finding(Code.MASK_SHARED, (
                f"{os.path.basename(norm)} is the `mask` of {len(insts)} entries "
                f"({', '.join(describe(run, i) for i in insts)}). In binaryMask mode one file is "
                f"one label: RedBrick's merge fails ('Binary mask upload only supports single "
                f"instance per file: '{norm}'') and the task is not uploaded. Give each entry its "
                "own mask file."), file=norm, value=insts[0], **where)
    for i, f in enumerate(dict.fromkeys(run.files)):
        c = run.checks.get(f)
        vals = values.get(f, {})
        if f not in users:
            yield _unreferenced(run, f, i == 0, vals)
            continue
        inst = users[f][0]
        if c is not None and c.census is not None and not vals:
            yield finding(Code.EMPTY_MASK, (
                f"{os.path.basename(f)} (the mask of {describe(run, inst)}) holds no labelled "
                "voxel; RedBrick creates this label with no voxels. Check it is the right file, "
                "or remove the entry if the structure is absent."), file=f, value=inst, **where)
        elif len(vals) > 1:
            yield finding(Code.MASK_NOT_BINARY, (
                f"{os.path.basename(f)} holds {len(vals)} different values ({_some(sorted(vals))}"
                f"), but in binaryMask mode every non-zero voxel becomes {describe(run, inst)}, "
                "so these labels merge into one. If they are different structures, turn "
                "binaryMask off and map each value, or split the file."), file=f, value=inst,
                **where)


def _not_listed(run: SeriesContext, inst: int, mask: str, norm: str) -> Finding:
    same = None
    if os.path.exists(norm) or os.path.exists(str(run.items.resolve(mask))):
        target = norm if os.path.exists(norm) else str(run.items.resolve(mask))
        same = next((f for f in run.files if os.path.exists(f) and os.path.samefile(f, target)),
                    None)
    if same is not None:
        why = (f"names the file listed in `segmentations`, but spelled differently ({mask!r} vs "
               f"{os.path.basename(same)!r} after RedBrick's path rewriting); RedBrick compares "
               "the text, so the file's voxels are not given to this label. Write the `mask` "
               "exactly as the `segmentations` entry.")
    else:
        why = ("names a file that is not in the series' `segmentations`; RedBrick only reads "
               "the listed files, so this label gets no voxels. Add the file to `segmentations` "
               "or fix the `mask` path.")
    return finding(Code.MASK_NOT_LISTED, f"The `mask` of {describe(run, inst)} ({mask}) {why}",
                   task=run.label, series=run.index, file=mask, value=inst)


def _unreferenced(run: SeriesContext, f: str, first: bool, vals: dict[int, int]) -> Finding:
    name = os.path.basename(f)
    smap = run.smap
    if first and vals:
        keys = set(smap.segments) if smap else set()
        hit = sorted(set(vals) & keys)
        also = (f" Values {_some(hit)} equal segmentMap ids, so those voxels are added to those "
                "categories." if hit else " They become labels with no category.")
        then = (f"RedBrick keeps its raw values ({_some(sorted(vals))}) in the uploaded labels "
                f"(an SDK quirk for the first file).{also}")
    elif first:
        then = "It holds no labelled voxel, so it adds nothing."
    else:
        then = "RedBrick ignores it: nothing from it is uploaded."
    return finding(Code.MASK_UNREFERENCED, (
        f"{name} is listed in `segmentations` but no segmentMap entry names it as its `mask`. "
        f"{then} Name it in an entry's `mask`, or remove it from `segmentations`."),
        task=run.label, series=run.index, file=f, value=min(vals) if vals else None)


def overlap_findings(run: SeriesContext, result: MergeResult) -> Iterator[Finding]:
    """One warning per overlap group the merge created (declared groups are intended)."""
    if result.volume is None:
        return
    declared = {g for gs in run.inputs.instances.values() if gs for g in gs}
    created = sorted({g for gs in result.segments.values() if gs for g in gs} - declared)
    if not created:
        return
    counts = np.bincount(result.volume.reshape(-1, order="A"), minlength=max(created) + 1)
    base = run.checks.get(run.files[0])
    ml = base.census if base is not None else None
    by_inst: dict[int, list[str]] = {}
    if run.series.is_binary:
        for k, m in run.inputs.masks.items():
            if isinstance(m, str):
                by_inst.setdefault(int(k), []).append(os.path.basename(m))
    else:
        for f, c in run.checks.items():
            for v in (c.census.values if c.census is not None else {}):
                if v and float(v).is_integer():
                    by_inst.setdefault(sdk_label(v), []).append(os.path.basename(f))
    for g in created:
        members = sorted(i for i, gs in result.segments.items() if gs and g in gs)
        parts = [f"{category_text(run, i)} (id {i}, {', '.join(by_inst.get(i, ['?'])[:3])})"
                 for i in members]
        first_file = next((f for f in run.files if os.path.basename(f) in
                           by_inst.get(members[0], [])), None)
        yield finding(Code.OVERLAP, (
            f"Overlap of {' and '.join(parts)}: {_n(int(counts[g]), ml)}. RedBrick stores these "
            f"voxels as overlap group {g}, listed in each of these labels, so every one of them "
            "covers them. If that is intended (a lesion inside an organ) nothing needs doing; "
            "otherwise correct the masks so each voxel has one label."),
            task=run.label, series=run.index, file=first_file, value=g)
