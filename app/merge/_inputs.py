"""One translation from a series of the items list to the merge RedBrick runs on it.

RedBrick's CLI turns each series into the arguments of its merge
(``process_upload``): the ``segmentations`` as it rewrites them (a relative path
that exists under the list's folder becomes absolute; a folder is listed), the
segmentMap's instance ids with their declared overlap groups (id 0 ignored), the
``mask`` of each entry, and the binaryMask / pngMask flags. Validation, ``segmap
merge``, ``segmap stats``, the preview and the upload all take their merge inputs
from ``series_inputs``, so they cannot disagree about a series.

``SeriesInputs`` is immutable: it can be built on the GUI thread and handed to a
worker, which then never touches the live items list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from app.discover import rt_of
from app.errors import MergeError
from app.items import BACKGROUND, ItemsList, Series, Task, is_remote, sdk_path
from app.merge._engine import MergeResult, merge_files
from app.progress import Work


@dataclass(frozen=True)
class Entry:
    """One ``segmentations`` entry and what RedBrick's CLI makes of it.

    ``sdk`` is the path as the CLI passes it on; ``local`` the file or folder on this
    computer (None for a URL or storage key); ``files`` what it adds to the merge (a
    listed folder: its entries, sorted). RedBrick lists a folder only when it is the
    series' one segmentations entry; a folder among several entries is taken as a
    storage key and fails (``unlisted_folder``). A folder holding anything but files
    (``non_files``) makes RedBrick refuse the whole entry; ``listing_error`` says why a
    folder could not be read.
    """

    written: str
    sdk: str
    local: Path | None
    files: tuple[str, ...]
    folder: bool = False
    non_files: tuple[str, ...] = ()
    listing_error: str | None = None
    unlisted_folder: bool = False


def _entry(path: str, base: Path, only: bool) -> Entry:
    if is_remote(path):
        return Entry(path, path, None, ())
    sdk = sdk_path(path, base)
    local = Path(sdk) if os.path.isabs(sdk) else base / os.path.expanduser(path)
    if not local.is_dir():
        return Entry(path, sdk, local, (sdk,))
    if not only:
        return Entry(path, sdk, local, (sdk,), unlisted_folder=True)
    # RedBrick lists the folder in file-system order; Segmap sorts it so the result
    # is repeatable (validation warns that the order is undefined).
    try:
        names = sorted(os.listdir(local))
    except OSError as exc:
        return Entry(path, sdk, local, (), True, listing_error=str(exc.strerror or exc))
    inside = tuple(os.path.join(sdk, n) for n in names)
    others = tuple(p for p in inside if not os.path.isfile(p))
    return Entry(path, sdk, local, inside, True, non_files=others)


@dataclass(frozen=True)
class SeriesInputs:
    """What RedBrick passes to its merge for one series (see the module docstring)."""

    files: tuple[str, ...]
    instances: Mapping[int, tuple[int, ...] | None]
    binary_mask: bool
    png_mask: bool
    masks: Mapping[str, str | tuple[str, ...]]
    entries: tuple[Entry, ...] = field(default=(), compare=False)

    def merge(self, *, label_validate: bool = False, prune: bool = False) -> Work[MergeResult]:
        """Run the merge on these inputs."""
        return merge_files(self.files, self.instances, binary_mask=self.binary_mask,
                           png_mask=self.png_mask, masks=self.masks,
                           label_validate=label_validate, prune=prune)

    @property
    def list_masks(self) -> dict[str, tuple[str, ...]]:
        """Instances whose ``mask`` is a list (RedBrick's merge fails on them)."""
        return {k: m for k, m in self.masks.items() if not isinstance(m, str)}


def entries_of(paths: Sequence[str], base: Path) -> tuple[Entry, ...]:
    """The ``segmentations`` entries (or a ``labelName``) as RedBrick's CLI resolves them
    against ``base``, the items list's folder: a lone folder is listed."""
    return tuple(_entry(p, base, len(paths) == 1) for p in paths)


def merge_inputs(entries: tuple[Entry, ...], instances: Mapping[int, Sequence[int] | None],
                 binary_mask: bool, png_mask: bool,
                 masks: Mapping[str, str | Sequence[str]]) -> SeriesInputs:
    """Frozen merge inputs (tuples and read-only mappings, copies of what is given)."""
    return SeriesInputs(
        files=tuple(f for e in entries for f in e.files),
        instances=MappingProxyType({k: tuple(v) if v else None for k, v in instances.items()}),
        binary_mask=binary_mask,
        png_mask=png_mask,
        masks=MappingProxyType({k: m if isinstance(m, str) else tuple(m)
                                for k, m in masks.items()}),
        entries=entries,
    )


def _check_index(task: Task, series_index: int) -> Series:
    if not 0 <= series_index < len(task.series):
        raise MergeError(
            f"Task {task.name!r} has {len(task.series)} series; there is no series {series_index}.",
            f"Series are numbered from 0 to {len(task.series) - 1}.",
        )
    return task.series[series_index]


def series_inputs(items: ItemsList, task: Task, series_index: int) -> SeriesInputs:
    """Translate a series of the items list into merge inputs, as the RedBrick CLI does."""
    series = _check_index(task, series_index)
    base = items.base_dir
    rt = rt_of(items, task, series_index)
    if rt is not None and rt.label is not None:  # as --rt-struct fills it: one label map
        return merge_inputs(entries_of([str(rt.label)], base),
                            dict.fromkeys(rt.values.values()), False, False, {})
    smap = task.segment_map_of(series_index)
    instances: dict[int, list[int] | None] = {}
    masks: dict[str, str | list[str]] = {}
    if smap is not None:
        for inst, seg in smap.segments.items():
            if inst != BACKGROUND:  # RedBrick ignores instance id 0
                instances[inst] = seg.overlapping_groups or None
            if isinstance(seg.mask, str):
                masks[str(inst)] = sdk_path(seg.mask, base)
            elif isinstance(seg.mask, list):  # passed on as it is (the CLI rewrites strings)
                masks[str(inst)] = seg.mask
    return merge_inputs(entries_of(series.segmentation_paths, base), instances,
                        series.is_binary, series.flag("pngMask"), masks)


def merge_series(items: ItemsList, task: Task, series_index: int, *,
                 label_validate: bool = False, prune: bool = False) -> Work[MergeResult]:
    """Merge one series of an items list; yields Progress, returns the MergeResult."""
    inputs = series_inputs(items, task, series_index)
    return (yield from inputs.merge(label_validate=label_validate, prune=prune))
