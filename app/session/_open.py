"""Opening a session: from a folder (scan + suggested mapping), an items list, or an autosave.

Each opener is long work (``Work[Session]``): the wizard runs it on a worker
thread with progress and Cancel; the CLI equivalents are ``segmap scan``/``build``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.discover import ImageRef, RoleOverride, Volume, bind_rt_maps, scan
from app.errors import InputError
from app.items import ImportShape, ItemsList, PathRole, Task, Taxonomy, load_items, task_paths
from app.mapping import Matcher, candidates_of, load_template, suggest_file
from app.parallel import IN_PROCESS, Jobs, default_jobs
from app.progress import Progress, Work
from app.readers import Census
from app.readers.dicom import DicomSeries
from app.session._model import CaseState, ImageInfo
from app.session._session import Session, sign_off_of


def matcher_for(taxonomy: Taxonomy | None) -> Matcher:
    """A name matcher over the taxonomy's segmentation categories (or none)."""
    return Matcher(candidates_of(taxonomy)) if taxonomy is not None else Matcher()


def _image_info(ref: ImageRef, series: DicomSeries | None) -> ImageInfo:
    shape = ref.grid.shape if ref.grid is not None else ()
    if ref.is_dicom:
        if series is not None:
            return ImageInfo(ref.label, ref.files, True, series.modality, series.patient,
                             series.study_description, series.description, len(series.files),
                             shape)
    return ImageInfo(ref.label, ref.files, ref.is_dicom, description=ref.files[0].name,
                     slices=shape[2] if len(shape) > 2 else 0, shape=shape)


# Files from which the wizard's scan pays for a process pool (BENCHMARKS.md, issue 14):
# 2 cores save ~1.4 ms a case (1,000 nnU-Net cases, quiet), the fork server costs ~0.7 s
# to start on the wizard's QThread, so ~500 cases of an image and a mask.
POOL_FROM_FILES = 1000


def folder_jobs(folder: Path) -> Jobs:
    """Every core for a folder of ``POOL_FROM_FILES`` files or more, else this process:
    the walk stops there, so a large folder costs no more to ask than a small one."""
    n = default_jobs()
    if n <= 1:
        return IN_PROCESS
    seen = 0
    for _, _, files in os.walk(folder):
        seen += len(files)
        if seen >= POOL_FROM_FILES:
            return Jobs(n)
    return IN_PROCESS


@dataclass(eq=False)
class FolderSession(Session):
    """A session opened from a folder: it also keeps every volume the scan found, with its
    role and what decided it, and the user's word on roles it was scanned with (a
    rescan with other ``roles`` re-pairs the folder)."""

    volumes: list[Volume] = field(default_factory=list)
    roles: tuple[RoleOverride, ...] = ()


def open_folder(root: str | os.PathLike[str], taxonomy: Taxonomy | None = None,
                template_path: str | os.PathLike[str] | None = None,
                roles: Sequence[RoleOverride] = (), jobs: Jobs | None = None
                ) -> Work[Session]:
    """Scan a folder, pair masks with images and suggest every mapping (``roles``: which
    files are images and which masks, whatever the scan would say). ``jobs``: where the
    scan reads its files (default ``folder_jobs``: every core for a large folder); the
    session is the same for every ``jobs``."""
    from app.mapping import build

    folder = Path(root).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder.",
                         "Choose the folder holding images and masks.")
    result = yield from scan(folder, roles, folder_jobs(folder) if jobs is None else jobs)
    template = load_template(template_path) if template_path else None
    built = yield from build(result, folder / "items.json", matcher=matcher_for(taxonomy),
                             template=template, write=False)
    session = FolderSession(items=built.items, cases=[], source=folder, taxonomy=taxonomy,
                            volumes=list(result.volumes), roles=tuple(roles))
    for path, c in result.censuses.items():
        session.cache.remember(str(path), c)
    empty: dict[str, list[str]] = {}  # by case, and the series by UID: no scan per case
    for x in built.empty:
        empty.setdefault(x.case, []).append(f"{x.file}: empty mask, left out")
    by_uid = {s.uid: s for s in reversed(result.series)}  # the first of a UID, as before
    for cb, task in zip(built.cases, built.items.tasks, strict=True):
        case = cb.case
        warnings = list(empty.get(case.name, ()))
        warnings += [f"{p.mask.label}: {r}" for p in case.pairs for r in p.refused]
        dicom = by_uid.get(case.image.series_uid) if case.image.series_uid else None
        if dicom is not None:
            warnings += list(dicom.warnings)
        session.cases.append(CaseState(
            task=task, shape=case.shape, masks=list(case.masks),
            image=_image_info(case.image, dicom), layout=case.layout,
            pairing={p.mask.path: p.evidence_as(case.layout) for p in case.pairs}, note=case.note,
            case_key=case.image.name, warnings=warnings,
            suggestions={(p.target.file, p.target.value): p.best for p in cb.proposals if p.best},
            unreviewed={k for k, s in cb.segment_map.items() if not s.accepted},
        ))
    why = result.no_case_reason("if one is the image, set its Role on the Cases page "
                                "(`segmap scan --image '{file}'` says the same)")
    # (an empty folder is said by the Source page itself)
    session.messages = ([why] if why and result.volumes else []) + list(result.warnings) + [
        f"not paired: {u.file}: {u.reason}" for u in result.unpaired]
    return session


def open_items(path: str | os.PathLike[str], taxonomy: Taxonomy | None = None) -> Work[Session]:
    """Open an existing items list to check, map and export it again."""
    items = load_items(path)
    bind_rt_maps(items)  # RTSTRUCT maps edited by value, as any label map
    session = Session(items=items, cases=[], source=items.path or Path(path), taxonomy=taxonomy)
    matcher = matcher_for(taxonomy)
    names: set[str] = set()
    for ti, task in enumerate(items.tasks):
        yield Progress(ti, len(items.tasks), f"Reading {task.name}")
        if not task.series:
            session.messages.append(f"task {ti} ({task.name!r}) has no series; kept as it is")
            continue
        si = next((i for i, s in enumerate(task.series) if s.segmentations), 0)
        series = task.series[si]
        if not isinstance(task.name, str) or not task.name or task.name in names:
            session.messages.append(f"task {ti} has no unique name; it is shown as task-{ti}")
            task.name = task.name if isinstance(task.name, str) and task.name not in names \
                and task.name else f"task-{ti}"
        names.add(str(task.name))
        masks = _case_masks(items, task, ti, si)
        files = tuple(f for f in (items.resolve(p) for p in series.item_paths) if f is not None)
        is_dicom = len(files) > 1 or any(f.suffix.lower() == ".dcm" for f in files)
        image = ImageInfo(series.name or (files[0].name if files else "(no image)"), files,
                          is_dicom, description=series.name or "", slices=len(files) if is_dicom
                          else 0)
        case = CaseState(task=task, shape=ImportShape.of(series.is_binary, len(masks)), masks=masks,
                         image=image, series_index=si, layout="items list",
                         note=f"from {Path(path).name}", sign_off=sign_off_of(task))
        for f in masks:
            c = session.census(f)
            if c is None:
                case.warnings.append(f"{f.name}: cannot be read")
                continue
            _suggest_unmapped(session, case, f, c, matcher)
        session.cases.append(case)
    yield Progress(len(items.tasks), len(items.tasks), "Opened")
    return session


def _case_masks(items: ItemsList, task: Task, ti: int, si: int) -> list[Path]:
    """The mask files of series ``si``: its segmentations (folders listed), then, in binary
    mode, the files its entries name as ``mask`` (from the map that applies to it)."""
    series = task.series[si]
    own_map = series.segment_map is not None
    masks: list[Path] = []
    for ref in task_paths(task, ti):
        local = items.resolve(ref.path)
        if local is None or ref.series not in (si, None):
            continue
        if ref.role is PathRole.SEGMENTATION:
            found = sorted(x.resolve() for x in local.iterdir() if x.is_file()) \
                if local.is_dir() else [local.resolve()]
            masks.extend(found)
        elif ref.role is PathRole.MASK and series.is_binary and not ref.in_list \
                and (ref.series is None) != own_map and local.resolve() not in masks:
            masks.append(local.resolve())
    return masks


def _suggest_unmapped(session: Session, case: CaseState, f: Path, c: Census,
                      matcher: Matcher) -> None:
    """Suggestions (from file names) for what the list leaves unmapped."""
    for p in suggest_file(f, c, [], session.base, matcher, binary_file=case.binary):
        if p.best is not None:
            case.suggestions[(p.target.file, p.target.value)] = p.best


def open_source(path: str | os.PathLike[str], taxonomy: Taxonomy | None = None) -> Work[Session]:
    """A folder or an items list, whichever ``path`` is."""
    p = Path(path).expanduser()
    if p.is_dir():
        return (yield from open_folder(p, taxonomy))
    if p.suffix.lower() == ".json":
        return (yield from open_items(p, taxonomy))
    if not p.exists():
        raise InputError(f"{p} does not exist.", "Choose a folder or an items list (.json).")
    raise InputError(f"{p} is neither a folder nor an items list (.json).",
                     "Choose the folder holding images and masks, or an items.json.")
