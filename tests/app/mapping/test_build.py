"""Building items lists from scanned folders: segmentMaps, what is left out, templates."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.cli import main
from app.discover import scan
from app.items import load_items
from app.mapping import Matcher, Template, build, load_template, taxonomy_candidates
from app.merge import merge_series
from app.progress import run

from .. import synth_layouts as synth

TS_REF = "totalsegmentator/tests/reference_files"


def do_build(root: Path, out: Path, **kw):
    scanned = run(scan(root))
    return scanned, run(build(scanned, out, **kw))


def tasks_by_name(path: Path) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads(path.read_text())}


def test_nnunet_build_uses_dataset_json_names_and_relative_paths(tmp_path):
    root = synth.nnunet(tmp_path / "data" / "Dataset001", cases=2)
    out = tmp_path / "out" / "items.json"
    _, result = do_build(root, out)
    tasks = tasks_by_name(out)
    assert sorted(tasks) == ["case_000", "case_001"]
    s0, s1 = tasks["case_000"]["series"]
    assert s0["items"] == "../data/Dataset001/imagesTr/case_000_0000.nii.gz"
    assert s0["segmentations"] == "../data/Dataset001/labelsTr/case_000.nii.gz"
    assert s0["segmentMap"] == {"1": "PZ", "2": "TZ"}
    assert s1 == {"name": "case_000_0001",
                  "items": "../data/Dataset001/imagesTr/case_000_0001.nii.gz"}
    items = load_items(out)
    assert not items.problems
    assert items.resolve(s0["segmentations"]).is_file()
    assert result.left_out == [] and result.empty == []


def test_a_taxonomy_turns_names_into_its_categories(tmp_path):
    root = synth.nnunet(tmp_path / "ds", cases=1)
    out = tmp_path / "items.json"
    do_build(root, out, matcher=Matcher(["Peripheral Zone", "Transition Zone"]))
    smap = tasks_by_name(out)["case_000"]["series"][0]["segmentMap"]
    assert smap == {"1": "Peripheral Zone", "2": "Transition Zone"}


def test_binary_masks_become_a_binary_mask_map_that_redbrick_merges(tmp_path):
    root = synth.totalseg(tmp_path / "ts", cases=1)
    out = tmp_path / "items.json"
    _, result = do_build(root, out)
    series = tasks_by_name(out)["s0000"]["series"][0]
    smap = series["segmentMap"]
    assert smap["binaryMask"] is True
    assert {k: v["category"] for k, v in smap.items() if k != "binaryMask"} == {
        "1": "Kidney Left", "2": "Kidney Right", "3": "Liver"}
    assert smap["1"]["mask"] == "ts/s0000/segmentations/kidney_left.nii.gz"
    assert series["segmentations"] == [smap[k]["mask"] for k in ("1", "2", "3")]
    # The empty vertebra mask is left out and reported.
    assert [(e.file, e.reason) for e in result.empty] == [
        ("s0000/segmentations/vertebrae_L3.nii.gz", "the mask is empty")]
    # RedBrick's merge accepts it: three instances in one label volume.
    items = load_items(out)
    merged = run(merge_series(items, items.tasks[0], 0))
    assert set(merged.segments_json()) == {"1", "2", "3"}


def test_values_without_a_confident_name_are_left_out_and_reported(tmp_path):
    root = synth.kits(tmp_path / "kits", cases=1)
    out = tmp_path / "items.json"
    _, result = do_build(root, out)
    series = tasks_by_name(out)["case_00000"]["series"][0]
    assert "segmentMap" not in series and "segmentations" not in series
    assert [(x.value, x.suggestion.category) for x in result.left_out] == [
        (1, "Kidney"), (2, "Tumor")]
    assert "not confident enough" in result.left_out[0].reason
    # Lowering the bar accepts the KiTS convention.
    do_build(root, out, min_confidence=0.5)
    assert tasks_by_name(out)["case_00000"]["series"][0]["segmentMap"] == {
        "1": "Kidney", "2": "Tumor"}


def test_a_template_applies_to_every_case_and_lists_the_ones_that_differ(tmp_path):
    root = synth.kits(tmp_path / "kits", cases=2)
    synth.labelmap(root / "case_00001" / "segmentation.nii.gz", (1, 2, 3))  # a cyst too
    template = Template(values={1: "Kidney", 2: "Kidney Tumor"})
    out = tmp_path / "items.json"
    _, result = do_build(root, out, template=template)
    tasks = tasks_by_name(out)
    assert tasks["case_00000"]["series"][0]["segmentMap"] == {"1": "Kidney", "2": "Kidney Tumor"}
    assert [(d.case, d.missing, d.extra) for d in result.differences] == [
        ("case_00001", (), ("3",))]
    assert [x.value for x in result.left_out] == [3]


def test_an_existing_items_list_in_the_folder_names_the_values(tmp_path):
    root = synth.kits(tmp_path / "kits", cases=1)
    first = root / "items.json"
    do_build(root, first, template=Template(values={1: "Kidney", 2: "Mass"}))
    _, result = do_build(root, tmp_path / "again.json")
    smap = tasks_by_name(tmp_path / "again.json")["case_00000"]["series"][0]["segmentMap"]
    assert smap == {"1": "Kidney", "2": "Mass"}
    best = result.cases[0].proposals[0].best
    assert best.source == "items.json (items list)" and not best.accepted


def test_cli_build_json_save_template_and_reuse(tmp_path, capsys):
    root = synth.totalseg(tmp_path / "ts", cases=2)
    out, tmpl = tmp_path / "items.json", tmp_path / "map.json"
    assert main(["build", str(root), "-o", str(out), "--json", "--save-template", str(tmpl)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tasks"] == 2 and report["output"] == str(out.resolve())
    assert len(report["empty"]) == 2
    assert report["cases"][0]["segments"]["1"]["source"] == "file name"
    saved = load_template(tmpl)
    assert saved.files == {"kidney_left": "Kidney Left", "kidney_right": "Kidney Right",
                           "liver": "Liver"}
    assert main(["build", str(root), "-o", str(out), "--template", str(tmpl), "-q"]) == 0
    text = capsys.readouterr().out
    assert "Wrote" in text and "Empty masks left out (2)" in text
    # No temporary file left; the one hidden file is Segmap's record of the list it wrote.
    assert [f for f in os.listdir(tmp_path) if f.startswith(".")] == [".items.json.segmap"]


def test_cli_build_bad_taxonomy_is_a_clear_error(tmp_path, capsys):
    root = synth.kits(tmp_path / "k", cases=1)
    tax = tmp_path / "tax.json"
    tax.write_text('{"name": "x"}')
    assert main(["build", str(root), "-o", str(tmp_path / "i.json"), "--taxonomy", str(tax)]) == 1
    err = capsys.readouterr().err
    assert "segmap build: error:" in err and "tax.json" in err


def test_totalsegmentator_reference_build(shared_data, tmp_path):
    out = tmp_path / "items.json"
    _, result = do_build(shared_data / TS_REF, out)
    tasks = json.loads(out.read_text())
    by_seg = {t["series"][0].get("segmentations") if isinstance(
        t["series"][0].get("segmentations"), str) else None: t for t in tasks}
    ml = by_seg[os.path.relpath((shared_data / TS_REF / "example_seg.nii.gz").resolve(),
                                tmp_path.resolve())]
    # Names from TotalSegmentator's header extension.
    assert ml["series"][0]["segmentMap"]["1"] == "Spleen"
    assert ml["series"][0]["segmentMap"]["5"] == "Liver"
    binary = [t for t in tasks if t["series"][0].get("segmentMap", {}).get("binaryMask")]
    cats = {v["category"] for t in binary for k, v in t["series"][0]["segmentMap"].items()
            if k != "binaryMask"}
    assert {"Kidney Left", "Liver", "Skeletal Muscle"} <= cats
    assert len(result.empty) == 77  # example_seg_fast/ holds 77 empty structures


def test_demo_dataset_scans_into_the_three_shapes_and_builds(demo_dataset, tmp_path):
    scanned = run(scan(demo_dataset.root))
    shapes = {c.shape: sorted(p.name for p in c.masks) for c in scanned.cases}
    assert shapes == {
        "I": ["segmentation.nii.gz"],
        "II": ["organs.nii.gz", "vessels_lesion.nii.gz"],
        "III": ["aorta.nii.gz", "kidney_left.nii.gz", "kidney_right.nii.gz", "liver.nii.gz",
                "liver_tumor.nii.gz", "spleen.nii.gz"]}
    out = tmp_path / "items.json"
    result = run(build(scanned, out, matcher=Matcher(taxonomy_candidates(
        demo_dataset.taxonomy_json))))
    maps = {cb.case.shape: {k: s.category for k, s in cb.segment_map.items()}
            for cb in result.cases}
    # The demo's own items.json names shape I's values 1-6; 7 (vertebrae) it leaves out.
    assert maps["I"] == {1: "Liver", 2: "Spleen", 3: "Left Kidney", 4: "Right Kidney",
                         5: "Aorta", 6: "Liver Tumor"}
    assert [(x.value, x.reason.split(" (")[0]) for x in result.left_out
            if "segmentation" in x.file] == [(7, "no name found")]
    # Shape III is named from the file names, matched to the taxonomy.
    assert sorted(maps["III"].values()) == ["Aorta", "Left Kidney", "Liver", "Liver Tumor",
                                            "Right Kidney", "Spleen"]
