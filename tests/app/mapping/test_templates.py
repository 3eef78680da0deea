"""Mapping templates: saved once, applied to every case, differences listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import InputError, JsonFileError
from app.mapping import (
    Proposal,
    Suggestion,
    Target,
    Template,
    file_key,
    load_template,
    template_from,
)


def test_save_and_load_round_trip(tmp_path):
    t = Template(values={1: "Liver", 2: ("Abdomen", "Liver Tumor"), 3: None},
                 files={"kidney_left": "Kidney Left"})
    path = t.save(tmp_path / "map.json")
    data = json.loads(path.read_text())
    assert data["values"] == {"1": "Liver", "2": ["Abdomen", "Liver Tumor"], "3": None}
    back = load_template(path)
    assert (back.values, back.files) == (t.values, t.files)


def test_file_keys_are_normalised_structure_names():
    assert file_key(Path("case7_Kidney_L_mask.nii.gz"), "case7") == "kidney_left"
    assert file_key(Path("kidney_left.nii.gz")) == "kidney_left"
    assert file_key(Path("vertebrae_L3.nii.gz")) == "vertebra_l3"


def test_loaded_file_keys_match_differently_spelt_files(tmp_path):
    p = tmp_path / "map.json"
    p.write_text(json.dumps({"files": {"Left-Kidney": "Kidney Left"}}))
    t = load_template(p)
    assert t.file_entry(file_key(Path("kidney_L.nii.gz"))) == (True, "Kidney Left")
    assert t.difference("c", ["kidney_left"], binary=True) is None


def test_apply_puts_an_accepted_entry_first():
    t = Template(values={1: "Liver", 2: None}, path=Path("/x/map.json"))
    guess = Suggestion("Spleen", "file name", 0.9)
    props = [Proposal(Target(Path("s.nii.gz"), v, 10), [guess]) for v in (1, 2, 3)]
    t.apply(props)
    first = [p.suggestions[0] for p in props]
    assert (first[0].category, first[0].accepted, first[0].source) == ("Liver", True,
                                                                        "template map.json")
    assert first[1].category is None and first[1].accepted  # "leave it out" is a decision
    assert first[2] is guess and not guess.accepted  # value 3 is not in the template


def test_difference_lists_missing_and_extra():
    t = Template(values={1: "A", 2: "B", 3: "C"})
    assert t.difference("c1", ["1", "2", "3"], binary=False) is None
    d = t.difference("c2", ["1", "2", "5"], binary=False)
    assert (d.missing, d.extra) == (("3",), ("5",))
    tb = Template(files={"liver": "Liver", "spleen": "Spleen"})
    d = tb.difference("c3", ["liver", "kidney_left"], binary=True)
    assert (d.missing, d.extra) == (("spleen",), ("kidney_left",))


def test_template_from_decisions_leaves_out_conflicts():
    t, conflicts = template_from([
        (False, Path("a.nii.gz"), 1, "Liver"), (False, Path("b.nii.gz"), 1, "Liver"),
        (False, Path("a.nii.gz"), 2, "Tumor"), (False, Path("b.nii.gz"), 2, "Cyst"),
        (True, Path("s1/kidney_left.nii.gz"), None, "Kidney Left")])
    assert t.values == {1: "Liver"} and t.files == {"kidney_left": "Kidney Left"}
    assert conflicts == ["value 2: Cyst, Tumor"]


@pytest.mark.parametrize(("content", "message"), [
    ('["Liver"]', "not a mapping template"),
    ('{"values": {"one": "Liver"}}', "not a whole number"),
    ('{"values": {"01": "Liver"}}', "not a whole number"),  # app.items.instance_id's rule
    ('{"values": {"1_0": "Liver"}}', "not a whole number"),  # int() would read 10
    ('{"values": {"1": 5}}', "must be a category name"),
    ('{"values": {"1": ""}}', "must be a category name"),
])
def test_bad_templates_are_clear_errors_naming_the_file(tmp_path, content, message):
    p = tmp_path / "map.json"
    p.write_text(content)
    with pytest.raises(InputError, match=message) as exc:
        load_template(p)
    assert "map.json" in exc.value.message


def test_a_missing_template_file(tmp_path):
    with pytest.raises(JsonFileError, match="not found"):
        load_template(tmp_path / "none.json")
