"""The session: every job on one object, and what leaves it for a worker thread or a file.

Work that runs off the GUI thread (validation, the preview) gets a frozen copy
built here, on the caller's thread, never the live items list: the user may edit
the mapping while it runs.
"""

from __future__ import annotations

import os

from app.export import ExportSummary, LinkMode, export_items, replace_question
from app.items import ItemsList, Task, Taxonomy
from app.merge import entries_of, merge_inputs, series_inputs
from app.preview import PreviewRequest
from app.progress import Work
from app.session._history import SessionHistory
from app.session._model import CaseState
from app.session._repairs import SessionRepairs
from app.session._templates import SessionTemplates
from app.validate import Code, FileCache, Finding, finding, sort_findings, validate_work


class Session(SessionRepairs, SessionTemplates, SessionHistory):
    """The items list being built or edited, with one CaseState per task.

    Rows and colours (``app.session._rows``), edits (``_edits``), repairs
    (``_repairs``), templates (``_templates``) and snapshots for undo (``_history``)
    each live in their own module; every edit returns a ``Change``.
    """

    def included_items(self) -> ItemsList:
        """The items list restricted to the included cases (same objects, same base)."""
        keep = {id(c.task) for c in self.cases if c.included}
        tasks = [t for t in self.items.tasks if id(t) in keep or not self._owned(t)]
        return ItemsList(tasks=tasks, path=self.items.path, root=self.items.root,
                         problems=self.items.problems)

    def _owned(self, task: Task) -> bool:
        return any(c.task is task for c in self.cases)

    def validate_work(self) -> Work[list[Finding]]:
        """Validate the included cases (as ``segmap validate`` would) plus the review state.

        The items list is copied now, on the caller's thread; the returned work reads
        only that copy.
        """
        items = self.included_items().copy()
        unreviewed = {c.name: (c.series_index, sorted(c.unreviewed)) for c in self.cases
                      if c.included and c.unreviewed}
        return _validate(items, self.taxonomy, self.cache, unreviewed)

    def preview_request(self, case: CaseState) -> PreviewRequest:
        """What the preview of ``case`` needs, frozen, for a worker thread.

        A case whose label maps are not in the list yet (no value mapped) still shows
        them, every value unmapped: the user must see what value 1 is to name it.
        Binary masks not in the list are not imported, so they do not show.
        """
        if case.series.segmentation_paths:
            merge = series_inputs(self.items, case.task, case.series_index)
            return PreviewRequest(case.name, tuple(case.image.files), merge)
        if case.masks and not case.binary:
            files = [str(m) for m in case.masks]
            merge = merge_inputs(entries_of(files, self.base), {}, False, False, {})
            return PreviewRequest(case.name, tuple(case.image.files), merge, unlisted=True)
        return PreviewRequest(case.name, tuple(case.image.files), None)

    def export(self, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None,
               dcm_names: LinkMode | None = None, replace: bool = False) -> ExportSummary:
        """Write the included cases as an items list (atomic), paths relative to ``root``;
        with ``dcm_names``, DICOM files RedBrick refuses by name are written under .dcm
        names beside it (``app.export.export_items``).

        A file at ``path`` that Segmap did not write is replaced only with ``replace``
        (ask first: ``replace_question``); an input (the opened list, an image or mask)
        never is (``OutputError``)."""
        return export_items(self.included_items(), path, root, dcm_names=dcm_names,
                            force=replace)

    def replace_question(self, path: str | os.PathLike[str]) -> str | None:
        """What to ask before exporting to ``path`` (a file there that Segmap did not
        write, or changed since), or None when nothing would be lost."""
        return replace_question(path)


def _validate(items: ItemsList, taxonomy: Taxonomy | None, cache: FileCache,
              unreviewed: dict[str, tuple[int, list[int]]]) -> Work[list[Finding]]:
    found = yield from validate_work(items, taxonomy, cache=cache)
    for name, (series, keys) in unreviewed.items():
        found.append(finding(
            Code.SUGGESTION_UNREVIEWED,
            f"{len(keys)} mapping(s) were suggested by Segmap and not reviewed (ids "
            f"{', '.join(map(str, keys))}). Check them on the Mapping page and accept them.",
            task=name, series=series))
    return sort_findings(items, found)

