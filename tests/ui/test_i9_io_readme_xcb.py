"""The README names every X11 library Qt's xcb platform plugin links against.

Qt's wheel does not ship them; a bare Debian or Ubuntu lacks several, and the wizard
then fails to start. The libraries ``libqxcb.so`` and ``libQt6XcbQpa.so`` need
(``readelf -d``) are turned into Debian package names and must be in the README's
``apt-get install`` line, so a PySide6 upgrade that needs one more is noticed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
X11 = re.compile(r"^lib(xcb|X11|xkbcommon)")


def debian_package(soname: str) -> str:
    """``libxcb-icccm.so.4`` -> ``libxcb-icccm4``, ``libxkbcommon-x11.so.0`` ->
    ``libxkbcommon-x11-0`` (Debian's rule: a name ending in a digit gets a dash)."""
    name, version = soname.split(".so.", 1)
    name = name.lower()
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def apt_line() -> list[str]:
    line = next(x for x in README.read_text().splitlines() if "apt-get install" in x)
    return line.split("install", 1)[1].split()


def test_the_package_rule():
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("readelf"),
                    reason="Linux ELF libraries, read with readelf")
def test_every_x11_library_the_plugin_needs_is_in_the_readme():
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    needed: set[str] = set()
    for lib in (plugin, *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]):
        dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True,
                                 check=True).stdout
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    packages = {debian_package(n) for n in needed if X11.match(n)}
    assert "libxcb-cursor0" in packages  # the one Qt names when it is missing
    assert packages - set(apt_line()) == set()
