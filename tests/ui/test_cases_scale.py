"""The wizard's tables at dataset size: an edit of every case ("apply to all", a template, a
code) announces each case it changed, and each announcement costs that case, not the whole
list again, and what looks at the whole list (the window's steps, the validation) looks once
per edit (it was quadratic: "apply to all" over 1,000 cases froze the window for 201 s)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

import ui.cases_model
from ui.cases_model import mapping_summary
from ui.pages.source_page import SourcePage

N = 30


def nnunet_folder(root: Path) -> Path:
    """N cases of a tiny image and a label map of values 1-3 (the same label set)."""
    for k in range(N):
        labels = np.zeros((8, 8, 4), np.uint8)
        labels[1:3, 1:3, 1], labels[4:6, 4:6, 2], labels[6, 6, 3] = 1, 2, 3
        for folder, name, data in (("imagesTr", f"case_{k:03d}_0000", labels.astype(np.int16)),
                                   ("labelsTr", f"case_{k:03d}", labels)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(data, np.eye(4)), root / folder / f"{name}.nii.gz")
    return root


def test_apply_to_all_sums_up_each_changed_case_once(qtbot, window, tmp_path, monkeypatch):
    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"), go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    state, model = window.state, window.pages[1].model
    session = state.session
    first = session.cases[0]
    row = session.rows(first)[0]
    state.edit(lambda s: s.set_category(first, row, "Liver"), "map by hand", [first])
    calls: list[str] = []

    def counted(s, case):
        calls.append(case.name)
        return mapping_summary(s, case)

    monkeypatch.setattr(ui.cases_model, "mapping_summary", counted)
    asked: list[bool] = []  # the window's buttons and steps ask whether every case is mapped
    all_mapped = type(model).all_mapped
    monkeypatch.setattr(type(model), "all_mapped",
                        lambda self: asked.append(all_mapped(self)) or asked[-1])
    change = state.edit(lambda s: s.apply_mapping(first), "apply to all")
    assert len(change.mapping) == N - 1
    assert len(calls) <= 2 * N  # each changed case once (and, at most, one whole refresh)
    assert 0 < len(asked) < N  # once per edit (each step's check), not once per case
    for i, case in enumerate(session.cases):  # and every row says its case's mapping
        assert model._summary[i] == mapping_summary(session, case), case.name
    assert state.current_case() is first
