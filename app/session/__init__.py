"""The wizard's model, without Qt: the items list being built, its cases and their rows."""

from app.session._model import (
    ABSENT,
    EMPTY,
    NOT_IN_TAXONOMY,
    OK,
    SUGGESTED,
    UNMAPPED,
    CaseState,
    ImageInfo,
    Row,
    Session,
)
from app.session._open import (
    load_session,
    matcher_for,
    open_folder,
    open_items,
    open_source,
    save_session,
    session_json,
)

__all__ = ["ABSENT", "EMPTY", "NOT_IN_TAXONOMY", "OK", "SUGGESTED", "UNMAPPED", "CaseState",
           "ImageInfo", "Row", "Session", "load_session", "matcher_for", "open_folder",
           "open_items", "open_source", "save_session", "session_json"]
