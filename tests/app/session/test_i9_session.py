"""The session's parts the wizard leans on for real, mixed data: undo snapshots, what a
case's mapping does on import, unmapped label maps in the preview, colours by category."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.progress import run
from app.session import (
    RowStatus,
    consequences,
    load_session,
    open_folder,
    save_session,
    session_json,
)
from tests.ui.mixed import mixed_folder


@pytest.fixture
def session(tmp_path):
    mixed = mixed_folder(tmp_path / "data")
    return run(open_folder(mixed.root))


def test_a_snapshot_puts_a_case_back_exactly_and_can_be_used_twice(session):
    big = session.case("big")
    before = _state(session)
    snap = session.snapshot(["big"])
    for row in session.rows(big)[:3]:
        session.set_category(big, row, "Aorta")
    session.accept(big)
    assert _state(session) != before
    change = session.restore(snap)
    assert change.mapping == {"big"} and change.cases
    assert _state(session) == before
    assert session.case("big").task is session.items.tasks[
        next(i for i, t in enumerate(session.items.tasks) if t.name == "big")]
    session.set_category(session.case("big"), session.rows(session.case("big"))[0], None)
    session.restore(snap)
    assert _state(session) == before


def test_no_rows_is_never_all_is_well(session):
    said = consequences([])
    assert said.level == "warning" and "no labels" in said.text and said.short == "no labels"
    assert consequences(session.rows(session.case("big")), included=False).short == "left out"
    unnamed = consequences(session.rows(session.case("unnamed")))
    assert unnamed.level == "warning" and unnamed.short == "3 to map"
    big = session.case("big")
    session.accept(big)
    for row in session.rows(big):
        if row.status == RowStatus.UNMAPPED:  # the phantom's overlap value has no name
            session.set_category(big, row, "Liver Tumor")
    assert consequences(session.rows(big)).level == "ok"


def test_an_unmapped_label_map_is_previewed_binary_masks_are_not(session):
    unnamed = session.case("unnamed")
    assert not unnamed.series.segmentation_paths  # nothing mapped: not in the list yet
    request = session.preview_request(unnamed)
    assert request.unlisted and request.merge is not None
    assert [Path(f).name for f in request.merge.files] == ["scan_labels.nii.gz"]
    assert dict(request.merge.instances) == {}
    binary = session.case("binary")
    for row in session.rows(binary):
        if row.key is not None:
            session.set_category(binary, row, None)
    assert session.preview_request(binary).merge is None


def test_hand_mappings_survive_an_autosave(session, tmp_path):
    big = session.case("big")
    session.set_category(big, session.rows(big)[1], "Aorta")
    assert big.by_hand == {2}
    back = load_session(save_session(session, tmp_path / "auto.json"))
    assert back.case("big").by_hand == {2}
    assert [r.status for r in back.rows(back.case("big"))][1] == RowStatus.OK


def test_apply_mapping_says_what_it_did_and_why_not(session):
    change = session.apply_mapping(session.case("unnamed"))
    assert change.count == 0
    text = " ".join(change.notes)
    assert "to 0 case(s)" in text and "big" in text and "binary masks" in text
    small, big = session.case("small"), session.case("big")
    change = session.apply_mapping(big, targets=[big, small])
    assert "There is no other case" not in " ".join(change.notes)


def test_a_category_has_one_colour_in_every_case_without_a_taxonomy(session):
    assert session.taxonomy is None
    colours = {}
    for case in session.cases:
        for entry in session.legend(case):
            if entry.name is not None:
                assert colours.setdefault(entry.name, entry.colour) == entry.colour
    heart_big = next(e for e in session.legend(session.case("big")) if e.name == "Heart")
    heart_bin = next(e for e in session.legend(session.case("binary")) if e.name == "Heart")
    assert heart_big.value != heart_bin.value and heart_big.colour == heart_bin.colour


@pytest.fixture
def demo(demo_dataset):
    from app.items import load_taxonomy

    return run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json)))


def _case(session, shape):
    return next(c for c in session.cases if c.shape == shape)


def _state(session) -> dict:
    """The session as saved, without the time it was saved at (a second may tick)."""
    return {k: v for k, v in session_json(session).items() if k != "saved_at"}


def test_a_move_that_changes_what_redbrick_stores_is_said_before_it_happens(demo):
    three, two = _case(demo, "III"), _case(demo, "II")
    aorta = next(m for m in three.masks if m.name == "aorta.nii.gz")
    before = _state(demo)
    plan = demo.move_plan(aorta, three, two)
    assert _state(demo) == before  # a plan changes nothing
    assert len(plan.changes) == 1
    assert "value 1 (Aorta" in plan.changes[0] and "store it as Liver" in plan.changes[0]
    change = demo.move_mask(aorta, three, two)
    assert plan.changes[0] in change.notes


def test_a_moved_mask_takes_its_category_there_and_back(demo):
    three, two = _case(demo, "III"), _case(demo, "II")
    spleen = next(m for m in three.masks if m.name == "spleen.nii.gz")
    demo.move_mask(spleen, three, two)
    assert next(r for r in demo.rows(two) if r.value == 1).category == "Liver"  # as planned
    demo.move_mask(spleen, two, three)
    back = next(r for r in demo.rows(three) if r.files and r.files[0] == spleen)
    assert back.category == "Spleen" and back.status == RowStatus.SUGGESTED  # its own again
    # Between binary cases a mask keeps its category, reviewed as it was.
    one = _case(demo, "I")
    kidney = next(m for m in three.masks if m.name == "kidney_left.nii.gz")
    demo.accept(three)
    demo.move_mask(kidney, three, one)  # a binary 0/1 file joins a label map: value 1
    demo.move_mask(kidney, one, three)
    row = next(r for r in demo.rows(three) if r.files and r.files[0] == kidney)
    assert row.category == "Left Kidney"


def test_the_pairing_evidence_follows_the_masks_a_case_has(demo):
    two, one = _case(demo, "II"), _case(demo, "I")
    assert "(2 masks)" in two.evidence
    demo.move_mask(two.masks[1], two, one)
    assert "(2 masks)" not in two.evidence and "moved here by you from" in one.evidence
    assert two.shape == "I" and one.shape == "II"


def test_a_move_says_each_consequence_once(demo):
    two, one = _case(demo, "II"), _case(demo, "I")
    vessels = next(m for m in two.masks if m.name == "vessels_lesion.nii.gz")
    change = demo.move_mask(vessels, two, one)
    leaving = [n for n in change.notes if "leave" in n.lower() or "left" in n.lower()]
    values = [n.split()[1] for n in leaving]
    assert leaving and len(values) == len(set(values))  # one note per value that leaves
