"""Thumbnails of a case: its three views through the largest extent of the masks, the
overlay drawn with the preview's own display code (``app.preview``: display volumes,
window presets, lookup tables, the unmapped style and outlines), so report and preview
never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from app.preview import (
    RGB,
    VIEWS,
    CasePreview,
    View,
    default_preset,
    label_lut,
    outline,
    preset_window,
    unmapped_style,
    window_to_uint8,
)

OPACITY = 0.5  # the preview's default label opacity
_SIZE = 256  # the longest side of a thumbnail, in pixels


def _areas(labels: np.ndarray) -> list[np.ndarray]:
    """Per axis, the labelled pixels of each slice across it: one pass of planes along the
    slowest axis (each plane's count, and its mask added into the other two axes' sums),
    3x faster than three reductions of a boolean volume (and no copy of it)."""
    flips = tuple(slice(None, None, -1) if st < 0 else slice(None) for st in labels.strides)
    vol = labels[flips]  # memory order: a plane of the slowest axis is contiguous
    slow = int(np.argmax([abs(st) for st in vol.strides]))
    others = [a for a in range(3) if a != slow]
    along = np.empty(vol.shape[slow], np.int64)
    acc = np.zeros([vol.shape[a] for a in others], np.int32)
    for k in range(vol.shape[slow]):
        plane = vol.take(k, axis=slow) != 0
        along[k] = np.count_nonzero(plane)
        acc += plane
    areas: list[np.ndarray] = [along] * 3
    areas[others[0]] = acc.sum(axis=1)
    areas[others[1]] = acc.sum(axis=0)
    return [a[::-1] if st < 0 else a for a, st in zip(areas, labels.strides, strict=True)]


def largest_extent(preview: CasePreview) -> dict[View, int]:
    """Per view the slice (the user's numbering) where the masks together cover most
    pixels; the middle slice when there are no labels."""
    vols = preview.volumes
    labels = None if vols.labels is None else np.asarray(vols.labels)
    areas = _areas(labels) if labels is not None and labels.size else None
    out: dict[View, int] = {}
    for axis, view in enumerate(VIEWS):
        n = vols.n_slices(view)
        if areas is None or not areas[axis].any():
            out[view] = n // 2
            continue
        out[view] = n - 1 - int(np.argmax(areas[axis]))  # display index to the user's number
    return out


def _resample(a: np.ndarray, pixel: tuple[float, float]) -> np.ndarray:
    """Nearest-neighbour resampling to square pixels, the longest side ``_SIZE``."""
    h_mm, w_mm = a.shape[0] * pixel[0], a.shape[1] * pixel[1]
    scale = _SIZE / max(h_mm, w_mm, 1e-6)
    h = max(1, round(h_mm * scale))
    w = max(1, round(w_mm * scale))
    rows = np.minimum((np.arange(h) + 0.5) * a.shape[0] / h, a.shape[0] - 1).astype(np.int64)
    cols = np.minimum((np.arange(w) + 0.5) * a.shape[1] / w, a.shape[1] - 1).astype(np.int64)
    return a[rows[:, None], cols[None, :]]


def _blend(rgb: np.ndarray, lut: np.ndarray, labels: np.ndarray) -> None:
    """Draw ``lut[labels]`` (RGBA) over ``rgb`` in place."""
    rgba = lut[np.minimum(labels, len(lut) - 1)]
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    mixed = rgb.astype(np.float32) * (1 - alpha) + rgba[..., :3].astype(np.float32) * alpha
    rgb[...] = np.rint(mixed).astype(np.uint8)


def thumbnails(preview: CasePreview, colours: Mapping[int, RGB],
               unmapped: Iterable[int] = ()) -> dict[View, np.ndarray]:
    """RGB thumbnails (uint8, (h, w, 3)) of the three views, overlay composited."""
    vols = preview.volumes
    preset = default_preset(vols.image, preview.hints)
    centre, width = preset_window(preset, vols.image, preview.hints)
    size = int(vols.labels.max()) + 1 if vols.labels is not None and vols.labels.size else 0
    lut = label_lut(vols.segments, colours, OPACITY, size=size)
    fill, edge = unmapped_style(lut, unmapped)
    out: dict[View, np.ndarray] = {}
    for view, index in largest_extent(preview).items():
        image2d, labels2d = vols.slice(view, index)
        grey = window_to_uint8(np.asarray(image2d), centre, width)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        if labels2d is not None:
            labels = np.asarray(labels2d).astype(np.int64)
            _blend(rgb, fill, labels)
            _blend(rgb, edge, outline(labels))
        out[view] = _resample(rgb, vols.pixel_size(view))
    return out
