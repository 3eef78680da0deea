"""segmap --version says what this installation is made of, licences included."""

from __future__ import annotations

import pytest

from app import __version__
from app.about import bundled_libraries
from app.cli import main


def test_version_lists_every_library_with_its_licence(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"segmap {__version__}") or out[0].startswith("segmap ")
    names = {lib.name for lib in bundled_libraries()}
    assert {"nibabel", "pydicom", "numpy"} <= {n.lower() for n in names}
    for lib in bundled_libraries():
        assert any(line.strip().startswith(f"{lib.name} {lib.version}: {lib.licence}")
                   for line in out[1:])
