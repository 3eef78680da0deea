"""A synthetic torso CT (Hounsfield units) with organ labels, for the preview's bench and pictures.

Organs sit where they sit in a patient (liver on the patient's right, spleen and
heart on the left, spine posterior), so a picture shows at once whether the
preview puts patient left on screen right and anterior up. Storage is LPS-like
(``affine = diag(-dx, -dy, dz)``, as DICOM-derived volumes often are), so the
display has to reorient it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name: (label value, HU, centre x y z in mm (RAS+), radii x y z in mm)
ORGANS: dict[str, tuple[int, float, tuple[float, float, float], tuple[float, float, float]]] = {
    "right lung": (7, -850, (80, 0, 75), (65, 75, 75)),
    "left lung": (8, -850, (-80, 0, 75), (60, 75, 75)),
    "heart": (9, 45, (-20, 35, 35), (55, 45, 45)),
    "liver": (1, 60, (70, 15, -35), (85, 75, 55)),
    "spleen": (2, 50, (-90, -35, -25), (30, 45, 45)),
    "right kidney": (3, 35, (65, -65, -85), (25, 30, 45)),
    "left kidney": (4, 35, (-65, -60, -75), (25, 30, 45)),
}
TUMOUR = (10, 25, (95, 20, -25), (22, 20, 20))  # inside the liver: an overlap group
COLOURS: dict[int, tuple[int, int, int]] = {
    1: (221, 130, 101), 2: (157, 108, 162), 3: (230, 220, 70), 4: (230, 220, 70),
    5: (230, 60, 60), 6: (241, 214, 145), 7: (90, 160, 230), 8: (90, 160, 230),
    9: (255, 110, 150), 10: (60, 200, 90),
}
NAMES = {1: "liver", 2: "spleen", 3: "kidney right", 4: "kidney left", 5: "aorta",
         6: "vertebrae", 7: "lung right", 8: "lung left", 9: "heart", 10: "liver tumour"}


@dataclass
class Phantom:
    """Image (int16 HU), merged labels (uint8), affine, and the merge's segment map."""

    image: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    segments: dict[int, list[int] | None]


def lps_affine(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """Voxel -> RAS mm for axes pointing L, P, S, centred on the volume."""
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = [shape[0] / 2 * spacing[0], shape[1] / 2 * spacing[1], -shape[2] / 2 * spacing[2]]
    return affine


def torso(shape: tuple[int, int, int] = (512, 512, 300),
          spacing: tuple[float, float, float] = (0.8, 0.8, 1.0), seed: int = 0) -> Phantom:
    """A torso CT of ``shape`` voxels, stored with axes pointing L, P, S."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    affine = lps_affine(shape, spacing)
    x = (affine[0, 0] * np.arange(nx) + affine[0, 3]).astype(np.float32)[:, None]
    y = (affine[1, 1] * np.arange(ny) + affine[1, 3]).astype(np.float32)[None, :]
    image = np.empty(shape, np.int16, order="F")
    labels = np.zeros(shape, np.uint8, order="F")
    group = 11  # the tumour's voxels are all in the liver: merged as group {1, 10}
    for k in range(nz):
        z = float(affine[2, 2] * k + affine[2, 3])
        body = (x / 170) ** 2 + (y / 125) ** 2
        sl = np.full((nx, ny), -1000.0, np.float32)
        sl[body < 1] = -100  # fat
        sl[body < 0.8] = 35  # muscle and soft tissue
        if z > -60 and np.sin(z / 25 * 2 * np.pi) > 0.55:  # ribs: an interrupted bony ring
            angle = np.arctan2(y, x)
            sl[(body > 0.66) & (body < 0.74) & (np.abs(np.sin(angle)) > 0.25)] = 600
        lab = np.zeros((nx, ny), np.uint8)
        for value, hu, (cx, cy, cz), (rx, ry, rz) in ORGANS.values():
            inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 < 1
            sl[inside] = hu
            lab[inside] = value
        aorta = ((x + 15) / 12) ** 2 + ((y + 35) / 12) ** 2 < 1
        sl[aorta], lab[aorta] = 180, 5
        vertebra = (x / 22) ** 2 + ((y + 75) / 18) ** 2 < 1
        canal = (x / 8) ** 2 + ((y + 100) / 8) ** 2 < 1
        if np.cos(z / 30 * 2 * np.pi * 1.0) > -0.7:  # discs between vertebral bodies
            sl[vertebra] = 300
            sl[vertebra & ((x / 22) ** 2 + ((y + 75) / 18) ** 2 > 0.7)] = 750
            lab[vertebra] = 6
        sl[canal] = 20
        value, hu, (cx, cy, cz), (rx, ry, rz) = TUMOUR
        tumour = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 < 1
        sl[tumour] = hu
        lab[tumour & (lab == 1)] = group
        sl += rng.normal(0, 12, sl.shape).astype(np.float32)
        image[:, :, k] = np.clip(sl, -1024, 3071)
        labels[:, :, k] = lab
    present = set(np.flatnonzero(np.bincount(labels.ravel(order="K"))).tolist()) - {0}
    segments: dict[int, list[int] | None] = {v: None for v in present if v != group}
    if group in present:
        segments[1] = [group]
        segments[10] = [group]
    return Phantom(image, labels, affine, segments)
