"""`segmap label ITEMS.json --org ORG --project PROJECT`: labels onto tasks already in RedBrick.

Lists the project's tasks, pairs them with the list's tasks (``--match``), says every
local task that found no task, more than one, or one whose grid its masks do not fit
(nothing is sent for those), then attaches the labels of the rest: with
update_tasks_labels (any stage), or with ``--stage`` as put_tasks into that Label stage.
Exit status 0 only when every local task's labels are attached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli._common import add_root_argument, drive, jobs_from, print_json
from app.cli.commands.upload import (
    add_destination_arguments,
    add_merge_jobs_argument,
    credentials_and_destination,
    json_error,
    print_report,
)
from app.errors import InputError, SegmapError
from app.items import ItemsList, load_items, task_label
from app.upload import (
    LabelOptions,
    MatchBy,
    MatchResult,
    RedBrickClient,
    TaskCache,
    attach_labels,
    match_tasks,
)

NAME = "label"
HELP = ("Attach the labels of an items list to tasks already in a RedBrick AI project, "
        "matched by name, series name, DICOM UID or a CSV; resumes where a run stopped.")
ORDER = 62


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("items", metavar="ITEMS.json", help="the items list whose labels go up")
    add_destination_arguments(p)
    p.add_argument("--match", default="name", metavar="name|series|uid|csv:FILE",
                   help="how local tasks find their RedBrick task: the task name (default), "
                   "a series name, the DICOM SeriesInstanceUID (else StudyInstanceUID), or a "
                   "CSV with columns task,mask_path")
    p.add_argument("--stage", metavar="NAME", help="put the labels into this Label stage as "
                   "the annotator would (RedBrick's labeling.put_tasks: tasks queued there and "
                   "assigned to the key's user); default: attach them in any stage "
                   "(update_tasks_labels)")
    p.add_argument("--finalize", dest="finalize", action="store_true", default=None,
                   help="submit the tasks (default with --stage)")
    p.add_argument("--no-finalize", dest="finalize", action="store_false",
                   help="leave the tasks open (default without --stage)")
    p.add_argument("--replace", action="store_true", help="replace the labels tasks already "
                   "have (without it a run that would replace any is refused)")
    p.add_argument("--dry-run", action="store_true", help="list, match, validate and merge, "
                   "but attach nothing")
    p.add_argument("--journal", metavar="FILE", help="where to keep the journal that lets a "
                   "re-run resume (default: ITEMS.labels-journal.jsonl beside the list)")
    p.add_argument("--restart", action="store_true", help="ignore the journal of earlier runs")
    p.add_argument("--concurrency", type=int, default=10, metavar="N",
                   help="tasks at once (default 10)")
    add_merge_jobs_argument(p)
    p.add_argument("--label-validate", action="store_true",
                   help="fail a task whose file values and segmentMap ids differ")
    p.add_argument("--prune", action="store_true",
                   help="drop unmapped values and ids in no file (RedBrick's "
                   "--prune-segmentations)")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip Segmap's validation (RedBrick still validates every task)")
    add_root_argument(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def parse_match(value: str) -> tuple[MatchBy, Path | None]:
    """``name``, ``series``, ``uid`` or ``csv:FILE``."""
    kind, _, rest = value.partition(":")
    try:
        by = MatchBy(kind.strip().lower())
    except ValueError:
        raise InputError(f"--match {value!r} is not a way to match.",
                         "Use name, series, uid or csv:FILE.") from None
    if by is MatchBy.CSV:
        if not rest:
            raise InputError("--match csv needs the CSV file: --match csv:FILE.")
        return by, Path(rest)
    if rest:
        raise InputError(f"--match {kind} takes no file (only csv:FILE does).")
    return by, None


def run(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        print("segmap label: error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except SegmapError as exc:
        if not args.json:
            raise
        return json_error("label", exc)


def _run(args: argparse.Namespace) -> int:
    by, csv_path = parse_match(args.match)
    items = load_items(args.items, args.root)
    credentials, destination = credentials_and_destination(args,
                                                           Path(args.items).resolve().parent)
    client = RedBrickClient(credentials.api_key, destination.url,
                            pool_size=args.concurrency * 2 + 4)
    try:
        remote = TaskCache().get(client, destination)
        matched = match_tasks(items, remote, by, csv_path=csv_path, root=args.root)
        if not args.json:
            print_matches(items, matched, len(remote))
        if not matched.matches:
            if args.json:
                print_json({"ok": False, "match": match_json(items, matched), "tasks": []})
            print("segmap label: error: no local task matches a task in the project; nothing "
                  "was sent.", file=sys.stderr)
            return 1
        options = LabelOptions(stage=args.stage, finalize=args.finalize,
                               concurrency=args.concurrency, label_validate=args.label_validate,
                               prune=args.prune, validate=args.validate, dry_run=args.dry_run,
                               restart=args.restart,
                               journal=Path(args.journal) if args.journal else None,
                               root=args.root, replace=args.replace, jobs=jobs_from(args))
        report = drive(attach_labels(items, matched.matches, destination, options=options,
                                     client=client), "label")
    finally:
        client.close()
    left_out = bool(matched.unmatched_local or matched.ambiguous or matched.refused)
    if args.json:
        print_json({**report.to_json(), "ok": report.ok and not left_out,
                    "match": match_json(items, matched)})
    else:
        print_report(report)
        if left_out:
            print("Some local tasks were not matched (listed above): their labels were not "
                  "sent.", file=sys.stderr)
    return 0 if report.ok and not left_out else 1


def _name(items: ItemsList, index: int) -> str:
    return task_label(items.tasks[index]) or f"(task {index})"


def print_matches(items: ItemsList, result: MatchResult, n_remote: int) -> None:
    """What matched and, for each local task left out, why."""
    print(f"{len(result.matches)} of {len(items.tasks)} local task(s) matched a task of the "
          f"project ({n_remote} task(s) there).")
    for index, why in result.unmatched_local:
        print(f"  {'no match':<15} {_name(items, index)}: {why}")
    for index, candidates in result.ambiguous:
        names = ", ".join(repr(r.name) for r in candidates[:5])
        print(f"  {'ambiguous':<15} {_name(items, index)}: fits {len(candidates)} tasks "
              f"({names}); none is used")
    for index, why in result.refused:
        print(f"  {'refused':<15} {_name(items, index)}: {why}")
    if result.unmatched_remote:
        names = ", ".join(repr(r.name) for r in result.unmatched_remote[:10])
        more = " ..." if len(result.unmatched_remote) > 10 else ""
        print(f"  {len(result.unmatched_remote)} task(s) in the project got no labels from "
              f"this list: {names}{more}")


def match_json(items: ItemsList, result: MatchResult) -> dict[str, object]:
    """The matching outcome in the --json summary."""
    return {
        "matched": [{"index": m.task_index, "name": _name(items, m.task_index),
                     "taskId": m.remote.task_id, "how": m.how} for m in result.matches],
        "unmatchedLocal": [{"index": i, "name": _name(items, i), "reason": why}
                           for i, why in result.unmatched_local],
        "ambiguous": [{"index": i, "name": _name(items, i),
                       "candidates": [r.task_id for r in rs]} for i, rs in result.ambiguous],
        "refused": [{"index": i, "name": _name(items, i), "reason": why}
                    for i, why in result.refused],
        "unmatchedRemote": [{"taskId": r.task_id, "name": r.name}
                            for r in result.unmatched_remote],
    }
