"""Validation of a task's own fields: priority, metaData, preAssign, classification and the
values of label attributes, against the taxonomy and the project's stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.items import Taxonomy, parse_items
from app.validate import check_fields, validate

from ..builders import codes, image, only

TAXONOMY = Taxonomy.from_json({
    "isNew": True, "name": "t",
    "studyClassify": [
        {"name": "Quality", "attrType": "SELECT", "attrId": 0,
         "options": [{"name": "good", "optionId": 0}, {"name": "poor", "optionId": 1}]},
        {"name": "Slices", "attrType": "NUMBER", "attrId": 1, "minValue": 1, "maxValue": 500},
        {"name": "Contrast", "attrType": "BOOL", "attrId": 2},
        {"name": "Findings", "attrType": "MULTISELECT", "attrId": 3,
         "options": [{"name": "a", "optionId": 0}, {"name": "b", "optionId": 1}]},
    ],
    "objectTypes": [{"category": "Liver", "classId": 0, "labelType": "SEGMENTATION",
                     "attributes": [{"name": "Volume", "attrType": "NUMBER", "attrId": 0,
                                     "minValue": 0, "maxValue": 5000},
                                    {"name": "Grade", "attrType": "SELECT", "attrId": 1,
                                     "options": [{"name": "I", "optionId": 0}]}]}],
})


def found_for(fields: dict[str, Any], stages: list[str] | None = None,
              taxonomy: Taxonomy | None = TAXONOMY) -> list[Any]:
    items = parse_items([{"name": "case", "series": [{"items": "img.nii.gz"}], **fields}])
    return list(check_fields([(t, t.name) for t in items.tasks], taxonomy, stages))


@pytest.mark.parametrize("priority", [1.5, -0.1, "0.5", True])
def test_priority_out_of_range_or_not_a_number(priority):
    found = only(found_for({"priority": priority}), "priority-range")
    assert found and found[0].task == "case" and repr(priority) in found[0].message


def test_good_fields_give_no_finding():
    assert found_for({
        "priority": 0.5, "metaData": {"site": "A"}, "preAssign": {"Label": "a@b.org"},
        "classification": {"attributes": {"Quality": "good", "Slices": 120, "Contrast": False,
                                          "Findings": ["a", "b"]}}},
        stages=["Label", "Review_1"]) == []


def test_metadata_values_must_be_text():
    found = only(found_for({"metaData": {"age": 42, "site": "A"}}), "metadata-value")
    assert len(found) == 1 and "'age': 42" in found[0].message
    assert codes(found_for({"metaData": ["x"]})) == {"metadata-value"}


def test_pre_assign_stage_email_and_shape():
    found = found_for({"preAssign": {"Lable": "a@b.org", "Label": ["x@y.org", "not an email"]}},
                      stages=["Label", "Review_1"])
    assert codes(found) == {"preassign-stage", "preassign-email"}
    assert "'Label', 'Review_1'" in only(found, "preassign-stage")[0].message
    assert "'not an email'" in only(found, "preassign-email")[0].message
    # Stages unknown (no project): only the emails are checked.
    assert codes(found_for({"preAssign": {"Lable": "a@b.org"}})) == set()
    assert codes(found_for({"preAssign": {"Label": 3}})) == {"preassign-invalid"}


def test_classification_against_study_classify():
    found = found_for({"classification": {"attributes": {
        "Qualty": "good", "Quality": "great", "Slices": 900, "Contrast": "yes",
        "Findings": ["a", "c"]}}})
    assert sorted(f.code for f in found) == ["attribute-number", "attribute-option",
                                             "attribute-option", "attribute-type",
                                             "classification-unknown"]
    assert "900 is outside 1..500" in only(found, "attribute-number")[0].message
    assert codes(found_for({"classification": {"attributes": {"Slices": "many"}}})) == {
        "attribute-number"}
    # The taxonomy v2 list form is read too.
    assert codes(found_for({"classification": {"attributes": [
        {"name": "Quality", "value": "poor"}]}})) == set()
    assert codes(found_for({"classification": "good"})) == {"format"}
    assert found_for({"classification": {"attributes": {"Qualty": 1}}}, taxonomy=None) == []


def test_label_attribute_values_on_any_items_list(tmp_path: Path):
    image(tmp_path / "img.nii.gz")
    from ..builders import nifti, volume
    nifti(tmp_path / "seg.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): 2, (2, 0, 0): 3}))
    tasks = [{"name": "case", "series": [{
        "items": "img.nii.gz", "segmentations": "seg.nii.gz",
        "segmentMap": {"1": {"category": "Liver", "attributes": {"Volume": 9000}},
                       "2": {"category": "Liver", "attributes": {"Grade": "IV", "Size": 2}},
                       "3": {"category": "Liver", "attributes": {"Volume": 12.5}}}}]}]
    found = validate(parse_items(tasks, root=tmp_path), TAXONOMY, tmp_path)
    assert {(f.code, f.value) for f in found if f.code.startswith("attribute")} == {
        ("attribute-number", 1), ("attribute-option", 2), ("attribute-unknown", 2)}


def test_stages_reach_validation(tmp_path: Path):
    image(tmp_path / "img.nii.gz")
    items = parse_items([{"name": "c", "series": [{"items": "img.nii.gz"}],
                          "preAssign": {"QA": "a@b.org"}}], root=tmp_path)
    assert "preassign-stage" in codes(validate(items, None, tmp_path, stages=["Label"]))
    assert "preassign-stage" not in codes(validate(items, None, tmp_path))
