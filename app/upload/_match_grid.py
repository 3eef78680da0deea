"""Does a local mask fit the grid of the remote series it would label?

A mask attached to a task already in RedBrick is drawn on the image RedBrick holds, so
its grid (shape and affine, read from headers only) must be that image's. The image's
grid comes from, in this order: the remote series' ``imageHeaders``; the local image of
the task (its ``items``), when it is here; else the remote series' instance count,
checked as the slice count only. Grids are compared by ``app.geometry.compare_grids``,
the validator's comparison; a mask fits when its voxels land one-to-one on the image's
(``GridMatch.aligned``: the same grid, or the same voxels with axes stored otherwise,
which validation only warns about).

``imageHeaders`` [inferred, not checked against the server]: SimpleITK's names and
conventions, ``dimensions`` (i, j, k), ``spacing`` (mm), ``origin`` and ``direction``
(9 numbers, row-major, columns are the axes) in DICOM's LPS world, or a 4x4 ``affine``
voxel -> LPS; one dict per instance, a 2-D slice each for DICOM (the volume's slice count
is then ``totalFrames`` or the instance count). What a header leaves out is taken from
the mask, and the message says what was checked.

Masks are read from their headers (NIfTI, NRRD); a DICOM SEG's grid is where its frames
land in the NIfTI RedBrick's SDK stores for it, so it is decoded (once per file version,
``seg_as_nifti``). Nothing read here raises: an unreadable file is a refusal that says why.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import SegmapError
from app.geometry import Grid, compare_grids, unusable
from app.items import ItemsList, Task
from app.merge import entries_of
from app.readers import (
    Format,
    dicom_image_series,
    image_grid,
    is_dicom_seg,
    seg_as_nifti,
    volume_format,
)
from app.upload._remote import RemoteSeries, RemoteTask

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (its own inverse)
# A file Segmap cannot read must end in a refusal, never a traceback.
_READ_ERRORS = (SegmapError, OSError, ValueError, TypeError, IndexError, KeyError)


@dataclass(frozen=True)
class LocalImage:
    """The local image of one series, read from headers: its grid and DICOM UIDs, or why not."""

    grid: Grid | None = None
    series_uid: str | None = None
    study_uid: str | None = None
    error: str | None = None  # why the image could not be read (None: read, or not here)
    dicom: bool = False


def local_image(items: ItemsList, task: Task, si: int) -> LocalImage:
    """Read the image of series ``si`` of ``task`` (headers only)."""
    paths = [items.resolve(p) for p in task.series[si].item_paths]
    local = [p for p in paths if p is not None]
    if not local or len(local) < len(paths):
        return LocalImage(error="its image is a URL or storage key, not a local file"
                          if paths else "it lists no image items")
    missing = [p for p in local if not p.is_file()]
    if missing:
        return LocalImage(error=f"its image file {missing[0]} is not here")
    dicom = volume_format(local[0]) is Format.DICOM
    try:
        if not dicom:
            return LocalImage(grid=image_grid(local))
        series = dicom_image_series(local)
    except _READ_ERRORS as exc:
        return LocalImage(error=_said(exc), dicom=dicom)
    return LocalImage(series.grid, series.series_uid or series.uid or None,
                      series.study_uid or None, dicom=True)


def _said(exc: BaseException) -> str:
    return exc.message if isinstance(exc, SegmapError) else f"{type(exc).__name__}: {exc}"


def mask_files(items: ItemsList, task: Task, si: int) -> list[Path]:
    """The local segmentation files of a series (a lone folder listed), as RedBrick reads them."""
    out: list[Path] = []
    for entry in entries_of(task.series[si].segmentation_paths, items.base_dir):
        if entry.local is None:
            continue  # a label already in storage: nothing here to read
        if entry.folder:
            out.extend(Path(f) for f in entry.files if os.path.isfile(f))
        else:
            out.append(entry.local)
    return out


def mask_grid(path: Path) -> Grid:
    """A mask's grid from its header (a DICOM SEG as the NIfTI RedBrick's SDK stores)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    if is_dicom_seg(path):
        img = seg_as_nifti(path)
        return Grid.of(img.shape, img.affine)
    return image_grid([path])


def _numbers(value: Any, n: int | None = None) -> list[float] | None:
    try:
        flat = [float(x) for x in np.asarray(value, dtype=np.float64).ravel()]
    except (TypeError, ValueError):
        return None
    if not flat or (n is not None and len(flat) != n) or not all(np.isfinite(flat)):
        return None
    return flat


def _slices(headers: Sequence[Mapping[str, Any]], normal: np.ndarray, origin: np.ndarray,
            total: int) -> tuple[int, np.ndarray, float | None]:
    """(slice count, first slice's origin, slice spacing or None) of a series whose headers
    describe 2-D instances: origins sorted along the slice normal."""
    origins = [o for h in headers if (o := _numbers(h.get("origin"), 3)) is not None]
    if len(origins) < 2:
        return total, origin, None
    along = sorted((float(np.dot(o, normal)), tuple(o)) for o in origins)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(along)]
    return max(total, len(origins)), np.array(along[0][1]), float(np.median(gaps))


def header_grid(series: RemoteSeries, mask: Grid) -> tuple[Grid, str] | None:
    """The remote series' grid from its ``imageHeaders`` and what they gave ("dimensions,
    spacing, origin"); None when they give no dimensions. Parts not given are the mask's."""
    headers = [h for h in series.image_headers or () if isinstance(h, Mapping)]
    first = next((h for h in headers if h.get("dimensions") is not None
                  or h.get("affine") is not None), None)
    if first is None:
        return None
    dims = _numbers(first.get("dimensions"))
    own = _LPS @ mask.affine  # the mask in LPS: what a header leaves out is taken from it
    own_spacing = np.array(mask.spacing)
    given: list[str] = []
    affine = _numbers(first.get("affine"), 16)
    if affine is not None:
        lps = np.array(affine).reshape(4, 4)
        spacing = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
        direction = lps[:3, :3] / np.where(spacing > 0, spacing, 1.0)
        origin = lps[:3, 3]
        given.append("affine")
    else:
        spacing_given = _numbers(first.get("spacing"))
        spacing = own_spacing.copy()
        if spacing_given:
            spacing[:len(spacing_given[:3])] = spacing_given[:3]
            given.append("spacing")
        direction_given = _numbers(first.get("direction"), 9)
        direction = np.array(direction_given).reshape(3, 3) if direction_given else \
            own[:3, :3] / own_spacing
        origin_given = _numbers(first.get("origin"), 3)
        origin = np.array(origin_given) if origin_given else own[:3, 3]
        given += [w for w, v in (("direction", direction_given), ("origin", origin_given)) if v]
    if dims is None or len(dims) < 2:
        return None
    given.insert(0, "dimensions")
    total = int(first.get("totalFrames") or series.num_instances or 1)
    shape = [int(d) for d in dims[:3]] + [1] * (3 - len(dims[:3]))
    if shape[2] <= 1 and total > 1:  # one 2-D header per instance: the slices make the volume
        shape[2], origin, gap = _slices(headers, direction[:, 2], origin, total)
        if gap is not None and (affine is None and not _numbers(first.get("spacing"), 3)):
            spacing[2] = gap
        given.append("slice count")
    lps_affine = np.eye(4)
    lps_affine[:3, :3] = direction * spacing
    lps_affine[:3, 3] = origin
    return Grid.of(tuple(shape), _LPS @ lps_affine), ", ".join(given)


def _remote_grid(series: RemoteSeries, mask: Grid) -> tuple[Grid, str] | None:
    """``header_grid``, or None when the headers cannot be read as a grid (odd values, no
    usable geometry): the next reference is used then, not a refusal the server caused."""
    try:
        got = header_grid(series, mask)
    except (ValueError, TypeError, OverflowError, np.linalg.LinAlgError):
        return None
    if got is None or unusable(got[0]) is not None or min(got[0].shape) < 1:
        return None
    return got


def count_fits(count: int, mask: Grid) -> bool:
    """True when a series of ``count`` instances can be the mask's image: a single file
    (one NIfTI, one multi-frame DICOM) says nothing; slices must be one of the mask's axes
    (its axis order may differ from the slices')."""
    return count <= 1 or count in mask.shape


def grid_text(grid: Grid) -> str:
    """``512x512x20, 0.977x0.977x2 mm``: a grid for a refusal message."""
    spacing = "x".join(f"{s:.4g}" for s in grid.spacing)
    return f"{'x'.join(map(str, grid.shape))}, {spacing} mm"


def fits(image: Grid, mask: Grid) -> str | None:
    """None when ``mask``'s voxels land one-to-one on ``image``'s; else why not (the
    validator's comparison, ``compare_grids``)."""
    match = compare_grids(image, mask)
    return None if match.aligned else match.message


class Images:
    """Local images read once per match run, by (task index, series index)."""

    def __init__(self, items: ItemsList) -> None:
        self.items = items
        self._read: dict[tuple[int, int], LocalImage] = {}

    def get(self, ti: int, si: int) -> LocalImage:
        key = (ti, si)
        if key not in self._read:
            self._read[key] = local_image(self.items, self.items.tasks[ti], si)
        return self._read[key]


def remote_series_of(images: Images, ti: int, si: int, remote: RemoteTask
                     ) -> RemoteSeries | None:
    """The remote series a local series labels: the one of the same name, else of the same
    SeriesInstanceUID, else the only one, else the one at the same place; None when none
    can be told."""
    series = images.items.tasks[ti].series
    name = series[si].name
    named = [r for r in remote.series if name and r.name == name]
    if len(named) == 1:
        return named[0]
    if any(r.series_uid for r in remote.series):
        uid = images.get(ti, si).series_uid
        same = [r for r in remote.series if uid and r.series_uid == uid]
        if len(same) == 1:
            return same[0]
    if len(remote.series) == 1:
        return remote.series[0]
    return remote.series[si] if len(remote.series) == len(series) else None


def _series_label(series: RemoteSeries | None, index: int) -> str:
    return f"series {series.name!r}" if series is not None and series.name else \
        f"series {index}"


def task_grid_problems(images: Images, ti: int, remote: RemoteTask) -> tuple[list[str], str]:
    """Why the masks of local task ``ti`` do not fit ``remote``'s series (one text per mask
    or series; [] when they all fit), and what they were checked against, for people."""
    task = images.items.tasks[ti]
    problems: list[str] = []
    against: set[str] = set()
    for si in range(len(task.series)):
        files = mask_files(images.items, task, si)
        if not files:
            continue
        target = remote_series_of(images, ti, si, remote) if remote.series else None
        where = f"remote task {remote.name!r} ({remote.task_id}), " + (
            _series_label(target, remote.series.index(target)) if target is not None
            else "no series")
        if target is None and remote.series:
            names = ", ".join(s.name or f"#{i}" for i, s in enumerate(remote.series))
            problems.append(f"local series {si} ({task.series[si].name or 'unnamed'}) has masks, "
                            f"but which of the remote task {remote.name!r}'s series ({names}) "
                            "it belongs to cannot be told: give the local series the remote "
                            "series' name")
            continue
        for path in files:
            problem, used = _mask_problem(images, ti, si, target, path, where)
            against.add(used)
            if problem is not None:
                problems.append(problem)
    return problems, "; ".join(sorted(against)) or "no masks to check"


def _mask_problem(images: Images, ti: int, si: int, target: RemoteSeries | None, path: Path,
                  where: str) -> tuple[str | None, str]:
    """Why one mask does not fit (None when it does) and what it was checked against."""
    try:
        grid = mask_grid(path)
    except _READ_ERRORS as exc:
        return f"mask {path.name} for {where} cannot be read: {_said(exc)}", "nothing (unread)"
    from_headers = _remote_grid(target, grid) if target is not None else None
    count = target.num_instances if target is not None else 0
    if from_headers is not None:
        image, used = from_headers[0], f"the remote imageHeaders ({from_headers[1]})"
    elif (local := images.get(ti, si)).grid is not None:
        image, used = local.grid, "the local image's headers"
    elif count > 1:
        image, used = None, "the remote instance count (slices only)"
    else:
        return None, "nothing (no image headers, no local image, no slice count)"
    if image is None or from_headers is None:  # the local image must be the remote's too
        if not count_fits(count, grid):
            return (f"mask {path.name} ({grid_text(grid)}) does not fit {where}: the remote "
                    f"series has {count} slices and no axis of the mask has that many"), used
        if image is None:
            return None, used
    why = fits(image, grid)
    if why is None:
        return None, used
    return (f"mask {path.name} ({grid_text(grid)}) does not fit {where} "
            f"({grid_text(image)}, from {used}): {why}"), used
