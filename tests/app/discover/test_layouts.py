"""What file names and folders say: case ids, roles, structures, layouts."""

from pathlib import Path

import pytest

from app.discover import _layouts as layouts
from app.discover._layouts import parse_name, role_hint, structure_name

ROOT = Path("/data")


@pytest.mark.parametrize(("name", "key"), [
    ("case_001_0000.nii.gz", "case_001"),  # nnU-Net channel suffix
    ("case_001.nii.gz", "case_001"),
    ("BraTS2021_00000_t1ce.nii.gz", "brats2021_00000"),
    ("BraTS2021_00000_seg.nii.gz", "brats2021_00000"),
    ("BraTS-GLI-00000-000-t2f.nii.gz", "brats_gli_00000_000"),  # BraTS 2023 grammar
    ("BraTS-GLI-00000-000-seg.nii.gz", "brats_gli_00000_000"),
    ("CHUP-026__CT.nii.gz", "chup_026"),  # HECKTOR image ...
    ("CHUP-026.nii.gz", "chup_026"),  # ... and its label
    ("patient7-label.nrrd", "patient7"),
    ("patient001_frame01_gt.nii.gz", "patient001_frame01"),  # ACDC
    ("patient7_mask_final.nii", "patient7"),
    ("kidney_instance-1_annotation-2.nii.gz", "kidney"),  # KiTS21 grammar
    ("ct.nii.gz", ""),  # generic: the case id is the folder's
    ("segmentation.nii.gz", ""),
])
def test_case_key_strips_channel_modality_and_mask_words(name, key):
    assert parse_name(Path(name)).key == key


def test_parse_name_reads_channel_modality_and_mask_token():
    p = parse_name(Path("prostate_12_0001.nii.gz"))
    assert (p.channel, p.stem) == (1, "prostate_12_0001")
    q = parse_name(Path("liver_seg.seg.nrrd"))
    assert (q.stem, q.mask_token, q.modality) == ("liver_seg", "seg", None)


@pytest.mark.parametrize(("rel", "role"), [
    ("imagesTr/case_001_0000.nii.gz", "image"),
    ("labelsTr/case_001.nii.gz", "mask"),
    ("s0001/segmentations/liver.nii.gz", "mask"),
    ("s0001/ct.nii.gz", "image"),
    ("p1/p1_seg.nii.gz", "mask"),
    ("p1/p1_flair.nii.gz", "image"),
    ("example_seg_fast/aorta.nii.gz", "mask"),  # folder name holds 'seg'
    ("p1/p1.nii.gz", None),  # nothing says: the header decides
])
def test_role_hint_by_folder_then_name(rel, role):
    assert role_hint(ROOT / rel, ROOT)[0] == role


@pytest.mark.parametrize(("name", "case", "structure"), [
    ("kidney_left.nii.gz", "", "kidney_left"),
    ("vertebrae_L3.nii.gz", "", "vertebrae_L3"),  # original spelling kept
    ("case7_Liver_mask.nii.gz", "case7", "Liver"),
    ("kidney_instance-1_annotation-2.nii.gz", "", "kidney"),
    ("case7_seg.nii.gz", "case7", ""),  # names no structure
])
def test_structure_name_of_binary_masks(name, case, structure):
    assert structure_name(Path(name), case) == structure


@pytest.mark.parametrize(("rel", "name"), [
    ("imagesTr/case_001_0000.nii.gz", "case_001"),
    ("BraTS2021_00001/BraTS2021_00001_t1.nii.gz", "BraTS2021_00001"),
    ("case_00002/imaging.nii.gz", "case_00002"),
    ("s0003/ct.nii.gz", "s0003"),
    ("example_ct_sm.nii.gz", "example_ct_sm"),
])
def test_case_name_of_an_image(rel, name):
    assert layouts.case_name_of(ROOT / rel, ROOT) == name


def test_channel_order_puts_channel_zero_and_t1ce_first():
    files = [Path(f) for f in ("b_t2.nii.gz", "b_flair.nii.gz", "b_t1ce.nii.gz", "b_t1.nii.gz")]
    assert sorted(files, key=layouts.channel_rank)[0].name == "b_t1ce.nii.gz"
    chans = [Path("x_0001.nii.gz"), Path("x_0000.nii.gz")]
    assert sorted(chans, key=layouts.channel_rank)[0].name == "x_0000.nii.gz"


@pytest.mark.parametrize(("image", "mask", "layout"), [
    ("d/imagesTr/c_0000.nii.gz", "d/labelsTr/c.nii.gz", layouts.Layout.NNUNET),
    ("d/imagesTr/c.nii.gz", "d/labelsTr/c.nii.gz", layouts.Layout.MSD),
    ("s1/ct.nii.gz", "s1/segmentations/liver.nii.gz", layouts.Layout.TOTALSEG),
    ("b/b_t1ce.nii.gz", "b/b_seg.nii.gz", layouts.Layout.BRATS),
    ("case_00000/imaging.nii.gz", "case_00000/segmentation.nii.gz", layouts.Layout.KITS),
    ("p/p.nii.gz", "p/p_mask.nii.gz", layouts.Layout.GENERIC),
])
def test_layout_of_a_pair(image, mask, layout):
    assert layouts.layout_of(ROOT / image, ROOT / mask, False) == layout
