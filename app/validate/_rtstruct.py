"""RT Structure Sets in an items list: what RedBrick's ``--rt-struct`` upload makes of them.

The other checks run on each RTSTRUCT series as the label map the SDK stores for it
(``app.discover.with_rt_as_nifti``), so values, grids and categories are checked on what
RedBrick would keep. What only the ROI names show is said here: mapped names no ROI has
and ROIs the map leaves out (the SDK drops both without an error), overlapping ROIs
(the later one in the map wins), what filling the contours found, and the SDK's refusals.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from app.discover import RtSeries
from app.items import ItemsList, task_label
from app.validate._codes import Code
from app.validate._findings import Finding, finding

_CONVERT = ("`segmap build FOLDER` (the folder holding the structure set and its series) "
            "turns each ROI into its own NIfTI mask on the series' grid instead")


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def check_rtstructs(items: ItemsList, found: Sequence[RtSeries]) -> Iterator[Finding]:
    """Findings about each RTSTRUCT series of ``items`` (``found``: as read)."""
    for rt in found:
        yield from _check(items, rt)


def _check(items: ItemsList, rt: RtSeries) -> Iterator[Finding]:
    label, file = task_label(items.tasks[rt.task]), rt.files[0] if rt.files else None

    def say(code: Code, text: str) -> Finding:
        return finding(code, text, task=label, series=rt.series, file=file)

    name = os.path.basename(rt.files[0]) if rt.files else "the structure set"
    if rt.error is not None:
        yield say(Code.RTSTRUCT_UNREADABLE, (
            f"{name}: {rt.error} RedBrick's CLI (--rt-struct) cannot upload this series "
            "either."))
        return
    if rt.refusal is not None:
        yield say(Code.RTSTRUCT_REFUSED, f"{rt.refusal} Or {_CONVERT}.")
    series = items.tasks[rt.task].series[rt.series]
    if series.is_binary:
        yield say(Code.RTSTRUCT_BINARY, (
            f"{name} is an RT Structure Set in a series with binaryMask. RedBrick's CLI "
            "(--rt-struct) fills it into one label map keyed by value, which binaryMask "
            "would read as a single mask. Remove binaryMask."))
    yield say(Code.RTSTRUCT, (
        f"{name} is an RT Structure Set. RedBrick's merge reads NIfTI only: upload this "
        "list with `redbrick upload --rt-struct`, which fills the contours (rt-utils) into "
        "one label map whose values follow the segmentMap's ROI names in order. Segmap's "
        "upload fills them the same way, in memory; the checks here are made on that."))
    if rt.missing:
        yield say(Code.RTSTRUCT_ROI_ABSENT, (
            f"The segmentMap names {_names(rt.missing)}, but {name} has no ROI of that name "
            "(names must match exactly, case included). RedBrick's SDK drops the entry "
            "without a word, so the category gets no label. ROIs in the file: "
            f"{_names(list(rt.values) + list(rt.unmapped))}."))
    if rt.unmapped:
        yield say(Code.RTSTRUCT_ROI_UNMAPPED, (
            f"{name} has ROIs the segmentMap does not name: {_names(rt.unmapped)}. RedBrick's "
            "SDK leaves them out entirely (not even as view-only labels). Map them to "
            "categories if they should be imported."))
    if rt.overlapping:
        yield say(Code.RTSTRUCT_OVERLAP, (
            f"In {name}, {_names(rt.overlapping)} overlap{'s' if len(rt.overlapping) == 1 else ''} "
            "ROIs named before them in the "
            "segmentMap: RedBrick's SDK fills one label map, so where ROIs overlap the later "
            f"one wins and the earlier loses those voxels. To keep each whole, {_CONVERT}."))
    for text in rt.findings:
        yield say(Code.RTSTRUCT_CONTOURS, f"{name}: {text}")


def rt_mixed(items: ItemsList, found: Sequence[RtSeries]) -> Iterator[Finding]:
    """A warning when RTSTRUCT series share the list with series of other masks: RedBrick's
    CLI fills contours only with --rt-struct, which then reads every series as one."""
    rt = {(r.task, r.series) for r in found}
    if not rt:
        return
    for ti, task, si, series in items.iter_series():
        if (ti, si) not in rt and series.segmentation_paths:
            yield finding(Code.RTSTRUCT_MIXED, (
                f"The list has RT Structure Sets and other masks (task "
                f"{task_label(task)!r}). RedBrick's CLI fills contours only with `redbrick "
                "upload --rt-struct`, which then reads every series' segmentations as a "
                "structure set and fails on the others, so it cannot upload this list in one "
                "run. Segmap's upload takes both; or upload them as two lists."))
            return
