"""A RedBrick-protocol server on 127.0.0.1 for the upload tests and the benchmark.

It speaks what redbrick-sdk 2.35.4 speaks (reference redbrick.md §5): GraphQL
POSTs at ``/graphql/`` whose bodies are base64(gzip(JSON)), with the SDK's
headers checked on every request; presigned PUT URLs pointing back at itself,
whose bodies it keeps. It records every operation, so tests can compare what
Segmap sends with what the SDK sends, keeps a store of tasks already in the
project (``add_task``: what ``tasksPagedSDK`` and ``taskSDK`` list, and what
``updateTasksLabelsSDK`` and ``putTaskAndLabelsSDK`` attach labels to), and it can inject faults (500, 429,
connection resets, slow answers, a GraphQL error after the work was done) before or
after doing the work, on a share of requests chosen by a seeded random generator.

For the hostile tests it can also answer every API call (``redirect``) or every
file PUT (``put_redirect``) with a redirect, accept duplicate task names as a
careless server would (``accept_duplicates``), and :class:`Catcher` is a second
host that records every byte it is sent (where a key must never arrive).

``validateAndConvertToImportFormat`` is an emulation of RedBrick's conversion
to the flat task format (the shape the SDK's own tests mock, reference §3.2):
categories must exist in the project's taxonomy; a task with an unknown
category makes its batch invalid, as the real server answers.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REDBRICK = "22222222-2222-2222-2222-222222222222"
API_KEY = "k" * 21 + "-test-key-" + "s" * 12  # 43 characters, like a real key
ORG = "11111111-aaaa-4bbb-8ccc-000000000001"
PROJECT = "22222222-aaaa-4bbb-8ccc-000000000002"
TAXONOMY = {
    "orgId": ORG, "taxId": "33333333-aaaa-4bbb-8ccc-000000000003", "name": "Test taxonomy",
    "version": 2, "createdAt": "2026-01-01T00:00:00Z", "archived": False, "isNew": True,
    "categories": None, "attributes": None, "taskCategories": None, "taskAttributes": None,
    "colorMap": None, "studyClassify": [], "seriesClassify": [], "instanceClassify": [],
    "objectTypes": [
        {"category": c, "classId": n, "labelType": "SEGMENTATION", "color": col,
         "parents": [], "attributes": [], "archived": False, "hint": None}
        for n, (c, col) in enumerate([("category-a", "#ff0000"), ("category-b", "#00ff00"),
                                      ("category-c", "#0000ff"), ("liver", "#aa5500"),
                                      ("spleen", "#5500aa")])
    ],
}


@dataclass
class Faults:
    """Inject a fault into ``rate`` of the requests (ops: names, or ``PUT``; None = all).

    Kinds: ``500``, ``429``, ``403``, ``reset``, ``slow``, and ``graphql`` (HTTP 200 with a
    GraphQL error: after the work, the answer of a create that did happen).

    Which requests fail is drawn from a seeded generator; the faults themselves take
    turns through ``kinds`` and ``phases`` (before or after the work is done), so a
    run with a dozen faults meets every kind.
    """

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = ("500", "429", "reset", "slow")
    phases: tuple[str, ...] = ("before", "after")
    ops: frozenset[str] | None = None
    slow_seconds: float = 0.05

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        self.count = 0

    def draw(self, op: str) -> tuple[str, str] | None:
        """(kind, "before"|"after") or None."""
        if self.ops is not None and op not in self.ops:
            return None
        with self.lock:
            if self.rng.random() >= self.rate:
                return None
            kind = self.kinds[self.count % len(self.kinds)]
            phase = self.phases[(self.count // len(self.kinds)) % len(self.phases)]
            self.count += 1
        return kind, "before" if kind == "429" else phase


@dataclass
class Blob:
    file_path: str
    content_type: str
    segmentation: bool
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    acked: bool = False


class RBServer:
    """The server state; ``url`` is what a client passes as RedBrick's base URL."""

    def __init__(self, *, api_key: str = API_KEY, status: str = "CREATION_SUCCESS",
                 faults: Faults | None = None, taxonomy: dict | None = None,
                 accept_duplicates: bool = False) -> None:
        self.api_key = api_key
        self.accept_duplicates = accept_duplicates  # a second task of the same name is made
        self.redirect: tuple[int, str] | None = None  # (status, Location) for every POST
        self.put_redirect: tuple[int, str] | None = None  # the same for every PUT
        self.status = status
        self.faults = faults or Faults()
        self.taxonomy = taxonomy or TAXONOMY
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (operation, variables)
        self.queries: dict[str, str] = {}
        self.requests = 0
        self.violations: list[str] = []
        self.blobs: dict[str, Blob] = {}  # token -> blob
        self.acked: Counter[str] = Counter()  # sha256 of bodies answered 2xx
        self.late_puts: list[str] = []  # PUTs to a link whose earlier PUT was answered 2xx
        self.datapoints: dict[str, dict[str, Any]] = {}  # name -> variables + ids
        self.duplicates: list[dict[str, Any]] = []  # second tasks of a name (accept_duplicates)
        self.creations: Counter[str] = Counter()
        self.rejected_duplicates: Counter[str] = Counter()
        self.faults_done: Counter[str] = Counter()
        # Tasks already in the project, in RedBrick's order: task id -> task (add_task).
        self.tasks: dict[str, dict[str, Any]] = {}
        self.attached: Counter[str] = Counter()  # label mutations that changed a task
        self.key_user = "annotator@example.org"  # the user the API key belongs to
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> RBServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- queries for tests -----------------------------------------------------------

    def ops(self) -> list[str]:
        with self.lock:
            return [op for op, _ in self.calls]

    def variables(self, op: str) -> list[dict[str, Any]]:
        with self.lock:
            return [v for o, v in self.calls if o == op]

    def mutations(self) -> list[tuple[str, dict[str, Any]]]:
        """Every operation that changes the project, with its variables, in order."""
        with self.lock:
            return [(o, v) for o, v in self.calls if o in _MUTATIONS]

    def add_task(self, name: str, *, stage: str = "Label",
                 series: list[dict[str, Any]] | None = None,
                 labels_map: list[dict[str, Any] | None] | None = None,
                 labels_data: str | None = None, assignee: str | None = None,
                 priority: float | None = None, task_id: str | None = None) -> str:
        """Seed a task already in the project; returns its id (``task_id``, else a new one). ``series`` entries are
        seriesInfo as RedBrick keeps it (name, itemsIndices, dataType, metaData and
        imageHeaders as JSON text); one NIfTI series "CT" when None."""
        series = series if series is not None else [
            {"name": "CT", "itemsIndices": [0], "dataType": "NIFTI", "metaData": None,
             "imageHeaders": None}]
        task_id = task_id or str(uuid.uuid4())
        n_items = sum(len(s.get("itemsIndices") or []) for s in series)
        with self.lock:
            self.tasks[task_id] = {
                "taskId": task_id, "dpId": str(uuid.uuid4()), "name": name, "stage": stage,
                "series": series, "items": [f"{ORG}/{PROJECT}/items/{task_id}/{k}.nii.gz"
                                            for k in range(n_items)],
                "labelsMap": labels_map, "labelsData": labels_data, "labelsDataPath": None,
                "assignee": assignee, "priority": priority, "updated": "2026-01-01T00:00:00Z"}
        return task_id

    def _entry(self, t: dict[str, Any]) -> dict[str, Any]:
        """A task as the SDK's task_shard asks for it."""
        user = ({"userId": str(uuid.uuid5(uuid.NAMESPACE_DNS, t["assignee"])),
                 "email": t["assignee"], "givenName": "A"} if t["assignee"] else None)
        return {
            "taskId": t["taskId"], "dpId": t["dpId"], "currentStageName": t["stage"],
            "priority": t["priority"],
            "currentStageSubTask": {"state": "ASSIGNED" if user else "UNASSIGNED",
                                    "assignedTo": user},
            "datapoint": {
                "dpId": t["dpId"], "name": t["name"], "items": t["items"],
                "createdAt": "2026-01-01T00:00:00Z", "createdByEntity": None, "metaData": None,
                "seriesInfo": [{"localToWorldTransform": None, **s} for s in t["series"]],
                "heatMaps": None, "transforms": None, "centerline": None,
                "storageMethod": {"storageId": REDBRICK}, "attributes": None,
                "archived": False, "cohorts": []},
            "latestTaskData": {
                "tdId": str(uuid.uuid4()), "createdAt": t["updated"], "createdByEntity": None,
                "labelsData": t["labelsData"], "labelsDataPath": t["labelsDataPath"],
                "labelsStorage": {"storageId": REDBRICK},
                "labelsMap": [{"seriesIndex": m.get("seriesIndex"), "imageIndex": None,
                               "labelName": m.get("labelName")} if m else None
                              for m in t["labelsMap"] or []]},
        }

    def _tasks_paged(self, v: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [t for t in self.tasks.values()
                     if v.get("stageName") is None or t["stage"] == v["stageName"]]
        start = int(v["after"].removeprefix("after-")) if v.get("after") else 0
        first = int(v.get("first") or 50)
        page = found[start:start + first]
        more = start + first < len(found)
        return {"tasksPaged": {"entries": [self._entry(t) for t in page],
                               "cursor": f"after-{start + first}" if more else None,
                               "cacheTime": "2026-01-01T00:00:00+00:00"}}

    def _put_labels(self, v: dict[str, Any], stage: str | None, finish: bool) -> None:
        """Attach labels to a task (RedBrick replaces the ones it has)."""
        for label_map in v.get("labelsMap") or []:
            if label_map and not self._stored(label_map["labelName"]):
                raise ValueError(f"Label file {label_map['labelName']} was never uploaded")
        with self.lock:
            task = self.tasks.get(v["taskId"])
            if task is None:
                raise ValueError(f"Task {v['taskId']} does not exist in this project")
            if stage is not None:
                if task["stage"] != stage:
                    raise ValueError(f"Task {v['taskId']} is not in stage {stage}")
                if task["assignee"] != self.key_user:
                    raise ValueError(f"Task {v['taskId']} is not assigned to you")
            task.update(labelsMap=v.get("labelsMap"), labelsData=v.get("labelsData"),
                        labelsDataPath=v.get("labelsDataPath"),
                        updated=f"2026-01-02T00:00:{len(self.attached):02d}Z")
            if finish:
                task["stage"] = "Output"
            self.attached[v["taskId"]] += 1

    def blob(self, file_path: str) -> bytes:
        """The body last PUT for a RedBrick file path."""
        for b in self.blobs.values():
            if b.file_path == file_path and b.body is not None:
                return b.body
        raise KeyError(file_path)

    # -- operations ------------------------------------------------------------------

    def _presign(self, file_path: str, content_type: str, segmentation: bool) -> dict[str, str]:
        token = uuid.uuid4().hex
        with self.lock:
            self.blobs[token] = Blob(file_path, content_type, segmentation)
        return {"presignedUrl": f"http://127.0.0.1:{self.port}/put/{token}?sig=secret{token[:6]}",
                "filePath": file_path, "fileName": file_path.rsplit("/", 1)[-1]}

    def _stored(self, file_path: str) -> bool:
        with self.lock:
            return any(b.file_path == file_path and b.body is not None
                       for b in self.blobs.values())

    def handle(self, op: str, v: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of an operation; raises ValueError for a GraphQL error."""
        if op == "getProjectSDK":
            return {"project": {
                "orgId": v["orgId"], "projectId": v["projectId"], "name": "Test project",
                "desc": "", "status": self.status, "tdType": "DICOM_SEGMENTATION",
                "taxonomy": self.taxonomy, "projectUrl": f"{self.url}/{ORG}/projects/{PROJECT}",
                "createdAt": "2026-01-01T00:00:00+00:00",
                "updatedAt": "2026-01-01T00:00:00+00:00",
                "consensusSettings": {"enabled": False}, "workspace": None,
                "stages": [{"stageName": "Label", "brickName": "manual-labeling",
                            "stageConfig": "{}", "routing": {"nextStageName": "Output"}},
                           {"stageName": "Output", "brickName": "labelset-output",
                            "stageConfig": "{}", "routing": {"placeholder": None}}]}}
        if op == "validateAndConvertToImportFormatSDK":
            return {"validateAndConvertToImportFormat": self._validate(json.loads(v["original"]))}
        if op == "getLabelStorageSDK":
            return {"getLabelStorage": {"storageId": REDBRICK, "path": ""}}
        if op == "itemsUploadPresignSDK":
            items = [self._presign(f"{v['orgId']}/{v['projectId']}/items/{uuid.uuid4()}/{name}",
                                   ftype, False)
                     for name, ftype in zip(v["files"], v["fileType"], strict=True)]
            return {"itemsUploadPresign": {"items": items}}
        if op == "presignUploadsSDK":
            base = f"{v['orgId']}/{v['projectId']}/"
            return {"presignData": [self._presign(base + f, v["fileTypeData"], True)
                                    for f in v["filesData"]],
                    "presignSeg": [self._presign(base + f, v["fileTypeSeg"], True)
                                   for f in v["filesSeg"]]}
        if op == "createDatapointSDK":
            return {"createDatapoint": self._create(v)}
        if op == "tasksPagedSDK":
            return self._tasks_paged(v)
        if op == "taskSDK":
            with self.lock:
                task = self.tasks.get(v["taskId"])
            if task is None:
                raise ValueError(f"Task {v['taskId']} does not exist in this project")
            return {"task": self._entry(task)}
        if op == "updateTasksLabelsSDK":
            self._put_labels(v, None, bool(v.get("finalize")))
            return {"putLabels": {"ok": True, "message": None}}
        if op == "putTaskAndLabelsSDK":
            self._put_labels(v, v["stageName"], bool(v.get("finished")))
            return {"putManualLabelingTaskAndLabels": {"ok": True}}
        if op == "tasksListSDK":
            search = v.get("taskSearch") or ""
            exact = search.startswith('"') and search.endswith('"')
            term = search.strip('"')
            with self.lock:
                found = [d for n, d in self.datapoints.items()
                         if (n == term if exact else n.startswith(term))]
                found += [d for d in self.duplicates
                          if (d["name"] == term if exact else d["name"].startswith(term))]
            return {"genericTasks": {"entries": [
                {"taskId": d["taskId"], "currentStageName": "Label", "createdAt": "2026",
                 "datapoint": {"dpId": d["dpId"], "name": d["name"],
                               "items": d.get("items") or [],
                               "seriesInfo": [{"name": s.get("name"),
                                               "itemsIndices": s.get("itemsIndices")}
                                              for s in d.get("seriesInfo") or []]}}
                for d in found], "cursor": None}}
        raise ValueError(f"unknown operation {op}")

    def _create(self, v: dict[str, Any]) -> dict[str, Any]:
        name = v["name"]
        if v["storageId"] == REDBRICK:
            for item in v["items"]:
                if not self._stored(item):
                    raise ValueError(f"Item {item} was never uploaded")
        for label_map in v.get("labelsMap") or []:
            if label_map and not self._stored(label_map["labelName"]):
                raise ValueError(f"Label file {label_map['labelName']} was never uploaded")
        with self.lock:
            if name in self.datapoints and self.accept_duplicates:
                self.duplicates.append({**v, "dpId": str(uuid.uuid4()),
                                        "taskId": str(uuid.uuid4())})
                self.creations[name] += 1
                return {"dpId": self.duplicates[-1]["dpId"],
                        "taskId": self.duplicates[-1]["taskId"],
                        "taskIds": [self.duplicates[-1]["taskId"]]}
            if name in self.datapoints:
                self.rejected_duplicates[name] += 1
                raise ValueError(f"Task with name '{name}' already exists in this project")
            ids = {"dpId": str(uuid.uuid4()), "taskId": str(uuid.uuid4())}
            self.datapoints[name] = {**v, **ids}
            self.creations[name] += 1
        return {**ids, "taskIds": [ids["taskId"]]}

    # -- the conversion emulation ----------------------------------------------------

    def _categories(self) -> set[str]:
        return {o["category"] for o in self.taxonomy.get("objectTypes") or []
                if o.get("labelType") == "SEGMENTATION" and not o.get("archived")}

    def _validate(self, tasks: Any) -> dict[str, Any]:
        errors, converted = [], []
        for n, task in enumerate(tasks if isinstance(tasks, list) else [tasks]):
            try:
                converted.append(self._convert(task))
            except ValueError as exc:
                errors.append(f"Task {n}: {exc}")
        if errors:
            return {"isValid": False, "error": "\n".join(errors), "converted": None}
        return {"isValid": True, "error": None, "converted": json.dumps(converted)}

    def _convert(self, task: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(task, dict):
            raise ValueError("task is not an object")
        series = task.get("series")
        if not isinstance(series, list) or not series:
            raise ValueError("`series` must be a non-empty list")
        out: dict[str, Any] = {}
        if "name" in task:
            out["name"] = task["name"]
        items: list[str] = []
        info, labels_map, labels = [], [], []
        cats = self._categories()
        for i, s in enumerate(series):
            its = s.get("items")
            its = [its] if isinstance(its, str) else its
            if not its or not all(isinstance(x, str) for x in its):
                raise ValueError(f"series {i}: `items` must be a path or a list of paths")
            smap = dict(s.get("segmentMap") or {})
            flags = {f: bool(s.get(f) or smap.pop(f, False))
                     for f in ("binaryMask", "semanticMask", "pngMask")}
            for f in ("binaryMask", "semanticMask", "pngMask"):
                smap.pop(f, None)
            masks = {k: m["mask"] for k, m in smap.items() if isinstance(m, dict) and "mask" in m}
            info.append({"name": s.get("name"),
                         "itemsIndices": list(range(len(items), len(items) + len(its))),
                         "dataType": "nifti" if its[0].endswith((".nii", ".nii.gz")) else "dicom",
                         "metaData": s.get("metaData"), "imageHeaders": s.get("imageHeaders"),
                         **flags, "masks": masks})
            items += its
            segs = s.get("segmentations")
            labels_map.append({"labelName": segs, "seriesIndex": i} if segs else None)
            for key, value in smap.items():
                cat = value.get("category") if isinstance(value, dict) else value
                if cat not in cats:
                    raise ValueError(f"Invalid category '{cat}': not in the project's taxonomy")
                label: dict[str, Any] = {"category": cat, "attributes": [],
                                         "dicom": {"instanceid": int(key)}, "volumeindex": i}
                if isinstance(value, dict) and value.get("overlappingGroups"):
                    label["dicom"]["groupids"] = value["overlappingGroups"]
                labels.append(label)
        out.update({"items": items, "seriesInfo": info, "labelsMap": labels_map,
                    "labels": labels})
        for key in ("metaData", "priority", "preAssign", "taskId"):
            if key in task:
                out[key] = task[key]
        return out

    # -- bookkeeping used by the handler ---------------------------------------------

    def check_headers(self, headers: Any) -> int | None:
        """None when the SDK's headers are there; else the status to answer."""
        if headers.get("ApiKey") != self.api_key:
            return 401
        wanted = {"Content-Encoding-RB": "gzip", "Content-Type": "application/json",
                  "Accept": "application/json", "RB-SDK-Version": "2.35.4"}
        for name, value in wanted.items():
            if headers.get(name) != value:
                with self.lock:
                    self.violations.append(f"header {name}={headers.get(name)!r}")
                return 400
        return None

    def store(self, token: str, body: bytes, headers: Any) -> int:
        with self.lock:
            blob = self.blobs.get(token)
            if blob is None:
                self.violations.append(f"PUT to unknown link {token}")
                return 403
            if headers.get("Content-Type") != blob.content_type:
                self.violations.append(f"PUT {blob.file_path}: Content-Type "
                                       f"{headers.get('Content-Type')!r}, "
                                       f"presigned for {blob.content_type!r}")
            if blob.segmentation and headers.get("x-ms-blob-type") != "BlockBlob":
                self.violations.append(f"PUT {blob.file_path} without x-ms-blob-type")
            if blob.acked:
                self.late_puts.append(blob.file_path)
            blob.body = body
            blob.headers = {k: v for k, v in headers.items()}
        return 200

    def ack(self, token: str) -> None:
        with self.lock:
            blob = self.blobs[token]
            blob.acked = True
            self.acked[hashlib.sha256(blob.body or b"").hexdigest()] += 1


_MUTATIONS = frozenset({"createDatapointSDK", "updateTasksLabelsSDK", "putTaskAndLabelsSDK",
                        "putLabelingTaskSDK", "deleteTasksSDK", "moveTasksSDK"})


def _operation(query: str) -> str:
    m = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
    return m.group(1) if m else "?"


class _Handler(BaseHTTPRequestHandler):
    """The HTTP side of an :class:`RBServer` (``rb``), which ``_handler`` binds."""

    rb: RBServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size)
        if len(body) < size:  # the client gave up half-way: nothing arrived
            raise ConnectionAbortedError("incomplete request body")
        return body

    def _send(self, status: int, payload: bytes, ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _fault(self, fault: tuple[str, str] | None, phase: str, op: str) -> bool:
        """Apply a fault of this phase; True when the request ends here."""
        if fault is None or fault[1] != phase:
            return False
        kind = fault[0]
        with self.rb.lock:
            self.rb.faults_done[f"{kind}-{phase}"] += 1
        if kind == "slow":
            time.sleep(self.rb.faults.slow_seconds)
            return False
        if kind == "reset":
            self._reset()
        elif kind == "429":
            self._send(429, b'{"message":"Too many requests"}', extra={"Retry-After": "0"})
        elif kind == "403":  # a key that may not do this
            self._send(403, b'{"message":"Forbidden"}')
        elif kind == "graphql":
            self._send(200, b'{"data":null,"errors":[{"message":"Internal error"}]}')
        else:
            self._send(500, b'{"message":"Internal server error"}')
        return True

    def do_POST(self) -> None:
        try:
            body = self._body()
        except ConnectionAbortedError:
            self.close_connection = True
            return
        with self.rb.lock:
            self.rb.requests += 1
        if self.rb.redirect is not None:
            self._send(self.rb.redirect[0], b"", extra={"Location": self.rb.redirect[1]})
            return
        status = self.rb.check_headers(self.headers)
        if status == 401:
            self._send(401, b'{"message":"Unauthorized"}')
            return
        try:
            payload = json.loads(gzip.decompress(base64.b64decode(body)))
        except (ValueError, OSError):
            with self.rb.lock:
                self.rb.violations.append("POST body is not base64(gzip(JSON))")
            self._send(400, b'{"message":"Bad Request"}')
            return
        if status is not None:
            self._send(status, b'{"message":"Bad Request"}')
            return
        op = _operation(payload["query"])
        fault = self.rb.faults.draw(op)
        if self._fault(fault, "before", op):
            return
        with self.rb.lock:
            self.rb.calls.append((op, payload.get("variables") or {}))
            self.rb.queries.setdefault(op, payload["query"])
        try:
            answer: dict[str, Any] = {"data": self.rb.handle(op, payload["variables"])}
        except ValueError as exc:
            answer = {"data": None, "errors": [{"message": str(exc)}]}
        if self._fault(fault, "after", op):
            return
        self._send(200, json.dumps(answer).encode())

    def do_PUT(self) -> None:
        try:
            body = self._body()
        except ConnectionAbortedError:
            self.close_connection = True
            return
        token = self.path.split("/put/", 1)[-1].split("?", 1)[0]
        if self.rb.put_redirect is not None:
            self._send(self.rb.put_redirect[0], b"",
                       extra={"Location": self.rb.put_redirect[1]})
            return
        fault = self.rb.faults.draw("PUT")
        if self._fault(fault, "before", "PUT"):
            return
        status = self.rb.store(token, body, self.headers)
        if self._fault(fault, "after", "PUT"):
            return
        if status == 200:
            self.rb.ack(token)  # before the answer leaves: the client may act at once
        self._send(status, b"")


def _handler(server: RBServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"rb": server})


class Catcher:
    """Another host (127.0.0.1, its own port): records every byte sent to it, answers 404.

    Whatever arrives, HTTP or a TLS handshake, is kept in ``received``, so a test
    can say that a key never reached it, in clear text or otherwise.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[bytearray] = []
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Catcher:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(2)
                data = bytearray()
                with self.lock:
                    self.received.append(data)  # kept as it arrives
                try:
                    # Up to the end of the headers, or the first record of a TLS handshake.
                    while b"\r\n\r\n" not in data and data[:1] != b"\x16" \
                            and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        with self.lock:
                            data += chunk
                except OSError:
                    pass
                try:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    def everything(self) -> bytes:
        with self.lock:
            return b"".join(self.received)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()


# -- synthetic items lists: the guide's cases I, II and III ------------------------------

def _save(arr: Any, path: Any) -> None:
    import nibabel as nib
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([0.8, 0.8, 2.0, 1.0])), str(path))


def make_case(root: Any, name: str, kind: str, seed: int, shape: tuple[int, ...] = (8, 8, 4)
              ) -> dict[str, Any]:
    """Files for one task under ``root/name`` and its items-list entry (paths relative).

    I: one label file with values 1 and 2; II: two label files sharing the mapping,
    overlapping in a few voxels; III: two binary masks (binaryMask) that overlap.
    Every file's content is unique (seeded), so uploads can be told apart by content.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    folder = root / name
    _save(rng.random(shape).astype(np.float32), folder / "image.nii.gz")
    a = rng.random(shape) < 0.35
    b = rng.random(shape) < 0.35
    series: dict[str, Any] = {"name": "CT", "items": f"{name}/image.nii.gz"}
    cats = {"1": "category-a", "2": "category-b"}
    if kind == "I":
        seg = np.where(a, 1, np.where(b, 2, 0)).astype(np.uint8)
        _save(seg, folder / "seg.nii.gz")
        series.update(segmentations=f"{name}/seg.nii.gz", segmentMap=cats)
    elif kind == "II":
        _save((a * 1).astype(np.uint8), folder / "s1.nii.gz")
        _save((b * 2).astype(np.uint8), folder / "s2.nii.gz")
        series.update(segmentations=[f"{name}/s1.nii.gz", f"{name}/s2.nii.gz"], segmentMap=cats)
    elif kind == "III":
        _save(a.astype(np.uint8), folder / "m1.nii.gz")
        _save((b * 5).astype(np.uint8), folder / "m2.nii.gz")
        m1, m2 = f"{name}/m1.nii.gz", f"{name}/m2.nii.gz"
        series.update(segmentations=[m1, m2], segmentMap={
            "1": {"category": "category-a", "mask": m1},
            "2": {"category": "category-b", "mask": m2}, "binaryMask": True})
    else:
        raise ValueError(kind)
    return {"name": name, "series": [series]}


def make_items(root: Any, n: int, kinds: tuple[str, ...] = ("I", "II", "III"),
               seed: int = 0, shape: tuple[int, ...] = (8, 8, 4)) -> Any:
    """``n`` tasks cycling through ``kinds``, written to ``root/items.json``; returns its path."""
    tasks = [make_case(root, f"case-{k:03d}-{kinds[k % len(kinds)]}", kinds[k % len(kinds)],
                       seed * 1000 + k, shape) for k in range(n)]
    path = root / "items.json"
    path.write_text(json.dumps(tasks, indent=1))
    return path


if __name__ == "__main__":  # python -m tests.app.rb_server: serve until stdin closes
    import sys

    _server = RBServer().start()
    print(_server.url, flush=True)
    sys.stdin.read()
    _server.stop()
