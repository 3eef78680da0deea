"""`segmap scan DIR`: find image series, volumes and masks, and pair them into cases."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import add_jobs_arguments, drive, jobs_from, print_json
from app.discover import RoleOverride, ScanResult, scan

NAME = "scan"
HELP = ("Find DICOM series, NIfTI/NRRD images and masks under a folder, recognise the dataset "
        "layout, pair each mask with its image (confirmed by geometry) and pick the import "
        "shape of each case.")
ORDER = 10


class _RoleAction(argparse.Action):
    """``--image GLOB`` / ``--mask GLOB``, in the order given, into ``args.roles``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        roles = list(getattr(namespace, "roles", None) or [])
        roles.append(RoleOverride(str(values), self.const))
        namespace.roles = roles


def add_role_arguments(p: argparse.ArgumentParser) -> None:
    """The user's word on which files are images and which masks (scan and build)."""
    p.set_defaults(roles=[])
    for role in ("image", "mask"):
        p.add_argument(f"--{role}", action=_RoleAction, const=role, metavar="GLOB",
                       help=f"take the volumes this glob matches as {role}s, whatever their "
                       "name or values say (matched against the path relative to DIR, "
                       "e.g. 'scans/*.nii.gz'; repeatable, a later one wins)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", metavar="DIR", help="the folder to scan")
    add_role_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    add_jobs_arguments(p)
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
    weighed = [v for v in r.volumes if v.evidence or v.why.startswith("set by you")]
    if weighed:
        lines.append(f"Image or mask ({len(weighed)}):")
        lines.extend(f"  {v.label}: {v.role}, {v.why}" for v in weighed)
    if (why := no_case_reason(r)) is not None:
        lines.append(why)
    lines.extend(derived_lines(r))
    lines.extend(notes(r))
    return "\n".join(lines)


def derived_lines(r: ScanResult) -> list[str]:
    """What DICOM SEG / RTSTRUCT files were converted to masks, and what RedBrick's SDK would
    have done with them (scan and build print it)."""
    if not r.derived:
        return []
    converted = [d for d in r.derived if not d.native]
    lines = []
    if kept := [d for d in r.derived if d.native]:
        lines.append(f"DICOM SEG / RT Structure Sets kept as they are ({len(kept)}):")
        lines += [f"  {d.note}" for d in kept]
    if converted:
        lines.append(f"Converted from DICOM ({len(converted)}), masks in "
                     f"{converted[0].folder.parent}:")
    for d in converted:
        lines.append(f"  {d.note}")
        lines.append("      " + ", ".join(f"{m.path.name} ({m.voxels} voxels)" for m in d.masks))
    return lines


def no_case_reason(r: ScanResult) -> str | None:
    """Why a scan found no case, plainly, with the flags to try (None when it found some)."""
    why = r.no_case_reason()
    if why is None or "taken as mask" in why or not r.volumes:
        return why
    if not r.masks:
        return why[:-1] + "; pass --mask 'GLOB' if some are masks."
    return why[:-1] + "; pass --image / --mask 'GLOB' if a role is wrong."


def notes(r: ScanResult) -> list[str]:
    """What could not be paired and the scan's warnings, as both scan and build print them."""
    lines = []
    if r.unpaired:
        lines.append(f"Not paired ({len(r.unpaired)}):")
        weighed = {v.label: v.why for v in r.volumes if v.evidence}
        lines.extend(f"  {u.kind} {u.file}: {u.reason}"
                     + (f" (taken as a {u.kind}: {weighed[u.file]})" if u.file in weighed
                        else "") for u in r.unpaired)
    own = {x.note for x in r.own_outputs}
    if r.own_outputs:
        lines.append(f"Left out ({len(r.own_outputs)}): Segmap's own output")
        lines.extend(f"  {x.file}: {x.what}" for x in r.own_outputs)
    lines.extend(f"warning: {w}" for w in r.warnings if w not in own)
    return lines


def run(args: argparse.Namespace) -> int:
    result = drive(scan(args.folder, args.roles, jobs_from(args), keep_runs=False), "scan",
                   enabled=not args.quiet)
    if args.json:
        out = result.to_json()
        if (why := no_case_reason(result)) is not None:
            out["no_cases"] = why
        print_json(out)
    else:
        print(human(result))
    return 0
