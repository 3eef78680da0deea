"""Saved work that cannot be read never stops the wizard: it is moved aside, kept, said."""

from __future__ import annotations

import json

import pytest

from app.session import saved_work, set_aside_unreadable
from tests.app.hostile.corpus import nested_json

GOOD = {"format": "segmap-session", "version": 1, "saved_at": "2026-01-01T10:00:00+00:00",
        "source": "/data/ct", "items": [], "cases": []}


@pytest.mark.parametrize("damage", ["deep", "1e999", "NaN", "surrogate", "not-json"])
def test_unreadable_saved_work_is_moved_aside_not_deleted(tmp_path, damage):
    path = tmp_path / "autosave.json"
    if damage == "deep":
        nested_json(path, 950)
    else:
        text = {"1e999": '{"format": "segmap-session", "series": 1e999}',
                "NaN": '{"format": "segmap-session", "saved_at": NaN}',
                "surrogate": '{"format": "segmap-session", "source": "\\udcff"}',
                "not-json": "{ half a sess"}[damage]
        path.write_text(text)
    before = path.read_bytes()
    (found,) = set_aside_unreadable([path, tmp_path / "kept" / "none.json"])
    assert not path.exists() and found.kept.read_bytes() == before
    assert found.kept.parent == tmp_path and "unreadable" in found.kept.name
    assert str(path) in found.text() and str(found.kept) in found.text()
    assert "not deleted" in found.text()
    path.write_bytes(before)  # the same damage again: kept under another name
    (again,) = set_aside_unreadable([path])
    assert again.kept != found.kept and found.kept.exists()


def test_readable_saved_work_is_left_where_it_is(tmp_path):
    path = tmp_path / "autosave.json"
    path.write_text(json.dumps(GOOD))
    assert set_aside_unreadable([path]) == []
    assert saved_work(path).source.name == "ct"
