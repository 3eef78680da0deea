"""What Segmap is made of: its version, and every library it ships with and their licences.

Read from the installed packages' metadata, so it is true of this installation: the
wizard's About box and ``segmap --version`` both show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import app


@dataclass(frozen=True)
class Library:
    """A library Segmap's wizard ships with: its version and licence, as installed."""

    name: str
    version: str
    licence: str
    note: str = ""
    direct: bool = True  # Segmap names it (else a library it needs does)


# What the libraries with native code carry inside (their own metadata names the wrapper's
# licence only), and what each decoder is for.
_NOTES = {
    "pyside6-essentials": "Qt for Python; bundles Qt 6 (LGPL-3.0)",
    "pydicom": "reads DICOM",
    "pylibjpeg": "JPEG decoding for pydicom",
    "pylibjpeg-openjpeg": "JPEG 2000 decoder; bundles OpenJPEG (BSD-2-Clause)",
    "pylibjpeg-rle": "RLE Lossless decoder",
    "python-gdcm": "JPEG lossless and JPEG-LS decoder; bundles GDCM (BSD-3-Clause)",
    "isal": "fast gzip for .nii.gz; bundles Intel ISA-L (BSD-3-Clause)",
    "pynrrd": "reads NRRD (Slicer's format)",
    "pillow": "reads PNG masks",
    "nibabel": "reads and writes NIfTI",
}
_CLASSIFIER = "License :: OSI Approved :: "
_CLASSIFIER_NAMES = {"MIT License": "MIT", "BSD License": "BSD",
                     "Apache Software License": "Apache"}


def _licence(md: Any) -> str:
    expression = md.get("License-Expression")
    if expression:
        return str(expression)
    text = (md.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 60:
        return text
    classifiers = [c.removeprefix(_CLASSIFIER).removeprefix("License :: ")
                   for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    classifiers = [_CLASSIFIER_NAMES.get(c, c) for c in classifiers]
    return " / ".join(classifiers) or "see the licence file it ships"


def _requirement(spec: str) -> str | None:
    """The distribution a requirement names, or None for an extra's requirement."""
    if "extra ==" in spec.replace("extra==", "extra =="):
        return None
    name = re.match(r"[A-Za-z0-9._-]+", spec.strip())
    return name.group().lower().replace("_", "-") if name else None


def bundled_libraries(dist: str = "segmap") -> list[Library]:
    """The libraries ``dist`` needs at run time, as installed: what it names first, then
    what those need; one entry each, with the licence their metadata declares."""
    try:
        direct = [n for r in metadata.requires(dist) or [] if (n := _requirement(r))]
    except metadata.PackageNotFoundError:
        return []
    todo, seen = list(direct), dict[str, Library]()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        try:
            md = metadata.metadata(name)
            needs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (an optional or platform-only need)
        seen[name] = Library(md["Name"], md["Version"], _licence(md), _NOTES.get(name, ""),
                             name in direct)
        todo += [n for r in needs if (n := _requirement(r))]
    return list(seen.values())


def segmap_version() -> str:
    """Segmap's version from the installed package's metadata (a checkout: the source's)."""
    try:
        return metadata.version("segmap")
    except metadata.PackageNotFoundError:
        return f"{app.__version__} (not installed)"


def segmap_summary() -> tuple[str, str]:
    """(one-line summary, licence) of the installed Segmap package."""
    try:
        md = metadata.metadata("segmap")
    except metadata.PackageNotFoundError:
        return "", "MIT"
    return str(md["Summary"] or ""), _licence(md)


def version_text() -> str:
    """``segmap --version``: the version, then every library with its version and licence."""
    import platform

    lines = [f"segmap {segmap_version()} (Python {platform.python_version()})"]
    for lib in bundled_libraries():
        note = f"  ({lib.note})" if lib.note else ""
        lines.append(f"  {lib.name} {lib.version}: {lib.licence}{note}"
                     + ("" if lib.direct else "  [needed by the above]"))
    return "\n".join(lines)
