"""RedBrick's upload operations, with the variables redbrick-sdk 2.35.4 sends.

Each function is one GraphQL operation of reference redbrick.md §5.2 (plus the
project and task look-ups); answers come back as small typed objects. Building
the ``createDatapoint`` variables from a converted task is in ``datapoint``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.items import NIFTI_TYPE, Taxonomy
from app.upload import _queries as queries
from app.upload._client import RedBrickClient, RedBrickError

READY = "CREATION_SUCCESS"

@dataclass(frozen=True)
class Project:
    """What Segmap needs of ``getProjectSDK``'s answer."""

    org_id: str
    project_id: str
    name: str
    status: str
    taxonomy: dict[str, Any]
    workspace_id: str | None
    url: str | None
    # (stageName, brickName) of each stage, in the project's order
    stages: tuple[tuple[str, str], ...] = ()


def get_project(client: RedBrickClient, org_id: str, project_id: str) -> Project:
    """The project and its taxonomy; an error unless it exists and is ready."""
    data = client.execute(queries.GET_PROJECT, {"orgId": org_id, "projectId": project_id})
    project = data.get("project")
    if not isinstance(project, dict):
        raise RedBrickError(f"Project {project_id} was not found in organization {org_id}.",
                            "Check --org and --project (the UUIDs in the project's URL) and "
                            "that the API key belongs to that organization.")
    status = str(project.get("status"))
    if status != READY:
        raise RedBrickError(f"Project {project.get('name') or project_id} is not ready for "
                            f"uploads (status {status}).",
                            "Wait until RedBrick has finished creating it, then try again."
                            if status == "CREATING" else "Pick an active project.")
    return Project(org_id, project_id, str(project.get("name") or ""), status,
                   project.get("taxonomy") or {},
                   (project.get("workspace") or {}).get("workspaceId"),
                   project.get("projectUrl"), _stages(project.get("stages")))


def _stages(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple((str(s["stageName"]), str(s.get("brickName") or "")) for s in value
                 if isinstance(s, dict) and isinstance(s.get("stageName"), str))


def project_taxonomy(client: RedBrickClient, org_id: str, project_id: str) -> Taxonomy:
    """The project's taxonomy, for the category choices ("load taxonomy from project")."""
    project = get_project(client, org_id, project_id)
    return Taxonomy.from_json(project.taxonomy, source=f"project {project.name!r}")


@dataclass(frozen=True)
class Verdict:
    """``validateAndConvertToImportFormat``'s answer for a batch of tasks."""

    valid: bool
    error: str | None
    converted: list[dict[str, Any]] | None


def validate_and_convert(client: RedBrickClient, tasks: list[dict[str, Any]],
                         storage_id: str) -> Verdict:
    """Server-side validation and conversion to RedBrick's flat task format."""
    data = client.execute(queries.VALIDATE_AND_CONVERT, {
        "original": json.dumps(tasks, separators=(",", ":")),
        "convert": True,
        "storageId": storage_id,
    })
    out = data.get("validateAndConvertToImportFormat") or {}
    converted = None
    if out.get("converted"):
        try:
            converted = json.loads(out["converted"])
        except (TypeError, ValueError):
            raise RedBrickError("RedBrick's conversion of the items list is not JSON.") from None
    if converted is not None and not isinstance(converted, list):
        converted = [converted]
    return Verdict(bool(out.get("isValid")), out.get("error"), converted)


def get_label_storage(client: RedBrickClient, org_id: str, project_id: str) -> str:
    """The storage id where the project keeps labels."""
    data = client.execute(queries.GET_LABEL_STORAGE, {"orgId": org_id, "projectId": project_id})
    return str((data.get("getLabelStorage") or {}).get("storageId") or "")


@dataclass(frozen=True)
class Presigned:
    """Where to PUT a file, and the path to give RedBrick afterwards."""

    url: str
    file_path: str


def _presigned(entries: Any, expected: int, what: str) -> list[Presigned]:
    if not isinstance(entries, list) or len(entries) != expected:
        raise RedBrickError(f"RedBrick returned {len(entries) if isinstance(entries, list) else 0}"
                            f" upload links for {expected} {what}.")
    return [Presigned(str(e["presignedUrl"]), str(e["filePath"])) for e in entries]


def items_upload_presign(client: RedBrickClient, org_id: str, project_id: str,
                         files: list[str], file_types: list[str]) -> list[Presigned]:
    """Upload links for image files (``files`` are base names, as the SDK sends)."""
    data = client.execute(queries.ITEMS_UPLOAD_PRESIGN, {
        "orgId": org_id, "projectId": project_id, "files": files, "fileType": file_types})
    return _presigned((data.get("itemsUploadPresign") or {}).get("items"), len(files), "files")


def presign_uploads(client: RedBrickClient, org_id: str, project_id: str, task_id: str,
                    version_id: str, data_count: int, seg_count: int
                    ) -> tuple[list[Presigned], list[Presigned]]:
    """Upload links for a labels JSON (``data_count`` 0/1) and label NIfTI files."""
    data = client.execute(queries.PRESIGN_UPLOADS, {
        "orgId": org_id,
        "projectId": project_id,
        "filesData": [f"labels/{task_id}/{version_id}/data.json"] if data_count == 1 else [],
        "fileTypeData": "application/json",
        "fileEncodingData": "gzip",
        "filesSeg": [f"labels/{task_id}/{version_id}/{n}.nii.gz" for n in range(seg_count)],
        "fileTypeSeg": NIFTI_TYPE,
        "fileEncodingSeg": None,
    })
    return (_presigned(data.get("presignData"), data_count, "label files"),
            _presigned(data.get("presignSeg"), seg_count, "label files"))


@dataclass(frozen=True)
class Created:
    """The ids RedBrick gave a task; for one looked up, what it holds as far as RedBrick
    said (``items``: its items as stored; ``series``: each series' name and item indices;
    None: not said)."""

    dp_id: str | None
    task_id: str | None
    task_ids: list[str]
    items: list[str] | None = None
    series: list[tuple[str | None, list[int]]] | None = None

    def holds(self, variables: dict[str, Any]) -> bool:
        """True unless RedBrick said this task holds other items or series than the
        ``createDatapoint`` ``variables`` would make."""
        if self.items is not None and self.items != list(variables.get("items") or []):
            return False
        ours = [(s.get("name"), list(s.get("itemsIndices") or []))
                for s in variables.get("seriesInfo") or [] if isinstance(s, dict)]
        return self.series is None or self.series == ours


def create_datapoint(client: RedBrickClient, variables: dict[str, Any],
                     reconcile: Callable[[], Created | None]) -> Created:
    """Create a task; after an attempt that may have worked, ``reconcile`` looks first."""

    def look() -> dict[str, Any] | None:
        found = reconcile()
        return None if found is None else {"createDatapoint": {
            "dpId": found.dp_id, "taskId": found.task_id, "taskIds": found.task_ids}}

    data = client.execute(queries.CREATE_DATAPOINT, variables, reconcile=look)
    out = data.get("createDatapoint") or {}
    if not out.get("dpId"):
        raise RedBrickError("RedBrick did not create the task (SDK: Failed to create task).")
    return Created(out.get("dpId"), out.get("taskId"), list(out.get("taskIds") or []))


def find_task(client: RedBrickClient, org_id: str, project_id: str, name: str) -> Created | None:
    """The task called exactly ``name`` in the project, if there is one."""
    data = client.execute(queries.TASKS_LIST, {
        "orgId": org_id, "projectId": project_id, "stageName": None,
        # The SDK's exact-match search (list_tasks(task_name=..., exact_match=True)).
        "taskSearch": '"' + name.strip('"') + '"',
        "manualLabelingFilters": {}, "first": 50, "after": None,
    })
    for entry in (data.get("genericTasks") or {}).get("entries") or []:
        datapoint = entry.get("datapoint") or {}
        if datapoint.get("name") == name:
            task_id = entry.get("taskId")
            items = datapoint.get("items")
            series = datapoint.get("seriesInfo")
            return Created(
                datapoint.get("dpId"), task_id, [task_id] if task_id else [],
                [str(i) for i in items] if isinstance(items, list) else None,
                [(s.get("name"), list(s.get("itemsIndices") or [])) for s in series
                 if isinstance(s, dict)] if isinstance(series, list) else None)
    return None
