"""`segmap merge ITEMS.json --task NAME --series N -o OUT.nii.gz`: RedBrick's merge, offline."""

from __future__ import annotations

import argparse
import sys

from app.cli._common import add_series_arguments, drive, print_json
from app.discover import rt_of, value_segments
from app.errors import MergeError
from app.export import guard_output, list_inputs
from app.items import ItemsList, Task, category_label, load_items
from app.merge import merge_series

NAME = "merge"
HELP = ("Merge the segmentation files of one series exactly as RedBrick will store them "
        "(overlap groups included) and write the label volume.")
ORDER = 30


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_series_arguments(p)
    p.add_argument("-o", "--output", metavar="OUT.nii.gz", help="where to write the merged volume")
    p.add_argument("--label-validate", action="store_true",
                   help="fail when file values and segmentMap ids differ "
                   "(RedBrick's --label-validate)")
    p.add_argument("--prune", action="store_true",
                   help="drop unmapped values and ids in no file "
                   "(RedBrick's --prune-segmentations)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


UNMAPPED = "(no category)"  # a value in the files without a segmentMap entry


def categories(items: ItemsList, task: Task, series: int,
               segments: dict[int, list[int] | None]) -> dict[int, str]:
    """The category of every merged instance as people read it (``(no category)`` for a
    value no segmentMap entry names: RedBrick shows it as a view-only annotation)."""
    known = value_segments(items, task, series)
    return {k: category_label(known[k][1].category) if k in known else UNMAPPED
            for k in segments}


def run(args: argparse.Namespace) -> int:
    items = load_items(args.items, args.root)
    items.require_well_formed()
    task = items.find(args.task)
    if args.output:  # never over the list or a mask it reads (a merged NIfTI is no list)
        guard_output(args.output, list_inputs(items), force=True)
    try:
        result = drive(merge_series(items, task, args.series, label_validate=args.label_validate,
                                    prune=args.prune), "merge", enabled=True)
    except MergeError as exc:
        if not args.json:
            raise
        print_json({"output": None, "segments": {}, "error": str(exc),
                    "sdk_error": exc.sdk_message})
        return 1
    output = None
    if args.output and not result.empty:
        output = str(result.save(args.output))
    if args.json:
        print_json({"output": output, "segments": result.segments_json(), "error": None,
                    "unchanged": result.source is not None})
        return 0
    if result.empty:
        print("Nothing left to upload: pruning removed every value (RedBrick skips these labels).")
        return 0
    vol = result.volume
    assert vol is not None
    shape = "x".join(map(str, vol.shape))
    print(f"Merged {len(result.files)} file(s) into {shape} {vol.dtype.name}"
          + (f" -> {output}" if output else ""))
    names = categories(items, task, args.series, result.segments)
    width = max((len(n) for n in names.values()), default=0)
    for key, groups in result.segments_json().items():
        name = names[int(key)]
        line = f"  instance {key:>5}  {name:<{width}}" + (
            f"  overlap groups {groups}" if groups else "")
        print(line.rstrip())
    rt = rt_of(items, task, args.series)
    if rt is not None:
        print(f"Filled from {rt.files[0]} as RedBrick's --rt-struct fills it (values follow "
              "the segmentMap's ROI names).")
    elif result.source is not None:
        print(f"RedBrick would upload {result.source} unchanged.")
    if not args.output:
        print("(no -o given: nothing written)", file=sys.stderr)
    return 0
