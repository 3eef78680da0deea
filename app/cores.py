"""Whether this process has a core to spare for a second thread of its own work.

One Segmap process (a command with ``--jobs 1``, the wizard's preview) reads a compressed
volume on two threads: one inflates the next chunk while the other counts or merges the
last (``readers.iter_raw``), 5 % less wall on a small label map and more on a large one.
A pool's worker shares the cores with as many other workers, so that second thread has
no core to run on and only costs: measured on 600 nnU-Net label maps, 14 % more CPU per
file, and two processes on two cores finished their halves 18 % later with it than
without. A pool's workers (``app.parallel``) and a cluster's tasks (``app.cluster``)
say here that they have none to spare; a reader asks ``spare()``.
"""

from __future__ import annotations

_spare = True


def spare() -> bool:
    """Whether a second thread of this process's work would find a core of its own."""
    return _spare


def set_spare(on: bool) -> None:
    """Say whether this process has a core to spare (``spare``)."""
    global _spare
    _spare = on
