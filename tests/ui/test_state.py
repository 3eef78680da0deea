"""The wizard's state announces every edit; views follow; workers never read the live session."""

from __future__ import annotations

import threading

from PySide6.QtCore import QRunnable, QThreadPool

from app.items import load_taxonomy
from app.progress import run
from app.session import RowStatus, open_folder
from ui.case_loader import CaseLoader
from ui.cases_model import COL_MAPPING, CasesModel
from ui.mapping_model import MappingTableModel
from ui.settings import Settings
from ui.state import WizardState


def _state(tmp_path, demo_dataset) -> WizardState:
    from PySide6.QtCore import QSettings

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    state = WizardState(settings, autosave_path=tmp_path / "autosave.json")
    state.set_session(run(open_folder(demo_dataset.root,
                                      load_taxonomy(demo_dataset.taxonomy_json))))
    return state


def test_an_edit_is_announced_and_every_view_of_it_follows(qtbot, tmp_path, demo_dataset):
    state = _state(tmp_path, demo_dataset)
    session = state.session
    one = next(c for c in session.cases if c.shape == "I")
    cases = CasesModel(state=state)
    cases.set_session(session)
    rows = MappingTableModel(state)
    rows.set_case(session, one)
    row = cases.row_of(one.name)
    assert "to review" in cases.data(cases.index(row, COL_MAPPING))
    # An edit made elsewhere (here: straight through the state) shows in both views.
    with qtbot.waitSignal(state.mappingChanged, check_params_cb=lambda n: n == one.name):
        change = state.edit(lambda s: s.accept(one))
    assert change.count > 0 and change.mapping == {one.name}
    assert "to review" not in cases.data(cases.index(row, COL_MAPPING))
    assert RowStatus.SUGGESTED not in {r.status for r in rows.rows()}
    with qtbot.waitSignal(state.casesChanged):
        state.edit(lambda s: s.set_included(one, False))
    assert not one.included
    # An edit that changes nothing announces nothing.
    with qtbot.assertNotEmitted(state.casesChanged):
        assert state.edit(lambda s: s.set_included(one, False)).nothing


def test_the_preview_worker_reads_a_frozen_request_not_the_live_session(qtbot, tmp_path,
                                                                      demo_dataset):
    """The request is taken when the preview is asked for; editing the mapping while the
    worker waits or runs changes nothing it reads (the next request shows the edit)."""
    state = _state(tmp_path, demo_dataset)
    session = state.session
    three = next(c for c in session.cases if c.shape == "III")
    liver = next(r for r in session.rows(three) if r.files and "liver." in r.files[0].name)
    pool = QThreadPool.globalInstance()
    old_max = pool.maxThreadCount()
    release = threading.Event()

    class Blocker(QRunnable):
        def run(self) -> None:
            release.wait(30)

    pool.setMaxThreadCount(1)
    try:
        pool.start(Blocker())  # the preview's worker queues behind it
        loader = CaseLoader()
        with qtbot.waitSignal(loader.ready, timeout=60_000) as ready:
            loader.load(session, three)
            session.set_category(three, liver, None)  # unmap the liver while it waits
            release.set()
        assert liver.key in ready.args[0].segments
    finally:
        release.set()
        pool.waitForDone(30_000)
        pool.setMaxThreadCount(old_max)
    loader.load(session, three, soon=True)  # after an edit, as the Mapping page asks
    qtbot.waitUntil(lambda: loader.current is not None and liver.key not in
                    loader.current.segments, timeout=60_000)
