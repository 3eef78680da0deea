"""Can RedBrick show a series' image? The faults that make its upload useless.

RedBrick uploads a series' ``items`` by their names (``app.items.file_type``) and its
viewer then has to show them. A file can have an accepted name and still be no image:
a DICOM RT Plan, RT Structure Set, structured report, ECG, SEG or RT Dose; a DICOM
header without pixel data, or with its pixels cut short; a NIfTI or JSON file named
``.dcm``; the items list itself; a NIfTI or NRRD header whose affine holds NaN, or an
NRRD encoding nobody decodes. Each is an error (``image-unreadable``) naming the file
and what it is. What only keeps Segmap from comparing the masks with the image (no
3-D geometry, a 2-D picture, several DICOM series) is a note (``grid-not-checked``).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from app.errors import VolumeReadError
from app.geometry import Grid
from app.items import FILE_TYPES, file_extension
from app.progress import run
from app.readers import (
    GZIP_MAGIC,
    DicomSeries,
    Format,
    ObjectKind,
    image_grid,
    nrrd_info,
    scan_dicom,
    volume_format,
)

# NRRD encodings there is a decoder for (the NRRD format's own list).
NRRD_ENCODINGS = frozenset({"raw", "gzip", "gz", "bzip2", "bz2", "text", "txt", "ascii"})
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_DICOM_TYPE = FILE_TYPES["dcm"]
_TEXT_TYPES = frozenset({FILE_TYPES["json"], FILE_TYPES["txt"], FILE_TYPES["html"]})
_OBJECTS = {  # what a DICOM object is, when it is no image to segment
    ObjectKind.SEG: "a DICOM SEG (a segmentation, not an image: it belongs in the "
                    "`segmentations` of the series it was drawn on)",
    ObjectKind.RTSTRUCT: "an RT Structure Set (contours, not an image: converted to NIfTI "
                         "label maps they belong in the image's `segmentations`)",
    ObjectKind.SR: "a DICOM structured report (a document, not an image)",
}
_MODALITIES = {"RTPLAN": "an RT Plan (treatment parameters, no image)",
               "RTDOSE": "an RT Dose (a dose grid, not an image to segment)",
               "ECG": "an ECG (a waveform, no image)", "RTRECORD": "an RT treatment record",
               "PR": "a presentation state (display settings, no image)",
               "KO": "a key object selection (a list of images, no image)",
               "DOC": "an encapsulated document (no image)", "REG": "a registration"}


@dataclass(frozen=True)
class ImageCheck:
    """What checking a series' image files found: its grid, or why it has none.

    ``fault``: RedBrick cannot show the image (an error); ``note``: the image is fine
    but its geometry is unknown, so the masks were not compared with it (info).
    ``file`` is the file either is about.
    """

    grid: Grid | None
    fault: str | None = None
    note: str | None = None
    file: Path | None = None


def _fault(path: Path, what: str, fix: str) -> ImageCheck:
    return ImageCheck(None, fault=f"{path.name} {what} RedBrick uploads it as the series' "
                      f"image but cannot show it, so the task has no image to segment. {fix}",
                      file=path)


def check_image_files(paths: Sequence[Path], items_path: Path | None) -> ImageCheck:
    """Check the local, existing image files of one series (see the module docstring)."""
    first = paths[0]
    own = next((p for p in paths if items_path is not None and _same(p, items_path)), None)
    if own is not None:
        return _fault(own, "is the items list itself.", "Give the series' image file(s) as its "
                      "`items`.")
    mime = FILE_TYPES.get(file_extension(first.name))
    if mime in _TEXT_TYPES:
        return _fault(first, f"is a text file ({mime}), not an image.", "Give the series' image "
                      "file(s) (NIfTI, NRRD or DICOM) as its `items`.")
    fmt = volume_format(first)
    if fmt is Format.DICOM and mime not in (None, _DICOM_TYPE):  # a 2-D picture or a video
        return ImageCheck(None, note=f"{first.name} is a 2-D image or video ({mime}); its "
                          "geometry was not compared with the masks.", file=first)
    return _dicom(paths) if fmt is Format.DICOM else _volume(first, fmt)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _grid(paths: Sequence[Path]) -> ImageCheck:
    """The image's grid (headers only), or why there is none."""
    try:
        grid = image_grid(list(paths))
    except VolumeReadError as exc:
        if volume_format(paths[0]) is Format.DICOM:  # several series, no geometry: a note
            return ImageCheck(None, note=f"{exc.message} The masks' geometry was not compared "
                              "with the image.", file=paths[0])
        return ImageCheck(None, fault=f"{exc.message} RedBrick cannot show this image. Export "
                          "or copy it again.", file=paths[0])
    bad = geometry_fault(grid)
    if bad is None:
        return ImageCheck(grid)
    if "NaN" in bad:
        return _fault(paths[0], f"has a header whose affine {bad}, so the image cannot be "
                      "placed in space.", "Save the image again from the program that made it.")
    return ImageCheck(None, note=f"The image header of {paths[0].name} gives no usable geometry "
                      f"({bad}), so the masks were not compared with it.", file=paths[0])


def geometry_fault(grid: Grid) -> str | None:
    """Why an affine places no volume (NaN or infinite values, a zero voxel size), or None."""
    if not np.all(np.isfinite(grid.affine)):
        return "holds NaN or infinite values"
    det = float(np.linalg.det(grid.affine[:3, :3]))
    return "a zero voxel size" if abs(det) < 1e-12 else None


def _volume(path: Path, fmt: Format) -> ImageCheck:
    if fmt is Format.NRRD:
        try:
            header = nrrd_info(path).header
        except VolumeReadError:
            header = {}  # the grid's reading says what is wrong
        encoding = str(header.get("encoding", "raw")).lower()
        if encoding not in NRRD_ENCODINGS:
            return _fault(path, f"uses the NRRD encoding {encoding!r}, which no reader decodes "
                          "(NRRD's are raw, gzip, bzip2 and text).", "Save it again as .nrrd with "
                          "gzip encoding, or as NIfTI (.nii.gz).")
        if _broken_directions(header.get("space directions")):
            return _fault(path, "has `space directions` holding NaN or infinite values, so the "
                          "image cannot be placed in space.", "Save it again from Slicer or ITK.")
    return _grid([path])


def _broken_directions(directions: object) -> bool:
    """True for an axis vector partly NaN or infinite (a whole-NaN row is NRRD's ``none``:
    an axis that is not spatial)."""
    if directions is None:
        return False
    try:
        rows = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    except (TypeError, ValueError):
        return True
    finite = np.isfinite(rows)
    return bool(np.any(np.isinf(rows)) or np.any(finite.any(axis=1) & ~finite.all(axis=1)))


def _dicom(paths: Sequence[Path]) -> ImageCheck:
    found = run(scan_dicom(list(paths)))
    by_file = {os.path.realpath(f): s for s in found for f in s.files}
    images = [s for s in found if s.kind in (ObjectKind.IMAGE, ObjectKind.LOCALIZER)]
    for p in paths:
        series = by_file.get(os.path.realpath(p))
        if series is None:  # no DICOM, or a file the scan left out of its image
            why = _not_dicom(p) or _pixel_problem(p)
            if why is not None:
                return why
        elif series.kind not in (ObjectKind.IMAGE, ObjectKind.LOCALIZER):
            return _object_fault(p, series, bool(images))
    for s in images:
        problem = _pixel_problem(s.files[0])
        if problem is not None:
            return problem
    return _grid(paths)


def _object_fault(path: Path, series: DicomSeries, among_images: bool) -> ImageCheck:
    if not series.uid:  # files the scan could not read as DICOM
        what = f"is an unreadable DICOM file ({'; '.join(series.warnings[:1]) or 'broken'})."
    else:
        words = _OBJECTS.get(series.kind) or _MODALITIES.get(series.modality.upper()) or \
            f"a DICOM {series.modality or 'object'} with no image"
        what = f"is {words}" + (", among the slices of the image." if among_images else ".")
    return _fault(path, what, "List only the files of the image series (CT, MR, ...) as the "
                  "series' `items`.")


def _pixel_problem(path: Path) -> ImageCheck | None:
    """A DICOM file without pixel data, or with fewer bytes of it than its header needs.

    Values over 256 bytes are not read (``defer_size``): the pixel data's length and
    where it starts are enough to compare with the file's size."""
    try:
        ds = pydicom.dcmread(path, defer_size=256)
        elem = next((ds.get_item(t, keep_deferred=True) for t in _PIXEL_TAGS if t in ds), None)
        if elem is None:
            return _fault(path, "holds no pixel data: it is a DICOM header without an image.",
                          "Export the series again with its images.")
        length, start = getattr(elem, "length", None), getattr(elem, "value_tell", None)
        if length is None or start is None or length == 0xFFFFFFFF:  # compressed frames
            return None
        frames = int(ds.get("NumberOfFrames") or 1)
        bits = int(ds.get("BitsAllocated") or 0)
        need = (int(ds.get("Rows") or 0) * int(ds.get("Columns") or 0) * frames
                * int(ds.get("SamplesPerPixel") or 1) * bits + 7) // 8
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, EOFError,
            KeyError):
        return None  # the scan judges files pydicom cannot parse
    held = min(length, os.path.getsize(path) - start)
    if held < max(length, need):
        return _fault(path, f"has its pixel data truncated ({max(held, 0):,} of "
                      f"{max(length, need):,} bytes): the file was not copied or exported "
                      "completely.", "Copy or export the file again.")
    return None


def _not_dicom(path: Path) -> ImageCheck | None:
    """What a file named as DICOM is when it is not DICOM; None when it is DICOM (the
    ``DICM`` marker, gzip-wrapped or not) or cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
        gzipped = head[:2] == GZIP_MAGIC
        if gzipped:
            with gzip.open(path, "rb") as gz:
                head = gz.read(512)
    except (OSError, EOFError, zlib.error):
        return None
    if head[128:132] == b"DICM":
        return None
    if len(head) >= 348 and (head[344:347] in (b"n+1", b"ni1")
                             or head[4:7] in (b"n+2", b"ni2")):
        return _fault(path, "is a NIfTI image, not DICOM, but is named as DICOM.",
                      f"Rename it to {path.stem}{'.nii.gz' if gzipped else '.nii'} (or save it "
                      "as .nii.gz).")
    if head.startswith(b"NRRD"):
        return _fault(path, "is an NRRD volume, not DICOM, but is named as DICOM.",
                      f"Rename it to {path.stem}.nrrd.")
    if head.lstrip()[:1] in (b"[", b"{"):
        return _fault(path, "is JSON text, not DICOM.", "Give the series' image file(s) as its "
                      "`items`.")
    return _fault(path, "is not a DICOM file (no DICOM header in it).", "Give the series' image "
                  "file(s) as its `items`: DICOM, NIfTI or NRRD.")
