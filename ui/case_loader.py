"""Loads the current case for the previews, off the GUI thread; the newest request wins.

The Mapping and Preview pages share one loader: the image is read once (cached),
the masks merged as RedBrick will, and the statistics (mean intensity per label)
computed after the first overlay is shown. The worker gets a frozen
``PreviewRequest`` built here, on the GUI thread, never the live session.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.preview import CasePreview, ImageCache, PreviewRequest, load_case_preview, preview_stats
from app.session import CaseState, Session
from ui.worker import LatestRequest


class CaseLoader(QObject):
    """Emits ``ready`` with a CasePreview, then ``statsReady`` with per-value statistics."""

    loading = Signal(str)  # case name
    ready = Signal(object)  # CasePreview
    statsReady = Signal(str, object)  # case name, {value: ValueStats}
    failed = Signal(str, object)  # case name, exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = ImageCache(3)
        self.current: CasePreview | None = None
        self._case: str | None = None
        self._request = LatestRequest(self)
        self._request.finished.connect(self._on_request_finished)
        self._request.failed.connect(self._on_request_failed)
        self._stats = LatestRequest(self)
        self._stats.finished.connect(self._on_stats_finished)
        self._pending: PreviewRequest | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self._start)

    def load(self, session: Session, case: CaseState, soon: bool = False) -> None:
        """Load ``case``; with ``soon``, wait a moment for more edits first."""
        if not soon and self.current is not None and self.current.case == case.name \
                and self._case == case.name:
            self.ready.emit(self.current)
            return
        self._pending = session.preview_request(case)  # frozen now, on the GUI thread
        if soon:
            self._debounce.start()
        else:
            self._start()

    def _start(self) -> None:
        if self._pending is None:
            return
        request, self._pending = self._pending, None
        self._case = request.case
        self.loading.emit(request.case)
        cache = self.cache
        self._request.request(lambda: load_case_preview(request, cache))

    def _on_request_finished(self, preview: CasePreview) -> None:
        self.current = preview
        self.ready.emit(preview)
        self._stats.request(lambda: (preview.case, preview_stats(preview)))

    def _on_request_failed(self, exc: object, _tb: str) -> None:
        self.current = None
        self.failed.emit(self._case or "", exc)

    def _on_stats_finished(self, result: tuple[str, dict]) -> None:
        name, stats = result
        if self.current is not None and self.current.case == name:
            self.current.stats = stats
            self.statsReady.emit(name, stats)

    def invalidate(self) -> None:
        """Forget the current preview (the session changed)."""
        self.current = None
        self._case = None
