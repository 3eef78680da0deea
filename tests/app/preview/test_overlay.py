"""The preview's arrays: orientation, alignment in world space, colours, outlines, jump targets."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import InputError
from app.geometry import Grid
from app.preview import (
    WINDOW_PRESETS,
    DisplayVolumes,
    HoverInfo,
    auto_window,
    default_colour,
    default_preset,
    label_lut,
    largest_slices,
    looks_like_ct,
    outline,
    preset_window,
    window_to_uint8,
)

SHAPE = (20, 16, 12)  # x (R), y (A), z (S) in RAS storage


def ras_volume() -> np.ndarray:
    """A volume whose halves are told apart: patient left bright, anterior and superior marked."""
    v = np.zeros(SHAPE, np.int16)
    v[: SHAPE[0] // 2] += 100  # RAS storage: low x index is the patient's left
    v[:, SHAPE[1] // 2:] += 10  # anterior half
    v[:, :, SHAPE[2] // 2:] += 1  # superior half
    return v


def store(volume: np.ndarray, axcodes: str, spacing=(1.0, 1.0, 1.0)):
    """The same RAS-stored content, stored with axes ``axcodes``; returns (array, affine)."""
    from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

    ras = np.diag([*spacing, 1.0])
    t = ornt_transform(axcodes2ornt("RAS"), axcodes2ornt(tuple(axcodes)))
    arr = np.ascontiguousarray(apply_orientation(volume, t))
    return arr, ras @ inv_ornt_aff(t, volume.shape)


@pytest.mark.parametrize("axcodes", ["RAS", "LPS", "LAS", "SAR", "PIL"])
def test_axial_puts_patient_left_on_screen_right_and_anterior_up(axcodes):
    arr, aff = store(ras_volume(), axcodes)
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff))
    image, labels = vols.slice("axial", 0)
    assert labels is None
    cols, rows = image.shape[1], image.shape[0]
    assert (image[:, cols // 2:] >= 100).all() and (image[:, : cols // 2] < 100).all()
    assert (image[: rows // 2] % 100 >= 10).all() and (image[rows // 2:] % 100 < 10).all()


@pytest.mark.parametrize("axcodes", ["RAS", "LPS", "IPL", "ALS"])
def test_coronal_and_sagittal_put_superior_up(axcodes):
    arr, aff = store(ras_volume(), axcodes)
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff))
    cor, _ = vols.slice("coronal", 0)
    sag, _ = vols.slice("sagittal", 0)
    assert cor.shape == (SHAPE[2], SHAPE[0]) and sag.shape == (SHAPE[2], SHAPE[1])
    for img in (cor, sag):
        top, bottom = img[: img.shape[0] // 2], img[img.shape[0] // 2:]
        assert (top % 10 == 1).all() and (bottom % 10 == 0).all()
    # Coronal: patient left on screen right. Sagittal: anterior on screen left.
    assert (cor[:, SHAPE[0] // 2:] >= 100).all() and (cor[:, : SHAPE[0] // 2] < 100).all()
    half = SHAPE[1] // 2
    assert (sag[:, :half] % 100 >= 10).all() and (sag[:, half:] % 100 < 10).all()


def test_display_does_not_depend_on_storage_order():
    a, aff_a = store(ras_volume(), "RAS")
    b, aff_b = store(ras_volume(), "PIL")
    va = DisplayVolumes.build(a, Grid.of(a.shape, aff_a))
    vb = DisplayVolumes.build(b, Grid.of(b.shape, aff_b))
    for view in ("axial", "coronal", "sagittal"):
        assert va.n_slices(view) == vb.n_slices(view)
        for k in range(va.n_slices(view)):
            assert np.array_equal(va.slice(view, k)[0], vb.slice(view, k)[0])


def test_slice_numbers_grow_toward_superior_anterior_right():
    arr, aff = store(ras_volume(), "LPS")
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff))
    for view, axis in (("axial", 2), ("coronal", 1), ("sagittal", 0)):
        mm = [vols.describe(0, 0, k, view).world_mm[axis] for k in range(vols.n_slices(view))]
        assert np.all(np.diff(mm) > 0), view
    aff[:3, 3] -= [0, 0, 5.5]
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff))
    assert vols.slice_position("axial", 0) == "I 5.5 mm"
    assert vols.slice_position("axial", SHAPE[2] - 1) == "S 5.5 mm"
    assert (vols.slice("axial", SHAPE[2] - 1)[0] % 10 == 1).all()  # top slice is superior
    assert (vols.slice("coronal", SHAPE[1] - 1)[0] % 100 >= 10).all()  # last coronal: anterior
    assert (vols.slice("sagittal", 0)[0] >= 100).all()  # first sagittal: the patient's left


def test_slices_are_views_of_the_input():
    arr, aff = store(ras_volume(), "LPS")
    labels = (arr > 50).astype(np.uint8)
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff), labels, None)
    for view in ("axial", "coronal", "sagittal"):
        image, lab = vols.slice(view, 3)
        assert np.shares_memory(image, arr) and np.shares_memory(lab, labels)


def test_pixel_aspect_follows_the_voxel_spacing():
    arr, aff = store(ras_volume(), "LPS", spacing=(0.5, 0.7, 3.0))
    vols = DisplayVolumes.build(arr, Grid.of(arr.shape, aff))
    assert vols.pixel_size("axial") == pytest.approx((0.7, 0.5))  # rows run A-P, cols R-L
    assert vols.pixel_size("coronal") == pytest.approx((3.0, 0.5))
    assert vols.pixel_size("sagittal") == pytest.approx((3.0, 0.7))


def mask_of(volume: np.ndarray) -> np.ndarray:
    m = np.zeros(volume.shape, np.uint8)
    m[2:7, 3:9, 1:5] = 4  # a box in the patient's left, posterior, inferior corner
    m[12:18, 10:14, 7:11] = 9
    return m


@pytest.mark.parametrize("axcodes", ["LPS", "SAR", "PIL"])
def test_reoriented_mask_lands_on_the_same_anatomy(axcodes):
    image = ras_volume()
    grid = Grid.of(image.shape, np.diag([0.8, 0.8, 2.5, 1.0]))
    mask = mask_of(image)
    reference = DisplayVolumes.build(image, grid, mask, grid)
    stored, aff = store(mask, axcodes, spacing=(0.8, 0.8, 2.5))
    vols = DisplayVolumes.build(image, grid, stored, Grid.of(stored.shape, aff))
    assert vols.match is not None and vols.match.relation == "reoriented"
    assert np.array_equal(vols.labels, reference.labels)
    assert np.shares_memory(vols.labels, stored)  # a view: no copy of a big mask
    from app.geometry import align_to_image

    on_grid = DisplayVolumes.build(image, grid, align_to_image(stored, vols.match), grid)
    assert np.array_equal(vols.labels, on_grid.labels)
    # And the label sits on the same image voxels as in the RAS mask.
    assert set(np.unique(vols.image[vols.labels == 4])) == set(np.unique(image[mask == 4]))


def test_cropped_mask_is_padded_onto_the_image_grid():
    image = ras_volume()
    grid = Grid.of(image.shape, np.eye(4))
    crop = mask_of(image)[2:18, 3:14, 1:11]
    aff = np.eye(4)
    aff[:3, 3] = [2, 3, 1]
    vols = DisplayVolumes.build(image, grid, crop, Grid.of(crop.shape, aff))
    full = DisplayVolumes.build(image, grid, mask_of(image), grid)
    assert vols.match.relation == "crop"
    assert np.array_equal(vols.labels, full.labels)


def test_a_mask_elsewhere_is_refused_with_the_geometry_message():
    image = ras_volume()
    grid = Grid.of(image.shape, np.eye(4))
    far = np.eye(4)
    far[:3, 3] = [500, 0, 0]
    with pytest.raises(InputError, match="outside the image") as err:
        DisplayVolumes.build(image, grid, mask_of(image), Grid.of(image.shape, far))
    assert err.value.hint
    c, s = np.cos(0.3), np.sin(0.3)
    rotated = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    with pytest.raises(InputError, match="rotated"):
        DisplayVolumes.build(image, grid, mask_of(image), Grid.of(image.shape, rotated))


def test_arrays_that_do_not_match_their_grid_are_refused():
    image = ras_volume()
    with pytest.raises(InputError, match="grid says"):
        DisplayVolumes.build(image, Grid.of((5, 5, 5), np.eye(4)))
    with pytest.raises(InputError, match="no affine"):
        DisplayVolumes.build(image, Grid.of(image.shape, np.eye(4)), np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(InputError, match="3-D volumes"):
        DisplayVolumes.build(np.zeros((4, 4, 4, 3)), Grid.of((4, 4, 4), np.eye(4)))
    with pytest.raises(InputError, match="whole-number labels"):
        DisplayVolumes.build(image, Grid.of(image.shape, np.eye(4)), -np.ones(image.shape))
    with pytest.raises(InputError, match="whole-number labels"):
        DisplayVolumes.build(image, Grid.of(image.shape, np.eye(4)), np.full(image.shape, 70000))


def test_label_arrays_become_uint8_or_uint16():
    grid = Grid.of(SHAPE, np.eye(4))
    as_int = DisplayVolumes.build(ras_volume(), grid, mask_of(ras_volume()).astype(np.int32))
    assert as_int.labels.dtype == np.uint8 and set(np.unique(as_int.labels)) == {0, 4, 9}
    wide = DisplayVolumes.build(ras_volume(), grid, np.full(SHAPE, 300, np.uint32))
    assert wide.labels.dtype == np.uint16
    assert DisplayVolumes.build(ras_volume(), grid, ras_volume() > 50).labels.dtype == np.uint8
    floats = DisplayVolumes.build(ras_volume(), grid, mask_of(ras_volume()).astype(np.float32))
    assert floats.labels.dtype == np.uint8
    with pytest.raises(InputError, match="whole-number labels"):
        DisplayVolumes.build(ras_volume(), grid, np.full(SHAPE, 0.5, np.float32))


def test_describe_maps_a_pixel_back_to_the_voxel_and_world_position():
    image = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)  # every voxel unique
    stored, aff = store(image, "PIL", spacing=(0.5, 0.7, 3.0))
    aff[:3, 3] += [10, -20, 30]
    labels = np.zeros(stored.shape, np.uint16)
    vols = DisplayVolumes.build(stored, Grid.of(stored.shape, aff), labels, None, {})
    for view, row, col, k in [("axial", 3, 7, 5), ("coronal", 2, 11, 9), ("sagittal", 10, 1, 0)]:
        info = vols.describe(row, col, k, view)
        assert info.intensity == stored[info.voxel]
        assert info.world_mm == pytest.approx(tuple(aff[:3, :3] @ info.voxel + aff[:3, 3]))
        assert info.intensity == vols.slice(view, k)[0][row, col]
    assert vols.describe(-1, 0, 0, "axial") is None
    assert vols.describe(0, 0, 99, "axial") is None


def test_describe_names_the_members_of_an_overlap_group():
    image = ras_volume()
    labels = np.zeros(SHAPE, np.uint8)
    labels[5, 5, 5] = 3  # group {1, 2}
    labels[6, 5, 5] = 1
    vols = DisplayVolumes.build(image, Grid.of(SHAPE, np.eye(4)), labels, None,
                                {1: [3], 2: [3]})
    hits = {vols.describe(r, c, k, "axial").value: vols.describe(r, c, k, "axial")
            for k in range(SHAPE[2]) for r in range(SHAPE[1]) for c in range(SHAPE[0])}
    assert hits[3].instances == (1, 2) and hits[1].instances == (1,)
    names = {1: "liver", 2: "liver tumour"}.get
    assert "overlap of 1 (liver) + 2 (liver tumour)" in hits[3].text(names)
    assert hits[0].text(names).startswith("background")


def test_hover_text_spells_out_directions():
    info = HoverInfo(0, (), (-12.5, 3.0, -40.0), (1, 2, 3), -1000.0)
    assert "L 12.5 mm, A 3.0 mm, I 40.0 mm" in info.text()


def test_window_maps_the_window_onto_0_255():
    img = np.array([[-1000, -160, 40, 240, 3000]], np.int16)
    out = window_to_uint8(img, 40, 400)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 0, 128, 255, 255]]


def test_presets_and_auto_window():
    assert WINDOW_PRESETS["lung"] == (-600, 1500) and WINDOW_PRESETS["brain"] == (40, 80)
    mr = np.random.default_rng(0).gamma(2.0, 150.0, (40, 40, 40))
    mr[:, :10] = 0  # background
    c, w = auto_window(mr)
    assert 0 <= c - w / 2 < 50 and np.percentile(mr, 99) < c + w / 2 < mr.max()
    assert preset_window("auto", mr) == (c, w)
    with pytest.raises(ValueError, match="unknown window preset"):
        preset_window("liver", mr)
    ct = np.full((40, 40, 40), -1000, np.int16)
    ct[5:35, 5:35] = 40
    ct[18:22, 18:22] = 700
    assert looks_like_ct(ct) and default_preset(ct) == "soft tissue"
    assert not looks_like_ct(mr) and default_preset(mr) == "auto"


def test_lut_colours_opacity_and_transparent_background():
    lut = label_lut({1: None, 2: None}, {1: (255, 0, 0)}, 0.5, size=4)
    assert lut.shape == (4, 4) and lut.dtype == np.uint8
    assert lut[0, 3] == 0
    assert lut[1].tolist() == [255, 0, 0, 128]
    assert tuple(lut[2, :3]) == default_colour(2) and lut[2, 3] == 128
    assert lut[3, 3] == 128  # a value outside the segment map still shows


def test_lut_hide_and_solo_work_for_overlap_groups():
    segs = {1: [5], 2: [5], 3: None}  # value 5 is the overlap of 1 and 2
    red, blue = (200, 0, 0), (0, 0, 200)
    colours = {1: red, 2: blue, 3: (0, 200, 0)}
    lut = label_lut(segs, colours, 1.0)
    assert lut.shape[0] == 6 and lut[5].tolist() == [100, 0, 100, 255]  # a mix of both
    hidden = label_lut(segs, colours, 1.0, visible={2, 3})
    assert hidden[1, 3] == 0 and hidden[5].tolist() == [0, 0, 200, 255]  # overlap shows 2
    assert label_lut(segs, colours, 1.0, visible={3})[5, 3] == 0  # no member shows
    solo = label_lut(segs, colours, 1.0, visible={3}, solo=1)  # solo overrides visible
    assert solo[1].tolist() == [200, 0, 0, 255] and solo[5].tolist() == [200, 0, 0, 255]
    assert solo[2, 3] == 0 and solo[3, 3] == 0


def test_outline_keeps_region_boundaries():
    a = np.zeros((8, 9), np.uint8)
    a[1:6, 1:5] = 2
    a[1:6, 5:8] = 3
    out = outline(a)
    assert out[3, 2] == 0 and out[3, 6] == 0  # interiors cleared
    assert out[1, 2] == 2 and out[3, 1] == 2 and out[3, 4] == 2  # edges, incl. the shared one
    assert out[3, 5] == 3 and out[5, 7] == 3
    assert set(np.unique(out)) == {0, 2, 3}
    full = np.ones((3, 3), np.uint8)
    assert outline(full).tolist() == [[1, 1, 1], [1, 0, 1], [1, 1, 1]]  # the slice edge closes it


def brute_largest(display: np.ndarray, instance: int, groups: dict[int, tuple[int, ...]]):
    members = [v for v in np.unique(display) if v and instance in groups.get(int(v), (int(v),))]
    m = np.isin(display, members)
    n = display.shape
    return {"axial": n[0] - 1 - int(np.argmax(m.sum((1, 2)))),
            "coronal": n[1] - 1 - int(np.argmax(m.sum((0, 2)))),
            "sagittal": n[2] - 1 - int(np.argmax(m.sum((0, 1))))}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_largest_slices_match_brute_force_and_count_groups_for_members(dtype):
    rng = np.random.default_rng(1)
    d = np.zeros((30, 25, 20), dtype)
    for v in range(1, 8):
        c = rng.integers(3, 18, 3)
        r = rng.integers(2, 6, 3)
        d[c[0] - r[0]:c[0] + r[0], c[1] - r[1]:c[1] + r[1], c[2] - r[2]:c[2] + r[2]] = v
    high = 5000 if dtype == np.uint16 else 200  # uint16 ids far apart use the dense remap
    d[20:28, 2:6, 15:19] = high  # group {1, 7}: counts for 1 and 7, not only for itself
    segs = {1: [high], 7: [high]}
    groups = {high: (1, 7)}
    got = largest_slices(d, segs)
    for inst in {int(v) for v in np.unique(d)} - {0, high}:
        assert got[inst] == brute_largest(d, inst, groups), inst
    assert got[high] == brute_largest(d, high, {})
    assert largest_slices(np.zeros((3, 3, 3), np.uint8)) == {}


def test_largest_slices_are_cached_on_the_volumes():
    image = ras_volume()
    labels = mask_of(image)
    vols = DisplayVolumes.build(image, Grid.of(SHAPE, np.eye(4)), labels)
    where = vols.largest_slices()
    assert where is vols.largest_slices()
    assert set(where) == {4, 9}
    k = where[9]["axial"]
    assert (vols.slice("axial", k)[1] == 9).any()
