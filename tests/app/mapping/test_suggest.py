"""Names to categories: normalisation, taxonomy matching, sidecar readers, suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.discover import _sidecars as sidecars
from app.mapping import _names as names
from app.mapping._suggest import CONFIDENT, Matcher, suggest_file, taxonomy_candidates
from app.readers import census

from .. import synth_layouts as synth

TAXONOMY = ["Kidney Left", "Kidney Right", "Liver", ("Abdomen", "Spleen"), "Vertebra L3",
            "Gallbladder", "Inferior Vena Cava", "Peripheral Zone", "Left Ventricle", "Tumor",
            "Pancreas"]


# --- normalisation -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Kidney_L", "left kidney", "kidneys-left", "L_kidney",
                                  "KidneyLeft", "kidney_lt", "Left-Kidney"])
def test_spellings_of_one_structure_normalise_alike(name):
    assert names.normalise(name).bag == ("kidney", "left")


@pytest.mark.parametrize(("a", "b"), [("tumour", "tumor"), ("vertebrae_L3", "vertebra l3"),
                                      ("costal_cartilages", "costal cartilage"),
                                      ("iliac_vena_left", "left iliac vein"),
                                      ("oesophagus", "esophagus")])
def test_british_latin_and_plural_forms_normalise_alike(a, b):
    assert names.normalise(a).bag == names.normalise(b).bag


def test_pancreas_is_not_a_plural():
    assert names.normalise("pancreas").tokens == ("pancreas",)


@pytest.mark.parametrize(("raw", "shown"), [("kidney_left", "Kidney Left"),
                                            ("vertebrae_L3", "Vertebrae L3"),
                                            ("Parotid_L", "Parotid Left"), ("PZ", "PZ"),
                                            ("portal_vein_and_splenic_vein",
                                             "Portal Vein and Splenic Vein")])
def test_display_name_without_a_taxonomy(raw, shown):
    assert names.display_name(raw) == shown


@pytest.mark.parametrize("name", ["Segment_1", "Label 3", "class2", "7", "ROI_12"])
def test_placeholder_names_are_recognised(name):
    assert names.is_placeholder(name)


# --- matching ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "category"), [
    ("kidney_left", "Kidney Left"), ("Kidney_L", "Kidney Left"), ("spleen", ("Abdomen", "Spleen")),
    ("vertebrae_L3", "Vertebra L3"), ("gall_bladder", "Gallbladder"),
    ("IVC", "Inferior Vena Cava"), ("PZ", "Peripheral Zone"), ("LV", "Left Ventricle"),
    ("tumour", "Tumor"), ("Liver", "Liver"),
])
def test_names_match_taxonomy_categories_confidently(name, category):
    m = Matcher(TAXONOMY).match(name)
    assert m is not None and m.category == category and m.score >= CONFIDENT


def test_left_never_matches_right():
    m = Matcher(["Kidney Right", "Kidney"]).match("kidney_left")
    assert m is not None and m.category == "Kidney" and m.score < CONFIDENT
    assert Matcher(["Kidney Right"]).match("kidney_left") is None


def test_a_typo_is_proposed_but_not_confident():
    m = Matcher(TAXONOMY).match("pancrease")
    assert m is not None and m.category == "Pancreas" and m.score < CONFIDENT


def test_the_same_leaf_under_two_parents_is_ambiguous():
    m = Matcher([("Organs", "Liver"), ("Lesions", "Liver")]).match("liver")
    assert m is not None and m.score < CONFIDENT and "ambiguous" in m.how


def test_without_a_taxonomy_the_name_itself_is_the_category():
    m = Matcher(None).match("kidney_left")
    assert m is not None and (m.category, m.score) == ("Kidney Left", 1.0)


def test_taxonomy_candidates_from_a_v2_file(tmp_path):
    tax = tmp_path / "tax.json"
    tax.write_text(json.dumps({"objectTypes": [
        {"category": "Liver", "classId": 0, "labelType": "SEGMENTATION"},
        {"category": "Left", "classId": 1, "labelType": "SEGMENTATION",
         "parents": ["Abdomen", "Kidney"]},
        {"category": "Left", "classId": 2, "labelType": "SEGMENTATION", "parents": ["Lung"]},
        {"category": "Nodule", "classId": 3, "labelType": "BBOX"},
        {"category": "Old", "classId": 4, "labelType": "SEGMENTATION", "archived": True}]}))
    cands = taxonomy_candidates(tax)
    assert cands == ["Liver", ("Abdomen", "Kidney", "Left"), ("Lung", "Left")]
    assert Matcher(cands).match("kidney_left").category == ("Abdomen", "Kidney", "Left")


# --- sidecars ------------------------------------------------------------------------


def read(path: Path) -> sidecars.LabelTable:
    table, problem = sidecars.read_sidecar(path)
    assert problem is None and table is not None
    return table


def test_dataset_json_in_both_directions(tmp_path):
    v2 = tmp_path / "a" / "dataset.json"
    v2.parent.mkdir()
    v2.write_text(json.dumps({"labels": {"background": 0, "PZ": 1, "TZ": 2, "gland": [1, 2],
                                         "ignore": 3}, "channel_names": {"0": "T2"}}))
    t = read(v2)
    assert (t.kind, t.names, t.ignore) == (sidecars.TableKind.NNUNET, {1: "PZ", 2: "TZ"}, {3})
    v1 = tmp_path / "b" / "dataset.json"
    v1.parent.mkdir()
    v1.write_text(json.dumps({"labels": {"0": "background", "1": "liver", "2": "cancer"}}))
    t = read(v1)
    assert (t.kind, t.names) == (sidecars.TableKind.MSD, {1: "liver", 2: "cancer"})


def test_a_malformed_dataset_json_is_a_problem_not_a_crash(tmp_path):
    p = tmp_path / "dataset.json"
    p.write_text('{"labels": {"1": "liver",}')
    table, problem = sidecars.read_sidecar(p)
    assert table is None and "dataset.json" in problem and "line 1" in problem


def test_slicer_colour_table_and_freesurfer_style_txt(tmp_path):
    p = tmp_path / "seg.ctbl"
    p.write_text("# Color table file\n0 Background 0 0 0 0\n1 liver 255 0 0 255\n"
                 "2 kidney_left 0 255 0 255\n")
    assert read(p).names == {1: "liver", 2: "kidney_left"}
    csv = tmp_path / "colors.csv"
    csv.write_text("LabelValue,Name,Color_R,Color_G,Color_B,Color_A\n0,bg,0,0,0,0\n"
                   "3,spleen,1,2,3,255\n")
    assert read(csv).names == {3: "spleen"}


def test_itksnap_label_description(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text('# ITK-SnAP Label Description File\n'
                 '    0     0    0    0        0  0  0    "Clear Label"\n'
                 '    1   255    0    0        1  1  1    "Liver"\n'
                 '    2     0  255    0        1  1  1    "Left kidney"\n')
    t = read(p)
    assert (t.kind, t.names) == (sidecars.TableKind.ITKSNAP, {1: "Liver", 2: "Left kidney"})


def test_other_text_files_are_not_tables(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("Scanned on 2024-01-02\nnothing to see\n")
    assert sidecars.read_sidecar(p) == (None, None)


def test_bids_dseg_and_datature_labels(tmp_path):
    tsv = tmp_path / "sub-01_dseg.tsv"
    tsv.write_text("index\tname\tabbreviation\n1\tGray Matter\tGM\n2\tWhite Matter\tWM\n")
    assert read(tsv).names == {1: "Gray Matter", 2: "White Matter"}
    lj = tmp_path / "labels.json"
    lj.write_text(json.dumps([{"id": 1, "name": "nodule"}]))
    assert read(lj).names == {1: "nodule"}


def test_nifti_header_extension_label_names(tmp_path):
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    xml = ('<?xml version="1.0"?><CaretExtension><LabelTable>'
           '<Label Key="1" Red="1"><![CDATA[spleen]]></Label>'
           '<Label Key="5" Red="0"><![CDATA[liver]]></Label></LabelTable></CaretExtension>')
    img.header.extensions.append(nib.nifti1.Nifti1Extension(0, xml.encode()))
    p = tmp_path / "seg.nii.gz"
    nib.save(img, p)
    t = sidecars.nifti_label_table(p)
    assert t is not None and t.names == {1: "spleen", 5: "liver"}
    assert sidecars.nifti_label_table(synth.binary(tmp_path / "plain.nii.gz")) is None


def test_seg_nrrd_header_fields(tmp_path):
    p = tmp_path / "s.seg.nrrd"
    p.write_bytes(b"NRRD0004\ntype: unsigned char\nSegment0_Name:=Liver\n"
                  b"Segment0_LabelValue:=1\nSegment1_Name:=Tumor\nSegment1_LabelValue:=2\n\n")
    t = sidecars.seg_nrrd_table(p)
    assert t is not None and t.names == {1: "Liver", 2: "Tumor"}


def test_totalsegmentator_ml_header(shared_data):
    t = sidecars.nifti_label_table(
        shared_data / "totalsegmentator/tests/reference_files/example_seg.nii.gz")
    assert t is not None and t.names[1] == "spleen" and t.names[5] == "liver"


def test_dcmqi_segment_metadata(shared_data):
    t = read(shared_data / "dcmqi/doc/examples/seg-example_multiple_segments.json")
    assert t.kind == sidecars.TableKind.DCMQI
    assert [list(f.values()) for f in t.per_file] == [["Liver"], ["Thoracic spine"], ["Heart"]]


# --- suggestions ---------------------------------------------------------------------


def test_a_binary_file_is_named_by_its_file_name_and_not_accepted(tmp_path):
    mask = synth.binary(tmp_path / "segmentations" / "kidney_left.nii.gz")
    (p,) = suggest_file(mask, census(mask), [], tmp_path, Matcher(TAXONOMY), binary_file=True)
    s = p.best
    assert (s.category, s.source, s.accepted) == ("Kidney Left", "file name", False)
    assert s.usable() and s.confidence == pytest.approx(0.9 * 0.95)


def test_values_named_by_a_dataset_json_above_the_mask(tmp_path):
    root = synth.nnunet(tmp_path / "ds", cases=1)
    mask = root / "labelsTr" / "case_000.nii.gz"
    table = read(root / "dataset.json")
    props = suggest_file(mask, census(mask), [table], root, Matcher(TAXONOMY), binary_file=False)
    best = {p.target.value: p.best for p in props}
    assert best[1].category == "Peripheral Zone" and best[1].source.startswith("dataset.json")
    assert best[2].category is None  # "TZ" matches nothing in this taxonomy
    assert not any(p.best.accepted for p in props)


def test_a_placeholder_name_gives_no_category(tmp_path):
    mask = synth.labelmap(tmp_path / "seg.nii.gz", (1,))
    ctbl = tmp_path / "seg.ctbl"
    ctbl.write_text("1 Segment_1 255 0 0 255\n")
    (p,) = suggest_file(mask, census(mask), [read(ctbl)], tmp_path, Matcher(None),
                        binary_file=False)
    assert p.best.category is None and not p.best.usable()


def test_brats_convention_is_only_a_hint(tmp_path):
    mask = synth.labelmap(tmp_path / "b_seg.nii.gz", (1, 2, 4))
    props = suggest_file(mask, census(mask), [], tmp_path, Matcher(None), binary_file=False,
                         layout="BraTS")
    best = {p.target.value: p.best for p in props}
    assert best[4].category == "Enhancing Tumor" and not best[4].usable()
