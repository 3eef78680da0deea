"""The wizard's model without a window: open, map, accept, apply, validate, export, autosave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import InputError
from app.items import load_items, load_taxonomy
from app.progress import run
from app.session import RowStatus, load_session, open_folder, open_items, open_source, save_session


@pytest.fixture
def demo(demo_dataset):
    return demo_dataset


@pytest.fixture
def folder_session(demo):
    return run(open_folder(demo.root, load_taxonomy(demo.taxonomy_json)))


def by_mode(session, mode):
    return next(c for c in session.cases if c.shape == mode)


def test_a_folder_opens_as_cases_with_suggested_unreviewed_mappings(folder_session):
    modes = sorted(c.shape for c in folder_session.cases)
    assert modes == ["I", "II", "III"]
    one = by_mode(folder_session, "I")
    rows = folder_session.rows(one)
    assert [r.status for r in rows[:6]] == [RowStatus.SUGGESTED] * 6
    assert rows[-1].value == 7 and rows[-1].status == RowStatus.UNMAPPED
    assert "view-only annotation" in rows[-1].message
    assert all(r.suggestion is not None for r in rows[:6])


def test_mapping_a_value_and_accepting_makes_it_ok(folder_session):
    one = by_mode(folder_session, "I")
    folder_session.accept(one)
    unmapped = folder_session.rows(one)[-1]
    folder_session.set_category(one, unmapped, "Spleen")
    rows = folder_session.rows(one)
    assert {r.status for r in rows} == {RowStatus.OK}
    assert one.series.segment_map is not None and one.series.segment_map.segments[7].category == "Spleen"


def test_unmapping_and_unknown_categories_are_flagged(folder_session):
    one = by_mode(folder_session, "I")
    folder_session.accept(one)
    first = folder_session.rows(one)[0]
    folder_session.set_category(one, first, "No Such Organ")
    assert folder_session.rows(one)[0].status == RowStatus.NOT_IN_TAXONOMY
    folder_session.set_category(one, folder_session.rows(one)[0], None)
    assert folder_session.rows(one)[0].status == RowStatus.UNMAPPED


def test_binary_case_maps_a_file_by_adding_a_key_with_its_mask(folder_session):
    three = by_mode(folder_session, "III")
    folder_session.accept(three)
    row = next(r for r in folder_session.rows(three) if r.files[0].name == "spleen.nii.gz")
    folder_session.set_category(three, row, None)
    others = [r for r in folder_session.rows(three) if r.files[0].name != "spleen.nii.gz"]
    assert {r.status for r in others} == {RowStatus.OK}  # the other masks are untouched
    after = next(r for r in folder_session.rows(three) if r.files[0].name == "spleen.nii.gz")
    assert after.status == RowStatus.UNMAPPED and after.key is None
    assert "spleen.nii.gz" not in " ".join(three.series.segmentation_paths)
    folder_session.set_category(three, after, "Spleen")
    again = next(r for r in folder_session.rows(three) if r.files[0].name == "spleen.nii.gz")
    assert again.status == RowStatus.OK and again.key is not None
    seg = three.series.segment_map.segments[again.key]
    assert seg.mask is not None and seg.mask.endswith("spleen.nii.gz")
    assert any(p.endswith("spleen.nii.gz") for p in three.series.segmentation_paths)


def test_validate_reports_unreviewed_suggestions_and_export_writes_included_cases(
        folder_session, tmp_path):
    found = run(folder_session.validate_work())
    codes = {f.code for f in found}
    assert "suggestion-unreviewed" in codes and "unmapped-value" in codes
    for c in folder_session.cases:
        folder_session.accept(c)
    folder_session.set_included(by_mode(folder_session, "II"), False)
    summary = folder_session.export(tmp_path / "out" / "items.json")
    assert summary.tasks == 2
    exported = load_items(summary.path)
    assert {t.name for t in exported.tasks} == {c.name for c in folder_session.cases if c.included}
    # Paths were rebased to the export folder and still point at the demo's files.
    for _, _, _, s in exported.iter_series():
        for p in s.segmentation_paths:
            assert exported.resolve(p).is_file()
    assert "suggestion-unreviewed" not in {f.code for f in run(folder_session.validate_work())}


def test_apply_mapping_to_cases_with_the_same_labels(folder_session):
    one, two = by_mode(folder_session, "I"), by_mode(folder_session, "II")
    mapping = folder_session.mapping_of(two)
    mapping["1"] = "Spleen"
    change = folder_session.apply_mapping(two, mapping)
    changed, differ = sorted(change.mapping), list(change.skipped)
    # Case I has value 7 as well, so its label set differs: listed, not changed.
    assert changed == [] and differ == [one.name]


def test_templates_round_trip_and_apply(folder_session, tmp_path):
    three = by_mode(folder_session, "III")
    t = folder_session.template(three)
    t.save(tmp_path / "map.json")
    from app.mapping import load_template

    loaded = load_template(tmp_path / "map.json")
    assert loaded.files["liver"] == "Liver"
    change = folder_session.apply_template(loaded)
    changed, differ = change.mapping, list(change.skipped)
    assert three.name in changed and differ == []


def test_opening_an_items_list_keeps_its_mappings_as_reviewed(demo):
    s = run(open_items(demo.items_json, load_taxonomy(demo.taxonomy_json)))
    assert [c.shape for c in s.cases] == ["I", "II", "III"]
    assert all(not c.unreviewed for c in s.cases)
    statuses = [r.status for r in s.rows(s.cases[0])]
    assert statuses == [RowStatus.OK] * 6 + [RowStatus.UNMAPPED]


def test_a_mapped_value_in_no_file_is_absent(demo, tmp_path):
    data = json.loads(demo.items_json.read_text())
    data[0]["series"][0]["segmentMap"]["9"] = "Spleen"
    f = tmp_path / "edited.json"
    for s in data[0]["series"]:
        s["items"] = [str(demo.root / p) for p in s["items"]] if isinstance(s["items"], list) \
            else str(demo.root / s["items"])
        s["segmentations"] = str(demo.root / s["segmentations"])
    f.write_text(json.dumps(data[:1]))
    s = run(open_items(f))
    assert s.rows(s.cases[0])[-1].status == RowStatus.ABSENT


def test_autosave_round_trip(folder_session, tmp_path):
    one = by_mode(folder_session, "I")
    folder_session.set_category(one, folder_session.rows(one)[-1], "Spleen")
    folder_session.set_included(by_mode(folder_session, "II"), False)
    path = save_session(folder_session, tmp_path / "session.json")
    back = load_session(path)
    assert back.items.to_json() == folder_session.items.to_json()
    assert [(c.name, c.shape, c.included, c.unreviewed) for c in back.cases] == [
        (c.name, c.shape, c.included, c.unreviewed) for c in folder_session.cases]
    assert [r.status for r in back.rows(back.cases[0])] == [
        r.status for r in folder_session.rows(folder_session.cases[0])]


def test_open_source_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run(open_source(tmp_path / "nope"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="neither a folder nor an items list"):
        run(open_source(tmp_path / "x.txt"))
    with pytest.raises(InputError, match="not a Segmap session"):
        (tmp_path / "s.json").write_text("{}")
        load_session(tmp_path / "s.json")


def test_export_cli_rebases_paths(demo, tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "elsewhere" / "items.json"
    assert main(["export", str(demo.items_json), "-o", str(out), "--task",
                 "demo-II-two-multilabel-files", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tasks"] == 1
    items = load_items(out)
    for _, _, _, s in items.iter_series():
        assert all(Path(items.resolve(p)).is_file() for p in s.segmentation_paths)


def test_moving_a_mask_to_another_case(folder_session):
    one, two = by_mode(folder_session, "I"), by_mode(folder_session, "II")
    mask = two.masks[1]  # vessels_lesion: values 5 and 6
    change = folder_session.move_mask(mask, two, one)
    done = change.notes
    assert change.cases and change.mapping == {one.name, two.name}
    assert mask in one.masks and mask not in two.masks
    assert one.shape == "II" and two.shape == "I"
    assert two.series.segment_map is not None and set(two.series.segment_map.segments) == {1, 2, 3, 4}
    assert "moved" in done[0]
    assert len(one.series.segmentation_paths) == 2


def test_moving_a_label_map_into_a_binary_case_is_refused(folder_session):
    one, three = by_mode(folder_session, "I"), by_mode(folder_session, "III")
    with pytest.raises(InputError, match="binary mask per structure"):
        folder_session.move_mask(one.masks[0], one, three)


def test_a_preview_request_is_frozen_while_the_mapping_is_edited(folder_session):
    """A worker merges from the request while the GUI thread edits the live maps."""
    import threading

    from app.preview import load_case_preview

    three = by_mode(folder_session, "III")
    request = folder_session.preview_request(three)
    assert request.merge is not None
    with pytest.raises(TypeError):
        request.merge.masks["1"] = "elsewhere.nii.gz"  # type: ignore[index]
    expected = dict(request.merge.instances)
    errors: list[BaseException] = []
    stop = threading.Event()

    def merge_repeatedly() -> None:
        try:
            while not stop.is_set():
                assert set(run(request.merge.merge()).segments) == set(expected)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=merge_repeatedly)
    worker.start()
    try:
        for _ in range(60):
            for row in folder_session.rows(three):
                folder_session.set_category(three, row, None)
            for row in folder_session.rows(three):
                folder_session.set_category(three, row, "Liver")
    finally:
        stop.set()
        worker.join(60)
    assert errors == [] and dict(request.merge.instances) == expected
    preview = run(load_case_preview(request))
    assert set(preview.segments) == set(expected)
