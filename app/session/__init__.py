"""The wizard's model, without Qt: the items list being built, its cases, rows and edits.

One job a module: the data (``CaseState``, ``Change``, a case's ``SignOff``), rows and
their status (``Row``, ``RowStatus``), edits (categories, accepting, including, applying a
mapping), repairs (moving a mask), templates, snapshots for undo, opening (``open_folder``,
``open_items``, ``open_source``) and autosave (``save_session``, ``load_session``;
``set_aside_unreadable`` moves saved work that cannot be read aside, so the wizard starts
without it).
Every edit returns a ``Change``; the wizard's state announces it, so no view
goes stale. A sign-off (``Session.set_sign_off``) is an edit too; on export it can go
into each task's ``metaData`` (``included_items(sign_offs_in_metadata=True)``,
``with_sign_off``, under ``REVIEW_KEYS``; an items list opened again gives them back:
``sign_off_of``). Task names and fields (``Session.set_name_pattern``, ``set_task_name``,
``load_task_fields``, ``task_name``) are edits of the case too; ``included_items`` gives
each task its name and fields, and findings still name the case. Work for a worker thread leaves as a frozen copy
(``Session.validate_work``, ``Session.preview_request``).
"""

from app.session._autosave import (
    SESSION_FORMAT,
    SavedWork,
    Unreadable,
    load_session,
    save_session,
    saved_work,
    session_json,
    set_aside_unreadable,
)
from app.session._codes import CodeChoice
from app.session._history import Snapshot
from app.session._model import (
    REVIEW_KEYS,
    CaseState,
    Change,
    ImageInfo,
    Review,
    SignOff,
)
from app.session._open import matcher_for, open_folder, open_items, open_source
from app.session._repairs import MovePlan
from app.session._rows import Consequences, LegendEntry, Row, RowStatus, consequences
from app.session._session import Session, sign_off_of, with_sign_off
from app.session._standard import (
    SEG_FOLDER,
    TABLE_FOLDER,
    StandardLabels,
    export_standard_labels,
)

__all__ = [
    "REVIEW_KEYS", "SEG_FOLDER", "SESSION_FORMAT", "TABLE_FOLDER", "CaseState", "Change",
    "CodeChoice", "Consequences", "ImageInfo", "LegendEntry", "MovePlan", "Review", "Row",
    "RowStatus", "SavedWork", "Session", "SignOff", "Snapshot", "StandardLabels", "Unreadable",
    "consequences", "export_standard_labels", "load_session", "matcher_for", "open_folder",
    "open_items", "open_source", "save_session", "saved_work", "session_json",
    "set_aside_unreadable", "sign_off_of", "with_sign_off"
]
