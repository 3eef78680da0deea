"""Fixtures of the core's tests."""

import pytest

from .rb_server import RBServer


@pytest.fixture
def rb():
    """A RedBrick-protocol server on 127.0.0.1 for the duration of a test."""
    server = RBServer().start()
    yield server
    server.stop()
