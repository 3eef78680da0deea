"""How the preview paints slices: window/level, label colours, outlines.

All of it is numpy on 2-D slices or small lookup tables, so the widget only shows
arrays. ``app.preview`` exports them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import numpy as np

from app.readers import ImageHints

RGB = tuple[int, int, int]

# CT windows as (centre, width) in Hounsfield units; the usual radiology presets.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "abdomen": (60.0, 400.0),
}
AUTO = "auto"  # robust percentiles of the volume: for MR and anything not in HU
FILE = "file"  # the window the image's file carries (DICOM Window Center / Width)
PRESET_NAMES: tuple[str, ...] = (AUTO, *WINDOW_PRESETS)
_SAMPLE_VOXELS = 1 << 20  # auto windows and CT detection look at about 1 M voxels


def _sample(volume: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil((volume.size / _SAMPLE_VOXELS) ** (1 / 3))))
    s = volume[::step, ::step, ::step] if volume.ndim == 3 else volume[::step]
    return np.asarray(s, dtype=np.float64).ravel()


def auto_window(volume: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """(centre, width) spanning the ``low``..``high`` percentiles of ``volume``.

    Percentiles of a strided sample (about 1 M voxels), so one bright artefact or a
    sea of background does not wash the picture out.
    """
    s = _sample(volume)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(s, [low, high])
    if hi <= lo:
        lo, hi = float(s.min()), float(s.max())
    width = max(float(hi - lo), 1e-6)
    return float(lo + width / 2), width


def looks_like_ct(volume: np.ndarray) -> bool:
    """True when the values look like Hounsfield units (air near -1000, tissue near 0)."""
    s = _sample(volume)
    if s.size == 0:
        return False
    p1, p50, p99 = np.percentile(s, [1, 50, 99])
    return bool(-1100 <= p1 <= -500 and p99 >= 0 and p50 > -1100)


def default_preset(volume: np.ndarray, hints: ImageHints | None = None) -> str:
    """The preset an image opens with, as a viewer opens it: the window its file carries
    (``FILE``), else soft tissue for CT (its DICOM modality says so, or its values look
    like Hounsfield units), else ``auto``."""
    if hints is not None and hints.window is not None:
        return FILE
    if hints is not None and hints.modality:
        return "soft tissue" if hints.modality == "CT" else AUTO
    return "soft tissue" if looks_like_ct(volume) else AUTO


def preset_window(name: str, volume: np.ndarray, hints: ImageHints | None = None
                  ) -> tuple[float, float]:
    """(centre, width) of a named preset; ``auto`` is computed from ``volume``, ``FILE``
    is the window of ``hints`` (the image's file)."""
    if name == AUTO:
        return auto_window(volume)
    if name == FILE:
        if hints is None or hints.window is None:
            raise ValueError("the image's file carries no window")
        return hints.window
    try:
        return WINDOW_PRESETS[name]
    except KeyError:
        known = ", ".join(PRESET_NAMES)
        raise ValueError(f"unknown window preset {name!r}; known: {known}") from None


def slice_histogram(image2d: np.ndarray, bins: int = 64) -> tuple[np.ndarray, float, float]:
    """(counts, lowest, highest) of a slice's values in ``bins`` equal bins (for the small
    histogram beside the window; an empty or constant slice gives one full bin)."""
    values = np.asarray(image2d)
    if values.size == 0:
        return np.zeros(bins, np.int64), 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        counts = np.zeros(bins, np.int64)
        counts[0] = values.size
        return counts, lo, lo + 1.0
    counts, _ = np.histogram(values, bins=bins, range=(lo, hi))
    return counts, lo, hi


def window_to_uint8(image2d: np.ndarray, center: float, width: float,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Grey levels 0..255 of a slice seen through a window (linear, clipped).

    Values at or below ``center - width/2`` are black, at or above ``center + width/2``
    white. ``out`` (uint8, same shape) is reused when given.
    """
    width = max(float(width), 1e-6)
    lo = float(center) - width / 2
    f = np.subtract(image2d, lo, dtype=np.float32)
    f *= np.float32(255.0 / width)
    np.clip(f, 0, 255, out=f)
    if out is None:
        out = np.empty(image2d.shape, np.uint8)
    np.add(f, 0.5, out=f)  # round half up when truncating
    out[...] = f
    return out


# Distinct, saturated colours that stay visible on dark tissue and on bone (no white,
# cream, grey or black): value 1 gets the first. The next ones up to ``_PICKED`` are
# chosen one by one as far as possible (CIELAB) from all before them; beyond, hues
# step by the golden angle.
DISTINCT_COLOURS: tuple[RGB, ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128),
    (170, 110, 40), (255, 105, 180), (0, 200, 120), (100, 100, 255), (128, 128, 0),
    (200, 0, 100), (255, 160, 0), (0, 160, 255), (150, 0, 0), (40, 40, 160),
)
_PICKED = 256


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (n, 3) 0..255 to CIELAB (D65)."""
    c = rgb.astype(np.float64) / 255
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                        [0.0193, 0.1192, 0.9505]]).T / np.array([0.9505, 1.0, 1.089])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


@functools.cache
def _picked() -> np.ndarray:
    """The first ``_PICKED`` colours (uint8, (n, 3)): the list, then farthest-point picks."""
    steps = np.arange(0, 256, 17)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    lab = _lab(grid)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] > 35) & (lab[:, 0] < 88) & (chroma > 35)  # no greys, no cream
    grid, lab = grid[keep], lab[keep]
    chosen = [np.asarray(c, np.uint8) for c in DISTINCT_COLOURS]
    nearest = np.min(np.linalg.norm(lab[:, None] - _lab(np.array(chosen))[None], axis=2), axis=1)
    while len(chosen) < _PICKED:
        i = int(np.argmax(nearest))
        chosen.append(grid[i].astype(np.uint8))
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[i], axis=1))
    return np.array(chosen, np.uint8)


def default_colours(values: np.ndarray) -> np.ndarray:
    """Distinct, stable colours (..., 3) uint8 for label values (or palette positions).

    Value 1 takes the first colour; neighbouring values get far-apart colours. Value 0
    (background, never shown) takes the last picked colour.
    """
    v = np.asarray(values, np.int64).ravel()
    out = np.empty((v.size, 3), np.uint8)
    picked = _picked()
    small = (v >= 0) & (v <= len(picked))
    out[small] = picked[(v[small] - 1) % len(picked)]
    rest = v[~small]
    if rest.size:
        h = (rest * 0.618033988749895) % 1.0
        i = np.floor(h * 6).astype(np.int64) % 6
        f = h * 6 - np.floor(h * 6)
        sat, val = 0.85, 0.9
        p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
        vv, pp = np.full_like(h, val), np.full_like(h, p)
        rgb = np.stack([np.choose(i, [vv, q, pp, pp, t, vv]), np.choose(i, [t, vv, vv, q, pp, pp]),
                        np.choose(i, [pp, pp, t, vv, vv, q])], axis=-1)
        out[~small] = np.rint(rgb * 255).astype(np.uint8)
    return out.reshape(*np.shape(values), 3)


def default_colour(value: int) -> RGB:
    """The colour ``default_colours`` gives one value."""
    r, g, b = (int(x) for x in default_colours(np.array([value]))[0])
    return r, g, b


class Palette:
    """Distinct colours for names (categories): each keeps the colour it was first given.

    A session shows a category in the same colour in every case, whatever its value
    there, when the taxonomy gives it none.
    """

    def __init__(self) -> None:
        self._given: dict[str, RGB] = {}

    def colour(self, name: str) -> RGB:
        if name not in self._given:
            self._given[name] = default_colour(len(self._given) + 1)
        return self._given[name]


def group_members(segments: Mapping[int, list[int] | None]) -> dict[int, tuple[int, ...]]:
    """Overlap group id -> the instance ids it holds, from ``MergeResult.segments``."""
    groups: dict[int, list[int]] = {}
    for inst, ids in segments.items():
        for g in ids or ():
            groups.setdefault(int(g), []).append(int(inst))
    return {g: tuple(sorted(m)) for g, m in groups.items()}


def label_lut(
    segments: Mapping[int, list[int] | None],
    colours: Mapping[int, RGB],
    opacity: float,
    visible: set[int] | None = None,
    solo: int | None = None,
    size: int = 0,
) -> np.ndarray:
    """RGBA lookup table (N, 4) uint8 indexed by label voxel value; 0 is transparent.

    ``segments`` is ``MergeResult.segments`` (instance id -> overlap group ids);
    ``colours`` the instance colours (missing ones get ``default_colour``);
    ``opacity`` in 0..1. An instance shows when it is in ``visible`` (None: all)
    or, when ``solo`` is set, only when it is ``solo``. An overlap group voxel shows
    when any of its members shows, in the mean colour of its showing members: hiding
    one of two overlapping labels leaves the overlap in the other's colour, and
    soloing a label shows its full extent, overlaps included. N is at least ``size``
    and one more than the largest instance or group id; values in the volume that
    are not in ``segments`` are instances of their own.
    """
    groups = group_members(segments)
    n = max([size, 1, *(k + 1 for k in segments), *(g + 1 for g in groups)])
    alpha = int(round(255 * min(max(opacity, 0.0), 1.0)))

    def shows(inst: int) -> bool:
        if solo is not None:
            return inst == solo
        return visible is None or inst in visible

    def colour(inst: int) -> RGB:
        c = colours.get(inst)
        return (int(c[0]), int(c[1]), int(c[2])) if c is not None else default_colour(inst)

    # Every value first as an instance of its own, then the known instances and groups.
    lut = np.zeros((n, 4), np.uint8)
    lut[1:, :3] = default_colours(np.arange(1, n))
    if solo is not None:
        if 0 < solo < n:
            lut[solo, 3] = alpha
    elif visible is None:
        lut[1:, 3] = alpha
    else:
        shown_ids = [v for v in visible if 0 < v < n]
        lut[shown_ids, 3] = alpha
    for inst in {*segments, *colours}:
        if 0 < inst < n:
            lut[inst, :3] = colour(inst)
    for g, members in groups.items():
        shown = [colour(m) for m in members if shows(m)]
        lut[g, 3] = alpha if shown else 0
        if shown:
            lut[g, :3] = np.rint(np.mean(np.array(shown, np.float64), axis=0)).astype(np.uint8)
    return lut


def unmapped_style(lut: np.ndarray, unmapped: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables that show unmapped values in their own style: (fill, edge).

    A value without a category is imported by RedBrick as a view-only annotation. It
    keeps its colour but gets a faint fill (a third of its opacity) in ``fill`` and a
    crisp edge (twice its opacity) in ``edge``, to be drawn over the outline of the
    slice; ``edge`` is 0 for every other value. Visibility (alpha 0 in ``lut``) is kept.
    """
    marked = np.zeros(len(lut), np.bool_)
    marked[[v for v in unmapped if 0 < v < len(lut)]] = True
    fill = lut.copy()
    alpha = lut[marked, 3].astype(np.int32)
    fill[marked, 3] = alpha // 3
    edge = np.zeros_like(lut)
    edge[marked, :3] = lut[marked, :3]
    edge[marked, 3] = np.minimum(255, alpha * 2)
    return fill, edge


def outline(labels2d: np.ndarray) -> np.ndarray:
    """Only the boundary pixels of each label region (4-neighbourhood), others 0.

    A pixel is on a boundary when a 4-neighbour holds another value; beyond the
    slice's edge counts as background, so regions cut by the edge stay closed.
    """
    a = labels2d
    edge = np.ones(a.shape, np.bool_)
    if a.shape[0] > 2 and a.shape[1] > 2:
        inner = a[1:-1, 1:-1]
        edge[1:-1, 1:-1] = ((inner != a[:-2, 1:-1]) | (inner != a[2:, 1:-1])
                            | (inner != a[1:-1, :-2]) | (inner != a[1:-1, 2:]))
    out = np.zeros_like(a)
    np.copyto(out, a, where=edge)
    return out
