"""What the preview shows, as arrays: an image and its label volume in one display orientation.

``DisplayVolumes.build`` puts a label volume onto its image's grid in world space
(``app.geometry``) and reorients both, without copying, so that every slice comes
out as a row-major 2-D array in radiological convention:

* axial: viewed from the feet; patient left on screen right, anterior up;
* coronal: viewed from the front; patient left on screen right, superior up;
* sagittal: viewed from the patient's left; anterior on screen left, superior up.

The display arrays have axis codes ``IPL`` (nibabel's meaning: index 0 grows toward
inferior, 1 toward posterior, 2 toward the patient's left), so an axial slice is
``d[k]``, a coronal one ``d[:, j]`` and a sagittal one ``d[:, :, i]``: basic-index
views. Slice numbers shown to the user grow toward superior, anterior and right, like
world RAS+ millimetres (and 3D Slicer's slice offsets). Oblique images are shown along
their nearest axes without resampling; the hover readout uses the true affine.

Window/level, label colours and outlines live in ``app.preview._style``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from nibabel.orientations import (
    apply_orientation,
    axcodes2ornt,
    inv_ornt_aff,
    io_orientation,
    ornt_transform,
)

from app.errors import InputError
from app.geometry import Grid, GridMatch, Relation, align_to_image, compare_grids
from app.preview._style import (
    group_members,
)

View = Literal["axial", "coronal", "sagittal"]
VIEWS: tuple[View, ...] = ("axial", "coronal", "sagittal")
DISPLAY_AXCODES = ("I", "P", "L")
_SLICE_AXIS: dict[str, int] = {"axial": 0, "coronal": 1, "sagittal": 2}
# Screen edges of each view: (top, bottom, left, right), radiological convention.
EDGE_LETTERS: dict[str, tuple[str, str, str, str]] = {
    "axial": ("A", "P", "R", "L"),
    "coronal": ("S", "I", "R", "L"),
    "sagittal": ("S", "I", "A", "P"),
}
_CHUNK_VOXELS = 1 << 23  # largest_slices works on slabs of about 8 M voxels


@dataclass(frozen=True)
class HoverInfo:
    """What lies under the cursor.

    ``value`` is the label voxel value (0 for background), ``instances`` the instance
    ids it stands for (several for an overlap group), ``world_mm`` the RAS+ position
    in millimetres, ``voxel`` the index into the original (not reoriented) image array
    and ``intensity`` the image value there.
    """

    value: int
    instances: tuple[int, ...]
    world_mm: tuple[float, float, float]
    voxel: tuple[int, int, int]
    intensity: float

    def text(self, category: Callable[[int], str | None] | None = None) -> str:
        """One line for the readout, naming categories through ``category`` when given."""
        if self.value == 0:
            label = "background"
        else:
            names = [f"{i} ({category(i) or 'not mapped: view-only'})" if category else str(i)
                     for i in self.instances]
            label = (f"label {self.value}: overlap of " + " + ".join(names)
                     if len(self.instances) > 1 else f"label {names[0]}")
        world = ", ".join(_world_text(a, self.world_mm[a]) for a in range(3))
        voxel = ", ".join(str(v) for v in self.voxel)
        return f"{label}  ·  {world}  ·  voxel {voxel}  ·  intensity {self.intensity:.6g}"


def _world_text(axis: int, mm: float) -> str:
    # RAS+ coordinate with the direction spelled out, so no reader guesses the sign
    # convention (RAS in nibabel, LPS in DICOM): 12.5 -> "R 12.5 mm", -3 -> "L 3.0 mm".
    plus, minus = (("R", "L"), ("A", "P"), ("S", "I"))[axis]
    return f"{plus if mm >= 0 else minus} {abs(mm):.1f} mm"


def _as_3d(array: np.ndarray, what: str) -> np.ndarray:
    shape = array.shape
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise InputError(
            f"The {what} has {len(shape)} dimensions ({'x'.join(map(str, shape))}); "
            "the preview shows 3-D volumes.",
            "Choose a 3-D series or mask (one volume, not a time series).")
    return array


def _label_array(labels: np.ndarray) -> np.ndarray:
    if labels.dtype == np.bool_:
        return labels.view(np.uint8)
    if labels.dtype in (np.uint8, np.uint16):
        return labels
    lo, hi = (labels.min(), labels.max()) if labels.size else (0, 0)
    # Float masks are fine when every value is a whole number (as RedBrick rounds them).
    whole = labels.dtype.kind in "iu" or (
        labels.dtype.kind == "f" and bool(np.all(np.mod(labels, 1) == 0)))
    if not whole or lo < 0 or hi > 65535:
        raise InputError(
            f"The label volume holds {labels.dtype} values from {lo} to {hi}; the preview "
            "shows whole-number labels from 0 to 65535.",
            "Merge the masks first (RedBrick stores labels as uint8 or uint16).")
    return labels.astype(np.uint8 if hi < 256 else np.uint16)


def _on_image_grid(labels: np.ndarray, match: GridMatch) -> np.ndarray:
    """The labels on the image grid: a view for a reoriented mask, else ``align_to_image``.

    A reoriented mask holds the image's voxels with axes permuted or flipped, so
    nibabel's orientation transform gives them in the image's axes without the
    copy ``align_to_image`` makes (about 1.4 s for 512x512x300, bench_preview).
    """
    if match.relation == Relation.REORIENTED and match.index_map is not None:
        return apply_orientation(labels, io_orientation(match.index_map))
    return align_to_image(labels, match)


@dataclass
class DisplayVolumes:
    """An image and its labels, reoriented for display (see the module docstring).

    ``image`` and ``labels`` are display-oriented views (axes ``IPL``); ``grid`` is
    the original image grid; ``display_to_voxel`` (4x4) maps a display index to the
    original voxel index; ``segments`` is ``MergeResult.segments`` (instance id ->
    overlap group ids), ``groups`` its inverse; ``match`` says how the labels were
    aligned (None when they came on the image grid or there are none).
    """

    image: np.ndarray
    labels: np.ndarray | None
    grid: Grid
    display_to_voxel: np.ndarray
    segments: dict[int, list[int] | None]
    groups: dict[int, tuple[int, ...]]
    match: GridMatch | None = None
    _largest: dict[int, dict[str, int]] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        image: np.ndarray,
        image_grid: Grid,
        labels: np.ndarray | None = None,
        labels_grid: Grid | None = None,
        segments: Mapping[int, list[int] | None] | None = None,
    ) -> DisplayVolumes:
        """Align ``labels`` to ``image`` in world space and reorient both for display.

        ``labels_grid`` None means the labels are on the image grid already. Raises
        ``InputError`` when the labels cannot be drawn on the image (the message is
        ``compare_grids``'s) or an array does not match its grid. Nothing is copied
        unless alignment needs it (reoriented, cropped or resampled masks).
        """
        image = _as_3d(np.asarray(image), "image")
        if image.shape != image_grid.shape:
            raise InputError(
                f"The image array is {'x'.join(map(str, image.shape))} but its grid says "
                f"{'x'.join(map(str, image_grid.shape))}.",
                "Read the image and its geometry from the same file.")
        match = None
        if labels is not None:
            labels = _label_array(_as_3d(np.asarray(labels), "label volume"))
            if labels_grid is None:
                if labels.shape != image.shape:
                    raise InputError(
                        f"The label volume is {'x'.join(map(str, labels.shape))} and the image "
                        f"{'x'.join(map(str, image.shape))}, and the labels have no affine "
                        "to place them.", "Give the mask's own grid (shape and affine).")
            else:
                if labels.shape != labels_grid.shape:
                    raise InputError(
                        f"The label array is {'x'.join(map(str, labels.shape))} but its grid "
                        f"says {'x'.join(map(str, labels_grid.shape))}.",
                        "Read the mask and its geometry from the same file.")
                match = compare_grids(image_grid, labels_grid)
                if not match.alignable:
                    raise InputError(
                        match.message,
                        "Pair the mask with the series it was drawn on, or resample it "
                        "onto that series' grid.")
                labels = _on_image_grid(labels, match)
        transform = ornt_transform(io_orientation(image_grid.affine),
                                   axcodes2ornt(DISPLAY_AXCODES))
        segs = {int(k): (list(v) if v else None) for k, v in (segments or {}).items()}
        return cls(
            image=apply_orientation(image, transform),
            labels=None if labels is None else apply_orientation(labels, transform),
            grid=image_grid,
            display_to_voxel=inv_ornt_aff(transform, image.shape),
            segments=segs,
            groups=group_members(segs),
            match=match,
        )

    # -- geometry of the display --------------------------------------------------------

    @property
    def display_spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along the display axes (I-S, P-A, L-R)."""
        return Grid.of(self.image.shape, self.grid.affine @ self.display_to_voxel).spacing

    def n_slices(self, view: View) -> int:
        """How many slices ``view`` has."""
        return int(self.image.shape[_SLICE_AXIS[view]])

    def pixel_size(self, view: View) -> tuple[float, float]:
        """(height, width) in mm of one pixel of a ``view`` slice."""
        s = self.display_spacing
        return {"axial": (s[1], s[2]), "coronal": (s[0], s[2]), "sagittal": (s[0], s[1])}[view]

    def _display_index(self, view: View, index: int) -> int:
        n = self.n_slices(view)
        if not 0 <= index < n:
            raise IndexError(f"{view} slice {index} is outside 0..{n - 1}")
        return n - 1 - index  # user numbering grows toward S, A, R; display toward I, P, L

    def _slicer(self, view: View, index: int) -> tuple[int | slice, ...]:
        d = self._display_index(view, index)
        every = slice(None)
        return {"axial": (d,), "coronal": (every, d), "sagittal": (every, every, d)}[view]

    def slice(self, view: View, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The image and label slices of ``view`` number ``index``, as numpy views.

        Rows run down the screen and columns to its right (radiological convention);
        ``index`` counts from the inferior, posterior or left end of the volume.
        """
        s = self._slicer(view, index)
        return self.image[s], None if self.labels is None else self.labels[s]

    def to_display(self, view: View, row: int, col: int, index: int) -> tuple[int, int, int]:
        """The display-array index of pixel (row, col) of slice ``index`` of ``view``."""
        d = self._display_index(view, index)
        return {"axial": (d, row, col), "coronal": (row, d, col), "sagittal": (row, col, d)}[view]

    def describe(self, row: int, col: int, index: int, view: View) -> HoverInfo | None:
        """What lies at pixel (row, col) of slice ``index`` of ``view``; None outside it."""
        if not 0 <= index < self.n_slices(view):
            return None
        d = self.to_display(view, row, col, index)
        if not all(0 <= i < n for i, n in zip(d, self.image.shape, strict=True)):
            return None
        voxel = self.display_to_voxel @ np.array([*d, 1.0])
        world = self.grid.affine @ voxel
        value = 0 if self.labels is None else int(self.labels[d])
        return HoverInfo(
            value=value,
            instances=self.instances_of(value),
            world_mm=(float(world[0]), float(world[1]), float(world[2])),
            voxel=(int(round(voxel[0])), int(round(voxel[1])), int(round(voxel[2]))),
            intensity=float(self.image[d]),
        )

    def slice_position(self, view: View, index: int) -> str:
        """Where slice ``index`` of ``view`` lies, e.g. ``S 12.5 mm`` (world RAS+, slice centre)."""
        n = self.image.shape
        centre = {"axial": (n[1] // 2, n[2] // 2), "coronal": (n[0] // 2, n[2] // 2),
                  "sagittal": (n[0] // 2, n[1] // 2)}[view]
        d = self.to_display(view, centre[0], centre[1], index)
        mm = (self.grid.affine @ (self.display_to_voxel @ np.array([*d, 1.0])))[:3]
        axis = {"axial": 2, "coronal": 1, "sagittal": 0}[view]
        return _world_text(axis, float(mm[axis]))

    def instances_of(self, value: int) -> tuple[int, ...]:
        """The instance ids a voxel value stands for (its members for an overlap group)."""
        if value == 0:
            return ()
        return self.groups.get(value, (value,))

    # -- where each label is largest ----------------------------------------------------

    def largest_slices(self) -> dict[int, dict[str, int]]:
        """For each label: the slice number of each view where it covers most pixels.

        Keys are instance ids (a group voxel counts for each of its members) and the
        overlap group ids themselves. Computed once, then cached.
        """
        if self._largest is None:
            self._largest = ({} if self.labels is None
                             else largest_slices(self.labels, self.segments))
        return self._largest


def largest_slices(labels: np.ndarray, segments: Mapping[int, list[int] | None] | None = None,
                   ) -> dict[int, dict[str, int]]:
    """Slice of largest area per label and view, for a display-oriented label volume.

    ``labels`` has display axes (``DisplayVolumes.labels``); slice numbers are the
    user's (see ``DisplayVolumes.slice``). Keys are instance ids (a group voxel
    counts for each of its members) and overlap group ids.

    One pass over slabs of the volume, by runs of equal values along the last axis
    (label maps are made of long runs, so there are far fewer runs than voxels): a
    run adds its length to its axial and coronal slice, and +1/-1 at its ends to a
    difference table whose cumulative sum gives the sagittal counts.
    """
    groups = group_members(segments or {})
    n = labels.shape
    vmax = int(labels.max()) if labels.size else 0
    if vmax == 0:
        return {}
    step = max(1, _CHUNK_VOXELS // (n[1] * n[2]))
    # Dense ids for the values present keep the count tables small for uint16 labels.
    if vmax < 4096:
        present = np.arange(vmax + 1)
    else:
        hist = np.zeros(vmax + 1, np.int64)
        for k0 in range(0, n[0], step):
            hist += np.bincount(labels[k0:k0 + step].ravel(), minlength=vmax + 1)
        present = np.flatnonzero(hist)
    remap = np.zeros(vmax + 1, np.int64)
    remap[present] = np.arange(len(present))
    nv = len(present)
    axial = np.zeros(n[0] * nv)
    coronal = np.zeros(n[1] * nv)
    sagittal = np.zeros((n[2] + 1) * nv)
    for k0 in range(0, n[0], step):
        flat = np.ascontiguousarray(labels[k0:k0 + step]).ravel()
        start = np.empty(flat.size, np.bool_)
        start[0] = True
        np.not_equal(flat[1:], flat[:-1], out=start[1:])
        start[::n[2]] = True  # every row starts a run
        first = np.flatnonzero(start)
        length = np.diff(first, append=flat.size)
        runs = flat[first]
        keep = runs != 0
        first, length, col = first[keep], length[keep], remap[runs[keep]]
        k, rest = np.divmod(first, n[1] * n[2])
        j, i0 = np.divmod(rest, n[2])
        axial[k0 * nv:] += np.bincount((k * nv + col), weights=length,
                                       minlength=(n[0] - k0) * nv)
        coronal += np.bincount(j * nv + col, weights=length, minlength=n[1] * nv)
        sagittal += np.bincount(i0 * nv + col, minlength=(n[2] + 1) * nv)
        sagittal -= np.bincount((i0 + length) * nv + col, minlength=(n[2] + 1) * nv)
    tables = [axial.reshape(n[0], nv), coronal.reshape(n[1], nv),
              np.cumsum(sagittal.reshape(n[2] + 1, nv), axis=0)[:-1]]
    totals = tables[0].sum(axis=0)
    values = [int(v) for v in present[1:] if totals[remap[v]] > 0]
    # Instance counts: a value counts for every instance it stands for.
    instances = sorted({m for v in values for m in groups.get(v, (v,))})
    col = {inst: c for c, inst in enumerate(instances)}
    member = np.zeros((nv, len(instances)))
    for v in values:
        for m in groups.get(v, (v,)):
            member[remap[v], col[m]] = 1
    out: dict[int, dict[str, int]] = {}
    for view, a in _SLICE_AXIS.items():
        by_inst = tables[a] @ member
        for inst, c in col.items():
            out.setdefault(inst, {})[view] = n[a] - 1 - int(np.argmax(by_inst[:, c]))
        for v in values:
            if v in groups:
                out.setdefault(v, {})[view] = n[a] - 1 - int(np.argmax(tables[a][:, remap[v]]))
    return out
