"""A folder's RT Structure Set kept as it is: the wizard maps its ROIs by value (each ROI's
place in the file), the list keeps them keyed by ROI name, and every reopening (the list, an
autosave) maps the same ROIs again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.preview import load_case_preview, preview_stats
from app.progress import run
from app.session import load_session, open_folder, open_items, save_session
from tests.app.rt_synth import write_rt_folder


@pytest.fixture
def rt_folder(tmp_path: Path) -> Path:
    return write_rt_folder(tmp_path / "patient")


def written_map(session, tmp_path: Path) -> dict:
    out = session.export(tmp_path / "out" / "items.json")
    return json.loads(out.path.read_text())[0]["series"][0]


def test_rois_are_rows_and_the_list_is_keyed_by_roi_name(rt_folder: Path, tmp_path: Path
                                                          ) -> None:
    session = run(open_folder(rt_folder))
    (case,) = session.cases
    rows = {r.value: r for r in session.rows(case)}
    assert sorted(rows) == [1, 2, 3] and all(r.voxels > 0 for r in rows.values())
    assert {r.category for r in rows.values()} == {"Liver", "Cord", "Couch"}  # by name
    session.set_category(case, rows[3], None)  # Couch is not imported
    session.set_category(case, rows[2], "Spinal cord")
    series = written_map(session, tmp_path)
    assert series["segmentations"].endswith("rt/rs.dcm")
    assert series["segmentMap"] == {"Liver": "Liver", "Cord": "Spinal cord"}
    # the preview shows every ROI, the unmapped one too, from the filled label map
    request = session.preview_request(case)
    assert request.merge is not None and not request.unlisted
    preview = run(load_case_preview(request))
    assert preview.merge_error is None and set(preview_stats(preview)) == {1, 2, 3}


def test_reopened_list_and_autosave_map_the_same_rois(rt_folder: Path, tmp_path: Path
                                                      ) -> None:
    session = run(open_folder(rt_folder))
    (case,) = session.cases
    rows = {r.value: r for r in session.rows(case)}
    session.set_category(case, rows[1], None)
    first = written_map(session, tmp_path)
    again = run(open_items(tmp_path / "out" / "items.json"))
    (case2,) = again.cases
    mapped = {r.value: r.category for r in again.rows(case2) if r.category is not None}
    assert mapped == {2: "Cord", 3: "Couch"}
    saved = save_session(again, tmp_path / "s.json")
    restored = load_session(saved)
    (case3,) = restored.cases
    assert {r.value: r.category for r in restored.rows(case3) if r.category} == mapped
    assert written_map(restored, tmp_path / "again")["segmentMap"] == first["segmentMap"] == {
        "Cord": "Cord", "Couch": "Couch"}


def test_a_chosen_colour_is_the_categorys_in_every_case_and_survives_an_autosave(
        rt_folder: Path, tmp_path: Path) -> None:
    session = run(open_folder(rt_folder))
    (case,) = session.cases
    session.set_colour("Liver", (1, 2, 3))
    assert (1, 2, 3) in session.colours(case).values()
    restored = load_session(save_session(session, tmp_path / "s.json"))
    assert (1, 2, 3) in restored.colours(restored.cases[0]).values()
    restored.set_colour("Liver", None)
    assert (1, 2, 3) not in restored.colours(restored.cases[0]).values()
