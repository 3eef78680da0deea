"""A preview widget showing the phantom's volumes, for the preview tests."""

from __future__ import annotations

from app.preview import DisplayVolumes
from bench import phantom
from ui.preview import PreviewWidget


def phantom_preview(qtbot, vols: DisplayVolumes, size: tuple[int, int] = (700, 640),
                    layout: str = "three") -> PreviewWidget:
    """A shown PreviewWidget of ``vols`` with the phantom's colours and names."""
    w = PreviewWidget(layout=layout)
    qtbot.addWidget(w)
    w.resize(*size)
    w.set_colours(phantom.COLOURS)
    w.set_category_lookup(phantom.NAMES.get)
    w.set_volumes(vols)
    w.show()
    qtbot.waitExposed(w)
    return w
