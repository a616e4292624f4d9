"""`python -m workshop.tools` (the compose file's tools service) without Docker: the verbs
that read Compose's log lines from standard input, and bad input."""

import subprocess
import sys

from testbed.processes import REPO_ROOT

COMPOSE_LINES = (
    "service2-1  | 2026-12-02T18:27:32.691000000Z 18:27:32.691 following service1, "
    "watching /leader-election/n_0000000000\n"
    "service1-1  | 2026-12-02T18:27:30.114000000Z 18:27:30.114 Processing... token 0x100000004\n"
)


def _tools(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workshop.tools", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tools_logs_merges_compose_lines_by_time():
    done = _tools("logs", stdin=COMPOSE_LINES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "18:27:30.114  service1  Processing... token 0x100000004",
        "18:27:32.691  service2  following service1, watching /leader-election/n_0000000000",
    ]


def test_tools_timeline_draws_text_only():
    done = _tools("timeline", "--width", "80", stdin=COMPOSE_LINES)
    assert done.returncode == 0, done.stderr
    assert "token 0x100000004" in done.stdout and "PNG" not in done.stdout


def test_tools_without_log_lines_or_with_an_unknown_verb_say_so_in_one_line():
    empty = _tools("logs", stdin="")
    assert empty.returncode == 1 and "pipe them in" in empty.stderr
    bogus = _tools("bogus")
    assert bogus.returncode == 2 and len(bogus.stderr.splitlines()) == 1
    assert "Traceback" not in empty.stderr + bogus.stderr


def test_tools_ledger_is_status_ledger_and_checks_its_count():
    bad = _tools("ledger", "0")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert "--ledger" in bad.stderr and "Traceback" not in bad.stderr
