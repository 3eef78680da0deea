"""The Help menu's pages: every keyboard shortcut, and About Segmap (versions, licences).

The shortcuts are read from the menus and from the tooltips that name a key, so the
list cannot drift from what the window does; the libraries and licences come from
``app.about`` (the installed packages' metadata).
"""

from __future__ import annotations

import platform
import re
from collections.abc import Sequence
from html import escape

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.about import Library, bundled_libraries, segmap_summary, segmap_version
from ui.icons import icon
from ui.pages.base import Page


def show_dialog(parent: QWidget, title: str, html: str, size: tuple[int, int]) -> QDialog:
    """A non-modal dialog showing ``html``, with a Close button."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setWindowIcon(icon("segmap"))
    text = QTextBrowser()
    text.setOpenExternalLinks(True)
    text.setHtml(html)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    lay = QVBoxLayout(dialog)
    lay.addWidget(text, 1)
    lay.addWidget(buttons)
    dialog.resize(*size)
    dialog.open()
    return dialog


# Words in a tooltip that name a key; a tooltip that names one documents a shortcut.
_KEY = re.compile("|".join((
    r"\b(?:(?:Ctrl|Alt|Shift|Meta)\+)+(?:\w+|[^\w\s()])",  # Ctrl+S, Ctrl+PgDown, Ctrl+Shift+O
    r"\b(?:F\d{1,2}|Esc|Enter|Space|Delete|PgUp|PgDown|PageUp|PageDown|Up|Down|Home)\b",
    r"(?<=\()[^\w\s(]|(?<=\()[A-Z0-9](?=[):\s])",  # one key first in brackets: (O), (W: ...)
    r"(?<=, )[^\w\s](?= )",  # the second of two keys: ([ lower, ] higher)
)))


def _tooltips(widget: QWidget) -> list[str]:
    """The tooltips under ``widget`` that name a key, each once, in widget order."""
    found = [w.toolTip() for w in [widget, *widget.findChildren(QWidget)]
             if _KEY.search(w.toolTip())]
    return list(dict.fromkeys(found))


def _keys_bold(text: str) -> str:
    out, last = [], 0
    for m in _KEY.finditer(text):
        out += [escape(text[last:m.start()]), f"<b>{escape(m.group())}</b>"]
        last = m.end()
    return "".join(out) + escape(text[last:])


def shortcuts_html(window: QMainWindow, pages: Sequence[Page]) -> str:
    """Every shortcut of the window: the menus', then each page's as its tooltips say."""
    rows = [f"<tr><td><b>{escape(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))}"
            f"</b></td><td>{escape(a.text().replace('&', ''))}</td></tr>"
            for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()
            if not a.shortcut().isEmpty()]
    rows.append("<tr><td><b>Esc</b></td><td>Stop the running work</td></tr>")
    parts = ["<h3>Menus and steps</h3><table cellpadding='3'>", *rows, "</table>"]
    for page in pages:
        tips = _tooltips(page)
        if tips:
            parts.append(f"<h3>{escape(page.title)}</h3><ul>")
            parts += [f"<li>{_keys_bold(t)}</li>" for t in tips]
            parts.append("</ul>")
    parts.append("<p>Alt and the underlined letter presses a button or opens a menu.</p>")
    return "".join(parts)


def _library_row(lib: Library) -> str:
    return (f"<tr><td>{escape(lib.name)}</td><td>{escape(lib.version)}</td>"
            f"<td>{escape(lib.licence)}</td><td style='color:#555'>{escape(lib.note)}</td></tr>")


def about_html() -> str:
    """Segmap's version, Python's and Qt's, and every bundled library with its licence."""
    summary, licence = segmap_summary()
    libraries = bundled_libraries()
    rows = "".join(_library_row(lib) for lib in libraries if lib.direct)
    rows += "<tr><td colspan='4'><br><i>What those need</i></td></tr>" + "".join(
        _library_row(lib) for lib in libraries if not lib.direct)
    return (f"<h2>Segmap {escape(segmap_version())}</h2><p>{escape(summary or '')}</p>"
            f"<p>Licence: {escape(licence)}</p>"
            f"<p>Python {escape(platform.python_version())} · Qt {escape(qVersion())} · "
            f"PySide6 {escape(PySide6.__version__)}</p>"
            "<h3>Bundled libraries and decoders</h3>"
            "<table cellpadding='3'><tr><th align='left'>Library</th><th align='left'>Version"
            "</th><th align='left'>Licence</th><th align='left'></th></tr>"
            f"{rows}</table>")
