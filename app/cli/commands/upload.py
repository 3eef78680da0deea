"""`segmap upload ITEMS.json --org ORG --project PROJECT`: straight into a RedBrick project."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli._common import add_jobs_arguments, add_root_argument, drive, jobs_from, print_json
from app.errors import SegmapError
from app.items import load_items
from app.parallel import default_jobs
from app.upload import (
    Credentials,
    Destination,
    TaskState,
    UploadOptions,
    UploadReport,
    load_credentials,
    parse_storage,
    resolve_destination,
    upload,
)

NAME = "upload"
HELP = ("Upload an items list to a RedBrick AI project (images, merged segmentations, tasks), "
        "resuming where an interrupted run stopped.")
ORDER = 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("items", metavar="ITEMS.json", help="the items list")
    add_destination_arguments(p)
    p.add_argument("--storage", default="redbrick", metavar="redbrick|public|UUID",
                   help="where the images are: redbrick uploads them (default); public or a "
                   "storage integration UUID means items are URLs / storage paths")
    p.add_argument("--concurrency", type=int, default=10, metavar="N",
                   help="tasks uploaded at once (default 10)")
    add_merge_jobs_argument(p)
    add_root_argument(p)
    p.add_argument("--label-validate", action="store_true",
                   help="fail a task whose file values and segmentMap ids differ")
    p.add_argument("--prune", action="store_true",
                   help="drop unmapped values and ids in no file (RedBrick's "
                   "--prune-segmentations)")
    p.add_argument("--ground-truth", action="store_true", help="create tasks as ground truth")
    p.add_argument("--dry-run", action="store_true", help="check everything (project, "
                   "validation, files, RedBrick's conversion, merges) but upload nothing")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip Segmap's validation (RedBrick still validates every task)")
    p.add_argument("--restart", action="store_true", help="ignore the journal of earlier runs "
                   "(tasks that exist in RedBrick will then fail as duplicates)")
    p.add_argument("--journal", metavar="FILE", help="where to keep the journal that lets a "
                   "re-run resume (default: ITEMS.upload-journal.jsonl beside the list); "
                   "whatever the journal, one upload of a list to a project runs at a time "
                   "(locks in $XDG_STATE_HOME/segmap/upload-locks, gone when it ends)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def add_merge_jobs_argument(p: argparse.ArgumentParser) -> None:
    """``-j/--jobs N``: the processes of this computer that merge the labels (no
    --scheduler: the merged volumes are sent from here)."""
    add_jobs_arguments(p, f"processes for the label merges (default: every core, "
                       f"{default_jobs()} here; 1 merges in this process)", scheduler=False)


def add_destination_arguments(p: argparse.ArgumentParser) -> None:
    """--org, --project, --url and --profile, as every command that talks to RedBrick has."""
    p.add_argument("--org", metavar="ORG", help="organization id (default: the RedBrick CLI "
                   "project config .redbrick/config, else the credentials profile)")
    p.add_argument("--project", metavar="PROJECT", help="project id (default: .redbrick/config)")
    p.add_argument("--url", metavar="URL", help="RedBrick URL (default: the profile's, else "
                   "https://api.redbrickai.com)")
    p.add_argument("--profile", metavar="NAME", help="RedBrick CLI credentials profile "
                   "(default: REDBRICK_API_KEY, else the default profile)")


def credentials_and_destination(args: argparse.Namespace, folder: Path | None
                                ) -> tuple[Credentials, Destination]:
    """The API key and the project, from the arguments, the project folder's config
    (``folder``, then the current one) and the RedBrick CLI's credentials."""
    credentials = load_credentials(args.profile)
    starts = [folder, Path.cwd()] if folder is not None else [Path.cwd()]
    return credentials, resolve_destination(args.org, args.project, args.url, credentials,
                                            starts)


def json_error(command: str, exc: SegmapError) -> int:
    """For --json: the error on stdout as JSON (scripts get an answer whatever happened)
    and once on stderr; exit status 1."""
    findings = getattr(exc, "findings", [])
    print_json({"ok": False, "error": exc.message, "hint": exc.hint,
                "findings": [f.to_json() for f in findings]})
    print(f"segmap {command}: error: {exc.message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        print("segmap upload: error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    items = load_items(args.items, args.root)
    storage = parse_storage(args.storage)
    credentials, destination = credentials_and_destination(args,
                                                           Path(args.items).resolve().parent)
    options = UploadOptions(storage=storage, label_validate=args.label_validate,
                            prune=args.prune, ground_truth=args.ground_truth,
                            concurrency=args.concurrency, dry_run=args.dry_run,
                            restart=args.restart, validate=args.validate,
                            journal=Path(args.journal) if args.journal else None,
                            jobs=jobs_from(args))
    try:
        report = drive(upload(items, destination, credentials, options), "upload")
    except SegmapError as exc:
        if not args.json:
            raise
        return json_error("upload", exc)
    if args.json:
        print_json(report.to_json())
    else:
        print_report(report)
    return 0 if report.ok else 1


def print_report(report: UploadReport) -> None:
    """Warnings and notes on stderr, a line per task and the summary on stdout."""
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for t in report.tasks:
        if t.state in (TaskState.CREATED, TaskState.EXISTING, TaskState.ATTACHED,
                       TaskState.ATTACHED_BEFORE):
            files = f", {t.files_done - t.files_reused} file(s) sent" if t.files_done else ""
            reused = f", {t.files_reused} reused" if t.files_reused else ""
            print(f"  {t.state:<15} {t.name}  taskId {t.task_id}{files}{reused}")
        elif t.state == TaskState.READY:
            print(f"  {'ready':<15} {t.name}")
        else:
            print(f"  {t.state:<15} {t.name}: {t.error or ''}")
        for note in t.notes:
            print(f"  {'':<15}   note: {note}")
    print(("Dry run: " if report.dry_run else "") + report.summary())
    if not report.ok and report.failed_names():
        print("Run the same command again to retry the failed tasks; finished work is not "
              "repeated.", file=sys.stderr)
