"""The session's data: the one items list being built or edited, and its cases.

A session holds the items list (``app.items``) and, per task, what the wizard
needs around it (``CaseState``): the mask files the case owns (also those not
written yet), the image it describes, the suggestions and which mappings are
still unreviewed suggestions. Rows, edits, repairs, templates and autosave are
each in their own module; every edit returns a ``Change`` saying what it changed.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.discover import Layout, rois_of, rt_census
from app.errors import InputError
from app.export import CodeTriple
from app.items import ImportShape, ItemsList, Series, Task, TaskFields, Taxonomy
from app.mapping import NamePlan, Suggestion
from app.preview import RGB, Palette
from app.readers import Census, is_rtstruct
from app.validate import FileCache


@dataclass(frozen=True)
class ImageInfo:
    """What the Cases page shows about a case's image."""

    label: str
    files: tuple[Path, ...]
    is_dicom: bool
    modality: str = ""
    patient: str = ""
    study: str = ""
    description: str = ""
    slices: int = 0
    shape: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "files": [str(f) for f in self.files],
                "is_dicom": self.is_dicom, "modality": self.modality, "patient": self.patient,
                "study": self.study, "description": self.description, "slices": self.slices,
                "shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageInfo:
        return cls(d["label"], tuple(Path(f) for f in d["files"]), bool(d["is_dicom"]),
                   d.get("modality", ""), d.get("patient", ""), d.get("study", ""),
                   d.get("description", ""), int(d.get("slices", 0)), tuple(d.get("shape", ())))


class Review(StrEnum):
    """A reviewer's word on a case (the dataset report shows it)."""

    REVIEWED = "reviewed"
    NEEDS_WORK = "needs work"


@dataclass(frozen=True)
class SignOff:
    """Who vouched for a case and how: reviewed, or needs work, with a comment and when."""

    review: Review
    comment: str = ""
    by: str = ""
    at: str = ""  # ISO 8601, UTC

    def to_json(self) -> dict[str, str]:
        return {"review": self.review.value, "comment": self.comment, "by": self.by,
                "at": self.at}

    @classmethod
    def from_json(cls, value: dict[str, object]) -> SignOff:
        return cls(Review(str(value["review"])), str(value.get("comment", "")),
                   str(value.get("by", "")), str(value.get("at", "")))

    @classmethod
    def now(cls, review: Review, comment: str = "", by: str | None = None) -> SignOff:
        """A sign-off given now (UTC) by ``by``, else by the user logged in."""
        return cls(review, comment.strip(), _user() if by is None else by,
                   datetime.now(UTC).isoformat(timespec="seconds"))

    def same_word(self, other: SignOff | None) -> bool:
        """True when ``other`` says the same (review and comment), whoever and whenever."""
        return other is not None and (self.review, self.comment) == (other.review,
                                                                      other.comment)

    def metadata(self) -> dict[str, str]:
        """The sign-off as a task's ``metaData`` (RedBrick shows it in the viewer; its
        values are strings): the review always, the comment, who and when if known."""
        fields = {REVIEW_KEYS[0]: self.review.value, REVIEW_KEYS[1]: self.comment,
                  REVIEW_KEYS[2]: self.by, REVIEW_KEYS[3]: self.at}
        return {k: v for k, v in fields.items() if v}


# The task metaData keys a sign-off is written under (review, comment, by, at).
REVIEW_KEYS = ("segmapReview", "segmapReviewComment", "segmapReviewedBy", "segmapReviewedAt")


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no password entry (a bare container)
        return ""


@dataclass
class CaseState:
    """One task of the session and what the wizard knows around it."""

    task: Task
    shape: ImportShape
    masks: list[Path]  # every mask file of the case, absolute, in segmentation order
    image: ImageInfo
    layout: Layout | str = ""
    # Why each mask is paired with this image (the scan's evidence, or a move by the user),
    # and why the case has its shape.
    pairing: dict[Path, str] = field(default_factory=dict)
    note: str = ""
    case_key: str = ""  # the case id mask names may start with (for structure names)
    warnings: list[str] = field(default_factory=list)
    included: bool = True
    # Best suggestion per target: (mask path, value) for label maps, (mask path, None) for binary.
    suggestions: dict[tuple[Path, int | None], Suggestion] = field(default_factory=dict)
    # Instance ids whose category came from a suggestion nobody accepted yet.
    unreviewed: set[int] = field(default_factory=set)
    # Instance ids (values of label maps) the user mapped by hand.
    by_hand: set[int] = field(default_factory=set)
    series_index: int = 0  # the series that carries the segmentations
    sign_off: SignOff | None = None  # the reviewer's word on the case (the dataset report)
    # Codes the user confirmed, by category label (None: no code wanted); the others are
    # suggested from the category's name (``Session.code_of``).
    codes: dict[str, CodeTriple | None] = field(default_factory=dict)
    # The task's fields at creation (priority, metaData, ..., a name of its own); the
    # task's name in the session stays the case id (``Session.task_name`` gives RedBrick's).
    fields: TaskFields = field(default_factory=TaskFields)

    @property
    def name(self) -> str:
        return str(self.task.name)

    @property
    def evidence(self) -> str:
        """Why these masks are paired with this image, counted over the masks it has now."""
        reasons: dict[str, int] = {}
        for mask in self.masks:
            text = self.pairing.get(mask, "")
            if text:
                reasons[text] = reasons.get(text, 0) + 1
        parts = [text + (f" ({n} masks)" if n > 1 else "")
                 for text, n in list(reasons.items())[:2]]
        if len(reasons) > 2:
            parts.append(f"and {len(reasons) - 2} more")
        return " | ".join(parts + ([self.note] if self.note else []))

    @property
    def series(self) -> Series:
        return self.task.series[self.series_index]

    @property
    def binary(self) -> bool:
        return self.shape.binary


@dataclass(frozen=True)
class Change:
    """What an edit changed; the wizard's state announces it, so no view goes stale.

    ``mapping``: the cases whose rows changed; ``cases``: which cases exist, are
    included, or own which masks; ``notes``: what happened, in words; ``skipped``:
    cases left as they were (their labels differ); ``count``: how many things the
    edit touched (suggestions accepted, cases changed); ``reviews``: the cases whose
    sign-off changed (work to keep, but nothing validation or the preview depends on).
    """

    mapping: frozenset[str] = frozenset()
    cases: bool = False
    notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    count: int = 0
    reviews: frozenset[str] = frozenset()

    @classmethod
    def of(cls, names: Iterable[str], **kw: Any) -> Change:
        """A change of the mapping of the cases ``names``."""
        return cls(mapping=frozenset(names), **kw)

    @property
    def nothing(self) -> bool:
        """True when the edit changed nothing."""
        return not (self.mapping or self.cases or self.reviews)

    def __or__(self, other: Change) -> Change:
        return Change(self.mapping | other.mapping, self.cases or other.cases,
                      self.notes + other.notes, self.skipped + other.skipped,
                      self.count + other.count, self.reviews | other.reviews)


@dataclass
class SessionData:
    """The items list, its cases and the file cache; the base every job builds on."""

    items: ItemsList
    cases: list[CaseState]
    source: Path
    taxonomy: Taxonomy | None = None
    taxonomy_path: Path | None = None
    cache: FileCache = field(default_factory=FileCache)
    messages: list[str] = field(default_factory=list)  # what opening the source reported
    palette: Palette = field(default_factory=Palette, repr=False)  # categories' colours
    name_pattern: str | None = None  # every task's name (``app.session._fields``)
    # Colours the user chose for categories (by their label): the preview, the report and
    # the exported label tables draw each category in it, before any other colour.
    chosen_colours: dict[str, RGB] = field(default_factory=dict)
    _reals: dict[str, Path] = field(default_factory=dict, repr=False)
    _name_values: dict[tuple[str, tuple[Path, ...]], dict[str, str]] = field(
        default_factory=dict, repr=False)
    _plan: tuple[object, NamePlan] | None = field(default=None, repr=False)

    @property
    def base(self) -> Path:
        """Folder the items list's relative paths start from."""
        return self.items.base_dir

    def census(self, path: Path) -> Census | None:
        """The census of a mask (cached; None when the file cannot be read). An RT
        Structure Set's is its ROIs, each valued by its place in the file, filled on its
        case's series."""
        found = self.cache.check(str(path)).census
        if found is None and is_rtstruct(path):
            case = next((c for c in self.cases if path in c.masks), None)
            if case is not None and (found := rt_census(path, case.image.files)) is not None:
                self.cache.remember(str(path), found)
        return found

    def alternatives(self, case: CaseState) -> list[CaseState]:
        """The other cases on the same image (alternative segmentations of it: two label
        maps, or a label map and binary masks), to compare side by side and keep one."""
        files = tuple(case.image.files)
        return [c for c in self.cases if c is not case and tuple(c.image.files) == files
                and files]

    def rois(self, case: CaseState) -> tuple[str, ...] | None:
        """The ROI names (place in the file from 1 = a row's value) when the case's mask is an
        RT Structure Set kept as it is, else None."""
        return rois_of(case.masks)

    def case(self, name: str) -> CaseState:
        for c in self.cases:
            if c.name == name:
                return c
        raise InputError(f"No case named {name!r}.")

    def real(self, path: Path) -> Path:
        """``path`` with symlinks resolved, remembered: rows are recomputed on every edit
        for cases of 100+ masks, and asking the file system each time shows."""
        key = str(path)
        if key not in self._reals:
            self._reals[key] = path.resolve()
        return self._reals[key]

    def resolve(self, p: str) -> Path:
        """A path of the items list as a resolved local path."""
        resolved = self.items.resolve(p)
        return self.real(resolved) if resolved else Path(p)

    def mask_keys(self, case: CaseState) -> dict[Path, int]:
        """Instance id per binary mask file (resolved path) of a case."""
        smap = case.series.segment_map
        if smap is None:
            return {}
        return {self.resolve(seg.mask): key for key, seg in smap.segments.items()
                if isinstance(seg.mask, str)}

    def mapped_key_of(self, case: CaseState, mask: Path) -> int | None:
        """The instance id whose binary ``mask`` is this file, if any."""
        return self.mask_keys(case).get(self.real(mask))
