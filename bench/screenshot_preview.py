"""Render the preview widget offscreen on the synthetic torso: docs/screenshots/preview_widget.png.

Run: QT_QPA_PLATFORM=offscreen python -m bench.screenshot_preview [OUT.png] [--view coronal]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.geometry import Grid  # noqa: E402
from app.overlay import DisplayVolumes  # noqa: E402
from bench import phantom  # noqa: E402
from ui.preview import PreviewWidget  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs/screenshots/preview_widget.png"))
    parser.add_argument("--view", default="axial")
    parser.add_argument("--jump", type=int, default=10, help="label value to jump to")
    parser.add_argument("--outline", action="store_true")
    parser.add_argument("--size", default="512,512,300")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv)
    shape = tuple(int(s) for s in args.size.split(","))
    ph = phantom.torso(shape)  # type: ignore[arg-type]
    grid = Grid.of(ph.image.shape, ph.affine)
    vols = DisplayVolumes.build(ph.image, grid, ph.labels, grid, ph.segments)
    w = PreviewWidget()
    w.resize(900, 820)
    w.set_colours(phantom.COLOURS)
    w.set_category_lookup(phantom.NAMES.get)
    w.set_volumes(vols)
    w.set_view(args.view)
    w.jump_to(args.jump)
    w.set_outline_mode(args.outline)
    w.show()
    app.processEvents()
    # Hover over the middle of the tumour's bounding slice so the readout shows a value.
    box = w._box  # noqa: SLF001 - a picture script may reach in
    view_rect = box.viewRect()
    w._on_scene_mouse_moved(box.mapViewToScene(QPointF(view_rect.center().x() - 60,  # noqa: SLF001
                                                       view_rect.center().y())))
    app.processEvents()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    w.grab().save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
