"""A case's masks as a DICOM Segmentation that references its source series (highdicom).

The SEG is made from the source images' headers (pixel data is not read), so its
patient, study and frame of reference are the series'; highdicom writes the
Referenced Series Sequence and each frame's source image from them.

Array order: Segmap's DICOM volumes are indexed ``[column, row, slice]`` with slices in
the order of ``DicomSeries.files`` (sorted along the slice normal; ``app.readers``).
highdicom wants ``(frames, rows, columns)`` with frame k segmenting source image k, so
a mask is ``mask.transpose(2, 1, 0)``; for an enhanced multi-frame source, frame
``series.frames[k]`` of the file takes slice k. A mask on another grid of the same
voxels (a NIfTI stored LAS where the DICOM is LPS, a crop) is placed in world space
first (``app.geometry.compare_grids`` / ``align_to_image``), never by its shape.

Codes: each segment carries its category and type (and laterality as the type's
modifier, nested as DICOM puts it). A segment with no code gets a local code,
``99SEGMAP`` (PS3.16 §8 reserves designators starting with ``99`` for private
schemes), whose meaning is the segment's name; the scheme is declared in the SEG's
Coding Scheme Identification Sequence. 3D Slicer shows any coded concept by its meaning
and OHIF shows the segment label, so a local code is read everywhere, while DCM 'Not
applicable' would say nothing about what the segment is.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

import app
from app.errors import InputError
from app.export._label_tables import RGB, Code
from app.export._own import guard_output, record_output
from app.geometry import Grid, Relation, align_to_image, compare_grids
from app.jsonio import atomic_path
from app.readers import DicomSeries, Format, dicom_image_series, require_memory, volume_format

LOCAL_SCHEME = "99SEGMAP"
UNCODED_CATEGORY = Code(LOCAL_SCHEME, "UNCATEGORISED", "Uncategorised structure")
_SLUG = re.compile(r"[^A-Za-z0-9]+")
_LABEL_MAX = 64  # Segment Label is LO
# Patient and study attributes highdicom copies from the source (type 2 in the SEG).
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                 "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")


class SegKind(StrEnum):
    """How the SEG stores its segments."""

    LABELMAP = "LABELMAP"  # Label Map Segmentation Storage (1.2.840.10008.5.1.4.1.1.66.7)
    BINARY = "BINARY"  # Segmentation Storage (66.4): one bit-packed frame per segment and slice


@dataclass(frozen=True)
class SegmentSpec:
    """One segment: its number (its value in the label map, or its key among per-segment
    masks), label, codes (None: a local code from the label), display colour and the
    algorithm that made it (None: drawn by a person)."""

    number: int
    label: str
    category_code: Code | None = None
    type_code: Code | None = None
    modifier: Code | None = None
    rgb: RGB | None = None
    algorithm: str | None = None
    algorithm_version: str = ""


@dataclass(frozen=True)
class SegWritten:
    """What was written: where, which SOP class and series, and how segments were numbered."""

    path: Path
    kind: SegKind
    sop_class_uid: str
    series_uid: str
    sop_instance_uid: str
    source_series_uid: str
    segment_numbers: dict[int, int]  # SegmentSpec.number -> the SEG's segment number
    frames: int
    empty: tuple[int, ...]  # SegmentSpec numbers with no voxel

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": str(self.kind),
                "sop_class_uid": self.sop_class_uid, "series_uid": self.series_uid,
                "sop_instance_uid": self.sop_instance_uid,
                "source_series_uid": self.source_series_uid,
                "segment_numbers": {str(k): v for k, v in self.segment_numbers.items()},
                "frames": self.frames, "empty": list(self.empty)}


def local_code(name: str) -> Code:
    """Segmap's local code for a name without a DICOM code: ``99SEGMAP:<name>``, the
    value the name's letters and digits (a short hash when longer than DICOM's 16)."""
    slug = _SLUG.sub("_", name.strip()).strip("_").upper() or "UNNAMED"
    if len(slug) > 16:
        slug = "H" + hashlib.sha1(name.strip().encode("utf-8")).hexdigest()[:15].upper()
    return Code(LOCAL_SCHEME, slug, name.strip() or "Unnamed")


def _source_series(source_files: Sequence[Path]) -> DicomSeries:
    if not source_files:
        raise InputError("A DICOM SEG needs the DICOM image series it segments; none was "
                         "given.", "Export a DICOM SEG for cases whose image is a DICOM series.")
    for p in source_files:
        kind = volume_format(Path(p))
        if kind is not Format.DICOM:
            raise InputError(
                f"A DICOM SEG references the DICOM series it segments, and this case's image "
                f"is {kind.upper()} ({Path(p).name}), not DICOM.",
                "Export the label table (Slicer colour table, ITK-SNAP) for this case, or "
                "pair the masks with the original DICOM series.")
    return dicom_image_series([Path(p) for p in source_files])


def _read_sources(series: DicomSeries) -> list[Any]:
    import pydicom

    out = []
    for path in series.files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for broken files
            raise InputError(f"Cannot read the DICOM header of {path}: {exc}") from None
        # Some anonymisers blank SOP Class / Instance UID and leave them in the file meta;
        # highdicom needs them (the copy in memory is filled, the file is not touched).
        meta = getattr(ds, "file_meta", None)
        for kw, meta_kw in (("SOPClassUID", "MediaStorageSOPClassUID"),
                            ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
            if not ds.get(kw) and meta is not None and meta.get(meta_kw):
                setattr(ds, kw, meta.get(meta_kw))
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            if not ds.get(kw):
                raise InputError(
                    f"{path} has no {kw} (an anonymiser may have removed it), so a DICOM "
                    "SEG cannot reference it.",
                    "Export the series again with its UIDs kept (or given new ones).")
        if "SpecificCharacterSet" in ds and not ds.SpecificCharacterSet:
            del ds.SpecificCharacterSet  # empty means the default repertoire; highdicom refuses ''
        for kw in _TYPE2_COPIED:  # type 2: present, empty when unknown (PS3.3 allows it)
            if kw not in ds:
                setattr(ds, kw, None)
        out.append(ds)
    return out


def _on_series(mask: np.ndarray, grid: Grid | None, series: DicomSeries, what: str
               ) -> np.ndarray:
    assert series.grid is not None
    if grid is None or grid == series.grid:
        if mask.shape != series.grid.shape:
            raise InputError(
                f"{what} is {'x'.join(map(str, mask.shape))} voxels where DICOM series "
                f"{series.uid} is {'x'.join(map(str, series.grid.shape))}.",
                "Give the mask's grid so it is placed in world space.")
        return mask
    match = compare_grids(series.grid, grid)
    if match.relation not in (Relation.SAME, Relation.REORIENTED, Relation.CROP):
        raise InputError(f"{what} is not on the voxels of DICOM series {series.uid}: "
                         f"{match.message}",
                         "A DICOM SEG holds the source's voxels; resample the mask first.")
    return align_to_image(mask, match)


def _frames(volume: np.ndarray, series: DicomSeries, n_frames: int) -> np.ndarray:
    """A [column, row, slice] volume as highdicom's (frames, rows, columns) source order."""
    if not series.frames:
        return np.ascontiguousarray(volume.transpose(2, 1, 0))
    out = np.zeros((n_frames, volume.shape[1], volume.shape[0]), dtype=volume.dtype)
    for k, f in enumerate(series.frames):
        out[f] = volume[:, :, k].T
    return out


def _values(labels: np.ndarray) -> list[int]:
    """The values a label map holds (a histogram: many times faster than np.unique)."""
    if labels.dtype.kind in "ub" and labels.dtype.itemsize <= 2:
        return [int(v) for v in np.flatnonzero(np.bincount(labels.ravel()))]
    return [int(v) for v in np.unique(labels)]


def _label_map(masks: np.ndarray | Mapping[int, np.ndarray], specs: Sequence[SegmentSpec],
               grid: Grid | None, series: DicomSeries) -> tuple[np.ndarray, bool]:
    """One label map of segment numbers on the series' grid, and whether per-segment masks
    overlap (then only a binary SEG, made from the masks themselves, holds them)."""
    numbers = [s.number for s in specs]
    top = max(numbers)
    dtype = np.uint8 if top < 256 else np.uint16
    if isinstance(masks, np.ndarray):
        if masks.ndim != 3:
            raise InputError(f"The label map has {masks.ndim} dimensions, not 3.")
        lab = _on_series(masks, grid, series, "The label map")
        if lab.dtype.kind not in "iub":
            raise InputError(f"The label map holds {lab.dtype} values, not labels.")
        values = _values(lab)
        stray = sorted(int(v) for v in values if v and int(v) not in set(numbers))
        if stray:
            raise InputError(f"The label map holds values no segment describes: "
                             f"{', '.join(map(str, stray[:10]))}.",
                             "Give a SegmentSpec for every value, or clear those voxels.")
        return lab.astype(dtype, copy=False), False
    assert series.grid is not None
    missing = sorted(set(numbers) - set(masks))
    if missing:
        raise InputError(f"No mask is given for segment(s) {missing}.")
    out = np.zeros(series.grid.shape, dtype=dtype)
    overlap = False
    for s in specs:
        m = _on_series(np.asarray(masks[s.number]), grid, series, f"The mask of {s.label!r}")
        on = m.astype(bool, copy=False)
        if not overlap and np.any(out[on]):
            overlap = True
        out[on] = s.number
    return out, overlap


def _concept(code: Code) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(code.value, code.scheme, code.meaning or code.value)


def _descriptions(specs: Sequence[SegmentSpec], numbers: Mapping[int, int]) -> list[Any]:
    import highdicom as hd
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.sr.codedict import codes

    out = []
    for s in specs:
        type_code = s.type_code or local_code(s.label)
        category = s.category_code or UNCODED_CATEGORY
        algo = None
        if s.algorithm:
            algo = hd.AlgorithmIdentificationSequence(
                name=s.algorithm[:64], family=codes.DCM.ArtificialIntelligence,
                version=s.algorithm_version or "unknown")
        desc = hd.seg.SegmentDescription(
            segment_number=numbers[s.number], segment_label=s.label[:_LABEL_MAX] or type_code.meaning,
            segmented_property_category=_concept(category),
            segmented_property_type=_concept(type_code),
            algorithm_type="AUTOMATIC" if s.algorithm else "MANUAL",
            algorithm_identification=algo,
            display_color=hd.color.CIELabColor.from_rgb(*s.rgb) if s.rgb else None)
        if s.modifier is not None:  # nested in the type's item, as PS3.3 C.8.20.2 has it
            desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence \
                = DicomSequence([_concept(s.modifier)])
        out.append(desc)
    return out


def _scheme_identification(specs: Sequence[SegmentSpec]) -> list[Any]:
    from pydicom.dataset import Dataset

    used = any(c is None or c.scheme == LOCAL_SCHEME for s in specs
               for c in (s.category_code, s.type_code))
    if not used:
        return []
    item = Dataset()
    item.CodingSchemeDesignator = LOCAL_SCHEME
    item.CodingSchemeName = "Segmap local codes"
    item.CodingSchemeResponsibleOrganization = "Segmap"
    return [item]


def _check_specs(specs: Sequence[SegmentSpec]) -> list[SegmentSpec]:
    if not specs:
        raise InputError("A DICOM SEG needs at least one segment.")
    ordered = sorted(specs, key=lambda s: s.number)
    nums = [s.number for s in ordered]
    if len(set(nums)) != len(nums):
        raise InputError("Two segments have the same number.", "Number segments uniquely.")
    if nums[0] < 1 or nums[-1] > 65535:
        raise InputError(f"Segment numbers run from 1 to 65535 (got {nums[0]}..{nums[-1]}).")
    return ordered


def write_dicom_seg(out_path: str | os.PathLike[str], source_files: Sequence[Path],
                    masks: np.ndarray | Mapping[int, np.ndarray],
                    segments: Sequence[SegmentSpec], *,
                    kind: SegKind | str | None = None, grid: Grid | None = None,
                    series_description: str = "Segmap segmentation",
                    series_number: int = 901, content_label: str = "SEGMAP",
                    content_creator: str | None = None, force: bool = False) -> SegWritten:
    """Write ``masks`` as a DICOM SEG of the DICOM series ``source_files``, atomically.

    ``masks`` is a label map (values are ``SegmentSpec.number``) or one boolean mask per
    segment number, on the series' grid in Segmap's ``[column, row, slice]`` order, or on
    ``grid`` when given (placed in world space; the same voxels, reoriented or cropped).
    ``kind``: LABELMAP (default; BINARY when per-segment masks overlap, which a label map
    cannot hold). A label-map SEG keeps the segment numbers; a binary SEG numbers them
    1..n in order (``SegWritten.segment_numbers``). Segments with no voxel are described
    and have no frames (``SegWritten.empty``); an all-empty SEG keeps its frames so
    readers still see its geometry.

    InputError when the image is not a DICOM series (a NIfTI-only case), a value has no
    segment, or the masks are not on the series' voxels; OutputError when ``out_path``
    cannot be written or is a source file; ``ReplaceRefused`` for a file Segmap did not
    write (unless ``force``). The SEG written is recorded as Segmap's (``record_output``).
    """
    import highdicom as hd

    target = Path(out_path).expanduser()
    series = _source_series(source_files)
    guard_output(target, [*source_files, *series.files], force=force)
    if series.grid is None:
        raise InputError(f"DICOM series {series.uid} has no 3-D geometry.",
                         " ".join(series.warnings) or None)
    if len(series.files) == 1 and not series.frames and series.grid.shape[2] > 1:
        raise InputError(f"DICOM series {series.uid} is a mosaic; a SEG cannot reference "
                         "its slices.", "Convert the mosaic to single slices first.")
    specs = _check_specs(segments)
    shape = series.grid.shape
    require_memory(series.files[0], 3 * int(np.prod(shape)) * 2,
                   f"a {'x'.join(map(str, shape))} segmentation")
    sources = _read_sources(series)
    labels, overlap = _label_map(masks, specs, grid, series)
    seg_kind = SegKind(kind) if kind is not None else (SegKind.BINARY if overlap
                                                       else SegKind.LABELMAP)
    if overlap and seg_kind is SegKind.LABELMAP:
        raise InputError("The segments overlap, which a label-map SEG cannot hold.",
                         "Write a binary SEG (kind=BINARY) for overlapping segments.")
    n_frames = int(sources[0].get("NumberOfFrames") or 1) if series.frames else len(sources)
    present = set(_values(labels)) if not overlap else {
        s.number for s in specs if np.any(np.asarray(masks[s.number]))}
    empty = tuple(s.number for s in specs if s.number not in present)
    if seg_kind is SegKind.LABELMAP:
        numbers = {s.number: s.number for s in specs}
        pixels = _frames(labels, series, n_frames)
    else:
        numbers = {s.number: i for i, s in enumerate(specs, start=1)}
        if overlap:
            assert isinstance(masks, Mapping)
            require_memory(series.files[0], int(np.prod(shape)) * len(specs),
                           f"{len(specs)} overlapping segments")
            pixels = np.stack([_frames(_on_series(np.asarray(masks[s.number]), grid, series,
                                                  s.label).astype(np.uint8), series, n_frames)
                               for s in specs], axis=-1)
        else:
            lut = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.uint16)
            for value, n in numbers.items():
                if value < lut.size:
                    lut[value] = n
            small = np.uint8 if len(specs) < 256 else np.uint16
            pixels = _frames(lut[labels].astype(small), series, n_frames)
    try:
        with warnings.catch_warnings():  # highdicom's advice on the source's names is no news
            warnings.simplefilter("ignore", UserWarning)
            seg = hd.seg.Segmentation(
                source_images=sources if not series.frames else sources[:1],
                pixel_array=pixels, segmentation_type=str(seg_kind),
                segment_descriptions=_descriptions(specs, numbers),
                series_instance_uid=hd.UID(), series_number=series_number,
                sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Segmap",
                manufacturer_model_name="Segmap", software_versions=app.__version__,
                device_serial_number="0", content_description=series_description[:64],
                content_creator_name=content_creator, content_label=content_label[:16].upper(),
                omit_empty_frames=len(empty) < len(specs))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(
            f"A DICOM SEG of series {series.uid} cannot be built from its headers: {exc}",
            "Check the series' DICOM headers (an anonymiser may have left invalid values); "
            "the items list and label tables do not need them.") from None
    seg.SeriesDescription = series_description[:64]
    if scheme := _scheme_identification(specs):
        seg.CodingSchemeIdentificationSequence = scheme
    with atomic_path(target) as tmp:
        seg.save_as(tmp)
    record_output(target, "DICOM SEG")  # so writing it again needs no --force
    return SegWritten(target, seg_kind, str(seg.SOPClassUID), str(seg.SeriesInstanceUID),
                      str(seg.SOPInstanceUID), series.uid, numbers,
                      int(seg.get("NumberOfFrames") or 1), empty)
