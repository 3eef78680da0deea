"""Where the API key, the organization and the project come from.

The key: ``REDBRICK_API_KEY``, else the RedBrick CLI's credentials file
(``~/.redbrickai/credentials``, or ``$VIRTUAL_ENV/.redbrickai/credentials`` as
the CLI keeps it inside a virtualenv) and its selected profile (``--profile``,
``REDBRICK_PROFILE``, else the file's ``[default] profile``). Organization and
project: flags, else the CLI project folder config ``.redbrick/config`` (made by
``redbrick init`` / ``redbrick clone``) found from the items list's folder or the
working folder upwards, else the profile's organization.

The key is read, never written: it is kept out of ``repr``, and only the
client's headers carry it. A key with a character no RedBrick key has (a line
break, a space, a control or non-ASCII character) is refused here, before any
request, by the kind and place of that character, never by showing it; a profile
name that may be a key pasted in the wrong line is not echoed either.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import InputError
from app.upload._safety import DEFAULT_URL, key_problem

PUBLIC_STORAGE = "11111111-1111-1111-1111-111111111111"
REDBRICK_STORAGE = "22222222-2222-2222-2222-222222222222"
_UUID = re.compile(r"^[\da-f]{8}-([\da-f]{4}-){3}[\da-f]{12}$")
KEY_LENGTH = 43


class CredentialsError(InputError):
    """No usable API key, organization or project."""


@dataclass(frozen=True)
class Credentials:
    """An API key and where it was found (``source`` never contains the key)."""

    api_key: str = field(repr=False)
    source: str
    org_id: str | None = None
    url: str | None = None


def check_id(value: str, what: str, source: str | None = None) -> str:
    """``value`` as RedBrick's API takes it (a lower-case UUID); an error saying which id is
    wrong and where to find the right one, before anything goes to the network."""
    text = value.strip().lower()
    if _UUID.match(text):
        return text
    where = f" (from {source})" if source else ""
    raise CredentialsError(
        f"The {what} id {value.strip()!r}{where} is not a RedBrick id: RedBrick's ids are "
        "UUIDs of 36 characters, like 1a2b3c4d-0000-4000-8000-0123456789ab.",
        "Copy it from the project's address in RedBrick AI: "
        "https://app.redbrickai.com/ORGANIZATION-ID/projects/PROJECT-ID/...")


@dataclass(frozen=True)
class Destination:
    """The RedBrick project an upload goes to; the ids are checked (UUIDs) and lower-cased
    when it is made, so a typo fails at once with a clear message, not on the network."""

    url: str
    org_id: str
    project_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "org_id", check_id(self.org_id, "organization"))
        object.__setattr__(self, "project_id", check_id(self.project_id, "project"))

    @property
    def key(self) -> str:
        """A stable text naming the destination (journal sections are keyed by it)."""
        return f"{self.url.rstrip('/').lower()} {self.org_id} {self.project_id}"


def parse_storage(value: str | None) -> str:
    """``redbrick`` / ``public`` / a storage UUID -> the storage id, as the RedBrick CLI."""
    text = (value or "redbrick").strip().lower()
    if text == "redbrick":
        return REDBRICK_STORAGE
    if text == "public":
        return PUBLIC_STORAGE
    if _UUID.match(text):
        return text
    raise InputError(f"Invalid upload storage: {value!r}.",
                     "Use redbrick (upload the files), public (items are public URLs) or the "
                     "UUID of a storage integration of your organization.")


def check_key(key: str, source: str) -> str:
    """The key, stripped; an error naming ``source`` when it cannot be a RedBrick key."""
    key = key.strip()
    if len(key) != KEY_LENGTH:
        raise CredentialsError(
            f"The API key from {source} has {len(key)} characters; RedBrick keys have "
            f"{KEY_LENGTH}.", "Copy the key again from RedBrick AI (Integrations > API keys).")
    problem = key_problem(key)
    if problem is not None:
        raise CredentialsError(
            f"The API key from {source} {problem}, which no RedBrick key has.",
            "Copy the key again from RedBrick AI (Integrations > API keys), on one line.")
    return key


def typed_or_stored(typed: str, stored: Credentials | None) -> Credentials:
    """The key typed in a form (checked), else the one the RedBrick CLI would use."""
    typed = typed.strip()
    if typed:
        return Credentials(check_key(typed, "the API key field"), "the API key field")
    if stored is not None:
        return stored
    raise CredentialsError("No RedBrick API key.", "Type it in the API key field, or set "
                                                   "REDBRICK_API_KEY before starting Segmap.")


def credentials_files(env: Mapping[str, str]) -> list[Path]:
    """Where the RedBrick CLI keeps its credentials, in the order it looks."""
    found = []
    venv = env.get("VIRTUAL_ENV")
    if venv and os.path.isdir(os.path.expanduser(venv)):
        found.append(Path(os.path.expanduser(venv)) / ".redbrickai" / "credentials")
    found.append(Path.home() / ".redbrickai" / "credentials")
    return found


def _read_ini(path: Path, what: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except configparser.Error as exc:
        # The parser's own message quotes the offending line, which may hold the key.
        line = getattr(exc, "lineno", None)
        raise CredentialsError(
            f"{what} {path} is not a valid INI file"
            + (f" (line {line})" if line else "") + ".",
            "Fix or recreate it with the RedBrick CLI (`redbrick config`).") from None
    except OSError as exc:
        raise CredentialsError(f"Cannot read {what} {path}: {exc.strerror or exc}.") from None
    return parser


def _shown(name: str, quoted: bool = True) -> str:
    """A profile name as a message shows it (escaped), unless it may be a key (long, or
    of a key's length) written where a name belongs."""
    if len(name) > 32 or len(name.strip()) == KEY_LENGTH:
        return "(a name of " + str(len(name)) + " characters, not shown: it may be an API key)"
    return repr(name) if quoted else ascii(name)[1:-1]


def load_credentials(profile: str | None = None, *, env: Mapping[str, str] | None = None,
                     credentials_file: Path | None = None) -> Credentials:
    """The API key to use: ``REDBRICK_API_KEY``, else the CLI credentials' profile."""
    env = os.environ if env is None else env
    if env.get("REDBRICK_API_KEY") and not profile:
        return Credentials(check_key(env["REDBRICK_API_KEY"], "REDBRICK_API_KEY"),
                           "REDBRICK_API_KEY")
    files = [credentials_file] if credentials_file else credentials_files(env)
    path = next((f for f in files if f.is_file()), None)
    if path is None:
        raise CredentialsError(
            "No RedBrick API key: REDBRICK_API_KEY is not set and there is no RedBrick CLI "
            "credentials file (" + ", ".join(str(f) for f in files) + ").",
            "Set REDBRICK_API_KEY to your key, or run `redbrick config` once.")
    creds = _read_ini(path, "The RedBrick credentials file")
    name = profile or env.get("REDBRICK_PROFILE") or (
        creds["default"].get("profile") if creds.has_section("default") else None)
    if not name:
        raise CredentialsError(f"{path} selects no profile ([default] profile = ...).",
                               "Pass --profile NAME or set REDBRICK_PROFILE.")
    if not creds.has_section(name):
        known = ", ".join(_shown(s, quoted=False) for s in creds.sections()
                          if s != "default") or "none"
        raise CredentialsError(f"Profile {_shown(name)} is not in {path} (profiles: {known}).",
                               "Pass one of them with --profile.")
    section = creds[name]
    if section.get("type", "apikey") != "apikey" or not section.get("key"):
        raise CredentialsError(
            f"Profile {_shown(name)} in {path} signs in through the browser and holds no API "
            "key.",
            "Segmap needs an API key: set REDBRICK_API_KEY, or add an API-key profile with "
            "`redbrick config`.")
    source = f"profile {_shown(name)} of {path}"
    org = (section.get("org") or "").strip().lower() or None
    url = (section.get("url") or "").strip().rstrip("/") or None
    return Credentials(check_key(section["key"], source), source, org, url)


@dataclass(frozen=True)
class ProjectConfig:
    """A RedBrick CLI project folder's ``.redbrick/config``."""

    path: Path
    org_id: str | None
    project_id: str | None


def find_project_config(starts: Iterable[Path]) -> ProjectConfig | None:
    """The nearest ``.redbrick/config`` at or above any of ``starts`` (in order)."""
    for start in starts:
        folder = start.resolve()
        for candidate in (folder, *folder.parents):
            conf = candidate / ".redbrick" / "config"
            if conf.is_file():
                parser = _read_ini(conf, "The RedBrick project config")
                org, project = (parser.get(s, "id", fallback="").strip().lower() or None
                                for s in ("org", "project"))
                return ProjectConfig(conf, org, project)
    return None


def resolve_destination(org: str | None, project: str | None, url: str | None,
                        credentials: Credentials, search_from: Iterable[Path] = ()
                        ) -> Destination:
    """Organization, project and URL from flags, the CLI project config and the profile."""
    config = None if org and project else find_project_config(search_from)
    org_id, org_from = ((org, "--org") if org else
                        (config.org_id, str(config.path)) if config and config.org_id else
                        (credentials.org_id, credentials.source))
    project_id, project_from = ((project, "--project") if project else
                                (config.project_id, str(config.path)) if config else
                                (None, ""))
    where = f" (nor in {config.path})" if config else ""
    if not org_id:
        raise CredentialsError(f"No RedBrick organization given{where}.",
                               "Pass --org ORG_ID (the UUID in your RedBrick URL).")
    if not project_id:
        raise CredentialsError(f"No RedBrick project given{where}.",
                               "Pass --project PROJECT_ID (the UUID in the project's URL).")
    return Destination(url or credentials.url or DEFAULT_URL,
                       check_id(org_id, "organization", org_from),
                       check_id(project_id, "project", project_from))
