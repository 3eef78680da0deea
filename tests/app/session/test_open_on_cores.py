"""The wizard's scan and validation on every core for large folders (issue 14): the same
session and findings as one process; small folders stay in this process."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import app.session._open as opening
import app.session._session as sessions
from app.parallel import IN_PROCESS, Jobs
from app.progress import run
from app.session import Session, open_folder
from tests.app import synth_layouts as synth


def _summary(s: Session) -> tuple[str, list[tuple[str, list[str]]], list[str]]:
    items = json.dumps(s.items.to_json(), sort_keys=True, default=str)
    return items, [(c.name, c.warnings) for c in s.cases], s.messages


def test_small_folders_stay_in_this_process_large_ones_use_every_core(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = synth.nnunet(tmp_path / "Dataset001_X", cases=5)  # 16 files
    monkeypatch.setattr(opening, "default_jobs", lambda: 2)
    assert opening.folder_jobs(folder) == IN_PROCESS
    monkeypatch.setattr(opening, "POOL_FROM_FILES", 16)
    assert opening.folder_jobs(folder) == Jobs(2)
    monkeypatch.setattr(opening, "default_jobs", lambda: 1)
    assert opening.folder_jobs(folder) == IN_PROCESS


def test_a_folder_opened_on_processes_from_a_thread_is_the_same_session(
        tmp_path: Path) -> None:
    """From a thread, as the wizard's QThread: the workers start by the fork server."""
    folder = synth.nnunet(tmp_path / "Dataset001_X", cases=12)
    one = run(open_folder(folder, jobs=IN_PROCESS))
    out: dict[str, Session] = {}
    worker = threading.Thread(target=lambda: out.update(s=run(open_folder(folder,
                                                                          jobs=Jobs(2)))))
    worker.start()
    worker.join(120)
    assert not worker.is_alive()  # no hang
    assert _summary(out["s"]) == _summary(one)


def test_a_large_session_validates_on_every_core_with_the_same_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = synth.nnunet(tmp_path / "Dataset001_X", cases=12)
    session = run(open_folder(folder, jobs=IN_PROCESS))
    here = run(session.validate_work())
    monkeypatch.setattr(sessions, "default_jobs", lambda: 2)
    assert sessions.validation_jobs(session.included_items()) == IN_PROCESS
    monkeypatch.setattr(sessions, "POOL_FROM_SERIES", 12)
    assert sessions.validation_jobs(session.included_items()) == Jobs(2)
    assert run(session.validate_work()) == here
