"""Render the preview widget offscreen on the synthetic torso: docs/screenshots/preview_widget.png.

Run: QT_QPA_PLATFORM=offscreen python -m bench.screenshot_preview [OUT.png] [--view coronal]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.geometry import Grid  # noqa: E402
from app.preview import DisplayVolumes
from bench import phantom  # noqa: E402
from ui.preview import PreviewWidget  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs/screenshots/preview_widget.png"))
    parser.add_argument("--view", default="axial")
    parser.add_argument("--jump", type=int, default=10, help="label value to jump to")
    parser.add_argument("--hover", type=int, default=11, help="label value to hover over")
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
    # Hover over the middle of the label jumped to, so the readout shows what a user sees.
    _, labels2d = vols.slice(w.view(), w.slice_index())
    hits = np.argwhere(labels2d == args.hover)
    if len(hits):
        row, col = hits[len(hits) // 2]
        h, wmm = vols.pixel_size(w.view())
        view = w.slice_view
        scene = view.box.mapViewToScene(QPointF((col + 0.5) * wmm, (row + 0.5) * h))
        QTest.mouseMove(view.viewport(), view.mapFromScene(scene))
    app.processEvents()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    w.grab().save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
