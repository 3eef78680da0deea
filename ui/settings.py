"""What the wizard remembers between runs: recent folders, window geometry, preview choices.

UI memory only, through QSettings, always read with a type (QSettings hands back
strings from INI files otherwise). Never credentials: an API key belongs in the
environment or the RedBrick CLI's own profile, not in a settings file anyone can
read. Tests pass an ``IniFormat`` QSettings on a file in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from PySide6.QtCore import QByteArray, QSettings

from app.preview import PRESET_NAMES

ORGANISATION = "Segmap"
APPLICATION = "Segmap"
MAX_RECENT = 10
DEFAULT_OPACITY = 0.5
DEFAULT_PRESET = ""  # empty: the preview picks per volume (soft tissue for CT, auto otherwise)

# Every key this module writes; nothing else lands in the user's settings.
KEYS = ("recent/folders", "window/geometry", "taxonomy/last_file", "preview/opacity",
        "preview/preset")


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

    def forget_recent_folder(self, folder: str | Path) -> None:
        """Drop a folder that no longer exists from the list."""
        path = str(folder)
        self._s.setValue("recent/folders", [f for f in self.recent_folders() if f != path])

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

    # preview
    def preview_opacity(self) -> float:
        value = cast(float, self._s.value("preview/opacity", DEFAULT_OPACITY, type=float))
        return min(max(value, 0.0), 1.0)

    def set_preview_opacity(self, opacity: float) -> None:
        self._s.setValue("preview/opacity", float(opacity))

    def preview_preset(self) -> str:
        """The window preset chosen last, or "" to let the preview choose per volume."""
        name = self._s.value("preview/preset", DEFAULT_PRESET, type=str)
        return name if name in PRESET_NAMES else DEFAULT_PRESET

    def set_preview_preset(self, name: str) -> None:
        self._s.setValue("preview/preset", name if name in PRESET_NAMES else DEFAULT_PRESET)
