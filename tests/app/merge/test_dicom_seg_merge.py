"""The merge of a series whose segmentation is a DICOM SEG gives the labels RedBrick stores.

RedBrick's CLI converts the SEG with ``--dicom-seg`` (``sdk_seg_volume``) and merges
that NIfTI; Segmap's merge reads the SEG as the same NIfTI, so merge, statistics and
the preview see what RedBrick will store, and the SEG is decoded once per operation.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

from app.items import load_items
from app.merge import merge_series, series_inputs
from app.preview import PreviewRequest, load_case_preview, preview_stats, series_stats
from app.progress import run
from app.readers import SEG_CACHE, census, sdk_seg_volume

DCMQI = "dcmqi/data/segmentations"


def _items(tmp_path: Path, series: list[Path], segs: dict[str, str]):
    path = tmp_path / "items.json"
    path.write_text(json.dumps([
        {"name": name, "series": [{"items": [str(p) for p in series], "segmentations": seg,
                                   "segmentMap": {"1": "liver"}}]}
        for name, seg in segs.items()]))
    return load_items(path)


@pytest.fixture
def liver(shared_data: Path, tmp_path: Path):
    root = shared_data / DCMQI
    series = sorted((root / "ct-3slice").glob("*.dcm"))
    items = _items(tmp_path, series, {"seg": str(root / "liver.dcm"),
                                      "nrrd": str(root / "liver_seg.nrrd")})
    return root, items


def test_the_merge_of_a_seg_is_the_sdks_conversion(liver):
    root, items = liver
    result = run(merge_series(items, items.tasks[0], 0))
    expected = sdk_seg_volume(root / "liver.dcm")
    assert np.array_equal(result.volume, np.asanyarray(expected.dataobj))
    assert np.allclose(result.affine, expected.affine)
    assert result.segments == {1: None}
    assert result.source is None  # never uploaded as it is: its NIfTI conversion is


def test_stats_of_the_seg_equal_those_of_its_nrrd(liver):
    _, items = liver
    seg = run(series_stats(items, items.tasks[0], 0))
    nrrd = run(series_stats(items, items.tasks[1], 0))
    assert [(s.key, s.voxels) for s in seg] == [(s.key, s.voxels) for s in nrrd]
    assert seg[0].voxels == 107098
    assert seg[0].volume_ml == pytest.approx(nrrd[0].volume_ml)
    assert seg[0].mean == pytest.approx(nrrd[0].mean)


def test_the_preview_places_the_seg_on_the_image(liver):
    _, items = liver
    for task in items.tasks:
        request = PreviewRequest(task.name or "", tuple(Path(p) for p in
                                                        task.series[0].item_paths),
                                 series_inputs(items, task, 0))
        preview = run(load_case_preview(request))
        assert preview.merge_error is None and preview.segments == {1: None}
        assert preview_stats(preview)[1].voxels == 107098


def test_a_seg_is_decoded_once_for_census_and_merge(liver):
    root, items = liver
    SEG_CACHE.clear()
    with patch("app.readers._volumes.sdk_seg_volume", wraps=sdk_seg_volume) as decode:
        census(root / "liver.dcm")
        run(merge_series(items, items.tasks[0], 0))
        run(series_stats(items, items.tasks[0], 0))
    assert decode.call_count == 1
