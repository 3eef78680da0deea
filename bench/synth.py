"""Synthetic label data shaped like real segmentations, for the benchmarks.

Organs are Voronoi cells of random seeds, clipped to blobs inside an ellipsoidal
body, computed on a coarse grid and upsampled with one-voxel jitter on the
boundaries so the files compress like real label maps (not like perfect cubes).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def label_field(shape: tuple[int, int, int], n_labels: int, seed: int = 0) -> np.ndarray:
    """A uint8/uint16 label volume with ``n_labels`` blob-shaped organs."""
    rng = np.random.default_rng(seed)
    f = 4
    coarse = tuple(max(2, s // f) for s in shape)
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in coarse], indexing="ij"), -1).reshape(-1, 3)
    centre = np.array(coarse) / 2
    radii = np.array(coarse) * np.array([0.45, 0.35, 0.48])
    seeds = centre + (rng.random((n_labels, 3)) * 2 - 1) * radii * 0.8
    size = rng.uniform(0.5, 1.0, n_labels) * (np.prod(coarse) / n_labels) ** (1 / 3)
    best = np.full(len(grid), np.inf)
    lab = np.zeros(len(grid), np.uint16)
    for k, (s, r) in enumerate(zip(seeds, size, strict=True), start=1):
        d = np.sqrt(((grid - s) ** 2).sum(1)) / r
        take = d < best
        best[take] = d[take]
        lab[take] = k
    body = (((grid - centre) / radii) ** 2).sum(1) < 1
    lab[(best > 1.0) | ~body] = 0
    lab = lab.reshape(coarse)
    out = np.empty(shape, np.uint16 if n_labels > 255 else np.uint8)
    for z in range(shape[2]):
        jitter = rng.integers(-1, 2, size=(shape[0], shape[1], 2))
        xi = np.clip((np.arange(shape[0])[:, None] + jitter[..., 0]) // f, 0, coarse[0] - 1)
        yi = np.clip((np.arange(shape[1])[None, :] + jitter[..., 1]) // f, 0, coarse[1] - 1)
        out[:, :, z] = lab[xi, yi, min(z // f, coarse[2] - 1)]
    return out


def save(arr: np.ndarray, path: Path, zooms=(1.5, 1.5, 1.5)) -> Path:
    """Save as NIfTI-1 with a plain RAS affine (gzip level 6, like most exporters)."""
    import gzip

    img = nib.Nifti1Image(arr, np.diag([*zooms, 1.0]))
    img.set_data_dtype(arr.dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(img.to_bytes(), 6))
    return path


def multilabel_case(root: Path, shape=(512, 512, 400), n_labels=117) -> Path:
    """One multi-label file (import shape I); written once and reused."""
    p = root / f"multilabel_{'x'.join(map(str, shape))}_{n_labels}.nii.gz"
    if not p.exists():
        save(label_field(shape, n_labels), p)
    return p


def binary_case(root: Path, shape=(256, 256, 200), n_labels=117) -> list[Path]:
    """One binary mask per organ (import shape III), like a TotalSegmentator case."""
    d = root / f"binary_{'x'.join(map(str, shape))}_{n_labels}"
    paths = [d / f"organ_{k:03d}.nii.gz" for k in range(1, n_labels + 1)]
    if not all(p.exists() for p in paths):
        lab = label_field(shape, n_labels, seed=1)
        # Real binary masks overlap a little where structures touch: dilate a few along x.
        for k, p in enumerate(paths, start=1):
            m = lab == k
            if k % 10 == 0:
                m[1:] |= m[:-1]
            save(m.astype(np.uint8), p)
    return paths
