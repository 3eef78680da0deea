"""`segmap report ITEMS.json|FOLDER -o REPORT/`: the dataset report, one folder that opens
offline (index.html and thumbs/*.png) and prints to PDF."""

from __future__ import annotations

import argparse

from app.cli._common import add_jobs_arguments, drive, print_json
from app.items import load_taxonomy
from app.report import write_report

NAME = "report"
HELP = ("Write an HTML report of a dataset (an items list or a folder): thumbnails with the "
        "labels as RedBrick stores them, the mapping and where it came from, voxels, mL and "
        "intensity, the category x case matrix, outliers, findings, sign-off and file hashes.")
ORDER = 45


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="ITEMS.json|FOLDER",
                   help="the items list, or a folder of images and masks")
    p.add_argument("-o", "--output", required=True, metavar="REPORT/",
                   help="the folder to write index.html and thumbs/ into (created)")
    p.add_argument("--taxonomy", metavar="TAX.json",
                   help="the project's taxonomy (v1 or v2 JSON) to check categories against")
    p.add_argument("--template", metavar="TEMPLATE.json",
                   help="a mapping template for the suggestions of a folder")
    p.add_argument("--force", action="store_true",
                   help="replace an index.html that Segmap did not write")
    add_jobs_arguments(p, "cases read at once (default: one per core while memory allows; "
                          "1 keeps memory to one case)", scheduler=False)
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    taxonomy = load_taxonomy(args.taxonomy) if args.taxonomy else None
    summary = drive(write_report(args.source, args.output, taxonomy=taxonomy,
                                 taxonomy_path=args.taxonomy, template=args.template,
                                 force=args.force, jobs=args.jobs), "report", enabled=not args.quiet)
    if args.json:
        print_json(summary.to_json())
        return 0
    f = summary.findings
    print(f"Wrote {summary.index} ({summary.cases} cases, {summary.thumbnails} thumbnails; "
          f"{f.get('error', 0)} errors, {f.get('warning', 0)} warnings, "
          f"{len(summary.outliers)} outliers).")
    for why in summary.outliers:
        print(f"  outlier: {why}")
    return 0
