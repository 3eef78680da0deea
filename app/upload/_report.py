"""What an upload did: a status per task while it runs, and a summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.progress import Progress


class TaskState(StrEnum):
    """Where one task of the items list stands."""

    PENDING = "pending"
    CHECKING = "checking"  # validated by RedBrick
    UPLOADING = "uploading"  # images and merged labels going up
    CREATING = "creating"  # createDatapoint sent
    CREATED = "created"
    EXISTING = "already created"  # created by an earlier run (journal)
    ATTACHED = "labels attached"  # labels put on a task already in RedBrick (segmap label)
    ATTACHED_BEFORE = "labels attached before"  # by an earlier run (journal)
    READY = "ready"  # dry run: everything checked, nothing sent
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the task will not change any more in this run."""
        return self in (TaskState.CREATED, TaskState.EXISTING, TaskState.READY,
                        TaskState.FAILED, TaskState.CANCELLED, *_ATTACHED)


_ATTACHED = (TaskState.ATTACHED, TaskState.ATTACHED_BEFORE)


@dataclass(frozen=True)
class TaskResult:
    """One task's status: the ids RedBrick gave it, or a clear error."""

    index: int
    name: str
    state: TaskState = TaskState.PENDING
    dp_id: str | None = None
    task_id: str | None = None
    task_ids: tuple[str, ...] = ()
    error: str | None = None
    files_total: int = 0
    files_done: int = 0
    files_reused: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the task is in RedBrick (or, in a dry run, would go up)."""
        return self.state in (TaskState.CREATED, TaskState.EXISTING, TaskState.READY,
                              *_ATTACHED)

    def with_(self, **changes: Any) -> TaskResult:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON (the --json summary's per-task entry)."""
        return {
            "index": self.index, "name": self.name, "state": str(self.state),
            "dpId": self.dp_id, "taskId": self.task_id, "taskIds": list(self.task_ids),
            "error": self.error, "filesUploaded": self.files_done - self.files_reused,
            "filesReused": self.files_reused, "notes": list(self.notes),
        }


@dataclass(frozen=True)
class UploadProgress(Progress):
    """Progress of an upload, with every task's status (for the wizard's table)."""

    tasks: tuple[TaskResult, ...] = ()


@dataclass
class UploadReport:
    """The outcome of an upload run."""

    project: str
    destination: str
    dry_run: bool
    tasks: list[TaskResult]
    retries: int = 0
    seconds: float = 0.0
    journal: Path | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what Segmap did on the way (conversions)

    def count(self, *states: TaskState) -> int:
        """How many tasks are in any of ``states``."""
        return sum(t.state in states for t in self.tasks)

    @property
    def ok(self) -> bool:
        """True when every task is in RedBrick (created now or by an earlier run)."""
        return all(t.ok for t in self.tasks)

    def failed_names(self) -> list[str]:
        """Names of the tasks to retry (failed or cancelled)."""
        return [t.name for t in self.tasks if not t.ok]

    def summary(self) -> str:
        """One line: how many tasks were created, existed, failed."""
        parts = [f"{len(self.tasks)} task(s)"]
        for state, label in ((TaskState.CREATED, "created"), (TaskState.READY, "ready"),
                             (TaskState.EXISTING, "already created"),
                             (TaskState.ATTACHED, "labels attached"),
                             (TaskState.ATTACHED_BEFORE, "labels attached before"),
                             (TaskState.FAILED, "failed"), (TaskState.CANCELLED, "cancelled")):
            if n := self.count(state):
                parts.append(f"{n} {label}")
        if self.retries:
            parts.append(f"{self.retries} request(s) retried")
        return ", ".join(parts) + f" in {self.seconds:.1f} s"

    def to_json(self) -> dict[str, Any]:
        """The summary object ``segmap upload --json`` prints."""
        return {
            "project": self.project,
            "destination": self.destination,
            "dryRun": self.dry_run,
            "ok": self.ok,
            "created": self.count(TaskState.CREATED),
            "alreadyCreated": self.count(TaskState.EXISTING),
            "ready": self.count(TaskState.READY),
            "labelsAttached": self.count(TaskState.ATTACHED),
            "labelsAttachedBefore": self.count(TaskState.ATTACHED_BEFORE),
            "failed": self.count(TaskState.FAILED),
            "cancelled": self.count(TaskState.CANCELLED),
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "journal": str(self.journal) if self.journal else None,
            "warnings": self.warnings,
            "notes": self.notes,
            "tasks": [t.to_json() for t in self.tasks],
        }
