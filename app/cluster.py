"""Per-case work on a Dask distributed cluster: ``--scheduler tcp://HOST:8786``.

``app.parallel`` runs per-case work on a ``concurrent.futures`` executor; with a scheduler it
asks this module for one (``executor_for``): a ``distributed.Client`` connected to that
scheduler, seen through ``Client.get_executor``. Dask is an optional extra
(``pip install 'segmap[dask]'``) imported only here and only when a scheduler is named.

Before anything runs, Segmap checks what a cluster silently gets wrong:

* the scheduler answers within the timeout, and has at least one worker;
* every worker imports Segmap (``app``) at the version of this process
  (``check_workers``): workers run Segmap's own functions;
* every worker sees the input files at the same paths (``check_reachable``): the work is
  sent as paths, so the data must be on a file system every worker mounts at the same path.
  ``executor_for(jobs, paths=...)`` checks the paths given; the executor itself checks the
  paths in the arguments of the first work submitted to it, before that work is sent.

Each failure is a ``SegmapError`` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import app
from app import allocator, cores
from app.errors import SegmapError

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")

INSTALL_HINT = "pip install 'segmap[dask]'"
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler, and then to see a worker
SAMPLE = 16  # input paths each worker checks (spread over the list: first, last, between)
# A scheduler address: tcp://HOST:PORT (or tls://, ws://, wss://; HOST:PORT is tcp); HOST may
# be a name, an IPv4 address or a bracketed IPv6 address.
_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")
_ADDRESS_HINT = ("Give the address the scheduler prints when it starts, such as "
                 "--scheduler tcp://HOST:8786 (or set SEGMAP_SCHEDULER).")


class ClusterJobs(Protocol):
    """What ``executor_for`` reads of ``app.parallel.Jobs`` (a protocol: this module does
    not import ``app.parallel``, which imports it lazily)."""

    @property
    def scheduler(self) -> str | None: ...


def scheduler_address(text: str) -> str:
    """``text`` as a scheduler address (``tcp://`` added to a bare ``HOST:PORT``), or a
    SegmapError saying what a scheduler address looks like."""
    address = text.strip()
    match = _ADDRESS.match(address)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise SegmapError(f"{text!r} is not a Dask scheduler address.", _ADDRESS_HINT)
    return address if match.group(1) else f"tcp://{address}"


def _distributed() -> Any:
    """``dask.distributed``, or a SegmapError saying how to install it."""
    try:
        import distributed
    except ImportError as e:
        raise SegmapError(
            f"Running on a Dask cluster needs dask.distributed, which is not installed ({e}).",
            f"{INSTALL_HINT} (on this computer and every worker), or leave out --scheduler "
            "and SEGMAP_SCHEDULER to run on this computer's cores.") from e
    return distributed


def connect(scheduler: str, timeout: float | None = None) -> Client:
    """A ``distributed.Client`` on ``scheduler`` with at least one worker whose Segmap is
    this one (``check_workers``). SegmapErrors: dask missing, a bad address, a scheduler
    that does not answer within ``timeout`` seconds (default ``CONNECT_TIMEOUT``), no
    worker within ``timeout``."""
    address = scheduler_address(scheduler)
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    distributed = _distributed()
    try:
        client: Client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:  # distributed raises OSError on a connect timeout
        host = address.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        try:
            socket.getaddrinfo(host, None)
        except OSError as unknown:
            raise SegmapError(f"The Dask scheduler's host {host!r} ({address}) is not known "
                              f"here ({unknown.strerror or unknown}).", _ADDRESS_HINT) from e
        raise SegmapError(
            f"The Dask scheduler at {address} did not answer within {timeout:g} s ({e}).",
            f"Start it there (`dask scheduler`, then `dask worker {address}` on each worker "
            "machine), check the host and port and that no firewall is in between; or leave "
            "out --scheduler and SEGMAP_SCHEDULER to run on this computer.") from e
    except ValueError as e:  # an address distributed cannot parse or a protocol it lacks
        raise SegmapError(f"{scheduler!r} is not a Dask scheduler address ({e}).",
                          _ADDRESS_HINT) from e
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as e:
            raise SegmapError(
                f"The Dask scheduler at {address} has no workers (none joined within "
                f"{timeout:g} s).",
                f"Start workers on the machines that see the data: `dask worker {address}`.") \
                from e
        check_workers(client)
    except BaseException:
        client.close()
        raise
    return client


def _worker_names(client: Client) -> dict[str, str]:
    """Each worker's address and how to name it to a user (its name, host and address)."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    names: dict[str, str] = {}
    for address, w in info.items():
        name = str(w.get("name", ""))
        names[address] = address if not name or name == address else f"{name} ({address})"
    return names


# What each worker evaluates to say which Segmap it imports: an expression, not a function
# of Segmap's, so a worker without Segmap can run it and answer with its ImportError.
_SEGMAP_VERSION = "__import__('app').__version__"


def check_workers(client: Client) -> None:
    """Every worker imports Segmap's ``app`` at this process's version, or a SegmapError
    naming the workers that do not and what they have."""
    found = client.run(eval, _SEGMAP_VERSION, on_error="return")
    names = _worker_names(client)
    wrong = []
    for address, theirs in sorted(found.items()):
        if theirs == app.__version__:
            continue
        have = (f"cannot import Segmap ({type(theirs).__name__}: {theirs})"
                if isinstance(theirs, BaseException) else f"has Segmap {theirs}")
        wrong.append(f"{names.get(address, address)} {have}")
    if wrong:
        raise SegmapError(
            f"Dask workers do not run Segmap {app.__version__}, as this computer does: "
            + "; ".join(wrong) + ".",
            f"Install this Segmap ({INSTALL_HINT}, version {app.__version__}) in the Python "
            "environment each worker runs in, then restart the workers.")


def _path_problem(path: str) -> str | None:
    """Why ``path`` cannot be read here (run on a worker), or None when it can. Only a
    regular file is opened (a FIFO would block), and only to read one byte."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except OSError as e:
        return f"cannot be looked at ({e.strerror or e})"
    if stat.S_ISDIR(st.st_mode):
        return None if os.access(path, os.R_OK | os.X_OK) else "is a folder it cannot read"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    return None


def probe_paths(paths: Sequence[str]) -> list[tuple[str, str]]:
    """The paths of ``paths`` this process cannot read, each with why (what each worker
    runs for ``check_reachable``)."""
    problems = []
    for path in paths:
        problem = _path_problem(path)
        if problem is not None:
            problems.append((path, problem))
    return problems


def sample(paths: Sequence[Path], k: int = SAMPLE) -> list[str]:
    """At most ``k`` of ``paths``, spread evenly (the first and last among them), unique,
    as strings: a missing mount shows on any, a partial copy at either end."""
    unique = list(dict.fromkeys(str(p) for p in paths))
    if len(unique) <= k:
        return unique
    step = (len(unique) - 1) / (k - 1)
    return list(dict.fromkeys(unique[round(i * step)] for i in range(k)))


def _readable_here(path: str) -> bool:
    return _path_problem(path) is None


def check_reachable(target: Executor | Client, paths: Sequence[Path]) -> None:
    """Before any work: every worker of ``target`` (a ``ClusterExecutor`` or a Client) reads
    a sample of ``paths`` (those of the sample this computer reads: a file missing here too
    is the work's own finding, reported as it would be without a cluster); a SegmapError
    names the worker, the path and the fix (the data mounted at the same path on every
    worker). Does nothing for another executor (a local pool sees this computer's files)."""
    client = target.client if isinstance(target, ClusterExecutor) else target
    if isinstance(client, Executor):
        return
    here = [p for p in sample(paths) if _readable_here(p)]
    if not here:
        return
    names = _worker_names(client)
    found = client.run(probe_paths, here, on_error="return")
    lines = []
    for address, result in sorted(found.items()):
        who = names.get(address, address)
        if isinstance(result, BaseException):
            lines.append(f"{who} could not check them ({type(result).__name__}: {result})")
            continue
        for path, problem in result:
            lines.append(f"on {who}, {path} {problem}")
    if lines:
        shown = lines[:5] + ([f"... and {len(lines) - 5} more"] if len(lines) > 5 else [])
        raise SegmapError(
            "The Dask workers cannot read the input files at the paths this computer uses: "
            + "; ".join(shown) + ".",
            "Workers read the files themselves: mount the data at the same path on every "
            "worker (a shared file system such as NFS), or run without --scheduler.")


def paths_in(value: object, depth: int = 5) -> Iterator[Path]:
    """The ``Path``s in ``value`` (a work's argument): itself, in its lists, tuples, sets,
    dict values and dataclass fields, ``depth`` levels down."""
    if isinstance(value, Path):
        yield value
    elif depth <= 0 or isinstance(value, (str, bytes)):
        return
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from paths_in(v, depth - 1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from paths_in(v, depth - 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from paths_in(getattr(value, f.name), depth - 1)


def _tuned(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a worker with the allocator tuned for its length
    (``allocator.for_task``: a nanny's worker would fault in every buffer anew). A worker
    runs a task on each of its threads: Segmap's readers there have no core to spare
    (``app.cores``; the setting is Segmap's own, so it stays)."""
    cores.set_spare(False)
    with allocator.for_task():
        return fn(*args, **kwargs)


class ClusterExecutor(Executor):
    """A ``concurrent.futures`` executor on a Dask cluster: ``Client.get_executor`` (tasks
    not deduplicated by their arguments: ``pure=False``), whose shutdown closes the client."""

    def __init__(self, client: Client, check_inputs: bool = True) -> None:
        self.client = client
        self._executor: Executor = client.get_executor(pure=False)
        self._unchecked = check_inputs

    @property
    def slots(self) -> int:
        """How many cases the cluster runs at once now: its workers' threads (at least 1).
        A caller bounding the cases in flight sizes that bound by this, not by this
        computer's cores."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a worker (``fn`` top-level and picklable). The
        first call checks first that the workers read the input paths its arguments hold
        (``check_reachable``), so no work starts on workers that do not see the data."""
        if self._unchecked:
            self._unchecked = False
            check_reachable(self, list(paths_in((args, kwargs))))
        return self._executor.submit(_tuned, fn, *args, **kwargs)

    def map(self, fn: Callable[..., T], *iterables: Any, timeout: float | None = None,
            chunksize: int = 1, **kwargs: Any) -> Iterator[T]:
        """``fn`` over ``iterables`` on the workers, results in order."""
        return self._executor.map(fn, *iterables, timeout=timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Wait for the submitted work (or cancel it: ``cancel_futures`` or ``wait=False``),
        then close the connection to the scheduler. The cluster itself keeps running."""
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()


def executor_for(jobs: ClusterJobs, timeout: float | None = None,
                 paths: Sequence[Path] = ()) -> ClusterExecutor:
    """An executor running per-case work on the Dask cluster of ``jobs.scheduler``, its
    workers checked (``connect``) and, when ``paths`` are given, the inputs checked readable
    on every worker (``check_reachable``); shutting it down closes the connection."""
    if not jobs.scheduler:
        raise ValueError("executor_for needs jobs with a scheduler")
    executor = ClusterExecutor(connect(jobs.scheduler, timeout))
    try:
        check_reachable(executor, paths)
    except BaseException:
        executor.shutdown(wait=False)
        raise
    return executor
