"""Acceptance: the wizard walks the real data of ``../shared/data`` as a user would.

Each real dataset folder is opened, and a mixed folder built from several of them
(3 to 112 slices; NIfTI, NRRD and extension-less DICOM; binary masks and label maps;
one label map without names). Every case is shown on the Mapping and the Preview page,
forward and backward, each time from the last slice of the case before, and after
every switch everything on screen must belong to the selected case: image, labels,
legend or table, title, slice, readout. No exception may reach the excepthook (pytest-qt
fails the test) and no error dialog may open. Skips without ``../shared/data``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.app.rt_synth import write_real_ct_rt
from ui import errors
from ui.pages.mapping_page import MappingPage
from ui.pages.preview_page import PreviewPage
from ui.pages.source_page import SourcePage

DATASETS = ["totalsegmentator", "dcmqi", "highdicom", "dicom2nifti", "dcm_qa_ts",
            "dcm_qa_decubitus"]


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())


@pytest.fixture(scope="module")
def mixed_real(shared_data, tmp_path_factory) -> Path:
    """Cases from several real datasets in one folder (links; one label map written here)."""
    ts = shared_data / "totalsegmentator" / "tests" / "reference_files"
    dcmqi = shared_data / "dcmqi" / "data" / "segmentations"
    root = tmp_path_factory.mktemp("mixed-real")
    _link(ts / "example_ct_sm.nii.gz", root / "s01" / "ct.nii.gz")  # 30 slices
    _link(ts / "example_seg.nii.gz", root / "s01" / "ct_seg.nii.gz")
    for mask in sorted((ts / "example_seg_fast").glob("*.nii.gz")):  # 117 binary masks
        _link(mask, root / "s02" / "segmentations" / mask.name)
    _link(ts / "example_ct_sm.nii.gz", root / "s02" / "ct.nii.gz")
    _link(ts / "example_ct_dicom", root / "s03" / "dicom")  # 20 slices, no .dcm, JPEG 2000
    _link(ts / "example_seg_dicom.nii.gz", root / "s03" / "seg.nii.gz")
    _link(dcmqi / "ct-3slice", root / "s04" / "image")  # 3 slices, NRRD masks and label maps
    for name in ("liver_seg.nrrd", "spine_seg.nrrd", "heart_seg.nrrd", "partial_overlaps-1.nrrd",
                 "partial_overlaps-2.nrrd", "partial_overlaps-3.nrrd"):
        _link(dcmqi / name, root / "s04" / name)
    _link(ts / "example_mr_sm.nii.gz", root / "s05" / "mr.nii.gz")
    _link(ts / "example_seg_mr.nii.gz", root / "s05" / "mr_seg.nii.gz")
    # 112 slices with a label map no sidecar, header or file name names: unnamed labels.
    ct = nib.load(ts / "example_ct.nii.gz")
    hu = np.asarray(ct.dataobj)
    labels = np.where(hu > 300, 2, np.where(hu > -300, 1, 0)).astype(np.uint8)
    _link(ts / "example_ct.nii.gz", root / "s06" / "scan.nii.gz")
    nib.save(nib.Nifti1Image(labels, ct.affine), root / "s06" / "scan_labels.nii.gz")
    # A DICOM SEG and an RT Structure Set beside the NIfTI masks: each becomes binary masks.
    _link(dcmqi / "ct-3slice", root / "s07" / "ct")
    _link(dcmqi / "liver.dcm", root / "s07" / "seg" / "liver.dcm")
    write_real_ct_rt(shared_data, root / "s08")
    return root


@pytest.fixture
def no_dialogs(monkeypatch):
    shown: list[BaseException] = []
    monkeypatch.setattr(errors, "show", lambda exc, *a, **k: shown.append(exc))
    return shown


def _open(qtbot, window, folder: Path) -> None:
    window.page(SourcePage).open_path(folder, go_on=False)
    qtbot.waitUntil(lambda: not window.busy(), timeout=120_000)


def _check_shown(window, page, name: str, switched: bool) -> None:
    """Everything the page shows is of case ``name`` (``switched``: from another case)."""
    session = window.state.session
    case = session.case(name)
    widget = page.preview
    vols = widget.volumes()
    current = window.loader.current
    assert page.case_combo.currentData() == name
    assert widget.case() == name and widget.title() == name
    assert current is not None and current.case == name and vols is current.volumes
    grid = session.cache.image_grid(list(case.image.files))
    assert sorted(vols.image.shape) == sorted(grid.shape)  # this case's image, reoriented
    assert vols.labels is None or vols.labels.shape == vols.image.shape
    assert 0 <= widget.slice_index() < vols.n_slices(widget.view())
    if switched:
        assert "voxel" not in widget.readout_text()  # no position of the case before
    if isinstance(page, PreviewPage):
        listed = [int(page.legend.item(n, 0).text()) for n in range(page.legend.rowCount())]
        assert listed == [e.value for e in session.legend(case)]
        assert "Loading" not in page.status.text()
    else:
        assert page.model.case() is case
        assert page.model.rowCount() == len(page.model.rows()) > 0 or not session.rows(case)
        assert "Loading" not in page.preview_note.text()
    # Pointing at the middle of the picture reads this case's image.
    rows, cols = vols.slice(widget.view(), widget.slice_index())[0].shape
    widget.slice_view.pixelHovered.emit(rows // 2, cols // 2)
    found = re.search(r"voxel (\d+), (\d+), (\d+)", widget.readout_text())
    assert found is not None
    assert all(0 <= int(i) < n for i, n in zip(found.groups(), grid.shape, strict=True))


def _walk(qtbot, window) -> int:
    session = window.state.session
    names = [c.name for c in session.cases if c.included]
    switches = 0
    for page_cls in (MappingPage, PreviewPage):
        page = window.page(page_cls)
        window.go_to(window.page_index(page))
        for order in (names, names[::-1]):
            for name in order:
                switched = page.preview.case() != name
                page.preview.set_slice(10**6)  # from the last slice of the case before
                page.preview.slice_view.pixelHovered.emit(3, 3)
                page.case_combo.setCurrentIndex(page.case_combo.findData(name))
                qtbot.waitUntil(lambda n=name: page.preview.case() == n and not window.busy(),
                                timeout=60_000)
                _check_shown(window, page, name, switched)
                switches += 1
    return switches


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_real_dataset_opens_and_every_case_shows_whole(qtbot, window, shared_data,
                                                            no_dialogs, dataset):
    _open(qtbot, window, shared_data / dataset)
    session = window.state.session
    assert session is not None
    if not any(c.included for c in session.cases):
        # Nothing to map (DICOM SEG only, images only): the Source page says why.
        notes = window.page(SourcePage).notes.toPlainText()
        assert notes.strip(), "0 cases and no word on the Source page"
    else:
        assert _walk(qtbot, window) >= 4
    assert no_dialogs == []


def test_a_mixed_real_folder_walks_forward_and_back(qtbot, window, mixed_real, no_dialogs):
    _open(qtbot, window, mixed_real)
    session = window.state.session
    slices = {c.name: len(c.image.files) if c.image.is_dicom else
              session.cache.image_grid(list(c.image.files)).shape[2] for c in session.cases}
    assert min(slices.values()) == 3 and max(slices.values()) == 112
    assert {c.shape for c in session.cases} >= {"I", "II", "III"}
    # beside other masks, the SEG and the structure set became binary masks (shape III)
    from app.discover import derived_mask

    converted = {derived_mask(m)[0] for c in session.cases for m in c.masks
                 if derived_mask(m) is not None}
    assert converted == {"liver.dcm", "organs.dcm"}
    assert _walk(qtbot, window) == 4 * len([c for c in session.cases if c.included])
    assert no_dialogs == []


def test_a_real_ct_and_its_structure_set_kept_as_it_is_walk(qtbot, window, shared_data,
                                                            tmp_path, no_dialogs):
    """Alone, the structure set stays itself: its ROIs are the rows, shown on the CT."""
    organs = write_real_ct_rt(shared_data, tmp_path / "patient")
    _open(qtbot, window, tmp_path / "patient")
    (case,) = window.state.session.cases
    assert case.masks == [tmp_path / "patient" / "rt" / "organs.dcm"]
    assert [r.value for r in window.state.session.rows(case)] == list(
        range(1, len(organs) + 1))
    assert _walk(qtbot, window) == 4
    assert no_dialogs == []
