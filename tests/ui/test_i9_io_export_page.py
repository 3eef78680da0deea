"""The Export page: its default target beside the source, and the offer of .dcm names."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.export import LinkMode
from app.items import RENAMED_FOLDER, load_items
from app.readers import image_grid
from app.validate import validate
from tests.app.dicom_synth import axial_positions, write_slice
from ui import errors
from ui.pages.export_page import ExportPage, default_target
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage

UIDS = [f"CT.1.2.826.0.1.3680043.8.498.{1000 + k}" for k in range(3)]


@pytest.fixture
def shown(monkeypatch):
    seen = []
    monkeypatch.setattr(errors, "show", lambda exc, details=None, parent=None: seen.append(exc))
    return seen


def open_source(qtbot, window, path: Path) -> ExportPage:
    window.page(SourcePage).open_path(path, go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    page = window.page(ExportPage)  # shown, as a user sees it (it counts what it offers then)
    window.stack.setCurrentWidget(page)
    page.enter()
    return page


def pacs_folder(root: Path) -> Path:
    """A scanned folder: a CT series named by UID (no .dcm) and a mask on its grid."""
    files = [write_slice(root / "ct" / name, series_uid="1.2.826.0.1.3680043.8.498.7",
                         position=p, instance=k + 1)
             for k, (name, p) in enumerate(zip(UIDS, axial_positions([0, 2, 4]), strict=True))]
    grid = image_grid(files)
    mask = np.zeros(grid.shape, np.uint8)
    mask[1, 1, :] = 1
    nib.save(nib.Nifti1Image(mask, grid.affine), root / "liver.nii.gz")
    return root


def test_default_target_is_beside_the_source():
    assert default_target(Path("/data/ct")) == Path("/data/ct-segmap/items.json")
    assert default_target(Path("/data/ct/items.json")) == Path("/data/ct-segmap/items.json")
    assert default_target(Path("/data/ct/list.JSON")) == Path("/data/ct-segmap/list.JSON")


def test_the_page_proposes_a_folder_beside_the_source(qtbot, window, demo_dataset):
    page = open_source(qtbot, window, demo_dataset.root)
    target = Path(page.path_edit.text())
    assert target == demo_dataset.root.parent / f"{demo_dataset.root.name}-segmap" / "items.json"
    assert demo_dataset.root not in target.parents  # never inside the (maybe shared) source
    assert page.root_edit.text() == ""  # paths relative to the list's folder
    assert page.dcm_names.isHidden()  # the demo's DICOM files end in .dcm: nothing to offer
    page = open_source(qtbot, window, demo_dataset.items_json)
    assert Path(page.path_edit.text()) == demo_dataset.root.parent / (
        f"{demo_dataset.root.name}-segmap") / "items.json"


def test_dicom_without_dcm_is_offered_dcm_names_ticked(qtbot, window, tmp_path, monkeypatch,
                                                       shown):
    source = pacs_folder(tmp_path / "pacs")
    page = open_source(qtbot, window, source)
    assert not page.dcm_names.isHidden() and page.dcm_names.isChecked()
    assert "3 DICOM file(s) without .dcm" in page.dcm_names.text()
    assert LinkMode(page.dcm_mode.currentData()) is LinkMode.HARDLINK
    # Validation reports these names as RedBrick errors today (a change for its owner):
    # the Export page's part is what it writes once export is allowed.
    monkeypatch.setattr(window.page(ValidatePage), "can_next", lambda: (True, ""))
    summary = page.export()
    assert shown == [] and summary is not None
    assert summary.path == tmp_path / "pacs-segmap" / "items.json"
    assert [r.how for r in summary.renamed] == ["hard link"] * 3
    assert "under .dcm names" in page.result.text()
    assert sorted(p.name for p in (summary.path.parent / RENAMED_FOLDER).rglob("*.dcm")) == [
        f"{u}.dcm" for u in UIDS]
    exported = load_items(summary.path)
    assert not [f for f in validate(exported) if f.code == "image-type-unsupported"]
    assert sorted(p.name for p in (source / "ct").iterdir()) == UIDS  # untouched
    # Unticked: the list keeps the names, and the page says what that means.
    page.dcm_names.setChecked(False)
    assert not page.dcm_mode.isEnabled()
    summary = page.export()
    assert summary.renamed == () and summary.not_renamed == 3
    assert "do not end in .dcm" in page.result.text()
    items = json.loads(summary.path.read_text())
    assert items[0]["series"][0]["items"][0].endswith(UIDS[0])
