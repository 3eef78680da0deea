"""Icons and other static files, from resources/ (the checkout) or ui/resources (a wheel)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

_HERE = Path(__file__).resolve().parent
# A wheel carries resources/ inside the package (pyproject force-include); a checkout has
# it beside ui/.
RESOURCES = next((p for p in (_HERE / "resources", _HERE.parent / "resources") if p.is_dir()),
                 _HERE.parent / "resources")


def icon_path(name: str) -> Path:
    """The file of icon ``name`` (an SVG under resources/icons); raises on an unknown name."""
    path = RESOURCES / "icons" / f"{name}.svg"
    if not path.is_file():
        known = sorted(p.stem for p in (RESOURCES / "icons").glob("*.svg"))
        raise ValueError(f"unknown icon {name!r}; known: {', '.join(known) or 'none'}")
    return path


def icon(name: str) -> QIcon:
    """The icon ``name`` as a QIcon."""
    return QIcon(str(icon_path(name)))
