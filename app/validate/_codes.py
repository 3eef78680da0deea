"""Finding codes: each code once, with its severity and what it means.

The table in ``app.validate``'s docstring documents the same codes; a test keeps the
two in sync. Severities are ordered: errors first.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self, cast


class Severity(StrEnum):
    """How bad a finding is. Errors make an upload fail or store wrong labels; warnings
    store something the user may not expect; info says what could not be checked."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for info (the order findings are shown in)."""
        return _RANKS[self]


_RANKS = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Code(StrEnum):
    """A stable finding code, its severity and its meaning."""

    severity: Severity
    meaning: str

    def __new__(cls, value: str, severity: Severity, meaning: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.severity = severity
        member.meaning = meaning
        return member

    @classmethod
    def of(cls, text: str) -> Code:
        """The code written ``text`` (ValueError for an unknown one)."""
        try:
            return cast(Code, cls._value2member_map_[text])
        except KeyError:
            raise ValueError(f"{text!r} is not a finding code") from None


    FORMAT = "format", Severity.ERROR, "a field of the items list has the wrong type or shape"
    NO_TASKS = "no-tasks", Severity.ERROR, "the items list holds no tasks"
    TASK_NAME_MISSING = (
        "task-name-missing", Severity.WARNING,
        "a task has no name; RedBrick names it after its first image path")
    TASK_NAME_DUPLICATE = (
        "task-name-duplicate", Severity.ERROR,
        "two tasks share a name; RedBrick skips the second")
    TASK_NO_SERIES = "task-no-series", Severity.ERROR, "a task lists no series"
    PRIORITY_RANGE = "priority-range", Severity.ERROR, "`priority` is not a number from 0 to 1"
    METADATA_VALUE = (
        "metadata-value", Severity.ERROR,
        "task `metaData` is not an object of text values")
    PREASSIGN_INVALID = (
        "preassign-invalid", Severity.ERROR,
        "`preAssign` is not {stage: email or [emails]}")
    PREASSIGN_STAGE = (
        "preassign-stage", Severity.ERROR,
        "`preAssign` names a stage the project does not have")
    PREASSIGN_EMAIL = (
        "preassign-email", Severity.ERROR,
        "a `preAssign` value is not an email address")
    CLASSIFICATION_UNKNOWN = (
        "classification-unknown", Severity.WARNING,
        "a study classification attribute not in the taxonomy's studyClassify")
    ATTRIBUTE_NUMBER = (
        "attribute-number", Severity.ERROR,
        "a NUMBER attribute's value is not a number, or outside its min..max")
    ATTRIBUTE_OPTION = (
        "attribute-option", Severity.ERROR,
        "a SELECT / MULTISELECT attribute's value is not among its options")
    ATTRIBUTE_TYPE = (
        "attribute-type", Severity.ERROR,
        "an attribute's value has the wrong type (BOOL, TEXT, SELECT, MULTISELECT)")
    TASK_SEGMENT_MAP_FLAG = (
        "task-segment-map-flag", Severity.ERROR,
        "a task-level segmentMap holds a mask flag: nothing is uploaded")
    SERIES_NAME_DUPLICATE = (
        "series-name-duplicate", Severity.WARNING,
        "two series of a task share a name (exports are named after it)")
    ITEMS_MISSING = "items-missing", Severity.ERROR, "a series lists no image items"
    IMAGE_MISSING = "image-missing", Severity.ERROR, "an image file does not exist"
    IMAGE_TYPE_UNSUPPORTED = (
        "image-type-unsupported", Severity.ERROR,
        "RedBrick refuses to upload an image with that file extension")
    IMAGE_DCM_NAME = (
        "image-dcm-name", Severity.WARNING,
        "DICOM named without .dcm: RedBrick's CLI refuses it (Segmap renames)")
    IMAGE_UNREADABLE = (
        "image-unreadable", Severity.ERROR,
        "an image RedBrick cannot show (unreadable, broken header, no image)")
    GRID_NOT_CHECKED = (
        "grid-not-checked", Severity.INFO,
        "the image's geometry could not be read (type not supported, remote)")
    REMOTE_FILE = "remote-file", Severity.INFO, "a path is a URL or storage key; it is not checked"
    FILE_MISSING = "file-missing", Severity.ERROR, "a segmentation or mask file does not exist"
    FILE_UNREADABLE = (
        "file-unreadable", Severity.ERROR,
        "a file cannot be read (permissions, a folder where a file is expected)")
    FILE_CORRUPT = (
        "file-corrupt", Severity.ERROR,
        "corrupt or truncated gzip, or voxel data cut short")
    NOT_NIFTI = "not-nifti", Severity.ERROR, "a segmentation is not a NIfTI file (.nii / .nii.gz)"
    DICOM_SEG_REFUSED = (
        "dicom-seg-refused", Severity.ERROR,
        "a DICOM SEG RedBrick's SDK refuses to convert (label map, fractional, overlaps, ...)")
    MASK_HEADER_BROKEN = (
        "mask-header-broken", Severity.ERROR,
        "a mask's header contradicts itself or its file (dims, size, offset, affine)")
    GZIP_NAME_MISMATCH = (
        "gzip-name-mismatch", Severity.ERROR,
        ".nii.gz not compressed, or .nii compressed: RedBrick cannot open it")
    SEGMENTATIONS_DIRECTORY = (
        "segmentations-directory", Severity.WARNING,
        "`segmentations` names a folder: merged in no defined order")
    MASK_DIMENSIONS = "mask-dimensions", Severity.ERROR, "a mask is 2-D or 4-D; RedBrick needs 3-D"
    VALUES_NON_INTEGER = (
        "values-non-integer", Severity.WARNING,
        "fractional values; RedBrick rounds them (half to even)")
    VALUES_NEGATIVE = (
        "values-negative", Severity.ERROR,
        "negative values; RedBrick wraps them to 65536 - n")
    VALUES_OVER_65535 = (
        "values-over-65535", Severity.ERROR,
        "values above 65535; RedBrick wraps them modulo 65536")
    MASK_SCALED = (
        "mask-scaled", Severity.ERROR,
        "scl_slope/scl_inter make a uint8/uint16 mask fractional: merge fails")
    VALUES_NON_FINITE = "values-non-finite", Severity.ERROR, "NaN or infinite values"
    EMPTY_MASK = "empty-mask", Severity.WARNING, "a mask file holds no labelled voxel"
    UNCOMPRESSED_UPLOAD = (
        "uncompressed-upload", Severity.WARNING,
        "a single uint8 .nii is uploaded as is, under a .nii.gz name")
    GRID_REORIENTED = (
        "grid-reoriented", Severity.WARNING,
        "same voxels as the image, axes stored differently")
    GRID_CROP = "grid-crop", Severity.ERROR, "the mask covers only part of the image's grid"
    GRID_SHIFTED = (
        "grid-shifted", Severity.ERROR,
        "the image's grid moved by whole voxels: the mask's origin differs")
    GRID_TRANSPOSED = (
        "grid-transposed", Severity.ERROR,
        "the mask's array axes are permuted but its affine is the image's")
    GRID_FLIPPED = (
        "grid-flipped", Severity.ERROR,
        "the mask's affine reverses an axis without moving its origin")
    GRID_RESOLUTION = (
        "grid-resolution", Severity.ERROR,
        "the mask has another voxel size than the image")
    GRID_MISMATCH = (
        "grid-mismatch", Severity.ERROR,
        "the mask does not line up with the image in world space")
    FILES_MISALIGNED = (
        "files-misaligned", Severity.ERROR,
        "segmentation files of one series are on different grids")
    NO_SEGMENTATIONS = "no-segmentations", Severity.ERROR, "a segmentMap but no segmentation files"
    MAPPED_VALUE_ABSENT = "mapped-value-absent", Severity.ERROR, "a segmentMap id occurs in no file"
    UNMAPPED_VALUE = (
        "unmapped-value", Severity.WARNING,
        "a value in the files has no segmentMap entry: uneditable, view-only")
    INSTANCE_ZERO = (
        "instance-zero", Severity.WARNING,
        "segmentMap id 0: RedBrick ignores it (0 is background)")
    SEGMENT_MAP_KEY = (
        "segment-map-key", Severity.ERROR,
        "a segmentMap key that is no plain number (\"01\", \"1_0\")")
    ID_OUT_OF_RANGE = "id-out-of-range", Severity.ERROR, "an instance or group id outside 1..65535"
    GROUP_ID_COLLISION = (
        "group-id-collision", Severity.ERROR,
        "an overlappingGroups id is also a segmentMap id")
    CATEGORY_NONE = "category-none", Severity.ERROR, "a segmentMap entry has no category"
    CATEGORY_MISSING = "category-missing", Severity.ERROR, "the category is not in the taxonomy"
    CATEGORY_ARCHIVED = (
        "category-archived", Severity.ERROR,
        "the category is archived in the taxonomy")
    CATEGORY_NOT_SEGMENTATION = (
        "category-not-segmentation", Severity.ERROR,
        "the category is not a SEGMENTATION category")
    CATEGORY_AMBIGUOUS = (
        "category-ambiguous", Severity.WARNING,
        "the category matches several taxonomy entries")
    ATTRIBUTE_UNKNOWN = (
        "attribute-unknown", Severity.WARNING,
        "an attribute the category does not define")
    TAXONOMY_NOT_CHECKED = (
        "taxonomy-not-checked", Severity.INFO,
        "no taxonomy given: categories were not checked")
    PNG_WITHOUT_BINARY = "png-without-binary", Severity.ERROR, "pngMask without binaryMask"
    BINARY_FLAG_MISSING = (
        "binary-flag-missing", Severity.ERROR,
        "entries name separate `mask` files but binaryMask is not set")
    BINARY_NO_MASK = (
        "binary-no-mask", Severity.ERROR,
        "binaryMask mode, an entry names no `mask` file")
    MASK_LIST = (
        "mask-list", Severity.ERROR,
        "`mask` lists several files (an MHD pair) that must be converted first")
    MASK_SHARED = "mask-shared", Severity.ERROR, "one mask file used by two segmentMap entries"
    MASK_NOT_LISTED = (
        "mask-not-listed", Severity.ERROR,
        "a `mask` matches no `segmentations` entry as RedBrick compares paths")
    MASK_UNREFERENCED = (
        "mask-unreferenced", Severity.WARNING,
        "binaryMask: a file no `mask` names (first leaks, rest ignored)")
    MASK_NOT_BINARY = (
        "mask-not-binary", Severity.WARNING,
        "binaryMask mode, a file with several values; all become one label")
    OVERLAP = (
        "overlap", Severity.WARNING,
        "labels overlap; RedBrick stores the shared voxels as an overlap group")
    MERGE_FAILED = "merge-failed", Severity.ERROR, "RedBrick's merge fails on this series"
    UINT8_IDS_OVER_255 = (
        "uint8-ids-over-255", Severity.WARNING,
        "uint8 first file, ids above 255: RedBrick's SDK distorts labels")
    SUGGESTION_UNREVIEWED = (
        "suggestion-unreviewed", Severity.WARNING,
        "(wizard) mappings suggested by Segmap that nobody reviewed")
    MASK_CONVERTED = (
        "mask-converted", Severity.INFO,
        "an NRRD mask: export and upload write it as NIfTI, which RedBrick reads")
    DICOM_SEG = (
        "dicom-seg", Severity.INFO,
        "a DICOM SEG mask: RedBrick's CLI needs --dicom-seg; Segmap converts it as the SDK does")
    DICOM_SEG_BINARY = (
        "dicom-seg-binary", Severity.ERROR,
        "binaryMask with a DICOM SEG: RedBrick's conversion keeps segment numbers, not masks")
    DICOM_SEG_MIXED = (
        "dicom-seg-mixed", Severity.WARNING,
        "DICOM SEG and NIfTI/NRRD masks in one list: RedBrick's CLI cannot upload it in one run")
    RTSTRUCT = (
        "rtstruct", Severity.INFO,
        "an RT Structure Set: RedBrick's CLI needs --rt-struct; Segmap fills it as the SDK does")
    RTSTRUCT_UNREADABLE = (
        "rtstruct-unreadable", Severity.ERROR,
        "an RTSTRUCT series that cannot be filled (no local images, several files, mixed keys)")
    RTSTRUCT_REFUSED = (
        "rtstruct-refused", Severity.ERROR,
        "an RT Structure Set RedBrick's SDK refuses, or stores wrongly (images missing, "
        "not square)")
    RTSTRUCT_BINARY = (
        "rtstruct-binary", Severity.ERROR,
        "binaryMask with an RT Structure Set: the SDK fills one label map")
    RTSTRUCT_ROI_ABSENT = (
        "rtstruct-roi-absent", Severity.ERROR,
        "a segmentMap ROI name no ROI of the structure set has: the SDK drops it")
    RTSTRUCT_ROI_UNMAPPED = (
        "rtstruct-roi-unmapped", Severity.WARNING,
        "an ROI the segmentMap does not name: RedBrick's SDK leaves it out entirely")
    RTSTRUCT_OVERLAP = (
        "rtstruct-overlap", Severity.WARNING,
        "overlapping ROIs: in RedBrick's single label map the later one wins")
    RTSTRUCT_CONTOURS = (
        "rtstruct-contours", Severity.WARNING,
        "what filling the contours found (outside the image, open lines, other frame)")
    RTSTRUCT_MIXED = (
        "rtstruct-mixed", Severity.WARNING,
        "RT Structure Sets and other masks in one list: RedBrick's CLI cannot upload it in "
        "one run")
