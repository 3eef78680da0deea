"""Pair the tasks of a local items list with tasks already in a RedBrick project.

Four ways (``MatchBy``):

* NAME: the local task's name as RedBrick gives it (``task_label``: its ``name``, else its
  first image path) equals a remote task's name; exactly first, then, for remote tasks no
  exact name took, ignoring case and runs of spaces;
* SERIES: a local series name equals (exactly) a remote series name; unnamed series are
  skipped (RedBrick keeps them unnamed, so there is nothing to compare);
* UID: the SeriesInstanceUID of the local DICOM image (headers only) equals a remote
  series'; else its StudyInstanceUID equals that of a remote series whose
  SeriesInstanceUID is unknown; a NIfTI or NRRD image has neither, and says so;
* CSV: a CSV or TSV with columns ``task`` (name or id) and ``mask_path`` (``_match_csv``).

A local task fitting several remote tasks, or two local tasks fitting one, are
``ambiguous``; nothing is guessed. Each match's masks are then checked against the
remote series' grid (``_match_grid``); one that does not fit is ``refused``. Nothing
here talks to the network: the remote tasks come from ``_tasks``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from app.items import ItemsList, task_label
from app.upload._match_csv import MatchCsvError, read_match_csv
from app.upload._match_grid import Images, mask_files, task_grid_problems
from app.upload._remote import RemoteTask


class MatchBy(StrEnum):
    NAME = "name"  # the local task's name equals the remote task's name
    SERIES = "series"  # a local series name equals a series name of the remote task
    UID = "uid"  # the local image's SeriesInstanceUID (else StudyInstanceUID) equals the remote's
    CSV = "csv"  # a CSV with columns task,mask_path joins mask files to remote tasks


@dataclass(frozen=True)
class Match:
    """A local task (its index in the items list) and the remote task it labels."""

    task_index: int
    remote: RemoteTask
    how: str  # for people: "task name", "series name 'CT'", "SeriesInstanceUID", "CSV row 3"
    # what the masks' grids were checked against, for people (None: not checked)
    grid: str | None = None


@dataclass
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    # local tasks left out, each with the reason, for people (index, reason)
    unmatched_local: list[tuple[int, str]] = field(default_factory=list)
    # local tasks that fit more than one remote task, or a remote task another local task
    # fits too (the list is then that one task): none of those is used
    ambiguous: list[tuple[int, list[RemoteTask]]] = field(default_factory=list)
    # matched, but the masks do not fit the remote series' grid: nothing is sent for these
    refused: list[tuple[int, str]] = field(default_factory=list)
    # remote tasks no match took (those of ambiguous local tasks too)
    unmatched_remote: list[RemoteTask] = field(default_factory=list)


@dataclass
class _Fits:
    """What one way found: the remote tasks (by index) each local task fits, with how, and
    why the others fit none."""

    fits: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    def add(self, ti: int, ri: int, how: str) -> None:
        got = self.fits.setdefault(ti, [])
        if all(r != ri for r, _ in got):
            got.append((ri, how))


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


_SUGGEST_AMONG = 2000  # beyond this many names, finding the closest costs more than it helps


def _closest(name: str, names: Sequence[str]) -> str:
    """`` (the closest is 'x')`` for a message, or nothing."""
    if len(names) > _SUGGEST_AMONG:
        return ""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
    return f" (the closest is {close[0]!r})" if close else ""


def _by_name(items: ItemsList, remote: Sequence[RemoteTask]) -> _Fits:
    """Exact names first; then, for remote tasks no exact name took, the same name ignoring
    case and runs of spaces (each such fit is one candidate; two make it ambiguous)."""
    out = _Fits()
    exact: dict[str, list[int]] = {}
    folded: dict[str, list[int]] = {}
    for ri, r in enumerate(remote):
        exact.setdefault(r.name, []).append(ri)
        folded.setdefault(_fold(r.name), []).append(ri)
    labels = [task_label(t) for t in items.tasks]
    taken = {ri for label in labels if label is not None for ri in exact.get(label, [])}
    every = [r.name for r in remote]
    for ti, label in enumerate(labels):
        if label is None:
            out.reasons[ti] = "it has no name and no image path, so there is no name to match"
            continue
        for ri in exact.get(label, []):
            out.add(ti, ri, "task name")
        if ti in out.fits:
            continue
        for ri in folded.get(_fold(label), []):
            if ri not in taken:
                out.add(ti, ri, f"task name, ignoring case and spaces ({remote[ri].name!r})")
        if ti not in out.fits:
            out.reasons[ti] = f"no task in the project is named {label!r}{_closest(label, every)}"
    return out


def _by_series(items: ItemsList, remote: Sequence[RemoteTask]) -> _Fits:
    """A local series name equal (exactly) to a remote series name."""
    out = _Fits()
    named: dict[str, list[int]] = {}
    for ri, r in enumerate(remote):
        for name in dict.fromkeys(r.series_names):
            named.setdefault(name, []).append(ri)
    for ti, task in enumerate(items.tasks):
        names = [s.name for s in task.series if s.name]
        if not names:
            out.reasons[ti] = ("none of its series has a name (RedBrick keeps an unnamed series "
                               "without one, so there is nothing to match); name the series, or "
                               "match by task name, UID or CSV")
            continue
        for name in names:
            for ri in named.get(name, []):
                out.add(ti, ri, f"series name {name!r}")
        if ti not in out.fits:
            said = ", ".join(repr(n) for n in names)
            out.reasons[ti] = (f"no remote task has a series named {said}"
                               f"{_closest(names[0], list(named))}")
    return out


def _by_uid(items: ItemsList, remote: Sequence[RemoteTask], images: Images) -> _Fits:
    """SeriesInstanceUID; StudyInstanceUID only against remote series whose own
    SeriesInstanceUID is unknown (a known, different one is another series)."""
    out = _Fits()
    by_series: dict[str, list[int]] = {}
    by_study: dict[str, list[int]] = {}
    for ri, r in enumerate(remote):
        for s in r.series:
            if s.series_uid:
                by_series.setdefault(s.series_uid, []).append(ri)
            elif s.study_uid:
                by_study.setdefault(s.study_uid, []).append(ri)
    for ti, task in enumerate(items.tasks):
        notes: list[str] = []
        for si in range(len(task.series)):
            image = images.get(ti, si)
            if image.error is not None:
                notes.append(f"series {si}: {image.error}")
            elif not image.dicom:
                notes.append(f"series {si}: its image is NIfTI or NRRD, which carries no DICOM "
                             "UIDs (match by task name, series name or CSV)")
            elif image.series_uid in by_series:
                for ri in by_series[image.series_uid]:
                    out.add(ti, ri, "SeriesInstanceUID")
            elif image.study_uid in by_study:
                for ri in by_study[image.study_uid]:
                    out.add(ti, ri, "StudyInstanceUID (the remote series has no "
                            "SeriesInstanceUID)")
            else:
                uids = [f"{what} {uid}" for what, uid in (
                    ("SeriesInstanceUID", image.series_uid), ("StudyInstanceUID", image.study_uid))
                    if uid]
                notes.append(f"series {si}: no remote series has its " + " or ".join(uids)
                             if uids else f"series {si}: its DICOM files carry no UIDs")
        if ti not in out.fits:
            out.reasons[ti] = "; ".join(notes) or "it has no series"
    return out


def _by_csv(items: ItemsList, remote: Sequence[RemoteTask], csv_path: Path) -> _Fits:
    rows = read_match_csv(csv_path)
    owners: dict[Path, list[int]] = {}
    for ti, task in enumerate(items.tasks):
        for si in range(len(task.series)):
            for f in mask_files(items, task, si):
                owners.setdefault(f.resolve(), []).append(ti)
    by_id = {r.task_id: ri for ri, r in enumerate(remote)}
    by_name: dict[str, list[int]] = {}
    for ri, r in enumerate(remote):
        by_name.setdefault(r.name, []).append(ri)
    out = _Fits()
    problems: dict[int, list[str]] = {}
    for row in rows:
        tis = owners.get(row.mask)
        if tis is None:
            raise MatchCsvError(
                f"{csv_path}, row {row.line}: the mask {row.written} ({row.mask}) is not a "
                "segmentation of any task of the items list.",
                "mask_path is relative to the CSV's folder (or absolute); make it name a file "
                "listed in the items list's `segmentations`, or delete the row.")
        ris = [by_id[row.task]] if row.task in by_id else by_name.get(row.task, [])
        for ti in dict.fromkeys(tis):
            if not ris:
                problems.setdefault(ti, []).append(
                    f"{csv_path.name} row {row.line} names the task {row.task!r}, which is not "
                    f"in the project{_closest(row.task, list(by_name))}")
            for ri in ris:
                out.add(ti, ri, f"CSV row {row.line}")
    for ti in range(len(items.tasks)):
        if ti in problems:  # its masks go up together: one unknown task holds back the rest
            out.fits.pop(ti, None)
            out.reasons[ti] = "; ".join(problems[ti])
        elif ti not in out.fits:
            out.reasons[ti] = f"no row of {csv_path.name} names any of its masks"
    return out


def _resolve(found: _Fits, remote: Sequence[RemoteTask], n: int) -> MatchResult:
    """Matches where a local task fits one remote task that no other local task fits."""
    result = MatchResult()
    claims: dict[int, int] = {}
    for fits in found.fits.values():
        if len(fits) == 1:
            claims[fits[0][0]] = claims.get(fits[0][0], 0) + 1
    matched: set[int] = set()
    for ti in range(n):
        fits = found.fits.get(ti, [])
        if not fits:
            result.unmatched_local.append((ti, found.reasons.get(ti, "it fits no remote task")))
        elif len(fits) > 1 or claims[fits[0][0]] > 1:
            result.ambiguous.append((ti, [remote[ri] for ri, _ in fits]))
        else:
            result.matches.append(Match(ti, remote[fits[0][0]], fits[0][1]))
            matched.add(fits[0][0])
    result.unmatched_remote = [r for ri, r in enumerate(remote) if ri not in matched]
    return result


def _check_grids(result: MatchResult, images: Images) -> None:
    """Move matches whose masks do not fit the remote series' grid to ``refused``."""
    kept: list[Match] = []
    for m in result.matches:
        problems, against = task_grid_problems(images, m.task_index, m.remote)
        if problems:
            said = "; ".join(p.rstrip(".") for p in problems)
            result.refused.append((m.task_index, f"Not sent: {said}."))
        else:
            kept.append(replace(m, grid=against))
    result.matches = kept


def match_tasks(items: ItemsList, remote: Sequence[RemoteTask], by: MatchBy, *,
                csv_path: Path | None = None, root: Path | None = None,
                check_grid: bool = True) -> MatchResult:
    """Pair the tasks of ``items`` with ``remote`` tasks ``by`` one of the four ways.

    A local task fitting several remote tasks, or a remote task fitted by several local
    tasks, is ``ambiguous`` (never matched); a local task fitting none is in
    ``unmatched_local`` with why. With ``check_grid``, a match whose masks do not lie on
    the remote series' grid is ``refused`` instead (see ``_match_grid``). Relative paths
    of the list resolve against ``root``, else the list's folder. Reads headers only;
    raises only ``MatchCsvError`` (a CSV that cannot be used).
    """
    view = items if root is None else ItemsList(items.tasks, items.path, root, items.problems)
    images = Images(view)
    if by is MatchBy.CSV:
        if csv_path is None:
            raise MatchCsvError("Matching by CSV needs the CSV file.",
                                "Give the CSV with columns task,mask_path.")
        found = _by_csv(view, remote, csv_path)
    elif by is MatchBy.UID:
        found = _by_uid(view, remote, images)
    elif by is MatchBy.SERIES:
        found = _by_series(view, remote)
    else:
        found = _by_name(view, remote)
    result = _resolve(found, remote, len(view.tasks))
    if check_grid:
        _check_grids(result, images)
    return result
