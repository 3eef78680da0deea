"""`segmap demo DIR`: write the demo dataset (a synthetic CT with masks in all three shapes)."""

from __future__ import annotations

import argparse
import shlex
import time

from app.cli._common import drive, print_json
from app.demo import (
    CT_NIFTI,
    DICOM_DIR,
    MASK_I,
    MASKS_III_DIR,
    README,
    SHAPE,
    STRUCTURES,
    TASK_III,
    UNMAPPED,
    DemoInfo,
    write_demo,
)

NAME = "demo"
HELP = ("Write a demo dataset: a synthetic CT (DICOM and NIfTI) with organ masks in all three "
        "import shapes, a taxonomy and an items list, to try every command on.")
ORDER = 5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", metavar="DIR",
                   help="folder to create (new, empty, or an earlier demo)")
    p.add_argument("--force", action="store_true",
                   help="write into a folder that has other files (the demo's own names are "
                        "replaced, nothing else is touched)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def next_commands(info: DemoInfo) -> list[str]:
    """Commands to try on the demo, ready to paste."""
    items, tax = shlex.quote(str(info.items_json)), shlex.quote(str(info.taxonomy_json))
    merged = shlex.quote(str(info.root / "merged.nii.gz"))
    return [
        f"segmap validate {items} --taxonomy {tax}",
        f"segmap merge {items} --task {TASK_III} -o {merged}",
        f"segmap census {shlex.quote(str(info.root / MASK_I))}",
    ]


def _listing(info: DemoInfo) -> list[tuple[str, str]]:
    return [
        (f"{DICOM_DIR}/", f"{SHAPE[2]} CT slices (DICOM; file names out of slice order)"),
        (CT_NIFTI, "the same CT as NIfTI, same world grid"),
        (MASK_I, f"shape I: one multi-label file (value {UNMAPPED.value} deliberately unmapped)"),
        ("masks/II_two_files/*.nii.gz", "shape II: two multi-label files, one value mapping"),
        (f"{MASKS_III_DIR}/*.nii.gz",
         f"shape III: {len(STRUCTURES)} binary masks (the tumour overlaps the liver)"),
        (info.taxonomy_json.name, "RedBrick taxonomy (v2)"),
        (info.items_json.name, f"{len(info.tasks)} tasks: " + ", ".join(info.tasks)),
        (README, "what each file is, and the deliberate problems"),
    ]


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    info = drive(write_demo(args.directory, overwrite=args.force), "demo")
    seconds = time.perf_counter() - start
    if args.json:
        print_json({**info.to_json(), "next": next_commands(info)})
        return 0
    print(f"Wrote the Segmap demo to {info.root} in {seconds:.1f} s:")
    rows = _listing(info)
    width = max(len(name) for name, _ in rows)
    for name, what in rows:
        print(f"  {name:<{width}}  {what}")
    print("\nNext, try:")
    for command in next_commands(info):
        print(f"  {command}")
    return 0
