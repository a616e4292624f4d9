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


# --- links inside the pages, and the commands a participant types ---------------------

_FENCE = re.compile(r"^(```|~~~)")


def _headings(text: str) -> list[str]:
    """The Markdown headings of a page, outside code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.append(line.lstrip("#").strip())
    return found


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: code and link marks dropped, lower case,
    punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in _headings(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def test_slug_is_githubs():
    assert slug("The exercises") == "the-exercises"
    assert slug("Watch it: logs, status, timeline") == "watch-it-logs-status-timeline"
    assert slug("`make demo-stop`: `docker compose stop <leader>` (SIGTERM)") == (
        "make-demo-stop-docker-compose-stop-leader-sigterm"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_readme_anchors_point_at_headings_that_exist(page):
    base = ROOT if page == "README.md" else ROOT / "docs"
    broken = []
    for target in re.findall(r"\]\(([^)\s]*#[^)\s]+)\)", PAGES[page]):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (base / path).resolve() if path else ROOT / page
        if not file.is_file() or anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(target)
    assert broken == [], f"{page} links to anchors no heading has: {broken}"


def _compose_services() -> set[str]:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    body = text.split("\nservices:\n", 1)[1]
    return set(re.findall(r"^  ([a-z0-9][a-z0-9_-]*):$", body, flags=re.M))


_COMPOSE_VERBS = {
    "up", "down", "build", "stop", "start", "kill", "pause", "unpause", "restart", "ps",
    "logs", "run", "exec", "config", "pull",
}  # fmt: skip
_TOOLS_VERBS = {"status", "ledger", "logs", "timeline"}
# Options that take a value, as the pages use them.
_VALUED = {"--scale", "--timeout", "-t", "--rmi", "--tail", "--profile"}


def compose_commands(text: str) -> list[list[str]]:
    """Every `docker compose ...` (or docker-compose) a page shows, as words, up to the
    end of the command (a pipe, a bracket, a backtick, two spaces, the line's end)."""
    found = []
    for match in re.finditer(r"docker(?: |-)compose ((?:[^\s`|()\[\]]+ ?)+)", text):
        words = match.group(1).split()
        if words and not words[0].startswith(("version", "v2", "v1")):
            found.append(words)
    return found


def _compose_problems(words: list[str], services: set[str]) -> list[str]:
    verb, rest = words[0], words[1:]
    if verb not in _COMPOSE_VERBS:
        return [f"unknown compose verb {verb!r}"]
    problems = []
    positional = []
    skip = False
    for word in rest:
        if skip:
            skip = False
            if "=" in word and word.split("=", 1)[0] not in services:
                problems.append(f"--scale of an unknown service {word!r}")
            continue
        if word.startswith("-"):
            skip = word in _VALUED
            continue
        positional.append(word)
    if verb in ("run", "exec"):
        if not positional or positional[0] not in services:
            return [f"{verb} of an unknown service: {words}"]
        if positional[0] == "tools" and positional[1:2] and positional[1] not in _TOOLS_VERBS:
            problems.append(f"tools has no verb {positional[1]!r}")
        return problems
    problems += [f"unknown service {w!r}" for w in positional if w not in services]
    return problems


@pytest.mark.parametrize("page", ["README.md", "docs/workshop.md"])
def test_readme_compose_commands_name_verbs_and_services_that_exist(page):
    services = _compose_services()
    assert {"service1", "service2", "zoo1", "dashboard", "tools"} <= services
    commands = compose_commands(PAGES[page])
    assert commands, f"{page} shows no compose command"
    problems = [(c, p) for c in commands for p in _compose_problems(c, services)]
    assert problems == [], problems


def test_workshop_commands_exist_as_written():
    """The guide's other commands: make verbs, scripts, settings the compose file
    reads, images it names; and every part the guide must have."""
    text = DOCS["workshop.md"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    verbs = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)(?![a-z0-9*-])", text))
    assert verbs and verbs <= targets, verbs - targets
    scripts = set(re.findall(r"\bsh (docker/[\w./-]+)", text))
    assert scripts and all((ROOT / s).is_file() for s in scripts), scripts
    compose_file = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    settings = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=\S+ docker compose", text))
    assert settings and all(f"${{{name}" in compose_file for name in settings), settings
    for image in re.findall(r"\b((?:zookeeper|python):[\w.-]+)", text):
        assert image in compose_file, f"{image} is not the compose file's default"
    for part in ("## The plan", "## Troubleshooting", "## Cleaning up", "## The sheet"):
        assert part in text
    exercises = len(read_demos())  # one per demo, each a question and its answer
    assert text.count("Ask: ") == exercises and text.count("Answer: ") == exercises
