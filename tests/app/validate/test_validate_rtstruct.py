"""Validation of RT Structure Sets in an items list: what RedBrick's --rt-struct drops, and the
filled label map checked like any NIfTI."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from app.items import load_items
from app.validate import validate
from tests.app.rt_synth import add_nifti_task, write_rt_list


@pytest.fixture
def rt_list(tmp_path: Path) -> Path:
    return write_rt_list(tmp_path / "user")


def codes_of(path: Path, taxonomy=None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in validate(load_items(path), taxonomy):
        out.setdefault(f.code.value, []).append(f.message)
    return out


def test_validation_names_what_the_sdk_drops_and_checks_the_filled_map(rt_list: Path) -> None:
    found = codes_of(rt_list)
    assert "'Spleen'" in found["rtstruct-roi-absent"][0]
    assert "'Body'" in found["rtstruct-roi-unmapped"][0]
    assert "'Liver'" in found["rtstruct-overlap"][0]
    assert "--rt-struct" in found["rtstruct"][0]
    # the filled map is checked like any other: no value is unmapped or absent, the grid fits
    for code in ("mapped-value-absent", "unmapped-value", "segment-map-key", "format",
                 "not-nifti", "grid-mismatch", "rtstruct-unreadable"):
        assert code not in found, (code, found.get(code))


def test_roi_names_on_a_nifti_series_are_an_error(rt_list: Path, tmp_path: Path) -> None:
    add_nifti_task(rt_list, {"Liver": "category-a"})
    found = codes_of(rt_list)
    assert any("'Liver' is no number" in m for m in found["segment-map-key"])
    assert "rtstruct-mixed" in found


def test_a_structure_set_that_cannot_be_filled_is_one_clear_error(rt_list: Path) -> None:
    data = json.loads(rt_list.read_text())
    data[0]["series"][0]["segmentMap"] = {"1": "category-a", "Liver": "category-b"}
    rt_list.write_text(json.dumps(data))
    found = codes_of(rt_list)
    assert len(found["rtstruct-unreadable"]) == 1 and "not-nifti" not in found


def test_missing_images_binary_mask_and_stray_contours_are_said(rt_list: Path) -> None:
    data = json.loads(rt_list.read_text())
    series = data[0]["series"][0]
    series["items"] = series["items"][:4]  # the structure set names the fifth slice too
    series["binaryMask"] = True
    rt_list.write_text(json.dumps(data))
    found = codes_of(rt_list)
    assert "refuses" in found["rtstruct-refused"][0] and "segmap build" in found[
        "rtstruct-refused"][0]
    assert "binaryMask" in found["rtstruct-binary"][0]

    def shift(ds: pydicom.Dataset) -> None:  # Cord's contours 15 mm to the side
        for c in ds.ROIContourSequence[1].ContourSequence:
            pts = [float(v) for v in c.ContourData]
            c.ContourData = [v + 15.0 if i % 3 == 0 else v for i, v in enumerate(pts)]

    rs = rt_list.parent / "rt" / "rs.dcm"
    ds = pydicom.dcmread(rs)
    shift(ds)
    ds.save_as(rs)
    data = json.loads(rt_list.read_text())
    data[0]["series"][0].pop("binaryMask")
    slices = sorted((rt_list.parent / "ct").iterdir())
    data[0]["series"][0]["items"] = [f"ct/{p.name}" for p in slices]
    rt_list.write_text(json.dumps(data))
    assert any("outside" in m for m in codes_of(rt_list)["rtstruct-contours"])
