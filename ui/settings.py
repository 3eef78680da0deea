"""What the wizard remembers between runs: recent folders, window geometry, the taxonomy.

UI memory only, through QSettings, always read with a type (QSettings hands back
strings from INI files otherwise). Never credentials: an API key belongs in the
environment or the RedBrick CLI's own profile, not in a settings file anyone can
read. Tests pass an ``IniFormat`` QSettings on a file in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "Segmap"
APPLICATION = "Segmap"
MAX_RECENT = 10

# Every key this module writes; nothing else lands in the user's settings.
KEYS = ("recent/folders", "window/geometry", "taxonomy/last_file")


class Settings:
    """Typed access to the wizard's QSettings."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._s = store if store is not None else QSettings(ORGANISATION, APPLICATION)

    def sync(self) -> None:
        """Write pending changes to disk now (Qt also does it on exit)."""
        self._s.sync()

    # recent folders, most recent first
    def recent_folders(self) -> list[str]:
        stored = cast(list[object], self._s.value("recent/folders", [], type=list))
        return [str(p) for p in stored if p][:MAX_RECENT]

    def add_recent_folder(self, folder: str | Path) -> None:
        path = str(Path(folder).expanduser().resolve())
        folders = [path] + [f for f in self.recent_folders() if f != path]
        self._s.setValue("recent/folders", folders[:MAX_RECENT])

    # main window geometry (QWidget.saveGeometry / restoreGeometry)
    def window_geometry(self) -> QByteArray:
        return cast(QByteArray, self._s.value("window/geometry", QByteArray(), type=QByteArray))

    def set_window_geometry(self, geometry: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)

    # the taxonomy file chosen last
    def last_taxonomy(self) -> str:
        return cast(str, self._s.value("taxonomy/last_file", "", type=str))

    def set_last_taxonomy(self, path: str | Path) -> None:
        self._s.setValue("taxonomy/last_file", str(path))
