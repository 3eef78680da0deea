"""World geometry of a stack of DICOM slices, in nibabel's RAS+ convention.

DICOM places pixel (column c, row r) of a slice at
``ImagePositionPatient + c * ΔX * row_cosines + r * ΔY * column_cosines`` in LPS
millimetres (ΔX is PixelSpacing[1], the distance between columns). The voxel
array is indexed [i=column, j=row, k=slice], so the affine's columns are the row
cosines, the column cosines and the step between sorted slice positions; the
slice step is the real distance between positions, not SliceThickness. The LPS
affine becomes RAS by negating its first two rows.

``analyse_positions`` reports what makes a stack irregular (missing slices,
uneven spacing, gantry tilt) with the numbers, in words a user can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
ORIENTATION_TOLERANCE = 1e-3  # direction cosines differing by less are the same orientation
TILT_DEGREES = 0.05  # a shear below this is rounding noise in the positions


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of the slice plane: row cosines x column cosines."""
    o = np.asarray(orientation, dtype=np.float64)
    n = np.cross(o[:3], o[3:])
    norm = float(np.linalg.norm(n))
    return n / norm if norm > 0 else n


def same_orientation(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when two ImageOrientationPatient values describe the same plane and axes."""
    return bool(np.max(np.abs(np.asarray(a) - np.asarray(b))) < ORIENTATION_TOLERANCE)


def ras_affine(orientation: Sequence[float], pixel_spacing: Sequence[float],
               first_position: Sequence[float], step: np.ndarray) -> np.ndarray:
    """The RAS+ affine of voxel [column, row, slice] given the slice step vector (LPS mm)."""
    o = np.asarray(orientation, dtype=np.float64)
    lps = np.eye(4)
    lps[:3, 0] = o[:3] * float(pixel_spacing[1])
    lps[:3, 1] = o[3:] * float(pixel_spacing[0])
    lps[:3, 2] = step
    lps[:3, 3] = np.asarray(first_position, dtype=np.float64)
    return LPS_TO_RAS @ lps


@dataclass
class StackGeometry:
    """The slice step of a sorted stack and what is irregular about it."""

    step: np.ndarray  # LPS mm from one slice to the next
    warnings: list[str] = field(default_factory=list)
    max_error_mm: float = 0.0  # worst distance of a real slice from its place on the grid


def _mm(x: float) -> str:
    return f"{x:.3g} mm"


def analyse_positions(positions: np.ndarray, normal: np.ndarray, names: Sequence[str],
                      thickness: float | None = None, tilt_tag: float | None = None
                      ) -> StackGeometry:
    """Step vector and warnings for slice positions (n, 3) sorted along ``normal``.

    The grid places slice k at ``positions[0] + k * step`` with
    ``step = (last - first) / (n - 1)``: first and last slices are exact, and a
    gantry tilt stays in the affine as a shear (world positions stay right).
    """
    n = len(positions)
    if n == 1:
        size = thickness if thickness and thickness > 0 else 1.0
        geo = StackGeometry(step=normal * size)
        if not thickness:
            geo.warnings.append("No slice thickness: a single slice is given 1 mm depth.")
        return geo
    step = (positions[-1] - positions[0]) / (n - 1)
    geo = StackGeometry(step=step)
    dist = np.diff(positions @ normal)
    typical = float(np.median(dist))
    ideal = positions[0] + np.arange(n)[:, None] * step
    geo.max_error_mm = float(np.max(np.linalg.norm(positions - ideal, axis=1)))
    tol = max(1e-3, 0.01 * typical)
    gaps = np.flatnonzero(dist > 1.5 * typical)
    if gaps.size:
        missing = int(sum(max(1, round(float(dist[g]) / typical) - 1) for g in gaps))
        g = int(gaps[0])
        geo.warnings.append(
            f"Missing slices: about {missing} slice(s) missing; e.g. {_mm(float(dist[g]))} "
            f"between {names[g]} and {names[g + 1]} where slices are {_mm(typical)} apart. "
            f"The volume spreads {n} slices evenly, so slices are up to "
            f"{_mm(geo.max_error_mm)} from their true place; find the missing files.")
    elif float(np.max(np.abs(dist - typical))) > tol:
        k = int(np.argmax(np.abs(dist - typical)))
        geo.warnings.append(
            f"Uneven spacing: slices are {_mm(float(dist.min()))} to {_mm(float(dist.max()))} "
            f"apart (median {_mm(typical)}; e.g. {_mm(float(dist[k]))} between {names[k]} and "
            f"{names[k + 1]}). The volume assumes an even {_mm(float(step @ normal))}; slices "
            f"are up to {_mm(geo.max_error_mm)} from their true place.")
    along = float(step @ normal)
    across = float(np.linalg.norm(step - along * normal))
    angle = float(np.degrees(np.arctan2(across, along)))
    if abs(angle) > TILT_DEGREES and across * (n - 1) > tol:
        tag = f" (GantryDetectorTilt {tilt_tag:g}°)" if tilt_tag else ""
        geo.warnings.append(
            f"Gantry tilt: each slice is shifted {_mm(across)} in-plane, a tilt of "
            f"{angle:.2f}°{tag}. The grid keeps the shear so voxels stay at their true world "
            "positions; a mask made on a resampled (untilted) copy will not line up.")
    elif not geo.warnings and geo.max_error_mm > max(tol, 0.1 * typical):
        geo.warnings.append(
            f"Irregular positions: slices stray up to {_mm(geo.max_error_mm)} from a straight, "
            "even stack.")
    return geo
