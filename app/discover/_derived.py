"""DICOM SEG and RT Structure Sets as binary NIfTI masks on the series they reference.

A scan finds SEG and RTSTRUCT files anywhere in the folder and pairs each with the image
series it references (SEG: Referenced Series, else its referenced instances; RTSTRUCT:
RT Referenced Series, else the one series in its Frame of Reference), whatever the
folder layout. Each segment or ROI becomes one binary NIfTI mask on exactly the grid
Segmap's DICOM reader gives that series (so it pairs as "same grid"), a shape III case.

The masks are never written into the user's folders. They go into a cache
(:func:`derived_root`: ``$SEGMAP_CACHE/derived``, else ``$XDG_CACHE_HOME/segmap/derived``,
else ``~/.cache/segmap/derived``), one folder per (source file content, referenced
series): ``<sha256 of the file, 16>-<sha1 of the series UID, 8>``. A conversion is written
into a hidden temporary folder and renamed into place whole, its manifest last, so a
folder that exists is complete; a re-scan reuses it when its manifest says the same file,
series and grid (nothing is read but the manifest). Files are named after their segment
(``<number>_<label>.nii.gz``, ROIs ``<index>_<name>.nii.gz``); beside each a one-line
label table (``<stem>_labels.txt``, ``1 "Liver"``) that discovery reads like any other, so
segment labels and ROI names are the masks' structure names. What was converted and
why (:class:`Derived`) is the scan's ``derived`` record, with whether RedBrick's SDK
itself could have taken the file (:func:`app.readers.dicom.sdk_refusal`).

Export copies these masks into the output folder (``app.export``), so an items list never
points into the cache: :func:`derived_mask` tells it which masks are such copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from app.discover._cache import cache_root
from app.discover._rt_lists import rt_masks
from app.errors import SegmapError
from app.geometry import Grid, compare_grids
from app.progress import Progress, Work
from app.readers import census, is_dicom_seg, save_nifti, seg_as_nifti
from app.readers.dicom import (
    Code,
    DicomSeries,
    ObjectKind,
    RoiMask,
    Segment,
    load_seg,
    rtstruct_header,
    sdk_refusal,
    sdk_seg_slices,
    seg_header,
)

MANIFEST = "segmap-derived.json"
_FORMAT = "segmap-derived"
_VERSION = 2  # 2: each mask keeps its segment's codes
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_FIX_MISSING = ("Scan the folder that holds both the {what} and the image series it was drawn "
                "on (a parent of both).")


def derived_root() -> Path:
    """Where converted masks are cached (see the module docstring)."""
    return cache_root("derived")


@dataclass(frozen=True)
class DerivedMask:
    """One converted segment or ROI."""

    path: Path
    number: int  # the segment number, or the ROI's index in the file (from 1)
    name: str  # the segment label / ROI name
    voxels: int
    rgb: tuple[int, int, int] | None = None
    # What the file says the segment is: {"category", "type"[, "modifier"]: Code JSON}
    code: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"file": self.path.name, "number": self.number, "name": self.name,
               "voxels": self.voxels, "rgb": list(self.rgb) if self.rgb else None}
        if self.code:
            out["code"] = self.code
        return out


@dataclass(frozen=True)
class Derived:
    """A DICOM SEG or RTSTRUCT converted to binary masks: what, onto which series, and why."""

    source: Path
    label: str  # the source relative to the scanned folder
    kind: str  # "SEG" | "RTSTRUCT"
    series_uid: str
    how: str  # how the series was found ("its Referenced Series Sequence", ...)
    folder: Path  # the cache folder holding the masks
    masks: tuple[DerivedMask, ...]
    seg_type: str  # BINARY | FRACTIONAL | LABELMAP (SEG); CONTOURS (RTSTRUCT)
    threshold: float | None  # a FRACTIONAL SEG's cut (fraction >= threshold)
    overlapping: bool
    sdk: str | None  # why RedBrick's SDK would refuse the file; None: it takes it
    findings: tuple[str, ...] = ()
    reused: bool = False  # found in the cache, not converted again
    series_file: Path | None = None  # the first file of the series (one UID can name several)
    native: bool = False  # the SEG itself is the case's mask (RedBrick's SDK takes it)

    @property
    def note(self) -> str:
        """One line: what was converted, onto which series, and what the SDK would do."""
        what = "DICOM SEG" if self.kind == "SEG" else "RT Structure Set"
        kind = self.seg_type + (f" cut at {self.threshold:g}" if self.threshold is not None
                                else "")
        n = len(self.masks)
        unit = "segment" if self.kind == "SEG" else "ROI"
        head = (f"{self.label}: {what} ({kind}, {n} {unit}{'s' if n != 1 else ''}"
                f"{', overlapping' if self.overlapping else ''}) on series {self.series_uid} "
                f"({self.how}) ")
        if self.native and self.kind == "SEG":
            return head + ("kept as it is, a label map of its segment numbers: RedBrick's "
                           "SDK takes it (upload with redbrick upload --dicom-seg)")
        if self.native:
            return head + ("kept as it is, its segmentMap keyed by ROI name: RedBrick's SDK "
                           "takes it (upload with redbrick upload --rt-struct)")
        return head + (f"converted to {n} binary NIfTI mask(s)"
                       f"{' (reused from the cache)' if self.reused else ''}; "
                       + self.sdk_text)

    @property
    def sdk_text(self) -> str:
        """Whether RedBrick's SDK itself could have taken the file, and why not."""
        if self.sdk:
            return f"RedBrick's SDK would not take it: {self.sdk}"
        if self.kind == "RTSTRUCT" and self.overlapping:
            return ("RedBrick's SDK would take it but keep only the last ROI where ROIs "
                    "overlap (--rt-struct); as masks, each ROI stays whole")
        return "RedBrick's SDK could take the file as it is"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.label, "kind": self.kind, "type": self.seg_type,
                "threshold": self.threshold, "overlapping": self.overlapping,
                "series_uid": self.series_uid, "how": self.how,
                "folder": str(self.folder), "reused": self.reused, "native": self.native,
                "masks": [m.to_json() for m in self.masks], "sdk_refusal": self.sdk,
                "sdk_takes_it": self.sdk is None, "findings": list(self.findings)}


@dataclass(frozen=True)
class Failed:
    """A SEG / RTSTRUCT that gave no masks, and why (for the scan's Not paired list)."""

    label: str
    reason: str


def safe_name(text: str, fallback: str = "segment") -> str:
    """A file-name-safe form of a segment label (``Liver / Left`` -> ``Liver_Left``)."""
    out = _SAFE.sub("_", text.strip()).strip("._")[:80]
    return out or fallback


_FOLDERS: dict[Path, tuple[int, tuple[str, dict[str, DerivedMask]] | None]] = {}


def _folder(folder: Path) -> tuple[str, dict[str, DerivedMask]] | None:
    """A derived folder's manifest: (its source file's name, its masks by file name); None
    for any other folder. Read once per version of the manifest (the wizard asks per row
    and repaint)."""
    try:
        stamp = (folder / MANIFEST).stat().st_mtime_ns
    except OSError:
        return None
    cached = _FOLDERS.get(folder)
    if cached is None or cached[0] != stamp:
        m = _manifest(folder)
        got = None if m is None else (str(m.get("source", "")),
                                      {x.path.name: x for x in _masks_of(m, folder)})
        _FOLDERS[folder] = cached = (stamp, got)
    return cached[1]


def derived_mask(path: Path) -> tuple[str, str] | None:
    """For a mask in a derived folder: (the source file's name, the folder's key); else
    None. Read from the folder's manifest, so it holds wherever the cache is."""
    got = _folder(Path(path).parent)
    return None if got is None else (got[0], Path(path).parent.name)


def derived_info(path: Path) -> DerivedMask | None:
    """What the manifest says of a mask in a derived folder (its segment, colour and code);
    None for any other mask."""
    got = _folder(Path(path).parent)
    return None if got is None else got[1].get(Path(path).name)


_SEGS: dict[Path, tuple[tuple[int, int], dict[int, DerivedMask]]] = {}  # SEG -> segments


def segment_info(path: Path, value: int | None = None) -> DerivedMask | None:
    """What a DICOM SEG says of a mask's segment (label, colour, code): of a mask converted
    from one (``derived_info``), or of segment ``value`` of a SEG used as it is; None for
    any other mask. A SEG's header is read once per file version."""
    info = derived_info(path)
    if info is not None or value is None:
        return info
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _SEGS.get(p)
    if cached is None or cached[0] != stamp:
        segments: dict[int, DerivedMask] = {}
        if is_dicom_seg(p):
            try:
                header = seg_header(p)
            except SegmapError:
                header = None
            for seg in header.segments if header is not None else ():
                segments[seg.number] = DerivedMask(
                    p, seg.number, seg.label or seg.description or f"Segment {seg.number}",
                    0, seg.rgb, _code_json(seg))
        _SEGS[p] = cached = (stamp, segments)
    return cached[1].get(int(value))


def _masks_of(m: dict[str, Any], folder: Path) -> tuple[DerivedMask, ...]:
    return tuple(DerivedMask(folder / x["file"], int(x["number"]), str(x["name"]),
                             int(x["voxels"]), tuple(x["rgb"]) if x.get("rgb") else None,
                             x.get("code") if isinstance(x.get("code"), dict) else None)
                 for x in m.get("masks", []))


def is_derived_folder(folder: Path) -> bool:
    """True for a folder this module wrote (a cache under a scanned folder is left out)."""
    return (folder / MANIFEST).is_file()


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(obj, dict) and obj.get("format") == _FORMAT and \
        obj.get("version") == _VERSION
    return obj if ok else None


def _content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _code_json(seg: Segment) -> dict[str, Any] | None:
    """A segment's coded concepts as a template stores them (None without a type)."""
    if seg.type is None:
        return None
    category = seg.category or Code("SCT", "123037004", "Anatomical Structure")
    out = {"category": category.to_json(), "type": seg.type.to_json()}
    if seg.modifier is not None:
        out["modifier"] = seg.modifier.to_json()
    return out


def _key(content: str, series_uid: str) -> str:
    return f"{content[:16]}-{hashlib.sha1(series_uid.encode()).hexdigest()[:8]}"


def _grid_json(grid: Grid) -> dict[str, Any]:
    return {"shape": list(grid.shape), "affine": np.asarray(grid.affine).round(6).tolist()}


def _reusable(folder: Path, content: str, series_uid: str, grid: Grid) -> dict[str, Any] | None:
    m = _manifest(folder)
    if m is None or m.get("source_sha256") != content or m.get("series_uid") != series_uid:
        return None
    want = _grid_json(grid)
    got = m.get("grid") or {}
    if got.get("shape") != want["shape"] or not np.allclose(
            np.asarray(got.get("affine", np.zeros((4, 4)))), want["affine"], atol=1e-4):
        return None
    if not all((folder / str(x.get("file", ""))).is_file() for x in m.get("masks", [])):
        return None
    return m


def _from_manifest(m: dict[str, Any], source: Path, label: str, folder: Path, how: str
                   ) -> Derived:
    masks = _masks_of(m, folder)
    return Derived(source, label, m["kind"], m["series_uid"], how, folder, masks,
                   m["type"], m.get("threshold"), bool(m.get("overlapping")),
                   m.get("sdk_refusal"), tuple(m.get("findings", ())), True)


def _write_mask(folder: Path, stem: str, name: str, mask: np.ndarray, grid: Grid,
                what: str) -> int:
    """Write one binary mask (uint8 0/1, on ``grid``) and its one-line label table."""
    img = nib.Nifti1Image(np.asarray(mask, np.uint8), np.asarray(grid.affine, float))
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    save_nifti(img, folder / f"{stem}.nii.gz", what)
    quoted = name.replace('"', "'").replace("\n", " ").strip() or stem
    (folder / f"{stem}_labels.txt").write_text(
        f"# {what} (written by Segmap from a DICOM file)\n1\t\"{quoted}\"\n", "utf-8")
    return int(np.count_nonzero(mask))


class _Converter:
    """Converting the SEG and RTSTRUCT files of one scan (see :func:`convert_dicom_masks`)."""

    def __init__(self, series: Sequence[DicomSeries], rel: Any, root: Path) -> None:
        # One UID can name several series: the reader splits them (by geometry, size, ...)
        # into ``uid``, ``uid.2``, ``uid.3``; each is found by the UID files refer to.
        uids = {s.uid for s in series}
        self.images: dict[str, list[DicomSeries]] = {}
        for s in series:
            if s.kind is ObjectKind.IMAGE:
                self.images.setdefault(_real_uid(s.uid, uids), []).append(s)
        self.rel, self.cache = rel, root
        self.derived: list[Derived] = []
        self.failed: list[Failed] = []
        self.warnings: list[str] = []
        self._sops: dict[str, DicomSeries] | None = None  # first instance's SOP UID -> it
        self._frames: dict[str, list[DicomSeries]] | None = None  # frame of reference -> them

    # -- which series a file references ---------------------------------------------------

    def _first_headers(self) -> None:
        import pydicom

        self._sops, self._frames = {}, {}
        for s in (s for group in self.images.values() for s in group):
            if not s.files:
                continue
            ds: Any
            try:
                ds = pydicom.dcmread(s.files[0], stop_before_pixels=True, force=True,
                                     specific_tags=["SOPInstanceUID", "FrameOfReferenceUID"])
            except (OSError, ValueError, pydicom.errors.InvalidDicomError):
                ds = {}  # an unreadable first slice: nothing refers to it by UID
            self._sops[str(ds.get("SOPInstanceUID", ""))] = s
            self._frames.setdefault(str(ds.get("FrameOfReferenceUID", "")), []).append(s)

    def referenced(self, series_uids: Sequence[str], sops: Iterable[str],
                   frames: Sequence[str] = ()) -> tuple[DicomSeries | None, str]:
        """The scanned series a file references, and how it was found (else None, the
        UIDs it names)."""
        series_uids = [u for u in series_uids if u]
        refs = set(sops)
        for uid in series_uids:
            cands = self.images.get(uid, [])
            if len(cands) > 1:  # the one holding the referenced images, with a 3-D grid
                cands = [s for s in self._by_sops(refs) if any(s is c for c in cands)] \
                    or cands
                cands = sorted(cands, key=lambda s: s.grid is None)
            if cands:
                return replace(cands[0], uid=uid), "its Referenced Series"
        hits = self._by_sops(refs)
        if len(hits) == 1:
            return self._real(hits[0]), "its referenced instances"
        assert self._frames is not None
        found = list({id(s): s for f in frames if f for s in self._frames.get(f, [])}.values())
        if not series_uids and len(found) == 1:
            return self._real(found[0]), "the only series in its Frame of Reference"
        return None, ", ".join(series_uids)

    def _real(self, series: DicomSeries) -> DicomSeries:
        """The series under the SeriesInstanceUID of its files (a split part's is ``uid.2``)."""
        real = next(u for u, group in self.images.items() if any(s is series for s in group))
        return replace(series, uid=real)

    def _by_sops(self, sops: set[str]) -> list[DicomSeries]:
        """The series whose first image is one of ``sops`` (one header read per series,
        once per scan)."""
        if self._sops is None:
            self._first_headers()
        assert self._sops is not None
        return list({id(s): s for u, s in self._sops.items() if u in sops}.values())

    # -- one file -----------------------------------------------------------------------

    def add(self, d: Derived, series: DicomSeries | None) -> None:
        """Record a conversion (new or reused); its findings are the scan's warnings."""
        if series is not None:
            d = replace(d, series_file=series.files[0] if series.files else None)
        self.derived.append(d)
        self.warnings.extend(f"{d.label}: {f}" for f in d.findings)

    def native(self, path: Path, kind: ObjectKind) -> Derived | None:
        """The file as RedBrick's SDK takes it, unconverted, when it does: a SEG it
        converts faithfully onto its whole series, a structure set whose ROIs (uniquely
        named) do not overlap; else None (then it is converted)."""
        try:
            return self._seg_native(path) if kind is ObjectKind.SEG else \
                self._rt_native(path)
        except (SegmapError, OSError):
            return None  # the conversion says what is wrong with it

    def _seg_native(self, path: Path) -> Derived | None:
        header = seg_header(path)
        series, how = self.referenced(header.referenced_series_uids,
                                      header.referenced_sop_uids,
                                      (header.frame_of_reference_uid,))
        if series is None or series.grid is None or sdk_refusal(header) is not None or \
                sdk_seg_slices(path) != series.grid.shape[2]:  # header only: a crop is no use
            return None
        img = seg_as_nifti(path)  # what the SDK stores; raises where it refuses
        if not compare_grids(series.grid, Grid.of(img.shape[:3], img.affine)).aligned:
            return None  # a SEG of part of the series: the SDK would store that crop
        counts = census(path).values
        masks = tuple(DerivedMask(path, seg.number, seg.label or seg.description or
                                  f"Segment {seg.number}", int(counts.get(seg.number, 0)),
                                  seg.rgb, _code_json(seg)) for seg in header.segments)
        return Derived(path, self.rel(path), "SEG", series.uid, how, path.parent, masks,
                       header.kind, None, False, None, (), False,
                       series.files[0] if series.files else None, True)

    def _rt_native(self, path: Path) -> Derived | None:
        header = rtstruct_header(path)
        series, how = self.referenced(header.referenced_series_uids,
                                      header.referenced_sop_uids,
                                      header.frame_of_reference_uids)
        names = [r.name for r in header.rois]
        if series is None or series.grid is None or not names or len(set(names)) != len(names):
            return None
        rt = rt_masks(path, series.files)
        if sdk_refusal(rt) is not None or _boxes_overlap(rt.boxes, rt.grid.shape):
            return None
        masks = tuple(DerivedMask(path, i + 1, roi.name, int(np.count_nonzero(box.data)),
                                  roi.color) for i, (roi, box) in
                      enumerate(zip(rt.rois, rt.boxes, strict=True)))
        return Derived(path, self.rel(path), "RTSTRUCT", series.uid, how, path.parent, masks,
                       "CONTOURS", None, False, None,
                       tuple(f"{f.severity}: {f.message}" for f in rt.findings), False,
                       series.files[0] if series.files else None, True)

    def fail(self, path: Path, reason: str) -> None:
        self.failed.append(Failed(self.rel(path), reason))
        self.warnings.append(f"{self.rel(path)}: {reason}")

    def missing(self, path: Path, what: str, uids: str) -> None:
        fix = _FIX_MISSING.format(what=what)
        a = "an" if what.startswith("RT") else "a"
        why = (f"{a} {what} of series {uids}, which is not in the scanned folder" if uids else
               f"{a} {what} that names no series, and none of the scanned series holds an "
               "image it refers to or shares its Frame of Reference alone")
        self.failed.append(Failed(self.rel(path), f"{why}; {fix}"))

    def convert(self, path: Path, kind: ObjectKind) -> Work[None]:
        """Convert one file (failures become ``failed`` entries and warnings)."""
        try:
            if kind is ObjectKind.SEG:
                yield from self._seg(path)
            else:
                yield from self._rtstruct(path)
        except SegmapError as exc:
            self.fail(path, exc.message + (f" {exc.hint}" if exc.hint else ""))
        except OSError as exc:
            self.fail(path, f"cannot read it or write its masks into {self.cache}: "
                            f"{exc.strerror or exc}. Set SEGMAP_CACHE to a folder you can "
                            "write (the masks go into its derived/ folder).")

    def _target(self, path: Path, series: DicomSeries) -> tuple[str, Path]:
        content = _content_hash(path)
        return content, self.cache / _key(content, series.uid)

    def _todo(self, path: Path, what: str, series_uids: Sequence[str], sops: Iterable[str],
              frames: Sequence[str]) -> tuple[DicomSeries, str, str, Path, str] | None:
        """(series, how it was found, content hash, cache folder, label) of a file to
        convert; None when there is nothing to do: its series is not in the scan (said), or
        the cache holds its conversion (reused)."""
        series, how = self.referenced(series_uids, sops, frames)
        if series is None:
            self.missing(path, what, how)
            return None
        content, folder = self._target(path, series)
        label = self.rel(path)
        if series.grid is not None and (m := _reusable(folder, content, series.uid,
                                                        series.grid)):
            self.add(_from_manifest(m, path, label, folder, how), series)
            return None
        return series, how, content, folder, label

    def _seg(self, path: Path) -> Work[None]:
        header = seg_header(path)
        todo = self._todo(path, "DICOM SEG", header.referenced_series_uids,
                          header.referenced_sop_uids, (header.frame_of_reference_uid,))
        if todo is None:
            return
        series, how, content, folder, label = todo
        masks = yield from load_seg(path, series)
        entries = [(seg.number, seg.label or seg.description or f"Segment {seg.number}",
                    seg.rgb, partial(masks.mask, seg.number)) for seg in masks.segments]
        codes = {seg.number: _code_json(seg) for seg in masks.segments}
        meta: dict[str, Any] = {
            "kind": "SEG", "type": header.kind, "threshold": masks.threshold,
            "overlapping": masks.overlapping, "sdk_refusal": sdk_refusal(masks), "findings": [],
            "codes": {str(n): c for n, c in codes.items() if c}}
        yield from self._write(path, label, series, how, content, folder, masks.grid,
                               entries, meta)

    def _rtstruct(self, path: Path) -> Work[None]:
        header = rtstruct_header(path)
        todo = self._todo(path, "RT Structure Set", header.referenced_series_uids,
                          header.referenced_sop_uids, header.frame_of_reference_uids)
        if todo is None:
            return
        series, how, content, folder, label = todo
        yield Progress(0, 1, f"Filling the contours of {path.name}")
        rt = rt_masks(path, series.files)
        # one ROI's full mask at a time: the reader keeps bounding boxes, so fifty ROIs of a
        # large CT fit in memory
        entries = [(i + 1, roi.name or f"ROI {roi.number}", roi.color,
                    partial(box.full, rt.grid.shape))
                   for i, (roi, box) in enumerate(zip(rt.rois, rt.boxes, strict=True))]
        findings = [f"{f.severity}: {f.message}" for f in rt.findings]
        meta: dict[str, Any] = {
            "kind": "RTSTRUCT", "type": "CONTOURS", "threshold": None,
            "overlapping": _boxes_overlap(rt.boxes, rt.grid.shape),
            "sdk_refusal": sdk_refusal(rt), "findings": findings}
        yield from self._write(path, label, series, how, content, folder, rt.grid, entries,
                               meta)

    def _write(self, path: Path, label: str, series: DicomSeries, how: str, content: str,
               folder: Path, grid: Grid,
               entries: Sequence[tuple[int, str, Any, Callable[[], np.ndarray]]],
               meta: dict[str, Any]) -> Work[None]:
        """Write the masks into a hidden temporary folder, then rename it into place."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        written: list[dict[str, Any]] = []
        codes = meta.pop("codes", {})  # kept with each mask, not twice
        try:
            taken: set[str] = set()
            for i, (number, name, rgb, mask) in enumerate(entries):
                yield Progress(i, len(entries), f"{path.name}: writing {name}")
                stem = f"{number}_{safe_name(name)}"
                while stem.lower() in taken:
                    stem += "_"
                taken.add(stem.lower())
                voxels = _write_mask(tmp, stem, name, mask(), grid,
                                     f"{name} from {path.name}")
                entry = {"file": f"{stem}.nii.gz", "number": number, "name": name,
                         "voxels": voxels, "rgb": list(rgb) if rgb else None}
                if code := codes.get(str(number)):
                    entry["code"] = code
                written.append(entry)
            manifest = {"format": _FORMAT, "version": _VERSION, "source": path.name,
                        "source_sha256": content, "series_uid": series.uid,
                        "grid": _grid_json(grid), "masks": written, **meta}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
            if folder.exists():  # incomplete, stale or another scan's: replaced whole
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(tmp, folder)
            except OSError:
                if _manifest(folder) is None:  # not another scan finishing first
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        m = _manifest(folder)
        assert m is not None
        self.add(replace(_from_manifest(m, path, label, folder, how), reused=False), series)


def _real_uid(uid: str, uids: set[str]) -> str:
    """``1.2.3`` for the reader's split part ``1.2.3.2`` of series ``1.2.3`` (see
    ``app.readers.dicom``: the largest part keeps the UID, the others get ``.2``, ``.3``)."""
    base, _, n = uid.rpartition(".")
    return base if n.isdigit() and int(n) >= 2 and base in uids else uid


def _boxes_overlap(boxes: Sequence[RoiMask], shape: tuple[int, int, int]) -> bool:
    """True when two ROIs share a voxel (counted box by box: one count volume in memory)."""
    if len(boxes) < 2:
        return False
    count = np.zeros(shape, np.uint16)
    for b in boxes:
        i, j, k = b.offset
        a, c, d = b.data.shape
        count[i:i + a, j:j + c, k:k + d] += b.data
    return bool((count > 1).any())


def _sweep(cache: Path, age: float = 86400.0) -> None:
    """Remove temporary folders a killed conversion left (never reused: hidden, and a day
    old, so no running scan's)."""
    try:
        old = [p for p in cache.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")
               and time.time() - p.stat().st_mtime > age]
    except OSError:
        return
    for p in old:
        shutil.rmtree(p, ignore_errors=True)


def convert_dicom_masks(series: Sequence[DicomSeries], rel: Any,
                        cache: Path | None = None, *, natives: bool = False
                        ) -> Work[tuple[list[Derived], list[Failed], list[str]]]:
    """Convert every SEG / RTSTRUCT file of ``series`` (long work; see the module docstring).

    Returns (what was converted or reused, the files that gave no masks and why, warnings).
    ``rel`` names a path for the user (relative to the scanned folder). With ``natives``
    (the scan holds no other masks), files RedBrick's SDK takes as they are, when all of
    them are of one kind and each does, are not converted at all: each comes back
    ``native``, its masks' paths the file itself (nothing is written).
    """
    conv = _Converter(series, rel, cache if cache is not None else derived_root())
    _sweep(conv.cache)
    todo = [(f, s.kind) for s in series if s.kind in (ObjectKind.SEG, ObjectKind.RTSTRUCT)
            for f in s.files]
    if natives and todo and len({kind for _, kind in todo}) == 1:
        kept: list[Derived] = []
        for i, (f, kind) in enumerate(todo):
            yield Progress(i, len(todo), f"reading {kind} {i + 1}/{len(todo)}: {Path(f).name}")
            d = conv.native(Path(f), kind)
            if d is None:  # one the SDK would not take as it is: every one is converted
                break
            kept.append(d)
        else:
            for d in kept:
                conv.add(d, None)
            yield Progress(len(todo), len(todo), "DICOM masks read")
            return conv.derived, conv.failed, conv.warnings
    for i, (f, kind) in enumerate(todo):
        yield Progress(i, len(todo), f"converting {kind} {i + 1}/{len(todo)}: {Path(f).name}")
        yield from conv.convert(Path(f), kind)
    if todo:
        yield Progress(len(todo), len(todo), "DICOM masks converted")
    return conv.derived, conv.failed, conv.warnings
