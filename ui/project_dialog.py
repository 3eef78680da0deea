"""Load the taxonomy of a RedBrick project (the API key is used, never stored).

The Source page opens it for the taxonomy alone, and before listing a project's tasks
(labels onto tasks already in RedBrick): then it keeps the destination and the key
in memory for the listing that follows.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.errors import SegmapError
from app.items import Taxonomy
from app.upload import (
    DEFAULT_URL,
    Credentials,
    CredentialsError,
    Destination,
    RedBrickClient,
    check_id,
    load_credentials,
    project_taxonomy,
    typed_or_stored,
)
from ui.worker import Worker


def stored_credentials() -> Credentials | None:
    """The key the RedBrick CLI would use (REDBRICK_API_KEY or its profile), if any."""
    try:
        return load_credentials()
    except CredentialsError:
        return None


class ProjectDialog(QDialog):
    """Organization, project and key; Load reads the project's taxonomy."""

    def __init__(self, parent: QWidget | None, state: Any,
                 title: str = "Taxonomy from a RedBrick project",
                 action: str = "Load taxonomy") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.taxonomy: Taxonomy | None = None
        self.credentials: Credentials | None = None
        self.destination: Destination | None = None
        self._worker: Worker | None = None
        stored = stored_credentials()
        self.url = QLineEdit((stored.url if stored else None) or DEFAULT_URL)
        self.org = QLineEdit((stored.org_id if stored else None) or
                             os.environ.get("REDBRICK_ORG", ""))
        self.project = QLineEdit(os.environ.get("REDBRICK_PROJECT", ""))
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(f"using the key from {stored.source}" if stored
                                    else "your 43-character API key")
        self._stored = stored
        form = QFormLayout()
        form.addRow("RedBrick URL", self.url)
        form.addRow("Organization ID", self.org)
        form.addRow("Project ID", self.project)
        form.addRow("API key", self.key)
        self.status = QLabel("The key is only sent to RedBrick; Segmap never saves it.")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.load_button = buttons.addButton(action,
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._on_load_clicked)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        self.resize(520, 0)

    def _credentials(self) -> Credentials:
        return typed_or_stored(self.key.text(), self._stored)

    def _on_load_clicked(self) -> None:
        org, project, url = (w.text().strip() for w in (self.org, self.project, self.url))
        if not org or not project:
            self.status.setText("Enter the organization and project IDs (the UUIDs in the "
                                "project's RedBrick address).")
            return
        try:
            creds = self._credentials()
            org, project = check_id(org, "organization"), check_id(project, "project")
        except SegmapError as exc:
            self.status.setText(str(exc))
            return

        def work() -> Taxonomy:
            client = RedBrickClient(creds.api_key, url)
            try:
                return project_taxonomy(client, org, project)
            finally:
                client.close()

        self.load_button.setEnabled(False)
        self.status.setText("Loading…")
        self._worker = Worker(work, self)
        self._worker.finished.connect(self._on_loaded)
        self._worker.failed.connect(self._on_failed)
        self._worker.start()
        self.credentials = creds
        self.destination = Destination(url or DEFAULT_URL, org, project)

    def _on_loaded(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.accept()

    def _on_failed(self, exc: BaseException, _tb: str) -> None:
        self.load_button.setEnabled(True)
        # A SegmapError says what failed and what to do; anything else is a bug, named.
        self.status.setText(str(exc) if isinstance(exc, SegmapError)
                            else f"Could not load the taxonomy: {type(exc).__name__}: {exc}")
