"""What keeps the API key where it belongs: the address rules, the key's characters,
and the key taken out of any text.

The SDK kept a URL as given whenever it merely *contained* ``localhost`` or
``amazonaws.com``, so ``http://localhost.attacker.example`` got the key in clear text;
here the parsed host decides (``api_url``), and a URL whose host libraries might read
differently (a user part, a backslash, control characters) is refused. A key with a
character no header can carry is refused by kind and place (``key_problem``), and
``redact_secret`` removes the key in every spelling an error may give it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

from app.errors import InputError

DEFAULT_URL = "https://api.redbrickai.com"
REDBRICK_HOST = "api.redbrickai.com"
_URL_HINT = ("Give RedBrick's base URL as https://HOST or https://HOST:PORT (for instance "
             "https://api.redbrickai.com), without a user name, spaces or backslashes.")


def is_loopback(host: str) -> bool:
    """True for this computer: ``localhost`` exactly, 127.0.0.0/8 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_url(url: str) -> SplitResult:
    """A RedBrick URL, lower-cased as the SDK does and parsed; an ``InputError`` unless it is
    a plain http(s) address (no user part, no backslash, space, control or non-ASCII
    character: the host that parsing finds is then the host every library connects to)."""
    text = url.strip().lower()
    if "://" not in text:
        text = "https://" + text  # the SDK adds https:// to a bare host too
    parts = urlsplit(text)
    try:
        plain = (parts.scheme in ("http", "https") and bool(parts.hostname)
                 and "@" not in parts.netloc and "\\" not in text
                 and all(0x20 < ord(ch) < 0x7F for ch in text)
                 and (parts.port is None or parts.port > 0))
    except ValueError:  # a port that is no number
        plain = False
    if not plain:
        raise InputError(f"The RedBrick URL {url.strip()[:200]!r} is not a plain web address.",
                         _URL_HINT)
    return parts


def api_url(url: str | None) -> str:
    """The GraphQL endpoint for a RedBrick base URL, by the SDK's rules decided on the host.

    The SDK keeps a URL as it is when it merely *contains* ``localhost`` or
    ``amazonaws.com``, so ``http://localhost.attacker.example`` got the key in clear
    text. Here the parsed host decides: RedBrick's own host is the default URL; this
    computer (``is_loopback``) keeps the URL as given, http allowed; an ``amazonaws.com``
    host keeps its path but is upgraded to https; any other host is
    ``https://HOST[:PORT]/api``, as the SDK makes it.
    """
    parts = split_url(url or DEFAULT_URL)
    host, netloc, path = parts.hostname or "", parts.netloc, parts.path.rstrip("/")
    if host == REDBRICK_HOST and parts.scheme == "https":
        base = DEFAULT_URL
    elif is_loopback(host):
        base = f"{parts.scheme}://{netloc}{path}"
    elif host == "amazonaws.com" or host.endswith(".amazonaws.com"):
        base = f"https://{netloc}{path}"
    else:
        base = f"https://{netloc}/api"
    return base + "/graphql/"


def upgrade_note(url: str | None) -> str | None:
    """What to tell the user when a plain-http URL is spoken to over https (None if not)."""
    if not url or split_url(url).scheme != "http" or is_loopback(split_url(url).hostname or ""):
        return None
    return (f"The RedBrick URL {url.strip()} asks for plain http; the API key goes in clear "
            f"text to no host but this computer, so Segmap uses {api_url(url)} (https).")


def key_problem(key: str) -> str | None:
    """What in ``key`` no RedBrick key holds and no HTTP header can carry safely (None: fine).

    Said by kind and position only: the key itself is never shown.
    """
    for n, ch in enumerate(key, 1):
        if 0x21 <= ord(ch) <= 0x7E:
            continue
        kind = ("a line break" if ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else
                "a space" if ch in " \t" or ch.isspace() else
                "a control character" if ord(ch) < 0xA0 else "a non-ASCII character")
        return f"holds {kind} (character {n} of {len(key)})"
    return None


def redact_secret(text: str, secret: str) -> str:
    """``text`` without ``secret`` in any spelling an error may use: as it is, as repr,
    ascii, JSON or a URL writes it, and every run of 8 or more of its characters
    between characters those spellings escape."""
    if not secret:
        return text
    forms = {secret, repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1],
             secret.encode("unicode_escape").decode("ascii"), quote(secret, safe=""),
             quote_plus(secret), quote(secret)}
    forms |= {piece for piece in re.split(r"[^A-Za-z0-9._~-]+", secret) if len(piece) >= 8}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "<api key>")
    return text
