"""Run redbrick-sdk 2.35.4's own merge (process_upload) offline, as a test oracle."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from unittest.mock import patch

import nibabel as nib
import numpy as np
import pytest

nifti = pytest.importorskip("redbrick.utils.nifti", reason="redbrick-sdk (test extra) not installed")


@dataclass
class Outcome:
    volume: np.ndarray | None
    dtype: str | None
    segments: dict[int, list[int] | None]
    error: str | None
    unchanged: bool


def sdk_merge(files, instances, binary_mask=False, png_mask=False, masks=None,
              label_validate=False, prune=False) -> Outcome:
    """The SDK's result for these inputs (voxels read back from the file it wrote)."""
    with tempfile.TemporaryDirectory() as tmp, patch.object(nifti, "config_path", return_value=tmp):
        out, seg_map, err = nifti.process_upload(
            list(files), dict(instances), binary_mask, png_mask, dict(masks or {}),
            label_validate, prune)
        if out is None:
            return Outcome(None, None, seg_map, err, False)
        img = nib.load(out)
        vol = np.asanyarray(img.dataobj)
        return Outcome(vol, img.get_data_dtype().name, seg_map, err, out == files[0])
