"""Precise exceptions raised by the core.

Every error a user can cause carries a message that says what is wrong and, where
there is one, how to fix it. The CLI prints them without a traceback; the wizard
shows them in one dialog with the details expandable.
"""

from __future__ import annotations


class SegmapError(Exception):
    """An error the user can act on.

    Parameters
    ----------
    message:
        What is wrong, naming the file or field concerned.
    hint:
        How to fix it, when there is something to do.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(SegmapError):
    """A file or argument the user gave cannot be used as it is."""


class JsonFileError(InputError):
    """A JSON file is missing, unreadable or malformed."""


class ItemsFormatError(InputError):
    """An items list does not have the shape RedBrick expects."""


class VolumeReadError(InputError):
    """An image or mask file cannot be read (missing, corrupt, not NIfTI, ...)."""


class MergeError(SegmapError):
    """The segmentation files of one series cannot be merged.

    ``sdk_message`` is the text RedBrick's SDK reports for the same input, when it
    fails too, so a user can match it with what the RedBrick CLI would print.
    """

    def __init__(self, message: str, hint: str | None = None, sdk_message: str | None = None):
        super().__init__(message, hint)
        self.sdk_message = sdk_message


class OutputError(SegmapError):
    """An output cannot be written where the user asked (a file in the way, no permission,
    a full disk, ...). The message names the path."""


class TaxonomyError(InputError):
    """A taxonomy file is malformed."""


class Cancelled(SegmapError):
    """Long work was cancelled by the user."""

    def __init__(self) -> None:
        super().__init__("Cancelled.")
