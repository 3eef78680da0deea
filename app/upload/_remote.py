"""Tasks already in a RedBrick project, as Segmap knows them: the one model of a remote task.

``_tasks`` fills these from the server (what the SDK's export reads:
``tasksPagedSDK`` with its task shard); ``_match`` pairs them with the local
items list; ``_labeling`` attaches labels to them. Nothing here talks to the
network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RemoteSeries:
    """One series of a remote task (a ``seriesInfo`` entry)."""

    name: str | None
    num_instances: int  # len(itemsIndices): frames or files of this series
    data_type: str | None = None  # the server's dataType (e.g. "DICOM", "NIFTI")
    # imageHeaders as the server keeps them (one per instance), None when it has none
    image_headers: tuple[dict[str, Any], ...] | None = None
    meta_data: dict[str, Any] | None = None
    series_uid: str | None = None  # SeriesInstanceUID (0020,000E), when the headers hold it
    study_uid: str | None = None  # StudyInstanceUID (0020,000D), when the headers hold it


@dataclass(frozen=True)
class RemoteTask:
    """A task of the project: its id, name, stage, series and whether it has labels."""

    task_id: str
    name: str
    stage: str | None
    series: tuple[RemoteSeries, ...] = ()
    has_labels: bool = False
    priority: float | None = None
    meta_data: dict[str, Any] | None = None
    updated_at: str | None = None
    assignee: str | None = None  # email of the user the current stage's task is assigned to
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def series_names(self) -> list[str]:
        return [s.name for s in self.series if s.name]
