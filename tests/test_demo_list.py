"""docker/demos.txt is the one list of demos: every consumer follows it, in its order.

Adding a demo is one line there plus its function ``demo_<verb>`` in docker/demo.sh;
these tests then say what else must follow (its end-to-end test, its section in
docs/demos.md and its exercise in the README), and check what is derived from the list
(the script's usage, the make verbs and `make help`, demo-numbers) without Docker.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from workshop import demo_numbers
from workshop.demo_numbers import read_demos

ROOT = Path(__file__).resolve().parent.parent
DEMOS = read_demos()
VERBS = [demo.verb for demo in DEMOS]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )


def test_demo_list_is_well_formed() -> None:
    assert len(VERBS) == len(set(VERBS)) >= 6
    for demo in DEMOS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", demo.verb), demo
        assert demo.title and demo.help, demo
        assert "silence" in demo.figures and set(demo.figures) <= {"silence", "handoff", "stale"}


def test_demo_list_script_usage_and_one_function_per_verb() -> None:
    done = _run("docker/demo.sh")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(" " + "|".join(VERBS)), done.stderr
    functions = [f"demo_{verb.replace('-', '_')}" for verb in VERBS]
    check = _run("bash", "-c", 'source docker/demo.sh && declare -F "$@"', "check", *functions)
    assert check.returncode == 0, f"docker/demo.sh lacks a function: {check.stderr}"


def test_demo_list_make_verbs_run_the_script_and_make_help_lists_them() -> None:
    for verb in VERBS:
        dry = _run("make", "--no-print-directory", "-n", f"demo-{verb}", "COMPOSE=docker compose")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.strip().endswith(f"docker/demo.sh {verb}"), dry.stdout
    shown = _run("make", "--no-print-directory", "help").stdout.splitlines()
    listed = [line.split(None, 2)[1:] for line in shown if line.split()[1].startswith("demo-")]
    expected = [[f"demo-{d.verb}", d.help] for d in DEMOS] + [["demo-numbers"]]
    assert [row[: len(want)] for row, want in zip(listed, expected, strict=True)] == expected
    phony = (ROOT / "Makefile").read_text(encoding="utf-8").split(".PHONY:", 1)[1]
    assert "$(DEMO_VERBS)" in phony.split("\n\n", 1)[0]


def test_demo_list_drives_demo_numbers() -> None:
    assert tuple(VERBS) == demo_numbers.DEMOS


def test_demo_list_each_demo_has_its_end_to_end_test_in_order() -> None:
    source = (ROOT / "tests" / "e2e" / "test_demos.py").read_text(encoding="utf-8")
    tests = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    found = []
    for name in tests:
        verb = next(
            (v for v in VERBS if re.match(rf"test_demo_{v.replace('-', '_')}(_|$)", name)), None
        )
        if verb is not None:
            found.append(verb)
    assert found == VERBS


def test_demo_list_docs_table_and_sections_follow_it() -> None:
    page = (ROOT / "docs" / "demos.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `make demo-([a-z0-9-]+)` \| (.+?) \| (.+?) \|$", page, flags=re.M)
    assert rows == [(d.verb, d.title, d.help) for d in DEMOS]
    sections = re.findall(r"^## `make demo-([a-z0-9-]+)`", page, flags=re.M)
    assert sections == VERBS


def test_demo_list_readme_exercises_follow_it() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    exercises = re.findall(r"^\*\*(\d+)\. (.+?): `make demo-([a-z0-9-]+)`\*\*", text, flags=re.M)
    assert [(title, verb) for _n, title, verb in exercises] == [(d.title, d.verb) for d in DEMOS]
    assert [int(n) for n, _t, _v in exercises] == list(range(1, len(DEMOS) + 1))
