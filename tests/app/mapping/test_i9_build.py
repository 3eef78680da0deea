"""build lists what it left out with its size, so an unnamed label is never a mystery."""

from __future__ import annotations

import numpy as np

from app.discover import scan
from app.mapping import build
from app.progress import run
from tests.ui.mixed import mixed_folder


def test_left_out_values_and_masks_say_how_many_voxels_they_hold(tmp_path):
    mixed = mixed_folder(tmp_path / "data")
    result = run(build(run(scan(mixed.root)), tmp_path / "out" / "items.json", write=False))
    unnamed = [x for x in result.left_out if x.case == mixed.unnamed]
    assert [x.value for x in unnamed] == [1, 2, 3]
    import nibabel as nib

    labels = np.asarray(nib.load(mixed.root / "unnamed" / "scan_labels.nii.gz").dataobj)
    for x in unnamed:
        assert x.voxels == int((labels == x.value).sum()) > 0
        assert x.what == f"unnamed/scan_labels.nii.gz value {x.value} ({x.voxels:,} voxels)"
        assert x.to_json()["voxels"] == x.voxels
