"""The demo's synthetic CT: an abdomen phantom in Hounsfield units, with its organ labels.

The anatomy is drawn in patient space (DICOM LPS millimetres: +x to the patient's
left, +y posterior, +z superior) from smooth shapes (ellipsoids, tubes, the
diaphragm's domes) and sampled at the voxel centres, so the image and every mask
come from the same drawing and lie on the same grid by construction.

Arrays are indexed (i, j, k) = (column, row, slice), the order nibabel and
dicom2nifti give an axial DICOM series: ``volume[:, :, k].T`` is the pixel array
of slice k, and k runs from inferior to superior.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

SHAPE = (128, 112, 64)  # columns, rows, slices: rows != columns so swapped axes show
SPACING = (2.5, 2.5, 3.0)  # mm: column spacing, row spacing, slice spacing
ORIGIN_LPS = (-158.75, -138.75, -94.5)  # centre of voxel (0, 0, 0); the grid is centred on 0
NOISE_SEED = 20261123


class Tissue(IntEnum):
    """What each voxel is made of; one code per structure that is drawn."""

    AIR = 0
    FAT = 1
    SOFT = 2
    LUNG = 3
    HEART = 4
    LIVER = 5
    TUMOUR = 6
    SPLEEN = 7
    KIDNEY_L = 8
    KIDNEY_R = 9
    AORTA = 10
    IVC = 11
    VERTEBRA = 12
    DISC = 13
    CSF = 14
    RIB = 15
    GAS = 16
    FLUID = 17


# Portal-venous-phase CT values: enhancing organs brighter than muscle, a hypodense lesion.
HU = {
    Tissue.AIR: -1000, Tissue.FAT: -95, Tissue.SOFT: 40, Tissue.LUNG: -850, Tissue.HEART: 70,
    Tissue.LIVER: 105, Tissue.TUMOUR: 50, Tissue.SPLEEN: 115, Tissue.KIDNEY_L: 165,
    Tissue.KIDNEY_R: 165, Tissue.AORTA: 200, Tissue.IVC: 140, Tissue.VERTEBRA: 700,
    Tissue.DISC: 85, Tissue.CSF: 12, Tissue.RIB: 700, Tissue.GAS: -950, Tissue.FLUID: 12,
}


def affine_ras() -> np.ndarray:
    """The voxel-to-world affine of every demo volume, in nibabel's RAS+ millimetres.

    DICOM's LPS becomes RAS by negating x and y: RAS = diag(-1, -1, 1) * LPS.
    """
    lps = np.eye(4)
    lps[:3, :3] = np.diag(SPACING)
    lps[:3, 3] = ORIGIN_LPS
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def slice_z(k: int) -> float:
    """The LPS z (mm) of slice k."""
    return ORIGIN_LPS[2] + SPACING[2] * k


@dataclass(frozen=True)
class Phantom:
    """The CT (int16 HU) and the tissue map it was drawn from, both (i, j, k)."""

    hu: np.ndarray
    tissue: np.ndarray
    affine: np.ndarray

    def region(self, *tissues: Tissue) -> np.ndarray:
        """A boolean mask of the voxels made of any of ``tissues``."""
        return np.isin(self.tissue, np.array([int(t) for t in tissues], dtype=np.uint8))


def _rotation(deg_z: float, deg_y: float = 0.0) -> np.ndarray:
    """Rotation by ``deg_z`` about z, then ``deg_y`` about y (degrees)."""
    cz, sz = np.cos(np.radians(deg_z)), np.sin(np.radians(deg_z))
    cy, sy = np.cos(np.radians(deg_y)), np.sin(np.radians(deg_y))
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rz


class _Canvas:
    """Voxel-centre coordinates and the tissue map being painted."""

    def __init__(self) -> None:
        axes = [o + s * np.arange(n) for o, s, n in zip(ORIGIN_LPS, SPACING, SHAPE, strict=True)]
        self.axes = axes
        self.x = axes[0][:, None, None]
        self.y = axes[1][None, :, None]
        self.z = axes[2][None, None, :]
        self.tissue = np.full(SHAPE, Tissue.AIR, dtype=np.uint8)

    def ellipsoid(self, centre: tuple[float, float, float], semi: tuple[float, float, float],
                  rotation: np.ndarray | None = None) -> np.ndarray:
        """Voxels inside an (optionally rotated) ellipsoid, evaluated in its bounding box only."""
        rot = np.eye(3) if rotation is None else rotation
        c, s = np.asarray(centre, float), np.asarray(semi, float)
        half = np.sqrt(((rot * s) ** 2).sum(axis=1))  # bounding-box half extents
        box = []
        for a in range(3):
            lo = np.searchsorted(self.axes[a], c[a] - half[a])
            hi = np.searchsorted(self.axes[a], c[a] + half[a], side="right")
            box.append(slice(int(lo), int(hi)))
        out = np.zeros(SHAPE, dtype=bool)
        if any(b.stop <= b.start for b in box):
            return out
        d = [self.axes[a][box[a]] - c[a] for a in range(3)]
        # Local coordinates q = rot^T (p - c), broadcast over the box.
        q = [d[0][:, None, None] * rot[0, m] + d[1][None, :, None] * rot[1, m]
             + d[2][None, None, :] * rot[2, m] for m in range(3)]
        out[tuple(box)] = sum((q[m] / s[m]) ** 2 for m in range(3)) <= 1.0
        return out

    def ellipse(self, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
        """An elliptic cylinder along z (every slice), as a (i, j, 1) boolean array."""
        return ((self.x - cx) / ax) ** 2 + ((self.y - cy) / ay) ** 2 <= 1.0

    def paint(self, where: np.ndarray, tissue: Tissue) -> None:
        """Set ``where`` to ``tissue``; later strokes cover earlier ones."""
        self.tissue[np.broadcast_to(where, SHAPE)] = tissue


def _draw(cv: _Canvas) -> None:
    x, y, z = cv.x, cv.y, cv.z
    body = cv.ellipse(0, 8, 140, 108)
    wall = cv.ellipse(0, 8, 126, 95)  # inside the subcutaneous fat
    cavity = cv.ellipse(0, 8, 117, 87)  # inside the ribs and the muscle wall
    cv.paint(body, Tissue.FAT)
    cv.paint(wall, Tissue.SOFT)
    cv.paint(cavity, Tissue.FAT)  # fat around the organs makes them stand out, as on CT
    # Muscles along the spine (behind it, and the psoas muscles widening downwards).
    cv.paint(cv.ellipse(-36, 86, 27, 18) | cv.ellipse(36, 86, 27, 18), Tissue.SOFT)
    psoas = 9 + 0.12 * np.maximum(-z, 0)
    cv.paint(((np.abs(x) - 32) / psoas) ** 2 + ((y - 50) / psoas) ** 2 <= 1, Tissue.SOFT)

    # The diaphragm: two domes, the right one higher; lowest at the back (the recesses).
    dome_r = 58 - 30 * (((x + 70) / 75) ** 2 + ((y - 5) / 85) ** 2)
    dome_l = 50 - 30 * (((x - 70) / 75) ** 2 + ((y - 5) / 85) ** 2)
    diaphragm = np.maximum(dome_r, dome_l)
    thorax = (z > diaphragm) & cavity
    abdomen = (z < diaphragm - 3) & cavity
    lungs = cv.ellipse(-68, 12, 58, 80) | cv.ellipse(68, 12, 58, 80)
    cv.paint(thorax & lungs, Tissue.LUNG)
    cv.paint(thorax & cv.ellipsoid((18, -30, 92), (55, 45, 40)), Tissue.HEART)
    _draw_gut(cv, abdomen)
    _draw_organs(cv, abdomen)
    _draw_vessels_and_bones(cv, wall & ~cavity)


def _draw_gut(cv: _Canvas, abdomen: np.ndarray) -> None:
    """Stomach, colon and small bowel loops: soft tissue with gas where it rises (supine)."""
    y, z = cv.y, cv.z
    stomach = abdomen & cv.ellipsoid((55, -28, 28), (34, 30, 30), _rotation(-20))
    cv.paint(stomach, Tissue.FLUID)
    cv.paint(stomach & (y < -38), Tissue.GAS)
    for cx, cy, r in ((-88, 5, 17), (92, 18, 14)):  # ascending and descending colon
        colon = abdomen & (((cv.x - cx) / r) ** 2 + ((y - cy) / r) ** 2 <= 1) & (z < -5)
        cv.paint(colon, Tissue.SOFT)
        cv.paint(colon & (((cv.x - cx) / (r - 4)) ** 2 + ((y - cy + 3) / (r - 4)) ** 2 <= 1)
                 & (y < cy + 2), Tissue.GAS)
    rng = np.random.default_rng(7)  # fixed: the same loops on every run
    for _ in range(16):
        centre = (rng.uniform(-70, 75), rng.uniform(-75, 15), rng.uniform(-92, -5))
        semi = (rng.uniform(11, 17), rng.uniform(9, 13), rng.uniform(10, 18))
        loop = abdomen & cv.ellipsoid(centre, semi, _rotation(rng.uniform(0, 180)))
        cv.paint(loop, Tissue.SOFT)
        if rng.random() < 0.5:
            gas = (centre[0], centre[1] - semi[1] * 0.4, centre[2])
            cv.paint(loop & cv.ellipsoid(gas, (semi[0] * 0.5, semi[1] * 0.35, semi[2] * 0.5)),
                     Tissue.GAS)


def _draw_organs(cv: _Canvas, abdomen: np.ndarray) -> None:
    """Liver with its lesion, spleen, kidneys: the structures the masks label."""
    # Liver: right lobe, left lobe, the inferior tip of the right lobe; under the right dome.
    liver = (cv.ellipsoid((-65, 0, 12), (58, 72, 62))
             | cv.ellipsoid((-5, -42, 22), (55, 30, 25), _rotation(10))
             | cv.ellipsoid((-85, 0, -35), (35, 45, 35)))
    cv.paint(abdomen & liver, Tissue.LIVER)
    # A hypodense lesion deep in the right lobe, never outside the liver.
    lesion = cv.ellipsoid((-80, -8, 10), (17, 15, 16), _rotation(25))
    cv.paint(lesion & (cv.tissue == Tissue.LIVER), Tissue.TUMOUR)

    cv.paint(abdomen & cv.ellipsoid((80, 45, 22), (24, 52, 38), _rotation(-30, 10)), Tissue.SPLEEN)

    # Kidneys in their perirenal fat, upper poles tilted towards the spine, the left one
    # higher; renal sinus fat on the medial side gives them their bean shape.
    for side, tissue, cz in ((1, Tissue.KIDNEY_L, -25), (-1, Tissue.KIDNEY_R, -38)):
        cx = 60 * side
        rot = _rotation(25 * side, -12 * side)
        cv.paint(abdomen & cv.ellipsoid((cx, 52, cz), (34, 30, 62), rot), Tissue.FAT)
        cv.paint(abdomen & cv.ellipsoid((cx, 52, cz), (26, 21, 54), rot), tissue)
        cv.paint(abdomen & cv.ellipsoid((cx - 16 * side, 46, cz), (10, 8, 20), rot), Tissue.FAT)


def _draw_vessels_and_bones(cv: _Canvas, chest_wall: np.ndarray) -> None:
    """Aorta and vena cava, the spine, and the ribs in the chest wall."""
    x, y, z = cv.x, cv.y, cv.z
    # The inferior vena cava (right) and the aorta (left), which drifts back towards
    # the spine as it rises into the chest.
    cv.paint(cv.ellipse(-20, 12, 12, 9) & (z < 80), Tissue.IVC)
    aorta_y = 12 + 0.12 * np.maximum(z - 20, 0)
    cv.paint(((x - 16) / 11) ** 2 + ((y - aorta_y) / 11) ** 2 <= 1, Tissue.AORTA)

    # Spine: vertebral bodies with discs between them; the arch, spinous and transverse
    # processes around the canal.
    disc = ((z + 94.5 + 8) % 33) < 7
    cv.paint(cv.ellipse(0, 50, 22, 18) & ~disc, Tissue.VERTEBRA)
    cv.paint(cv.ellipse(0, 50, 22, 18) & disc, Tissue.DISC)
    posterior = (cv.ellipse(0, 80, 17, 13) | cv.ellipse(0, 98, 4, 11)
                 | cv.ellipse(-28, 72, 12, 4) | cv.ellipse(28, 72, 12, 4))
    cv.paint(posterior & ~disc, Tissue.VERTEBRA)
    cv.paint(cv.ellipse(0, 78, 8, 8), Tissue.CSF)

    # Ribs: cut from the chest wall in oblique bands (each rib runs down from the spine
    # to the front), so an axial slice shows short arcs, as on a real CT.
    around = np.arctan2(x, y - 8)  # 0 at the back, +-pi at the front
    rib_height = z + 20 * (1 - np.cos(around))
    ribs = chest_wall & (((rib_height + 200) % 28) < 9) & (rib_height > -20)
    ribs &= ~((np.abs(x) < 30) & (y > 0)) & ~((np.abs(x) < 45) & (y < 0))
    cv.paint(ribs, Tissue.RIB)


def _smooth_xy(a: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] / 4 blur along columns and rows (partial volume, correlated noise)."""
    out = a.copy()
    for axis in (0, 1):
        src = out.copy()
        lo = [slice(None)] * 3
        mid = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], mid[axis], hi[axis] = slice(None, -2), slice(1, -1), slice(2, None)
        out[tuple(mid)] = 0.25 * src[tuple(lo)] + 0.5 * src[tuple(mid)] + 0.25 * src[tuple(hi)]
    return out


def build_phantom() -> Phantom:
    """Draw the phantom; the same on every call (the noise has a fixed seed)."""
    cv = _Canvas()
    _draw(cv)
    lut = np.zeros(max(Tissue) + 1, dtype=np.float32)
    for tissue, value in HU.items():
        lut[tissue] = value
    image = _smooth_xy(lut[cv.tissue])
    noise = np.random.default_rng(NOISE_SEED).standard_normal(SHAPE, dtype=np.float32)
    image += 20.0 * _smooth_xy(noise)  # about 7 HU of fine-grained noise
    hu = np.clip(np.rint(image), -1024, 3071).astype(np.int16)
    return Phantom(hu=hu, tissue=cv.tissue, affine=affine_ras())
