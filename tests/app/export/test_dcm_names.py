"""DICOM files without ``.dcm`` (PACS exports named by UID) exported under ``.dcm`` names.

RedBrick refuses ``CT.1.3.12...300000`` for its "extension" ``.300000``. On request,
export and build write a hard link (or a symbolic link, or a copy) of each such file
under its name plus ``.dcm`` into ``dicom-renamed/`` beside the list and point the list
there, so the exported list validates clean. The user's files are never touched.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.cli import main
from app.export import (
    LinkMode,
    dicom_to_rename,
    export_items,
    needs_dcm_name,
    upload_name,
)
from app.items import RENAMED_FOLDER, file_type, load_items
from app.readers import image_grid
from app.validate import validate
from tests.app.dicom_synth import axial_positions, write_slice

UIDS = [f"CT.1.2.826.0.1.3680043.8.498.{1000 + k}" for k in range(3)]


def pacs_series(folder: Path, names: list[str] = UIDS) -> list[Path]:
    """A DICOM series whose files are named by UID, as PACS exports name them."""
    return [write_slice(folder / name, series_uid="1.2.826.0.1.3680043.8.498.7",
                        position=p, instance=k + 1)
            for k, (name, p) in enumerate(zip(names, axial_positions([0, 2, 4]), strict=True))]


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """``src/`` with the series and a mask on its grid; ``src/items.json`` lists them."""
    files = pacs_series(tmp_path / "src" / "ct")
    grid = image_grid(files)
    mask = np.zeros(grid.shape, np.uint8)
    mask[1, 1, :] = 1
    nib.save(nib.Nifti1Image(mask, grid.affine), tmp_path / "src" / "seg.nii.gz")
    (tmp_path / "src" / "items.json").write_text(json.dumps([{"name": "c", "series": [{
        "items": [f"ct/{f.name}" for f in files], "segmentations": "seg.nii.gz",
        "segmentMap": {"1": "liver"}}]}]))
    return tmp_path / "src"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def image_codes(items) -> list[str]:
    return [f.code for f in validate(items) if f.code.startswith("image")]


def test_which_files_need_a_dcm_name(tmp_path):
    dicom = pacs_series(tmp_path, ["CT.1.2.3.300000", "IM0001", "slice.dcm"])
    (tmp_path / "notes.300000").write_bytes(b"not dicom")
    assert [needs_dcm_name(p) for p in dicom] == [True, False, False]  # no dot, .dcm: fine
    assert not needs_dcm_name(tmp_path / "notes.300000")  # refused, but not DICOM
    assert not needs_dcm_name(tmp_path / "missing.300000")
    assert upload_name(dicom[0]) == "CT.1.2.3.300000.dcm"
    assert file_type(upload_name(dicom[0])) == "application/dicom"
    assert upload_name(dicom[1]) == "IM0001"


def test_export_writes_hard_links_under_dcm_names_and_validates_clean(case, tmp_path):
    before = snapshot(case)
    items = load_items(case / "items.json")
    assert image_codes(items) == ["image-dcm-name"]  # a warning: Segmap renames them
    assert [p.name for p in dicom_to_rename(items)] == UIDS
    summary = export_items(items, tmp_path / "out" / "items.json", dcm_names=LinkMode.HARDLINK)
    folder = tmp_path / "out" / RENAMED_FOLDER / "ct"
    assert [r.target for r in summary.renamed] == [folder / f"{u}.dcm" for u in UIDS]
    assert all(r.how == "hard link" and r.written for r in summary.renamed)
    for r in summary.renamed:
        assert os.path.samefile(r.source, r.target)
    text = summary.renamed_text()
    assert text.startswith(f"Wrote 3 DICOM file(s) under .dcm names in {folder.parent} "
                           "(3 hard links)")
    out = json.loads((tmp_path / "out" / "items.json").read_text())
    assert out[0]["series"][0]["items"] == [f"{RENAMED_FOLDER}/ct/{u}.dcm" for u in UIDS]
    assert out[0]["series"][0]["segmentations"] == "../src/seg.nii.gz"
    exported = load_items(tmp_path / "out" / "items.json")
    assert image_codes(exported) == [] and dicom_to_rename(exported) == []
    assert not [f for f in validate(exported) if f.is_error]
    assert snapshot(case) == before  # the user's files as they were
    assert summary.to_json()["renamed"][0]["how"] == "hard link"
    # Again: the links are there already and are kept.
    again = export_items(items, tmp_path / "out" / "items.json", dcm_names=LinkMode.HARDLINK)
    assert not any(r.written for r in again.renamed)
    assert again.renamed_text().startswith("Kept 3 DICOM file(s)")


@pytest.mark.parametrize("mode, how", [(LinkMode.COPY, "copy"), (LinkMode.SYMLINK,
                                                                 "symbolic link")])
def test_copies_or_symbolic_links(case, tmp_path, mode, how):
    items = load_items(case / "items.json")
    summary = export_items(items, tmp_path / "out" / "items.json", dcm_names=mode)
    for r in summary.renamed:
        assert r.how == how and r.target.read_bytes() == r.source.read_bytes()
        assert r.target.is_symlink() == (mode is LinkMode.SYMLINK)
        assert os.path.samefile(r.source, r.target) == (mode is LinkMode.SYMLINK)
    exported = load_items(tmp_path / "out" / "items.json")
    assert image_codes(exported) == []
    # Changing the mode rewrites the names as asked.
    summary = export_items(items, tmp_path / "out" / "items.json", dcm_names=LinkMode.HARDLINK)
    assert all(r.written and r.how == "hard link" for r in summary.renamed)


def test_links_fall_back_to_copies(case, tmp_path, monkeypatch):
    def no_links(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    summary = export_items(load_items(case / "items.json"), tmp_path / "out" / "items.json",
                           dcm_names=LinkMode.HARDLINK)
    assert [r.how for r in summary.renamed] == ["copy"] * 3
    assert "(3 copies)" in summary.renamed_text()
    assert all(not os.path.samefile(r.source, r.target) for r in summary.renamed)


def test_without_the_option_the_export_says_what_to_do(case, tmp_path):
    summary = export_items(load_items(case / "items.json"), tmp_path / "out" / "items.json")
    assert summary.renamed == () and summary.not_renamed == 3
    assert "--dcm-names" in summary.renamed_text()
    assert not (tmp_path / "out" / RENAMED_FOLDER).exists()


def test_cli_export_and_build(case, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "exp" / "items.json"
    assert main(["export", str(case / "items.json"), "-o", str(out)]) == 0
    assert "3 DICOM file(s) do not end in .dcm" in capsys.readouterr().out
    assert main(["export", str(case / "items.json"), "-o", str(out), "--dcm-names"]) == 0
    assert "Wrote 3 DICOM file(s) under .dcm names" in capsys.readouterr().out
    assert main(["export", str(case / "items.json"), "-o", str(out), "--dcm-names", "copy",
                 "--json"]) == 0
    assert {r["how"] for r in json.loads(capsys.readouterr().out)["renamed"]} == {"copy"}
    (case / "items.json").unlink()  # build scans the folder itself
    built = tmp_path / "built" / "items.json"
    assert main(["build", str(case), "-o", str(built), "-q"]) == 0
    assert "build again with --dcm-names" in capsys.readouterr().out
    assert main(["build", str(case), "-o", str(built), "-q", "--dcm-names"]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote 3 DICOM file(s) under .dcm names in {built.parent / RENAMED_FOLDER}" in printed
    # Mirrored under the scanned folder, as NRRD conversions are.
    assert sorted(p.name for p in (built.parent / RENAMED_FOLDER / "ct").iterdir()) == [
        f"{u}.dcm" for u in UIDS]
    assert image_codes(load_items(built)) == []


def test_a_bad_mode_is_a_usage_error(case, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(case / "items.json"), "-o", str(tmp_path / "o.json"),
              "--dcm-names", "move"])
    assert exit_.value.code == 2
    assert "--dcm-names" in capsys.readouterr().err


def test_totalsegmentator_ct_exports_clean(shared_data, tmp_path):
    """The real case: TotalSegmentator's extension-less JPEG 2000 CT and its segmentation."""
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    files = sorted((ref / "example_ct_dicom").iterdir())
    (tmp_path / "items.json").write_text(json.dumps([{"name": "ts", "series": [{
        "items": [str(f) for f in files], "segmentations": str(ref / "example_seg_dicom.nii.gz"),
        "segmentMap": {"1": "spleen"}}]}]))
    items = load_items(tmp_path / "items.json")
    assert len(dicom_to_rename(items)) == len(files) == 20
    assert image_codes(items) == ["image-dcm-name"]
    summary = export_items(items, tmp_path / "out" / "items.json", dcm_names=LinkMode.HARDLINK)
    assert len(summary.renamed) == 20
    exported = load_items(tmp_path / "out" / "items.json")
    assert image_codes(exported) == []
    assert not [f for f in validate(exported) if f.is_error]
    renamed = [Path(exported.resolve(p)) for p in exported.tasks[0].series[0].item_paths]
    assert all(p.name.endswith(".dcm") for p in renamed)
    original, copy = image_grid(files), image_grid(renamed)
    assert original.shape == copy.shape and np.allclose(original.affine, copy.affine)
