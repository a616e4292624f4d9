"""The README is the tutorial and docs/ its reference: keep both true to the code."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.logs import Event
from workshop.demo_numbers import read_demos

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))}
PAGES = {"README.md": README, **{f"docs/{name}": text for name, text in DOCS.items()}}
FRONT_PAGE_LINES = 250


def _table_first_column(text: str, heading: str) -> set[str]:
    """The `code` names in the first column of the first table after `heading`."""
    section = text.split(heading, 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \|", section.split("\n## ", 1)[0], flags=re.M)
    return set(rows)


def test_readme_front_page_is_short():
    lines = README.count("\n")
    assert lines <= FRONT_PAGE_LINES, f"README.md has {lines} lines; reference goes to docs/"


def test_readme_settings_table_lists_every_variable_the_worker_reads():
    source = (ROOT / "common" / "settings.py").read_text(encoding="utf-8")
    found = re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"(?:,\s*"([A-Z_]+)")?', source)
    read = {name for pair in found for name in pair if name}
    assert read, "no variables found in settings.py: has the reader changed?"
    assert _table_first_column(DOCS["settings.md"], "# Settings") == read


def test_readme_log_table_lists_every_event_the_worker_logs():
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "common").glob("*.py"))
    names = re.findall(r"log_event\(\s*log,\s*Event\.([A-Z_]+)", source)
    logged = {getattr(Event, name) for name in names}
    assert {
        Event.PROCESSING,
        Event.LEADER_ELECTED,
        Event.LEADERSHIP_LOST,
        Event.ZK_STATE,
        Event.RETRY,
    } <= logged
    assert _table_first_column(DOCS["logs.md"], "# Logs") == logged


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_make_verbs_exist(page):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    targets |= {f"demo-{demo.verb}" for demo in read_demos()}  # $(DEMO_VERBS)
    mentioned = set(re.findall(r"`make ([a-z][a-z0-9-]*)(?![a-z0-9*-])", PAGES[page]))
    assert mentioned <= targets, f"{page} names verbs the Makefile lacks"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_links_and_pictures_point_at_files_that_exist(page):
    base = ROOT if page == "README.md" else ROOT / "docs"
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", PAGES[page])
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    missing = [t for t in local if not (base / t).exists()]
    assert missing == [], f"{page} links to files that do not exist: {missing}"


def test_readme_links_every_reference_page():
    for name in DOCS:
        assert f"(docs/{name})" in README, f"the README does not link docs/{name}"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_cites_nothing_outside_the_repository(page):
    assert not re.search(r"DESIGN\.md|STYLE\.md|\.\./shared", PAGES[page])


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_mentions_files_that_exist(page):
    """Every `path/like/this.py` (or .sh, .java, .yml) a page names is in the tree."""
    named = set(
        re.findall(r"`((?:[a-z0-9_.-]+/)+[A-Za-z0-9_.-]+\.(?:py|sh|java|yml|xml))`", PAGES[page])
    )
    missing = [n for n in named if not (ROOT / n).exists()]
    assert missing == [], f"{page} names files that do not exist: {missing}"


def test_readme_test_command_is_what_ci_runs():
    assert "make test " in README or "make test\n" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, flags=re.M)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_has_no_unfilled_placeholder(page):
    assert not re.search(r"\b[A-Z]+_(OUTPUT|SECTION|DEMOS|RANGE|STALE|MACHINE)\b", PAGES[page])


def test_readme_bad_setting_example_prints_what_it_shows():
    example = re.search(
        r"```console\n\$ (\w+)=(\S+) python -m (\w+)\n(.+)\n```", DOCS["settings.md"]
    )
    assert example, "the bad-setting example is gone from docs/settings.md"
    name, value, module, shown = example.groups()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZK_", "TICK_", "LOG_"))}
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**env, name: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == shown
