"""Pairing: which image each mask belongs to, by layout and name first, then by geometry.

Every candidate the names propose is confirmed in world space
(:func:`app.geometry.compare_grids`): the same grid, or the same voxels stored with
other axes, confirm; anything else refuses the pairing and says why. Tiers, tried
in order until one gives a confirmed image:

1. listed together (MSD ``dataset.json`` ``training``);
2. the same case id in the name (``labelsTr/x.nii.gz`` <-> ``imagesTr/x_0000.nii.gz``);
3. the only image of the mask's case folder (``s0001/ct.nii.gz``, a DICOM series);
4. the mask's name starts with an image's case id (``case7_liver_mask`` <-> ``case7``);
5. the only image of the case folder with the same grid.

A volume converted from a DICOM series near it (:func:`converted_copies`: the same voxels
in the world within half a voxel, and its name, dcm2niix sidecar or header saying so) is
not the image to annotate: a mask the tiers pair with the copy goes to the series when it
lies on the series' grid, and stays with the copy only when it lies on the copy's alone.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.discover import _layouts as layouts
from app.discover._layouts import Layout
from app.errors import SegmapError
from app.geometry import Grid, GridMatch, Relation, compare_grids, unusable
from app.readers import Format, nifti_info, split_suffix

_MAX_GEOMETRY_ONLY = 50  # images compared by grid alone for a mask no name places


@dataclass(frozen=True, eq=False)  # identity: one object per image
class ImageRef:
    """An image a mask can belong to: one volume file or one DICOM series."""

    label: str  # what the user reads: a path relative to the scan root, or the series
    files: tuple[Path, ...]  # the volume file, or the series' instances
    folder: Path  # the folder holding it (a series: the common folder of its files)
    grid: Grid | None
    kind: Format
    name: str = ""  # the case name it proposes (``case_001``, ``s0001``)
    keys: frozenset[str] = frozenset()  # case ids it answers to (name key, folder names)
    series_uid: str | None = None
    error: str | None = None  # why there is no grid
    series_number: int | None = None  # a DICOM series' SeriesNumber
    description: str = ""  # a DICOM series' SeriesDescription

    @property
    def is_dicom(self) -> bool:
        return self.kind is Format.DICOM


@dataclass(frozen=True, eq=False)
class MaskRef:
    """A mask file with the grid its header gives."""

    path: Path
    label: str
    grid: Grid | None
    error: str | None = None


@dataclass(frozen=True)
class Pair:
    """A mask confirmed on an image, with how the pairing was made."""

    image: ImageRef
    mask: MaskRef
    layout: Layout
    reason: str  # how the names / folders placed it ("only image in s0001/")
    match: GridMatch
    refused: tuple[str, ...] = ()  # candidates the geometry refused on the way

    @property
    def evidence(self) -> str:
        """Why the pairing was made: layout, name rule, geometry (and refusals)."""
        return self.evidence_as(self.layout)

    def evidence_as(self, layout: Layout) -> str:
        """The evidence under another layout name (a case may recognise more)."""
        text = f"{layout}: {self.reason}; {relation_text(self.match)}"
        return text + "".join(f"; {r}" for r in self.refused)


@dataclass(frozen=True)
class Unpaired:
    """Something that could not be paired, and why."""

    file: str
    kind: str  # "mask" | "image" | "series"
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "kind": self.kind, "reason": self.reason}


@dataclass
class Pairing:
    """The result of :func:`pair_masks`."""

    pairs: list[Pair] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)
    groups: dict[ImageRef, list[ImageRef]] = field(default_factory=dict)  # primary -> others
    notes: list[str] = field(default_factory=list)  # for the scan's notes (warnings)
    copies: dict[ImageRef, Copy] = field(default_factory=dict)  # converted copy -> its series


@dataclass(frozen=True)
class Copy:
    """A volume converted from a DICOM series (dcm2niix, dicom2nifti), and what says so."""

    series: ImageRef
    evidence: str  # "same voxels in the world; its dcm2niix sidecar gives the series' UID"


def image_keys(path: Path, root: Path, mixed: Collection[Path] = ()) -> frozenset[str]:
    """The case ids a volume file answers to: its name key, or its case folder's name."""
    parsed = layouts.parse_name(path)
    keys = {parsed.key} if parsed.key else set()
    if parsed.generic or layouts.folder_kind(path.parent, mixed) is None:
        folder = _case_folder(path.parent, root, mixed)
        if folder != root or parsed.generic:
            keys.add("_".join(layouts.name_tokens(folder.name)))
    return frozenset(k for k in keys if k)


def series_keys(folder: Path, root: Path, patient: str = "") -> frozenset[str]:
    """The case ids of a DICOM series: the names of its folders and its patient."""
    keys = set()
    p = folder
    while p != root and layouts.below(p, root):
        keys.add("_".join(layouts.name_tokens(p.name)))
        p = p.parent
    if patient:
        keys.add("_".join(layouts.name_tokens(patient)))
    return frozenset(k for k in keys if k)


def mask_key(path: Path, root: Path, mixed: Collection[Path] = ()) -> str:
    """The case id of a mask: its name key, or its case folder's name for generic names.

    A structure name (``segmentations/liver.nii.gz``) gives the key ``liver``, which
    matches no image; such masks are paired by their case folder instead.
    """
    parsed = layouts.parse_name(path)
    return parsed.key or "_".join(layouts.name_tokens(_case_folder(path.parent, root, mixed).name))


def _case_folder(folder: Path, root: Path, mixed: Collection[Path] = ()) -> Path:
    """The nearest folder at or above ``folder`` that is not a mask/image folder."""
    return _case_folder_of(folder, root, _frozen(mixed))


def _frozen(mixed: Collection[Path]) -> frozenset[Path]:
    return mixed if isinstance(mixed, frozenset) else frozenset(mixed)


# Asked for every mask and image of a folder (117 masks in one segmentations/ folder): the
# answers about a folder are remembered, bounded, for one scan (forget_folders).
_FOLDERS_REMEMBERED = 1 << 14


def forget_folders() -> None:
    """Drop the folder answers of an earlier scan: a path equal to one seen before (on
    Windows, in another letter case) must be spelt as this scan's walk spells it."""
    _case_folder_of.cache_clear()
    _nested_in_mask_folder.cache_clear()
    _rel.cache_clear()


@functools.lru_cache(maxsize=_FOLDERS_REMEMBERED)
def _case_folder_of(folder: Path, root: Path, mixed: frozenset[Path]) -> Path:
    while folder != root and layouts.below(folder, root) and layouts.folder_kind(folder, mixed):
        folder = folder.parent
    return folder


def relation_text(match: GridMatch) -> str:
    """``same grid`` or how the mask's axes differ from the image's."""
    if match.relation is Relation.SAME:
        return "same grid"
    return (f"same voxels with axes {match.mask.orientation} "
            f"(image {match.image.orientation}), aligned by reorientation")


class _Index:
    """Images by folder and by (ancestor folder, case id), for near-linear pairing."""

    def __init__(self, images: Sequence[ImageRef], root: Path) -> None:
        self.root = root
        self.under: dict[Path, list[ImageRef]] = defaultdict(list)
        self.by_key: dict[tuple[Path, str], list[ImageRef]] = defaultdict(list)
        # Folders up to the root, once per folder (and the same Path objects, their
        # hashes kept): every image and mask of a folder walks the same way up.
        self._chains: dict[Path, tuple[Path, ...]] = {}
        for im in images:
            for anc in self._ancestors(im.folder):
                self.under[anc].append(im)
                for k in im.keys:
                    self.by_key[(anc, k)].append(im)

    def _ancestors(self, folder: Path) -> tuple[Path, ...]:
        """``folder`` and the folders above it, up to the root (or to the top, outside it)."""
        chain = self._chains.get(folder)
        if chain is None:
            up, p = [folder], folder
            while p != self.root and layouts.below(p, self.root):
                p = p.parent
                up.append(p)
            chain = self._chains[folder] = tuple(up)
        return chain

    def near(self, folder: Path, up: int = 2) -> Path:
        """The ancestor ``up`` levels above ``folder``, clamped to the root."""
        chain = self._ancestors(folder)
        return chain[min(up, len(chain) - 1)]


class _Matcher:
    """Geometry confirmation with a cache (one comparison per image-mask pair)."""

    def __init__(self) -> None:
        self.rejected: list[str] = []

    def confirm(self, image: ImageRef, mask: MaskRef, why: str) -> GridMatch | None:
        if image.grid is None:
            self.rejected.append(f"{why} {image.label} has no usable geometry "
                                 f"({image.error or 'unreadable'})")
            return None
        assert mask.grid is not None
        match = compare_grids(image.grid, mask.grid)
        if match.aligned:
            return match
        self.rejected.append(f"{why} {image.label} refused ({match.relation}): {match.message}")
        return None


_MAX_SIDECAR = 1 << 20  # a dcm2niix sidecar is a few kB


def world_twins(a: Grid, b: Grid) -> bool:
    """True when two grids hold the same voxels in the world within half a voxel: the same
    voxel count up to axis order, and every corner of each within half a voxel of a corner
    of the other. Converters flip and permute axes, reorder slices and round affines
    (float32 headers), so an exact comparison would miss their copies."""
    if sorted(a.shape) != sorted(b.shape) or unusable(a) or unusable(b):
        return False
    tol = 0.5 * min(*a.spacing, *b.spacing)
    d = np.linalg.norm(a.corners()[:, None, :] - b.corners()[None, :, :], axis=2)
    return bool(d.min(axis=1).max() <= tol and d.min(axis=0).max() <= tol)


def _sidecar(path: Path) -> dict[str, Any]:
    """The dcm2niix JSON sidecar beside a volume (``x.nii.gz`` -> ``x.json``), or {}."""
    side = path.with_name(split_suffix(path.name)[0] + ".json")
    try:
        if not side.is_file() or side.stat().st_size > _MAX_SIDECAR:
            return {}
        obj = json.loads(side.read_bytes().decode("utf-8-sig", errors="replace"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _copy_score(copy: ImageRef, series: ImageRef, side: dict[str, Any]) -> tuple[int, str]:
    """How strongly a volume says it was converted from ``series``: (score, evidence);
    score -1 when its sidecar names another series. 3: the sidecar's SeriesInstanceUID;
    2: its SeriesNumber / SeriesDescription; 1: dcm2niix naming (``<folder>_<series>``,
    the series description or number in the name) or dcm2niix's header description;
    0: geometry alone."""
    uid, number = side.get("SeriesInstanceUID"), side.get("SeriesNumber")
    desc = side.get("SeriesDescription")
    where = f"its sidecar {split_suffix(copy.files[0].name)[0]}.json"
    if uid and series.series_uid:
        return (3, f"{where} gives the series' UID") if uid == series.series_uid else (-1, "")
    if number is not None and series.series_number is not None:
        if str(number) != str(series.series_number):
            return -1, ""
        if not desc or desc == series.description:
            return 2, f"{where} gives its series number {number}"
    tokens = layouts.name_tokens(split_suffix(copy.files[0].name)[0])
    stem = "_".join(tokens)
    folder = "_".join(layouts.name_tokens(series.folder.name))
    wanted = "_".join(layouts.name_tokens(series.description))
    if folder and (stem == folder or stem.startswith(folder + "_")):
        return 1, f"named after its folder {series.folder.name}/"
    if wanted and wanted in stem:
        return 1, f"named after its description '{series.description}'"
    if series.series_number is not None and str(series.series_number) in tokens:
        return 1, f"its series number {series.series_number} in the name"
    if copy.kind is Format.NIFTI and _DCM2NIIX_DESCRIP.match(_descrip(copy.files[0])):
        return 1, "its header description is dcm2niix's (TE=...;Time=...)"
    return 0, ""


_DCM2NIIX_DESCRIP = re.compile(r"TE=[\d.]+;Time=[\d.]+")  # dcm2niix's NIfTI descrip


def _descrip(path: Path) -> str:
    """A NIfTI header's description (one header read), or "" when it cannot be read."""
    try:
        raw = np.asarray(nifti_info(path).header["descrip"]).tobytes()
    except (SegmapError, OSError):
        return ""
    return raw.split(b"\0", 1)[0].decode("latin-1", errors="replace")


def converted_copies(images: Sequence[ImageRef]) -> dict[ImageRef, Copy]:
    """The volumes that are converted copies of a DICOM series near them (at most two
    folders below the series' grandparent: ``case/dicom/s2`` and ``case/nifti/x.nii.gz``):
    the same voxels in the world (:func:`world_twins`) and a name or sidecar that says so,
    or exactly the same voxels. A sidecar naming another series rules that series out; a
    tie finds no copy. Volumes are indexed by voxel count, so few grids are compared."""
    near: dict[tuple[Path, tuple[int, ...]], list[ImageRef]] = defaultdict(list)
    for im in images:
        if not im.is_dicom and im.grid is not None:
            size = tuple(sorted(im.grid.shape))
            for anc in (im.folder, im.folder.parent, im.folder.parent.parent):
                near[(anc, size)].append(im)
    found: dict[ImageRef, list[tuple[int, ImageRef, str]]] = defaultdict(list)
    sidecars: dict[ImageRef, dict[str, Any]] = {}
    for series in images:
        if not series.is_dicom or series.grid is None:
            continue
        for im in dict.fromkeys(near.get((series.folder.parent.parent,
                                          tuple(sorted(series.grid.shape))), [])):
            assert im.grid is not None
            if not world_twins(series.grid, im.grid):
                continue
            side = sidecars.setdefault(im, _sidecar(im.files[0]))
            score, why = _copy_score(im, series, side)
            relation = compare_grids(series.grid, im.grid).relation
            exact = relation in (Relation.SAME, Relation.REORIENTED)
            if score > 0 or (score == 0 and exact):
                geometry = "same grid" if relation is Relation.SAME else \
                    "same voxels in the world" if exact else \
                    "same voxels in the world within half a voxel"
                found[im].append((score, series, geometry + (f"; {why}" if why else "")))
    copies: dict[ImageRef, Copy] = {}
    for im, cands in found.items():
        best = max(c[0] for c in cands)
        top = [c for c in cands if c[0] == best]
        if len(top) == 1:
            copies[im] = Copy(top[0][1], top[0][2])
    return copies


def _to_series(pair: Pair, copy: Copy) -> Pair:
    """A mask paired with a converted copy goes to the series when it lies on the series'
    grid: the original, with its metadata, is the image to annotate."""
    series = copy.series
    match = compare_grids(series.grid, pair.mask.grid) if series.grid is not None \
        and pair.mask.grid is not None else None
    if match is None or not match.aligned:
        return replace(pair, reason=f"{pair.reason}; {_name(pair.image)} is a converted copy "
                                    f"of the DICOM series {series.label}, but the mask lies "
                                    "on the copy's grid, not the series'")
    return Pair(series, pair.mask, Layout.DICOM_FOLDER,
                f"{pair.reason}; {_name(pair.image)} is a converted copy of the DICOM series "
                f"{series.label} ({copy.evidence}), and the mask lies on the series' grid",
                match, pair.refused)


def group_images(images: Sequence[ImageRef]) -> dict[ImageRef, list[ImageRef]]:
    """Channels of one case: volumes in one folder with the same case id and grid.

    Returns primary -> the other channels (``case_0000`` first, then CT, T1ce, ...).
    """
    buckets: dict[tuple[Path, frozenset[str]], list[ImageRef]] = defaultdict(list)
    for im in images:
        if im.is_dicom or not im.keys:
            buckets[(im.folder, frozenset({im.label}))].append(im)
        else:
            buckets[(im.folder, im.keys)].append(im)
    groups: dict[ImageRef, list[ImageRef]] = {}
    for members in buckets.values():
        members = sorted(members, key=lambda m: layouts.channel_rank(m.files[0]))
        while members:
            head, rest = members[0], members[1:]
            same = [m for m in rest if head.grid is not None and m.grid is not None
                    and compare_grids(head.grid, m.grid).relation is Relation.SAME]
            groups[head] = same
            members = [m for m in rest if m not in same]
    return groups


def pair_masks(images: Sequence[ImageRef], masks: Sequence[MaskRef], root: Path,
               listed: dict[Path, Path] | None = None, mixed: Collection[Path] = ()
               ) -> Pairing:
    """Pair every mask with its image (see the module docstring for the tiers).

    ``listed`` maps mask paths to image paths given by a sidecar (MSD ``training``).
    ``mixed`` are mask-named folders that hold images (``layouts.mixed_folders``).
    Images that receive no mask are reported as unpaired too.
    """
    groups = group_images(images)
    primary_of = {m: head for head, rest in groups.items() for m in (head, *rest)}
    primaries = list(groups)
    index = _Index(primaries, root)
    by_path = {im.files[0]: im for im in images if not im.is_dicom}
    result = Pairing(groups=groups, copies=converted_copies(primaries))
    used: set[ImageRef] = set()
    for mask in masks:
        if mask.grid is None:
            result.unpaired.append(Unpaired(mask.label, "mask", mask.error or "unreadable"))
            continue
        pair = _pair_one(_Attempt(mask, index, root, mixed), by_path, primary_of, listed or {})
        if isinstance(pair, Unpaired):
            result.unpaired.append(pair)
        else:
            if pair.image in result.copies:
                pair = _to_series(pair, result.copies[pair.image])
            result.pairs.append(pair)
            used.add(pair.image)
    result.unpaired += [Unpaired(head.label, "series" if head.is_dicom else "image",
                                 _why_no_mask(head, used, result.copies))
                        for head in primaries if head not in used]
    return result


def _why_no_mask(head: ImageRef, used: set[ImageRef], copies: dict[ImageRef, Copy]) -> str:
    """Why an image received no mask: a converted copy, a twin of a series, or none found."""
    copy = copies.get(head)
    if copy is not None:
        then = "its masks are paired with the series" if copy.series in used else \
            "no mask found for either"
        return f"a converted copy of the DICOM series {copy.series.label} ({copy.evidence}); {then}"
    taken = [im for im, c in copies.items() if c.series is head and im in used]
    if taken:
        return (f"its converted copy {taken[0].label} took its masks: they lie on the copy's "
                "grid, not the series'")
    twin = next((u for u in used if u.is_dicom and head.grid is not None
                 and u.grid == head.grid and (not head.is_dicom
                                              or u.folder.parent == head.folder.parent)), None)
    if twin is not None and not head.is_dicom:
        return (f"a converted copy of the DICOM series {twin.label} (same grid); "
                "its masks are paired with the series")
    if twin is not None:  # case/image/ and case/multiframe/: one image twice
        return f"on the grid of the series {twin.label}, which its masks are paired with"
    return "no mask found for it" if head.grid is not None or not head.error else head.error


class _Attempt:
    """Pairing one mask: what the tiers share, and each tier as a method."""

    def __init__(self, mask: MaskRef, index: _Index, root: Path, mixed: Collection[Path]
                 ) -> None:
        self.mask, self.index, self.root, self.mixed = mask, index, root, mixed
        self.m = _Matcher()
        self.folder = mask.path.parent
        self.key = mask_key(mask.path, root, mixed)
        self.case_folder = _case_folder(self.folder, root, mixed)
        self.near = index.near(self.folder)
        self.in_case: list[ImageRef] = []

    def found(self, image: ImageRef, match: GridMatch, why: str) -> Pair:
        layout = layouts.layout_of(None if image.is_dicom else image.files[0], self.mask.path,
                                   image.is_dicom)
        return Pair(image, self.mask, layout, why, match, tuple(self.m.rejected))

    def unpaired(self, reason: str) -> Unpaired:
        return Unpaired(self.mask.label, "mask", reason)

    def listed(self, by_path: dict[Path, ImageRef], primary_of: dict[ImageRef, ImageRef],
               listed: dict[Path, Path]) -> Pair | None:
        """Tier 1: listed together by a sidecar."""
        target = listed.get(self.mask.path)
        if target is None or target not in by_path:
            return None
        image = primary_of[by_path[target]]
        match = self.m.confirm(image, self.mask, "dataset.json lists")
        return self.found(image, match, "listed with its image in dataset.json") if match \
            else None

    def same_case_id(self) -> Pair | Unpaired | None:
        """Tier 2: the same case id in the name."""
        if not self.key:
            return None
        cands = self.index.by_key.get((self.near, self.key), [])
        confirmed = [(im, mt) for im in cands if (mt := self.m.confirm(im, self.mask,
                                                                        "name match"))]
        if len(confirmed) > 1:
            confirmed = _closest(confirmed, self.folder)
        if len(confirmed) == 1:
            image, match = confirmed[0]
            return self.found(image, match, f"same case id '{self.key}' ({_name(image)} / "
                                            f"{self.mask.path.name})")
        if len(confirmed) > 1:
            return self.unpaired("its name matches several images with the same grid: "
                                 f"{', '.join(im.label for im, _ in confirmed[:5])}")
        return None

    def only_in_case_folder(self) -> Pair | None:
        """Tier 3: the only image of its case folder (walking up from a mask folder)."""
        def images(folder: Path) -> list[ImageRef]:
            return [im for im in self.index.under.get(folder, [])
                    if not _in_mask_folder(im, folder, self.mixed)]

        self.in_case = images(self.case_folder)
        while not self.in_case and self.case_folder != self.root \
                and layouts.below(self.case_folder, self.root):
            # case/nrrd/label.nrrd beside case/image/*.dcm, or ct.nii.gz above
            # masks/I_one_file/seg.nii.gz: the case folder is further up.
            self.case_folder = self.case_folder.parent
            self.in_case = images(self.case_folder)
        if len(self.in_case) != 1:
            return None
        match = self.m.confirm(self.in_case[0], self.mask, "case folder image")
        where = _rel(self.case_folder, self.root)
        return self.found(self.in_case[0], match, f"only image in {where}") if match else None

    def name_prefix(self) -> Pair | None:
        """Tier 4: the mask's name starts with an image's case id."""
        key = self.key
        if not key:
            return None
        prefixed = [im for im in self.index.under.get(self.near, [])
                    if any(key.startswith(k + "_") for k in im.keys)]
        prefixed.sort(key=lambda im: -max(len(k) for k in im.keys if key.startswith(k + "_")))
        for im in prefixed[:3]:
            match = self.m.confirm(im, self.mask, "name prefix")
            if match:
                return self.found(im, match, f"name starts with the case id of {_name(im)}")
        return None

    def same_grid(self) -> Pair | Unpaired | None:
        """Tier 5: the only image of the case folder with the same grid (a bounded search:
        with hundreds of images in one folder, names must do the pairing)."""
        if not 1 < len(self.in_case) <= _MAX_GEOMETRY_ONLY or self.mask.grid is None:
            return None
        confirmed = [(im, mt) for im in self.in_case if im.grid is not None
                     and (mt := compare_grids(im.grid, self.mask.grid)).aligned]
        where = _rel(self.case_folder, self.root)
        if len(confirmed) == 1:
            image, match = confirmed[0]
            return self.found(image, match, f"the only image in {where} with the mask's grid")
        series = [c for c in confirmed if c[0].is_dicom]
        if len(series) == 1:
            # A DICOM series and NIfTI files on one grid: the files are its converted
            # copies; the series, with its metadata, is the image to annotate.
            copies = ", ".join(im.label for im, _ in confirmed if not im.is_dicom)
            image, match = series[0]
            return self.found(image, match, f"the only DICOM series in {where} with the "
                                            f"mask's grid ({copies}: same grid, taken as a "
                                            "converted copy)")
        in_image_folder = [c for c in confirmed
                           if layouts.folder_kind(c[0].folder, self.mixed) == "image"]
        if len(in_image_folder) == 1:
            # dcmqi's 24x38x3/{image,multiframe,nrrd}: one image stored twice (single-
            # and multi-frame DICOM); the folder named for the image says which to take.
            image, match = in_image_folder[0]
            others = ", ".join(im.label for im, _ in confirmed if im is not image)
            return self.found(image, match, f"the only image in an image folder "
                                            f"({image.folder.name}/) of {where} with the "
                                            f"mask's grid ({others}: same grid)")
        if len(confirmed) > 1:
            names = ", ".join(im.label for im, _ in confirmed[:5])
            return self.unpaired(f"several images share its grid ({names}); name the mask "
                                 "after its image (case_seg.nii.gz beside case.nii.gz)")
        return None

    def why_not(self) -> Unpaired:
        """Why no tier paired the mask."""
        where = _rel(self.case_folder, self.root)
        if self.m.rejected:
            return self.unpaired("; ".join(self.m.rejected[:3]))
        if not self.in_case:
            return self.unpaired(f"no image found in {where}")
        if len(self.in_case) > _MAX_GEOMETRY_ONLY:
            return self.unpaired(f"its name matches none of the {len(self.in_case)} images in "
                                 f"{where}; name it after its image")
        return self.unpaired(f"none of the {len(self.in_case)} images in {where} has its grid "
                             "or its name")


def _pair_one(a: _Attempt, by_path: dict[Path, ImageRef], primary_of: dict[ImageRef, ImageRef],
              listed: dict[Path, Path]) -> Pair | Unpaired:
    """The tiers of the module docstring, in order, until one decides."""
    for tier in (lambda: a.listed(by_path, primary_of, listed), a.same_case_id,
                 a.only_in_case_folder, a.name_prefix, a.same_grid):
        decided = tier()
        if decided is not None:
            return decided
    return a.why_not()


def _closest(confirmed: list[tuple[ImageRef, GridMatch]], folder: Path
             ) -> list[tuple[ImageRef, GridMatch]]:
    """Keep the candidates nearest the mask: a twin folder first, then the shortest walk."""
    twins = [c for c in confirmed if layouts.twin_folders(folder, c[0].folder)]
    if len(twins) == 1:
        return twins

    def steps(c: tuple[ImageRef, GridMatch]) -> int:
        common = Path(os.path.commonpath([folder, c[0].folder]))
        return len(folder.relative_to(common).parts) + len(c[0].folder.relative_to(common).parts)

    best = min(steps(c) for c in confirmed)
    return [c for c in confirmed if steps(c) == best]


def _in_mask_folder(image: ImageRef, case_folder: Path, mixed: Collection[Path] = ()) -> bool:
    # Images nested in another case's mask folder do not belong to this case folder.
    return _nested_in_mask_folder(image.folder, case_folder, _frozen(mixed))


@functools.lru_cache(maxsize=_FOLDERS_REMEMBERED)
def _nested_in_mask_folder(folder: Path, case_folder: Path, mixed: frozenset[Path]) -> bool:
    p, inside = folder, []
    while p != case_folder and layouts.below(p, case_folder):
        inside.append(p)
        p = p.parent
    return any(layouts.folder_kind(f, mixed) == "mask" for f in inside)


def _name(image: ImageRef) -> str:
    return image.files[0].name if not image.is_dicom else image.label


@functools.lru_cache(maxsize=_FOLDERS_REMEMBERED)
def _rel(folder: Path, root: Path) -> str:
    if folder == root:
        return "the scanned folder"
    try:
        return folder.relative_to(root).as_posix() + "/"
    except ValueError:
        return str(folder)
