"""UI memory survives a restart with its types, and holds nothing secret."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QByteArray, QSettings

from ui.settings import KEYS, MAX_RECENT, Settings


@pytest.fixture
def ini(tmp_path):
    return str(tmp_path / "segmap.ini")


def reopen(path: str) -> Settings:
    """A fresh Settings on the same file, as after restarting the app."""
    return Settings(QSettings(path, QSettings.Format.IniFormat))


def test_values_come_back_typed_after_a_restart(ini, tmp_path):
    s = reopen(ini)
    s.add_recent_folder(tmp_path)
    s.set_window_geometry(QByteArray(b"\x01\x02geometry"))
    s.set_last_taxonomy(tmp_path / "taxonomy.json")
    s.sync()
    t = reopen(ini)
    assert t.recent_folders() == [str(tmp_path)]  # a list of one, not a bare string
    assert t.window_geometry() == QByteArray(b"\x01\x02geometry")
    assert t.last_taxonomy() == str(tmp_path / "taxonomy.json")


def test_defaults_on_a_fresh_file(ini):
    s = reopen(ini)
    assert s.recent_folders() == [] and s.last_taxonomy() == ""
    assert s.window_geometry().isEmpty()


def test_recent_folders_most_recent_first_without_duplicates(ini, tmp_path):
    s = reopen(ini)
    folders = [tmp_path / f"case{i}" for i in range(MAX_RECENT + 3)]
    for f in folders:
        s.add_recent_folder(f)
    s.add_recent_folder(folders[5])
    got = reopen(ini).recent_folders()
    assert len(got) == MAX_RECENT
    assert got[0] == str(folders[5]) and got[1] == str(folders[-1])
    assert len(set(got)) == MAX_RECENT


def test_only_known_keys_are_written_and_none_is_secret(ini, tmp_path):
    s = reopen(ini)
    s.add_recent_folder(tmp_path)
    s.set_window_geometry(QByteArray(b"g"))
    s.set_last_taxonomy("t.json")
    s.sync()
    written = QSettings(ini, QSettings.Format.IniFormat).allKeys()
    assert sorted(written) == sorted(KEYS)
    assert not [k for k in written if any(w in k.lower() for w in ("key", "token", "secret", "pass"))]
