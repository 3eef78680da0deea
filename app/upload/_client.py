"""HTTP transport to RedBrick AI, on the wire as redbrick-sdk 2.35.4, with careful retries.

What the SDK does (reference redbrick.md §5.1) and this client repeats: the API
URL rules of ``_get_api_url`` (decided on the parsed host: ``_safety.api_url``);
POST bodies base64(gzip(compact JSON)) with the ``Content-Encoding-RB: gzip``
header; the ``ApiKey`` and ``RB-SDK-Version`` headers; 30 s per API call, 60 s
connect / read for file PUTs; TLS verification on.

Where it is more careful than the SDK:

* retries with exponential backoff and jitter on connection errors, timeouts,
  429 and 5xx only; 401/403 fail at once (no retry storm with a wrong key);
  other 4xx and GraphQL errors are answers, not accidents, and are not retried;
* a request that is not safe to repeat (``createDatapoint``) is retried only
  after ``reconcile`` has checked that the first attempt did not take effect;
* the key goes only to the host the user named: redirects are never followed
  (``requests`` would carry the ``ApiKey`` header to any host: it strips only
  ``Authorization``), and only over https unless that host is this computer;
  a key no HTTP header can carry (a line break inside) is refused before any
  request (``_safety``);
* the key never appears in an error message (``redact``: as written, and as repr,
  JSON or a URL would spell it), nor do the signatures of presigned URLs;
* a failure is said in one sentence, what was being done and what went wrong
  ("the name api.example.org does not resolve"), with what to do in the hint;
  the library's own text is kept in ``RedBrickError.detail`` for the details;
* everything stops at the next request or backoff when ``cancel`` is set.

urllib3's ``Retry`` is not used: it cannot tell a mutation whose response was
lost from one that never arrived, cannot re-open a file body for the next
attempt, and sleeps where a cancel cannot reach it.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError

from app.errors import Cancelled, InputError, SegmapError
from app.upload._safety import DEFAULT_URL, api_url, key_problem, redact_secret, upgrade_note

SDK_VERSION = "2.35.4"
log = logging.getLogger("segmap.upload")


class RedBrickError(SegmapError):
    """RedBrick refused or failed a request. ``detail`` is the underlying error's own text
    (redacted), for an expandable details pane; the message says it in plain words."""

    def __init__(self, message: str, hint: str | None = None, detail: str | None = None
                 ) -> None:
        super().__init__(message, hint)
        self.detail = detail


class AuthError(RedBrickError):
    """The API key was refused (HTTP 401/403)."""


class TransientError(RedBrickError):
    """A request kept failing for reasons that may pass (network, 429, 5xx)."""


def encode_body(query: str, variables: dict[str, Any]) -> bytes:
    """A POST body as the SDK sends it: base64(gzip(compact JSON))."""
    raw = json.dumps({"query": query, "variables": variables}, separators=(",", ":"))
    return base64.b64encode(gzip.compress(raw.encode("utf-8")))


_SIGNED_URL = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]+")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: ``attempts`` in all, exponential backoff."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure ("equal jitter")."""
        step = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        wait = step / 2 + random.uniform(0, step / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


@dataclass(frozen=True)
class Timeouts:
    """Seconds: per API call (connect, read), and for file PUTs (connect, read)."""

    api: tuple[float, float] = (30.0, 30.0)
    put: tuple[float, float] = (60.0, 60.0)


class _Failure(Exception):
    """One failed attempt: whether to retry, and whether the server may have acted on it.

    The message is what went wrong in plain words; ``detail`` the library's text;
    ``network`` is True when the server was not reached or the connection broke.
    """

    def __init__(self, message: str, *, retry: bool, reached: bool,
                 retry_after: float | None = None, status: int | None = None,
                 detail: str | None = None, network: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.reached = reached
        self.retry_after = retry_after
        self.status = status
        self.detail = detail
        self.network = network


# What each operation is for, as the messages say it.
_DOING = {
    "getProjectSDK": "Checking the RedBrick project",
    "validateAndConvertToImportFormatSDK": "RedBrick's validation of the tasks",
    "getLabelStorageSDK": "Asking RedBrick for its label storage",
    "itemsUploadPresignSDK": "Asking RedBrick where to upload the images",
    "presignUploadsSDK": "Asking RedBrick where to upload the labels",
    "createDatapointSDK": "Creating the task in RedBrick",
    "tasksListSDK": "Looking the task up in RedBrick",
}


def doing(operation: str) -> str:
    """What an operation is for, for a person: ``Checking the RedBrick project``."""
    return _DOING.get(operation, f"RedBrick's {operation}")


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, and the reasons urllib3 wraps inside."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "reason", None),
                             *(a for a in e.args if isinstance(a, BaseException)))
                 if isinstance(x, BaseException)]


def network_reason(exc: requests.exceptions.RequestException, url: str,
                   timeout: tuple[float, float]) -> str:
    """What went wrong with a connection, in plain words (no library text); ``timeout``
    is the (connect, read) timeout the request had."""
    host, chain = _host(url), list(_chain(exc))
    text = " ".join(str(e) for e in chain)
    if isinstance(exc, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return f"the certificate of {host} could not be verified"
        return f"the secure (TLS) connection to {host} failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy did not let the connection to {host} through"
    if isinstance(exc, requests.exceptions.Timeout):
        seconds = timeout[0] if isinstance(exc, requests.exceptions.ConnectTimeout) \
            else timeout[1]
        return f"{host} did not answer within {seconds:g} s"
    if any(isinstance(e, NameResolutionError) for e in chain) or any(
            s in text for s in ("Name or service not known", "nodename nor servname",
                                "Temporary failure in name resolution", "getaddrinfo failed")):
        return f"the name {host} does not resolve (no network, or a wrong address)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"{host} refused the connection"
    if "Network is unreachable" in text or "No route to host" in text:
        return "the network is unreachable"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the answer from {host} was cut off"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"the connection to {host} was lost"
    return f"the request to {host} failed ({type(exc).__name__})"


class _Body:
    """A file body streamed in blocks; stops the PUT when the upload is cancelled."""

    def __init__(self, path: Path, cancel: threading.Event) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
        self._size = path.stat().st_size
        self._cancel = cancel

    def __len__(self) -> int:  # requests sends Content-Length, which presigned URLs need
        return self._size

    def read(self, n: int = -1) -> bytes:
        # Not at the end: once every byte is out the server may have the file, and a
        # cancel now would leave the client believing it does not.
        if self._cancel.is_set() and self._fh.tell() < self._size:
            raise Cancelled()
        return self._fh.read(n)

    def close(self) -> None:
        self._fh.close()


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


class RedBrickClient:
    """A session with RedBrick's API for one API key.

    The key goes only to ``api_url(url)``'s host: no request follows a redirect.
    ``url_note`` says when a plain-http URL is spoken to over https instead.
    ``on_retry(doing, failures, reason)`` is told about every retry (for the progress
    and the summary): what was being done, how many attempts failed, why. The client is
    safe to share between threads.
    """

    def __init__(self, api_key: str, url: str | None = None, *,
                 retry: RetryPolicy | None = None, timeouts: Timeouts | None = None,
                 pool_size: int = 32, cancel: threading.Event | None = None,
                 on_retry: Callable[[str, int, str], None] | None = None) -> None:
        problem = key_problem(api_key)
        if problem is not None:
            raise InputError(f"The API key {problem}, which an HTTP header cannot carry.",
                             "Copy the key again from RedBrick AI (Integrations > API keys).")
        self._key = api_key
        self.base_url = (url or DEFAULT_URL).rstrip("/")
        self.url = api_url(url)
        self.url_note = upgrade_note(url)
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.cancel = cancel or threading.Event()
        self.on_retry = on_retry
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._headers = {
            "RB-SDK-Version": SDK_VERSION,
            "ApiKey": api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Content-Encoding-RB": "gzip",
            "Accept-Encoding": "br, gzip",
        }

    def __repr__(self) -> str:
        return f"RedBrickClient(url={self.url!r}, api_key=<hidden>)"

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()

    def redact(self, text: str) -> str:
        """``text`` without the API key and without presigned URL signatures."""
        text = redact_secret(text, self._key)
        return _SIGNED_URL.sub(r"\1?<signature>", text)

    # -- GraphQL ---------------------------------------------------------------------

    def execute(self, query: str, variables: dict[str, Any], *,
                reconcile: Callable[[], dict[str, Any] | None] | None = None) -> dict[str, Any]:
        """Run a GraphQL operation and return its ``data``.

        Queries are repeated freely. For a mutation pass ``reconcile``: after a
        failure the server may have acted on (lost response, timeout, 5xx) it is
        called before any retry, and a value it returns is taken as the result.
        """
        operation = _operation_name(query)
        body = encode_body(query, variables)
        maybe_done = False
        for attempt in self._attempts(doing(operation)):
            if maybe_done and reconcile is not None:
                found = reconcile()
                if found is not None:
                    return found
            try:
                return self._post_once(operation, body)
            except _Failure as failure:
                maybe_done = maybe_done or failure.reached
                attempt.failed(failure)
            except RedBrickError:
                # An answer (e.g. "name already exists") after an attempt that may have
                # worked: the earlier attempt is the one to believe.
                if maybe_done and reconcile is not None and (found := reconcile()) is not None:
                    return found
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, operation: str, body: bytes) -> dict[str, Any]:
        log.debug("RedBrick API: %s", operation)
        try:
            # Never a redirect: requests would take the ApiKey header to any host.
            resp = self.session.post(self.url, data=body, headers=self._headers,
                                     timeout=self.timeouts.api, allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise self._network_failure(exc, self.url, self.timeouts.api) from None
        text = resp.text if resp.status_code >= 400 else ""
        self._check_status(resp, operation, text)
        try:
            payload = resp.json()
        except ValueError:
            if "br" in resp.headers.get("Content-Encoding", ""):
                # The SDK's headers accept brotli; requests decodes it only with brotli installed.
                raise RedBrickError(f"{operation}: RedBrick answered in brotli, which this "
                                    "Python cannot decode.", "pip install brotli") from None
            raise _Failure("RedBrick's answer was not JSON", retry=True, reached=True,
                           detail=self.redact(resp.text[:300])) from None
        if not isinstance(payload, dict):
            raise _Failure("RedBrick's answer was not a JSON object", retry=True,
                           reached=True, detail=self.redact(str(payload)[:300]))
        if payload.get("errors"):
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e)
                        for e in payload["errors"]]
            raise RedBrickError(self.redact(f"RedBrick refused {operation}: "
                                            + "; ".join(messages)))
        data = payload.get("data", payload)
        return data if isinstance(data, dict) else {}

    def _check_status(self, resp: requests.Response, operation: str, text: str) -> None:
        status = resp.status_code
        if 300 <= status < 400:
            raise self._redirected(resp, self.url, f"RedBrick's API at {_host(self.url)} "
                                   f"answered {operation} with", api=True)
        if status < 400:
            return
        detail = self.redact(text.strip())[:300]
        if status in (401, 403):
            raise AuthError(
                f"RedBrick refused the API key (HTTP {status}) on {operation}.",
                "Check the key (REDBRICK_API_KEY or the RedBrick CLI profile) and that it "
                "belongs to this organization; create a new one in RedBrick AI under "
                "Integrations > API keys if needed.")
        if status == 429:
            raise _Failure("RedBrick asked to slow down (HTTP 429)", retry=True,
                           reached=False, retry_after=_retry_after(resp), status=status)
        if status >= 500:
            raise _Failure(f"RedBrick had a server error (HTTP {status})", retry=True,
                           reached=True, retry_after=_retry_after(resp), status=status,
                           detail=detail or None)
        if status == 404:
            raise RedBrickError(f"RedBrick API endpoint not found: {self.url}",
                                "Check the --url: it is RedBrick's base URL, e.g. "
                                "https://api.redbrickai.com.")
        raise RedBrickError(f"RedBrick refused {operation} (HTTP {status}): {detail}")

    def _redirected(self, resp: requests.Response, url: str, what: str, *,
                    api: bool) -> RedBrickError:
        """The error for a redirect, which is never followed: the key stays on its host.

        ``what`` starts the sentence ("RedBrick's API at HOST answered X with");
        ``api``: the request carried the key (so the message says where it goes)."""
        status, origin = resp.status_code, urlsplit(url)
        try:
            target = urlsplit(urljoin(url, resp.headers.get("Location") or ""))
            there = (target.hostname or "") + (f":{target.port}" if target.port else "")
            same = (target.scheme, target.hostname, target.port) == (
                origin.scheme, origin.hostname, origin.port)
        except ValueError:
            there, same = "", False
        there = ascii(there)[1:-1][:100] or "an address it did not name"
        hint = ("Check the RedBrick URL (--url, or the profile's url); if " + there + " is "
                "where your RedBrick is, give that address instead." if api else
                "Retry the failed tasks; if it happens again, RedBrick's upload links point "
                "somewhere unexpected.")
        if same:
            return RedBrickError(f"{what} a redirect (HTTP {status}) to another address on the "
                                 "same host, which Segmap does not follow.", hint)
        where = f", which Segmap does not follow: the API key goes to {_host(url)} only" \
            if api else ", which Segmap does not follow"
        return RedBrickError(f"{what} a redirect (HTTP {status}) to another host, {there}"
                             f"{where}.", hint)

    def _network_failure(self, exc: requests.exceptions.RequestException, url: str,
                         timeout: tuple[float, float]) -> _Failure:
        # A connection that was never made cannot have been acted on; anything after
        # the request went out (reset, read timeout) may have been.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        reached = not (isinstance(exc, requests.exceptions.ConnectTimeout)
                       or isinstance(reason, NewConnectionError))
        return _Failure(network_reason(exc, url, timeout), retry=True, reached=reached,
                        detail=self.redact(f"{type(exc).__name__}: {exc}")[:500],
                        network=True)

    # -- files -----------------------------------------------------------------------

    def put(self, url: str, body: bytes | Path, headers: dict[str, str], *,
            what: str) -> None:
        """PUT a file (bytes, or a path streamed from disk) to a presigned URL."""
        for attempt in self._attempts(f"Uploading {what}"):
            stream: _Body | None = None  # a file is streamed from disk; bytes go as they are
            if isinstance(body, Path):
                try:
                    stream = _Body(body, self.cancel)
                except OSError as exc:
                    raise InputError(f"Cannot read {body}: {exc.strerror or exc}.",
                                     "Check that the file is still there and readable.") from None
            try:
                data: Any = stream if stream is not None else body
                resp = self.session.put(url, data=data, headers=headers,
                                        timeout=self.timeouts.put, allow_redirects=False)
            except Cancelled:
                raise
            except requests.exceptions.RequestException as exc:
                if isinstance(exc.__context__, Cancelled) or self.cancel.is_set():
                    raise Cancelled() from None
                attempt.failed(self._network_failure(exc, url, self.timeouts.put))
                continue
            finally:
                if stream is not None:
                    stream.close()
            if 200 <= resp.status_code < 300:
                return
            if 300 <= resp.status_code < 400:
                raise self._redirected(resp, url, f"The storage at {_host(url)} answered the "
                                       f"upload of {what} with", api=False)
            if resp.status_code == 429 or resp.status_code >= 500:
                attempt.failed(_Failure(
                    f"the storage at {_host(url)} answered HTTP {resp.status_code}",
                    retry=True, reached=True, retry_after=_retry_after(resp)))
                continue
            raise RedBrickError(
                f"The upload of {what} was refused (HTTP {resp.status_code}): "
                + self.redact(resp.text.strip())[:300],
                "Presigned upload links expire; retry the failed tasks.")
        raise AssertionError("unreachable")  # pragma: no cover

    # -- retries ---------------------------------------------------------------------

    def _attempts(self, doing: str) -> Iterator[_Attempt]:
        """Attempts at ``doing`` (``Checking the RedBrick project``), with backoff between;
        the last failure becomes a TransientError saying what failed and what to do."""
        failures = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            attempt = _Attempt()
            yield attempt
            if attempt.failure is None:
                return  # the caller returned or raised; not reached in practice
            failures += 1
            failure = attempt.failure
            if not failure.retry or failures >= self.retry.attempts:
                raise self._gave_up(doing, failure, failures)
            if self.on_retry is not None:
                self.on_retry(doing, failures, str(failure))
            log.debug("retrying %s after %s (%s)", doing, failure, failure.detail or "")
            if self.cancel.wait(self.retry.delay(failures, failure.retry_after)):
                raise Cancelled()

    def _gave_up(self, doing: str, failure: _Failure, failures: int) -> TransientError:
        tries = f" after {failures} attempts" if failures > 1 else ""
        message = f"{doing} failed{tries}: {failure}."
        if failure.network:
            hint = (f"Check the internet connection and the RedBrick URL ({self.base_url}), "
                    "then run the upload again; finished work is kept and not repeated.")
        else:
            hint = ("RedBrick is having trouble; run the upload again later: finished work "
                    "is kept and not repeated.")
        return TransientError(message, hint, failure.detail)


@dataclass
class _Attempt:
    failure: _Failure | None = None

    def failed(self, failure: _Failure) -> None:
        self.failure = failure


def _operation_name(query: str) -> str:
    match = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
    return match.group(1) if match else "request"
