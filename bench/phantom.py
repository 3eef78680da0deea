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
    "right lung": (7, -860, (80, 0, 75), (65, 75, 75)),
    "left lung": (8, -860, (-80, 0, 75), (60, 75, 75)),
    "heart": (9, 140, (-20, 35, 35), (55, 45, 45)),
    "liver": (1, 105, (70, 15, -35), (85, 75, 55)),
    "spleen": (2, 120, (-90, -35, -25), (30, 45, 45)),
    "right kidney": (3, 170, (65, -65, -85), (25, 30, 45)),
    "left kidney": (4, 170, (-65, -60, -75), (25, 30, 45)),
}
TUMOUR = (10, 45, (95, 20, -25), (22, 20, 20))  # hypodense  # inside the liver: an overlap group
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


def _soft_field(shape: tuple[int, int, int], cells: tuple[int, int, int],
                rng: np.random.Generator) -> np.ndarray:
    """Smooth random values in [0, 1] (trilinear upsampling of a coarse random grid)."""
    coarse = rng.random(tuple(c + 1 for c in cells))
    axes = [np.linspace(0, c, n) for c, n in zip(cells, shape, strict=True)]
    out = coarse
    for a, pos in enumerate(axes):  # separable linear interpolation, one axis at a time
        lo = np.minimum(np.floor(pos).astype(int), cells[a] - 1)
        t = (pos - lo).reshape([-1 if i == a else 1 for i in range(3)])
        out = np.take(out, lo, axis=a) * (1 - t) + np.take(out, lo + 1, axis=a) * t
    return out.astype(np.float32)


def _ellipsoid(x: np.ndarray, y: np.ndarray, z: float, centre: tuple[float, float, float],
               radii: tuple[float, float, float]) -> np.ndarray:
    (cx, cy, cz), (rx, ry, rz) = centre, radii
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 < 1


def torso(shape: tuple[int, int, int] = (512, 512, 300),
          spacing: tuple[float, float, float] = (0.8, 0.8, 1.0), seed: int = 0) -> Phantom:
    """A contrast-enhanced torso CT of ``shape`` voxels, stored with axes pointing L, P, S.

    Organs are brighter than the fat around them (portal venous phase), so a label
    that sits off its organ shows as colour over fat.
    """
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    affine = lps_affine(shape, spacing)
    x = (affine[0, 0] * np.arange(nx) + affine[0, 3]).astype(np.float32)[:, None]
    y = (affine[1, 1] * np.arange(ny) + affine[1, 3]).astype(np.float32)[None, :]
    body = (x / 170) ** 2 + (y / 125) ** 2
    angle = np.arctan2(y, x)
    # Bowel and mesentery: soft tissue (30 HU) in patches, fat (-95 HU) between them.
    viscera = _soft_field((nx, ny, nz), (14, 10, 10), rng)
    image = np.empty(shape, np.int16, order="F")
    labels = np.zeros(shape, np.uint8, order="F")
    group = 11  # the tumour's voxels are all in the liver: merged as group {1, 10}
    for k in range(nz):
        z = float(affine[2, 2] * k + affine[2, 3])
        sl = np.full((nx, ny), -1000.0, np.float32)
        sl[body < 1] = -105  # subcutaneous fat
        sl[body < 0.86] = 55  # abdominal wall muscle
        inner = body < 0.74
        sl[inner] = np.where(viscera[:, :, k] > 0.55, 30.0, -95.0)[inner]
        if z > -60 and np.sin(z / 25 * 2 * np.pi) > 0.55:  # ribs: an interrupted bony ring
            sl[(body > 0.74) & (body < 0.8) & (np.abs(np.sin(angle)) > 0.25)] = 650
        lab = np.zeros((nx, ny), np.uint8)
        for value, hu, centre, radii in ORGANS.values():
            inside = _ellipsoid(x, y, z, centre, radii)
            sl[inside], lab[inside] = hu, value
        aorta = ((x + 15) / 12) ** 2 + ((y + 35) / 12) ** 2 < 1
        sl[aorta], lab[aorta] = 210, 5
        vertebra = (x / 22) ** 2 + ((y + 75) / 18) ** 2
        if np.cos(z / 30 * 2 * np.pi) > -0.7:  # vertebral bodies, with discs between them
            sl[vertebra < 1] = 260
            sl[(vertebra < 1) & (vertebra > 0.7)] = 850  # cortical rim
            lab[vertebra < 1] = 6
        else:
            sl[vertebra < 1] = 80
        sl[(x / 8) ** 2 + ((y + 100) / 8) ** 2 < 1] = 20  # spinal canal
        value, hu, centre, radii = TUMOUR
        tumour = _ellipsoid(x, y, z, centre, radii)
        sl[tumour] = hu
        lab[tumour & (lab == 1)] = group
        noise = rng.normal(0, 22, (nx + 1, ny + 1)).astype(np.float32)
        sl += (noise[1:, 1:] + noise[:-1, 1:] + noise[1:, :-1] + noise[:-1, :-1]) / 4  # grainy, like CT
        image[:, :, k] = np.clip(sl, -1024, 3071)
        labels[:, :, k] = lab
    present = set(np.flatnonzero(np.bincount(labels.ravel(order="K"))).tolist()) - {0}
    segments: dict[int, list[int] | None] = {v: None for v in present if v != group}
    if group in present:
        segments[1] = [group]
        segments[10] = [group]
    return Phantom(image, labels, affine, segments)
