"""The Cases table: one row per case of the session, with an Include checkbox; the Files
table: every volume the scan found, with its role (image or mask, editable) and why."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from app.discover import RoleOverride, Volume, derived_mask
from app.errors import SegmapError
from app.items import ImportShape, mask_converted, uploadable
from app.mapping import NamePlan
from app.progress import Work
from app.readers import is_dicom_seg, is_rtstruct
from app.session import CaseState, RowStatus, Session
from ui.state import WizardState

COLUMNS = ("Include", "Case", "Task name", "Patient", "Study / series", "Modality", "Slices",
           "Masks", "Shape", "Mapping", "On export", "Warnings")
COL_INCLUDE, COL_CASE, COL_TASK, COL_PATIENT, COL_SERIES, COL_MODALITY, COL_SLICES, COL_MASKS, \
    COL_SHAPE, COL_MAPPING, COL_EXPORT, COL_WARNINGS = range(len(COLUMNS))
SHAPE_TEXT = {ImportShape.LABEL_MAP: "I  one label map",
              ImportShape.LABEL_MAPS: "II  several label maps",
              ImportShape.BINARY_MASKS: "III  binary masks"}
IndexLike = QModelIndex | QPersistentModelIndex


_SUMMARY_WORDS = ((RowStatus.ABSENT, "in no file"), (RowStatus.NOT_IN_TAXONOMY, "not in taxonomy"),
                  (RowStatus.UNMAPPED, "not mapped"), (RowStatus.SUGGESTED, "to review"),
                  (RowStatus.OK, "mapped"))


# Pale backgrounds that keep black text readable: errors red, warnings amber, review blue.
_SUMMARY_COLOUR = {RowStatus.ABSENT: (250, 215, 212), RowStatus.NOT_IN_TAXONOMY: (250, 215, 212),
                   RowStatus.UNMAPPED: (253, 236, 200), RowStatus.SUGGESTED: (222, 235, 250)}


def mapping_summary(session: Session, case: CaseState) -> tuple[str, RowStatus]:
    """(short text, worst status needing attention, else OK) of a case's mapping rows; a
    mask that cannot be read (removed, cut short since the scan) is said instead of the
    values "in no file" it makes, which do not say why (and widen the column)."""
    statuses = [r.status for r in session.rows(case)]
    worst = min((s for s in statuses if s.needs_attention), default=RowStatus.OK)
    unread = sum(session.census(m) is None for m in case.masks) \
        if worst is RowStatus.ABSENT or not statuses else 0  # (looked for only then)
    parts = [f"{unread} mask(s) unreadable"] if unread else []
    parts += [f"{n} {word}" for status, word in _SUMMARY_WORDS
              if not (unread and status is RowStatus.ABSENT) and (n := statuses.count(status))]
    return (" · ".join(parts) or "no labels"), RowStatus.ABSENT if unread else worst


NRRD_NOTE = "NRRD: written as NIfTI on export"
SEG_NOTE = "DICOM SEG: RedBrick's CLI needs --dicom-seg; Segmap's upload converts it"
DERIVED_NOTE = "converted from DICOM: copied beside the list on export"
RENAMED_NOTE = "files without .dcm: renamed on upload/export"


def mask_note(mask: Path) -> str:
    """What export and upload do to one mask file ("" when they take it as it is)."""
    if mask_converted(mask):
        return NRRD_NOTE
    if derived_mask(mask) is not None:
        return DERIVED_NOTE
    return SEG_NOTE if is_dicom_seg(mask) else ""


def export_notes(case: CaseState) -> tuple[str, list[str]]:
    """(short text, full sentences) on what export and upload do to a case's files.

    NRRD masks are written as NIfTI (RedBrick reads NIfTI masks only); DICOM files whose
    names RedBrick would not take (TotalSegmentator's ``CT.1.3...``) go under a .dcm name.
    """
    nrrd = sum(mask_converted(m) for m in case.masks)
    renamed = sum(not uploadable(f.name) for f in case.image.files) if case.image.is_dicom \
        else 0
    segs = sum(is_dicom_seg(m) for m in case.masks)
    rts = sum(is_rtstruct(m) for m in case.masks)
    short, full = [], []
    if rts:
        short.append(f"{rts} RTSTRUCT")
        full.append("RT Structure Set: kept as it is, its segmentMap keyed by ROI name; "
                    "RedBrick's CLI uploads it with `redbrick upload --rt-struct`, Segmap's "
                    "upload fills it as it does. ROIs you leave unmapped are not imported at "
                    "all. Your files are not changed.")
    if segs:
        short.append(f"{segs} DICOM SEG")
        full.append(f"DICOM SEG masks ({segs}): kept as they are; RedBrick's CLI uploads them "
                    "with `redbrick upload --dicom-seg`, Segmap's upload converts them as it "
                    "does. Your files are not changed.")
    if nrrd:
        short.append(f"{nrrd} NRRD → NIfTI")
        full.append(f"NRRD masks ({nrrd} of {len(case.masks)}): written as NIfTI on export "
                    "and upload; RedBrick reads NIfTI masks only. Your files are not changed.")
    if renamed:
        short.append(f"{renamed} renamed .dcm")
        full.append(f"DICOM files without .dcm ({renamed} of {len(case.image.files)}): renamed "
                    "on upload/export; RedBrick takes DICOM files by their name. Your files "
                    "are not changed.")
    return " · ".join(short), full


# What a case's summary reads of the disk: each mask file's version (None: not there)
Stamp = tuple[tuple[int, int, int, int] | None, ...]


def _version(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino  # ctime: its permissions


def disk_stamp(case: CaseState) -> Stamp:
    """The versions of a case's mask files: its summary is the same while they are (every
    edit of the session is announced; only the disk changes behind the table's back)."""
    return tuple(_version(m) for m in case.masks)


@dataclass(frozen=True)
class Summaries:
    """Every case of ``session`` summed up for the Cases table, in case order, with the
    versions of the files each summary read. Made with no Qt (``summarise``), so in a
    worker thread too: at 10,000 cases it is a second of the window's time once a folder
    is opened."""

    session: Session
    mapping: list[tuple[str, RowStatus]]
    notes: list[tuple[str, list[str]]]
    names: NamePlan
    stamps: list[Stamp]


def summarise(session: Session) -> Summaries:
    stamps = [disk_stamp(c) for c in session.cases]  # before reading: a later change shows
    return Summaries(session, [mapping_summary(session, c) for c in session.cases],
                     [export_notes(c) for c in session.cases], session.task_names(), stamps)


def summed_up(work: Work[Session]) -> Work[tuple[Session, Summaries]]:
    """``work``, then its session summed up in the same (worker) thread; hand both to
    ``CasesModel.prepare`` and ``WizardState.set_session``, in that order."""
    session = yield from work
    return session, summarise(session)


def task_name_tip(session: Session, case: CaseState, plan: NamePlan) -> str:
    """Where a case's task name comes from, and what happened to it on the way (``plan``:
    the session's ``task_names()``)."""
    if case.fields.name:
        how = f"Its own name: {case.fields.name}"
    elif session.name_pattern:
        how = f"From the name pattern {session.name_pattern}"
    else:
        how = "The case id (no name pattern set)"
    notes = [n for n in plan.notes if n.startswith(f"{case.name}: ")]
    return "\n".join([how, *notes, "Edit to give this task its own name (placeholders "
                       "allowed); clear it to use the pattern again"])


def series_text(case: CaseState) -> str:
    """The study and series description, in full (the table cell may cut it)."""
    img = case.image
    return " / ".join(x for x in (img.study, img.description) if x) or img.label


class CasesModel(QAbstractTableModel):
    """Cases of a session; the Include column is checkable, the Task name editable
    (``editRefused(error)`` when the session refuses a name: the page shows it)."""

    includedChanged = Signal()
    editRefused = Signal(object)

    def __init__(self, parent: Any = None, state: WizardState | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._session: Session | None = None
        self._summary: list[tuple[str, RowStatus]] = []
        self._notes: list[tuple[str, list[str]]] = []
        self._stamps: list[Stamp] = []
        self._names: NamePlan | None = NamePlan()  # every case's task name (None: to plan)
        self._rows: dict[str, int] = {}  # a case's row, by its name
        self._fresh = False  # summed up in this turn of the event loop
        self._prepared: Summaries | None = None  # of the session about to be set
        if state is not None:  # every announced change shows here
            for signal in (state.casesChanged, state.taxonomyChanged):
                signal.connect(self.refresh)
            state.mappingChanged.connect(self.refresh_case)

    def set_session(self, session: Session | None) -> None:
        self.beginResetModel()
        self._session = session
        self._summarise()
        self.endResetModel()

    def prepare(self, summaries: Summaries) -> None:
        """The summaries of the session set next (made off the window's thread): used
        instead of summing its cases up again, if it is that session, unchanged."""
        self._prepared = summaries

    def _summarise(self) -> None:
        s, ready, self._prepared = self._session, self._prepared, None
        if s is not None and (ready is None or ready.session is not s
                              or len(ready.mapping) != len(s.cases)):
            ready = summarise(s)
        self._summary = ready.mapping if ready is not None else []
        self._notes = ready.notes if ready is not None else []
        self._stamps = ready.stamps if ready is not None else []
        self._names = ready.names if ready is not None else NamePlan()
        self._rows = {c.name: i for i, c in enumerate(s.cases)} if s is not None else {}
        if not self._fresh:
            self._fresh = True
            QTimer.singleShot(0, self._go_stale)

    def _go_stale(self) -> None:
        self._fresh = False

    def refresh_case(self, name: str) -> None:
        """The mapping of case ``name`` changed: its row alone is summed up again (an
        edit of every case announces each one: a whole refresh each time was quadratic,
        minutes for "apply to all" over 1,000 cases)."""
        s = self._session
        row = self._rows.get(name)
        if s is None or row is None or len(self._summary) != len(s.cases) \
                or s.cases[row].name != name:
            self.refresh()
            return
        self._sum_up(s, [row])

    def _sum_up(self, s: Session, rows: list[int]) -> None:
        """Sum ``rows`` up again and show them."""
        for row in rows:
            self._stamps[row] = disk_stamp(s.cases[row])
            self._summary[row] = mapping_summary(s, s.cases[row])
            self._notes[row] = export_notes(s.cases[row])
        self._names = None  # a case's name can take another's: planned again when shown
        self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))
        self.dataChanged.emit(self.index(0, COL_TASK), self.index(len(s.cases) - 1, COL_TASK))

    def plan(self) -> NamePlan:
        """Every case's task name as the table shows them (planned once per change)."""
        if self._names is None:
            self._names = self._session.task_names() if self._session is not None \
                else NamePlan()
        return self._names

    def refresh(self) -> None:
        if self._session is None:
            return
        if len(self._summary) != len(self._session.cases):
            self.set_session(self._session)
            return
        self._summarise()
        if self._summary:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._summary) - 1,
                                                              len(COLUMNS) - 1))

    def refresh_if_stale(self) -> None:
        """The rows whose mask files changed on disk since they were summed up, summed up
        again (a file replaced, removed or made unreadable): a stat a mask, where summing
        every case up again took 0.5 s at 10,000 cases at each return to the page. Nothing
        when every row was summed up in this turn of the event loop (a session set and the
        page entered in one go)."""
        s = self._session
        if self._fresh or s is None:
            return
        if len(self._stamps) != len(s.cases):
            self.refresh()
            return
        changed = [i for i, c in enumerate(s.cases) if disk_stamp(c) != self._stamps[i]]
        if changed:
            self._sum_up(s, changed)

    def all_mapped(self) -> bool:
        """True when some case is included and no included case has a row needing
        attention (unmapped, unreviewed, absent, outside the taxonomy)."""
        s = self._session
        if s is not None and len(self._summary) != len(s.cases):
            self.refresh()
        included = [i for i, c in enumerate(s.cases) if c.included] if s is not None else []
        return bool(included) and all(self._summary[i][1] == RowStatus.OK for i in included)

    def has_export_notes(self) -> bool:
        """True when export or upload changes a file of some case (the On export column)."""
        return any(short for short, _ in self._notes)

    def case_at(self, row: int) -> CaseState:
        assert self._session is not None
        return self._session.cases[row]

    def row_of(self, name: str) -> int:
        if self._session is None:
            return -1
        return next((i for i, c in enumerate(self._session.cases) if c.name == name), -1)

    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self._session is None else len(self._session.cases)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: IndexLike) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_TASK and self._state is not None:
            return f | Qt.ItemFlag.ItemIsEditable
        return f | Qt.ItemFlag.ItemIsUserCheckable if index.column() == COL_INCLUDE else f

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._session is None:
            return None
        if not 0 <= index.row() < len(self._session.cases):
            return None
        case, col = self._session.cases[index.row()], index.column()
        text, worst = self._summary[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_INCLUDE:
            return Qt.CheckState.Checked if case.included else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.EditRole and col == COL_TASK:
            return case.fields.name or self.plan().names.get(case.name, case.name)
        if role == Qt.ItemDataRole.DisplayRole:
            img = case.image
            return {
                COL_CASE: case.name,
                COL_TASK: self.plan().names.get(case.name, case.name),
                COL_PATIENT: img.patient or "—",
                COL_SERIES: series_text(case),
                COL_MODALITY: img.modality or ("DICOM" if img.is_dicom else "NIfTI/NRRD"),
                COL_SLICES: str(img.slices) if img.slices else "",
                COL_MASKS: str(len(case.masks)),
                COL_SHAPE: SHAPE_TEXT[case.shape],
                COL_MAPPING: text,
                COL_EXPORT: self._notes[index.row()][0],
                COL_WARNINGS: str(len(case.warnings)) if case.warnings else "",
            }.get(col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_TASK:
                return task_name_tip(self._session, case, self.plan())
            if col == COL_MASKS:
                return "\n".join(m.name + (f"  ({n})" if (n := mask_note(m)) else "")
                                 for m in case.masks)
            if col == COL_EXPORT and self._notes[index.row()][1]:
                return "\n".join(self._notes[index.row()][1])
            if col == COL_WARNINGS and case.warnings:
                return "\n".join(case.warnings)
            if col == COL_SERIES:
                return f"{series_text(case)}\n{case.image.label}, {len(case.image.files)} file(s)"
        if role == Qt.ItemDataRole.ForegroundRole and not case.included:
            return QBrush(QColor(150, 150, 150))
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_MAPPING and case.included:
            colour = _SUMMARY_COLOUR.get(worst)
            return QBrush(QColor(*colour)) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_MAPPING and worst != RowStatus.OK:
            return QBrush(QColor(20, 20, 20))
        return None

    def setData(self, index: IndexLike, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role == Qt.ItemDataRole.EditRole and index.column() == COL_TASK:
            return self._set_task_name(index, str(value or ""))
        if (role != Qt.ItemDataRole.CheckStateRole or index.column() != COL_INCLUDE
                or self._session is None or not index.isValid()):
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) \
            else value
        case = self._session.cases[index.row()]
        if case.included == checked:
            return False
        if self._state is not None:
            self._state.edit(lambda s: s.set_included(case, checked),
                             f"{'include' if checked else 'leave out'} {case.name}", [case])
        else:
            self._session.set_included(case, checked)
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(),
                                                                     len(COLUMNS) - 1))
        self.includedChanged.emit()
        return True


    def _set_task_name(self, index: IndexLike, text: str) -> bool:
        """The user's name for a case's task, through the state (undoable; every view hears
        of it); ``SegmapError`` for an unknown placeholder, nothing changed."""
        if self._session is None or self._state is None or not index.isValid():
            return False
        case = self._session.cases[index.row()]
        if text.strip() == self._session.task_name(case) and not case.fields.name:
            return False  # the name it has already: no name of its own
        try:
            change = self._state.edit(lambda s: s.set_task_name(case, text),
                                      f"name the task of {case.name}", [case])
        except SegmapError as exc:
            self.editRefused.emit(exc)
            return False
        return not change.nothing


FILE_COLUMNS = ("File", "Role", "Why")
COL_FILE, COL_ROLE, COL_WHY = range(len(FILE_COLUMNS))
ROLES = ("image", "mask")


def scanned_volumes(session: Session | None) -> list[Volume]:
    """The volumes a folder's scan found (none for a session opened from an items list)."""
    return list(getattr(session, "volumes", None) or [])


def role_overrides(session: Session | None) -> list[RoleOverride]:
    """The user's word on roles the session's folder was scanned with."""
    return list(getattr(session, "roles", None) or [])


def volume_roles(session: Session | None) -> dict[Path, Volume]:
    """Each scanned volume by its path."""
    return {v.path: v for v in scanned_volumes(session)}


class FilesModel(QAbstractTableModel):
    """Every NIfTI / NRRD volume of the scan: its role is an editable choice, and choosing
    another asks for a rescan (``roleChosen(file, role)``, the file relative to the folder)."""

    roleChosen = Signal(str, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._volumes: list[Volume] = []

    def set_session(self, session: Session | None) -> None:
        self.beginResetModel()
        self._volumes = scanned_volumes(session)
        self.endResetModel()

    def volume_at(self, row: int) -> Volume:
        return self._volumes[row]

    def row_of(self, label: str) -> int:
        return next((i for i, v in enumerate(self._volumes) if v.label == label), -1)

    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._volumes)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FILE_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return FILE_COLUMNS[section]
        return None

    def flags(self, index: IndexLike) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return f | Qt.ItemFlag.ItemIsEditable if index.column() == COL_ROLE else f

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._volumes):
            return None
        v, col = self._volumes[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return {COL_FILE: v.label, COL_ROLE: v.role, COL_WHY: v.why}.get(col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_ROLE:
                return "Image or mask: choose the other to scan the folder again with it"
            return "\n".join(v.evidence or (v.why,)) if col == COL_WHY else str(v.path)
        return None

    def setData(self, index: IndexLike, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.EditRole or not index.isValid()
                or index.column() != COL_ROLE or value not in ROLES):
            return False
        v = self._volumes[index.row()]
        if v.role == value:
            return False
        self.roleChosen.emit(v.label, str(value))
        return True
