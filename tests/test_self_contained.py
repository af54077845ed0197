"""The project stands on its own: nothing it ships points outside the repository.

A user's clone has no sibling folders and no machine-specific absolute paths,
so README, docs, scenarios, notebooks, docstrings and tests must not name
them; the INDIGO importer is tested on the export shipped in tests/fixtures.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# built from pieces so that this file does not match itself
OUTSIDE = re.compile("|".join([re.escape(".." + "/shared"), "(?<![\\w.])/" + "work/", re.escape("/" + "tmp/bash")]))
SHIPPED = ["README.md", "app.py", "Makefile", "pyproject.toml"]
FOLDERS = ["sibsim", "scenarios", "tests", "docs", "notebooks", "app_pages", "benchmarks"]
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".ipynb", ".c", ".toml", ".txt", ".cfg", ".json"}


def _files():
    for name in SHIPPED:
        if (ROOT / name).is_file():
            yield ROOT / name
    for folder in FOLDERS:
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and p.suffix in SUFFIXES and ".venv" not in p.parts and "__pycache__" not in p.parts:
                yield p


def test_nothing_points_outside_the_repository():
    found = []
    for p in _files():
        for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()[:100]}")
    assert not found, "paths outside the project:\n" + "\n".join(found)


def test_the_checker_would_see_a_pointer(tmp_path):
    assert OUTSIDE.search("see ../" + "shared/MODEL.md") and OUTSIDE.search('Path("/' + 'work/shared/data")')
    assert not OUTSIDE.search("docs/model.md s.6") and not OUTSIDE.search("network/work/x")


@pytest.mark.parametrize("doc", ["docs/model.md", "docs/measurement.md", "docs/finance.md"])
def test_docs_link_only_to_files_that_exist(doc):
    text = (ROOT / doc).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (ROOT / doc).parent.joinpath(target).exists(), f"{doc} links to {target}, which does not exist"
