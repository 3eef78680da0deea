"""The README's two set-up commands stay true: CI runs the test command verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_two_set_up_commands():
    app, tests = _commands()
    assert app.endswith("segmap-gui --demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    assert _commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_the_scripts_the_readme_names_are_declared():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'segmap = "app.cli:main"' in pyproject
    assert 'segmap-gui = "ui.__main__:main"' in pyproject
