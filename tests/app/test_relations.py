"""A mask on its image's lattice that is not a crop says what happened to it: shifted by
N mm, axes transposed / swapped / permuted, flipped about the wrong end (not "grid-crop")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.geometry import Grid, Relation, align_to_image, compare_grids
from app.items import load_items
from app.validate import validate

from .builders import image, items_file, nifti

SHAPE = (10, 8, 6)
AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])
IMAGE = Grid.of(SHAPE, AFFINE)


def _moved(dx: float = 0.0, flip_x: bool = False) -> np.ndarray:
    a = AFFINE.copy()
    a[0, 3] += dx
    if flip_x:
        a[0, 0] = -a[0, 0]
    return a


@pytest.mark.parametrize(("mask", "relation", "said"), [
    (Grid.of(SHAPE, _moved(4.0)), Relation.SHIFTED, "shifted by 4 mm"),
    (Grid.of((6, 8, 10), AFFINE), Relation.TRANSPOSED, "transposed"),
    (Grid.of((8, 10, 6), AFFINE), Relation.TRANSPOSED, "swapped (i and j)"),
    (Grid.of((8, 6, 10), AFFINE), Relation.TRANSPOSED, "permuted"),
    (Grid.of(SHAPE, _moved(flip_x=True)), Relation.FLIPPED, "flipped along axis i"),
])
def test_the_relation_is_named(mask: Grid, relation: Relation, said: str) -> None:
    match = compare_grids(IMAGE, mask)
    assert match.relation is relation and said in match.message
    assert "covers a box" not in match.message
    assert match.alignable and not match.aligned


def test_a_real_crop_is_still_a_crop() -> None:
    a = AFFINE.copy()
    a[:3, 3] = [4, 2, 0]
    match = compare_grids(IMAGE, Grid.of((5, 4, 6), a))
    assert match.relation is Relation.CROP and "covers a box" in match.message


def test_a_shift_off_the_image_is_incompatible_and_says_the_shift() -> None:
    match = compare_grids(IMAGE, Grid.of(SHAPE, _moved(100.0)))
    assert match.relation is Relation.INCOMPATIBLE and "shifted by 100 mm" in match.message


def test_a_shifted_mask_is_drawn_where_its_header_puts_it() -> None:
    data = np.zeros(SHAPE, np.uint8)
    data[0, 0, 0] = 1
    match = compare_grids(IMAGE, Grid.of(SHAPE, _moved(4.0)))
    on_image = align_to_image(data, match)
    assert on_image[2, 0, 0] == 1 and on_image.sum() == 1


def _case(tmp_path: Path, shape: tuple[int, int, int], affine: np.ndarray) -> Path:
    image(tmp_path / "img.nii.gz", shape=SHAPE, affine=AFFINE)
    data = np.zeros(shape, np.uint8)
    data[1, 1, 1] = 1
    nifti(tmp_path / "seg.nii.gz", data, affine)
    return items_file(tmp_path, [{"name": "t", "series": [{
        "items": "img.nii.gz", "segmentations": "seg.nii.gz", "segmentMap": {"1": "a"}}]}])


@pytest.mark.parametrize(("shape", "affine", "code", "said"), [
    (SHAPE, _moved(4.0), "grid-shifted", "shifted by 4 mm"),
    ((6, 8, 10), AFFINE, "grid-transposed", "transposed"),
    (SHAPE, _moved(flip_x=True), "grid-flipped", "flipped along axis i"),
])
def test_validate_names_the_relation(tmp_path: Path, shape, affine, code: str,
                                     said: str) -> None:
    found = validate(load_items(_case(tmp_path, shape, affine)))
    codes = {f.code.value for f in found}
    assert code in codes and "grid-crop" not in codes
    [f] = [f for f in found if f.code.value == code]
    assert f.severity == "error" and said in f.message


def test_stats_names_the_relation(tmp_path: Path, capsys) -> None:
    items = _case(tmp_path, SHAPE, _moved(4.0))
    assert main(["stats", str(items), "--task", "t"]) == 1
    err = capsys.readouterr().err
    assert "(shifted)" in err and "shifted by 4 mm" in err


def test_a_shift_by_a_fraction_of_a_voxel_says_the_millimetres() -> None:
    match = compare_grids(IMAGE, Grid.of(SHAPE, _moved(1.0)))  # half a 2 mm voxel
    assert match.relation is Relation.INCOMPATIBLE
    assert "shifted by 1 mm" in match.message and "+0.5" in match.message


TS = "totalsegmentator/tests/reference_files"


@pytest.mark.shared_data
@pytest.mark.parametrize(("edit", "code", "said"), [
    ("shift 4 mm", "grid-mismatch", "shifted by 4 mm"),  # 3 mm voxels: 1.33 voxels
    ("shift 6 mm", "grid-shifted", "shifted by 6 mm"),
    ("transpose", "grid-transposed", "transposed"),
])
def test_totalsegmentator_mask_moved_or_transposed(shared_data: Path, tmp_path: Path, edit: str,
                                                    code: str, said: str) -> None:
    import nibabel as nib

    ct = nib.load(shared_data / TS / "example_ct_sm.nii.gz")
    seg = nib.load(shared_data / TS / "example_seg.nii.gz")
    data = np.asanyarray(seg.dataobj)
    affine = seg.affine.copy()
    if edit.startswith("shift"):
        affine[0, 3] += float(edit.split()[1])
    else:
        data = np.ascontiguousarray(data.T)
    nib.save(ct, tmp_path / "img.nii.gz")
    out = nib.Nifti1Image(data, affine)
    out.header.set_data_dtype(np.uint8)
    nib.save(out, tmp_path / "seg.nii.gz")
    items = items_file(tmp_path, [{"name": "t", "series": [{
        "items": "img.nii.gz", "segmentations": "seg.nii.gz", "segmentMap": {"1": "a"}}]}])
    found = [f for f in validate(load_items(items)) if f.code.value.startswith("grid-")]
    assert [f.code.value for f in found] == [code] and said in found[0].message


def test_a_comparison_is_remembered_and_its_result_cannot_be_changed():
    """A scan compares each of a case's masks (often on one grid) with its image: the
    result is remembered, and shared, so its index map is read-only."""
    import numpy as np
    import pytest

    from app.geometry import Grid, compare_grids

    image = Grid.of((10, 12, 8), np.diag([0.8, 0.8, 2.0, 1.0]))
    first = compare_grids(image, Grid.of((10, 12, 8), np.diag([0.8, 0.8, 2.0, 1.0])))
    again = compare_grids(image, Grid.of((10, 12, 8), np.diag([0.8, 0.8, 2.0, 1.0])))
    assert again is first and first.aligned
    assert first.index_map is not None
    with pytest.raises(ValueError):
        first.index_map[0, 0] = 5.0
    other = compare_grids(image, Grid.of((10, 12, 8), np.diag([0.8, 0.8, 2.0, 1.0])), 0.5)
    assert other is not first  # another tolerance: compared again
