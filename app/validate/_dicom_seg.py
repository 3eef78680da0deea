"""DICOM SEG masks: what RedBrick's SDK makes of them, said before upload.

RedBrick's merge reads NIfTI only; its CLI converts a SEG first when the list is
uploaded with ``redbrick upload --dicom-seg`` (redbrick-sdk 2.35.4,
``convert_dicom_seg_to_nii``): the SEG's own frame span becomes the label volume,
the segment numbers its values, and the segmentMap keys are those numbers. Segmap
reads a SEG as that conversion (``app.readers.seg_as_nifti``), so the census, the
value checks, the grid check and the merge all run on what RedBrick would store.
What the SDK refuses (``sdk_refusal``, and overlapping pixels it finds while
converting) is an error finding with what to do about it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from app.errors import VolumeReadError
from app.items import ItemsList
from app.merge import series_inputs
from app.readers import Census, SegHeader, census, is_dicom_seg, sdk_refusal, seg_header
from app.validate._codes import Code
from app.validate._findings import Finding, finding

_THEN = ("Uploaded with `redbrick upload --dicom-seg`, its conversion fails and the task is "
         "not uploaded; Segmap's upload cannot take it either.")
_AS_NIFTI = ("or let Segmap convert it: `segmap build FOLDER` (the folder holding the SEG and "
             "its series) turns it into one NIfTI mask per segment on the series' grid, which "
             "RedBrick takes without --dicom-seg")


def _fix(header: SegHeader, why: str) -> str:
    """What to do about the SDK's refusal ``why`` of the SEG ``header`` describes."""
    if header.kind == "LABELMAP":
        return f"Export it again as a BINARY SEG (Segmentation Storage), {_AS_NIFTI}."
    if header.kind != "BINARY":
        return f"Export it again as a BINARY SEG (thresholded), {_AS_NIFTI}."
    if any(seg.number == 0 for seg in header.segments):
        return f"Number its segments from 1 and export it again, {_AS_NIFTI}."
    if "overlap" in why.lower().replace(header.path.name.lower(), ""):
        return ("Save overlapping segments in separate SEG files (list each in the series' "
                f"`segmentations`; RedBrick stores the shared voxels as an overlap group), "
                f"{_AS_NIFTI}.")
    return f"Export the SEG again with a plane position for every frame, {_AS_NIFTI}."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


SegCheck = tuple[Census | None, Code | None, str | None]


def check_seg(path: str) -> SegCheck:
    """A DICOM SEG mask checked as RedBrick's CLI converts it (``--dicom-seg``): (its census
    (values = segment numbers, on the SEG's frame-span grid), None, None), or (None, the
    code, the message) saying why it cannot be used."""
    try:
        header = seg_header(path)
    except VolumeReadError as exc:
        return (None, Code.FILE_CORRUPT, (
            f"{_sentence(exc.message)} RedBrick's CLI cannot convert it either, and the task is "
            "not uploaded. Export or copy the SEG again."))
    why = sdk_refusal(header)
    if why is not None:
        return (None, Code.DICOM_SEG_REFUSED, f"{why} {_THEN} {_fix(header, why)}")
    try:
        c = census(path)
    except VolumeReadError as exc:
        if exc.message.startswith(("Cannot read", "Not enough memory")):
            return (None, Code.FILE_CORRUPT, (
                f"{_sentence(exc.message)} RedBrick's CLI cannot convert it either, and the task "
                "is not uploaded. Export or copy the SEG again (it may have been cut short)."))
        return (None, Code.DICOM_SEG_REFUSED,
                         f"{_sentence(exc.message)} {_THEN} {_fix(header, exc.message)}")
    return c, None, None


def seg_note(path: str) -> str:
    """The note on a SEG RedBrick's CLI takes: how it goes up, and what the checks read."""
    return (f"{os.path.basename(path)} is a DICOM SEG. RedBrick's merge reads NIfTI masks only "
            "('Invalid mask type'): upload this list with `redbrick upload --dicom-seg`, which "
            "converts each SEG to NIfTI first (values = segment numbers, so the segmentMap keys "
            "are segment numbers). Segmap's upload converts it the same way, in memory, and "
            "leaves the file as it is; the checks here are made on that conversion.")


def binary_text(path: str) -> str:
    """Why binaryMask and a DICOM SEG do not go together in RedBrick."""
    return (f"{os.path.basename(path)} is a DICOM SEG in a series with binaryMask. RedBrick's "
            "CLI (--dicom-seg) converts the SEG to a NIfTI of segment numbers but leaves the "
            "`mask` paths at the .dcm file, so its merge finds no `mask` for the converted file "
            "and stores the segment numbers as they are (a later SEG of the series is dropped); "
            "the segmentMap's `mask` entries do not say what is stored. Remove binaryMask and key "
            "the segmentMap by the SEG's segment numbers.")


def seg_crop_text(frames: int, slices: int) -> str:
    """Why a SEG whose frames span only part of the image is wrong in RedBrick."""
    return (f"RedBrick's SDK stores a DICOM SEG on the span of its frames only, from its first "
            f"frame to its last ({frames} of the image's {slices} slices here; a SEG often holds "
            "frames only where a segment is drawn), and RedBrick keeps that volume as it is "
            "(nothing resamples labels onto the image), so these labels would be shown in the "
            "wrong place or not at all. "
            "Segmap can convert it: `segmap build FOLDER` (the folder holding the SEG and its "
            "series) turns it into one NIfTI mask per segment on the series' grid. Or export "
            "the SEG again with a frame for every slice of the series (highdicom: "
            "omit_empty_frames=False).")


def mixed_list(items: ItemsList) -> Iterable[Finding]:
    """A warning when the list has DICOM SEG masks and other masks: RedBrick's CLI converts
    SEGs only with --dicom-seg, which then reads every segmentation of the run as a SEG."""
    seg = other = None
    for _ti, task, si, _series in items.iter_series():
        for entry in series_inputs(items, task, si).entries:
            if entry.local is None:
                continue
            for f in entry.files if entry.folder else (str(entry.local),):
                if not os.path.isfile(f):
                    continue
                if is_dicom_seg(f):
                    seg = seg or f
                else:
                    other = other or f
        if seg and other:
            yield finding(Code.DICOM_SEG_MIXED, (
                f"The list has DICOM SEG masks ({os.path.basename(seg)}) and other masks "
                f"({os.path.basename(other)}). RedBrick's CLI converts SEGs only with `redbrick "
                "upload --dicom-seg`, which then reads every segmentation of the list as a SEG "
                "and fails on the others, so it cannot upload this list in one run. Segmap's "
                "upload takes both; `segmap export` writes the list with each SEG as the NIfTI "
                "--dicom-seg makes of it, which RedBrick's CLI uploads as it is."))
            return
