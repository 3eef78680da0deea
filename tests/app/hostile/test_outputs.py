"""What export and build write: never over their inputs, never silently over a list Segmap
did not write, never NaN or a name JSON cannot hold, with the permissions any program's
outputs get. Every failure is a plain error naming the file, never "a bug in Segmap".
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from app.cli import main
from app.errors import OutputError
from app.export import export_items, replace_question, written_by_segmap
from app.items import load_items
from app.progress import run
from app.session import open_items
from tests.app.builders import image, nifti, volume
from tests.app.export.test_dcm_names import pacs_series
from tests.app.export.test_nrrd_masks import labels, write_nrrd
from tests.app.hostile import corpus_items as corpus

SHAPE = (6, 5, 4)


def _cli(capsys, *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "bug in Segmap" not in err, err
    return code, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A folder build can scan: one case, its NRRD label map and a label table."""
    folder = tmp_path / "data"
    image(folder / "case1" / "ct.nii.gz", shape=SHAPE)
    write_nrrd(folder / "case1" / "ct_seg.nrrd", labels(), affine=_eye())
    (folder / "case1" / "labels.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    return folder


def _eye():
    import numpy as np

    return np.eye(4)


@pytest.fixture
def listed(tmp_path: Path) -> Path:
    """An items list naming an image and a label map beside it."""
    folder = tmp_path / "list"
    image(folder / "img.nii.gz")
    nifti(folder / "seg.nii.gz", volume({(0, 0, 0): 1}))
    return corpus.items_list(folder, {"items": "img.nii.gz", "segmentations": "seg.nii.gz",
                                      "segmentMap": {"1": "liver"}})


# -- inputs and lists Segmap did not write (item 15) -------------------------------------------


def test_export_onto_its_own_input_is_refused_even_with_force(listed, capsys):
    before = listed.read_bytes()
    link = listed.parent / "alias.json"
    link.symlink_to(listed)
    for target in (listed, link):
        for force in ([], ["--force"]):
            code, _, err = _cli(capsys, "export", listed, "-o", target, *force)
            assert code == 1 and "is an input" in err and str(target) in err, err
    assert listed.read_bytes() == before


def test_export_onto_a_file_the_list_names_is_refused(listed, capsys):
    seg = listed.parent / "seg.nii.gz"
    before = seg.read_bytes()
    code, _, err = _cli(capsys, "export", listed, "-o", seg, "--force")
    assert code == 1 and "is an input" in err and seg.read_bytes() == before


def test_a_list_segmap_did_not_write_is_replaced_only_with_force(listed, tmp_path, capsys):
    curated = tmp_path / "out" / "curated.json"
    curated.parent.mkdir()
    curated.write_text('[{"name": "by hand", "series": []}]\n')
    code, _, err = _cli(capsys, "export", listed, "-o", curated)
    assert code == 1 and "Segmap did not write" in err and "--force" in err, err
    assert "by hand" in curated.read_text()
    assert replace_question(curated) is not None
    assert _cli(capsys, "export", listed, "-o", curated, "--force")[0] == 0
    assert written_by_segmap(curated) and replace_question(curated) is None
    assert _cli(capsys, "export", listed, "-o", curated)[0] == 0  # Segmap's own: no question
    curated.write_text(curated.read_text().replace("liver", "Liver"))  # edited by hand
    assert "Liver" in curated.read_text()
    code, _, err = _cli(capsys, "export", listed, "-o", curated)
    assert code == 1 and "changed since Segmap wrote it" in err


def test_build_onto_an_existing_curated_list_asks_for_force(data, tmp_path, capsys):
    curated = tmp_path / "curated.json"
    curated.write_text("[]\n")
    code, _, err = _cli(capsys, "build", data, "-o", curated, "-q")
    assert code == 1 and "Segmap did not write" in err and curated.read_text() == "[]\n"
    assert not (tmp_path / "nifti-masks").exists()  # nothing written before the refusal
    assert _cli(capsys, "build", data, "-o", curated, "-q", "--force")[0] == 0
    assert _cli(capsys, "build", data, "-o", curated, "-q")[0] == 0  # again: Segmap's own


def test_build_into_the_scanned_folder_twice_replaces_its_own_list(data, capsys):
    out = data / "built" / "items.json"  # the README's way: the list inside the data
    assert _cli(capsys, "build", data, "-o", out, "-q")[0] == 0
    assert _cli(capsys, "build", data, "-o", out, "-q")[0] == 0
    out.write_text(out.read_text().replace('"Spleen"', '"Spleen, checked"'))  # curated
    code, _, err = _cli(capsys, "build", data, "-o", out, "-q", "--force")  # and scanned
    assert code == 1 and "is an input" in err and "Spleen, checked" in out.read_text()


def test_build_onto_its_taxonomy_or_template_is_refused(data, tmp_path, capsys):
    tax = tmp_path / "tax.json"
    tax.write_text(json.dumps({"isNew": True, "objectTypes": []}))
    code, _, err = _cli(capsys, "build", data, "-o", tax, "-q", "--taxonomy", tax, "--force")
    assert code == 1 and "is an input" in err and "objectTypes" in tax.read_text()


def test_the_wizard_asks_and_then_replaces(listed, tmp_path):
    session = run(open_items(listed))
    curated = tmp_path / "curated.json"
    curated.write_text("[]\n")
    question = session.replace_question(curated)
    assert question is not None and "curated.json" in question
    with pytest.raises(OutputError, match="Segmap did not write"):
        session.export(curated)
    assert curated.read_text() == "[]\n"
    session.export(curated, replace=True)
    assert written_by_segmap(curated) and session.replace_question(curated) is None
    with pytest.raises(OutputError, match="is an input"):
        session.export(listed, replace=True)


# -- what JSON cannot hold (items 10, 14) ------------------------------------------------------


def test_a_non_utf8_name_is_a_plain_error_naming_the_output_and_the_file(tmp_path, capsys):
    folder = tmp_path / corpus.non_utf8(b"case\xff")
    image(folder / "img.nii.gz")
    items = corpus.items_list(folder, {"items": "img.nii.gz"})  # ../case\xff/ once exported
    out = tmp_path / "out" / "items.json"
    code, _, err = _cli(capsys, "export", items, "-o", out)
    assert code == 1 and str(out) in err and "case\\udcff/img.nii.gz" in err, err
    assert "task 'case'" in err and "not valid UTF-8" in err
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_build_of_a_folder_with_a_non_utf8_name_names_it(tmp_path, capsys):
    data = tmp_path / "data"
    bad = data / corpus.non_utf8(b"case\xff")
    image(bad / "ct.nii.gz", shape=SHAPE)
    nifti(bad / "ct_seg.nii.gz", labels())
    (bad / "labels.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    out = tmp_path / "out" / "items.json"
    code, _, err = _cli(capsys, "build", data, "-o", out, "-q")
    assert code == 1 and str(out) in err and "case\\udcff" in err and "UTF-8" in err, err
    assert not out.exists()


def test_a_nan_is_refused_saying_where_it_came_from(listed, tmp_path):
    out = tmp_path / "out.json"
    items = load_items(listed)
    items.tasks[0].extra["priority"] = float("nan")
    with pytest.raises(OutputError) as err:
        export_items(items, out)
    assert str(out) in err.value.message and "task 'case'" in err.value.message
    assert "`priority` is nan" in err.value.message and "NaN" in err.value.message
    items = load_items(listed)
    items.tasks[0].series[0].meta_data = {"spacing": [1.0, float("inf")]}
    with pytest.raises(OutputError, match=r"`series\[0\]\.metaData\.spacing\[1\]` is inf"):
        items.save(out)
    assert not out.exists() and not (tmp_path / "nifti-masks").exists()


def test_a_read_only_output_folder_is_a_plain_error(listed, data, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def refuse(path, *args, **kw):  # as a read-only folder answers, even to root
        if str(path).startswith(str(ro)) and args and args[0] & (os.O_WRONLY | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(os, "open", refuse)
    for argv in (["export", listed, "-o", ro / "out.json"],
                 ["build", data, "-o", ro / "items.json", "-q"]):
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and "Permission denied writing" in err and str(ro) in err, err


# -- permissions (item 16) ---------------------------------------------------------------------


@pytest.fixture
def umask():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_export_build_and_template_outputs_follow_the_umask(data, tmp_path, umask, capsys):
    out = tmp_path / "built" / "items.json"
    assert _cli(capsys, "build", data, "-o", out, "-q",
                "--save-template", tmp_path / "map.json")[0] == 0
    pacs_series(tmp_path / "pacs")
    pacs = corpus.items_list(tmp_path / "pacs", {"items": sorted(
        p.name for p in (tmp_path / "pacs").iterdir() if p.name.startswith("CT."))})
    assert _cli(capsys, "export", pacs, "-o", tmp_path / "x" / "items.json",
                "--dcm-names", "copy")[0] == 0
    written = [out, out.parent / "nifti-masks" / "case1" / "ct_seg.nii.gz", tmp_path / "map.json",
               tmp_path / "x" / "items.json",
               *(tmp_path / "x" / "dicom-renamed").rglob("*.dcm")]
    assert len(written) > 4
    for path in written:
        assert _mode(path) == 0o640, path


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_replaced_outputs_keep_their_mode(data, listed, tmp_path, umask, capsys):
    out, template = tmp_path / "b" / "items.json", tmp_path / "map.json"
    assert _cli(capsys, "build", data, "-o", out, "-q", "--save-template", template)[0] == 0
    exported = tmp_path / "e" / "items.json"
    assert _cli(capsys, "export", listed, "-o", exported)[0] == 0
    for path in (out, template, exported):
        path.chmod(0o604)
    assert _cli(capsys, "build", data, "-o", out, "-q", "--save-template", template)[0] == 0
    assert _cli(capsys, "export", listed, "-o", exported)[0] == 0
    for path in (out, template, exported):
        assert _mode(path) == 0o604, path


def test_dev_zero_as_the_list_is_refused_without_reading_it(tmp_path, capsys):
    link = tmp_path / "items.json"
    link.symlink_to("/dev/zero")
    for argv in (["validate", link], ["export", link, "-o", tmp_path / "o.json"]):
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and "character device" in err
    shutil.rmtree(tmp_path / "o.json", ignore_errors=True)


def test_build_and_export_json_reports_name_a_non_utf8_file_escaped(data, tmp_path, capsys):
    odd = data / corpus.non_utf8(b"odd\xff")
    image(odd / "scan.nii.gz", shape=SHAPE)  # unpaired: in the report, not the list
    code, out, _ = _cli(capsys, "build", data, "-o", tmp_path / "b" / "items.json", "-q", "--json")
    report = json.loads(out)
    assert code == 0 and any("odd\\udcff" in u["file"] for u in report["unpaired"])
    listed = corpus.items_list(tmp_path / "l", {"items": "x.nii.gz"})
    target = tmp_path / corpus.non_utf8(b"out\xff") / "items.json"
    code, out, _ = _cli(capsys, "export", listed, "-o", target, "--json")
    assert code == 0 and "out\\udcff" in json.loads(out)["path"]
