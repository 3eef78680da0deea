"""Autosave: the whole session in one JSON file, written a moment after each change.

Everything needed to resume is kept (the items list, every case, the suggestions
and what is still unreviewed); no API key and no voxels. Sessions saved before
``shape`` was called so are read too (``mode``), and those with one ``evidence`` text, and
those from before sign-offs (no case reviewed) and before task fields (none set).
``saved_work`` says what a saved session holds (folder, cases, mappings, when), so
the wizard can offer it back in words.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.discover import Layout, bind_rt_maps
from app.errors import InputError, SegmapError
from app.export import CodeTriple
from app.items import ImportShape, TaskFields, load_taxonomy, parse_items
from app.jsonio import load_json, write_json_atomic
from app.mapping import Suggestion
from app.session._model import CaseState, ImageInfo, SignOff
from app.session._session import Session

SESSION_FORMAT = "segmap-session"


def _layout(text: str) -> Layout | str:
    try:
        return Layout(text)
    except ValueError:  # "items list" and the like
        return text


def session_json(session: Session) -> dict[str, Any]:
    """Everything needed to resume the session (no API key, no voxels)."""
    index = {id(t): i for i, t in enumerate(session.items.tasks)}
    return {
        "format": SESSION_FORMAT, "version": 1,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(session.source),
        "items_path": str(session.items.path) if session.items.path else None,
        "root": str(session.items.root) if session.items.root else None,
        "taxonomy_path": str(session.taxonomy_path) if session.taxonomy_path else None,
        "items": session.items.to_json(),
        "messages": session.messages,
        "name_pattern": session.name_pattern,
        "colours": {name: list(rgb) for name, rgb in session.chosen_colours.items()},
        "cases": [{
            "task": index[id(c.task)], "series": c.series_index, "shape": c.shape,
            "masks": [str(m) for m in c.masks], "image": c.image.to_json(), "layout": c.layout,
            "pairing": {str(m): text for m, text in c.pairing.items()}, "note": c.note,
            "case_key": c.case_key, "warnings": c.warnings,
            "included": c.included, "unreviewed": sorted(c.unreviewed),
            "by_hand": sorted(c.by_hand),
            "sign_off": c.sign_off.to_json() if c.sign_off is not None else None,
            "codes": {k: v.to_json() if v is not None else None for k, v in c.codes.items()},
            "fields": c.fields.to_json(),
            "suggestions": [{"file": str(f), "value": v, "suggestion": s.to_json()}
                            for (f, v), s in c.suggestions.items()],
        } for c in session.cases],
    }


@dataclass(frozen=True)
class SavedWork:
    """What a saved session holds, to offer it back: its source, its cases, how many of
    them carry a mapping, and when it was saved (local time)."""

    path: Path
    source: Path
    cases: int
    mapped: int
    saved_at: datetime

    def text(self) -> str:
        """``s0001/: 3 cases (2 mapped), saved 2026-12-01 14:05``."""
        when = self.saved_at.strftime("%Y-%m-%d %H:%M")
        return f"{self.source}: {self.cases} case(s) ({self.mapped} mapped), saved {when}"


def saved_work(path: str | os.PathLike[str]) -> SavedWork:
    """What the session saved at ``path`` holds (an ``InputError`` when it is not one)."""
    p = Path(path)
    d = load_json(p, "saved session")
    if not isinstance(d, dict) or d.get("format") != SESSION_FORMAT:
        raise InputError(f"{p} is not a Segmap session file.")
    try:
        when = datetime.fromisoformat(d["saved_at"]).astimezone() if d.get("saved_at") else \
            datetime.fromtimestamp(p.stat().st_mtime).astimezone()
        tasks = d["items"] if isinstance(d["items"], list) else d["items"].get("tasks", [])
        mapped = sum(1 for c in d["cases"]
                     if _has_mapping(tasks[c["task"]] if c["task"] < len(tasks) else {}))
        return SavedWork(p, Path(d["source"]), len(d["cases"]), mapped, when)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise InputError(f"{p} is a damaged session file ({exc}).",
                         "Start again from the folder or items list.") from None


@dataclass(frozen=True)
class Unreadable:
    """Saved work that could not be read, and where it was kept (moved, never deleted)."""

    path: Path  # where it was saved
    kept: Path  # where it is now
    reason: str

    def text(self) -> str:
        """What is wrong with it (naming the file) and where it is kept."""
        where = "It stays" if self.kept == self.path else "It is kept, not deleted,"
        return f"{self.reason.rstrip('.')}. {where} as {self.kept}."


def set_aside_unreadable(paths: Iterable[str | os.PathLike[str]]) -> list[Unreadable]:
    """Saved sessions among ``paths`` that cannot be read, each moved aside to
    ``NAME.unreadable-<time>.json`` beside it, so the wizard starts without them and a
    later autosave does not write over them. Missing paths are skipped; a session that
    cannot even be moved stays where it is (and is still listed)."""
    found: list[Unreadable] = []
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for path in map(Path, paths):
        if not os.path.lexists(path):
            continue
        try:
            saved_work(path)
            continue
        except SegmapError as exc:
            reason = exc.message
        kept = path.with_name(f"{path.stem}.unreadable-{stamp}{path.suffix}")
        n = 1
        while os.path.lexists(kept):
            n += 1
            kept = path.with_name(f"{path.stem}.unreadable-{stamp}-{n}{path.suffix}")
        try:
            path.replace(kept)
        except OSError:
            kept = path
        found.append(Unreadable(path, kept, reason))
    return found


def _has_mapping(task: Any) -> bool:
    series = task.get("series") if isinstance(task, dict) else None
    return any(isinstance(s, dict) and s.get("segmentMap") for s in series or ()) or \
        bool(isinstance(task, dict) and task.get("segmentMap"))


def save_session(session: Session, path: str | os.PathLike[str]) -> Path:
    """Autosave: write the session atomically."""
    write_json_atomic(path, session_json(session), indent=None)
    return Path(path)


def load_session(path: str | os.PathLike[str]) -> Session:
    """Resume an autosaved session; the masks are read again on demand."""
    d = load_json(path, "saved session")
    if not isinstance(d, dict) or d.get("format") != SESSION_FORMAT:
        raise InputError(f"{path} is not a Segmap session file.")
    try:
        items = parse_items(d["items"], path=Path(d["items_path"]) if d.get("items_path") else None,
                            root=Path(d["root"]) if d.get("root") else None)
        bind_rt_maps(items)  # RTSTRUCT maps edited by value, as any label map
        taxonomy = None
        if d.get("taxonomy_path"):
            try:
                taxonomy = load_taxonomy(d["taxonomy_path"])
            except SegmapError:
                taxonomy = None  # the file moved: the user picks it again
        session = Session(items=items, cases=[], source=Path(d["source"]), taxonomy=taxonomy,
                          taxonomy_path=Path(d["taxonomy_path"]) if taxonomy else None,
                          messages=list(d.get("messages", [])),
                          name_pattern=d.get("name_pattern"),
                          chosen_colours={str(k): (int(v[0]), int(v[1]), int(v[2]))
                                          for k, v in (d.get("colours") or {}).items()})
        for c in d["cases"]:
            session.cases.append(CaseState(
                task=items.tasks[c["task"]], shape=ImportShape(c.get("shape", c.get("mode"))),
                masks=[Path(m) for m in c["masks"]], image=ImageInfo.from_json(c["image"]),
                layout=_layout(c["layout"]),
                pairing={Path(m): text for m, text in c.get("pairing", {}).items()},
                note=c.get("note", c.get("evidence", "")), case_key=c.get("case_key", ""),
                warnings=list(c["warnings"]), included=bool(c["included"]),
                suggestions={(Path(s["file"]), s["value"]): Suggestion.from_json(s["suggestion"])
                             for s in c["suggestions"]},
                unreviewed=set(c["unreviewed"]), by_hand=set(c.get("by_hand", ())),
                series_index=int(c.get("series", 0)),
                sign_off=SignOff.from_json(c["sign_off"]) if c.get("sign_off") else None,
                codes={k: CodeTriple.from_json(v) if v is not None else None
                       for k, v in (c.get("codes") or {}).items()},
                fields=TaskFields.from_json(c.get("fields") or {})))
    except (KeyError, IndexError, TypeError, ValueError, InputError) as exc:
        raise InputError(f"{path} is a damaged session file ({exc}).",
                         "Start again from the folder or items list.") from None
    return session
