"""`segmap census MASK...`: values and voxel counts of mask files."""

from __future__ import annotations

import argparse

from app.cli._common import print_json
from app.readers import Census, census, value_text

NAME = "census"
HELP = "List every value in mask files with its voxel count (no sorting; fast on large volumes)."
ORDER = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("masks", nargs="+", metavar="MASK", help="NIfTI mask files (.nii, .nii.gz)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def _human(c: Census) -> str:
    total = sum(c.values.values())
    lines = [f"{c.file}  {'x'.join(map(str, c.shape))} {c.dtype}"
             + ("  binary" if c.binary else "")
             + (f"  flags: {', '.join(c.flags)}" if c.flags else "")]
    for value, n in c.values.items():
        ml = n * c.voxel_volume_ml
        lines.append(f"  {value_text(value):>8}  {n:>12,} voxels  "
                     f"{100 * n / total:6.2f}%  {ml:10.2f} mL")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results = [census(m, keep_runs=False) for m in args.masks]
    if args.json:
        print_json([c.to_json() for c in results])
    else:
        print("\n".join(_human(c) for c in results))
    return 0
