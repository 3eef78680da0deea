"""The state of checking one series, shared by the checks of ``_series`` and ``_values``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from app.geometry import Grid
from app.items import ItemsList, SegmentMap, Series, Task, Taxonomy
from app.merge import SeriesInputs
from app.validate._codes import Code
from app.validate._files import FileCache, FileCheck
from app.validate._findings import Finding, finding


@dataclass
class SeriesContext:
    """What is known about one series while it is checked; ``out`` collects the findings."""

    items: ItemsList
    taxonomy: Taxonomy | None
    cache: FileCache
    task: Task
    index: int
    label: str | None
    inputs: SeriesInputs
    out: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    checks: dict[str, FileCheck] = field(default_factory=dict)
    complete: bool = True  # every segmentation file was found and read
    image: Grid | None = None

    @property
    def series(self) -> Series:
        return self.task.series[self.index]

    @property
    def smap(self) -> SegmentMap | None:
        return self.task.segment_map_of(self.index)

    def add(self, code: Code, message: str, file: str | os.PathLike[str] | None = None,
            value: int | None = None) -> None:
        self.out.append(finding(code, message, self.label, self.index, file, value))
