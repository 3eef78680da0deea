"""Files that hold more than one slice: enhanced multi-frame DICOM and Siemens mosaics.

An enhanced (multi-frame) file stores each frame's position, orientation, pixel
spacing and rescale in per-frame functional groups; a legacy multi-frame file
(RT dose, NM) places its frames along the slice normal by an offset vector. Each
frame becomes one slice record so grouping, sorting and the checks treat it like
a file of its own. A Siemens mosaic tiles a whole volume in one image; nibabel
reads its CSA header (number of slices, slice normal) and corrects its position.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from app.readers.dicom._elements import quiet_warnings

with warnings.catch_warnings(action="ignore"):
    # nibabel warns on import that its DICOM readers are experimental; Segmap uses only
    # its Siemens mosaic reader, which dcm_qa_ts checks (tests/app/readers/test_dicom_real.py).
    from nibabel.nicom import dicomwrappers

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from app.readers.dicom._record import Header


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        nums = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return nums[:count] if len(nums) >= count else None


def _one(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _group(per: Dataset | None, shared: Dataset | None, name: str) -> Dataset | None:
    """The first item of functional group ``name``: per-frame first, then shared."""
    for fg in (per, shared):
        if fg is not None and name in fg:
            seq = fg[name].value
            if seq:
                first: Dataset = seq[0]
                return first
    return None


def _enhanced_frames(ds: Dataset) -> list[dict[str, Any]]:
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_seq = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames: list[dict[str, Any]] = []
    for i in range(int(ds.get("NumberOfFrames") or 1)):
        per = per_seq[i] if i < len(per_seq) else None
        f: dict[str, Any] = {"frame": i}
        if (pos := _group(per, shared, "PlanePositionSequence")) is not None:
            f["position"] = _floats(pos.get("ImagePositionPatient"), 3)
        if (ori := _group(per, shared, "PlaneOrientationSequence")) is not None:
            f["orientation"] = _floats(ori.get("ImageOrientationPatient"), 6)
        if (pm := _group(per, shared, "PixelMeasuresSequence")) is not None:
            f["pixel_spacing"] = _floats(pm.get("PixelSpacing"), 2)
            f["thickness"] = _one(pm.get("SliceThickness"))
            f["spacing_between"] = _one(pm.get("SpacingBetweenSlices"))
        if (pvt := _group(per, shared, "PixelValueTransformationSequence")) is not None:
            f["slope"] = _one(pvt.get("RescaleSlope"))
            f["intercept"] = _one(pvt.get("RescaleIntercept"))
        if (fc := _group(per, shared, "FrameContentSequence")) is not None:
            stack = fc.get("StackID")
            f["stack"] = None if stack in (None, "") else str(stack)
            tpi = fc.get("TemporalPositionIndex")
            f["temporal_position"] = int(tpi) if tpi not in (None, "") else None
        if (echo := _group(per, shared, "MREchoSequence")) is not None:
            te = _one(echo.get("EffectiveEchoTime"))
            f["echo_number"] = None if te is None else int(round(te * 1000))
        frames.append({k: v for k, v in f.items() if v is not None})
    return frames


def _legacy_frames(ds: Dataset, header: Header) -> list[dict[str, Any]]:
    # Frames along the slice normal at GridFrameOffsetVector offsets (RT dose) or at
    # SpacingBetweenSlices (NM, some CT); frames with no such offsets have no geometry.
    n = int(header.frames or 1)
    offsets = ds.get((0x3004, 0x000C))
    steps: list[float] | None = None
    if offsets is not None and offsets.value not in (None, ""):
        values = offsets.value if isinstance(offsets.value, list | tuple) or hasattr(
            offsets.value, "__len__") and not isinstance(offsets.value, str) else [offsets.value]
        nums = [float(v) for v in values]
        # Offsets are relative to ImagePositionPatient (first 0) or absolute along the normal.
        steps = [v - nums[0] for v in nums] if nums else None
    elif header.spacing_between:
        steps = [k * header.spacing_between for k in range(n)]
    frames: list[dict[str, Any]] = []
    usable = (steps is not None and len(steps) >= n and header.position is not None
              and header.orientation is not None)
    for i in range(n):
        f: dict[str, Any] = {"frame": i}
        if usable:
            assert steps is not None and header.position and header.orientation
            o = np.array(header.orientation)
            normal = np.cross(o[:3], o[3:])
            f["position"] = tuple(float(x) for x in np.array(header.position) + steps[i] * normal)
        else:
            f["position"] = None
        frames.append(f)
    return frames


def _mosaic(ds: Dataset, header: Header) -> dict[str, Any]:
    with quiet_warnings():
        try:
            w = dicomwrappers.wrapper_from_data(ds)
        except Exception:  # noqa: BLE001 - nibabel raises many kinds for odd CSA headers
            return {"problems": (*header.problems, "its Siemens mosaic header cannot be read")}
        if not getattr(w, "is_mosaic", False):
            return {"problems": (*header.problems,
                                 "it is marked MOSAIC but has no mosaic slice count")}
        try:
            rows, cols, n = w.image_shape
            position = tuple(float(x) for x in w.image_position)
            normal = tuple(float(x) for x in w.slice_normal)
            spacing = float(w.voxel_sizes[2])
        except Exception:  # noqa: BLE001
            return {"problems": (*header.problems, "its Siemens mosaic geometry is incomplete")}
    return {"mosaic": int(n), "rows": int(rows), "columns": int(cols), "position": position,
            "extras": {"normal": normal, "spacing": spacing}}


def dataset_header_extras(ds: Dataset, header: Header) -> dict[str, Any]:
    """Header fields that only a full pydicom read gives (frames, mosaic geometry)."""
    if "PerFrameFunctionalGroupsSequence" in ds:
        return {"extras": {"frames": _enhanced_frames(ds)}}
    if (header.frames or 1) > 1:
        return {"extras": {"frames": _legacy_frames(ds, header)}}
    if "MOSAIC" in header.image_type:
        return _mosaic(ds, header)
    return {}


def frame_rescale(ds: Dataset) -> list[tuple[float, float]]:
    """(slope, intercept) of every frame of a multi-frame dataset."""
    top = (_one(ds.get("RescaleSlope")), _one(ds.get("RescaleIntercept")))
    if "PerFrameFunctionalGroupsSequence" not in ds:
        return [(top[0] or 1.0, top[1] or 0.0)] * int(ds.get("NumberOfFrames") or 1)
    out = []
    for f in _enhanced_frames(ds):
        slope = f.get("slope", top[0])
        inter = f.get("intercept", top[1])
        out.append((1.0 if slope is None else slope, 0.0 if inter is None else inter))
    return out


def expand_frames(header: Header) -> list[Header]:
    """One slice record per frame of a multi-frame file (the header itself otherwise)."""
    frames = header.extras.get("frames")
    if not frames:
        return [header]
    out = []
    for f in frames:
        fields = {k: v for k, v in f.items() if k != "frame"}
        out.append(replace(header, frame=f["frame"], extras={}, **fields))
    return out
