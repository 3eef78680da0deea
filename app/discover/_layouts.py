"""Dataset layouts: what a file name says about a file, and which image a mask belongs to.

Real datasets pair masks with images by convention (anchors.md §12): twin folders
(``imagesTr``/``labelsTr``), nnU-Net channel suffixes (``case_0000``), modality and
mask suffixes (``_t1ce``, ``_seg``), case folders (``case_00000/imaging.nii.gz`` +
``segmentation.nii.gz``), structure folders (``s0001/ct.nii.gz`` +
``segmentations/liver.nii.gz``). This module reads those conventions from names
and folders only; :mod:`app.discover._pairing` uses them and confirms each pairing by geometry.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.readers import split_suffix


class Layout(StrEnum):
    """The dataset layouts Segmap recognises (a case's ``layout``)."""

    NNUNET = "nnU-Net"
    MSD = "MSD"
    TOTALSEG = "TotalSegmentator"
    BRATS = "BraTS"
    KITS = "KiTS"
    DICOM_FOLDER = "DICOM folder"
    GENERIC = "generic"


# Tokens that mark a mask file (anchors.md §12, suffix grammar).
MASK_TOKENS = frozenset({
    "seg", "segs", "segmentation", "segmentations", "mask", "masks", "label", "labels",
    "labelmap", "gt", "groundtruth", "annotation", "annotations", "roi", "dseg", "aseg",
})
# Tokens that mark an image: modalities, BraTS channels, generic image words.
IMAGE_TOKENS = frozenset({
    "ct", "mr", "mri", "pet", "pt", "cta", "cbct", "t1", "t1ce", "t1c", "t1n", "t1gd", "t2",
    "t2w", "t2f", "flair", "dwi", "adc", "imaging", "image", "img", "volume", "vol", "scan",
})
# Status tokens that say nothing about the structure (``liver_mask_final``).
STATUS_TOKENS = frozenset({"pred", "prediction", "final", "manual", "auto", "m", "fast"})
# Folder names: images on one side, masks on the other (twin folders).
IMAGE_FOLDERS = frozenset({
    "imagestr", "imagests", "imagesva", "images", "image", "img", "imaging", "studies",
    "volumes", "scans",
})
MASK_FOLDERS = frozenset({
    "labelstr", "labelsts", "labelsva", "labels", "label", "masks", "mask", "segmentations",
    "segmentation", "seg", "segs", "gt", "annotations", "final", "original",
})
# Preferred order of the images of a multi-channel case (the first gets the masks).
CHANNEL_ORDER = ("ct", "t1ce", "t1c", "t1gd", "t1", "t1n", "t2", "t2w", "flair", "t2f")

_CHANNEL = re.compile(r"_(\d{4})$")
_SPLIT = re.compile(r"[\s_.\-]+")


def name_tokens(text: str) -> list[str]:
    """Lower-case tokens of a file or folder name, split on ``_ - . space``."""
    return list(_tokens_of(text))


# The names of a scan repeat (117 structure names in every case, one folder name for
# every file in it), and pairing asks about each several times: the answers about a
# name are remembered. Bounded, so a long session's scans do not pile them up.
_NAMES_REMEMBERED = 1 << 16


@functools.lru_cache(maxsize=_NAMES_REMEMBERED)
def _tokens_of(text: str) -> tuple[str, ...]:
    return tuple(t for t in _SPLIT.split(text.lower()) if t)


@functools.lru_cache(maxsize=_NAMES_REMEMBERED)
def below(path: Path, root: Path) -> bool:
    """True when ``root`` is a strict ancestor of ``path`` (``root in path.parents``,
    remembered: pairing walks the same folders up to the root for every mask)."""
    return root in path.parents


@dataclass(frozen=True)
class ParsedName:
    """What a volume file's name says."""

    stem: str  # the name without its extension(s)
    tokens: tuple[str, ...]  # lower-case tokens of the stem (channel suffix removed)
    channel: int | None  # nnU-Net channel (``_0000``)
    modality: str | None  # the first modality token (``t1ce``), if any
    mask_token: str | None  # the first mask token (``seg``), if any
    key: str  # the case key: tokens minus modality, mask and status tokens

    @property
    def generic(self) -> bool:
        """True when the name holds nothing but modality / mask words (``ct``, ``imaging``)."""
        return not self.key


def parse_name(path: Path) -> ParsedName:
    """Parse a volume file name (see anchors.md §12 "Pairing heuristics")."""
    return _parse_file_name(path.name)


@functools.lru_cache(maxsize=_NAMES_REMEMBERED)
def _parse_file_name(name: str) -> ParsedName:
    stem, _ = split_suffix(name)
    channel = None
    m = _CHANNEL.search(stem)
    if m:
        channel = int(m.group(1))
        base = stem[: m.start()]
    else:
        base = stem
    tokens = tuple(name_tokens(base))
    modality = next((t for t in tokens if t in IMAGE_TOKENS), None)
    mask_token = next((t for t in tokens if t in MASK_TOKENS), None)
    key_tokens = [t for t in _drop_instance_tokens(tokens)
                  if t not in IMAGE_TOKENS and t not in MASK_TOKENS and t not in STATUS_TOKENS]
    return ParsedName(stem, tokens, channel, modality, mask_token, "_".join(key_tokens))


def _drop_instance_tokens(tokens: tuple[str, ...]) -> list[str]:
    # KiTS grammar: ``kidney_instance-1_annotation-2`` -> ``kidney``.
    out: list[str] = []
    skip = False
    for t in tokens:
        if skip and t.isdigit():
            skip = False
            continue
        skip = t in ("instance", "annotation")
        if not skip:
            out.append(t)
    return out


def folder_kind(folder: Path, mixed: Collection[Path] = ()) -> str | None:
    """``"image"`` or ``"mask"`` when a folder's name says what it holds.

    ``mixed`` are mask-named folders that hold images (:func:`mixed_folders`): their
    name says nothing.
    """
    if folder in mixed:
        return None
    return _named_kind(folder.name)


@functools.lru_cache(maxsize=_NAMES_REMEMBERED)
def _named_kind(folder_name: str) -> str | None:
    name = folder_name.lower()
    if name in MASK_FOLDERS:
        return "mask"
    if name in IMAGE_FOLDERS:
        return "image"
    tokens = set(name_tokens(name))
    if tokens & MASK_TOKENS:
        return "mask"
    return None


def mixed_folders(root: Path, image_folders: Iterable[Path]) -> frozenset[Path]:
    """The mask-named folders below ``root`` that hold images: data folders, not mask folders.

    dcmqi keeps its CT series (``segmentations/ct-3slice/*.dcm``) and its label maps
    (``segmentations/liver_seg.nrrd``) in one folder called ``segmentations``. Read as a
    mask folder, its images would be masks and its masks would look for images above
    it: opening the folder itself or one of its parents would pair differently.
    ``image_folders`` are the folders holding a DICOM image series, or a volume that its
    own name or folder calls an image.
    """
    out: set[Path] = set()
    for folder in image_folders:
        p = folder
        while p != root and below(p, root):
            if folder_kind(p) == "mask":
                out.add(p)
            p = p.parent
    return frozenset(out)


def names_image(path: Path) -> bool:
    """True when a volume's own folder or name calls it an image (``images/``, ``_0000``,
    ``ct``), and its folder does not call it a mask (``labelsTr/ct_001.nii.gz``)."""
    kind = folder_kind(path.parent)
    if kind is not None:
        return kind == "image"
    parsed = parse_name(path)
    return parsed.mask_token is None and (parsed.channel is not None
                                          or parsed.modality is not None)


def role_hint(path: Path, root: Path, mixed: Collection[Path] = ()) -> tuple[str | None, str]:
    """Whether a volume is an image or a mask by its name and folder, with the reason.

    Returns ``(None, "")`` when neither says; the caller then looks at the header.
    Folders in ``mixed`` (:func:`mixed_folders`) say nothing.
    """
    parsed = parse_name(path)
    if parsed.channel is not None and folder_kind(path.parent, mixed) != "mask":
        return "image", f"nnU-Net channel suffix _{parsed.channel:04d}"
    # The nearest two folders below the scanned root (the root's own name is the
    # user's choice, not a convention: "my_masks/" may hold images too).
    folders = [p for p in (path.parent, path.parent.parent) if below(p, root)]
    for folder in folders[:1]:
        kind = folder_kind(folder, mixed)
        if kind:
            return kind, f"in folder {folder.name}/"
    if parsed.mask_token:
        return "mask", f"'{parsed.mask_token}' in the name"
    if parsed.modality:
        return "image", f"'{parsed.modality}' in the name"
    for folder in folders[1:]:
        kind = folder_kind(folder, mixed)
        if kind == "mask":  # case/segmentations/sub/x.nii.gz
            return kind, f"in folder {folder.name}/"
    return None, ""


def structure_name(path: Path, case_key: str = "") -> str:
    """The structure a binary mask's file name names (``kidney_left``), or ``""``.

    Drops the case id (``case001_liver_mask`` -> ``liver``), mask, modality and
    status tokens, and KiTS instance / annotation numbers.
    """
    return _structure_of(path.name, case_key)


@functools.lru_cache(maxsize=_NAMES_REMEMBERED)
def _structure_of(file_name: str, case_key: str) -> str:
    parsed = _parse_file_name(file_name)
    tokens = [t for t in _drop_instance_tokens(parsed.tokens)
              if t not in MASK_TOKENS and t not in STATUS_TOKENS]
    case = name_tokens(case_key)
    if case and tokens[: len(case)] == case:
        tokens = tokens[len(case):]
    # Keep the original spelling (``vertebrae_L3``): map tokens back onto the stem.
    words = [w for w in _SPLIT.split(parsed.stem if parsed.channel is None
                                     else parsed.stem[:-5]) if w]
    kept, i = [], 0
    for w in words:
        if i < len(tokens) and w.lower() == tokens[i]:
            kept.append(w)
            i += 1
    return "_".join(kept) if i == len(tokens) else "_".join(tokens)


# Folder names that say "DICOM files here", not which case: ``case_12/DICOM/``.
GENERIC_SERIES_FOLDERS = frozenset({
    "dicom", "dicoms", "dcm", "dicom_files", "images", "image", "img", "imaging", "series",
    "data", "scans", "ct", "mr", "mri", "pet",
})


def generic_series_folder(folder: Path, mixed: Collection[Path] = ()) -> bool:
    """True for a folder whose name says it holds images but not whose (``DICOM/``,
    ``images/``, ``IMG/``)."""
    return folder_kind(folder, mixed) == "image" or \
        "_".join(name_tokens(folder.name)) in GENERIC_SERIES_FOLDERS


def series_case_name(folder: Path, root: Path, mixed: Collection[Path] = (),
                     patient: str = "", description: str = "") -> str:
    """A case name for a DICOM series in ``folder``: the folder's name, or for a generic
    folder (``case_12/DICOM/``) the case folder above it; failing that (a generic folder
    up to the scanned folder, whose name is generic too), the patient, then the series'
    description. A series in the scanned folder itself is named by its description."""
    if folder == root:
        return description or patient or "series"
    named = folder
    while named != root and below(named, root) and generic_series_folder(named, mixed):
        named = named.parent
    if named == root and generic_series_folder(root):
        person = "_".join(w for w in re.split(r"[\^\s]+", patient) if w)  # Doe^John
        return person or description or folder.name
    return named.name


def case_name_of(path: Path, root: Path, mixed: Collection[Path] = ()) -> str:
    """A case name for an image file: its stem without channel / modality suffix.

    Generic names (``ct.nii.gz``, ``imaging.nii.gz``) take their folder's name
    (``s0001``, ``case_00000``).
    """
    parsed = parse_name(path)
    if parsed.generic:
        folder = path.parent
        while folder_kind(folder, mixed) and folder != root and folder.parent != folder:
            folder = folder.parent
        return folder.name or parsed.stem
    stem = parsed.stem if parsed.channel is None else parsed.stem[:-5]
    words = [w for w in re.split(r"([\s_.\-]+)", stem)]
    # Drop a trailing modality token and its separator (BraTS2021_00000_t1 -> BraTS2021_00000).
    if len(words) >= 3 and words[-1].lower() in IMAGE_TOKENS:
        words = words[:-2]
    return "".join(words).rstrip("_-. ") or stem


def channel_rank(path: Path) -> tuple[int, int, str]:
    """Sort key of the images of one case: channel 0 / CT / T1ce first."""
    parsed = parse_name(path)
    if parsed.channel is not None:
        return (0, parsed.channel, path.name)
    mod = parsed.modality
    return (1, CHANNEL_ORDER.index(mod) if mod in CHANNEL_ORDER else len(CHANNEL_ORDER), path.name)


def twin_folders(mask_folder: Path, image_folder: Path) -> bool:
    """True for ``labelsTr`` / ``imagesTr`` style twins (same parent, matching names)."""
    if mask_folder.parent != image_folder.parent:
        return False
    m, i = mask_folder.name.lower(), image_folder.name.lower()
    if m.startswith("labels") and i.startswith("images"):
        return m[6:] == i[6:]
    return m in MASK_FOLDERS and i in IMAGE_FOLDERS


def layout_of(image: Path | None, mask: Path, image_is_dicom: bool) -> Layout:
    """The dataset layout a (image, mask) pair follows, by names and folders."""
    if image_is_dicom:
        return Layout.DICOM_FOLDER
    assert image is not None
    im, mk = parse_name(image), parse_name(mask)
    if mask.parent.name.lower() in ("labelstr", "labelsts", "labelsva") and \
            image.parent.name.lower().startswith("images"):
        return Layout.NNUNET if im.channel is not None else Layout.MSD
    if im.stem.lower() == "imaging" and (mk.stem.lower() == "segmentation"
                                          or mask.parent.parent == image.parent):
        return Layout.KITS
    if mask.parent.name.lower() == "segmentations" and image.parent == mask.parent.parent:
        return Layout.TOTALSEG
    if im.tokens and im.tokens[0].startswith("brats"):
        return Layout.BRATS
    if im.modality in ("t1ce", "t1c", "t1n", "flair", "t2f", "t2w") and mk.mask_token == "seg":
        return Layout.BRATS
    return Layout.GENERIC
