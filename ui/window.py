"""What the pages and panels may ask of the wizard's window (``ui.main_window.MainWindow``).

A protocol, so that the window imports its pages and the pages never import the
window: the dependency points one way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from PySide6.QtWidgets import QWidget

from app.progress import Work
from ui.case_loader import CaseLoader
from ui.state import WizardState
from ui.worker import Worker

P = TypeVar("P", bound=QWidget)


class Window(Protocol):
    """What a page may ask of the wizard's window."""

    state: WizardState
    loader: CaseLoader

    @property
    def pages(self) -> Sequence[QWidget]: ...

    def page(self, cls: type[P]) -> P: ...

    def page_index(self, page: QWidget) -> int: ...

    def go_next(self) -> None: ...

    def go_to(self, index: int) -> None: ...

    def run_work(self, work: Work[Any] | Callable[[], Any], label: str,
                 on_done: Callable[[Any], None], on_cancel: Callable[[], None] | None = None,
                 on_failed: Callable[[BaseException, str], None] | None = None
                 ) -> Worker | None: ...
