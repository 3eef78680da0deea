"""Render every wizard page on the demo to docs/screenshots/*.png, at the default size.

Run: python docs/make_screenshots.py [OUT_DIR] (offscreen), or as the README's pictures
are made, on a real X server with Qt's own xcb platform:
xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb python docs/make_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def wait(app: QApplication, done, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() > end:
            raise TimeoutError("the wizard did not finish in time")
    for _ in range(20):
        app.processEvents()


def main(out: Path) -> None:
    from app.demo import make_demo
    from ui.main_window import MainWindow
    from ui.pages.source_page import SourcePage
    from ui.settings import Settings
    from ui.state import WizardState

    app = QApplication.instance() or QApplication([])
    # A fixed folder, so the paths in the pictures do not change from run to run.
    tmp = Path(tempfile.gettempdir()) / "segmap-screenshots"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    demo = make_demo(tmp / "Segmap demo")
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    state = WizardState(settings, autosave_path=tmp / "autosave.json")
    window = MainWindow(state)
    window.resize(1280, 820)  # the default size
    window.show()
    out.mkdir(parents=True, exist_ok=True)
    source = window.page(SourcePage)
    assert isinstance(source, SourcePage)
    source.load_taxonomy(demo.taxonomy_json)
    window.go_to(0)
    wait(app, lambda: True)
    window.grab().save(str(out / "1_source.png"))
    source.open_path(demo.root)
    wait(app, lambda: state.session is not None and not window.busy())
    window.go_to(1)
    wait(app, lambda: True)
    window.grab().save(str(out / "2_cases.png"))
    # Map the case with one multi-label file: it has the unmapped value.
    one = next(c for c in state.session.cases if c.shape == "I")
    state.set_current_case(one.name)
    window.go_to(2)
    wait(app, lambda: window.loader.current is not None and window.loader.current.case == one.name)
    window.grab().save(str(out / "3_mapping.png"))
    window.go_to(3)
    three = next(c for c in state.session.cases if c.shape == "III")
    preview = window.pages[3]
    preview.case_combo.setCurrentIndex(preview.case_combo.findData(three.name))
    wait(app, lambda: window.loader.current is not None and window.loader.current.case == three.name)
    window.grab().save(str(out / "4_preview.png"))
    window.go_to(4)
    wait(app, lambda: not window.busy())
    window.grab().save(str(out / "5_validate.png"))
    for c in state.session.cases:
        state.session.accept(c)
    state.mappingChanged.emit(one.name)
    window.pages[4].run()
    wait(app, lambda: not window.busy())
    window.pages[4].accept_warnings.setChecked(True)
    window.go_to(5)
    export = window.pages[5]
    export.path_edit.setText(str(tmp / "export" / "items.json"))
    export.export()
    wait(app, lambda: True)
    # Upload to the RedBrick-protocol test server on 127.0.0.1 (no real project needed).
    import json

    from tests.app.rb_server import API_KEY, ORG, PROJECT, RBServer

    server = RBServer(taxonomy=json.loads(demo.taxonomy_json.read_text())).start()
    panel = export.upload
    panel.url.setText(server.url)
    panel.org.setText(ORG)
    panel.project.setText(PROJECT)
    panel.key.setText(API_KEY)
    panel.upload_button.click()
    wait(app, lambda: panel.report is not None)
    panel.key.clear()  # never in a screenshot, even masked
    wait(app, lambda: True)
    window.grab().save(str(out / "6_export.png"))
    server.stop()
    window.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
