"""`segmap build DIR -o items.json`: an items list for every case, with suggested segmentMaps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli._common import (
    add_dcm_names_argument,
    add_jobs_arguments,
    drive,
    jobs_from,
    print_json,
)
from app.cli.commands.scan import add_role_arguments, derived_lines, no_case_reason, notes
from app.discover import ScanResult, scan
from app.errors import InputError
from app.export import ExportSummary, dicom_to_rename, export_items, guard_output
from app.items import CONVERTED_FOLDER, ItemsList, json_safe, load_taxonomy
from app.mapping import (
    CONFIDENT,
    FIELD_COLUMNS,
    BuildResult,
    Matcher,
    build,
    known_placeholders,
    load_template,
    placeholders,
    read_task_fields,
    taxonomy_candidates,
    template_from,
)
from app.validate import check_fields

NAME = "build"
HELP = ("Scan a folder and write an items list for every case, mapping each value or binary "
        "mask to the category suggested for it; what is not certain is left out and reported.")
ORDER = 11


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="the folder to scan")
    add_role_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="ITEMS.json",
                   help="where to write the items list (paths in it are relative to its folder)")
    p.add_argument("--taxonomy", metavar="TAX.json",
                   help="RedBrick taxonomy: suggestions are matched to its categories")
    p.add_argument("--template", metavar="MAP.json",
                   help="a saved mapping to apply to every case (see --save-template)")
    p.add_argument("--save-template", metavar="MAP.json",
                   help="save the mapping used as a template, to edit and reuse")
    p.add_argument("--min-confidence", type=float, default=CONFIDENT, metavar="X",
                   help=f"use suggestions at least this confident (default {CONFIDENT})")
    p.add_argument("--name-pattern", metavar="PATTERN",
                   help="name each task from its image's DICOM header or file names, e.g. "
                   "'{patient_id}-{study_date}-{series_description}'; placeholders: "
                   f"{known_placeholders()} ({{{{ and }}}} for braces). A value the image "
                   "lacks is left empty (a note says so); a name used twice gets -2, -3 in "
                   "case order (default: the case id)")
    p.add_argument("--fields", metavar="FIELDS.csv",
                   help="each task's fields from a CSV/TSV joined by case, one row per case: "
                   f"columns {', '.join(FIELD_COLUMNS)} (an empty cell sets nothing; a `name` "
                   "is a pattern for that case; several preassign emails or MULTISELECT "
                   "options separated by ';'; with --taxonomy, attribute values are typed "
                   "by their attribute); `segmap validate` checks the values")
    add_dcm_names_argument(p)
    p.add_argument("--force", action="store_true",
                   help="replace ITEMS.json even if Segmap did not write it (a list curated "
                   "by hand); an input (a scanned file, the taxonomy, the template) never is")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_jobs_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def human(result: BuildResult, scan_result: ScanResult, names: ExportSummary | None = None
          ) -> str:
    """The report as text for a person (``names``: the rewrite with ``.dcm`` names, if any)."""
    assert result.output is not None  # the report of a written list
    lines = [f"Wrote {result.output}: {len(result.items.tasks)} tasks."]
    folder = result.output.parent / CONVERTED_FOLDER
    nrrd = [c for c in result.converted if not c.derived_from]
    dicom = [c for c in result.converted if c.derived_from]
    if nrrd:
        lines.append(f"Converted {len(nrrd)} NRRD mask(s) to NIfTI in {folder} (RedBrick reads "
                     "NIfTI masks only).")
    if dicom:
        lines.append(f"Copied {len(dicom)} mask(s) converted from DICOM SEG / RTSTRUCT "
                     f"({', '.join(dict.fromkeys(c.derived_from for c in dicom))}) into "
                     f"{folder}, out of Segmap's cache.")
    if names is not None and names.renamed_text():
        lines.append(names.renamed_text())
    elif n := len(dicom_to_rename(result.items)):
        lines.append(f"{n} DICOM file(s) do not end in .dcm, and RedBrick's upload refuses "
                     "their names: build again with --dcm-names for `redbrick upload` (Segmap's "
                     "upload sends them under .dcm names).")
    if kinds := {d.kind for d in scan_result.derived if d.native}:
        what, flag = ("DICOM SEG", "--dicom-seg") if "SEG" in kinds else \
            ("RT Structure Sets", "--rt-struct")
        lines.append(f"Its masks are {what} kept as they are: upload it with `redbrick "
                     f"upload {flag} {result.output.name}` from its folder (or `segmap "
                     "upload`, which converts them the same way).")
    for cb in result.cases:
        n = len(cb.segment_map)
        lines.append(f"  {cb.case.name} [{cb.case.shape}]: {n} segment(s) mapped"
                     + (f" from {len(cb.files)} file(s)" if cb.files else ", no segmentation"))
    if result.left_out:
        lines.append(f"Left out ({len(result.left_out)}): no confident category")
        lines.extend(f"  {x.case}: {x.what}: {x.reason}" for x in result.left_out)
    if result.empty:
        lines.append(f"Empty masks left out ({len(result.empty)}):")
        lines.extend(f"  {x.case}: {x.file}" for x in result.empty)
    if result.differences:
        lines.append(f"Cases that differ from the template ({len(result.differences)}):")
        for d in result.differences:
            lines.append(f"  {d.case}: missing {', '.join(d.missing) or '-'}; "
                         f"extra {', '.join(d.extra) or '-'}")
    if result.field_notes:
        lines.append(f"Task names and fields ({len(result.field_notes)}):")
        lines.extend(f"  {n}" for n in result.field_notes)
    lines.extend(derived_lines(scan_result))
    lines.extend(notes(scan_result))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_confidence <= 1.0:
        raise InputError(f"--min-confidence {args.min_confidence} is outside 0..1.",
                         f"The default is {CONFIDENT}.")
    matcher = Matcher(taxonomy_candidates(args.taxonomy) if args.taxonomy else None)
    template = load_template(args.template) if args.template else None
    if args.name_pattern:
        placeholders(args.name_pattern, "--name-pattern")  # before the scan's minutes
    inputs = [args.taxonomy, args.template, args.fields]
    guard_output(Path(args.output), inputs, force=args.force)  # before the scan's minutes
    scanned = drive(scan(args.folder, args.roles, jobs_from(args), keep_runs=False), "scan",
                    enabled=not args.quiet)
    if (why := no_case_reason(scanned)) is not None:  # an empty list helps nobody
        print("\n".join(notes(scanned)), file=sys.stderr)
        print(f"segmap build: nothing written: {why}", file=sys.stderr)
        return 1
    taxonomy = load_taxonomy(args.taxonomy) if args.taxonomy else None
    fields = (read_task_fields(args.fields, [c.name for c in scanned.cases], taxonomy)
              if args.fields else None)  # a bad cell stops here: nothing is written
    result = drive(build(scanned, args.output, matcher=matcher, template=template,
                         min_confidence=args.min_confidence, force=args.force, inputs=inputs,
                         fields=fields, name_pattern=args.name_pattern),
                   "build", enabled=not args.quiet)
    for f in check_fields([(t, t.name) for t in result.items.tasks], taxonomy):
        print(f"segmap build: {f.severity.upper()} {f.code} ({f.task}): {f.message}",
              file=sys.stderr)
    names = None
    if args.dcm_names is not None:  # the list again, pointing at the .dcm names
        assert result.output is not None
        # The list in memory, not read from the file it rewrites (which is no input here).
        built = ItemsList(result.items.tasks, None, result.output.parent)
        names = export_items(built, result.output, dcm_names=args.dcm_names,
                             mirror=scanned.root)
    if args.save_template:
        saved, conflicts = template_from(result.mappings(),
                                         {p: c.image.name for c in scanned.cases for p in c.masks})
        saved.save(args.save_template)
        for c in conflicts:
            print(f"segmap build: template: left out {c} (cases disagree)", file=sys.stderr)
    if args.json:
        report = result.to_json(scanned)
        report["template_saved"] = str(Path(args.save_template)) if args.save_template else None
        report["renamed"] = [r.to_json() for r in names.renamed] if names else []
        report["derived"] = [d.to_json() for d in scanned.derived]  # SEG / RTSTRUCT converted
        print_json(json_safe(report))  # a non-UTF-8 name left out is named, escaped
    else:
        print(human(result, scanned, names))
    return 0
