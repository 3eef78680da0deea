"""Exporting a list elsewhere rebases every path it holds, wherever the format puts it."""

from __future__ import annotations

import json

from app.cli import main

from ..builders import image, items_file, nifti, volume


def _paths(task: dict) -> list[str]:
    """Every path a task of an exported list holds (series, legacy and task-level keys)."""
    found: list[str] = []

    def strings(v: object) -> None:
        found.extend([v] if isinstance(v, str) else [x for x in v if isinstance(x, str)]
                     if isinstance(v, list) else [])

    for holder in [task, *task.get("series", [])]:
        strings(holder.get("items"))
        strings(holder.get("segmentations"))
        for seg in (holder.get("segmentMap") or {}).values():
            if isinstance(seg, dict):
                strings(seg.get("mask"))
        for hm in holder.get("heatMaps") or []:
            strings(hm.get("item"))
    return found


def test_a_legacy_flat_task_keeps_every_path_valid_when_exported_elsewhere(tmp_path, capsys):
    src = tmp_path / "data"
    image(src / "img.nii.gz")
    nifti(src / "masks" / "liver.nii.gz", volume({(0, 0, 0): 1}))
    nifti(src / "masks" / "spleen.nii.gz", volume({(1, 1, 1): 1}))
    nifti(src / "heat.nii.gz", volume({(1, 0, 0): 7}))
    legacy = {"name": "flat", "items": ["img.nii.gz"],
              "segmentations": ["masks/liver.nii.gz", "masks/spleen.nii.gz"],
              "heatMaps": [{"item": "heat.nii.gz", "name": "h"}],
              "segmentMap": {"1": {"category": "liver", "mask": "masks/liver.nii.gz"},
                             "2": {"category": "spleen", "mask": "masks/spleen.nii.gz"},
                             "binaryMask": True}}
    listed = items_file(src, [legacy])
    out = tmp_path / "elsewhere" / "deeper" / "items.json"
    assert main(["export", str(listed), "-o", str(out)]) == 0
    (task,) = json.loads(out.read_text())
    paths = _paths(task)
    assert len(paths) == 6
    missing = [p for p in paths if not (out.parent / p).is_file()]
    assert missing == []
    assert task["segmentMap"]["1"]["mask"] == task["segmentations"][0]
