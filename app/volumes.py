"""Image volumes: the grid (and, for previews, the voxels) of a series' image.

A series' ``items`` are one NIfTI file or the instances of a DICOM series. This
module answers "what grid does this image have?" for validation and pairing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app import niio
from app.errors import VolumeReadError
from app.geometry import Grid


def image_grid(paths: Sequence[Path]) -> Grid:
    """The world grid of an image given as its item files.

    NIfTI files are read from their header only.
    """
    if not paths:
        raise VolumeReadError("The series lists no image items.")
    first = paths[0]
    name = first.name.lower()
    if len(paths) == 1 and name.endswith((".nii", ".nii.gz")):
        info = niio.read_info(first)
        return Grid.of(info.shape, info.affine)
    raise VolumeReadError(
        f"Cannot read the geometry of {first.name}{' and others' if len(paths) > 1 else ''}: "
        "only NIfTI images are supported here so far.")
