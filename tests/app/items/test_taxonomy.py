"""Taxonomy loading (v1, v2, API object), lookup in every segmentMap form, colours."""

from __future__ import annotations

import json

import pytest

from app.errors import TaxonomyError
from app.items import Taxonomy, load_taxonomy, sdk_color

V2 = {
    "orgId": "o", "taxId": "t", "name": "Clinical", "isNew": True, "createdAt": "2025-01-01",
    "studyClassify": [], "seriesClassify": [], "instanceClassify": [],
    "objectTypes": [
        {"category": "Liver", "classId": 0, "labelType": "SEGMENTATION", "color": "#7FFFD4",
         "parents": ["Organs"], "archived": False,
         "attributes": [{"name": "Lobe", "attrType": "SELECT", "attrId": 1,
                         "options": [{"name": "left", "optionId": 0}]}], "hint": "the liver"},
        {"category": "Spleen", "classId": 1, "labelType": "SEGMENTATION", "color": None,
         "parents": ["Organs"]},
        {"category": "Old", "classId": 2, "labelType": "SEGMENTATION", "archived": True},
        {"category": "Box", "classId": 3, "labelType": "BBOX", "color": "#abc"},
        {"category": "Tumour", "classId": 4, "labelType": "SEGMENTATION",
         "parents": ["Lesions", "Primary"]},
        {"category": "Kidney", "classId": 5, "labelType": "SEGMENTATION", "parents": ["Organs"]},
    ],
}

V1 = {
    "name": "Old style", "version": 1, "isNew": False,
    "categories": [{"name": "object", "children": [
        {"name": "Organs", "classId": 0, "children": [
            {"name": "Liver", "classId": 1, "children": []},
            {"name": "Spleen", "classId": 2, "disabled": True, "children": []}]},
        {"name": "Lesion", "classId": 3, "children": []}]}],
    "attributes": [{"name": "Confidence", "attrType": "number"}],
    "colorMap": [{"name": "Liver", "color": "#ff0000", "classid": 1,
                  "trail": ["object", "Organs", "Liver"], "taskcategory": False}],
}


def test_v2_categories_carry_every_field():
    tax = Taxonomy.from_json(V2)
    liver = tax.lookup("Liver")
    assert liver is not None
    assert (liver.name, liver.path, liver.class_id, liver.label_type) == (
        "Liver", ("Organs", "Liver"), 0, "SEGMENTATION")
    assert liver.color == (0x7F, 0xFF, 0xD4)
    assert liver.attributes[0].name == "Lobe" and liver.attributes[0].options == ("left",)
    assert liver.hint == "the liver" and tax.version == 2 and tax.name == "Clinical"


def test_lookup_accepts_every_segment_map_form():
    tax = Taxonomy.from_json(V2)
    for form in ("Tumour", 4, ["Lesions", "Primary", "Tumour"], ["Tumour"],
                 [["object", "Lesions", "Primary", "Tumour"]]):
        found = tax.lookup(form)
        assert found is not None and found.name == "Tumour", form
    for bad in ("tumour", 99, ["Primary", "Tumour"], True, None, [], {"category": "Tumour"}):
        assert tax.lookup(bad) is None, bad


def test_colours_are_the_sdks():
    get_color = pytest.importorskip("redbrick.utils.common_utils").get_color
    tax = Taxonomy.from_json(V2)
    assert list(tax.color_for("Spleen")) == get_color(None, 1)  # no colour: class-id hash
    assert list(tax.color_for("Box")) == get_color("#abc")
    assert tax.color_for("nothing") is None
    assert [list(sdk_color(None, i)) for i in range(20)] == [get_color(None, i) for i in range(20)]


def test_segmentation_categories_skip_archived_and_other_types_and_group_siblings():
    tax = Taxonomy.from_json(V2)
    names = [c.name for c in tax.segmentation_categories()]
    assert names == ["Liver", "Spleen", "Kidney", "Tumour"]


def test_v1_tree_paths_colours_and_disabled():
    tax = Taxonomy.from_json(V1)
    assert tax.version == 1
    assert [c.path for c in tax.categories] == [("Organs",), ("Organs", "Liver"),
                                               ("Organs", "Spleen"), ("Lesion",)]
    liver = tax.lookup(["Organs", "Liver"])
    assert liver is not None and liver.color == (255, 0, 0) and liver.class_id == 1
    assert tax.lookup([["object", "Organs", "Liver"]]) == liver
    assert tax.lookup(1) == liver and tax.lookup("Liver") == liver
    assert tax.lookup(["Organs", "Spleen"]).archived  # type: ignore[union-attr]
    assert list(tax.lookup("Lesion").color) == list(sdk_color(None, 3))  # type: ignore[union-attr]
    assert [c.name for c in tax.segmentation_categories()] == ["Organs", "Liver", "Lesion"]
    assert tax.category_value(liver) == ["Organs", "Liver"]
    assert [a.name for a in tax.attributes] == ["Confidence"]


def test_api_project_object_and_bare_object_type_list():
    # getProjectSDK returns every shard field: v2 taxonomies carry categories: null.
    api = {**V2, "categories": None, "colorMap": None, "version": None}
    assert Taxonomy.from_json({"projectId": "p", "taxonomy": api}).lookup("Liver") is not None
    api_v1 = {**V1, "objectTypes": None, "taxId": None}
    assert Taxonomy.from_json(api_v1).version == 1
    bare = Taxonomy.from_json(V2["objectTypes"])
    assert bare.lookup(5).name == "Kidney"  # type: ignore[union-attr]


def test_category_value_is_the_name_unless_ambiguous():
    objs = [{"category": "Mass", "classId": 0, "labelType": "SEGMENTATION", "parents": ["A"]},
            {"category": "Mass", "classId": 1, "labelType": "SEGMENTATION", "parents": ["B"]},
            {"category": "Cyst", "classId": 2, "labelType": "SEGMENTATION"}]
    tax = Taxonomy.from_json({"isNew": True, "objectTypes": objs})
    assert tax.category_value(tax.categories[2]) == "Cyst"
    assert tax.category_value(tax.categories[1]) == ["B", "Mass"]
    assert len(tax.matches("Mass")) == 2
    assert tax.lookup(["B", "Mass"]).class_id == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("entry", "message"), [
    ({"classId": 0, "labelType": "SEGMENTATION"}, "object_types->0 has no `category`"),
    ({"category": "x", "labelType": "SEGMENTATION"}, "object_types->0 has no `classId`"),
    ({"category": "x", "classId": 0}, "object_types->0 has no `labelType`"),
    ({"category": "x", "classId": "0", "labelType": "SEGMENTATION"}, "`classId` must be"),
    ({"category": "x", "classId": 0, "labelType": "MASK"}, "`labelType` is 'MASK'"),
    ({"category": "x", "classId": 0, "labelType": "BBOX", "color": "red"}, "not a hex colour"),
    ({"category": "x", "classId": 0, "labelType": "BBOX", "parents": "A"}, "`parents` must be"),
    ({"category": "x", "classId": 0, "labelType": "BBOX", "attributes": [{"name": "a"}]},
     "object_types->0->attributes->0 has no `attrType`"),
])
def test_malformed_v2_entries_name_the_field(entry, message):
    with pytest.raises(TaxonomyError) as err:
        Taxonomy.from_json({"isNew": True, "objectTypes": [entry]}, source="tax.json")
    assert message in err.value.message and err.value.message.startswith("tax.json")
    assert err.value.hint


def test_sdk_messages_match_validate_taxonomy():
    rb = pytest.importorskip("redbrick.utils.rb_tax_utils")
    entries = [{"classId": 0, "labelType": "SEGMENTATION"},
               {"category": "x", "labelType": "SEGMENTATION"}, {"category": "x", "classId": 0}]
    for entry in entries:
        with pytest.raises(ValueError) as sdk:
            rb.validate_taxonomy(None, None, None, [entry])
        with pytest.raises(TaxonomyError) as ours:
            Taxonomy.from_json({"isNew": True, "objectTypes": [entry]})
        assert str(sdk.value) in ours.value.message
    with pytest.raises(TaxonomyError, match="study_classify->0 has no `attrId`"):
        Taxonomy.from_json({"isNew": True, "objectTypes": [],
                            "studyClassify": [{"name": "a", "attrType": "BOOL"}]})


@pytest.mark.parametrize("obj", [{"name": "x"}, "text", 3, {"objectTypes": {"a": 1}},
                                 {"categories": []}, {"isNew": False, "categories": [{"x": 1}]}])
def test_not_a_taxonomy(obj):
    with pytest.raises(TaxonomyError):
        Taxonomy.from_json(obj)


def test_v1_bad_class_id_names_the_path():
    bad = {"categories": [{"name": "object", "children": [{"name": "A", "children": []}]}]}
    with pytest.raises(TaxonomyError, match=r"categories->0->children->0 `classId`"):
        Taxonomy.from_json(bad)


def test_load_taxonomy_file_errors(tmp_path):
    good = tmp_path / "tax.json"
    good.write_text(json.dumps(V2))
    assert load_taxonomy(good).lookup("Liver") is not None
    broken = tmp_path / "broken.json"
    broken.write_text('{"objectTypes": [\n  {"category": "x",}\n]}')
    with pytest.raises(TaxonomyError.__mro__[1], match=r"line 2, column"):
        load_taxonomy(broken)
    with pytest.raises(TaxonomyError.__mro__[1], match="not found"):
        load_taxonomy(tmp_path / "missing.json")
