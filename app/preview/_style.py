"""How the preview paints slices: window/level, label colours, outlines.

All of it is numpy on 2-D slices or small lookup tables, so the widget only shows
arrays. ``app.preview`` exports them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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


def default_preset(volume: np.ndarray) -> str:
    """The preset a volume opens with: soft tissue for CT, auto for anything else."""
    return "soft tissue" if looks_like_ct(volume) else AUTO


def preset_window(name: str, volume: np.ndarray) -> tuple[float, float]:
    """(centre, width) of a named preset; ``auto`` is computed from ``volume``."""
    if name == AUTO:
        return auto_window(volume)
    try:
        return WINDOW_PRESETS[name]
    except KeyError:
        known = ", ".join(PRESET_NAMES)
        raise ValueError(f"unknown window preset {name!r}; known: {known}") from None


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


def default_colours(values: np.ndarray) -> np.ndarray:
    """Distinct, stable colours (len, 3) uint8 for labels without a taxonomy colour.

    Hues step by the golden angle, so neighbouring values get far-apart hues.
    """
    h = (np.asarray(values, np.float64) * 0.618033988749895) % 1.0
    s, v = 0.75, 0.95
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    vv = np.full_like(h, v)
    pp = np.full_like(h, p)
    r = np.choose(i, [vv, q, pp, pp, t, vv])
    g = np.choose(i, [t, vv, vv, q, pp, pp])
    b = np.choose(i, [pp, pp, t, vv, vv, q])
    return np.rint(np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def default_colour(value: int) -> RGB:
    """The colour ``default_colours`` gives one value."""
    r, g, b = (int(x) for x in default_colours(np.array([value]))[0])
    return r, g, b


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
