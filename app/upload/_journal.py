"""The upload journal: what went up and what was created, so a run can resume.

It lives beside the items list (``items.json`` -> ``items.upload-journal.jsonl``)
and holds, per destination (URL, organization, project) and per task name:

* ``file``: an image file uploaded, with its size and mtime and RedBrick's path;
* ``label``: a merged label volume uploaded, with a fingerprint of its inputs,
  RedBrick's path and the overlap groups the merge found;
* ``creating``: createDatapoint is about to be sent (written and fsynced first,
  so a crash in flight leads to a look-up, never to a second task);
* ``created``: the task exists, with its ids; ``not_created``: it failed for sure.

It is an append-only log of JSON lines: every record is one ``write`` of one
line to a file opened for appending, so a crash can at worst leave a torn last
line, which is cut off when the journal is next opened; ``--restart`` appends a
``reset``. Closing compacts the log into a fresh file written atomically
(temporary file + rename). The API key is never in it.

Any other damage (a line that is no JSON, a record of the wrong types, a header
that is not Segmap's; ``_journal_records``) is never guessed at: the file is kept
aside as ``<journal>.damaged-<time>``, the journal is rebuilt from its whole
records with a damage mark, and from then on every task that has no record since
(``unsure``) is looked up in RedBrick by its name before it is created. Only
``created`` records are trusted from a damaged file: a lost line may have been the
one that said a task went up.

One upload uses a journal at a time: a lock (``_locks``) named by the journal's path.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InputError, SegmapError
from app.jsonio import write_bytes_atomic
from app.upload._journal_records import DAMAGED, HEADER, parse
from app.upload._locks import Held, hold


def journal_path(items_path: Path) -> Path:
    """Where the journal of an items list lives."""
    return items_path.with_name(items_path.stem + ".upload-journal.jsonl")


def fingerprint(path: str | os.PathLike[str]) -> list[int]:
    """Size and modification time: a file that changed is uploaded again."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


@dataclass
class LabelRecord:
    """A merged label volume already uploaded (``file_path`` None: nothing to upload)."""

    key: str
    file_path: str | None
    segments: dict[int, list[int] | None]


@dataclass
class TaskRecord:
    """What the journal knows about one task."""

    files: dict[str, tuple[list[int], str]] = field(default_factory=dict)
    labels: dict[int, LabelRecord] = field(default_factory=dict)
    state: str | None = None  # None, "creating", "created"
    ids: dict[str, Any] = field(default_factory=dict)
    absent: bool = False  # known not to be in RedBrick (a not_created record)


class Journal:
    """The journal of one items list, for one destination; safe to use from threads.

    ``damage`` says what was wrong with the file when it was opened (None: nothing),
    ``damaged_copy`` where the damaged file was kept.
    """

    def __init__(self, path: Path | None, destination: str, *, restart: bool = False,
                 read_only: bool = False) -> None:
        self.path = path
        self.destination = destination
        self.read_only = read_only or path is None
        self.tasks: dict[str, TaskRecord] = {}
        self.damage: str | None = None
        self.damaged_copy: Path | None = None
        self.distrust = False  # rebuilt from a damaged file: see ``unsure``
        self._others: list[str] = []  # lines of other destinations, kept as they are
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._held: Held | None = None
        if self.read_only:
            if path is not None and path.exists():
                self._load(self._read(path))
            return
        assert path is not None
        self._held = hold(["journal", str(path.resolve())], f"with the journal {path}",
                          str(path))
        try:
            self._open(path)
        except BaseException:
            self._held.release()
            raise
        if restart:
            self._append({"t": None, "e": "reset"}, durable=True)

    def _open(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"Cannot write the upload journal {path}: {exc.strerror or exc}.",
                             "Make the items list's folder writable.") from None
        text = self._read(path)
        torn = self._load(text)
        if self.damage is not None:
            self._set_aside(path)
        elif torn:  # what a kill during a write leaves: that record never was
            os.ftruncate(self._fd, os.fstat(self._fd).st_size
                         - len(torn.encode("utf-8", "surrogateescape")))
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, (json.dumps(HEADER) + "\n").encode())

    def _set_aside(self, path: Path) -> None:
        """Keep the damaged file as ``<journal>.damaged-<time>`` and rebuild the journal
        from its trusted records, with the damage mark first."""
        assert self._fd is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(100):
            copy = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n else ""))
            try:
                os.link(path, copy)  # the same bytes under the new name, in one step
                break
            except FileExistsError:
                continue
            except OSError:  # no hard links here: a copy
                try:
                    with open(copy, "xb") as fh:
                        fh.write(path.read_bytes())
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise InputError(f"Cannot keep the damaged upload journal {path} aside as "
                                     f"{copy}: {exc.strerror or exc}.",
                                     "Make the journal's folder writable.") from None
                break
        self.damaged_copy = copy
        self.distrust = True
        os.close(self._fd)
        self._fd = None
        self._compact()
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND)

    # -- reading ---------------------------------------------------------------------

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise InputError(f"Cannot read the upload journal {path}: "
                             f"{exc.strerror or exc}.") from None

    def _load(self, text: str) -> str:
        """Take in the journal's trusted records; returns a torn last line ("" if none)."""
        parsed = parse(text)
        self.damage = parsed.damage
        self.distrust = parsed.distrust or parsed.damage is not None
        for line, rec in parsed.records:
            if rec.get("d") != self.destination:
                self._others.append(line)
            else:
                self._apply(rec)
        if parsed.damage is not None:  # from a damaged file only "created" is believed
            for task in self.tasks.values():
                task.absent = False
        return parsed.torn

    def _apply(self, rec: dict[str, Any]) -> None:
        event = rec["e"]
        if event == "reset":  # --restart: everything before is forgotten
            self.tasks.clear()
            return
        task = self.tasks.setdefault(str(rec.get("t")), TaskRecord())
        if event == "file":
            task.files[rec["path"]] = (list(rec["fp"]), rec["filePath"])
        elif event == "label":
            segments = {int(k): v for k, v in (rec.get("segments") or {}).items()}
            task.labels[int(rec["series"])] = LabelRecord(rec["key"], rec.get("filePath"),
                                                          segments)
        elif event == "creating":
            task.state = "creating"
        elif event == "created":
            task.state, task.absent = "created", False
            task.ids = {"dpId": rec.get("dpId"), "taskId": rec.get("taskId"),
                        "taskIds": list(rec.get("taskIds") or [])}
        elif event == "not_created":
            task.state, task.absent = None, True

    def uploaded_file(self, task: str, path: str, fp: list[int]) -> str | None:
        """RedBrick's path of a file uploaded earlier, if it has not changed since."""
        with self._lock:
            entry = self.tasks.get(task, TaskRecord()).files.get(path)
        return entry[1] if entry and entry[0] == fp else None

    def label(self, task: str, series: int, key: str) -> LabelRecord | None:
        """A label volume uploaded earlier from the same inputs."""
        with self._lock:
            rec = self.tasks.get(task, TaskRecord()).labels.get(series)
        return rec if rec is not None and rec.key == key else None

    def state(self, task: str) -> tuple[str | None, dict[str, Any]]:
        """("created", ids), ("creating", {}) or (None, {})."""
        with self._lock:
            rec = self.tasks.get(task)
            return (rec.state, dict(rec.ids)) if rec else (None, {})

    def unsure(self, task: str) -> bool:
        """True when the task may be in RedBrick although the journal does not say it is
        (a create was in flight, or the journal was damaged and nothing since says where
        the task stands): look it up by name before creating it."""
        with self._lock:
            rec = self.tasks.get(task)
            if rec is not None and rec.state == "creating":
                return True
            return self.distrust and (rec is None or rec.state is None and not rec.absent)

    # -- writing ---------------------------------------------------------------------

    def _append(self, rec: dict[str, Any], durable: bool = False) -> None:
        rec = {"d": self.destination, **rec}
        with self._lock:
            self._apply(rec)
            if self._fd is not None:
                os.write(self._fd, (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
                if durable:
                    os.fsync(self._fd)

    def record_file(self, task: str, path: str, fp: list[int], file_path: str) -> None:
        """An image file went up."""
        self._append({"t": task, "e": "file", "path": path, "fp": fp, "filePath": file_path})

    def record_label(self, task: str, series: int, key: str, file_path: str | None,
                     segments: dict[int, list[int] | None]) -> None:
        """A merged label volume went up (or was empty)."""
        self._append({"t": task, "e": "label", "series": series, "key": key,
                      "filePath": file_path,
                      "segments": {str(k): v for k, v in segments.items()}})

    def creating(self, task: str) -> None:
        """createDatapoint is about to be sent: on disk before the request leaves."""
        self._append({"t": task, "e": "creating"}, durable=True)

    def created(self, task: str, dp_id: str | None, task_id: str | None,
                task_ids: list[str]) -> None:
        """The task exists."""
        self._append({"t": task, "e": "created", "dpId": dp_id, "taskId": task_id,
                      "taskIds": task_ids}, durable=True)

    def not_created(self, task: str) -> None:
        """createDatapoint failed for sure (an answer, not an accident)."""
        self._append({"t": task, "e": "not_created"}, durable=True)

    def _lines(self) -> list[str]:
        out = []
        for name, rec in self.tasks.items():
            base = {"d": self.destination, "t": name}
            if rec.state == "created":
                out.append({**base, "e": "created", **rec.ids})
                continue
            for path, (fp, file_path) in rec.files.items():
                out.append({**base, "e": "file", "path": path, "fp": fp, "filePath": file_path})
            for series, lab in rec.labels.items():
                out.append({**base, "e": "label", "series": series, "key": lab.key,
                            "filePath": lab.file_path,
                            "segments": {str(k): v for k, v in lab.segments.items()}})
            if rec.state == "creating":
                out.append({**base, "e": "creating"})
            elif rec.absent:
                out.append({**base, "e": "not_created"})
        mark = [json.dumps({"e": DAMAGED, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
                ] if self.distrust else []
        return [json.dumps(HEADER), *mark, *self._others,
                *(json.dumps(r, ensure_ascii=False) for r in out)]

    def _compact(self) -> None:
        assert self.path is not None
        try:
            write_bytes_atomic(self.path, ("\n".join(self._lines()) + "\n").encode("utf-8"))
        except OSError as exc:
            raise InputError(f"Cannot write the upload journal {self.path}: "
                             f"{exc.strerror or exc}.",
                             "Make the items list's folder writable.") from None

    def close(self) -> None:
        """Compact the log and release it (and its lock)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError, SegmapError):  # the log itself is whole
                self._compact()
            os.close(fd)
        if self._held is not None:
            self._held.release()
            self._held = None
