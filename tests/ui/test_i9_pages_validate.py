"""Issue 9 on the Validate page: no finding outlives its list; hints in the wizard's terms;
Enter goes to the finding's own label (its value in its file), and says so only where it can.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import app
from ui.pages.cases_page import CasesPage
from ui.pages.mapping_page import MappingPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage, wizard_text

APP = Path(app.__file__).parent


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def validated(qtbot, window, demo_dataset, taxonomy=True) -> ValidatePage:
    source = window.page(SourcePage)
    if taxonomy:
        source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root)
    wait_idle(qtbot, window)
    page = window.page(ValidatePage)
    window.go_to(window.page_index(page))
    wait_idle(qtbot, window)
    assert page.findings is not None
    return page


def items(page: ValidatePage):
    """(group item, finding item) of every finding in the tree."""
    tree = page.tree
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        for k in range(top.childCount()):
            yield top, top.child(k)


def finding_item(page: ValidatePage, code: str, task: str | None = None):
    return next(it for _, it in items(page)
                if (f := it.data(0, Qt.ItemDataRole.UserRole)).code == code
                and (task is None or f.task == task))


def case_of(window, shape):
    return next(c for c in window.state.session.cases if c.shape == shape)


def test_the_detail_drops_the_finding_of_a_case_left_out(qtbot, window, demo_dataset):
    page = validated(qtbot, window, demo_dataset)
    one = case_of(window, "I")
    page.tree.setCurrentItem(finding_item(page, "unmapped-value", one.name))
    assert one.name in page.detail.text()
    window.go_to(window.page_index(window.page(CasesPage)))
    window.state.edit(lambda s: s.set_included(one, False))
    # Nothing of the old list stays on the page, not even before it validates again.
    assert page.tree.topLevelItemCount() == 0 and one.name not in page.detail.text()
    window.go_to(window.page_index(page))
    wait_idle(qtbot, window)
    assert page.findings is not None and all(f.task != one.name for f in page.findings)
    assert one.name not in page.detail.text()
    assert all(top.text(0).split(" — ")[0] != one.name for top, _ in items(page))


def test_cli_hints_read_as_wizard_steps(qtbot, window, demo_dataset):
    page = validated(qtbot, window, demo_dataset, taxonomy=False)
    item = finding_item(page, "taxonomy-not-checked")
    assert item.text(0).endswith("Choose a taxonomy on the Source page.")
    page.tree.setCurrentItem(item)
    assert "Choose a taxonomy on the Source page." in page.detail.text()
    unmapped = finding_item(page, "unmapped-value")
    assert "(the upload's prune option on the Export page drops them)" in unmapped.text(0)
    shown = [it.text(0) for _, it in items(page)] + [it.toolTip(0) for _, it in items(page)]
    assert not any(re.search(r"--[a-z]", t) for t in shown), shown


def _messages() -> list[str]:
    """Every string the findings and merge errors are made of (not docstrings)."""
    out = []
    for path in [*(APP / "validate").glob("*.py"), *(APP / "merge").glob("*.py"),
                 APP / "session" / "_session.py"]:
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
                and n.body and isinstance(n.body[0], ast.Expr)}
        out += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and id(n) not in docs]
    return out


def test_every_command_line_hint_of_a_finding_has_wizard_words():
    """A new CLI option in a finding's message fails here until the wizard words it."""
    flagged = [m for m in _messages() if re.search(r"(?<![\w-])--[a-z]", m)]
    assert flagged  # the check reads the messages at all
    # RedBrick's CLI's own options (what MHD pairs, DICOM SEG masks and RT Structure Sets
    # need there) are no step of the wizard: they are said as they are, for whoever uploads
    # with that CLI.
    def own(m: str) -> str:
        return m.replace("RedBrick CLI's --mhd", "").replace("--dicom-seg", "").replace(
            "--rt-struct", "")

    left = [m for m in flagged if re.search(r"(?<![\w-])--[a-z]", own(wizard_text(m)))]
    assert not left, left


@pytest.mark.parametrize(("code", "shape", "hint"), [
    ("unmapped-value", "I", "Enter: go to this label."),
    ("overlap", "III", "Enter: go to this label."),
    ("suggestion-unreviewed", "II", "Enter: open this case on the Mapping page."),
])
def test_the_hint_says_where_enter_goes(qtbot, window, demo_dataset, code, shape, hint):
    page = validated(qtbot, window, demo_dataset, taxonomy=False)
    page.tree.setCurrentItem(finding_item(page, code, case_of(window, shape).name))
    assert page.detail.text().endswith(f"<i>{hint}</i>")


def test_whole_list_findings_have_no_hint_and_enter_stays(qtbot, window, demo_dataset):
    page = validated(qtbot, window, demo_dataset, taxonomy=False)
    item = finding_item(page, "taxonomy-not-checked")
    page.tree.setCurrentItem(item)
    assert "Enter" not in page.detail.text()
    page.tree.itemActivated.emit(item, 0)
    assert window.stack.currentWidget() is page


def selected_row(mapping: MappingPage):
    rows = mapping.table.selectionModel().selectedRows()
    assert len(rows) == 1
    return mapping.model.row_at(rows[0].row())


@pytest.mark.parametrize(("code", "shape", "value", "file"), [
    ("unmapped-value", "I", 7, "segmentation.nii.gz"),  # the value in its label map
    ("overlap", "III", None, "liver.nii.gz"),  # a group id no row has: the file's row
])
def test_enter_selects_the_findings_own_row(qtbot, window, demo_dataset, code, shape, value,
                                            file):
    page = validated(qtbot, window, demo_dataset)
    case = case_of(window, shape)
    page.tree.itemActivated.emit(finding_item(page, code, case.name), 0)
    mapping = window.page(MappingPage)
    assert window.stack.currentWidget() is mapping and mapping.case() is case
    qtbot.waitUntil(lambda: window.loader.current is not None
                    and window.loader.current.case == case.name, timeout=30_000)
    row = selected_row(mapping)
    assert [f.name for f in row.files] == [file]
    assert value is None or row.value == value
    assert mapping.model.rows().index(row) != 0  # not merely the first row


@pytest.mark.parametrize(("cli", "wizard"), [
    ("taxonomy. Pass --taxonomy TAX.json.", "taxonomy. Choose a taxonomy on the Source page."),
    ("(RedBrick's --prune-segmentations drops it)",
     "(the upload's prune option on the Export page drops it)"),
    ("With --label-validate the values", "With the upload's label-validate option the values"),
    ("or use --prune to drop the extras", "or tick the upload's prune option to drop the extras"),
    ("with .dcm names (Export page, or segmap export --dcm-names).",
     "with .dcm names (Export page)."),
    ("uploaded with the RedBrick CLI's --mhd may be lists",  # RedBrick's, said so: kept
     "uploaded with the RedBrick CLI's --mhd may be lists"),
])
def test_wizard_words(cli, wizard):
    assert wizard_text(cli) == wizard
