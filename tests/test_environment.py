"""environment.yml (conda) mirrors pyproject.toml exactly: runtime deps and every extra."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")

_SECTION = re.compile(r"#\s*(?:(?P<runtime>runtime)\b.*|extra:\s*(?P<extra>[\w-]+)\s*)")


def _normalise(requirement: str) -> str:
    """Lower-case the name and drop spaces, so ``NumPy >= 1.24`` equals ``numpy>=1.24``."""
    text = requirement.replace(" ", "")
    name = re.match(r"[A-Za-z0-9_.\-\[\]]+", text).group(0)
    return name.lower().replace("_", "-") + text[len(name):]


def _pyproject(root: Path) -> dict[str, list[str]]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {k: [_normalise(r) for r in v] for k, v in groups.items()}


def _environment_pip(root: Path) -> list[str]:
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return [_normalise(r) for r in pip[0]["pip"] if not r.startswith("-e")]


def _environment_sections(root: Path) -> dict[str, list[str]]:
    """Requirements grouped by the ``# runtime`` / ``# extra: NAME`` comments above them."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in (root / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            match = _SECTION.fullmatch(stripped)
            current = None if match is None else match.group("extra") or "runtime"
            if current:
                sections[current] = []
        elif stripped.startswith("- ") and current and not stripped.startswith("- -e"):
            sections[current].append(_normalise(stripped[2:]))
    return sections


def test_environment_lists_exactly_the_pyproject_requirements(repo_root):
    groups = _pyproject(repo_root)
    expected = sorted(r for reqs in groups.values() for r in reqs)
    found = _environment_pip(repo_root)
    assert len(found) == len(set(found)), "duplicate requirement in environment.yml"
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    assert not missing and not extra, f"missing from environment.yml: {missing}; " \
                                      f"not in pyproject.toml: {extra}"


def test_environment_groups_match_runtime_and_each_extra(repo_root):
    assert _environment_sections(repo_root) == _pyproject(repo_root)


def test_environment_pins_python_311_and_installs_the_package(repo_root):
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def test_normalise_makes_spelling_differences_equal():
    assert _normalise("NumPy >= 1.24") == _normalise("numpy>=1.24") == "numpy>=1.24"
    assert _normalise("faster_coco_eval>=1.5") == "faster-coco-eval>=1.5"
    assert _normalise("numpy>=1.24") != _normalise("numpy>=1.25")
