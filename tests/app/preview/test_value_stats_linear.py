"""value_stats by label: voxels, sum, min and max, in one linear pass (no argsort)."""

from __future__ import annotations

import numpy as np
import pytest

from app.preview._stats import value_stats


@pytest.mark.parametrize("image_dtype", [np.int16, np.uint8, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("label_dtype", [np.uint8, np.uint16])
def test_value_stats_match_a_plain_loop(image_dtype, label_dtype):
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 12, (9, 7, 5)).astype(label_dtype)
    labels[labels == 5] = 0  # a value with no voxels is absent, not (0, 0, inf, -inf)
    if np.dtype(image_dtype).kind == "f":
        image = rng.normal(-100, 300, labels.shape).astype(image_dtype)
    else:
        image = rng.integers(0, 120, labels.shape).astype(image_dtype)
    got = value_stats(labels, image)
    want = {int(v): (int((labels == v).sum()), float(image[labels == v].astype(float).sum()),
                     float(image[labels == v].min()), float(image[labels == v].max()))
            for v in np.unique(labels) if v}
    assert got.keys() == want.keys() and 5 not in got
    for v, (n, total, lo, hi) in want.items():
        assert got[v][0] == n and got[v][1] == pytest.approx(total, rel=1e-5)
        assert (got[v][2], got[v][3]) == pytest.approx((lo, hi))


@pytest.mark.parametrize("extremes", [True, False])
@pytest.mark.parametrize("view", ["reversed", "mixed", "plain"])
def test_value_stats_in_every_layout(view, extremes, monkeypatch):
    """The preview hands over flipped views (negative strides) and reoriented masks (other
    memory orders); the statistics must not care, slab by slab or slice by slice."""
    import app.preview._stats as stats

    monkeypatch.setattr(stats, "_SLAB", 37)  # many slabs, the last one short
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, (7, 6, 5)).astype(np.uint8)
    image = rng.integers(-50, 50, (7, 6, 5)).astype(np.int16)
    if view == "reversed":
        labels, image = labels[::-1, ::-1, ::-1], image[::-1, ::-1, ::-1]
    elif view == "mixed":
        labels = np.asfortranarray(labels)
    got = value_stats(labels, image, extremes=extremes)
    for v in range(1, 6):
        inside = image[labels == v]
        n, total, lo, hi = got[v]
        assert n == inside.size and total == pytest.approx(float(inside.sum()))
        assert (lo, hi) == ((float(inside.min()), float(inside.max())) if extremes
                            else (None, None))
