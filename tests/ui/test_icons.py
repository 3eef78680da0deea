"""The app icon is found in a checkout (and, packaged, inside ui/)."""

import pytest

from ui.icons import icon, icon_path


def test_the_app_icon_loads():
    assert icon_path("segmap").suffix == ".svg"
    assert not icon("segmap").isNull()


def test_an_unknown_icon_names_the_known_ones():
    with pytest.raises(ValueError, match="segmap"):
        icon_path("nope")
