"""Tasks already in a RedBrick project, as the wizard keeps them (issue 13).

``RemoteTasks`` is part of the wizard's state (``WizardState.remote``): the project
chosen (its destination; the API key in memory only, never in settings, autosave or
logs), its tasks and stages as listed, how local cases find their task (``MatchBy``,
with the CSV file for CSV), and what each included case matched. The match is
``app.upload.match_tasks`` on a worker (its grid check reads mask headers; the newest
request wins), run again whenever the tasks, the mode or the cases change. Views
read this object and listen to ``tasksChanged`` and ``matchChanged``; only the state
changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.errors import SegmapError
from app.items import ItemsList, task_label
from app.progress import Progress, Work
from app.session import CaseState, Session
from app.upload import (
    Credentials,
    Destination,
    LabelOptions,
    MatchBy,
    MatchResult,
    Project,
    RedBrickClient,
    RemoteTask,
    TaskCache,
    UploadReport,
    attach_labels,
    get_project,
    match_tasks,
)
from ui.worker import LatestRequest

MATCH_WORDS = {MatchBy.NAME: "task name", MatchBy.SERIES: "series name",
               MatchBy.UID: "DICOM UID", MatchBy.CSV: "CSV file"}


@dataclass(frozen=True)
class Listed:
    """What listing a project gave: the project (name, stages) and its tasks."""

    destination: Destination
    project: Project
    tasks: list[RemoteTask]


def list_project(destination: Destination, credentials: Credentials, cache: TaskCache,
                 refresh: bool = False) -> Work[Listed]:
    """The project and its tasks (from ``cache`` unless ``refresh``); long work."""
    client = RedBrickClient(credentials.api_key, destination.url)
    try:
        yield Progress(0, 2, "Reading the RedBrick project")
        project = get_project(client, destination.org_id, destination.project_id)
        yield Progress(1, 2, f"Listing the tasks of {project.name}")
        tasks = cache.get(client, destination, refresh=refresh)
        return Listed(destination, project, tasks)
    finally:
        client.close()


class Fit(StrEnum):
    """What a case found in the project."""

    MATCHED = "matched"
    UNMATCHED = "no task"
    AMBIGUOUS = "ambiguous"
    REFUSED = "refused"
    LEFT_OUT = "left out"
    PENDING = "matching"


@dataclass(frozen=True)
class CaseTask:
    """A case's remote task, or why it has none (``why``: for people; ``how`` it matched)."""

    fit: Fit
    remote: RemoteTask | None = None
    why: str = ""

    @property
    def text(self) -> str:
        """The Cases table's cell: name · stage · has labels, else what went wrong."""
        if self.fit is Fit.MATCHED and self.remote is not None:
            r = self.remote
            return " · ".join([r.name, r.stage or "no stage",
                               *(["has labels"] if r.has_labels else [])])
        if self.fit is Fit.LEFT_OUT:
            return "— (case left out)"
        if self.fit is Fit.PENDING:
            return "matching…"
        return f"{self.fit}: {self.why}"

    @property
    def tip(self) -> str:
        if self.fit is not Fit.MATCHED or self.remote is None:
            return self.text
        r = self.remote
        lines = [f"RedBrick task {r.name} ({r.task_id})", f"Stage: {r.stage or 'none'}",
                 f"Matched by {self.why}"]
        if r.assignee:
            lines.append(f"Assigned to {r.assignee}")
        if r.has_labels:
            lines.append("It has labels already: attaching replaces them (you are asked first)")
        return "\n".join(lines)


def _case_tasks(names: list[str], result: MatchResult) -> dict[str, CaseTask]:
    """Each included case's CaseTask, from a match of their tasks (in ``names`` order)."""
    out = {n: CaseTask(Fit.UNMATCHED, why="it fits no task") for n in names}
    for m in result.matches:
        out[names[m.task_index]] = CaseTask(Fit.MATCHED, m.remote, m.how)
    for ti, why in result.unmatched_local:
        out[names[ti]] = CaseTask(Fit.UNMATCHED, why=why)
    for ti, fits in result.ambiguous:
        said = ", ".join(repr(r.name) for r in fits[:3]) + (" …" if len(fits) > 3 else "")
        why = (f"fits {len(fits)} tasks ({said})" if len(fits) > 1
               else f"another case fits {said} too")
        out[names[ti]] = CaseTask(Fit.AMBIGUOUS, fits[0] if len(fits) == 1 else None, why)
    for ti, why in result.refused:
        out[names[ti]] = CaseTask(Fit.REFUSED, why=why.removeprefix("Not sent: "))
    return out


def included_tasks(session: Session) -> tuple[list[str], ItemsList]:
    """The included cases' names and their tasks as RedBrick gets them (names, fields)."""
    cases = [c for c in session.cases if c.included]
    plan = session.task_names()
    items = ItemsList([session.task_fields(c, plan)[0] for c in cases], session.items.path,
                      session.items.root)
    return [c.name for c in cases], items


def _attach(items: ItemsList, tasks: list[RemoteTask], by: MatchBy, csv_path: Path | None,
            destination: Destination, credentials: Credentials, options: LabelOptions,
            only: frozenset[int] | None) -> Work[UploadReport]:
    """Match ``items`` (the exported list) as the Cases page did, then attach the labels of
    the matched tasks (only those at the indices ``only``, when given)."""
    yield Progress(0, 0, "Matching the list's tasks to the project's")
    result = match_tasks(items, tasks, by, csv_path=csv_path)
    matches = [m for m in result.matches if only is None or m.task_index in only]
    if not matches:
        raise SegmapError("No task of the exported list matches a task in the project; "
                          "nothing was sent.",
                          "The Cases page's RedBrick task column says why for each case.")
    report = yield from attach_labels(items, matches, destination, credentials, options)
    left = [i for i, _ in (*result.unmatched_local, *result.ambiguous, *result.refused)]
    if left and only is None:  # a retry is of the failed tasks only: these were said before
        names = ", ".join(task_label(items.tasks[i]) or f"task {i}" for i in sorted(left))
        report.notes.append(f"Not sent, matched to no task ({len(left)}): {names}. The Cases "
                            "page's RedBrick task column says why.")
    return report


def _match(names: list[str], items: ItemsList, tasks: list[RemoteTask], by: MatchBy,
           csv_path: Path | None) -> tuple[dict[str, CaseTask], list[RemoteTask]]:
    result = match_tasks(items, tasks, by, csv_path=csv_path)
    return _case_tasks(names, result), result.unmatched_remote


class RemoteTasks(QObject):
    """The project whose tasks get the labels, its tasks, the match mode and the match."""

    tasksChanged = Signal()  # a project was listed (or forgotten)
    matchChanged = Signal()  # the match (or its mode) changed, or a new match began

    def __init__(self, session: Callable[[], Session | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.cache = TaskCache()
        self.destination: Destination | None = None
        self.credentials: Credentials | None = None  # in memory only
        self.project: Project | None = None
        self.tasks: list[RemoteTask] | None = None
        self.by = MatchBy.NAME
        self.csv_path: Path | None = None
        self.matching = False
        self.error: str | None = None  # why the last match could not be made
        self.unmatched: list[RemoteTask] = []  # remote tasks no included case matched
        self._cases: dict[str, CaseTask] = {}
        self._request = LatestRequest(self)
        self._request.finished.connect(self._on_match_finished)
        self._request.failed.connect(self._on_match_failed)

    @property
    def chosen(self) -> bool:
        """True when the labels go onto tasks already in a project (it was listed)."""
        return self.tasks is not None

    def set_listed(self, listed: Listed, credentials: Credentials) -> None:
        """Use ``listed``'s project and tasks (their labels attached with ``credentials``)."""
        self.destination, self.project, self.tasks = (listed.destination, listed.project,
                                                      listed.tasks)
        self.credentials = credentials
        self.tasksChanged.emit()
        self.rematch()

    def forget(self) -> None:
        """Back to creating new tasks: no project, no match."""
        self.destination = self.project = self.tasks = self.credentials = None
        self._request.cancel()
        self.tasksChanged.emit()
        self.rematch()

    def set_match_by(self, by: MatchBy, csv_path: Path | None = None) -> None:
        self.by, self.csv_path = by, csv_path if by is MatchBy.CSV else None
        self.rematch()

    def listing(self, refresh: bool = False) -> Work[Listed] | None:
        """Listing the chosen project again (None when none is chosen)."""
        if self.destination is None or self.credentials is None:
            return None
        return list_project(self.destination, self.credentials, self.cache, refresh)

    def rematch(self) -> None:
        """Match the session's included cases again, on a worker (the newest wins)."""
        session = self._session()
        self.error = None
        self.unmatched = []
        if session is None or self.tasks is None or (self.by is MatchBy.CSV
                                                     and self.csv_path is None):
            self._request.cancel()
            self.matching = False
            self._cases = {}
            self.matchChanged.emit()
            return
        names, items = included_tasks(session)
        tasks, by, csv_path = list(self.tasks), self.by, self.csv_path
        self.matching = True
        self._cases = {n: CaseTask(Fit.PENDING) for n in names}
        self.matchChanged.emit()
        self._request.request(lambda: _match(names, items, tasks, by, csv_path))

    def _on_match_finished(self, result: tuple[dict[str, CaseTask], list[RemoteTask]]) -> None:
        self._cases, self.unmatched = result
        self.matching = False
        self.matchChanged.emit()

    def _on_match_failed(self, exc: BaseException, _tb: str) -> None:
        self.matching = False
        self._cases = {}
        self.error = (f"{exc.message} {exc.hint or ''}".strip() if isinstance(exc, SegmapError)
                      else f"Matching failed: an internal error ({type(exc).__name__}: {exc}).")
        self.matchChanged.emit()

    def attaching(self, items: ItemsList, options: LabelOptions, only: frozenset[int] | None,
                  credentials: Credentials | None = None) -> Work[UploadReport]:
        """The labels of ``items`` attached to their tasks in the chosen project (long work),
        with ``credentials`` or the key the tasks were listed with."""
        creds = credentials or self.credentials
        if self.tasks is None or self.destination is None or creds is None:
            raise SegmapError("Choose the RedBrick project whose tasks get the labels first.",
                              "On the Source page: Label tasks already in RedBrick.")
        return _attach(items, list(self.tasks), self.by, self.csv_path, self.destination, creds,
                       options, only)

    # ------------------------------------------------------------------- reading
    def of(self, case: CaseState) -> CaseTask:
        """What ``case`` matched (left out, when it is not included)."""
        if not case.included:
            return CaseTask(Fit.LEFT_OUT)
        if self.error is not None:
            return CaseTask(Fit.UNMATCHED, why="the match could not be made (said below)")
        return self._cases.get(case.name, CaseTask(Fit.PENDING))

    def matched(self) -> list[CaseTask]:
        """The included cases' matches, in case order of the last match."""
        return [c for c in self._cases.values() if c.fit is Fit.MATCHED]

    def summary(self) -> str:
        """One line on the project and the match, for the Source page and the Export page."""
        if self.tasks is None or self.project is None:
            return ""
        labelled = sum(t.has_labels for t in self.tasks)
        line = (f"Project {self.project.name}: {len(self.tasks)} task(s) found"
                + (f", {labelled} with labels" if labelled else ""))
        if self.error is not None:
            return f"{line}. {self.error}"
        if self._session() is None:
            return f"{line}; open the folder or items list of their masks to match them."
        if self.matching:
            return f"{line}; matching by {MATCH_WORDS[self.by]}…"
        if self.by is MatchBy.CSV and self.csv_path is None:
            return f"{line}; choose the CSV file that joins masks to tasks."
        return (f"{line}; {len(self.matched())} of {len(self._cases)} included case(s) matched "
                f"by {MATCH_WORDS[self.by]}.")
