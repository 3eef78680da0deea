"""From slice headers to series: group, split, de-duplicate, sort and check.

Slices are grouped by SeriesInstanceUID. A series that mixes orientations or
image sizes is split (the largest part keeps the UID, the others get ".2",
".3", ...), as is one whose repeated positions are explained by an echo,
temporal position, acquisition, stack or image type. Each part is sorted along
its slice normal and checked (see app.readers.dicom._geometry); every irregularity
becomes a warning on the series, never an exception.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.geometry import Grid
from app.readers.dicom._frames import expand_frames
from app.readers.dicom._geometry import (
    analyse_positions,
    ras_affine,
    same_orientation,
    slice_normal,
)
from app.readers.dicom._record import Header
from app.readers.dicom._series import DicomSeries, ObjectKind, object_kind

MIN_SLICES = 3  # fewer cannot make a volume to segment
LOCALIZER_MAX_SLICES = 5  # each plane of a multi-plane localizer has about 1-3 slices
_LOCALIZER_WORDS = ("LOCALIZER", "LOCALISER", "SCOUT", "SURVEY", "TOPOGRAM", "SCANOGRAM",
                    "3-PLANE", "3PLANE", "TRI-PILOT", "TRIPILOT", "AAHSCOUT", "PILOT")
_DUPLICATE_MM = 1e-2  # slices closer than this along the normal share a position
# Attributes that may tell apart several volumes stored at the same positions.
_DISCRIMINATORS: tuple[tuple[str, str], ...] = (
    ("echo_number", "echo"), ("temporal_position", "temporal position"),
    ("acquisition_number", "acquisition"), ("stack", "stack"), ("image_type", "image type"))


@dataclass
class _Part:
    slices: list[Header]
    notes: list[str] = field(default_factory=list)
    grid: Grid | None = None
    localizer: bool = False


def _name(s: Header) -> str:
    return s.path.name + (f" frame {s.frame + 1}" if s.frame is not None else "")


def _order(s: Header) -> tuple[int, int, str]:
    return (s.instance_number if s.instance_number is not None else 1 << 30,
            s.frame if s.frame is not None else 0, str(s.path))


def _plane(orientation: Sequence[float]) -> str:
    n = np.abs(slice_normal(orientation))
    axis = int(np.argmax(n))
    if n[axis] < 0.9:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _partition(items: list[Header], key: Callable[[Header], Hashable]) -> list[list[Header]]:
    groups: dict[Hashable, list[Header]] = {}
    for s in items:
        groups.setdefault(key(s), []).append(s)
    return list(groups.values())


def _has_geometry(s: Header) -> bool:
    """Position, orientation and spacing present and sane (unit, orthogonal cosines)."""
    if s.position is None or s.orientation is None or s.pixel_spacing is None:
        return False
    o = np.asarray(s.orientation, dtype=np.float64)
    if not (np.all(np.isfinite(o)) and np.all(np.isfinite(s.position))
            and min(s.pixel_spacing) > 0 and np.isfinite(s.pixel_spacing).all()):
        return False
    lengths = np.linalg.norm(o.reshape(2, 3), axis=1)
    return bool(np.all(np.abs(lengths - 1) < 0.01) and abs(float(o[:3] @ o[3:])) < 0.01)


def _orientation_clusters(slices: list[Header]) -> list[list[Header]]:
    reps: list[tuple[Sequence[float], list[Header]]] = []
    for s in slices:
        assert s.orientation is not None
        for rep, members in reps:
            if same_orientation(rep, s.orientation):
                members.append(s)
                break
        else:
            reps.append((s.orientation, [s]))
    return [members for _, members in reps]


def _size(s: Header) -> tuple[int, int, tuple[float, ...]]:
    return (s.columns or 0, s.rows or 0, tuple(round(x, 3) for x in s.pixel_spacing or ()))


def _split_geometry(slices: list[Header]) -> tuple[list[list[Header]], list[str]]:
    """Clusters of one orientation and one image size, and what the split was about."""
    clusters = _orientation_clusters(slices)
    notes: list[str] = []
    if len(clusters) > 1:
        counts = ", ".join(f"{len(c)} {_plane(c[0].orientation or ())}" for c in clusters)
        notes.append(f"Mixed orientations: the series holds slices in {len(clusters)} "
                     f"orientations ({counts}); split into one series per orientation.")
    sized = [part for c in clusters for part in _partition(c, _size)]
    if len(sized) > len(clusters):
        sizes = sorted({_size(s) for s in slices})
        text = ", ".join(f"{c}x{r} at {'x'.join(f'{p:g}' for p in sp)} mm"
                         for c, r, sp in sizes)
        notes.append(f"Mixed image sizes: the series holds images of {len(sizes)} sizes "
                     f"({text}); split into one series per size.")
    return sized, notes


def _z(slices: list[Header]) -> np.ndarray:
    normal = slice_normal(slices[0].orientation or ())
    return np.array([s.position for s in slices], dtype=np.float64) @ normal


def _duplicates_free(slices: list[Header]) -> bool:
    z = np.sort(_z(slices))
    return len(z) < 2 or bool(np.min(np.diff(z)) >= _DUPLICATE_MM)


def _separate_volumes(slices: list[Header]) -> tuple[list[list[Header]], list[str]]:
    """Split repeated positions by an attribute that explains them, else keep the first."""
    if _duplicates_free(slices):
        return [slices], []
    for attr, label in _DISCRIMINATORS:
        values = {getattr(s, attr) for s in slices}
        if len(values) < 2:
            continue
        parts = _partition(slices, lambda s, a=attr: getattr(s, a))  # type: ignore[misc]
        if all(_duplicates_free(p) for p in parts):
            return parts, [f"Several volumes at the same positions: split by {label} into "
                           f"{len(parts)} series."]
    ordered = sorted(slices, key=_order)
    kept: list[Header] = []
    taken: list[float] = []
    dropped: list[tuple[Header, Header]] = []
    for s, z in zip(ordered, _z(ordered), strict=True):
        hit = next((i for i, t in enumerate(taken) if abs(t - z) < _DUPLICATE_MM), None)
        if hit is None:
            kept.append(s)
            taken.append(float(z))
        else:
            dropped.append((s, kept[hit]))
    s, first = dropped[0]
    return [kept], [
        f"Duplicate positions: {len(dropped)} slice(s) repeat a position already taken "
        f"(e.g. {_name(s)} and {_name(first)}); the first of each (lowest InstanceNumber) "
        "is used."]


def _stack_part(slices: list[Header], notes: list[str]) -> _Part:
    """Sort one clean cluster along its normal and work out its grid."""
    first = slices[0]
    assert first.orientation is not None and first.pixel_spacing is not None
    normal = slice_normal(first.orientation)
    z = _z(slices)
    order = sorted(range(len(slices)), key=lambda i: (float(z[i]), _order(slices[i])))
    ordered = [slices[i] for i in order]
    positions = np.array([s.position for s in ordered], dtype=np.float64)
    geo = analyse_positions(positions, normal, [_name(s) for s in ordered],
                            thickness=first.spacing_between or first.thickness,
                            tilt_tag=first.tilt)
    affine = ras_affine(first.orientation, first.pixel_spacing, positions[0], geo.step)
    grid = Grid((first.columns or 0, first.rows or 0, len(ordered)), affine)
    part = _Part(ordered, [*notes, *geo.warnings], grid)
    if len(ordered) < MIN_SLICES:
        part.notes.append(f"Too few slices: only {len(ordered)}; a volume to segment needs at "
                          f"least {MIN_SLICES}. The series may be incomplete or a 2-D image.")
    return part


def _mosaic_part(slices: list[Header], notes: list[str]) -> _Part:
    ordered = sorted(slices, key=_order)
    first = ordered[0]
    assert first.orientation and first.pixel_spacing and first.position and first.mosaic
    normal = np.asarray(first.extras["normal"], dtype=np.float64)
    step = normal * float(first.extras["spacing"])
    affine = ras_affine(first.orientation, first.pixel_spacing, first.position, step)
    part = _Part(ordered, list(notes), Grid((first.columns or 0, first.rows or 0, first.mosaic),
                                            affine))
    if len(ordered) > 1:
        part.notes.append(f"Several volumes: {len(ordered)} mosaic files (time points) share this "
                          f"geometry; the first ({first.path.name}) is shown.")
    return part


def _image_parts(slices: list[Header]) -> list[_Part]:
    parts: list[_Part] = []
    nogeo = [s for s in slices if not _has_geometry(s)]
    if nogeo:
        parts.append(_Part(sorted(nogeo, key=_order), [
            f"No geometry: {len(nogeo)} image(s) lack a usable ImagePositionPatient, "
            "ImageOrientationPatient (unit, perpendicular direction cosines) or PixelSpacing, "
            "so they cannot be placed in world space (a 2-D image such as an X-ray, or "
            "incomplete headers)."]))
    placed = [s for s in slices if _has_geometry(s)]
    # Multi-slice files stand alone: an enhanced file per file, mosaics together.
    for container in _partition(placed, lambda s: str(s.path) if s.frame is not None
                                else ("mosaic" if s.mosaic else "")):
        clusters, split_notes = _split_geometry(container)
        localizer = len(clusters) > 1 and all(len(c) <= LOCALIZER_MAX_SLICES for c in clusters)
        for cluster in clusters:
            if cluster[0].mosaic:
                for same in _partition(cluster, lambda s: s.position):
                    parts.append(_mosaic_part(same, split_notes))
                continue
            volumes, notes = _separate_volumes(cluster)
            for vol in volumes:
                part = _stack_part(vol, [*split_notes, *notes])
                part.localizer = localizer
                parts.append(part)
    return parts


def _is_localizer(s: Header) -> bool:
    words = " ".join((*s.image_type, s.series_description.upper()))
    return any(w in words for w in _LOCALIZER_WORDS)


def _file_notes(slices: Sequence[Header]) -> tuple[list[str], set[Path]]:
    """Warnings for files with header problems, and the files whose pixels are unusable."""
    notes: list[str] = []
    unusable: set[Path] = set()
    seen: set[Path] = set()
    for s in slices:
        if s.path in seen or not s.problems:
            continue
        seen.add(s.path)
        notes.append(f"Problem in {s.path.name}: {'; '.join(s.problems)}.")
        if s.pixels_unusable:
            unusable.add(s.path)
    if len(notes) > 5:
        notes = [*notes[:5], f"... and {len(notes) - 5} more files with problems."]
    return notes, unusable


def _drop_copies(slices: list[Header]) -> tuple[list[Header], list[str]]:
    # The same instance twice in the tree (a copied folder): use it once.
    seen: dict[tuple[str, int | None], Header] = {}
    copies: list[tuple[Header, Header]] = []
    for s in sorted(slices, key=lambda s: str(s.path)):
        key = (s.sop_uid, s.frame)
        if s.sop_uid and key in seen:
            copies.append((s, seen[key]))
        else:
            seen[key] = s
    if not copies:
        return slices, []
    kept = [s for s in slices if seen.get((s.sop_uid, s.frame)) is s or not s.sop_uid]
    files = {c.path for c, _ in copies}
    a, b = copies[0]
    return kept, [f"Duplicate files: {len(files)} file(s) repeat an instance found elsewhere "
                  f"(same SOPInstanceUID, e.g. {a.path} and {b.path}); each is used once."]


def _series(uid: str, first: Header, files: Sequence[Path], grid: Grid | None, kind: ObjectKind,
            warnings: Sequence[str], frames: Sequence[int] = ()) -> DicomSeries:
    return DicomSeries(
        uid=uid, modality=first.modality, description=first.series_description,
        patient=first.patient, study_uid=first.study_uid,
        study_description=first.study_description, series_number=first.series_number,
        files=tuple(files), grid=grid, kind=kind, warnings=tuple(dict.fromkeys(warnings)),
        frames=tuple(frames))


def _unique_paths(slices: Sequence[Header]) -> list[Path]:
    return list(dict.fromkeys(s.path for s in sorted(slices, key=_order)))


def series_of(uid: str, slices: list[Header], made_up: bool = False) -> list[DicomSeries]:
    """The series (one, or several after a split) made of ``slices`` sharing ``uid``.

    ``made_up`` says the files have no SeriesInstanceUID and ``uid`` was derived
    from their folder, series number and description. Every part keeps the files' UID as
    its ``series_uid``.
    """
    return [replace(s, series_uid="" if made_up else uid)
            for s in _parts_of(uid, slices, made_up)]


def _parts_of(uid: str, slices: list[Header], made_up: bool) -> list[DicomSeries]:
    first = min(slices, key=_order)
    kind = object_kind(first.sop_class, first.modality, bool(first.rows and first.columns))
    notes, unusable = _file_notes(slices)
    if made_up:
        notes.insert(0, "No SeriesInstanceUID: the files were grouped by folder, series number "
                     "and description, and given a made-up UID.")
    if kind is not ObjectKind.IMAGE:
        return [_series(uid, first, _unique_paths(slices), None, kind, notes)]
    if first.samples == 3:
        notes.append("Colour image: preview and statistics use its luminance (grey value).")
    slices, copy_notes = _drop_copies([s for s in slices if s.path not in unusable])
    notes += copy_notes
    if not slices:
        return [_series(uid, first, sorted(unusable), None, ObjectKind.IMAGE, notes)]
    if unusable:
        notes.append(f"{len(unusable)} file(s) with unusable pixel data are left out of the "
                     "volume.")
    parts: list[_Part] = []
    for part in _image_parts(slices):
        # Series numbers split what geometry alone keeps together (edited or copied files).
        numbers = _partition(part.slices, lambda s: s.series_number)
        if len(numbers) == 1:
            parts.append(part)
            continue
        for group in numbers:
            for sub in _image_parts(group):
                sub.notes.insert(0, f"Several series numbers: files sharing this "
                                 f"SeriesInstanceUID carry {len(numbers)} SeriesNumbers; "
                                 "split by SeriesNumber.")
                parts.append(sub)
    # The largest part keeps the UID; equal parts keep the series number order.
    parts.sort(key=lambda p: (-len(p.slices), p.slices[0].series_number or 0))
    named = _is_localizer(first)
    out = []
    for i, part in enumerate(parts):
        localizer = named or part.localizer
        warnings = list(notes) + part.notes
        if localizer:
            warnings.insert(0, "Localizer: a scout image for planning other scans, not a "
                            "volume to segment.")
        head = part.slices[0]
        multi = head.frame is not None
        files = [head.path] if multi else [s.path for s in part.slices]
        frames = [s.frame for s in part.slices if s.frame is not None] if multi else []
        meta = min(part.slices, key=_order)
        kind = ObjectKind.LOCALIZER if localizer else ObjectKind.IMAGE
        out.append(_series(uid if i == 0 else f"{uid}.{i + 1}", meta, files, part.grid, kind,
                           warnings, frames))
    return out


def unreadable_series(broken: Sequence[tuple[Path, str]]) -> list[DicomSeries]:
    """One entry per folder of files that look like DICOM but cannot be read."""
    by_folder: dict[Path, list[tuple[Path, str]]] = defaultdict(list)
    for path, reason in broken:
        by_folder[path.parent].append((path, reason))
    out = []
    for folder, items in sorted(by_folder.items()):
        items.sort()
        notes = [f"Unreadable DICOM file {p.name}: {r}." for p, r in items[:5]]
        if len(items) > 5:
            notes.append(f"... and {len(items) - 5} more unreadable files in {folder}.")
        out.append(DicomSeries(
            uid="", modality="", description=f"{len(items)} unreadable DICOM file(s)",
            patient="", study_uid="", study_description="", series_number=None,
            files=tuple(p for p, _ in items), grid=None, kind=ObjectKind.OTHER,
            warnings=tuple(notes)))
    return out


def build_series(headers: Sequence[Header], broken: Sequence[tuple[Path, str]] = ()
                 ) -> list[DicomSeries]:
    """Every series in ``headers``, plus entries for unreadable files, in a stable order."""
    by_uid: dict[str, list[Header]] = {}
    made_up: set[str] = set()
    for h in headers:
        uid = h.series_uid
        if not uid:  # anonymised files may lack it
            uid = made_up_uid(h)
            made_up.add(uid)
        by_uid.setdefault(uid, []).extend(expand_frames(h))
    out = [s for uid, slices in by_uid.items() for s in series_of(uid, slices, uid in made_up)]
    out.sort(key=lambda s: (s.patient, s.study_uid,
                            s.series_number if s.series_number is not None else 1 << 30, s.uid))
    return out + unreadable_series(broken)


def made_up_uid(h: Header) -> str:
    """A stable UID (2.25 + a hash) for files without SeriesInstanceUID."""
    key = "|".join((str(h.path.parent), h.study_uid, str(h.series_number),
                    h.series_description, h.modality))
    return "2.25." + str(int.from_bytes(hashlib.sha1(key.encode()).digest()[:15], "big"))
