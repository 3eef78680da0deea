"""The core and its CLI never load Qt: they must run on servers without a screen."""

import subprocess
import sys

QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph")


def _loaded_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return [m for m in out if m.split(".")[0] in QT_MODULES]


def test_import_app_loads_no_qt():
    assert _loaded_after("import app") == []


def test_every_core_module_and_the_cli_load_no_qt():
    code = (
        "import importlib, pkgutil, app\n"
        "for m in pkgutil.walk_packages(app.__path__, 'app.'):\n"
        "    importlib.import_module(m.name)\n"
        "from app.cli import build_parser\n"
        "build_parser()\n"
    )
    assert _loaded_after(code) == []
