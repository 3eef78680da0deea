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
line, which loading skips; ``--restart`` appends a ``reset``. Closing compacts
the log into a fresh file written atomically (temporary file + rename). The API
key is never in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InputError
from app.jsonio import write_bytes_atomic

HEADER = {"journal": "segmap-upload", "version": 1}

try:  # one upload per items list at a time (POSIX); elsewhere nothing stops two
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


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


class Journal:
    """The journal of one items list, for one destination; safe to use from threads."""

    def __init__(self, path: Path | None, destination: str, *, restart: bool = False,
                 read_only: bool = False) -> None:
        self.path = path
        self.destination = destination
        self.read_only = read_only or path is None
        self.tasks: dict[str, TaskRecord] = {}
        self._others: list[str] = []  # lines of other destinations, kept as they are
        self._lock = threading.Lock()
        self._fd: int | None = None
        if self.read_only:
            if path is not None and path.exists():
                self._load(self._read(path))
            return
        assert path is not None
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"Cannot write the upload journal {path}: {exc.strerror or exc}.",
                             "Make the items list's folder writable.") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._fd)
                self._fd = None
                raise InputError(f"Another upload of this items list is running (it holds "
                                 f"{path}).", "Wait for it to finish, or stop it first.") from None
        text = self._read(path)
        if not text:
            os.write(self._fd, (json.dumps(HEADER) + "\n").encode())
        elif not text.endswith("\n"):
            os.write(self._fd, b"\n")  # seal a torn last line so the next record stands alone
        self._load(text)
        if restart:
            self._append({"t": None, "e": "reset"}, durable=True)

    # -- reading ---------------------------------------------------------------------

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"Cannot read the upload journal {path}: "
                             f"{exc.strerror or exc}.") from None

    def _load(self, text: str) -> None:
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash
            if not isinstance(rec, dict) or "e" not in rec:
                continue
            if rec.get("d") != self.destination:
                self._others.append(line)
            else:
                self._apply(rec)

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
            task.state = "created"
            task.ids = {k: rec.get(k) for k in ("dpId", "taskId", "taskIds")}
        elif event == "not_created":
            task.state = None

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
        return [json.dumps(HEADER)] + self._others + [json.dumps(r, ensure_ascii=False)
                                                      for r in out]

    def _compact(self) -> None:
        assert self.path is not None
        try:
            write_bytes_atomic(self.path, ("\n".join(self._lines()) + "\n").encode("utf-8"))
        except OSError as exc:
            raise InputError(f"Cannot write the upload journal {self.path}: "
                             f"{exc.strerror or exc}.",
                             "Make the items list's folder writable.") from None

    def close(self) -> None:
        """Compact the log and release it."""
        if self._fd is None:
            return
        with self._lock:
            fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            self._compact()
        os.close(fd)
