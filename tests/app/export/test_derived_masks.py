"""Masks converted from a DICOM SEG / RTSTRUCT live in Segmap's cache; a built or exported
items list never points there: they are copied into the output folder, and the list
validates clean. The user's folder is never written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.discover import scan
from app.export import export_items
from app.items import load_items
from app.progress import run
from app.validate import validate

DCMQI = "dcmqi/data/segmentations"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGMAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def listing(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def user(shared_data: Path, tmp_path: Path) -> Path:
    src = shared_data / DCMQI
    folder = tmp_path / "user"
    shutil.copytree(src / "ct-3slice", folder / "ct")
    (folder / "seg").mkdir()
    for name in ("liver.dcm", "partial_overlaps.dcm"):
        shutil.copy(src / name, folder / "seg" / name)
    return folder


def segmentation_paths(items_json: Path) -> list[str]:
    return [p for t in json.loads(items_json.read_text()) for s in t["series"]
            for p in s["segmentations"]]


def assert_in_output(items_json: Path, cache: Path) -> None:
    paths = segmentation_paths(items_json)
    assert len(paths) == 6
    for p in paths:
        full = (items_json.parent / p).resolve()
        assert items_json.parent.resolve() in full.parents and full.is_file(), p
        assert cache.resolve() not in full.parents, p
    for t in json.loads(items_json.read_text()):
        smap = t["series"][0]["segmentMap"]
        assert smap["binaryMask"] is True  # shape III
        assert all(e["mask"] in t["series"][0]["segmentations"]
                   for k, e in smap.items() if k != "binaryMask")


@pytest.mark.shared_data
def test_build_copies_derived_masks_out_of_the_cache_and_validates(
        user: Path, tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = listing(user)
    out = tmp_path / "out" / "items.json"
    assert main(["build", str(user), "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "Copied 6 mask(s) converted from DICOM SEG / RTSTRUCT" in text
    assert "Converted from DICOM (2)" in text and "1_Liver.nii.gz" in text
    assert_in_output(out, cache)
    assert "cache" not in out.read_text()
    found = validate(load_items(out))
    assert not [f for f in found if f.severity == "error"], found
    names = {e["category"] for t in json.loads(out.read_text())
             for k, e in t["series"][0]["segmentMap"].items() if k != "binaryMask"}
    assert names == {"Liver", "GREEN", "ORANGE", "PURPLE", "LIGHT BLUE", "DARK BLUE"}
    assert listing(user) == before
    # scanned again, the output's copies are Segmap's own, not new cases
    again = run(scan(tmp_path))
    assert len(again.cases) == 2 and all(again.derived_of(c) for c in again.cases)


@pytest.mark.shared_data
def test_export_of_a_list_pointing_into_the_cache_copies_the_masks(
        user: Path, tmp_path: Path, cache: Path) -> None:
    before = listing(user)
    result = run(scan(user))
    from app.mapping import build

    built = run(build(result, tmp_path / "draft" / "items.json", write=False))
    assert any("cache/derived/" in p for t in built.items.tasks for s in t.series
               for p in s.segmentation_paths)
    summary = export_items(built.items, tmp_path / "export" / "items.json")
    assert len(summary.converted) == 6 and all(c.derived_from for c in summary.converted)
    assert "out of Segmap's cache" in summary.converted_text()
    assert_in_output(tmp_path / "export" / "items.json", cache)
    found = validate(load_items(tmp_path / "export" / "items.json"))
    assert not [f for f in found if f.severity == "error"], found
    assert listing(user) == before


@pytest.mark.shared_data
def test_scan_json_says_what_was_converted(user: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(user), "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    derived = {d["source"]: d for d in out["derived"]}
    assert set(derived) == {"seg/liver.dcm", "seg/partial_overlaps.dcm"}
    assert derived["seg/liver.dcm"]["sdk_takes_it"] is True
    assert derived["seg/partial_overlaps.dcm"]["overlapping"] is True
    assert "overlap" in derived["seg/partial_overlaps.dcm"]["sdk_refusal"]
    assert {c["shape"] for c in out["cases"]} == {"III"}
    assert sorted(c["derived_from"] for c in out["cases"]) == [["seg/liver.dcm"],
                                                                ["seg/partial_overlaps.dcm"]]


@pytest.mark.shared_data
def test_build_json_says_what_was_converted_and_copied(user: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "items.json"
    assert main(["build", str(user), "-o", str(out), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {d["source"] for d in report["derived"]} == {"seg/liver.dcm",
                                                        "seg/partial_overlaps.dcm"}
    assert {c["derived_from"] for c in report["converted"]} == {"liver.dcm",
                                                               "partial_overlaps.dcm"}
    assert all(Path(c["target"]).parent.parent.parent == out.parent / "nifti-masks"
               for c in report["converted"])
