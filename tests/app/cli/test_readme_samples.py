"""The README's sample outputs are what the commands print on the demo.

Every ``$ segmap ...`` line of the README's command-line block is run on a fresh demo
(``segmap demo segmap-demo``) from the folder above it; its output, with the demo's
absolute path written as the README writes it (``/home/you/segmap-demo``), must be the
lines the README shows. A line ``...`` stands for lines the README leaves out; every
other line must be printed, in that order.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from app.cli import main

README = Path(__file__).resolve().parents[3] / "README.md"
SHOWN_ROOT = "/home/you/segmap-demo"


def samples() -> list[tuple[str, list[str]]]:
    """(command, lines shown) for every ``$ segmap`` line of the command-line section."""
    section = README.read_text().split("## The command line", 1)[1]
    block = section.split("```", 2)[1]
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line.rstrip())
    for _, lines in found:
        while lines and not lines[-1]:
            lines.pop()
    return found


def shown_matches(shown: list[str], printed: list[str]) -> bool:
    """True when ``printed`` is ``shown`` with any run of lines (none too) at each ``...``."""
    if not shown:
        return not printed
    if shown[0].strip() == "...":
        return any(shown_matches(shown[1:], printed[k:]) for k in range(len(printed) + 1))
    return bool(printed) and printed[0] == shown[0] and shown_matches(shown[1:], printed[1:])


def test_the_matcher_treats_dots_as_elided_lines():
    assert shown_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert shown_matches(["a", "...", "d"], ["a", "d"])
    assert not shown_matches(["a", "d"], ["a", "b", "d"])  # a line printed but not shown
    assert not shown_matches(["a", "...", "e"], ["a", "b", "d"])


def test_the_readme_shows_samples_of_every_step():
    commands = [shlex.split(c)[1] for c, _ in samples()]
    assert {"scan", "build", "validate", "merge", "stats", "census"} <= set(commands)


@pytest.fixture(scope="module")
def demo_parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("readme")
    assert main(["demo", str(parent / "segmap-demo")]) == 0
    return parent


@pytest.mark.parametrize("command, shown", samples(), ids=[c for c, _ in samples()])
def test_a_readme_sample_is_what_the_command_prints(demo_parent, monkeypatch, capsys,
                                                    command, shown):
    argv = shlex.split(command)
    assert argv[0] == "segmap"
    monkeypatch.chdir(demo_parent)
    capsys.readouterr()
    code = main(argv[1:])
    out = capsys.readouterr().out.replace(str(demo_parent / "segmap-demo"), SHOWN_ROOT)
    printed = [line.rstrip() for line in out.splitlines()]
    assert code == 0, out
    assert shown_matches(shown, printed), "\n".join(
        ["README shows:", *shown, "", "the command prints:", *printed])
