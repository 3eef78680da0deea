"""Task names from a pattern: ``{patient_id}-{study_date}-{series_description}``.

A pattern is text with placeholders in braces (``{{`` and ``}}`` for the braces
themselves). Each placeholder is a DICOM header value of the case's image (read from its
first file, headers only) or a part of its file names (``NAME_FIELDS``). An unknown
placeholder is an error listing the known ones; a value the image does not carry is left
empty, with a note; a name left empty falls back to the case id.

Names are made safe (``app.items.safe_task_name``) and unique within the list the way a
file manager names copies: in case order, the first keeps the name and the next ones get
``-2``, ``-3``, ... (each with a note). RedBrick itself would upload the first task of a
name and skip the others, so a silent clash would lose cases.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import InputError
from app.items import safe_task_name
from app.readers import dicom_tags, split_suffix

# placeholder -> (DICOM keyword or None for a file name part, what it is)
NAME_FIELDS: dict[str, tuple[str | None, str]] = {
    "case": (None, "the case id, as the scan names it"),
    "image_stem": (None, "the image file's name without its suffix (a series: its first file)"),
    "folder": (None, "the name of the folder holding the image"),
    "patient_id": ("PatientID", "DICOM PatientID"),
    "patient_name": ("PatientName", "DICOM PatientName"),
    "study_date": ("StudyDate", "DICOM StudyDate (YYYYMMDD)"),
    "study_time": ("StudyTime", "DICOM StudyTime"),
    "study_description": ("StudyDescription", "DICOM StudyDescription"),
    "study_id": ("StudyID", "DICOM StudyID"),
    "study_uid": ("StudyInstanceUID", "DICOM StudyInstanceUID"),
    "accession_number": ("AccessionNumber", "DICOM AccessionNumber"),
    "series_description": ("SeriesDescription", "DICOM SeriesDescription"),
    "series_number": ("SeriesNumber", "DICOM SeriesNumber"),
    "series_uid": ("SeriesInstanceUID", "DICOM SeriesInstanceUID"),
    "modality": ("Modality", "DICOM Modality"),
    "institution": ("InstitutionName", "DICOM InstitutionName"),
}


def known_placeholders() -> str:
    """``{case}, {image_stem}, ...``: every placeholder, for messages and --help."""
    return ", ".join(f"{{{k}}}" for k in NAME_FIELDS)


def placeholders(pattern: str, where: str = "the name pattern") -> list[str]:
    """The placeholders of ``pattern``; ``InputError`` naming ``where`` for an unknown one
    or a brace left open."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise InputError(f"{where} {pattern!r} is not a pattern: {exc}.",
                         "Write placeholders as {patient_id}; write {{ or }} for a brace.") \
            from None
    found: list[str] = []
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in NAME_FIELDS or spec or conversion:
            raise InputError(f"{where} {pattern!r}: {{{name}}} is not a placeholder Segmap "
                             "knows.", f"Known placeholders: {known_placeholders()}.")
        found.append(name)
    return found


@dataclass(frozen=True)
class NameSource:
    """What a case's name is made from: its id and its image's files."""

    case: str
    files: tuple[Path, ...]
    is_dicom: bool


def name_values(source: NameSource, wanted: Iterable[str] = NAME_FIELDS) -> dict[str, str]:
    """The values ``source`` has for the placeholders ``wanted`` (all by default); one
    DICOM header is read when a DICOM one is wanted."""
    wanted = set(wanted)
    first = source.files[0] if source.files else None
    values = {"case": source.case}
    if first is not None:
        values["image_stem"] = split_suffix(first.name)[0]
        folder = Path(os.path.commonpath([str(f.parent) for f in source.files]))
        values["folder"] = folder.name
    keywords = [kw for k in wanted if (kw := NAME_FIELDS[k][0]) is not None]
    if keywords and first is not None and source.is_dicom:
        tags = dicom_tags(first, keywords)
        values.update({k: tags[kw] for k in wanted
                       if (kw := NAME_FIELDS[k][0]) is not None and kw in tags})
    return values


Values = Callable[[NameSource, list[str]], dict[str, str]]


def render(pattern: str, source: NameSource, values_of: Values = name_values
           ) -> tuple[str, list[str]]:
    """The name ``pattern`` gives ``source`` (made safe, not yet unique) and the
    placeholders its image has no value for; ``values_of`` reads the values (the wizard
    passes one that remembers them)."""
    wanted = placeholders(pattern)
    values = values_of(source, wanted)
    missing = list(dict.fromkeys(k for k in wanted if k not in values))
    text = safe_task_name(pattern.format_map({k: values.get(k, "") for k in NAME_FIELDS}))
    # An empty value leaves its separators at an end ("P1-"): those go, inner ones stay.
    return (text.strip(" -_.") if missing else text), missing


@dataclass
class NamePlan:
    """Each case's task name (by case id) and what happened on the way, in words."""

    names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_names(sources: Sequence[NameSource], pattern: str | None = None,
               given: dict[str, str] | None = None, values_of: Values = name_values
               ) -> NamePlan:
    """Task names for ``sources`` (in order): a case's ``given`` pattern, else ``pattern``,
    else its case id; unique, ``-2``, ``-3`` added in case order (``InputError`` for an
    unknown placeholder)."""
    if pattern:
        placeholders(pattern)  # an unknown placeholder fails before any header is read
    given = given or {}
    plan = NamePlan()
    used: set[str] = set()
    for source in sources:
        own = given.get(source.case) or pattern
        name = source.case
        if own:
            name, missing = render(own, source, values_of)
            if missing:
                plan.notes.append(f"{source.case}: its image has no "
                                  f"{', '.join(NAME_FIELDS[m][1] for m in missing)}; "
                                  f"{', '.join('{' + m + '}' for m in missing)} left empty")
            if not name:
                plan.notes.append(f"{source.case}: the name pattern gave an empty name; "
                                  "the case id is used")
                name = safe_task_name(source.case) or source.case
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}-{n}"
        if unique != name:
            plan.notes.append(f"{source.case}: task name {name!r} is taken by an earlier case; "
                              f"named {unique!r}")
        used.add(unique)
        plan.names[source.case] = unique
    return plan
