"""Segmap's own outputs written into the scanned folder do not come back as data: they are
left out and the scan says so (issue 9, item 22)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

from app.cli import main
from app.discover import ScanResult, scan
from app.progress import run

from .. import synth_layouts as synth
from ..builders import dcmqi_case


def cases(r: ScanResult) -> set[tuple[str, tuple[Path, ...], tuple[Path, ...]]]:
    return {(c.name, tuple(c.image.files), tuple(c.masks)) for c in r.cases}


def own_outputs(r: ScanResult) -> dict[str, str]:
    return {x.file: x.what for x in r.own_outputs}


def notes(r: ScanResult) -> list[str]:
    return [w for w in r.warnings if "Segmap's own output" in w]


def one_case(folder: Path) -> Path:
    synth.image(folder / "p1" / "p1_ct.nii.gz")
    synth.labelmap(folder / "p1" / "p1_seg.nii.gz", (1, 2))
    (folder / "p1" / "p1_seg.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    return folder


def test_nrrd_conversions_of_a_build_into_the_folder_are_left_out(shared_data, tmp_path):
    case = dcmqi_case(shared_data, tmp_path / "ct")
    before = run(scan(tmp_path))
    assert main(["build", str(tmp_path), "-o", str(tmp_path / "items.json"), "-q"]) == 0
    assert (tmp_path / "nifti-masks" / "ct" / "liver_seg.nii.gz").is_file()
    after = run(scan(tmp_path))
    assert cases(after) == cases(before)
    assert not any("nifti-masks" in v.label for v in after.volumes)
    assert own_outputs(after) == {
        "nifti-masks/": "3 NRRD mask(s) written as NIfTI for items.json"}
    assert notes(after) == ["left out nifti-masks/: Segmap's own output (3 NRRD mask(s) "
                            "written as NIfTI for items.json)"]
    # Without the items list, the conversions still mirror the NRRD masks they came from.
    (tmp_path / "items.json").unlink()
    again = run(scan(tmp_path))
    assert cases(again) == cases(before) and list(own_outputs(again)) == ["nifti-masks/"]
    assert case.is_dir()


def test_a_users_own_nifti_masks_folder_is_scanned(tmp_path):
    synth.image(tmp_path / "p1" / "ct.nii.gz")
    synth.labelmap(tmp_path / "p1" / "nifti-masks" / "organs.nii.gz")
    r = run(scan(tmp_path))
    assert [m.name for c in r.cases for m in c.masks] == ["organs.nii.gz"]
    assert not r.own_outputs


def test_a_merged_volume_written_into_the_folder_is_no_new_case(tmp_path):
    folder = one_case(tmp_path / "data")
    before = run(scan(folder))
    items = tmp_path / "items.json"
    assert main(["build", str(folder), "-o", str(items), "-q"]) == 0
    task = json.loads(items.read_text())[0]["name"]
    merged = folder / "p1" / "merged.nii.gz"
    assert main(["merge", str(items), "--task", task, "--series", "0", "-o", str(merged)]) == 0
    after = run(scan(folder))
    assert cases(after) == cases(before)
    assert own_outputs(after) == {"p1/merged.nii.gz": "a merged label volume it wrote"}
    assert notes(after) == ["left out p1/merged.nii.gz: Segmap's own output "
                            "(a merged label volume it wrote)"]
    # A copy under any name is recognised by its header, not its name.
    shutil.copy(merged, folder / "p1" / "p1_final_seg.nii.gz")
    assert cases(run(scan(folder))) == cases(before)


def test_templates_sessions_and_journals_are_left_out(tmp_path):
    from app.session import open_folder, save_session
    from app.upload import Journal, journal_path

    folder = one_case(tmp_path)
    assert main(["build", str(folder), "-o", str(folder / "items.json"), "-q",
                 "--save-template", str(folder / "map.json")]) == 0
    save_session(run(open_folder(folder)), folder / "autosave.json")
    Journal(journal_path(folder / "items.json"), "https://rb/org/project").close()
    (folder / "other.upload-journal.jsonl").write_text('{"not": "segmap"}\n')
    r = run(scan(folder))
    assert own_outputs(r) == {"map.json": "a mapping template",
                           "autosave.json": "a saved wizard session (autosave)",
                           "items.upload-journal.jsonl": "an upload journal"}
    assert len(notes(r)) == 3
    assert len(r.cases) == 1  # and the items list itself stays a label table
    assert [t.path.name for t in r.tables if t.kind == "items list"] == ["items.json"]


def test_the_scan_json_lists_what_was_left_out(tmp_path, capsys):
    folder = one_case(tmp_path)
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    from app.readers import save_nifti

    save_nifti(img, folder / "out.nii.gz")
    assert main(["scan", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["own_outputs"] == [{"file": "out.nii.gz", "what": "a label volume it wrote"}]


def test_the_names_segmap_writes_are_the_ones_the_scan_knows():
    from app.discover import _outputs
    from app.items import CONVERTED_FOLDER, RENAMED_FOLDER
    from app.mapping._templates import FORMAT
    from app.session import SESSION_FORMAT
    from app.upload import journal_path
    from app.upload._journal import HEADER

    assert set(_outputs._FOLDERS) == {CONVERTED_FOLDER, RENAMED_FOLDER}
    assert journal_path(Path("x/items.json")).name == "items" + _outputs.JOURNAL_SUFFIX
    assert HEADER["journal"] == _outputs._JOURNAL_HEADER
    assert set(_outputs._FORMATS) == {FORMAT, SESSION_FORMAT}


def test_dicom_renamed_by_a_build_into_the_folder_is_left_out(shared_data, tmp_path):
    """segmap build DIR -o DIR/items.json --dcm-names, then a new scan: every DICOM
    instance once, the renamed copies left out and said so."""
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    folder = tmp_path / "s1"
    shutil.copytree(ref / "example_ct_dicom", folder / "dicom")
    shutil.copy(ref / "example_seg_dicom.nii.gz", folder / "seg.nii.gz")
    before = run(scan(folder))
    assert main(["build", str(folder), "-o", str(folder / "items.json"), "--dcm-names", "link",
                 "-q"]) == 0
    assert (folder / "dicom-renamed").is_dir()
    after = run(scan(folder))
    assert cases(after) == cases(before)
    assert [len(s.files) for s in after.series] == [len(s.files) for s in before.series]
    assert own_outputs(after) == {"dicom-renamed/": "20 DICOM file(s) under .dcm names for "
                                                    "items.json"}
    (folder / "items.json").unlink()  # without the list, the names still tell
    assert list(own_outputs(run(scan(folder)))) == ["dicom-renamed/"]
