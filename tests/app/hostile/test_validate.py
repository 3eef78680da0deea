"""Validation never says "the upload would work" for what RedBrick cannot take.

Images that are no image (RT Plan, RT Struct, SR, ECG, SEG, RT Dose, no pixel data,
truncated pixels, a NIfTI named .dcm, the items list itself), headers no viewer can
place (a NaN affine, NaN NRRD directions, an unknown NRRD encoding), a mask whose
scale factor makes the merge fail, segmentMap keys RedBrick may read as another id:
each is an error finding naming the file (or the key) and saying why. Every input is
built at test time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.cli import main
from app.items import load_items, parse_items
from app.validate import Severity, validate
from tests.app.builders import image
from tests.app.dicom_synth import write_slice
from tests.app.hostile import corpus_items as corpus
from tests.app.hostile.corpus import device_link, fifo, needs_fifo


def _validate(folder: Path, items: str | list[str], segs: str = "seg.nii.gz",
              smap: dict | None = None) -> list:
    corpus.labelled(folder)
    path = corpus.items_list(folder, {"items": items, "segmentations": segs,
                                      "segmentMap": smap or {"1": "liver"}})
    return validate(load_items(path))


def _errors(found: list, code: str = "image-unreadable") -> list:
    return [f for f in found if f.code == code and f.severity is Severity.ERROR]


NON_IMAGES = {
    "rtplan": "RT Plan", "rtstruct": "RT Structure Set", "sr": "structured report",
    "ecg": "ECG", "seg": "DICOM SEG",
}


@pytest.mark.parametrize("kind", sorted(NON_IMAGES))
def test_a_dicom_object_that_is_no_image_is_an_error(tmp_path, kind):
    img = corpus.dicom_object(tmp_path / f"{kind}.dcm", kind)
    (f,) = _errors(_validate(tmp_path, img.name))
    assert f.file == str(img) and NON_IMAGES[kind] in f.message and img.name in f.message


def test_rt_dose_no_pixel_data_and_truncated_pixels_are_errors(tmp_path):
    cases = {"dose": (corpus.rt_dose, "RT Dose"), "nopix": (corpus.no_pixels, "no pixel data"),
             "cut": (corpus.truncated, "truncated")}
    for name, (make, words) in cases.items():
        img = make(tmp_path / name / f"{name}.dcm")
        (f,) = _errors(_validate(tmp_path / name, img.name))
        assert words in f.message and img.name in f.message, f.message


def test_one_truncated_slice_among_good_ones_is_named(tmp_path):
    files = [write_slice(tmp_path / f"im{k}.dcm", series_uid="1.2.3.9", instance=k + 1,
                         position=(0.0, 0.0, float(k)), rows=16, cols=16) for k in range(3)]
    files[1].write_bytes(files[1].read_bytes()[:-100])
    (f,) = _errors(_validate(tmp_path, [p.name for p in files]))
    assert f.file == str(files[1]) and "truncated" in f.message


def test_a_nifti_named_dcm_and_the_items_list_itself_are_errors(tmp_path):
    img = corpus.nifti_named_dcm(tmp_path / "a" / "scan.dcm")
    (f,) = _errors(_validate(tmp_path / "a", img.name))
    assert "NIfTI" in f.message and ".nii.gz" in f.message and f.file == str(img)
    (f,) = _errors(_validate(tmp_path / "b", "items.json"))
    assert "the items list itself" in f.message


def test_broken_image_headers_are_errors_not_notes(tmp_path):
    cases = {"nan.nii.gz": (corpus.nan_affine, "NaN"),
             "enc.nrrd": (corpus.nrrd_unknown_encoding, "encoding"),
             "dirs.nrrd": (corpus.nrrd_nan_directions, "NaN")}
    for name, (make, words) in cases.items():
        folder = tmp_path / name.replace(".", "-")
        img = make(folder / name)
        found = _validate(folder, img.name)
        errors = [f for f in found if f.severity is Severity.ERROR and f.file == str(img)]
        assert errors and words in errors[0].message, (name, [f.message for f in found])


def test_a_geometry_less_dicom_image_is_still_only_a_note(tmp_path):
    write_slice(tmp_path / "flat.dcm", series_uid="1.2.3.7", position=None, orientation=None)
    found = _validate(tmp_path, "flat.dcm")
    assert not [f for f in found if f.severity is Severity.ERROR]
    assert "grid-not-checked" in {f.code for f in found}


def test_a_mask_scaled_into_fractions_is_an_error_as_the_merge_refuses_it(tmp_path):
    image(tmp_path / "img.nii.gz")
    mask = corpus.scaled_mask(tmp_path / "seg.nii.gz")
    path = corpus.items_list(tmp_path, {"items": "img.nii.gz", "segmentations": "seg.nii.gz",
                                        "segmentMap": {"1": "liver"}})
    (f,) = _errors(validate(load_items(path)), "mask-scaled")
    assert f.file == str(mask) and "scl_slope" in f.message


@needs_fifo
def test_a_fifo_or_device_as_image_or_mask_is_named_for_what_it_is(tmp_path):
    fifo(tmp_path / "img.nii.gz")
    found = _validate(tmp_path, "img.nii.gz")
    assert any("named pipe" in f.message for f in found if f.severity is Severity.ERROR)
    image(tmp_path / "b" / "img.nii.gz")
    device_link(tmp_path / "b" / "mask.nii.gz")
    found = _validate(tmp_path / "b", "img.nii.gz", segs="mask.nii.gz")
    assert any("character device" in f.message for f in found if f.severity is Severity.ERROR)


# -- segmentMap keys ---------------------------------------------------------------------


@pytest.mark.parametrize("key, write", [("01", "1"), (" 1", "1"), ("+1", "1"), ("1_0", "10"),
                                        ("\uff11", "1"), ("1 ", "1")])
def test_a_key_python_reads_otherwise_than_written_is_an_error(tmp_path, key, write):
    image(tmp_path / "img.nii.gz")
    (f,) = _errors(_validate(tmp_path, "img.nii.gz", smap={key: "liver"}), "segment-map-key")
    assert repr(key) in f.message and f'"{write}"' in f.message


def test_plain_keys_are_accepted_and_one_rule_reads_them():
    from app.items import instance_id

    assert [instance_id(k) for k in ("1", "0", "65535", "-3")] == [1, 0, 65535, -3]
    assert [instance_id(k) for k in ("01", " 1", "+1", "1_0", "\uff11", "1.0", "a")] == \
        [None] * 7
    smap = parse_items([{"series": [{"segmentMap": {"01": "a", "2": "b"}}]}]).tasks[0] \
        .series[0].segment_map
    assert smap is not None and set(smap.segments) == {1, 2} and smap.key_of(1) == "01"


def test_the_task_level_map_is_checked_too(tmp_path):
    image(tmp_path / "img.nii.gz")
    corpus.labelled(tmp_path)
    (tmp_path / "items.json").write_text(json.dumps([{
        "name": "case", "segmentMap": {"+1": "liver"},
        "series": [{"items": "img.nii.gz", "segmentations": "seg.nii.gz"}]}]))
    assert _errors(validate(load_items(tmp_path / "items.json")), "segment-map-key")


# -- the CLI: plain errors, never a traceback ------------------------------------------------


def _cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "bug in Segmap" not in err, err
    return code, out, err


@needs_fifo
def test_a_fifo_or_dev_zero_as_list_or_taxonomy_is_named_by_validate_build_export(
        tmp_path, capsys):
    pipe = fifo(tmp_path / "pipe.json")
    zero = device_link(tmp_path / "zero.json")
    image(tmp_path / "data" / "c1" / "ct.nii.gz")
    good = corpus.items_list(tmp_path / "ok", {"items": "x.nii.gz"})
    for argv, words in (
            (["validate", pipe], "named pipe (FIFO)"),
            (["validate", zero], "character device"),
            (["validate", "/dev/zero"], "character device"),
            (["validate", good, "--taxonomy", pipe, "-q"], "named pipe (FIFO)"),
            (["export", pipe, "-o", tmp_path / "o" / "x.json"], "named pipe (FIFO)"),
            (["export", zero, "-o", tmp_path / "o" / "x.json"], "character device"),
            (["build", tmp_path / "data", "-o", tmp_path / "o" / "b.json", "-q",
              "--taxonomy", pipe], "named pipe (FIFO)"),
            (["build", tmp_path / "data", "-o", tmp_path / "o" / "b.json", "-q",
              "--template", zero], "character device")):
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and words in err, (argv, err)
    assert not (tmp_path / "o").exists()


def test_validate_json_prints_a_non_utf8_file_name_escaped(tmp_path, capsys):
    folder = tmp_path / corpus.non_utf8(b"case\xff")
    path = corpus.items_list(folder, {"items": "missing.nii.gz"})
    code, out, _ = _cli(capsys, "validate", path, "--json", "-q")
    data = json.loads(out)
    (f,) = [f for f in data["findings"] if f["code"] == "image-missing"]
    assert code == 1 and "case\\udcff" in f["file"] and "case\\udcff" in f["message"]
    assert os.fsencode(str(folder)) in os.fsencode(str(path))
