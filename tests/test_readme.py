"""The README is the tutorial: keep it true to the code it describes."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table_first_column(heading: str) -> set[str]:
    """The `code` names in the first column of the first table after `heading`."""
    section = README.split(heading, 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \|", section.split("\n## ", 1)[0], flags=re.M)
    return set(rows)


def test_readme_settings_table_lists_every_variable_the_worker_reads():
    source = (ROOT / "common" / "settings.py").read_text(encoding="utf-8")
    found = re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"(?:,\s*"([A-Z_]+)")?', source)
    read = {name for pair in found for name in pair if name}
    assert read, "no variables found in settings.py: has the reader changed?"
    assert _table_first_column("## Settings") == read


def test_readme_log_table_lists_every_event_the_worker_logs():
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "common").glob("*.py"))
    logged = set(re.findall(r'log_event\(\s*log,\s*"([a-z_]+)"', source))
    assert {"processing", "leader_elected", "leadership_lost", "zk_state", "retry"} <= logged
    assert _table_first_column("## Logs") == logged


def test_readme_make_verbs_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    mentioned = set(re.findall(r"`make ([a-z][a-z0-9-]*)(?![a-z0-9*-])", README))
    assert mentioned, "the README names no make verb"
    assert mentioned <= targets


def test_readme_test_command_is_what_ci_runs():
    assert "```sh\nmake test\n```" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, flags=re.M)


def test_readme_has_no_unfilled_placeholder():
    assert not re.search(r"\b[A-Z]+_(OUTPUT|SECTION|DEMOS)\b", README)


def test_readme_bad_setting_example_prints_what_it_shows():
    example = re.search(r"```console\n\$ (\w+)=(\S+) python -m (\w+)\n(.+)\n```", README)
    assert example, "the README's bad-setting example is gone"
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
