"""World geometry: where a voxel grid sits in patient space, and how two grids relate.

Every geometry decision is made in world space (nibabel's RAS+ millimetres), never
by hoping two arrays line up. ``compare_grids`` tells whether a mask sits on its
image's grid, on the same grid with axes flipped or permuted, at another
resolution, on a crop of it, on the image's lattice but shifted, with its array
transposed or flipped while the affine stayed the image's, or somewhere
incompatible, with the numbers.
``align_to_image`` then puts a mask's voxels onto the image grid (exactly, by
reorientation and padding, or by nearest neighbour for another resolution).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import nibabel as nib
import numpy as np


@dataclass(frozen=True)
class Grid:
    """A 3-D voxel grid: its shape and its voxel-to-world (RAS+, mm) affine."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ compares the affine arrays with ==, which raises
        # "truth value of an array is ambiguous"; compare them as values.
        if not isinstance(other, Grid):
            return NotImplemented
        return self.shape == other.shape and bool(np.array_equal(self.affine, other.affine))

    def __hash__(self) -> int:
        return hash((self.shape, np.asarray(self.affine, dtype=np.float64).tobytes()))

    @classmethod
    def of(cls, shape: tuple[int, ...], affine: np.ndarray) -> Grid:
        """A grid from any shape whose first three axes are spatial."""
        s = tuple(int(x) for x in shape[:3]) + (1,) * max(0, 3 - len(shape))
        return cls((s[0], s[1], s[2]), np.asarray(affine, dtype=np.float64))

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis."""
        return _facts_of(self.affine)[0]

    @property
    def orientation(self) -> str:
        """Axis codes such as ``RAS`` or ``LPS`` (where each array axis points); ``???``
        for an affine that places nothing (NaN, or a zero voxel size)."""
        return _facts_of(self.affine)[2]

    def corners(self) -> np.ndarray:
        """World coordinates (8, 3) of the centres of the eight corner voxels."""
        ijk = np.array(list(itertools.product(*[(0, n - 1) for n in self.shape])), float)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def to_json(self) -> dict[str, object]:
        """Shape, spacing, orientation and origin, as the CLI prints them."""
        return {
            "shape": list(self.shape),
            "spacing": [round(s, 4) for s in self.spacing],
            "orientation": self.orientation,
            "origin": [round(float(x), 3) for x in self.affine[:3, 3]],
        }


def _facts_of(affine: np.ndarray) -> tuple[tuple[float, float, float], str | None, str]:
    """``_facts`` of an affine, by its values."""
    a = np.asarray(affine, dtype=np.float64)
    return _facts(a.shape, a.tobytes())


@lru_cache(maxsize=1024)
def _facts(shape: tuple[int, ...], affine: bytes) -> tuple[tuple[float, float, float],
                                                           str | None, str]:
    """(the voxel size along each axis, why the affine places no voxel or None, its axis
    codes) of an affine given as its float64 values, remembered by them: a dataset's
    volumes share a few affines (the 117 masks of a TotalSegmentator case one), and each
    volume's spacing, check and orientation, asked while pairing and again for the scan's
    report, cost ~30 us with numpy's error state and determinant (the axis codes ~0.6 ms)."""
    a = np.frombuffer(affine, dtype=np.float64).reshape(shape)
    z = np.sqrt((a[:3, :3] ** 2).sum(axis=0))
    spacing = (float(z[0]), float(z[1]), float(z[2]))
    if not np.isfinite(a).all():
        why: str | None = "NaN or infinite values in its affine"
    else:
        with np.errstate(all="ignore"):
            why = None if abs(float(np.linalg.det(a[:3, :3]))) > 1e-12 else "a zero voxel size"
    if why is not None:
        return spacing, why, "???"
    codes = nib.aff2axcodes(a)
    return spacing, why, "".join(c or "?" for c in codes)


class Relation(StrEnum):
    """How a mask grid relates to its image grid."""

    SAME = "same"  # identical grid (within tolerance)
    REORIENTED = "reoriented"  # same voxels, axes flipped and/or permuted
    CROP = "crop"  # same voxel lattice, a smaller box inside the image (or offset from it)
    SHIFTED = "shifted"  # the image's grid (same size and axes) moved by whole voxels
    TRANSPOSED = "transposed"  # the image's affine over an array with its axes permuted
    FLIPPED = "flipped"  # the image's grid with an axis reversed about the wrong end
    RESOLUTION = "resolution"  # other voxel size, overlapping the image
    INCOMPATIBLE = "incompatible"  # rotated, shifted by a fraction of a voxel, or elsewhere


@dataclass(frozen=True)
class GridMatch:
    """The result of comparing a mask grid with its image grid."""

    relation: Relation
    image: Grid
    mask: Grid
    max_corner_mm: float
    tolerance_mm: float
    index_map: np.ndarray | None  # 4x4: mask voxel index -> image voxel index (exact cases)
    inside: bool  # the mask's voxels all fall inside the image
    message: str

    @property
    def aligned(self) -> bool:
        """True when the mask's voxels map one-to-one onto the image's."""
        return self.relation in (Relation.SAME, Relation.REORIENTED)

    @property
    def alignable(self) -> bool:
        """True when the mask can be drawn on the image (exactly or by resampling)."""
        return self.relation != Relation.INCOMPATIBLE

    def to_json(self) -> dict[str, object]:
        return {
            "relation": str(self.relation),
            "image": self.image.to_json(),
            "mask": self.mask.to_json(),
            "max_corner_mm": round(self.max_corner_mm, 4),
            "tolerance_mm": round(self.tolerance_mm, 4),
            "message": self.message,
        }


def default_tolerance(image: Grid) -> float:
    """Tolerance in mm: a tenth of the smallest voxel (float32 headers round affines)."""
    return max(1e-3, 0.1 * min(image.spacing))


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def _spacing(g: Grid) -> str:
    return "x".join(f"{s:.3g}" for s in g.spacing) + " mm"


def unusable(grid: Grid) -> str | None:
    """Why ``grid`` places no voxel in the world (NaN or infinite values in its affine, a
    zero voxel size), or None when it is usable."""
    return _facts_of(grid.affine)[1]


def _unusable_match(image: Grid, mask: Grid, tol: float) -> GridMatch | None:
    for which, grid in (("image", image), ("mask", mask)):
        why = unusable(grid)
        if why is not None:
            return GridMatch(Relation.INCOMPATIBLE, image, mask, 0.0, tol, None, False,
                             f"The {which}'s grid ({_fmt(grid.shape)}) has no usable geometry "
                             f"({why}), so it cannot be placed in world space.")
    return None


def compare_grids(image: Grid, mask: Grid, tolerance_mm: float | None = None) -> GridMatch:
    """Classify how ``mask`` sits on ``image`` in world space (see Relation).

    Remembered per (image grid, mask grid, tolerance): a scan compares the 117 masks of a
    case, all on one grid, with the same image again and again. The result is shared:
    its ``index_map`` is read-only."""
    tol = default_tolerance(image) if tolerance_mm is None else tolerance_mm
    return _compare_cached(image, mask, float(tol))


@functools.lru_cache(maxsize=4096)
def _compare_cached(image: Grid, mask: Grid, tol: float) -> GridMatch:
    match = _compare(image, mask, tol)
    if match.index_map is not None:
        match.index_map.setflags(write=False)
    return match


def _compare(image: Grid, mask: Grid, tol: float) -> GridMatch:
    if (broken := _unusable_match(image, mask, tol)) is not None:
        return broken
    # Index map: mask voxel -> image voxel, in continuous index space.
    t = np.linalg.solve(image.affine, mask.affine)
    lin, off = t[:3, :3], t[:3, 3]
    perm = np.round(lin)
    is_signed_perm = (
        np.allclose(np.abs(perm).sum(axis=0), 1) and np.allclose(np.abs(perm).sum(axis=1), 1)
    )
    spacing = np.array(image.spacing)
    # Error in mm of pretending the map is an exact integer lattice map.
    lattice_err = np.abs(lin - perm) @ (np.array(mask.shape) - 1) * spacing
    off_err = np.abs(off - np.round(off)) * spacing
    exact = is_signed_perm and float(lattice_err.max() + off_err.max()) <= tol

    mcorners = mask.corners()
    icorners = image.corners()
    if exact:
        index_map = np.eye(4)
        index_map[:3, :3] = perm
        index_map[:3, 3] = np.round(off)
        far = index_map[:3, :3] @ (np.array(mask.shape) - 1) + index_map[:3, 3]
        lo = np.minimum(index_map[:3, 3], far)
        hi = np.maximum(index_map[:3, 3], far)
        inside = bool((lo >= 0).all() and (hi <= np.array(image.shape) - 1).all())
        full = inside and bool((lo == 0).all() and (hi == np.array(image.shape) - 1).all())
        # Corner distance after matching each mask corner to the image corner it maps to.
        mapped = np.c_[np.array(list(itertools.product(*[(0, n - 1) for n in mask.shape]))),
                       np.ones(8)] @ index_map.T
        dist = float(np.abs(
            (np.c_[mapped[:, :3], np.ones(8)] @ image.affine.T)[:, :3]
            - mcorners).max(initial=0.0))
        if full and np.allclose(perm, np.eye(3)):
            return GridMatch(Relation.SAME, image, mask, dist, tol, index_map, True,
                             f"Same grid as the image ({_fmt(image.shape)}, {_spacing(image)}).")
        if full:
            return GridMatch(
                Relation.REORIENTED, image, mask, dist, tol, index_map, True,
                f"Same voxels as the image, but stored with axes {mask.orientation} where the "
                f"image has {image.orientation}; it lines up in world space once reoriented.")
        overlap = _overlap_fraction(lo, hi, np.array(image.shape))
        where = "inside the image" if inside else (
            f"{100 * overlap:.0f}% inside the image" if overlap > 0 else "outside the image")
        named = _lattice_relation(image, mask, perm, lo, where)
        relation, text = named if named is not None else (Relation.CROP, (
            f"The mask ({_fmt(mask.shape)}) covers a box of the image's grid "
            f"({_fmt(image.shape)}), {where}, offset by {np.round(lo).astype(int).tolist()} "
            "voxels."))
        return GridMatch(
            relation if overlap > 0 else Relation.INCOMPATIBLE, image, mask,
            _corner_gap(icorners, mcorners), tol, index_map if overlap > 0 else None, inside,
            text)
    # Not one lattice: another resolution (axes still aligned), or incompatible.
    axis_aligned = _axis_aligned(lin)
    gap = _corner_gap(icorners, mcorners)
    ilo, ihi = icorners.min(axis=0), icorners.max(axis=0)
    mlo, mhi = mcorners.min(axis=0), mcorners.max(axis=0)
    overlaps = bool((np.minimum(ihi, mhi) - np.maximum(ilo, mlo) > -tol).all())
    same_spacing = bool(np.allclose(np.abs(lin).max(axis=0), 1.0, atol=1e-3))
    if axis_aligned and overlaps and not same_spacing:
        return GridMatch(
            Relation.RESOLUTION, image, mask, gap, tol, None, False,
            f"The mask has another voxel size ({_spacing(mask)}, {_fmt(mask.shape)}) than the "
            f"image ({_spacing(image)}, {_fmt(image.shape)}); its corners are up to {gap:.1f} mm "
            "from the image's.")
    why = _incompatible_why(image, mask, overlaps, axis_aligned, off)
    return GridMatch(
        Relation.INCOMPATIBLE, image, mask, gap, tol, None, False,
        f"The mask ({_fmt(mask.shape)}, {mask.orientation}, {_spacing(mask)}) {why} "
        f"({_fmt(image.shape)}, {image.orientation}, {_spacing(image)}); corners differ by up "
        f"to {gap:.1f} mm (tolerance {tol:.2g} mm).")


_AXES = "ijk"


def _incompatible_why(image: Grid, mask: Grid, overlaps: bool, axis_aligned: bool,
                      off: np.ndarray) -> str:
    """Why a mask's grid is no lattice of the image's: elsewhere, rotated, or moved (by how
    much: ``off`` is the mask's first voxel in image voxel indices)."""
    if not overlaps:
        return "does not overlap the image in world space"
    if not axis_aligned:
        return "is rotated relative to the image"
    shift = mask.affine[:3, 3] - image.affine[:3, 3]
    if mask.shape == image.shape and np.allclose(mask.affine[:3, :3], image.affine[:3, :3]):
        return (f"is the image's grid shifted by {float(np.linalg.norm(shift)):.3g} mm "
                f"({', '.join(f'{d:+.3g}' for d in shift)} mm in x, y, z; "
                f"{', '.join(f'{v:+.3g}' for v in off)} voxels), not a whole number of voxels, "
                "so no voxel lands on one of the image's")
    return "is shifted by a fraction of a voxel"


def _lattice_relation(image: Grid, mask: Grid, perm: np.ndarray, lo: np.ndarray, where: str
                      ) -> tuple[Relation, str] | None:
    """What happened to a mask on the image's lattice that is not a crop of it: the same
    box moved (SHIFTED), the image's affine over an array whose axes were permuted
    (TRANSPOSED), or an axis reversed without moving the origin (FLIPPED); None for a
    real crop (another box size). ``lo`` is the mask's lowest image index."""
    if sorted(mask.shape) != sorted(image.shape):
        return None
    src = np.argmax(np.abs(perm), axis=1)  # image axis a runs along mask axis src[a]
    seen = tuple(mask.shape[int(src[a])] for a in range(3))
    if seen != image.shape:
        return Relation.TRANSPOSED, (
            f"The mask's array is {_fmt(mask.shape)} where the image's is {_fmt(image.shape)}, "
            f"on the image's geometry: its axes were {_permutation_text(mask.shape, image.shape)} "
            f"without the affine being changed, so its voxels land in the wrong place ({where}).")
    flips = [_AXES[a] for a in range(3) if perm[a, int(src[a])] < 0]
    if flips:
        return Relation.FLIPPED, (
            f"The mask ({_fmt(mask.shape)}) is the image's grid flipped along axis "
            f"{', '.join(flips)} about its first voxel instead of its centre (its affine "
            f"reverses the axis but keeps the origin), so it lands {where}, offset by "
            f"{np.round(lo).astype(int).tolist()} voxels.")
    shift = mask.affine[:3, 3] - image.affine[:3, 3]
    voxels = np.round(lo).astype(int).tolist()
    return Relation.SHIFTED, (
        f"The mask is the image's grid ({_fmt(image.shape)}, {_spacing(image)}) shifted by "
        f"{float(np.linalg.norm(shift)):.3g} mm ({', '.join(f'{d:+.3g}' for d in shift)} mm "
        f"in x, y, z; {voxels} voxels): its origin differs from the image's, so it lands "
        f"{where}.")


def _permutation_text(shape: tuple[int, int, int], seen: tuple[int, ...]) -> str:
    """How the axes of an array of ``shape`` were reordered to give ``seen``: reversed
    (a transpose, ``arr.T``), two swapped, or permuted."""
    fits = [p for p in itertools.permutations(range(3))
            if tuple(shape[i] for i in p) == seen]
    if (2, 1, 0) in fits:
        return "transposed (reversed, as arr.T does)"
    swaps = [p for p in fits if sum(p[a] != a for a in range(3)) == 2]
    if swaps:
        a, b = (i for i in range(3) if swaps[0][i] != i)
        return f"swapped ({_AXES[a]} and {_AXES[b]})"
    return "permuted"


def _axis_aligned(lin: np.ndarray) -> bool:
    # Each mask axis runs along exactly one image axis (scaled, maybe flipped).
    big = np.abs(lin) > 1e-6 * np.abs(lin).max()
    return bool((big.sum(axis=0) == 1).all() and (big.sum(axis=1) == 1).all())


def _overlap_fraction(lo: np.ndarray, hi: np.ndarray, shape: np.ndarray) -> float:
    inter = np.clip(np.minimum(hi, shape - 1) - np.maximum(lo, 0) + 1, 0, None)
    size = hi - lo + 1
    return float(np.prod(inter) / np.prod(size))


def _corner_gap(a: np.ndarray, b: np.ndarray) -> float:
    # Max over corners of the distance to the nearest corner of the other box.
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def align_to_image(mask: np.ndarray, match: GridMatch, fill: int = 0) -> np.ndarray:
    """The mask's voxels on the image grid (shape ``match.image.shape``).

    Exact for SAME, REORIENTED and CROP (voxels outside the mask get ``fill``);
    nearest neighbour for RESOLUTION. Raises ValueError for INCOMPATIBLE.
    """
    image = match.image
    if match.relation == Relation.INCOMPATIBLE:
        raise ValueError(match.message)
    if match.relation == Relation.SAME:
        return mask
    if match.index_map is not None:
        m = match.index_map
        # Image axis a takes mask axis src[a], flipped when the sign is negative.
        src = np.argmax(np.abs(m[:3, :3]), axis=1)
        sign = m[np.arange(3), src]
        view = np.transpose(mask, src)
        slices_out, slices_in = [], []
        for a in range(3):
            n_in = view.shape[a]
            start = int(m[a, 3]) if sign[a] > 0 else int(m[a, 3]) - (n_in - 1)
            if sign[a] < 0:
                view = np.flip(view, axis=a)
            lo, hi = max(0, start), min(image.shape[a], start + n_in)
            slices_out.append(slice(lo, hi))
            slices_in.append(slice(lo - start, hi - start))
        if match.relation == Relation.REORIENTED:
            return np.ascontiguousarray(view)
        out = np.full(image.shape, fill, dtype=mask.dtype)
        out[tuple(slices_out)] = view[tuple(slices_in)]
        return out
    # Another resolution: nearest neighbour, computed per image axis (axis-aligned grids).
    t = np.linalg.solve(match.mask.affine, image.affine)  # image voxel -> mask voxel
    src = np.argmax(np.abs(t[:3, :3]), axis=0)  # image axis a reads mask axis src[a]
    idx = []
    for a in range(3):
        coord = np.rint(t[src[a], a] * np.arange(image.shape[a]) + t[src[a], 3]).astype(np.intp)
        idx.append(coord)
    valid = [(c >= 0) & (c < match.mask.shape[src[a]]) for a, c in enumerate(idx)]
    out = np.full(image.shape, fill, dtype=mask.dtype)
    # Gather with an open mesh; mask axes reordered so axis a of the result is image axis a.
    perm_mask = np.moveaxis(mask, list(src), [0, 1, 2])
    sub = perm_mask[np.ix_(idx[0][valid[0]], idx[1][valid[1]], idx[2][valid[2]])]
    out[np.ix_(valid[0], valid[1], valid[2])] = sub
    return out
