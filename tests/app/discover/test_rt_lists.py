"""RTSTRUCT series of an items list, read as RedBrick's ``--rt-struct`` upload reads them.

The oracle is the SDK's own conversion (``convert_rt_struct_to_nii``), run on copies.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.discover import rt_series, with_rt_as_nifti
from app.items import load_items
from app.readers import read_rtstruct
from tests.app.rt_synth import SHAPE, add_nifti_task, write_rt_list


@pytest.fixture
def rt_list(tmp_path: Path) -> Path:
    return write_rt_list(tmp_path / "user")


def test_names_get_the_values_the_sdk_gives_and_dropped_names_are_said(rt_list: Path) -> None:
    items = load_items(rt_list)
    (rt,) = rt_series(items)
    assert rt.error is None and rt.names == ("Cord", "Spleen", "Liver")
    # valued by their places in the file; the SDK numbers the mapped ones in map order
    assert rt.rois == ("Liver", "Cord", "Body")
    assert rt.values == {"Cord": 2, "Liver": 1} and rt.sdk_values == {"Cord": 1, "Liver": 2}
    assert rt.missing == ("Spleen",) and rt.unmapped == ("Body",)
    assert rt.overlapping == ("Liver",)  # Liver comes later in the map: it wins
    resolved, _ = with_rt_as_nifti(items, [rt])
    s = resolved.tasks[0].series[0]
    assert s.segment_map is not None and not s.segment_map.names
    assert {v: seg.category for v, seg in s.segment_map.segments.items()} == {
        2: "category-b", 1: "category-a"}
    # the list itself is left as it was
    assert items.tasks[0].series[0].segmentations == "rt/rs.dcm"


def test_the_label_map_lies_on_the_series_grid(rt_list: Path) -> None:
    items = load_items(rt_list)
    (rt,) = rt_series(items)
    assert rt.label is not None
    masks = read_rtstruct(rt_list.parent / "rt" / "rs.dcm",
                          sorted((rt_list.parent / "ct").iterdir()))
    img = nib.load(rt.label)
    np.testing.assert_allclose(img.affine, masks.grid.affine)
    data = np.asanyarray(img.dataobj)
    expected = np.zeros(SHAPE, np.uint8)
    expected[masks.mask("Cord")] = 2
    expected[masks.mask("Liver")] = 1  # later in the map: it wins where they overlap
    np.testing.assert_array_equal(data, expected)
    every = np.asanyarray(nib.load(rt.everything).dataobj)
    assert set(np.unique(every)) == {0, 1, 2, 3}


@pytest.mark.oracle
def test_the_sdk_volume_is_the_sdks_own_conversion(rt_list: Path, tmp_path: Path) -> None:
    from redbrick.utils.rt_struct import convert_rt_struct_to_nii

    items = load_items(rt_list)
    (rt,) = rt_series(items)
    copy = tmp_path / "copy.dcm"
    shutil.copy(rt_list.parent / "rt" / "rs.dcm", copy)
    smap = dict(json.loads(rt_list.read_text())[0]["series"][0]["segmentMap"])
    img, sdk_map = convert_rt_struct_to_nii([str(copy)], str(rt_list.parent / "ct"), smap,
                                            False, [])
    assert img is not None and rt.sdk is not None
    ours = nib.load(rt.sdk)
    np.testing.assert_array_equal(np.asanyarray(ours.dataobj), np.asanyarray(img.dataobj))
    np.testing.assert_array_equal(ours.affine, img.affine)
    resolved, _ = with_rt_as_nifti(items, [rt], sdk=True)
    got = resolved.tasks[0].series[0].segment_map
    assert got is not None
    assert {str(v): s.category for v, s in got.segments.items()} == sdk_map


def test_what_cannot_be_read_is_said_and_the_series_kept(rt_list: Path) -> None:
    data = json.loads(rt_list.read_text())
    data[0]["series"][0]["items"] = data[0]["series"][0]["items"][:2]  # images missing
    rt_list.write_text(json.dumps(data))
    items = load_items(rt_list)
    (rt,) = rt_series(items)
    assert rt.refusal is not None and "refuses" in rt.refusal and rt.sdk is None
    data[0]["series"][0]["segmentMap"] = {"1": "category-a", "Liver": "category-b"}
    rt_list.write_text(json.dumps(data))
    (mixed,) = rt_series(load_items(rt_list))
    assert mixed.error is not None and "ROI name only" in mixed.error
    resolved, _ = with_rt_as_nifti(load_items(rt_list), [mixed])
    assert resolved.tasks[0].series[0].segmentations == "rt/rs.dcm"


def test_export_keeps_a_structure_set_and_says_rt_struct(rt_list: Path, tmp_path: Path) -> None:
    from app.export import export_items

    out = export_items(load_items(rt_list), tmp_path / "out" / "items.json")
    assert out.upload_command == "redbrick upload --rt-struct items.json"
    written = json.loads(out.path.read_text())[0]["series"][0]
    assert list(written["segmentMap"]) == ["Cord", "Spleen", "Liver"]
    assert Path(out.path.parent / written["segmentations"]).resolve() == (
        rt_list.parent / "rt" / "rs.dcm").resolve()


def test_export_of_a_mixed_list_writes_the_filled_label_map(rt_list: Path,
                                                              tmp_path: Path) -> None:
    from app.export import export_items
    from app.validate import validate

    add_nifti_task(rt_list, {"1": "category-a"})
    items = load_items(rt_list)
    (rt,) = rt_series(items)
    out = export_items(items, tmp_path / "out" / "items.json")
    assert out.upload_command == "redbrick upload items.json"
    assert [c.to_json().get("kind") for c in out.converted] == ["RTSTRUCT"]
    written = json.loads(out.path.read_text())[0]["series"][0]
    assert written["segmentMap"] == {"2": "category-b", "1": "category-a"}
    assert not os.path.isabs(written["segmentations"])
    target = out.path.parent / written["segmentations"]
    assert target.read_bytes() == rt.label.read_bytes()
    again = load_items(out.path)
    assert not [f for f in validate(again) if f.severity == "error"]
