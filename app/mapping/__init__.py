"""Which category every label is: names, suggestions, templates, and the built items list.

* ``Matcher`` / ``suggest_file``: suggestions for a mask's values (or a binary mask)
  from label tables, header names, file names and dataset conventions, each with its
  source and confidence (``Suggestion``, ``Proposal``);
* ``Template`` / ``load_template`` / ``template_from``: a mapping saved once and applied
  to every case with the same labels;
* ``suggest_code``: the DICOM (SNOMED CT) category, type and laterality a category name
  means, or None (``CodeSuggestion``, ``CodeConfidence``); ``code_text`` /
  ``parse_code_text`` for the Code column, ``code_to_json`` / ``code_from_json`` for
  templates;
* ``build(scan_result, output)``: the items list of a scanned folder, with only the
  mappings that are certain, and a report of what was left out (``BuildResult``);
* task names and fields: ``plan_names`` (a name pattern's placeholders, ``NAME_FIELDS``,
  made unique), ``read_task_fields`` (a fields CSV joined by case, ``FIELD_COLUMNS``).
"""

from app.mapping._build import BuildResult, CaseBuild, LeftOut, build
from app.mapping._codes import (
    ANATOMICAL_STRUCTURE,
    CodeConfidence,
    CodeSuggestion,
    code_from_json,
    code_label,
    code_text,
    code_to_json,
    known_meaning,
    parse_code_text,
    same_category,
    suggest_code,
    suggest_codes,
)
from app.mapping._names import display_name, normalise
from app.mapping._suggest import (
    CONFIDENT,
    Candidate,
    Matcher,
    Proposal,
    Suggestion,
    Target,
    candidates_of,
    describe,
    suggest_file,
    taxonomy_candidates,
)
from app.mapping._task_fields import COLUMNS as FIELD_COLUMNS
from app.mapping._task_fields import read_task_fields
from app.mapping._task_names import (
    NAME_FIELDS,
    NamePlan,
    NameSource,
    known_placeholders,
    name_values,
    placeholders,
    plan_names,
)
from app.mapping._templates import Difference, Template, file_key, load_template, template_from

__all__ = [
    "ANATOMICAL_STRUCTURE", "CONFIDENT", "FIELD_COLUMNS", "NAME_FIELDS", "BuildResult",
    "Candidate", "CaseBuild", "CodeConfidence", "CodeSuggestion", "Difference", "LeftOut",
    "Matcher", "NamePlan", "NameSource", "Proposal", "Suggestion", "Target", "Template", "build",
    "candidates_of", "code_from_json", "code_label", "code_text", "code_to_json", "describe",
    "display_name", "file_key", "known_meaning", "known_placeholders", "load_template",
    "name_values", "normalise", "parse_code_text", "placeholders", "plan_names",
    "read_task_fields", "same_category", "suggest_code", "suggest_codes", "suggest_file",
    "taxonomy_candidates", "template_from"
]
