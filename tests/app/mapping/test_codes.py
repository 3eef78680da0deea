"""Code suggestions: the DICOM (SNOMED CT) concept a category name means, or None."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import InputError
from app.export import Code, CodeTriple
from app.mapping import (
    ANATOMICAL_STRUCTURE,
    CodeConfidence,
    code_from_json,
    code_label,
    code_text,
    code_to_json,
    known_meaning,
    parse_code_text,
    same_category,
    suggest_code,
)

TS_NAMES = Path("totalsegmentator/tests/reference_files/example_seg_fast")
ABNORMAL = "49755003"  # Morphologically Abnormal Structure (CID 7150)
LEFT, RIGHT = "7771000", "24028007"


def _code(name: str) -> tuple[str, str, str | None] | None:
    s = suggest_code(name)
    if s is None:
        return None
    return s.code.category.value, s.code.type.value, (s.code.modifier.value
                                                      if s.code.modifier else None)


def test_liver_is_snomed_liver():
    s = suggest_code("liver")
    assert s is not None and s.confidence is CodeConfidence.EXACT
    assert s.code.type == Code("SCT", "10200004", "Liver") and s.code.type.meaning == "Liver"
    assert s.code.category == ANATOMICAL_STRUCTURE and s.code.modifier is None
    assert _code("Liver") == _code("LIVER") == _code("liver")


@pytest.mark.parametrize("name", ["kidney_left", "left kidney", "Kidney_L", "kidneys-left",
                                  "LeftKidney"])
def test_laterality_is_the_modifier(name):
    assert _code(name) == ("123037004", "64033007", LEFT)


def test_a_structure_coded_with_its_side_keeps_its_own_code():
    # DICOM has "Middle lobe of right lung" and "Left atrium" as types of their own.
    assert _code("lung_middle_lobe_right") == ("123037004", "72481006", None)
    assert _code("left atrium") == ("123037004", "82471001", None)
    assert _code("lung_upper_lobe_left") == ("123037004", "45653009", LEFT)


@pytest.mark.parametrize("name", ["tumor", "Tumour", "neoplasm"])
def test_tumour_is_a_neoplasm(name):
    assert _code(name) == (ABNORMAL, "108369006", None)


def test_lesion_and_mass_are_abnormal_structures():
    assert _code("lesion") == (ABNORMAL, "52988006", None)
    assert _code("mass") == (ABNORMAL, "4147007", None)


@pytest.mark.parametrize("name", ["nonsense", "foo bar", "Segment_1", "7", "", "  ",
                                  "kidney tumor", "rib_left_1", "vertebrae_S1"])
def test_no_guess_when_nothing_fits(name):
    assert suggest_code(name) is None


def test_synonyms_say_so():
    s = suggest_code("small_bowel")
    assert s is not None and s.confidence is CodeConfidence.SYNONYM
    assert s.code.type.value == "30315005"  # Small intestine


# TotalSegmentator names checked by hand against SNOMED CT (code, and modifier).
TS_EXPECTED = {
    "spleen": ("78961009", None), "aorta": ("15825003", None),
    "vertebrae_L1": ("66794005", None), "vertebrae_C7": ("87391001", None),
    "vertebrae_T12": ("23215003", None), "adrenal_gland_right": ("23451007", RIGHT),
    "iliac_vena_left": ("244411005", LEFT), "inferior_vena_cava": ("64131007", None),
    "clavicula_right": ("51299004", RIGHT), "urinary_bladder": ("89837001", None),
    "pulmonary_vein": ("122972007", None), "atrial_appendage_left": ("33626005", None),
    "costal_cartilages": ("50016007", None), "common_carotid_artery_left": ("32062004", LEFT),
    "brachiocephalic_trunk": ("12691009", None), "thyroid_gland": ("69748006", None),
    "lung_lower_lobe_right": ("90572001", RIGHT), "spinal_cord": ("2748008", None),
    # No DICOM code says which rib, which gluteal muscle, or "portal and splenic vein".
    "rib_right_7": None, "gluteus_medius_left": None, "portal_vein_and_splenic_vein": None,
    "kidney_cyst_left": None, "autochthon_right": None, "iliopsoas_left": None,
}


@pytest.mark.parametrize("name", sorted(TS_EXPECTED))
def test_totalsegmentator_names_by_hand(name):
    want = TS_EXPECTED[name]
    got = _code(name)
    assert (got[1:] if got else None) == want


@pytest.mark.shared_data
def test_every_totalsegmentator_name_gets_a_code_or_none(shared_data):
    names = sorted(p.name.removesuffix(".nii.gz")
                   for p in (shared_data / TS_NAMES).glob("*.nii.gz"))
    assert len(names) == 117
    coded = {n: suggest_code(n) for n in names}
    uncoded = {n for n, s in coded.items() if s is None}
    # Only names no DICOM code fits: numbered ribs, S1, the gluteal, deep back and
    # iliopsoas muscles, kidney cysts, and the portal-and-splenic vein.
    assert uncoded == {n for n in names if n.startswith(("rib_", "gluteus_", "autochthon_",
                                                         "iliopsoas_", "kidney_cyst_"))
                       } | {"vertebrae_S1", "portal_vein_and_splenic_vein"}
    assert len(uncoded) == 38
    for name, s in coded.items():
        if s is None:
            continue
        words = set(name.lower().split("_"))
        # Laterality in the name is never lost: in the modifier or in the type itself.
        side = {"left", "right"} & words
        if side:
            said = (s.code.modifier.meaning if s.code.modifier else s.code.type.meaning).lower()
            assert side.pop() in said, name
        assert s.code.category.value in ("123037004", ABNORMAL, "85756007"), name


def test_code_text_round_trips():
    s = suggest_code("kidney_left")
    assert s is not None
    assert code_text(s.code) == "SCT:64033007+SCT:7771000"
    assert code_label(s.code) == "Kidney, Left"
    assert parse_code_text(code_text(s.code)) == s.code
    back = parse_code_text("SCT:10200004")
    assert back.type.meaning == "Liver" and back.category == ANATOMICAL_STRUCTURE
    assert code_text(back.type) == "SCT:10200004"


def test_parse_code_text_needs_meanings_and_categories_it_cannot_know():
    with pytest.raises(InputError, match="not a code"):
        parse_code_text("liver")
    with pytest.raises(InputError, match="meaning"):
        parse_code_text("99ME:123")
    with pytest.raises(InputError, match="category"):
        parse_code_text("99ME:123 (Widget)")
    widget = parse_code_text("99ME:123 (Widget)", category=ANATOMICAL_STRUCTURE)
    assert widget.type == Code("99ME", "123", "Widget")
    assert known_meaning("SCT", "7771000") == "Left"


def test_json_round_trip_for_templates():
    s = suggest_code("tumour")
    assert s is not None
    obj = code_to_json(s.code)
    assert obj["type"] == {"scheme": "SCT", "value": "108369006", "meaning": "Neoplasm"}
    assert code_from_json(obj) == s.code
    with pytest.raises(InputError, match="template.code"):
        code_from_json({"type": {"scheme": "SCT"}}, "template.code")


def test_both_anatomical_structure_codes_are_one_category():
    dicom = Code("SCT", "91723000", "Anatomical Structure")
    assert same_category(ANATOMICAL_STRUCTURE, dicom)
    assert not same_category(dicom, Code("SCT", "85756007", "Tissue"))
    assert CodeTriple(dicom, Code("SCT", "1", "x")) != CodeTriple(ANATOMICAL_STRUCTURE,
                                                                  Code("SCT", "1", "x"))
