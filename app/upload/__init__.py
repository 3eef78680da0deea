"""Direct upload to RedBrick AI: the SDK's protocol with ``requests``, safely and resumably.

Modules: ``client`` (transport and retries), ``safety`` (the key goes only to the
named host, over https unless it is this computer; never in an error), ``queries``
and ``protocol`` (the operations), ``datapoint`` (the SDK's local steps on converted
tasks), ``credentials`` (API key, organization, project), ``journal`` and
``journal_records`` (resume; a damaged journal is set aside, its tasks looked up),
``locks`` (one upload of a list to a project at a time), ``preflight`` (local
checks), ``task_upload`` (one task), ``uploader`` (a run), ``report`` (statuses and
summary); ``match`` (local tasks to tasks already in the project, with ``match_csv`` and
``match_grid``: masks off the remote series' grid are refused).
"""

from app.upload._client import (
    AuthError,
    RedBrickClient,
    RedBrickError,
    RetryPolicy,
    Timeouts,
    TransientError,
    api_url,
)
from app.upload._credentials import (
    DEFAULT_URL,
    PUBLIC_STORAGE,
    REDBRICK_STORAGE,
    Credentials,
    CredentialsError,
    Destination,
    check_id,
    load_credentials,
    parse_storage,
    resolve_destination,
    typed_or_stored,
)
from app.upload._journal import Journal, journal_path
from app.upload._labeling import (
    LABEL_BRICK,
    LabelOptions,
    LabelsWouldBeReplaced,
    attach_labels,
    labels_journal_path,
)
from app.upload._locks import UploadLocked
from app.upload._match import Match, MatchBy, MatchResult, match_tasks
from app.upload._match_csv import MatchCsvError
from app.upload._protocol import Project, get_project, project_taxonomy
from app.upload._remote import RemoteSeries, RemoteTask
from app.upload._report import TaskResult, TaskState, UploadProgress, UploadReport
from app.upload._tasks import TaskCache, list_tasks
from app.upload._uploader import UploadBlocked, UploadOptions, upload

__all__ = [
    "DEFAULT_URL", "PUBLIC_STORAGE", "REDBRICK_STORAGE", "AuthError", "Credentials",
    "LABEL_BRICK", "LabelOptions", "LabelsWouldBeReplaced", "RemoteSeries", "RemoteTask",
    "TaskCache",
    "attach_labels", "labels_journal_path", "list_tasks",
    "CredentialsError", "Destination", "Journal", "Match", "MatchBy", "MatchCsvError",
    "MatchResult", "Project", "RedBrickClient", "RedBrickError",
    "RetryPolicy", "TaskResult", "TaskState", "Timeouts", "TransientError", "UploadBlocked",
    "UploadLocked", "UploadOptions", "UploadProgress", "UploadReport", "api_url", "check_id",
    "get_project", "journal_path", "load_credentials", "match_tasks", "parse_storage",
    "project_taxonomy",
    "resolve_destination", "typed_or_stored", "upload"
]
