"""NRRD volumes and masks: round trips against nibabel-built references, in every space."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import nrrd as pynrrd
import numpy as np
import pytest

from app.errors import VolumeReadError
from app.geometry import Grid, align_to_image, compare_grids
from app.progress import run
from app.readers import image_grid, load_image, mask_as_nifti, nrrd_info, read_nrrd


def load_mask(path: Path) -> tuple[np.ndarray, Grid]:
    """An NRRD mask's voxels and grid, as the NIfTI image Segmap converts it to."""
    img = mask_as_nifti(path)
    return np.asanyarray(img.dataobj), Grid.of(img.shape, img.affine)


FLIPS = {"left-posterior-superior": [-1, -1, 1], "right-anterior-superior": [1, 1, 1],
         "left-anterior-superior": [-1, 1, 1]}


def reference() -> nib.Nifti1Image:
    """A NIfTI image with an oblique, flipped, anisotropic affine and position-coded voxels."""
    c, s = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([-0.8, 1.1, 2.5])
    affine = np.eye(4)
    affine[:3, :3] = rot
    affine[:3, 3] = [12.5, -40.0, 7.25]
    data = np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3) - 20
    return nib.Nifti1Image(data, affine)


def write_by_hand(path: Path, img: nib.Nifti1Image, space: str, encoding: str = "raw",
                  detached: bool = False) -> Path:
    """NRRD text header + payload written here, independent of pynrrd's writer."""
    flip = np.array(FLIPS[space], float)
    vecs = [flip * img.affine[:3, i] for i in range(3)]
    origin = flip * img.affine[:3, 3]
    data = np.asanyarray(img.dataobj)
    payload = data.astype("<i2").tobytes(order="F")  # NRRD: first axis fastest
    if encoding == "gzip":
        payload = gzip.compress(payload)

    def vec(v: np.ndarray) -> str:
        return "(" + ",".join(repr(float(x)) for x in v) + ")"

    header = [
        "NRRD0004", "type: short", "dimension: 3", f"space: {space}",
        "sizes: " + " ".join(map(str, data.shape)),
        "space directions: " + " ".join(vec(v) for v in vecs),
        "kinds: domain domain domain", "endian: little", f"encoding: {encoding}",
        f"space origin: {vec(origin)}",
    ]
    if detached:
        raw = path.with_suffix(".raw" + (".gz" if encoding == "gzip" else ""))
        raw.write_bytes(payload)
        header.append(f"data file: {raw.name}")
        path.write_text("\n".join(header) + "\n")
    else:
        path.write_bytes(("\n".join(header) + "\n\n").encode() + payload)
    return path


@pytest.mark.parametrize("space", list(FLIPS))
@pytest.mark.parametrize(("encoding", "detached"), [("raw", False), ("gzip", False),
                                                      ("gzip", True)])
def test_hand_written_nrrd_equals_its_nibabel_reference(
        tmp_path: Path, space: str, encoding: str, detached: bool) -> None:
    img = reference()
    name = "vol.nhdr" if detached else "vol.nrrd"
    path = write_by_hand(tmp_path / name, img, space, encoding, detached)
    data, grid = read_nrrd(path)
    np.testing.assert_allclose(grid.affine, img.affine, atol=1e-9)
    assert np.array_equal(data, np.asanyarray(img.dataobj))
    assert image_grid([path]).shape == (5, 4, 3)


def test_pynrrd_written_mask_compares_with_a_nifti_image_in_world_space(tmp_path: Path) -> None:
    img = reference()
    lps = np.diag([-1.0, -1.0, 1.0])
    mask = (np.asanyarray(img.dataobj) > 0).astype(np.uint8)
    # Store the mask with its first axis reversed, as another tool might.
    flipped = mask[::-1]
    directions = (lps @ img.affine[:3, :3]).T.copy()
    origin = lps @ (img.affine[:3, :3] @ [4, 0, 0] + img.affine[:3, 3])
    directions[0] *= -1
    path = tmp_path / "mask.seg.nrrd"
    pynrrd.write(str(path), flipped, {"space": "left-posterior-superior",
                                      "space directions": directions, "space origin": origin})
    labels, grid = load_mask(path)
    match = compare_grids(Grid.of(img.shape, img.affine), grid)
    assert match.relation == "reoriented"
    assert np.array_equal(align_to_image(labels, match), mask)


def test_slicer_segmentation_with_one_layer_axis(tmp_path: Path) -> None:
    img = reference()
    mask = (np.asanyarray(img.dataobj) % 3).astype(np.uint8)
    directions = np.vstack([[np.nan] * 3, (np.diag([-1.0, -1, 1]) @ img.affine[:3, :3]).T])
    header = {"space": "left-posterior-superior", "kinds": ["list", "domain", "domain", "domain"],
              "space directions": directions,
              "space origin": np.diag([-1.0, -1, 1]) @ img.affine[:3, 3]}
    one = tmp_path / "one.seg.nrrd"
    pynrrd.write(str(one), mask[None], header)
    labels, grid = load_mask(one)
    assert np.array_equal(labels, mask)
    np.testing.assert_allclose(grid.affine, img.affine, atol=1e-9)
    two = tmp_path / "two.seg.nrrd"
    pynrrd.write(str(two), np.stack([mask, mask]), header)
    with pytest.raises(VolumeReadError, match="holds 2 volumes"):
        load_mask(two)


def test_errors_name_the_file(tmp_path: Path) -> None:
    img = reference()
    nhdr = write_by_hand(tmp_path / "d.nhdr", img, "left-posterior-superior", detached=True)
    nhdr.with_suffix(".raw").unlink()
    with pytest.raises(VolumeReadError, match="data file of .*d.nhdr is missing"):
        read_nrrd(nhdr)
    bad = tmp_path / "bad.nrrd"
    bad.write_text("NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nspace: martian\n"
                   "space directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\n\n")
    with pytest.raises(VolumeReadError, match="unknown space 'martian'"):
        nrrd_info(bad)
    junk = tmp_path / "junk.nrrd"
    junk.write_text("hello\n")
    with pytest.raises(VolumeReadError, match="junk.nrrd is not a readable NRRD"):
        nrrd_info(junk)
    with pytest.raises(VolumeReadError, match="not found"):
        nrrd_info(tmp_path / "none.nrrd")


@pytest.mark.shared_data
def test_dcmqi_label_maps_lie_on_their_dicom_series(shared_data: Path) -> None:
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    ct_files = sorted((seg / "ct-3slice").iterdir())
    ct, ct_grid = run(load_image(ct_files))
    labels = {}
    for name, value in [("liver_seg.nrrd", 1), ("spine_seg.nrrd", 2), ("heart_seg.nrrd", 3)]:
        mask, grid = load_mask(seg / name)
        match = compare_grids(ct_grid, grid)
        assert match.relation == "same", match.message
        labels[name] = float(ct[align_to_image(mask, match) == value].mean())
    assert 0 < labels["liver_seg.nrrd"] < 100  # soft tissue (unenhanced liver)
    assert labels["spine_seg.nrrd"] > 200  # bone
