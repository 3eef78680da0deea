"""The demo dataset: a synthetic CT with organ masks in all three import shapes.

``write_demo(DIR)`` writes a complete, self-consistent example a new user can run
every step on with nothing to download (``segmap demo DIR``, ``segmap-gui
--demo``), and that the tests of every module use:

* ``dicom/``: a real CT series, files shuffled and named out of slice order;
* ``ct.nii.gz``: the same image as NIfTI, on the same world grid;
* ``masks/``: one multi-label file (I), two multi-label files (II), one binary
  file per organ (III), TotalSegmentator names;
* ``taxonomy.json`` (RedBrick v2) and ``items.json`` (one task per shape);
* ``README.txt``: what each file is and which problems are deliberate
  (an unmapped value in I, an overlap in III).

It is deterministic (two runs write identical bytes) and takes about 0.3 s
(bench/bench_demo.py). A new folder is built beside its destination and renamed
into place; an existing one (empty, or an earlier demo) is built in a scratch
folder inside it and filled entry by entry, with the marker ``.segmap-demo.json``
removed first and written last. Either way an interrupted run never leaves a
folder that looks like a complete demo.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import igzip

from app import __version__
from app.demo._dicom import write_series
from app.demo._layout import (
    CT_NIFTI,
    DICOM_DIR,
    ITEMS_JSON,
    README,
    TASKS,
    TAXONOMY_JSON,
    items_list,
    masks,
    readme,
    taxonomy,
)
from app.demo._phantom import SHAPE, build_phantom
from app.errors import InputError
from app.jsonio import dumps
from app.progress import Progress, Work, run

MARKER = ".segmap-demo.json"
MARKER_KIND = "segmap-demo"
SCRATCH_PREFIX = ".segmap-demo-tmp-"  # build and trash folders, removed when done
_HINT_FOLDER = "Choose a new or empty folder for the demo, e.g. `segmap demo segmap-demo`."


@dataclass(frozen=True)
class DemoInfo:
    """Where the demo's files are (absolute paths) and the names of its tasks."""

    root: Path
    items_json: Path
    taxonomy_json: Path
    dicom_dir: Path
    ct_nifti: Path
    readme: Path
    tasks: tuple[str, ...]

    @classmethod
    def at(cls, root: Path) -> DemoInfo:
        """The paths of a demo written to ``root``."""
        return cls(root=root, items_json=root / ITEMS_JSON, taxonomy_json=root / TAXONOMY_JSON,
                   dicom_dir=root / DICOM_DIR, ct_nifti=root / CT_NIFTI, readme=root / README,
                   tasks=TASKS)

    def to_json(self) -> dict[str, object]:
        """The paths as text, as ``segmap demo --json`` prints them."""
        return {"root": str(self.root), "items_json": str(self.items_json),
                "taxonomy_json": str(self.taxonomy_json), "dicom_dir": str(self.dicom_dir),
                "ct_nifti": str(self.ct_nifti), "readme": str(self.readme),
                "tasks": list(self.tasks)}


def is_demo(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` holds a complete demo written by Segmap."""
    return _previous_entries(Path(directory)) is not None


def _previous_entries(root: Path) -> list[str] | None:
    """The entries a complete earlier demo wrote into ``root``, or None if it is not one."""
    try:
        data = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != MARKER_KIND:
        return None
    entries = data.get("entries")
    if not isinstance(entries, list):
        return None
    # Only plain names inside the folder: a tampered marker must not move anything else.
    return [e for e in entries
            if isinstance(e, str) and e == Path(e).name and e not in ("", ".", "..")]


def _is_scratch(name: str) -> bool:
    return name.startswith(SCRATCH_PREFIX)


def _check_target(root: Path, overwrite: bool) -> list[str]:
    """Refuse folders the demo must not write into; return an earlier demo's entries."""
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} is a file, not a folder.", _HINT_FOLDER)
    if not root.is_dir():
        return []
    try:
        # Scratch folders of an interrupted run are ours: they do not count.
        entries = sorted(p.name for p in root.iterdir() if not _is_scratch(p.name))
    except OSError as exc:
        raise InputError(f"Cannot list {root}: {exc.strerror or exc}.", _HINT_FOLDER) from None
    if not entries:
        return []
    previous = _previous_entries(root)
    if previous is not None or overwrite:
        return previous or []
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise InputError(
        f"{root} is not empty ({shown}) and is not a Segmap demo folder.",
        "Choose a new or empty folder, or pass --force to write the demo into it anyway: "
        "its README.txt, items.json, taxonomy.json, ct.nii.gz, dicom/ and masks/ are then "
        "replaced, and nothing else is touched.")


def _nifti_gz(data: np.ndarray, affine: np.ndarray, description: str) -> bytes:
    """A .nii.gz with scanner-space qform and sform, and no timestamp in the gzip header."""
    img = nib.Nifti1Image(data, affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    img.header["descrip"] = description.encode("ascii")[:79]
    return igzip.compress(img.to_bytes(), compresslevel=2, mtime=0)


def _scratch_dir(parent: Path, stem: str = "") -> Path:
    """A fresh folder in ``parent``, on the demo's file system so renames are atomic.

    Made with mkdir rather than mkdtemp so it gets the user's usual permissions,
    not 0700: a build folder may become the demo folder itself.
    """
    while True:
        scratch = parent / f"{stem}{SCRATCH_PREFIX}{secrets.token_hex(4)}"
        try:
            scratch.mkdir()
            return scratch
        except FileExistsError:
            continue


def _install(build: Path, root: Path, previous: Iterable[str]) -> None:
    """Move the finished demo from ``build`` into ``root``."""
    if not root.exists():
        os.rename(build, root)  # one atomic step: the folder appears complete
        return
    # An existing folder is filled entry by entry: the marker goes first and comes
    # back last, so a folder left half-written by a crash does not pass for a demo.
    (root / MARKER).unlink(missing_ok=True)
    trash = _scratch_dir(root)
    try:
        names = sorted({p.name for p in build.iterdir()} | set(previous))
        for name in (n for n in names if n != MARKER and not _is_scratch(n)):
            target = root / name
            if target.exists() or target.is_symlink():
                os.rename(target, trash / name)
            if (build / name).exists():
                os.rename(build / name, target)
        os.rename(build / MARKER, root / MARKER)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    for stale in root.iterdir():  # scratch folders of earlier, interrupted runs
        if _is_scratch(stale.name) and stale != build:
            shutil.rmtree(stale, ignore_errors=True)


def write_demo(directory: str | os.PathLike[str], *, overwrite: bool = False) -> Work[DemoInfo]:
    """Write the demo dataset into ``directory``; yields Progress, returns its DemoInfo.

    ``directory`` must be new, empty, or an earlier demo (which is replaced);
    ``overwrite`` also allows a folder with other files, of which only the
    entries with the demo's names are replaced. Raises InputError otherwise.
    """
    root = Path(directory).expanduser().absolute()
    previous = _check_target(root, overwrite)
    n_slices = SHAPE[2]
    total = n_slices + 5
    try:
        if root.is_dir():  # build inside it: its parent may not be writable (`segmap demo .`)
            build = _scratch_dir(root)
        else:
            root.parent.mkdir(parents=True, exist_ok=True)
            build = _scratch_dir(root.parent, f".{root.name}")
    except OSError as exc:
        raise InputError(f"Cannot create the demo folder {root}: {exc.strerror or exc}.",
                         _HINT_FOLDER) from None
    try:
        yield Progress(0, total, "Drawing the phantom")
        phantom = build_phantom()
        dicom_files = []
        for name in write_series(phantom.hu, build / DICOM_DIR):
            dicom_files.append(f"{DICOM_DIR}/{name}")
            yield Progress(len(dicom_files), total, f"Writing DICOM {name}")
        yield Progress(n_slices + 1, total, f"Writing {CT_NIFTI}")
        (build / CT_NIFTI).write_bytes(
            _nifti_gz(phantom.hu, phantom.affine, "Segmap demo: synthetic CT (HU)"))
        yield Progress(n_slices + 2, total, "Writing the masks")
        for rel, data in masks(phantom).items():
            path = build / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_nifti_gz(data, phantom.affine, f"Segmap demo mask: {path.name}"))
        yield Progress(n_slices + 3, total, "Writing the items list and taxonomy")
        (build / ITEMS_JSON).write_text(dumps(items_list(sorted(dicom_files)).to_json()),
                                        encoding="utf-8")
        (build / TAXONOMY_JSON).write_text(dumps(taxonomy()), encoding="utf-8")
        (build / README).write_text(readme(n_slices), encoding="utf-8")
        entries = sorted(p.name for p in build.iterdir())
        (build / MARKER).write_text(
            dumps({"kind": MARKER_KIND, "version": 1, "segmap": __version__,
                   "entries": entries + [MARKER]}), encoding="utf-8")
        yield Progress(n_slices + 4, total, f"Moving the demo into {root}")
        _install(build, root, previous)
    except OSError as exc:
        raise InputError(
            f"Cannot write the demo to {root}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "") + ".",
            "Check that the folder is writable and the disk has space (the demo takes 3 MB).",
        ) from None
    finally:
        shutil.rmtree(build, ignore_errors=True)
    yield Progress(total, total, "Demo written")
    return DemoInfo.at(root)


def make_demo(directory: str | os.PathLike[str], *, overwrite: bool = False) -> DemoInfo:
    """Write the demo dataset into ``directory`` (see :func:`write_demo`) and return its paths."""
    return run(write_demo(directory, overwrite=overwrite))
