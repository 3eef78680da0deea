"""Cases: an image with the masks paired to it, in one of RedBrick's import shapes.

RedBrick imports segmentations in three shapes (redbrick.md §2.4):

* **I**: one multi-label file, ``segmentMap`` value -> category;
* **II**: several multi-label files sharing one value -> category map;
* **III**: binary masks, one per structure (``binaryMask``), each naming its file.

Files numbered in one folder (``partial_overlaps-1``, ``-2``, ``-3``: dcmqi's input files
of one segmentation) of which one holds several values are parts of one segmentation:
they stay together as label maps, never split into binary masks.

One image can carry masks of several shapes (TotalSegmentator's folder of binary
masks beside its ``--ml`` file). RedBrick cannot mix shapes in one series, so each
shape becomes its own case. Multi-label files that reuse the same values are
alternatives (two models' outputs, three annotators), not parts of one map: each
becomes its own case too, and the scan's notes say which files are alternatives and how to
keep one. Files with disjoint values form one case of shape II, and so do files that reuse
values on disjoint voxels (the left and right hemisphere files of one atlas): deciding that
costs no second read, the census keeps each label map's non-zero runs (``RUNS``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.discover import _layouts as layouts
from app.discover._layouts import Layout
from app.discover._pairing import ImageRef, MaskRef, Pair, Pairing
from app.errors import SegmapError
from app.items import ImportShape
from app.readers import (
    RUNS,
    Census,
    Format,
    mask_as_nifti,
    nifti_info,
    nonzero,
    split_suffix,
    volume_format,
)


@dataclass
class Case:
    """One future task: an image (plus other channels) and its masks in one shape."""

    name: str
    image: ImageRef
    pairs: list[Pair]  # one per mask, in segmentation order
    shape: ImportShape
    layout: Layout
    others: list[ImageRef] = field(default_factory=list)  # other channels of the case
    note: str = ""  # why this shape

    @property
    def masks(self) -> list[Path]:
        """The mask files in segmentation order."""
        return [p.mask.path for p in self.pairs]

    @property
    def evidence(self) -> str:
        """Why these masks were paired with this image, and why this shape."""
        reasons: dict[str, int] = defaultdict(int)
        for p in self.pairs:
            reasons[p.evidence_as(self.layout)] += 1
        parts = []
        for text, n in list(reasons.items())[:2]:
            parts.append(text + (f" ({n} masks)" if n > 1 else ""))
        if len(reasons) > 2:
            parts.append(f"and {len(reasons) - 2} more")
        return " | ".join(parts) + (f" | {self.note}" if self.note else "")


_NUMBERED = re.compile(r"^(.*?[^-_ .\d])[-_ .]?(\d+)$")  # partial_overlaps-2 -> partial_overlaps


def _structure_named(pair: Pair, case_key: str) -> bool:
    return bool(layouts.structure_name(pair.mask.path, case_key))


def _family(path: Path) -> str | None:
    """The name a numbered file shares with its siblings (``partial_overlaps``), or None."""
    m = _NUMBERED.match(split_suffix(path.name)[0])
    return m.group(1) if m else None


def numbered_parts(pairs: Sequence[Pair], censuses: dict[Path, Census]) -> dict[Path, str]:
    """Masks numbered in one folder with one multi-value label map among them: mask -> the
    family's name (see the module docstring). All-binary families (``rib_left_1`` ..
    ``rib_left_12``) are structures, one per file, and are left alone."""
    families: dict[tuple[Path, str], list[Pair]] = defaultdict(list)
    for p in pairs:
        name = _family(p.mask.path)
        if name is not None:
            families[(p.mask.path.parent, name.lower())].append(p)
    out: dict[Path, str] = {}
    for group in families.values():
        counted = [censuses.get(p.mask.path) for p in group]
        if len(group) >= 2 and any(c is not None and not c.binary for c in counted):
            name = _family(group[0].mask.path) or ""
            out.update((p.mask.path, name) for p in group)
    return out


def split_by_shape(image: ImageRef, pairs: Sequence[Pair], censuses: dict[Path, Census],
                   derived: Mapping[Path, str] | None = None
                   ) -> list[tuple[ImportShape, list[Pair], str]]:
    """Group one image's masks into (shape, pairs, note) by binary-ness and folder.

    ``derived``: folders of masks converted from a DICOM SEG / RTSTRUCT -> its file name;
    such a folder's masks are one per segment, shape III even when there is one or it
    is empty."""
    binary_by_folder: dict[Path, list[Pair]] = defaultdict(list)
    labelmaps: list[Pair] = []
    parts = numbered_parts(pairs, censuses)
    from_dicom: dict[Path, list[Pair]] = defaultdict(list)
    for p in pairs:
        c = censuses.get(p.mask.path)
        if derived and p.mask.path.parent in derived:
            from_dicom[p.mask.path.parent].append(p)
        elif c is not None and c.binary and p.mask.path not in parts:
            binary_by_folder[p.mask.path.parent].append(p)
        else:
            labelmaps.append(p)
    out: list[tuple[ImportShape, list[Pair], str]] = [
        (ImportShape.BINARY_MASKS, group,
         f"{len(group)} binary mask(s) converted from {(derived or {})[folder]}, one per segment")
        for folder, group in from_dicom.items()]
    key = image.name
    for folder, group in binary_by_folder.items():
        named = [p for p in group if _structure_named(p, key)]
        if len(group) >= 2 and len(named) == len(group):
            where = f"in {folder.name}/" if folder != image.folder else "beside the image"
            out.append((ImportShape.BINARY_MASKS, sorted(group, key=lambda p: p.mask.path.name),
                        f"{len(group)} binary masks {where}, one per structure"))
        else:
            labelmaps.extend(group)  # a lone binary file is a label map with one value
    # Label maps in one folder with distinct values are parts of one map (II); sharing
    # values, they are alternatives (one case each). Other folders, or numbered parts of
    # one segmentation beside other label maps: other cases.
    by_folder: dict[tuple[Path, str], list[Pair]] = defaultdict(list)
    for p in sorted(labelmaps, key=lambda p: p.mask.path.as_posix()):
        by_folder[(p.mask.path.parent, parts.get(p.mask.path, ""))].append(p)
    shaped: list[tuple[ImportShape, list[Pair], str]] = []
    for (_, family), group in by_folder.items():
        if len(group) == 1:
            shaped.append((ImportShape.LABEL_MAP, group, ""))
            continue
        value_sets = [set(censuses[p.mask.path].nonzero) if p.mask.path in censuses else set()
                      for p in group]
        what = f"numbered parts of {family}" if family else "label maps"
        if sum(len(v) for v in value_sets) == len(set().union(*value_sets)):
            shaped.append((ImportShape.LABEL_MAPS, group,
                           f"{len(group)} {what} with distinct values, merged"))
        elif voxels_disjoint([p.mask for p in group]):
            shaped.append((ImportShape.LABEL_MAPS, group,
                           (f"{len(group)} {what} sharing values on disjoint voxels "
                            "(parts of one map, such as left and right), merged")))
        else:
            names = ", ".join(p.mask.path.name for p in group)
            note = f"label maps sharing values and voxels are alternatives ({names}), one case each"
            shaped.extend((ImportShape.LABEL_MAP, [p], note) for p in group)
    return shaped + out


def _intervals(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(starts, ends) of a mask's non-zero voxels in file order: the census's runs, else
    one streamed read of a NIfTI, or the NIfTI an NRRD is converted to (its voxels in the
    same order); None for anything else."""
    runs = RUNS.get(path)
    if runs is not None:
        starts = runs.starts.astype(np.int64)
        return starts, starts + runs.lengths
    kind = volume_format(path)
    if kind is Format.NRRD:  # the census keeps no runs of a conversion: without this, NRRD
        # parts of one map (left and right) were taken for alternatives sharing voxels
        data = np.asanyarray(mask_as_nifti(path).dataobj)
        idx = np.flatnonzero(data.reshape(-1, order="F")).astype(np.int64)
        return idx, idx + 1
    if kind is not Format.NIFTI:
        return None
    idx, _ = nonzero(nifti_info(path))
    idx = idx.astype(np.int64)
    return idx, idx + 1


def _overlap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    # Both sorted and non-overlapping within themselves: for each run of b, the run of a
    # that starts last before b's run ends is the only one that can reach into it.
    i = np.searchsorted(a[0], b[1], side="left") - 1
    hit = i >= 0
    return bool((a[1][i[hit]] > b[0][hit]).any())


def voxels_disjoint(masks: Sequence[MaskRef]) -> bool:
    """True when masks on one grid share no non-zero voxel (pairwise)."""
    grids = {m.grid for m in masks}
    if len(grids) != 1 or None in grids:
        return False
    spans = []
    for m in masks:
        try:
            got = _intervals(m.path)
        except SegmapError:
            return False
        if got is None:
            return False
        spans.append(got)
    return not any(_overlap(a, b) for i, a in enumerate(spans) for b in spans[i + 1:])


def alternative_notes(cases: Sequence[Case]) -> list[str]:
    """The scan's notes for label maps taken as alternatives: which cases hold them, and how
    to keep only one."""
    by_image: dict[ImageRef, list[Case]] = defaultdict(list)
    for c in cases:
        if "are alternatives" in c.note:
            by_image[c.image].append(c)
    out = []
    for image, group in by_image.items():
        listed = ", ".join(f"{c.masks[0].name} (case {c.name})" for c in group)
        out.append(f"{image.label}: label maps sharing values and voxels are alternatives, "
                   f"each built as its own case: {listed}. To keep one, remove the other "
                   "cases' tasks from the items list (or move their files out of the "
                   "folder and scan again).")
    return out


def make_cases(pairing: Pairing, censuses: dict[Path, Census],
               derived: Mapping[Path, str] | None = None) -> list[Case]:
    """Turn confirmed pairs into cases with unique names (see the module docstring);
    ``derived`` as for :func:`split_by_shape`."""
    by_image: dict[ImageRef, list[Pair]] = defaultdict(list)
    for p in pairing.pairs:
        by_image[p.image].append(p)
    cases: list[Case] = []
    taken: set[str] = set()
    for image, pairs in by_image.items():
        shapes = split_by_shape(image, pairs, censuses, derived)
        base = image.name or image.label
        for shape, group, note in shapes:
            name = base
            if len(shapes) > 1:
                folder = group[0].mask.path.parent
                name = f"{base}-{split_suffix(derived[folder])[0]}" if derived and \
                    folder in derived else f"{base}-{_suffix(shape, group)}"
            if shape is ImportShape.BINARY_MASKS and name in taken:
                name += "-binary"  # beside a label map of the same name (x.nii.gz + x/)
            name = _unique(name, taken)
            layout = group[0].layout
            cases.append(Case(name, image, group, shape, layout,
                              list(pairing.groups.get(image, [])), note))
    cases.sort(key=lambda c: c.name)
    pairing.notes.extend(alternative_notes(cases))
    return cases


def _suffix(shape: ImportShape, group: list[Pair]) -> str:
    if shape is ImportShape.BINARY_MASKS:
        return group[0].mask.path.parent.name
    if shape is ImportShape.LABEL_MAPS:
        family = _family(group[0].mask.path)
        if family and all(_family(p.mask.path) == family for p in group):
            return family
        return group[0].mask.path.parent.name
    return split_suffix(group[0].mask.path.name)[0]


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    taken.add(out)
    return out
