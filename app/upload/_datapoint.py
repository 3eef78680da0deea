"""From RedBrick's converted task to the createDatapoint variables, as the SDK builds them.

``validateAndConvertToImportFormat`` turns each task into RedBrick's flat form
(``items``, ``seriesInfo``, ``labelsMap``, ``labels``, ...). The SDK then works
on that form locally (redbrick-sdk 2.35.4, upload/interact.py ``prepare_json_files``,
``create_tasks``, ``create_task`` and utils/upload.py
``process_segmentation_upload``); these functions repeat those steps, one task at
a time, and raise where the SDK would warn and carry on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import MergeError, SegmapError
from app.items import sdk_path
from app.merge import SeriesInputs, check_gzip_names, entries_of, merge_inputs
from app.upload._credentials import REDBRICK_STORAGE

LABELS_ARRAY_LIMIT = 1000
_MASK_KEYS = ("binaryMask", "semanticMask", "pngMask", "masks")


class TaskError(SegmapError):
    """This task cannot be uploaded as it is."""


def prepare_point(point: dict[str, Any], task_dir: Path, storage_id: str) -> dict[str, Any]:
    """``prepare_json_files``' steps for one converted task (changes ``point`` in place)."""
    items = point.get("items")
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise TaskError("RedBrick's conversion of this task has no items (image files).",
                        "Check the task's `series[].items`.")
    if "name" not in point:
        point["name"] = items[0]
    if "segmentations" in point:
        segs = point["segmentations"]
        if isinstance(segs, list):
            segs = {str(i): s for i, s in enumerate(segs)}
        if "labelsMap" not in point and isinstance(segs, dict):
            point["labelsMap"] = [{"labelName": s, "seriesIndex": int(i)} if s else None
                                  for i, s in segs.items()]
        del point["segmentations"]
    elif "labelsPath" in point:
        if "labelsMap" not in point:
            point["labelsMap"] = [{"labelName": point["labelsPath"], "seriesIndex": 0}]
        del point["labelsPath"]
    resolve_label_paths(point, task_dir)
    if storage_id != REDBRICK_STORAGE:
        return point
    for idx, path in enumerate(point["items"]):
        full = path if os.path.isabs(path) else os.path.join(task_dir, path)
        if not os.path.isfile(full):
            raise TaskError(f"Image file not found: {path}.",
                            "Check the path, or pass --storage if the items are in a "
                            "storage integration.")
        point["items"][idx] = full
    for heat_map in point.get("heatMaps") or []:
        path = heat_map["item"]
        full = path if os.path.isabs(path) else os.path.join(task_dir, path)
        if not os.path.isfile(full):
            raise TaskError(f"Heat map file not found: {path}.")
        heat_map["item"] = full
    return point


def resolve_label_paths(point: dict[str, Any], task_dir: Path) -> None:
    """Label files and binary masks named as the SDK opens them (relative to the list)."""
    for label_map in point.get("labelsMap") or []:
        if not isinstance(label_map, dict) or not label_map.get("labelName"):
            continue
        names = label_map["labelName"]
        names = [sdk_path(n, task_dir) for n in (names if isinstance(names, list) else [names])]
        label_map["labelName"] = names[0] if len(names) == 1 else names
    for series_info in point.get("seriesInfo") or []:
        masks = series_info.get("masks") or {}
        for inst, mask in masks.items():
            if isinstance(mask, str):
                masks[inst] = sdk_path(mask, task_dir)


def map_segmentation_category(segment_map: dict[str, Any]) -> list[dict[str, Any]]:
    """A task-level segmentMap as labels (the SDK's ``map_segmentation_category``)."""
    out: list[dict[str, Any]] = []
    for key, value in segment_map.items():
        if isinstance(value, dict):
            category = value.get("category")
            attributes = value.get("attributes", []) or []
        else:
            category, attributes = value, []
        try:
            instance = int(key)
        except ValueError:
            raise TaskError(f"The task-level segmentMap key {key!r} is not an instance id "
                            f"(SDK: invalid literal for int() with base 10: {key!r}).",
                            "Move mask flags such as binaryMask into the series.") from None
        if isinstance(category, int) and not isinstance(category, bool):
            label: dict[str, Any] = {"categoryclass": category}
        elif isinstance(category, str):
            label = {"categoryname": [category]}
        elif (isinstance(category, list) and len(category) == 1
              and isinstance(category[0], list) and category[0]
              and all(isinstance(c, str) for c in category[0])):
            label = {"category": category}
        elif isinstance(category, list) and category and all(isinstance(c, str)
                                                             for c in category):
            label = {"categoryname": category}
        else:
            raise TaskError(f"Upload failed: Invalid category {category} (segmentMap key {key}).")
        out.append({**label, "attributes": attributes, "dicom": {"instanceid": instance}})
    return out


def apply_segment_map(point: dict[str, Any]) -> None:
    """``create_tasks``: a segmentMap left at task level becomes labels."""
    if not point.get("segmentMap"):
        return
    local = map_segmentation_category(point["segmentMap"])
    if not local:
        return
    labels = point.get("labels", [])
    if any(label.get("dicom", {}).get("instanceid") for label in labels):
        raise TaskError("Cannot have dicom segmentations in `labels` when segmentMap is given.")
    point["labels"] = labels + local


def check_structure(point: dict[str, Any]) -> None:
    """``create_task``'s structural checks, made before anything is uploaded."""
    if "response" in point or "error" in point:
        raise TaskError("Task object must not contain `response` or `error`.")
    if not isinstance(point.get("name"), str) or not point["name"]:
        raise TaskError("Task object must contain a valid `name`.")
    items = point.get("items")
    if not (isinstance(items, list) and items and all(isinstance(i, str) and i for i in items)):
        raise TaskError("`items` must be a list of urls (one for image and multiple for "
                        "videoframes).")
    if "labels" in point and not (isinstance(point["labels"], list) and all(
            isinstance(label, dict) and label for label in point["labels"])):
        raise TaskError("`labels` must be a list of label objects.")


@dataclass(frozen=True)
class LabelVolume:
    """The merge inputs of one ``labelsMap`` entry (volume ``index``)."""

    index: int
    inputs: SeriesInputs


def label_volumes(point: dict[str, Any], task_dir: Path) -> list[LabelVolume]:
    """The label volumes to merge, as ``process_segmentation_upload`` finds them.

    The instances are those of the task's labels for each volume; the files and masks
    are RedBrick's converted ones, listed as ``app.merge.series_inputs`` lists them.
    """
    if ("labelsMap" not in point and point.get("segmentations")
            and len(point["segmentations"]) == len(point["items"])):
        point["labelsMap"] = [{"labelName": s, "seriesIndex": i}
                              for i, s in enumerate(point["segmentations"])]
        del point["segmentations"]
    elif "labelsMap" not in point and point.get("labelsPath"):
        point["labelsMap"] = [{"labelName": point["labelsPath"], "seriesIndex": 0}]
        del point["labelsPath"]
    volumes = []
    all_info = point.get("seriesInfo") or []
    for index, label_map in enumerate(point.get("labelsMap") or []):
        if not isinstance(label_map, dict) or not label_map.get("labelName"):
            continue
        names = label_map["labelName"]
        entries = entries_of([names] if isinstance(names, str) else list(names), task_dir)
        files = [f for e in entries for f in e.files]
        bad = [f for f in files if not os.path.isfile(f)]
        if bad:
            raise TaskError(
                f"Segmentation file(s) not found on this computer: {', '.join(map(str, bad))} "
                "(SDK: Invalid label files).",
                "Segmap uploads local segmentation files; check the paths in `segmentations`.")
        try:
            check_gzip_names(files)
        except MergeError as exc:  # found now, before any image goes up
            raise TaskError(f"Series {index}: {exc.message} (SDK: Error processing labels: "
                            f"{exc.sdk_message})", exc.hint) from None
        info = all_info[index] if len(all_info) > index else {}
        volumes.append(LabelVolume(index, merge_inputs(
            entries, instances_of(point, index), bool(info.get("binaryMask")),
            bool(info.get("pngMask")), dict(info.get("masks") or {}))))
    return volumes


def _in_volume(label: dict[str, Any], index: int) -> bool:
    volume = label.get("volumeindex")
    return (volume is None or int(volume) == index) and bool(
        label.get("dicom", {}).get("instanceid"))


def instances_of(point: dict[str, Any], index: int) -> dict[int, list[int] | None]:
    """{instance id: overlap groups} of the labels of volume ``index``."""
    return {int(label["dicom"]["instanceid"]): label["dicom"].get("groupids")
            for label in point.get("labels") or [] if _in_volume(label, index)}


def apply_segments(point: dict[str, Any], index: int, segments: dict[int, list[int] | None],
                   prune: bool) -> None:
    """Write the merge's overlap groups into the labels of volume ``index`` (SDK order)."""
    labels = point.get("labels") or []
    for pos in range(len(labels) - 1, -1, -1):
        label = labels[pos]
        if not _in_volume(label, index):
            continue
        instance = int(label["dicom"]["instanceid"])
        if instance in segments:
            groups = set(segments[instance] or [])
            if groups:
                label["dicom"]["groupids"] = list(groups)
            elif "groupids" in label["dicom"]:
                del label["dicom"]["groupids"]
        elif prune:
            labels.pop(pos)


def series_info_variable(point: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``seriesInfo`` without mask flags, metaData and imageHeaders as JSON text."""
    if not point.get("seriesInfo"):
        return None
    return [{**{k: v for k, v in info.items() if k not in _MASK_KEYS},
             "metaData": json.dumps(info["metaData"], separators=(",", ":"))
             if info.get("metaData") else None,
             "imageHeaders": json.dumps(info["imageHeaders"], separators=(",", ":"))
             if info.get("imageHeaders") else None}
            for info in point["seriesInfo"]]


def datapoint_variables(*, org_id: str, project_id: str, storage_id: str,
                        point: dict[str, Any], labels_data_path: str | None,
                        labels_map: list[dict[str, Any] | None], ground_truth: bool
                        ) -> dict[str, Any]:
    """createDatapoint's variables, key for key as the SDK sends them."""
    centerlines = point.get("centerline")
    meta = point.get("metaData")
    attributes = point.get("attributes")
    return {
        "orgId": org_id,
        "workspaceId": None,
        "projectId": project_id,
        "items": point["items"],
        "heatMaps": point.get("heatMaps"),
        "transforms": point.get("transforms"),
        "centerline": [{**c, "centerline": json.dumps(c["centerline"])} for c in centerlines]
        if centerlines else None,
        "name": point["name"],
        "storageId": storage_id,
        "labelsData": json.dumps(point.get("labels") or [], separators=(",", ":"))
        if "labels" in point else None,
        "labelsDataPath": labels_data_path,
        "labelsMap": labels_map,
        "seriesInfo": series_info_variable(point),
        "metaData": json.dumps(meta, separators=(",", ":")) if meta else None,
        "isGroundTruth": ground_truth,
        "preAssign": json.dumps(point.get("preAssign"), separators=(",", ":")),
        "priority": point.get("priority"),
        "attributes": json.dumps(attributes, separators=(",", ":")) if attributes else None,
    }
