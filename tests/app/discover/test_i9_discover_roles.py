"""Image or mask when only a wide integer type speaks: the values decide (issue 9, item 4:
dcmqi's ``partial_overlaps-*.nrrd`` are ``short`` label maps, not images)."""

from __future__ import annotations

from pathlib import Path

import nrrd as pynrrd
import numpy as np
import pytest

from app.discover import scan
from app.progress import run

from .. import synth_layouts as synth

SHAPE = (40, 30, 6)


def blobs() -> np.ndarray:
    """A label map: two boxes and an overlap-like third, values 0/1/4/5."""
    arr = np.zeros(SHAPE, np.int16)
    arr[5:20, 5:15, 1:4] = 1
    arr[22:35, 10:25, 2:5] = 4
    arr[10:14, 18:28, 0:6] = 5
    return arr


def ct_like() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(-1000, 1500, size=SHAPE).astype(np.int16)


def write_nrrd(path: Path, data: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"space": "left-posterior-superior",
              "space directions": np.diag([0.8, 0.8, 2.5]), "space origin": [1.0, 2.0, 3.0]}
    pynrrd.write(str(path), data, header, index_order="F")
    return path


def test_a_short_nrrd_label_map_without_a_name_is_a_mask(tmp_path):
    write_nrrd(tmp_path / "case" / "volume.nrrd", ct_like())
    write_nrrd(tmp_path / "case" / "partial_overlaps-1.nrrd", blobs())
    r = run(scan(tmp_path))
    roles = {v.path.name: (v.role, v.why) for v in r.volumes}
    assert roles["volume.nrrd"][0] == "image"
    role, why = roles["partial_overlaps-1.nrrd"]
    assert role == "mask" and "0, 1, 4, 5" in why
    (case,) = r.cases
    assert case.image.label == "case/volume.nrrd"
    assert [m.name for m in case.masks] == ["partial_overlaps-1.nrrd"]


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32])
def test_a_wide_integer_nifti_label_map_without_a_name_is_a_mask(tmp_path, dtype):
    synth.save(ct_like(), tmp_path / "p1" / "p1.nii.gz")
    synth.save(blobs().astype(dtype), tmp_path / "p1" / "p1_a.nii.gz")
    roles = {v.path.name: v.role for v in run(scan(tmp_path)).volumes}
    assert roles == {"p1.nii.gz": "image", "p1_a.nii.gz": "mask"}


def test_an_image_with_few_values_is_still_an_image(tmp_path):
    # dicom2nifti's ground truths: int16 from 0, about 255 values, noisy as images are.
    rng = np.random.default_rng(3)
    write_nrrd(tmp_path / "ground_truth.nrrd", rng.integers(0, 255, SHAPE).astype(np.int16))
    (v,) = run(scan(tmp_path)).volumes
    assert v.role == "image"


def test_the_values_stop_being_read_once_they_say_image():
    from app.discover._roles import label_values

    read = []

    def chunks():
        rng = np.random.default_rng(1)
        for i in range(50):
            read.append(i)
            yield rng.integers(0, 200, 1 << 16).astype(np.int16)

    assert label_values(chunks()) is None
    assert len(read) == 1


def test_label_values_of_a_label_map_across_chunks():
    from app.discover._roles import label_values

    flat = blobs().reshape(-1, order="F")
    parts = np.array_split(flat, 7)
    assert label_values(iter(parts)) == [0, 1, 4, 5]
    assert label_values(iter([flat.astype(np.float32)])) == [0, 1, 4, 5]
    assert label_values(iter([flat.astype(np.float32) + 0.5])) is None
    assert label_values(iter([flat - 1])) is None  # negative: CT-like
