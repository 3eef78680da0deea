"""What the wizard shows for one case: image + merged labels in world space, and statistics.

The labels are the merged volume exactly as RedBrick will receive it (overlap
groups included), placed on the image in world space. Images are the slow part
(DICOM decoding), so the last few are kept in an ``ImageCache``; the merge is
redone after every mapping change (it is fast and keys can change in binary mode).

The work runs on a worker thread from a ``PreviewRequest``: frozen, built on the
GUI thread from the session, so the worker never reads the items list the user is
editing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import InputError
from app.geometry import Grid
from app.merge import MergeResult, SeriesInputs
from app.preview._display import DisplayVolumes
from app.preview._stats import value_stats
from app.progress import Progress, Work, run
from app.readers import ImageHints, image_hints, load_image


@dataclass(frozen=True)
class PreviewRequest:
    """What the preview of one case needs: the image's files and the merge inputs.

    ``merge`` is None when the case has no segmentation file yet.
    """

    case: str
    image: tuple[Path, ...]
    merge: SeriesInputs | None
    # The case's label maps are not in the items list yet (no value is mapped): they
    # are shown unmapped, as RedBrick shows values without a category (view-only).
    unlisted: bool = False


@dataclass(frozen=True)
class ValueStats:
    """Voxels and image intensity of one value of the merged volume."""

    voxels: int
    mean: float
    min: float
    max: float


@dataclass
class CasePreview:
    """A case ready to draw: display volumes, the merge's segment map, per-value stats,
    and how its image asks to be shown (``hints``: modality, the file's window)."""

    case: str
    volumes: DisplayVolumes
    segments: dict[int, list[int] | None]
    stats: dict[int, ValueStats] = field(default_factory=dict)
    merge_error: str | None = None
    hints: ImageHints = field(default_factory=ImageHints)
    unlisted: bool = False

    def instance_means(self) -> dict[int, float]:
        """Mean intensity per instance id, a voxel of an overlap group counting for each member."""
        out: dict[int, float] = {}
        values = set(self.segments) | set(self.stats)
        for inst in values:
            if inst not in self.segments and any(inst in (g or []) for g in self.segments.values()):
                continue  # a group id, not an instance
            members = [inst, *(self.segments.get(inst) or [])]
            hits = [self.stats[v] for v in dict.fromkeys(members) if v in self.stats]
            n = sum(h.voxels for h in hits)
            if n:
                out[inst] = sum(h.mean * h.voxels for h in hits) / n
        return out


class ImageCache:
    """The last few images read (voxels and grid), keyed by their files (thread-safe)."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, ...], tuple[np.ndarray, Grid]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, files: Sequence[Path]) -> Work[tuple[np.ndarray, Grid]]:
        key = tuple(str(f) for f in files)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        got = yield from load_image(list(files))
        with self._lock:
            self._items[key] = got
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return got


def load_case_preview(request: PreviewRequest, cache: ImageCache | None = None
                      ) -> Work[CasePreview]:
    """Read the case's image, merge its masks as RedBrick will, and align them for display."""
    if not request.image:
        raise InputError(f"Case {request.case} has no local image to show.")
    cache = cache or ImageCache(1)
    yield Progress(0, 3, f"Reading the image of {request.case}")
    # The image is read on a second thread while the masks merge on this one: both
    # are mostly I/O and numpy, which release the GIL, so the waits overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        image_future = pool.submit(run, cache.load(request.image))
        merged: MergeResult | None = None
        error = None
        try:
            if request.merge is not None:
                yield Progress(1, 3, "Merging the masks as RedBrick will")
                try:
                    merged = yield from request.merge.merge()
                except Exception as exc:  # noqa: BLE001 - shown beside the image, not fatal
                    error = str(exc)
        finally:
            if not image_future.done():
                image_future.cancel()
        image, grid = image_future.result()
    labels = merged.volume if merged is not None and not merged.empty else None
    lgrid = Grid.of(labels.shape, merged.affine) if labels is not None and merged is not None \
        and merged.affine is not None else None
    segments = dict(merged.segments) if merged is not None else {}
    yield Progress(2, 3, "Placing the labels on the image")
    volumes = DisplayVolumes.build(image, grid, labels, lgrid, segments)
    hints = image_hints(request.image)
    yield Progress(3, 3, "Ready")
    return CasePreview(request.case, volumes, segments, {}, error, hints, request.unlisted)


def preview_stats(preview: CasePreview) -> dict[int, ValueStats]:
    """Voxels and intensity per value of the merged volume (run after the first paint)."""
    vols = preview.volumes
    if vols.labels is None:
        return {}
    return {v: ValueStats(n, s / n if n else 0.0, lo, hi)
            for v, (n, s, lo, hi) in value_stats(vols.labels, vols.image).items()
            if lo is not None and hi is not None}
