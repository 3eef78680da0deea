"""RedBrick's own rules about an items list, each stated once.

What redbrick-sdk 2.35.4 does with the paths, names, file types and label ids of
an items list (reference redbrick.md §2, §3.1, §3.4, §9). Validation, the merge,
export and upload all ask these functions; none of them repeats a rule.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum

from app.errors import InputError
from app.readers import Format, volume_format

MAX_ID = 65535  # labels are stored as uint16: ids and overlap groups are 1..65535
BACKGROUND = 0  # value 0 is background: RedBrick ignores segmentMap id 0

# A segmentMap key as every reader takes it for the same id: ASCII digits, no sign but
# a minus, no leading zero, no space, no digit separator.
_PLAIN_KEY = re.compile(r"-?(0|[1-9][0-9]*)")


class ImportShape(StrEnum):
    """RedBrick's three ways to import segmentations (redbrick.md §2.4)."""

    LABEL_MAP = "I"  # one multi-label file; segmentMap maps its values to categories
    LABEL_MAPS = "II"  # several multi-label files sharing one value -> category map
    BINARY_MASKS = "III"  # one binary mask per category: binaryMask, a `mask` per entry

    @property
    def binary(self) -> bool:
        """True for shape III."""
        return self is ImportShape.BINARY_MASKS

    @classmethod
    def of(cls, binary: bool, files: int) -> ImportShape:
        """The shape of a series with ``files`` segmentation files."""
        if binary:
            return cls.BINARY_MASKS
        return cls.LABEL_MAP if files <= 1 else cls.LABEL_MAPS


def instance_id(key: str) -> int | None:
    """The instance id a segmentMap key names, when every reader reads it the same way.

    RedBrick's server reads the keys as written and its SDK through Python's ``int()``,
    which also takes ``"01"``, ``" 1"``, ``"+1"``, ``"1_0"`` (ten: ``_`` separates digits)
    and non-ASCII digits (``"\uff11"``); what the server makes of those is not known, so
    only plain numbers (``"1"``, ``"-3"``) are ids. None for any other key.
    """
    return int(key) if _PLAIN_KEY.fullmatch(key) else None


def sdk_instance_id(key: str) -> int | None:
    """The id RedBrick's SDK reads from a segmentMap key (Python's ``int()``), or None when
    it cannot read one; differs from ``instance_id`` for keys like ``"01"`` or ``"1_0"``."""
    try:
        return int(key)
    except ValueError:
        return None


# -- paths -----------------------------------------------------------------------------


def is_remote(path: str) -> bool:
    """True for URLs and cloud storage keys, which are not local files."""
    return "://" in path[:16] or path.startswith(("s3:", "gs:", "az:"))


def sdk_path(path: str, base_dir: str | os.PathLike[str]) -> str:
    """A path as the RedBrick CLI rewrites it before using it (``prepare_json_files``).

    A relative path that exists under the items list's folder becomes absolute and
    normalised; any other path is left as written (RedBrick then treats it as a key
    in its label storage, and a local file that is not there fails the task).
    """
    joined = os.path.join(base_dir, path)
    if os.path.isabs(path) or not os.path.exists(joined):
        return path
    return os.path.abspath(joined)


# -- file types ------------------------------------------------------------------------

# MIME type by extension, as the SDK's redbrick.utils.files.get_file_type ("" is DICOM).
FILE_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "bmp": "image/bmp",
    "dcm": "application/dicom", "mp4": "video/mp4", "avi": "video/x-msvideo",
    "": "application/dicom", "ima": "application/dicom", "dicom": "application/dicom",
    "json": "application/json", "nii": "application/octet-stream",
    "nrrd": "application/octet-stream", "txt": "text/plain", "html": "text/html",
}
NIFTI_TYPE = "application/octet-stream"
# Items with these extensions go up through the items-list-file path (not supported).
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi")


def file_extension(path: str) -> str:
    """The extension RedBrick's SDK judges a file by: ``scan.nii.gz`` -> ``nii``."""
    stem, ext = os.path.splitext(path.lower())
    if ext == ".gz":
        _, ext = os.path.splitext(stem)
    return ext.lstrip(".")


def uploadable(path: str) -> bool:
    """True when RedBrick's SDK uploads a file of this type."""
    return file_extension(path) in FILE_TYPES


def file_type(path: str) -> str:
    """The MIME type RedBrick expects for a file; InputError for a type it refuses."""
    ext = file_extension(path)
    if ext not in FILE_TYPES:
        raise InputError(
            f"{path}: RedBrick does not accept .{ext} files (SDK: Unsupported file type {ext}!).",
            "Convert it to NIfTI (.nii.gz) or DICOM first.")
    return FILE_TYPES[ext]


# -- masks -----------------------------------------------------------------------------


def mask_accepted(path: str | os.PathLike[str]) -> bool:
    """True when RedBrick's merge can read the file: it loads masks with nibabel, by name,
    and refuses anything but NIfTI-1/2 ('Invalid mask type')."""
    return volume_format(path) is Format.NIFTI


def mask_converted(path: str | os.PathLike[str]) -> bool:
    """True for masks RedBrick refuses but Segmap converts to NIfTI when it exports or
    uploads (NRRD, Slicer's format); the merge reads them as that NIfTI."""
    return volume_format(path) is Format.NRRD


# -- what Segmap writes beside a list it writes, so RedBrick takes the list as it is ------

CONVERTED_FOLDER = "nifti-masks"  # NRRD masks written as NIfTI (mask_converted)
RENAMED_FOLDER = "dicom-renamed"  # DICOM files under .dcm names (RedBrick refuses others)
OUTSIDE_FOLDER = "_outside"  # in those, a folder per source folder outside the list's


def gzip_name_fault(path: str | os.PathLike[str], gzipped: bool) -> tuple[str, str] | None:
    """Why RedBrick cannot open a NIfTI whose name and content disagree about gzip, as
    (what is wrong, the SDK's own message), or None when they agree.

    The SDK's nibabel picks gzip or not from the name, not the content: a plain file named
    .nii.gz fails ('is not a gzip file'), a gzip file named .nii too ('Cannot work out
    file type'). Segmap reads either; validation, merge, stats and upload say this alike.
    """
    name = os.fspath(path)
    if gzipped == name.lower().endswith(".gz"):
        return None
    if not gzipped:
        return "is named .nii.gz but is not gzip-compressed", f"File {name} is not a gzip file"
    return "is gzip-compressed but named .nii", f'Cannot work out file type of "{name}"'
