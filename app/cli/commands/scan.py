"""`segmap scan DIR`: find image series, volumes and masks, and pair them into cases."""

from __future__ import annotations

import argparse

from app.cli._common import drive, print_json
from app.discover import ScanResult, scan

NAME = "scan"
HELP = ("Find DICOM series, NIfTI/NRRD images and masks under a folder, recognise the dataset "
        "layout, pair each mask with its image (confirmed by geometry) and pick the import "
        "shape of each case.")
ORDER = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="the folder to scan")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def human(r: ScanResult) -> str:
    """The scan as text for a person."""
    lines = [f"{r.root}: {len(r.series)} DICOM series, {len(r.images)} image volumes, "
             f"{len(r.masks)} masks -> {len(r.cases)} cases"]
    for c in r.cases:
        lines.append(f"  {c.name}  [{c.shape}, {c.layout}]  {c.image.label}  "
                     f"<- {len(c.masks)} mask(s)"
                     + (f" + {len(c.others)} other channel(s)" if c.others else ""))
        lines.append(f"      {c.evidence}")
    lines.extend(notes(r))
    return "\n".join(lines)


def notes(r: ScanResult) -> list[str]:
    """What could not be paired and the scan's warnings, as both scan and build print them."""
    lines = []
    if r.unpaired:
        lines.append(f"Not paired ({len(r.unpaired)}):")
        lines.extend(f"  {u.kind} {u.file}: {u.reason}" for u in r.unpaired)
    own = {x.note for x in r.own_outputs}
    if r.own_outputs:
        lines.append(f"Left out ({len(r.own_outputs)}): Segmap's own output")
        lines.extend(f"  {x.file}: {x.what}" for x in r.own_outputs)
    lines.extend(f"warning: {w}" for w in r.warnings if w not in own)
    return lines


def run(args: argparse.Namespace) -> int:
    result = drive(scan(args.folder), "scan", enabled=not args.quiet)
    if args.json:
        print_json(result.to_json())
    else:
        print(human(result))
    return 0
