"""RT Structure Sets: their ROIs, and their contours filled into masks on the referenced series.

The contours are filled as rt-utils fills them (it is what RedBrick's SDK uses):
each contour's points go to pixel indices through rt-utils' patient-to-pixel matrix,
built with the same float32 steps (the slice step from the first and last slice), are
rounded, and are filled with OpenCV's ``fillPoly`` on the slice its Contour Image Sequence
names. Segmap does it per slice on the ROI's bounding box only, and keeps each mask
as that box (``RoiMask``), so fifty ROIs of a 512x512x300 CT fit in memory; the
voxels equal ``RTStructBuilder.create_from(...).get_roi_mask_by_name(name)``
re-oriented to Segmap's [column, row, slice] order (the tests prove it). Where
rt-utils is wrong Segmap is not: a non-square image (rt-utils allocates its slices
Columns x Rows but fills them by [row, column]) and non-square pixels (rt-utils divides
the column offset by the row spacing; Segmap says so in a finding).

What RedBrick's SDK (2.35.4, ``redbrick.utils.rt_struct.convert_rt_struct_to_nii``)
stores, reproduced by ``sdk_rtstruct_volume``:

* one label map, uint8 (uint16 when the file has 250 ROI names or more), indexed
  [column, row, slice] with the slices in rt-utils' order (ascending along the
  row x column normal), and the affine ``diag(-1, -1, 1, 1)``: no spacing, no
  origin, no orientation (the voxels carry no world geometry);
* the value of an ROI is its position in the series' segmentMap (names absent from
  the file dropped first) plus one; ROIs of the file not in the segmentMap are left out;
  where ROIs overlap the later one in segmentMap order wins; an ROI without contours
  is skipped but keeps its number;
* non-CLOSED_PLANAR contours (points, open lines) are filled as polygons (Segmap leaves
  them out of its masks, with a finding, and fills them only for this volume); an ROI with
  a contour that names no image is skipped (rt-utils raises, the SDK logs it);
* an image with Rows != Columns is not refused, but stored wrong: rt-utils fills a
  Columns x Rows array by [row, column], so the label map is Rows x Columns x slices (the
  image is Columns x Rows) and holds only the min(Rows, Columns) square corner;
* non-square pixels: the SDK's masks are distorted (see above); ``sdk_rtstruct_volume``
  keeps Segmap's right ones there, its one known difference from the SDK.

It refuses (the upload of that series fails) an RT Structure Set whose referenced images
are not among the series' files, and a file that is not an RT Structure Set.
``rtstruct_sdk_refusal`` says so in a sentence, and names a non-square image too (the
stored masks would not fit the image).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from app.errors import VolumeReadError
from app.geometry import Grid
from app.readers.dicom._seg import (
    SegHeader,
    SegMasks,
    guard,
    image_series,
    instance_uid,
    seg_sdk_refusal,
)
from app.readers.dicom._series import RTSTRUCT_CLASS, DicomSeries

_TAGS = ["SOPInstanceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
         "Rows", "Columns", "FrameOfReferenceUID"]


@dataclass(frozen=True)
class Roi:
    """One ROI of a structure set."""

    number: int
    name: str
    observation_label: str
    interpreted_type: str  # RTROIInterpretedType: ORGAN, PTV, EXTERNAL, ...
    color: tuple[int, int, int] | None  # ROIDisplayColor
    contours: int
    frame_of_reference_uid: str
    geometric_types: frozenset[str]  # ContourGeometricType values: CLOSED_PLANAR, POINT, ...


@dataclass(frozen=True)
class RtHeader:
    """What an RT Structure Set holds, from its header."""

    path: Path
    rois: tuple[Roi, ...]
    frame_of_reference_uids: tuple[str, ...]
    referenced_series_uids: tuple[str, ...]
    referenced_sop_uids: frozenset[str]
    series_uid: str = ""


@dataclass(frozen=True)
class RtFinding:
    """Something a user should know about an ROI (severity "error" or "warning")."""

    severity: str
    code: str
    roi: str | None
    message: str


@dataclass(frozen=True)
class RoiMask:
    """An ROI's mask as its bounding box: ``data`` starts at voxel ``offset`` of the grid."""

    offset: tuple[int, int, int]
    data: np.ndarray = field(repr=False)

    def full(self, shape: tuple[int, int, int]) -> np.ndarray:
        """The mask on the whole grid."""
        out = np.zeros(shape, bool)
        i, j, k = self.offset
        a, b, c = self.data.shape
        out[i:i + a, j:j + b, k:k + c] = self.data
        return out


@dataclass(frozen=True)
class RtMasks:
    """Each ROI's mask on the referenced series' grid ([column, row, slice]), and findings.

    ``rt_order`` gives, for each slice of rt-utils' order, Segmap's slice index.
    """

    header: RtHeader
    grid: Grid
    rois: tuple[Roi, ...]
    boxes: tuple[RoiMask, ...] = field(repr=False)
    findings: tuple[RtFinding, ...]
    rt_order: tuple[int, ...]
    square: bool  # Rows == Columns (rt-utils and the SDK need it)
    # ROI index -> its mask as rt-utils fills it, for ROIs with points or open lines.
    sdk_boxes: dict[int, RoiMask] = field(default_factory=dict, repr=False)

    def mask(self, name: str) -> np.ndarray:
        """The boolean mask of the ROI named ``name``."""
        for roi, box in zip(self.rois, self.boxes, strict=True):
            if roi.name == name:
                return box.full(self.grid.shape)
        raise KeyError(name)

    def masks(self) -> Iterator[tuple[Roi, np.ndarray]]:
        """Each ROI with its mask, in file order."""
        for roi, box in zip(self.rois, self.boxes, strict=True):
            yield roi, box.full(self.grid.shape)


def _color(item: Any) -> tuple[int, int, int] | None:
    c = item.get("ROIDisplayColor")
    return (int(c[0]), int(c[1]), int(c[2])) if c is not None and len(c) == 3 else None


def _header(ds: Any, path: Path) -> RtHeader:
    contours = {str(rc.get("ReferencedROINumber")): rc for rc in ds.get("ROIContourSequence") or ()}
    labels = {str(o.get("ReferencedROINumber")): o for o in ds.get("RTROIObservationsSequence") or ()}
    rois = []
    for s in ds.get("StructureSetROISequence") or ():
        key = str(s.get("ROINumber"))
        rc, obs = contours.get(key), labels.get(key)
        seq = (rc.get("ContourSequence") or ()) if rc is not None else ()
        rois.append(Roi(
            int(s.ROINumber), str(s.get("ROIName", "")),
            str(obs.get("ROIObservationLabel", "")) if obs is not None else "",
            str(obs.get("RTROIInterpretedType", "")) if obs is not None else "",
            _color(rc) if rc is not None else None, len(seq),
            str(s.get("ReferencedFrameOfReferenceUID", "")),
            frozenset(str(c.get("ContourGeometricType", "")) for c in seq)))
    frames: list[str] = []
    series: list[str] = []
    sops: set[str] = set()
    for f in ds.get("ReferencedFrameOfReferenceSequence") or ():
        frames.append(str(f.get("FrameOfReferenceUID", "")))
        for st in f.get("RTReferencedStudySequence") or ():
            for se in st.get("RTReferencedSeriesSequence") or ():
                if uid := str(se.get("SeriesInstanceUID", "") or ""):
                    series.append(uid)  # an empty one names nothing
                sops.update(str(c.ReferencedSOPInstanceUID)
                            for c in se.get("ContourImageSequence") or ())
    return RtHeader(path, tuple(rois), tuple(dict.fromkeys(frames)),
                    tuple(dict.fromkeys(series)), frozenset(sops),
                    str(ds.get("SeriesInstanceUID", "")))


def _dataset(path: Path) -> Any:
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    sop = str(ds.get("SOPClassUID", ""))
    if sop != RTSTRUCT_CLASS:
        raise VolumeReadError(
            f"{path} is not an RT Structure Set (SOP class {sop or 'missing'}, modality "
            f"{ds.get('Modality', '?')}).", f"Give an RTSTRUCT file ({RTSTRUCT_CLASS}).")
    return ds


def rtstruct_header(path: str | Path) -> RtHeader:
    """The ROIs and references of an RT Structure Set (contour points not converted)."""
    p = Path(path)
    with guard(p, "RT Structure Set"):
        return _header(_dataset(p), p)


def _series(series_files: Sequence[Path], header: RtHeader) -> DicomSeries:
    refs = ", ".join(header.referenced_series_uids) or "not named in the file"
    series = image_series(list(series_files), f"{header.path.name} (series {refs})")
    if header.referenced_series_uids and not series.is_named_by(header.referenced_series_uids):
        raise VolumeReadError(
            f"{header.path.name} refers to series {refs}, not to the given series {series.uid}.",
            "Give the files of the DICOM series the structure set was drawn on.")
    if series.grid is None or series.frames:
        raise VolumeReadError(
            f"Series {series.uid} is not a stack of single-frame slices with a 3-D grid, "
            "which contours need.", " ".join(series.warnings) or None)
    return series


def _to_pixel(slices: Sequence[Any]) -> np.ndarray:
    """rt-utils' patient-to-pixel matrix (same float32 steps), with the spacings the right
    way round: column index along the row direction over the column spacing."""
    first = slices[0]
    offset = np.array(first.ImagePositionPatient)
    row_spacing, column_spacing = first.PixelSpacing
    iop = first.ImageOrientationPatient
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row_dir, col_dir)
    pos = [float(np.dot(normal, s.ImagePositionPatient)) for s in (slices[0], slices[-1])]
    step = (pos[1] - pos[0]) / (len(slices) - 1) if len(slices) > 1 else 1.0
    linear = np.identity(3, dtype=np.float32)
    linear[0, :3] = row_dir / column_spacing
    linear[1, :3] = col_dir / row_spacing
    linear[2, :3] = normal / step
    mat = np.identity(4, dtype=np.float32)
    mat[:3, :3] = linear
    mat[:3, 3] = offset.dot(-linear.T)
    return mat


def _slice_key(ds: Any) -> float:
    iop = ds.ImageOrientationPatient
    return float(np.dot(np.cross(np.array(iop[:3]), np.array(iop[3:])), ds.ImagePositionPatient))


@dataclass
class _Slices:
    uids: dict[str, int]  # SOP Instance UID -> Segmap slice
    matrix: np.ndarray
    rt_order: tuple[int, ...]
    rows: int
    columns: int
    square_pixels: bool
    frame_of_reference_uid: str


def _slices(series: DicomSeries) -> _Slices:
    import pydicom

    heads = [pydicom.dcmread(f, stop_before_pixels=True, specific_tags=_TAGS, force=True)
             for f in series.files]
    order = sorted(range(len(heads)), key=lambda k: _slice_key(heads[k]))
    sp = heads[0].PixelSpacing
    return _Slices({instance_uid(h): k for k, h in enumerate(heads)},
                   _to_pixel([heads[k] for k in order]), tuple(order), int(heads[0].Rows),
                   int(heads[0].Columns), abs(float(sp[0]) - float(sp[1])) < 1e-6,
                   str(heads[0].get("FrameOfReferenceUID", "")))


def _polygon(points: Any, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """The pixel polygon of one contour (as rt-utils rounds it) and its slice coordinate."""
    xyz = np.reshape(np.asarray(points, dtype=float), (-1, 3))
    vec = np.concatenate((xyz, np.ones((xyz.shape[0], 1))), axis=1)
    ijk = vec.dot(matrix.T)[:, :3]
    poly = np.array([np.around([ijk[:, :2]]).astype(np.int32)]).squeeze()
    return poly.reshape(-1, 2), float(np.median(ijk[:, 2]))


def _roi_mask(roi: Roi, rc: Any, sl: _Slices, shape: tuple[int, int, int],
              findings: list[RtFinding], as_rt_utils: bool = False) -> RoiMask:
    """The ROI's mask as a box. ``as_rt_utils``: fill points and open lines as polygons too,
    as rt-utils does (for what the SDK stores)."""
    import cv2

    per_slice: dict[int, list[np.ndarray]] = {}
    outside = orphan = unplaced = skipped = 0
    for c in (rc.get("ContourSequence") or ()) if rc is not None else ():
        kind = str(c.get("ContourGeometricType", ""))
        if kind != "CLOSED_PLANAR" and not as_rt_utils:
            skipped += 1
            continue
        poly, k_pos = _polygon(c.ContourData, sl.matrix)
        images = c.get("ContourImageSequence")
        if images:
            ks = [sl.uids.get(str(im.ReferencedSOPInstanceUID)) for im in images]
            orphan += sum(k is None for k in ks)
            targets = [k for k in ks if k is not None]
        else:
            k_rt = round(k_pos)
            unplaced += 1
            targets = [sl.rt_order[k_rt]] if 0 <= k_rt < shape[2] and \
                abs(k_pos - k_rt) < 0.25 else []
        if (poly[:, 0] < 0).any() or (poly[:, 1] < 0).any() or \
                (poly[:, 0] >= shape[0]).any() or (poly[:, 1] >= shape[1]).any():
            outside += 1
        for k in targets:
            per_slice.setdefault(k, []).append(poly)
    _roi_findings(roi, findings, outside, orphan, unplaced, skipped)
    if not per_slice:
        return RoiMask((0, 0, 0), np.zeros((0, 0, 0), bool))
    pts = np.concatenate([p for ps in per_slice.values() for p in ps])
    x0, y0 = max(0, int(pts[:, 0].min())), max(0, int(pts[:, 1].min()))
    x1, y1 = min(shape[0], int(pts[:, 0].max()) + 1), min(shape[1], int(pts[:, 1].max()) + 1)
    k0, k1 = min(per_slice), max(per_slice) + 1
    if x1 <= x0 or y1 <= y0:
        return RoiMask((0, 0, 0), np.zeros((0, 0, 0), bool))
    box = np.zeros((x1 - x0, y1 - y0, k1 - k0), bool)
    plane = np.zeros((y1 - y0, x1 - x0), np.uint8)  # [row, column], as OpenCV fills it
    for k, polys in per_slice.items():
        plane[...] = 0
        cv2.fillPoly(plane, [p - (x0, y0) for p in polys], 1)
        box[:, :, k - k0] = plane.T.astype(bool)
    return RoiMask((x0, y0, k0), box)


def _roi_findings(roi: Roi, findings: list[RtFinding], outside: int, orphan: int,
                  unplaced: int, skipped: int) -> None:
    name = roi.name
    if roi.contours == 0:
        findings.append(RtFinding("warning", "roi-empty", name,
                                  f"ROI {name!r} has no contours: its mask is empty."))
    if outside:
        findings.append(RtFinding(
            "warning", "contour-outside", name,
            f"{outside} contour(s) of ROI {name!r} reach outside the image; only the part "
            "inside is kept."))
    if orphan:
        findings.append(RtFinding(
            "error", "contour-image-missing", name,
            f"{orphan} contour(s) of ROI {name!r} lie on images that are not in the series; "
            "they are left out."))
    if unplaced:
        findings.append(RtFinding(
            "warning", "contour-no-image", name,
            f"{unplaced} contour(s) of ROI {name!r} name no image; they were placed by "
            "position (RedBrick's SDK fails on them)."))
    if skipped:
        kinds = ", ".join(sorted(roi.geometric_types - {"CLOSED_PLANAR"}))
        findings.append(RtFinding(
            "warning", "contour-not-closed", name,
            f"{skipped} contour(s) of ROI {name!r} are {kinds}, not closed outlines: they "
            "enclose no area and are left out (RedBrick's SDK fills them as polygons)."))


def read_rtstruct(path: str | Path, series_files: Sequence[Path]) -> RtMasks:
    """Each ROI's mask on the grid of the series ``series_files`` (as Segmap's reader orders
    it), filled as rt-utils fills them, with findings. Raises VolumeReadError for a file
    that is not an RT Structure Set, or a series that is missing or not the referenced one.
    """
    p = Path(path)
    with guard(p, "RT Structure Set"):
        ds = _dataset(p)
        header = _header(ds, p)
        series = _series(series_files, header)
        assert series.grid is not None
        sl = _slices(series)
        contours = {str(rc.get("ReferencedROINumber")): rc
                    for rc in ds.get("ROIContourSequence") or ()}
        findings: list[RtFinding] = []
        if header.frame_of_reference_uids and sl.frame_of_reference_uid and \
                sl.frame_of_reference_uid not in header.frame_of_reference_uids:
            findings.append(RtFinding(
                "error", "frame-of-reference", None,
                f"The contours are in frame of reference "
                f"{', '.join(header.frame_of_reference_uids)}, the series in "
                f"{sl.frame_of_reference_uid}: they may not lie on this image."))
        missing = header.referenced_sop_uids - set(sl.uids)
        if missing:
            findings.append(RtFinding(
                "error", "images-missing", None,
                f"{len(missing)} image(s) the structure set refers to are not in the series "
                "(RedBrick's SDK refuses it)."))
        if not sl.square_pixels:
            findings.append(RtFinding(
                "warning", "pixels-not-square", None,
                "The series' pixels are not square: rt-utils and RedBrick's SDK swap row and "
                "column spacing and distort the masks; Segmap's masks are right."))
        boxes = tuple(_roi_mask(r, contours.get(str(r.number)), sl, series.grid.shape, findings)
                      for r in header.rois)
        as_sdk = {i: _roi_mask(r, contours.get(str(r.number)), sl, series.grid.shape, [], True)
                  for i, r in enumerate(header.rois) if r.geometric_types - {"CLOSED_PLANAR"}}
        return RtMasks(header, series.grid, header.rois, boxes, tuple(findings), sl.rt_order,
                       sl.rows == sl.columns, as_sdk)


def rtstruct_sdk_refusal(item: RtHeader | RtMasks) -> str | None:
    """Why RedBrick's SDK would refuse this RT Structure Set, or store masks that do not fit
    its image, in a sentence for a user; None when it converts it faithfully."""
    if isinstance(item, RtHeader):
        return None if item.rois else f"{item.path.name} has no ROIs for RedBrick's SDK to read."
    name = item.header.path.name
    if any(f.code == "images-missing" for f in item.findings):
        return (f"RedBrick's SDK refuses {name}: it refers to images that are not among the "
                "series' files.")
    if not item.square:
        return (f"RedBrick's SDK would store the masks of {name} transposed and cut to a "
                f"square ({item.grid.shape[1]}x{item.grid.shape[0]} where the image is "
                f"{item.grid.shape[0]}x{item.grid.shape[1]}): its image is not square, which "
                "rt-utils does not handle.")
    return None


def sdk_refusal(item: SegHeader | SegMasks | RtHeader | RtMasks) -> str | None:
    """Why RedBrick's SDK would refuse a DICOM SEG or RTSTRUCT, in a sentence; None if not."""
    if isinstance(item, (SegHeader, SegMasks)):
        return seg_sdk_refusal(item)
    return rtstruct_sdk_refusal(item)


def sdk_rtstruct_volume(masks: RtMasks, segment_map: Sequence[str] | None = None
                        ) -> nib.Nifti1Image:
    """The NIfTI RedBrick's SDK 2.35.4 would store for this structure set, given the ROI
    names of the series' segmentMap in order (default: every ROI in file order).

    Raises VolumeReadError with the SDK's reason when it would refuse the file.
    """
    if any(f.code == "images-missing" for f in masks.findings):
        raise VolumeReadError(rtstruct_sdk_refusal(masks) or "", "Give the series' every file.")
    # rt-utils fails on a contour that names no image: the SDK logs it and skips the ROI.
    lost = {f.roi for f in masks.findings if f.code == "contour-no-image"}
    names = {r.name for r in masks.rois}
    wanted = [n for n in (segment_map if segment_map is not None else
                          dict.fromkeys(r.name for r in masks.rois)) if n in names]
    columns, rows, n = masks.grid.shape
    out = np.zeros(masks.grid.shape, np.uint16 if len(names) >= 250 else np.uint8)
    for value, name in enumerate(wanted, start=1):
        index = next(i for i, r in enumerate(masks.rois) if r.name == name)  # rt-utils: first
        if name in lost:
            continue
        box = masks.sdk_boxes.get(index, masks.boxes[index])
        i, j, k = box.offset
        a, b, c = box.data.shape
        out[i:i + a, j:j + b, k:k + c][box.data] = value
    out = out[:, :, list(masks.rt_order)]
    if rows != columns:  # rt-utils fills a Columns x Rows array by [row, column]
        m = min(rows, columns)
        sdk = np.zeros((rows, columns, n), out.dtype)
        sdk[:m, :m] = out[:m, :m]
        out = sdk
    return nib.Nifti1Image(out, np.diag([-1.0, -1.0, 1.0, 1.0]))
