"""The Code of a category: suggested from its name until confirmed, kept on every case that
maps it, through undo, autosave and templates, and written into the DICOM SEG."""

from __future__ import annotations

import pytest

from app.errors import InputError
from app.mapping import load_template
from app.progress import run
from app.session import load_session, open_items, save_session


@pytest.fixture
def session(demo_dataset):
    return run(open_items(demo_dataset.items_json))


def _liver(session):
    for case in session.cases:
        for cat in session.mapping_of(case).values():
            if cat is not None and str(cat).lower() == "liver":
                return case, cat
    pytest.fail("the demo maps Liver")


def test_a_category_is_suggested_its_snomed_code_until_confirmed(session):
    case, liver = _liver(session)
    choice = session.code_of(case, liver)
    assert not choice.confirmed and choice.text == "SCT:10200004"
    assert session.code_of(case, None).code is None


def test_confirming_a_code_applies_to_every_case_that_maps_the_category(session):
    case, liver = _liver(session)
    change = session.set_code(liver, "SCT:10200004")  # the suggestion, now confirmed
    mapping_it = [c.name for c in session.cases if liver in session.mapping_of(c).values()]
    assert sorted(change.mapping) == sorted(mapping_it) and len(mapping_it) > 1
    assert all(session.code_of(c, liver).confirmed for c in session.cases if c.name in mapping_it)
    # another code, and no code at all, are the user's to choose
    session.set_code(liver, "SCT:39607008")
    assert session.code_of(case, liver).code.type.value == "39607008"
    session.set_code(liver, "")
    assert session.code_of(case, liver).code is None and session.code_of(case, liver).confirmed


def test_a_bad_code_is_refused_and_says_how_to_write_one(session):
    _, liver = _liver(session)
    with pytest.raises(InputError) as err:
        session.set_code(liver, "liver please")
    assert "SCT:" in (err.value.hint or "") + err.value.message


def test_undo_puts_the_code_back(session):
    case, liver = _liver(session)
    snap = session.snapshot()
    session.set_code(liver, "SCT:39607008")
    session.restore(snap)
    assert not session.code_of(session.case(case.name), liver).confirmed


def test_autosave_and_templates_keep_confirmed_codes(session, tmp_path):
    case, liver = _liver(session)
    session.set_code(liver, "SCT:39607008")
    saved = save_session(session, tmp_path / "s.json")
    again = load_session(saved)
    assert again.code_of(again.case(case.name), liver).text == "SCT:39607008"
    template = session.template(case)
    template.save(tmp_path / "t.json")
    loaded = load_template(tmp_path / "t.json")
    assert loaded.codes["Liver"].type.value == "39607008"
    fresh = run(open_items(session.items.path))
    fresh.apply_template(loaded)
    assert fresh.code_of(fresh.case(case.name), liver).text == "SCT:39607008"


def test_the_seg_and_colour_table_carry_the_confirmed_code(session, tmp_path):
    from app.export import read_slicer_colour_table
    from app.readers.dicom._seg import seg_header
    from app.session import export_standard_labels

    case, liver = _liver(session)
    session.set_code(liver, "SCT:39607008")
    out = run(export_standard_labels(session, tmp_path, names=[case.name]))
    (seg,) = out.segs
    types = {s.label: s.type.value for s in seg_header(seg).segments if s.type is not None}
    assert types["Liver"] == "39607008"
    rows = read_slicer_colour_table(next(p for p in out.tables if p.suffix == ".csv"))
    assert {r.name: r.code.type.value for r in rows if r.code}["Liver"] == "39607008"
