"""The thumbnails' slices: where the masks together cover most pixels, whatever the
memory layout the preview hands over (flipped views, reoriented masks)."""

from __future__ import annotations

import numpy as np
import pytest

from app.report._thumbs import _areas


def _views(a: np.ndarray) -> list[np.ndarray]:
    return [a, a[::-1], a[:, ::-1, ::-1], a.transpose(2, 0, 1), a[::-1].transpose(1, 2, 0)]


@pytest.mark.parametrize("order", ["C", "F"])
def test_areas_count_the_labelled_pixels_of_every_slice_in_any_layout(order):
    rng = np.random.default_rng(1)
    base = np.asarray(rng.integers(0, 3, (7, 5, 4)).astype(np.uint8), order=order)
    for view in _views(base):
        labelled = view != 0
        want = [labelled.sum(axis=tuple(x for x in range(3) if x != axis)) for axis in range(3)]
        got = _areas(view)
        assert [g.tolist() for g in got] == [w.tolist() for w in want], view.strides


def test_one_labelled_voxel_is_found_on_each_axis():
    labels = np.zeros((6, 5, 4), np.uint16, order="F")
    labels[4, 1, 3] = 9
    got = _areas(labels[::-1, :, ::-1])
    assert [int(np.argmax(a)) for a in got] == [1, 1, 0]
