"""Pair the tasks of a local items list with tasks already in a RedBrick project.

Four ways (``MatchBy``): the task's name, a series name, the DICOM Series (or
Study) Instance UID of the local image, or a CSV that joins mask files to tasks.
Nothing here talks to the network: the remote tasks come from ``_tasks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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


@dataclass
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    # local tasks left out, each with the reason, for people (index, reason)
    unmatched_local: list[tuple[int, str]] = field(default_factory=list)
    # local tasks that fit more than one remote task: none of those is used
    ambiguous: list[tuple[int, list[RemoteTask]]] = field(default_factory=list)
    # matched, but the masks do not fit the remote series' grid: nothing is sent for these
    refused: list[tuple[int, str]] = field(default_factory=list)
    unmatched_remote: list[RemoteTask] = field(default_factory=list)
