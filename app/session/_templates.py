"""Mapping templates in the wizard: a case's mapping saved, a template applied to every case."""

from __future__ import annotations

from typing import Any

from app.items import Category, category_label
from app.mapping import Template
from app.session._edits import SessionEdits
from app.session._model import CaseState, Change


def _candidate(c: Category | None) -> Any:
    # A template holds names and name paths; other forms (class ids) pass through as they are.
    return tuple(c) if isinstance(c, list) else c


class SessionTemplates(SessionEdits):
    """Templates made from, and applied to, the session's cases."""

    def template(self, case: CaseState) -> Template:
        """The case's mapping as a template (saved with Template.save)."""
        mapping = self.mapping_of(case)
        codes = dict(case.codes)
        if case.binary:
            return Template(files={k: _candidate(v) for k, v in mapping.items()}, codes=codes)
        return Template(values={int(k): _candidate(v) for k, v in mapping.items()}, codes=codes)

    def apply_template(self, template: Template) -> Change:
        """Apply a template to every case it covers.

        Entries the case shares with the template are applied (``Change.mapping``); a
        case whose label set differs is listed in ``Change.skipped`` so the user can
        look at it.
        """
        changed, differ = [], []
        for case in self.cases:
            if not (template.files if case.binary else template.values):
                continue
            mapping: dict[str, Category | None] = {}
            for key in self.label_set(case):
                if case.binary:
                    found, cat = template.file_entry(key)
                else:
                    found, cat = int(key) in template.values, template.values.get(int(key))
                if found:
                    mapping[key] = list(cat) if isinstance(cat, tuple) else cat
            if template.difference(case.name, self.label_set(case), case.binary) is not None:
                differ.append(case.name)
            if mapping:
                self.apply_to(case, mapping)
                mapped = {category_label(c) for c in mapping.values() if c is not None}
                case.codes.update({k: c for k, c in template.codes.items() if k in mapped})
                changed.append(case.name)
        return Change.of(changed, skipped=tuple(differ), count=len(changed))
