"""`segmap census MASK...`: values and voxel counts of mask files."""

from __future__ import annotations

import argparse
import sys

from app.cli._common import print_json
from app.errors import SegmapError
from app.readers import Census, census, value_text

NAME = "census"
HELP = "List every value in mask files with its voxel count (no sorting; fast on large volumes)."
ORDER = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("masks", nargs="+", metavar="MASK", help="mask files: NIfTI (.nii, .nii.gz), NRRD, or DICOM SEG (counted "
                   "as RedBrick's CLI converts it with --dicom-seg: values = segment numbers)")
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
    """Census every file; one that cannot be read is an error line naming it (the others
    are still counted) and makes the exit code 1."""
    results: list[Census | SegmapError] = []
    for mask in args.masks:
        try:
            results.append(census(mask, keep_runs=False))
        except SegmapError as exc:
            if len(args.masks) == 1:
                raise
            results.append(exc)
            print(f"segmap census: error: {exc.message}", file=sys.stderr)
    if args.json:
        print_json([r.to_json() if isinstance(r, Census) else {"file": m, "error": r.message}
                    for m, r in zip(args.masks, results, strict=True)])
    else:
        print("\n".join(_human(r) for r in results if isinstance(r, Census)))
    return 0 if all(isinstance(r, Census) for r in results) else 1
