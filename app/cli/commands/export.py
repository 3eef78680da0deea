"""`segmap export ITEMS.json -o OUT.json`: write an items list elsewhere, paths rebased."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli._common import add_dcm_names_argument, drive, print_json
from app.errors import InputError
from app.export import export_items
from app.items import ItemsList, json_safe, load_items
from app.session import export_standard_labels, open_items

NAME = "export"
HELP = ("Write an items list to another place with its paths made relative to that place "
        "(or to --root), optionally only some tasks.")
ORDER = 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("items", metavar="ITEMS.json", help="the items list to export")
    p.add_argument("-o", "--output", required=True, metavar="OUT.json", help="where to write it")
    p.add_argument("--root", metavar="DIR",
                   help="make paths relative to DIR (default: the output file's folder)")
    p.add_argument("--task", action="append", metavar="NAME",
                   help="export only this task (repeat for several)")
    add_dcm_names_argument(p)
    p.add_argument("--force", action="store_true",
                   help="replace OUT.json even if Segmap did not write it (a list curated by "
                   "hand); an input is never replaced")
    p.add_argument("--dicom-seg", action="store_true",
                   help="also write each task with a DICOM image series as a DICOM SEG of it "
                   "(dicom-seg/<task>.dcm beside OUT.json; SNOMED CT codes from the category "
                   "names)")
    p.add_argument("--colour-table", "--color-table", action="store_true",
                   help="also write each task's labels as a 3D Slicer colour table and an "
                   "ITK-SNAP label file (labels/<task>.csv and .label.txt beside OUT.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def run(args: argparse.Namespace) -> int:
    items = load_items(args.items)
    items.require_well_formed()
    if args.task:
        missing = [n for n in args.task if n not in {t.name for t in items.tasks}]
        if missing:
            raise InputError(f"No task named {', '.join(map(repr, missing))} in {args.items}.")
        items = ItemsList([t for t in items.tasks if t.name in args.task], items.path, items.root)
    summary = export_items(items, args.output, args.root, dcm_names=args.dcm_names,
                           force=args.force)
    standard = None
    if args.dicom_seg or args.colour_table:
        session = drive(open_items(args.items), "open", enabled=not args.quiet)
        standard = drive(export_standard_labels(
            session, Path(args.output).expanduser().parent, dicom_seg=args.dicom_seg,
            tables=args.colour_table, force=args.force, names=args.task),
            "labels", enabled=not args.quiet)
    if args.json:
        out = summary.to_json()
        if standard is not None:
            out["standard_labels"] = standard.to_json()
        print_json(json_safe(out))  # an output path that is not UTF-8
    else:
        print(f"Wrote {summary.path}: {summary.tasks} task(s), {summary.series} series, "
              f"{summary.segmentation_files} segmentation file(s); paths relative to "
              f"{summary.root}")
        if summary.converted:
            print(summary.converted_text())
            for c in summary.converted:
                print(f"  {c.source} -> {c.target}")
        if summary.renamed_text():
            print(summary.renamed_text())
        if summary.dicom_seg or summary.rt_struct:
            what = "DICOM SEG" if summary.dicom_seg else "RT Structure Sets"
            print(f"Its masks are {what}: upload it with `{summary.upload_command}` from "
                  "its folder (or `segmap upload`, which converts them the same way).")
        if standard is not None:
            for path in [*standard.segs, *standard.tables]:
                print(f"Wrote {path}")
            for why in standard.skipped:
                print(f"  left out: {why}")
    return 0
