"""The report's PNG writer: what it writes decodes to the same pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest

from app.report import png_bytes

from ._html_check import decode_png


def test_png_round_trips_through_a_decoder_of_our_own():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(png_bytes(rgb)), rgb)


def test_png_opens_in_pillow_when_it_is_installed():
    image_mod = pytest.importorskip("PIL.Image")
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[1, 2] = (255, 10, 20)
    with image_mod.open(io.BytesIO(png_bytes(rgb))) as im:
        assert im.size == (5, 3) and im.mode == "RGB"
        assert np.array_equal(np.asarray(im), rgb)


@pytest.mark.parametrize("shape", [(0, 3, 3), (4, 4), (2, 2, 4)])
def test_png_refuses_what_is_not_an_rgb_image(shape):
    with pytest.raises(ValueError):
        png_bytes(np.zeros(shape, np.uint8))
