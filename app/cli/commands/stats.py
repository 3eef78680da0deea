"""`segmap stats ITEMS.json --task NAME --series N`: voxels, mL and intensity per segment."""

from __future__ import annotations

import argparse

from app.cli._common import add_series_arguments, drive, print_json
from app.items import category_label, load_items
from app.preview import SegmentStats, series_stats

NAME = "stats"
HELP = ("Measure each segment of one series on the merged mask as RedBrick receives it: "
        "voxels, volume in mL and image intensity (mean/min/max), mask aligned in world space.")
ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_series_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def _num(x: float | None, fmt: str) -> str:
    return format("-", ">9") if x is None else format(x, fmt)


def _row(key: str, category: str, s: SegmentStats) -> str:
    return (f"{key:>6}  {category[:28]:<28} {s.voxels:>12,} {s.volume_ml:>10.2f} "
            f"{_num(s.mean, '9.1f')} {_num(s.min, '9.1f')} {_num(s.max, '9.1f')}")


def run(args: argparse.Namespace) -> int:
    items = load_items(args.items, args.root)
    items.require_well_formed()
    task = items.find(args.task)
    stats = drive(series_stats(items, task, args.series), "stats", enabled=True)
    mapped = [s for s in stats if s.mapped]
    left_out = [s for s in stats if not s.mapped]
    if args.json:
        print_json({"segments": [s.to_json() for s in mapped],
                    "left_out": [{**s.to_json(), "value": int(s.key)} for s in left_out]})
        return 0
    print(f"{'key':>6}  {'category':<28} {'voxels':>12} {'mL':>10} {'mean':>9} {'min':>9} "
          f"{'max':>9}")
    for s in mapped:
        print(_row(s.key, category_label(s.category), s))
    if left_out:
        n = len(left_out)
        print(f"Left out ({n} value{'s' * (n != 1)} in the masks with no segmentMap entry; "
              f"RedBrick shows {'it' if n == 1 else 'them'} without a category):")
        for s in left_out:
            print(_row(s.key, "(no category)", s))
    return 0
