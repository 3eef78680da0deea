"""DICOM Segmentation (SEG) files: their segments, and their masks on the referenced series' grid.

highdicom decodes every kind (BINARY, FRACTIONAL, the 2024 LABELMAP class; sparse
frames, overlapping segments) and places the frames in a volume
(``Segmentation.get_volume``); Segmap only maps that volume onto the reference
series' grid in world space, so a mask overlays ``load_dicom_volume``'s voxels
one for one ([i=column, j=row, k=slice]). Frames without a plane position are
placed by the source instances they refer to (``get_pixels_by_source_instance``).

What RedBrick's SDK (2.35.4, ``redbrick.utils.dicom_seg.convert_dicom_seg_to_nii``)
stores for a SEG, reproduced by ``sdk_seg_volume``:

* it reads the file with ``pydicom_seg_rb.MultiClassReader`` and writes the
  SimpleITK image as NIfTI (ITK's LPS geometry turned into a RAS affine). Its grid is
  the SEG's own frame span, not the referenced series: Columns x Rows in-plane, the
  slice axis along row x column direction, from the lowest frame position to the
  highest, ``rint(extent / dz) + 1`` slices, where ``dz`` is the *declared*
  SpacingBetweenSlices (else SliceThickness) of the shared Pixel Measures. A
  series with gaps, or a SliceThickness that differs from the slice step, puts
  frames on the wrong slices (SimpleITK rounds each position to the nearest index);
* values are segment numbers (uint8 when the largest number is below 256, else
  uint16), frames written in file order, so the last frame wins where segments overlap
  in a file that declares SegmentsOverlap NO;
* it deletes the SEG it converted: its temporary copy (``config_path()/temp/<uuid>/``), so
  the user's file survives; Segmap never deletes or changes it either.

It refuses (a ValueError or AttributeError, the upload of that series fails): any SOP
class but Segmentation Storage 1.2.840.10008.5.1.4.1.1.66.4 (so every LABELMAP SEG);
FRACTIONAL SEG; SegmentsOverlap YES; overlapping pixels when SegmentsOverlap is
absent or UNDEFINED; a segment number 0; frames without a Plane Position, or shared
functional groups without Pixel Measures or Plane Orientation. ``seg_sdk_refusal``
says which, in a sentence.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from app.errors import InputError, SegmapError, VolumeReadError
from app.geometry import Grid, align_to_image, compare_grids
from app.progress import Progress, Work, run
from app.readers._limits import require_memory
from app.readers.dicom._elements import quiet_warnings
from app.readers.dicom._series import SEG_CLASS, DicomSeries, ObjectKind

LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
SEG_CLASSES = {SEG_CLASS: "Segmentation Storage", LABELMAP_CLASS: "Label Map Segmentation Storage"}
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# Volume axes (slice, row, column) -> Segmap's (column, row, slice).
_SRC_TO_CRS = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)
_FIX = "Export the segmentation again, or check that the file is a complete DICOM SEG."


@dataclass(frozen=True)
class Code:
    """A coded concept: ``Code("SCT", "10200004", "Liver")``, the one type for codes read
    from a SEG, suggested for a category and written to SEG and label tables.

    Two codes are the same concept when scheme and value agree; the meaning is display
    text (DICOM allows any) and takes no part in equality.
    """

    scheme: str
    value: str
    meaning: str = field(compare=False)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"

    def to_json(self) -> dict[str, str]:
        return {"scheme": self.scheme, "value": self.value, "meaning": self.meaning}

    @classmethod
    def from_json(cls, obj: Any, where: str = "code") -> Code:
        """The code ``to_json`` wrote; InputError naming ``where`` when malformed."""
        if not isinstance(obj, Mapping) or not all(
                isinstance(obj.get(k), str) and obj.get(k) for k in ("scheme", "value")):
            raise InputError(f"{where} must be an object with a scheme and a value "
                             f"(got {obj!r}).", 'Write it as {"scheme": "SCT", "value": '
                             '"10200004", "meaning": "Liver"}.')
        meaning = obj.get("meaning")
        return cls(obj["scheme"], obj["value"], meaning if isinstance(meaning, str) else "")


@dataclass(frozen=True)
class Segment:
    """One segment of a SEG: its number, label and coded meaning, and its display colour."""

    number: int
    label: str
    description: str
    category: Code | None
    type: Code | None
    modifier: Code | None
    algorithm_type: str
    rgb: tuple[int, int, int] | None


@dataclass(frozen=True)
class SegHeader:
    """What a SEG file holds, read from its header only."""

    path: Path
    kind: str  # "BINARY" | "FRACTIONAL" | "LABELMAP"
    sop_class_uid: str
    fractional_type: str | None  # "PROBABILITY" | "OCCUPANCY" when FRACTIONAL
    max_fractional_value: int | None
    segments: tuple[Segment, ...]
    referenced_series_uids: tuple[str, ...]
    referenced_sop_uids: frozenset[str]
    frame_of_reference_uid: str
    frames: int
    rows: int
    columns: int
    segments_overlap: str  # "YES" | "NO" | "UNDEFINED" | "" (absent)
    series_uid: str = ""


@dataclass(frozen=True)
class SegMasks:
    """A SEG's segments as boolean masks on one grid (array order [column, row, slice]).

    Non-overlapping segments are held as one label map (``labels``); overlapping ones
    as one boolean array per segment (``stack``). ``threshold`` is the value a
    FRACTIONAL segment was cut at (a voxel is in when its fraction is >= it), else None.
    """

    header: SegHeader
    grid: Grid
    segments: tuple[Segment, ...]
    threshold: float | None
    overlapping: bool
    labels: np.ndarray | None = field(default=None, repr=False)
    stack: tuple[np.ndarray, ...] = field(default=(), repr=False)

    def mask(self, number: int) -> np.ndarray:
        """The boolean mask of segment ``number``."""
        if self.labels is not None:
            return self.labels == number
        for seg, m in zip(self.segments, self.stack, strict=True):
            if seg.number == number:
                return m
        raise KeyError(number)

    def masks(self) -> Iterator[tuple[Segment, np.ndarray]]:
        """Each segment with its mask, in segment order."""
        for seg in self.segments:
            yield seg, self.mask(seg.number)

    def labelmap(self) -> np.ndarray:
        """Segment numbers per voxel (0 = none), smallest unsigned dtype; refused on overlap."""
        if self.labels is None:
            raise VolumeReadError(
                f"The segments of {self.header.path.name} overlap, so they are not one label "
                "map.", "Keep the segments as separate masks (one file per segment).")
        return self.labels


@contextlib.contextmanager
def guard(path: Path, what: str) -> Iterator[None]:
    """Any library error while reading ``path`` becomes a VolumeReadError naming it."""
    try:
        with quiet_warnings():
            yield
    except (SegmapError, GeneratorExit, KeyboardInterrupt):
        raise
    except MemoryError:
        raise VolumeReadError(f"Not enough memory to read the {what} {path}.",
                              "Close other programs, or read it on a larger machine.") from None
    except Exception as exc:  # noqa: BLE001 - pydicom, highdicom and cv2 raise many kinds
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise VolumeReadError(f"Cannot read the {what} {path}: {text}", _FIX) from None


def _code(item: Any, keyword: str) -> Code | None:
    seq = item.get(keyword)
    if not seq:
        return None
    c = seq[0]
    return Code(str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeValue", "")),
                str(c.get("CodeMeaning", "")))


def _rgb(item: Any) -> tuple[int, int, int] | None:
    lab = item.get("RecommendedDisplayCIELabValue")
    if lab is None or len(lab) != 3:
        return None
    from highdicom.color import CIELabColor

    r, g, b = CIELabColor.from_dicom_value([int(v) for v in lab]).to_rgb(clip=True)
    return int(r), int(g), int(b)


def _segment(item: Any) -> Segment:
    return Segment(int(item.SegmentNumber), str(item.get("SegmentLabel", "")),
                   str(item.get("SegmentDescription", "")),
                   _code(item, "SegmentedPropertyCategoryCodeSequence"),
                   _code(item, "SegmentedPropertyTypeCodeSequence"),
                   _first_modifier(item), str(item.get("SegmentAlgorithmType", "")), _rgb(item))


def _first_modifier(item: Any) -> Code | None:
    types = item.get("SegmentedPropertyTypeCodeSequence")
    return _code(types[0], "SegmentedPropertyTypeModifierCodeSequence") if types else None


def _references(ds: Any) -> tuple[tuple[str, ...], frozenset[str]]:
    series: list[str] = []
    sops: set[str] = set()
    for ref in ds.get("ReferencedSeriesSequence") or ():
        if ref.get("SeriesInstanceUID"):
            series.append(str(ref.SeriesInstanceUID))
        sops.update(str(i.ReferencedSOPInstanceUID)
                    for i in ref.get("ReferencedInstanceSequence") or ())
    return tuple(dict.fromkeys(series)), frozenset(sops)


def seg_header(path: str | Path) -> SegHeader:
    """The segments, kind and references of a SEG file, from its header (no pixel data).

    Raises VolumeReadError for a file that is not a DICOM SEG of a known SOP class.
    """
    import pydicom

    p = Path(path)
    with guard(p, "DICOM SEG"):
        ds = pydicom.dcmread(p, stop_before_pixels=True, force=True)
        sop = str(ds.get("SOPClassUID", ""))
        if sop not in SEG_CLASSES:
            known = ", ".join(f"{v} ({k})" for k, v in SEG_CLASSES.items())
            raise VolumeReadError(
                f"{p} is not a DICOM SEG Segmap reads (SOP class {sop or 'missing'}, modality "
                f"{ds.get('Modality', '?')}).", f"Give a DICOM SEG of a known class: {known}.")
        kind = "LABELMAP" if sop == LABELMAP_CLASS else str(ds.get("SegmentationType", ""))
        if kind not in ("BINARY", "FRACTIONAL", "LABELMAP"):
            raise VolumeReadError(f"{p} has an unknown SegmentationType {kind!r}.",
                                  "Give a BINARY, FRACTIONAL or LABELMAP DICOM SEG.")
        series, sops = _references(ds)
        fractional = kind == "FRACTIONAL"
        return SegHeader(
            p, kind, sop,
            str(ds.get("SegmentationFractionalType", "")) or None if fractional else None,
            int(ds.get("MaximumFractionalValue", 0)) or None if fractional else None,
            tuple(_segment(s) for s in ds.get("SegmentSequence") or ()),
            series, sops, str(ds.get("FrameOfReferenceUID", "")),
            int(ds.get("NumberOfFrames") or 1), int(ds.get("Rows") or 0),
            int(ds.get("Columns") or 0), str(ds.get("SegmentsOverlap", "")),
            str(ds.get("SeriesInstanceUID", "")))


def image_series(paths: Sequence[Path], what: str) -> DicomSeries:
    """The one DICOM image series among ``paths`` (``what`` names the file that needs it)."""
    from app.readers.dicom._scan import scan_dicom

    missing = [p for p in paths if not Path(p).exists()]
    if not paths or missing:
        raise VolumeReadError(
            f"The image series of {what} is missing"
            + (f": {missing[0]} does not exist." if missing else "."),
            "Give the files of the DICOM series it was drawn on.")
    found = [s for s in run(scan_dicom([Path(p) for p in paths])) if s.kind is ObjectKind.IMAGE]
    if len(found) != 1:
        raise VolumeReadError(
            f"The files given as the image series of {what} hold {len(found)} DICOM image "
            "series, not one.", "Give the files of the one DICOM series it was drawn on.")
    return found[0]


def _reference_series(reference: DicomSeries | Sequence[Path] | None,
                      path: Path) -> DicomSeries | None:
    if reference is None or isinstance(reference, DicomSeries):
        return reference
    return image_series(list(reference), path.name)


def _own_grid(volume: Any) -> tuple[np.ndarray, Grid]:
    """A highdicom Volume (array [slice, row, column(, segment)], LPS affine) in Segmap's
    order ([column, row, slice(, segment)], RAS affine)."""
    arr = np.asarray(volume.array)
    axes = (2, 1, 0) + tuple(range(3, arr.ndim))
    return arr.transpose(axes), Grid.of(arr.shape[2::-1], _LPS_TO_RAS @ volume.affine @ _SRC_TO_CRS)


def _with_slice_step(grid: Grid, like: Grid) -> Grid:
    """A one-slice grid given the slice step of ``like`` (a single frame has no step of its
    own; highdicom gives it a nominal one) so it maps onto ``like``'s lattice."""
    if grid.shape[2] != 1:
        return grid
    normal = grid.affine[:3, 2] / np.linalg.norm(grid.affine[:3, 2])
    cols = like.affine[:3, :3]
    cos = normal @ cols / np.linalg.norm(cols, axis=0)
    a = int(np.argmax(np.abs(cos)))
    affine = grid.affine.copy()
    affine[:3, 2] = cols[:, a] * np.sign(cos[a])
    return Grid(grid.shape, affine)


def _reversed(grid: Grid) -> Grid:
    return Grid((grid.shape[2], grid.shape[1], grid.shape[0]), grid.affine @ _SRC_TO_CRS)


def _onto(arr: np.ndarray, own: Grid, target: Grid, path: Path) -> np.ndarray:
    """``arr`` (on ``own``) on ``target``. The placement runs in the decoded volume's memory
    order ([slice, row, column], C order) and the result is its transposed view, so the copy
    is slice by slice (in Segmap's order it strided, 8x slower on a 512x512x300 SEG)."""
    own = _with_slice_step(own, target)
    match = compare_grids(_reversed(target), _reversed(own))
    if match.index_map is None or not match.inside:
        raise VolumeReadError(
            f"The frames of {path.name} do not lie on the reference series' slices: "
            f"{compare_grids(target, own).message}",
            "Pair the SEG with the image series it was drawn on.")
    return align_to_image(arr.transpose(2, 1, 0), match).transpose(2, 1, 0)


def _check_reference(header: SegHeader, series: DicomSeries) -> None:
    if header.referenced_series_uids and not series.is_named_by(header.referenced_series_uids):
        raise VolumeReadError(
            f"{header.path.name} refers to series {', '.join(header.referenced_series_uids)}, "
            f"not to the reference series {series.uid}.",
            "Pair the SEG with the image series it was drawn on (its Referenced Series).")
    if series.grid is None:
        raise VolumeReadError(f"The reference series {series.uid} has no 3-D geometry.",
                              " ".join(series.warnings) or None)


def instance_uid(ds: Any) -> str:
    """A slice's SOP Instance UID (the file meta's copy when an anonymiser emptied it)."""
    meta = getattr(ds, "file_meta", None)
    return str(ds.get("SOPInstanceUID") or (meta.get("MediaStorageSOPInstanceUID", "")
                                            if meta is not None else ""))


def _source_uids(files: Sequence[Path]) -> list[str]:
    import pydicom

    return [instance_uid(pydicom.dcmread(f, stop_before_pixels=True,
                                         specific_tags=["SOPInstanceUID"], force=True))
            for f in files]


def _frames_by_source(seg: Any, header: SegHeader, series: DicomSeries | None,
                      numbers: list[int]) -> tuple[np.ndarray, Grid]:
    """Frames without plane positions, placed by the source instances they refer to."""
    if series is None:
        if len(header.referenced_sop_uids) != 1:
            raise VolumeReadError(
                f"The frames of {header.path.name} have no plane positions, so they can only "
                "be placed on the series they refer to.", "Give the referenced image series.")
        uids = sorted(header.referenced_sop_uids)
        measures = seg.SharedFunctionalGroupsSequence[0].get("PixelMeasuresSequence")
        dy, dx = (float(v) for v in (measures[0].PixelSpacing if measures else (1.0, 1.0)))
        # A projection image has no patient position: the grid places its pixels only.
        grid = Grid.of((header.columns, header.rows, 1), np.diag([dx, dy, 1.0, 1.0]))
    else:
        assert series.grid is not None
        uids, grid = _source_uids(series.files), series.grid
    arr = seg.get_pixels_by_source_instance(uids, segment_numbers=numbers,
                                            rescale_fractional=True, skip_overlap_checks=True)
    return np.asarray(arr).transpose(2, 1, 0, 3), grid  # [instance, row, col, seg]


def _labels_dtype(numbers: Sequence[int]) -> type:
    return np.uint8 if max(numbers, default=0) <= 255 else np.uint16


def _combined(seg: Any, header: SegHeader, numbers: list[int]) -> Any | None:
    """One label-map volume of every segment, or None when the segments overlap."""
    if header.kind == "FRACTIONAL" or header.segments_overlap == "YES":
        return None
    try:
        return seg.get_volume(combine_segments=True, segment_numbers=numbers,
                              dtype=_labels_dtype(numbers))
    except RuntimeError as exc:
        if "overlap" in str(exc):
            return None
        raise


def load_seg(path: str | Path, reference: DicomSeries | Sequence[Path] | None = None, *,
             threshold: float = 0.5) -> Work[SegMasks]:
    """The masks of a SEG file, on ``reference``'s grid when given (else the SEG's own).

    FRACTIONAL segments are cut at ``threshold`` (fraction >= threshold). Raises
    VolumeReadError naming the file for anything that cannot be read or placed.
    """
    p = Path(path)
    header = seg_header(p)
    series = _reference_series(reference, p)
    if series is not None:
        _check_reference(header, series)
    with guard(p, "DICOM SEG"):
        import highdicom as hd

        yield Progress(0, 3, f"Reading {p.name}")
        seg = hd.seg.segread(p)
        numbers = [int(n) for n in seg.segment_numbers if int(n) != 0]
        segments = tuple(s for s in header.segments if s.number in numbers)
        target = series.grid if series is not None else None
        if target is not None:
            require_memory(p, math.prod(target.shape) * 2, "the masks of its segments")
        yield Progress(1, 3, f"Decoding {len(numbers)} segments")
        try:
            labels, stack, grid = _by_position(seg, header, numbers, threshold, target)
        except VolumeReadError:
            # Frames that do not fit a regular volume (a series with uneven slice steps)
            # still land on their own source slices when they name them.
            if series is None or not header.referenced_sop_uids & set(_source_uids(series.files)):
                raise
            arr, grid = _frames_by_source(seg, header, series, numbers)
            labels, stack = None, [_cut(arr[..., s], header, threshold)
                                   for s in range(arr.shape[3])]
        except Exception as exc:  # highdicom: frames without plane positions
            if "ImagePositionPatient" not in str(exc) and "position" not in str(exc).lower():
                raise
            arr, grid = _frames_by_source(seg, header, series, numbers)
            labels, stack = None, [_cut(arr[..., s], header, threshold)
                                   for s in range(arr.shape[3])]
        yield Progress(2, 3, "Placing the segments")
        if labels is not None:
            masks = SegMasks(header, grid, segments, None, False,
                             labels=labels.astype(_labels_dtype(numbers), copy=False))
        else:
            masks = _from_stack(header, grid, segments, stack, threshold)
        yield Progress(3, 3, f"Read {p.name}")
        return masks


def _cut(values: np.ndarray, header: SegHeader, threshold: float) -> np.ndarray:
    return values >= threshold if header.kind == "FRACTIONAL" else values > 0


def _by_position(seg: Any, header: SegHeader, numbers: list[int], threshold: float,
                 target: Grid | None) -> tuple[np.ndarray | None, list[np.ndarray], Grid]:
    """The segments placed by their frames' plane positions (highdicom's volume), as one
    label map when they do not overlap, else one boolean mask each; on ``target`` if given.
    Overlapping or fractional segments are decoded one at a time, so one float volume at
    most is held beside the masks."""
    volume = _combined(seg, header, numbers)
    if volume is not None:
        arr, own = _own_grid(volume)
        return (arr, [], own) if target is None else (_onto(arr, own, target, header.path),
                                                      [], target)
    stack: list[np.ndarray] = []
    grid: Grid | None = target
    for n in numbers:
        arr, own = _own_grid(seg.get_volume(segment_numbers=[n], rescale_fractional=True,
                                            skip_overlap_checks=True))
        if target is not None and len(stack) == 0:
            require_memory(header.path, math.prod(target.shape) * len(numbers),
                           f"the masks of its {len(numbers)} segments")
        mask = _cut(arr[..., 0], header, threshold)
        stack.append(mask if target is None else _onto(mask, own, target, header.path))
        grid = grid or own
    assert grid is not None
    return None, stack, grid


def _from_stack(header: SegHeader, grid: Grid, segments: tuple[Segment, ...],
                stack: list[np.ndarray], threshold: float) -> SegMasks:
    count = np.zeros(grid.shape, np.uint8)
    for m in stack:
        count += m
    cut = threshold if header.kind == "FRACTIONAL" else None
    if not bool((count > 1).any()):
        numbers = [s.number for s in segments]
        labels: np.ndarray = np.zeros(grid.shape, _labels_dtype(numbers))
        for seg, m in zip(segments, stack, strict=True):
            labels[m] = seg.number
        return SegMasks(header, grid, segments, cut, False, labels=labels)
    return SegMasks(header, grid, segments, cut, True, stack=tuple(stack))


def read_seg(path: str | Path, reference: DicomSeries | Sequence[Path] | None = None, *,
             threshold: float = 0.5,
             progress: Callable[[Progress], None] | None = None) -> SegMasks:
    """``load_seg`` run to the end (``progress`` sees each step)."""
    return run(load_seg(path, reference, threshold=threshold), progress)


def seg_sdk_refusal(item: SegHeader | SegMasks) -> str | None:
    """Why RedBrick's SDK would refuse this SEG, in a sentence for a user; None if it takes it."""
    header = item.header if isinstance(item, SegMasks) else item
    name = header.path.name
    if header.sop_class_uid != SEG_CLASS:
        return (f"RedBrick's SDK reads only binary DICOM SEG of the Segmentation Storage class; "
                f"{name} is a {SEG_CLASSES.get(header.sop_class_uid, header.sop_class_uid)} "
                "object (a label-map SEG).")
    if header.kind != "BINARY":
        return (f"RedBrick's SDK reads only BINARY DICOM SEG; {name} is {header.kind} "
                f"({header.fractional_type or 'fractional'} values).")
    if header.segments_overlap == "YES":
        return f"{name} declares overlapping segments, which RedBrick's SDK refuses to read."
    if any(s.number == 0 for s in header.segments):
        return f"{name} has a segment numbered 0, which RedBrick's SDK refuses."
    if isinstance(item, SegMasks) and item.overlapping and header.segments_overlap != "NO":
        return (f"The segments of {name} overlap, and RedBrick's SDK refuses overlapping "
                "segments; save them as separate SEG files.")
    return None


def _sdk_span(ds: Any, p: Path) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray,
                                         int]:
    """How RedBrick's SDK lays a SEG's frames out: (direction, (dx, dy, dz), the frames'
    positions, the number of slices from its first frame to its last)."""
    shared = ds.SharedFunctionalGroupsSequence[0]
    if "PixelMeasuresSequence" not in shared or "PlaneOrientationSequence" not in shared:
        raise VolumeReadError(f"RedBrick's SDK needs the shared Pixel Measures and Plane "
                              f"Orientation of {p.name}, which it lacks.", _FIX)
    pm = shared.PixelMeasuresSequence[0]
    dz = float(pm.SpacingBetweenSlices if "SpacingBetweenSlices" in pm else pm.SliceThickness)
    dy, dx = (float(v) for v in pm.PixelSpacing)
    iop = np.array([float(v) for v in shared.PlaneOrientationSequence[0]
                    .ImageOrientationPatient])
    direction = np.stack([iop[:3], iop[3:], np.cross(iop[:3], iop[3:])], axis=1)
    frames = ds.PerFrameFunctionalGroupsSequence
    if any("PlanePositionSequence" not in f for f in frames):
        raise VolumeReadError(f"RedBrick's SDK places frames by their Plane Position, "
                              f"which frames of {p.name} lack.", _FIX)
    pos = np.array([[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient]
                    for f in frames])
    dist = (pos - pos[0]) @ direction[:, 2]
    n = int(np.rint((dist.max() - dist.min()) / dz)) + 1 if len(set(dist)) > 1 else 1
    return direction, (dx, dy, dz), pos, n


def sdk_seg_slices(path: str | Path) -> int:
    """How many slices the volume RedBrick's SDK stores for a SEG spans (its first frame to
    its last), from its header alone: fewer than its series has means a crop."""
    import pydicom

    p = Path(path)
    with guard(p, "DICOM SEG"):
        return _sdk_span(pydicom.dcmread(p, stop_before_pixels=True), p)[3]


def sdk_seg_volume(path: str | Path) -> nib.Nifti1Image:
    """The NIfTI RedBrick's SDK 2.35.4 would store for this SEG (see the module docstring).

    Raises VolumeReadError with the SDK's reason when it would refuse the file.
    """
    import pydicom

    p = Path(path)
    header = seg_header(p)
    why = seg_sdk_refusal(header)
    if why is not None:
        raise VolumeReadError(why, "Segmap converts it: `segmap build FOLDER` (the folder with "
                              "the SEG and its series) makes one NIfTI mask per segment on the "
                              "series' grid, which RedBrick takes.")
    with guard(p, "DICOM SEG"):
        ds = pydicom.dcmread(p)
        shared, frames = ds.SharedFunctionalGroupsSequence[0], ds.PerFrameFunctionalGroupsSequence
        direction, (dx, dy, dz), pos, n = _sdk_span(ds, p)
        dist = (pos - pos[0]) @ direction[:, 2]
        origin = pos[int(np.argmin(dist))]
        pixels = np.asarray(ds.pixel_array)
        pixels = pixels[None] if pixels.ndim == 2 else pixels
        shared_sis = shared.get("SegmentIdentificationSequence")
        numbers = [int(s.SegmentNumber) for s in ds.SegmentSequence]
        out = np.zeros((n, int(ds.Rows), int(ds.Columns)),
                       np.uint8 if max(numbers) < 256 else np.uint16)
        scale = direction * np.array([dx, dy, dz])
        for i, f in enumerate(frames):
            sis = f.get("SegmentIdentificationSequence", shared_sis)
            k = _round_half_up(np.linalg.solve(scale, pos[i] - origin)[2])
            if not 0 <= k < n:
                raise VolumeReadError(f"RedBrick's SDK fails on {p.name}: a frame lies outside "
                                      "the volume its declared slice spacing spans.", _FIX)
            on = pixels[i] > 0
            if header.segments_overlap in ("", "UNDEFINED") and out[k][on].any():
                raise VolumeReadError(f"The segments of {p.name} overlap, and RedBrick's SDK "
                                      "refuses overlapping segments.", "Save them as separate "
                                      "SEG files.")
            out[k][on] = int(sis[0].ReferencedSegmentNumber)
        affine = np.eye(4)
        affine[:3, :3], affine[:3, 3] = scale, origin
        img = nib.Nifti1Image(out.transpose(2, 1, 0), _LPS_TO_RAS @ affine)
        img.header.set_qform(img.affine, code=1)
        img.header.set_sform(img.affine, code=1)
        return img


def _round_half_up(x: float) -> int:
    # SimpleITK's TransformPhysicalPointToIndex rounds half up.
    return math.floor(x + 0.5)
