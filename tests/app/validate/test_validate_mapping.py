"""Validation of the mapping: values, ids, categories, binary masks, overlaps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.items import Taxonomy, load_items
from app.validate import validate

from ..builders import check, codes, image, nifti, only, seed, taxonomy_v2, volume

TAX = Taxonomy.from_json(taxonomy_v2(
    ["category-a", "category-b", "Old", "Box", "Lesion"],
    Old={"archived": True}, Box={"labelType": "BBOX"},
    Lesion={"attributes": [{"name": "Grade", "attrType": "NUMBER", "attrId": 0}]}))


def seeded(tmp_path, kind, edit=None):
    """A seed case (I, II, III) with its first series edited; returns the findings."""
    path = seed(tmp_path, kind)
    tasks = json.loads(path.read_text())
    if edit:
        edit(tasks[0]["series"][0])
    return check(tmp_path, tasks=tasks, taxonomy=TAX)


@pytest.mark.parametrize("kind", ["I", "II", "III"])
def test_seed_shapes_validate_clean(tmp_path, kind):
    assert seeded(tmp_path, kind) == []


def test_seed_shapes_clean_with_a_v1_taxonomy(tmp_path):
    v1 = Taxonomy.from_json({"categories": [{"name": "object", "children": [
        {"name": "category-a", "classId": 0, "children": []},
        {"name": "category-b", "classId": 1, "children": []}]}]})
    path = seed(tmp_path, "III")
    assert validate(load_items(path), v1) == []


def test_mapped_value_absent(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"3": "category-a"}))
    bad = only(found, "mapped-value-absent")
    assert [f.value for f in bad] == [3] and bad[0].severity == "error"
    assert "values present: 1, 2" in bad[0].message


def test_declared_group_counts_as_present(tmp_path):
    image(tmp_path / "img.nii.gz")
    nifti(tmp_path / "g.nii.gz", volume({(0, 0, 0): 3}))
    smap = {"1": {"category": "category-a", "overlappingGroups": [3]},
            "2": {"category": "category-b", "overlappingGroups": [3]}}
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": "g.nii.gz",
                             "segmentMap": smap}, TAX)
    assert found == []


def test_unmapped_value(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].pop("2"))
    bad = only(found, "unmapped-value")
    assert [f.value for f in bad] == [2] and bad[0].severity == "warning"
    assert "uneditable, view-only annotation" in bad[0].message


def test_instance_zero(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"0": "category-a"}))
    assert [f.value for f in only(found, "instance-zero")] == [0]


@pytest.mark.parametrize("smap", [
    {"1": "category-a", "2": "category-b", "70000": "category-a"},
    {"1": "category-a", "2": "category-b", "-1": "category-a"},
    {"1": {"category": "category-a", "overlappingGroups": [0]}, "2": "category-b"},
])
def test_id_out_of_range(tmp_path, smap):
    found = seeded(tmp_path, "I", lambda s: s.update(segmentMap=smap))
    assert "id-out-of-range" in codes(found)


def test_group_id_collision(tmp_path):
    smap = {"1": {"category": "category-a", "overlappingGroups": [2]}, "2": "category-b"}
    found = only(seeded(tmp_path, "I", lambda s: s.update(segmentMap=smap)),
                 "group-id-collision")
    assert found and "Found common instance and group ids" in found[0].message


@pytest.mark.parametrize("entry", [{"category": None}, {"attributes": {"a": 1}}])
def test_category_none(tmp_path, entry):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"2": entry}))
    assert [f.value for f in only(found, "category-none")] == [2]
    assert "format" not in codes(found)  # reported once, with RedBrick's consequence


@pytest.mark.parametrize(("category", "code"), [
    ("category-c", "category-missing"), ("Old", "category-archived"),
    ("Box", "category-not-segmentation"), (99, "category-missing"),
])
def test_category_checks(tmp_path, category, code):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"2": category}))
    assert [f.value for f in only(found, code)] == [2]
    assert only(found, code)[0].severity == "error"


def test_category_missing_suggests_a_near_name(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"2": "categry-b"}))
    assert "Did you mean 'category-b'" in only(found, "category-missing")[0].message


def test_category_by_class_id_and_path_is_found(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s["segmentMap"].update({"1": 0, "2": ["category-b"]}))
    assert found == []


def test_category_ambiguous(tmp_path):
    objs = [{"category": "Mass", "classId": 0, "labelType": "SEGMENTATION", "parents": ["A"]},
            {"category": "Mass", "classId": 1, "labelType": "SEGMENTATION", "parents": ["B"]}]
    tax = Taxonomy.from_json({"isNew": True, "objectTypes": objs})
    path = seed(tmp_path, "I")
    tasks = json.loads(path.read_text())
    tasks[0]["series"][0]["segmentMap"] = {"1": "Mass", "2": ["B", "Mass"]}
    found = check(tmp_path, tasks=tasks, taxonomy=tax)
    assert [f.value for f in only(found, "category-ambiguous")] == [1]


def test_attribute_unknown(tmp_path):
    def edit(s):
        s["segmentMap"]["2"] = {"category": "Lesion", "attributes": {"Grade": 2, "Size": 3}}
    found = only(seeded(tmp_path, "I", edit), "attribute-unknown")
    assert len(found) == 1 and "'Size'" in found[0].message


def test_taxonomy_not_checked(tmp_path):
    path = seed(tmp_path, "I")
    found = validate(load_items(path))
    assert [f.code for f in found] == ["taxonomy-not-checked"]
    assert found[0].severity == "info"


# -- binary masks ---------------------------------------------------------------------


def test_png_without_binary(tmp_path):
    found = seeded(tmp_path, "I", lambda s: s.update(pngMask=True))
    assert "png-without-binary" in codes(found)


def test_binary_flag_missing(tmp_path):
    found = seeded(tmp_path, "III", lambda s: s["segmentMap"].pop("binaryMask"))
    assert "binary-flag-missing" in codes(found)


def test_binary_no_mask(tmp_path):
    found = seeded(tmp_path, "III", lambda s: s["segmentMap"].update({"3": "category-a"}))
    assert [f.value for f in only(found, "binary-no-mask")] == [3]


def test_binary_flag_on_the_series_is_accepted(tmp_path):
    def edit(s):
        s["segmentMap"].pop("binaryMask")
        s["binaryMask"] = True
    assert seeded(tmp_path, "III", edit) == []


def test_mask_list(tmp_path):
    def edit(s):
        s["segmentMap"]["2"]["mask"] = ["m2.mhd", "m2.raw"]
    assert "mask-list" in codes(seeded(tmp_path, "III", edit))


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["I", "III"])
def test_a_one_element_mask_list_fails_in_every_path_as_in_redbricks_merge(tmp_path, kind):
    """RedBrick's merge hashes each `mask`: a list, even of one file, fails the task.

    Validation says so (and merges nothing), and merge, stats and the preview refuse
    the series with the same reason, instead of treating the list as the file.
    """
    from app.errors import MergeError
    from app.merge import merge_series, series_inputs
    from app.preview import series_stats
    from app.progress import run

    from ..sdk_oracle import nifti as sdk_nifti

    path = seed(tmp_path, kind)
    tasks = json.loads(path.read_text())
    smap = tasks[0]["series"][0]["segmentMap"]
    first = next(k for k in smap if k.isdigit())
    listed = tasks[0]["series"][0]["segmentations"]
    listed = listed if isinstance(listed, str) else listed[0]
    smap[first] = {"category": "category-a", "mask": [listed]}
    path.write_text(json.dumps(tasks))
    found = check(tmp_path, tasks=tasks, taxonomy=TAX)
    assert "mask-list" in codes(found) and "overlap" not in codes(found)
    [f] = only(found, "mask-list")
    assert f.is_error and "unhashable type" in f.message
    items = load_items(path)
    inputs = series_inputs(items, items.tasks[0], 0)
    with pytest.raises(MergeError) as ours:
        run(merge_series(items, items.tasks[0], 0))
    assert ours.value.sdk_message == "unhashable type: 'list'"
    with pytest.raises(MergeError, match="is a list"):
        run(series_stats(items, items.tasks[0], 0))
    with pytest.raises(TypeError, match="unhashable type: 'list'"):
        sdk_nifti.process_upload(list(inputs.files), dict(inputs.instances), inputs.binary_mask,
                                 False, {k: list(m) if isinstance(m, tuple) else m
                                         for k, m in inputs.masks.items()})


def test_mask_shared(tmp_path):
    def edit(s):
        s["segmentMap"]["2"]["mask"] = "./m1.nii.gz"  # the same file after RedBrick's rewriting
    found = only(seeded(tmp_path, "III", edit), "mask-shared")
    assert found and "single instance per file" in found[0].message


def test_mask_not_listed(tmp_path):
    def edit(s):
        s["segmentations"] = ["m1.nii.gz"]
    found = seeded(tmp_path, "III", edit)
    assert [f.value for f in only(found, "mask-not-listed")] == [2]


def test_mask_spelled_differently_is_not_listed(tmp_path):
    def edit(s):
        s["segmentMap"]["2"]["mask"] = f"{tmp_path}/./m2.nii.gz"  # absolute: kept as written
    found = only(seeded(tmp_path, "III", edit), "mask-not-listed")
    assert found and "spelled differently" in found[0].message


def test_relative_mask_normalised_like_redbrick_matches(tmp_path):
    def edit(s):
        s["segmentMap"]["2"]["mask"] = "sub/../m2.nii.gz"
    (tmp_path / "sub").mkdir()
    assert seeded(tmp_path, "III", edit) == []


def test_mask_unreferenced_first_file_leaks(tmp_path):
    def edit(s):
        s["segmentMap"]["1"]["mask"] = "m2.nii.gz"
        s["segmentMap"].pop("2")
    found = only(seeded(tmp_path, "III", edit), "mask-unreferenced")
    assert len(found) == 1 and found[0].file.endswith("m1.nii.gz")
    assert "raw values (1)" in found[0].message and "added to those categories" in found[0].message


def test_mask_unreferenced_value_is_filled(tmp_path):
    def edit(s):
        s["segmentMap"]["1"]["mask"] = "m2.nii.gz"
        s["segmentMap"].pop("2")
    found = only(seeded(tmp_path, "III", edit), "mask-unreferenced")
    assert [f.value for f in found] == [1]
    assert found[0].to_json()["value"] == 1


def test_mask_unreferenced_later_file_is_ignored(tmp_path):
    found = only(seeded(tmp_path, "III", lambda s: s["segmentMap"].pop("2")), "mask-unreferenced")
    assert len(found) == 1 and "ignores it" in found[0].message


def test_mask_not_binary(tmp_path):
    path = seed(tmp_path, "III")
    nifti(tmp_path / "m2.nii.gz", volume({(2, 1, 1): 1, (3, 2, 1): 2}))
    found = check(tmp_path, tasks=json.loads(path.read_text()), taxonomy=TAX)
    assert [f.value for f in only(found, "mask-not-binary")] == [2]


def test_binary_empty_mask_is_a_warning(tmp_path):
    path = seed(tmp_path, "III")
    nifti(tmp_path / "m2.nii.gz", volume())
    found = check(tmp_path, tasks=json.loads(path.read_text()), taxonomy=TAX)
    assert [(f.code, f.severity, f.value) for f in found] == [("empty-mask", "warning", 2)]


# -- overlaps, as RedBrick's merge assigns them -----------------------------------------


def test_overlap_non_binary_names_both_files_and_the_group(tmp_path):
    path = seed(tmp_path, "II")
    nifti(tmp_path / "s2.nii.gz", volume({(0, 0, 0): 2, (3, 2, 1): 2}))  # (0,0,0) is 1 in s1
    found = check(tmp_path, tasks=json.loads(path.read_text()), taxonomy=TAX)
    [ov] = only(found, "overlap")
    assert ov.severity == "warning" and ov.value == 3
    assert "s1.nii.gz" in ov.message and "s2.nii.gz" in ov.message
    assert "1 voxel" in ov.message and "overlap group 3" in ov.message


def test_overlap_binary_group_id_is_the_smallest_unused(tmp_path):
    path = seed(tmp_path, "III")
    tasks = json.loads(path.read_text())
    smap = tasks[0]["series"][0]["segmentMap"]
    smap["7"], smap["9"] = smap.pop("1"), smap.pop("2")
    nifti(tmp_path / "m2.nii.gz", volume({(0, 0, 0): 1}))
    [ov] = only(check(tmp_path, tasks=tasks, taxonomy=TAX), "overlap")
    assert ov.value == 1 and "(id 7" in ov.message and "(id 9" in ov.message


def test_declared_groups_are_not_reported_as_overlaps(tmp_path):
    image(tmp_path / "img.nii.gz")
    nifti(tmp_path / "a.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): 3}))
    nifti(tmp_path / "b.nii.gz", volume({(2, 0, 0): 2}))
    smap = {"1": {"category": "category-a", "overlappingGroups": [3]},
            "2": {"category": "category-b", "overlappingGroups": [3]}}
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": ["a.nii.gz", "b.nii.gz"],
                             "segmentMap": smap}, TAX)
    assert found == []


def test_overlap_group_ids_match_the_sdk(tmp_path):
    oracle = pytest.importorskip("tests.app.sdk_oracle")
    image(tmp_path / "img.nii.gz")
    rng = np.random.default_rng(7)
    names = []
    for i in range(3):
        names.append(f"m{i}.nii.gz")
        nifti(tmp_path / names[-1], (rng.random((4, 3, 2)) > 0.5).astype(np.uint8))
    smap = {str(k): {"category": "category-a", "mask": n}
            for k, n in zip((2, 5, 6), names, strict=True)}
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": names,
                             "segmentMap": {**smap, "binaryMask": True}}, TAX)
    files = [str(tmp_path / n) for n in names]
    sdk = oracle.sdk_merge(files, {2: None, 5: None, 6: None}, binary_mask=True,
                           masks={k: str(tmp_path / v["mask"]) for k, v in smap.items()})
    sdk_groups = {g for gs in sdk.segments.values() if gs for g in gs}
    assert {f.value for f in only(found, "overlap")} == sdk_groups and sdk_groups
    for f in only(found, "overlap"):
        assert f"{int((sdk.volume == f.value).sum()):,} voxel" in f.message


def test_first_file_leak_matches_the_sdk(tmp_path):
    oracle = pytest.importorskip("tests.app.sdk_oracle")
    path = seed(tmp_path, "III")
    files = [str(tmp_path / "m1.nii.gz"), str(tmp_path / "m2.nii.gz")]
    sdk = oracle.sdk_merge(files, {2: None}, binary_mask=True, masks={"2": files[1]})
    assert set(sdk.segments) == {1, 2}  # the unreferenced first file's value 1 survives
    tasks = json.loads(path.read_text())
    tasks[0]["series"][0]["segmentMap"].pop("1")
    assert "mask-unreferenced" in codes(check(tmp_path, tasks=tasks, taxonomy=TAX))


def test_merge_failed(tmp_path):
    from PIL import Image
    seed(tmp_path, "III")
    for n in ("p1.png", "p2.png"):
        Image.fromarray(np.ones((3, 4), np.uint8) * 255).save(tmp_path / n)  # grey, 1 channel
    smap = {"1": {"category": "category-a", "mask": "p1.png"},
            "2": {"category": "category-b", "mask": "p2.png"}, "binaryMask": True}
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": ["p1.png", "p2.png"],
                             "segmentMap": smap, "pngMask": True}, TAX)
    assert [f.code for f in found] == ["merge-failed"]
    assert "single-channel PNG" in found[0].message


def test_task_level_group_collision_is_reported_once(tmp_path):
    path = seed(tmp_path, "II")
    tasks = json.loads(path.read_text())
    tasks[0]["series"][0].pop("segmentMap")
    tasks[0]["segmentMap"] = {"1": {"category": "category-a", "overlappingGroups": [2]},
                              "2": "category-b"}
    found = check(tmp_path, tasks=tasks, taxonomy=TAX)
    assert "group-id-collision" in codes(found) and "merge-failed" not in codes(found)


def test_wrapped_values_still_get_their_overlaps_checked(tmp_path):
    path = seed(tmp_path, "II")
    nifti(tmp_path / "s2.nii.gz", volume({(0, 0, 0): 2, (3, 2, 1): -1}, dtype=np.int16))
    found = check(tmp_path, tasks=json.loads(path.read_text()), taxonomy=TAX)
    assert {"values-negative", "unmapped-value", "overlap"} <= codes(found)


def test_uint8_ids_over_255(tmp_path):
    image(tmp_path / "scan.nii.gz")
    nifti(tmp_path / "m1.nii.gz", volume({(0, 0, 0): 1}))
    nifti(tmp_path / "m2.nii.gz", volume({(1, 0, 0): 1}))
    series = {"items": "scan.nii.gz", "segmentations": ["m1.nii.gz", "m2.nii.gz"],
              "segmentMap": {"300": {"category": "a", "mask": "m1.nii.gz"},
                             "2": {"category": "b", "mask": "m2.nii.gz"}, "binaryMask": True}}
    (f,) = only(check(tmp_path, series), "uint8-ids-over-255")
    assert f.value == 300 and "uint16" in f.message
    series["segmentMap"]["3"] = series["segmentMap"].pop("300")
    assert not only(check(tmp_path, series), "uint8-ids-over-255")
