"""docker/demo.sh without Docker: its printer (pure text in, text out) and its usage line.

The printer is what the terminal shows during a demo: the workers' lines (tagged
`service | line` by the demo's followers, `container | line` when a service is scaled),
the narration and the waiting line, all through one process. Sourcing the script
defines its functions and runs nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from common.logs import Event
from testbed.processes import wait_until
from testbed.reaper import Reaped

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "docker" / "demo.sh"
MARK = "\x1e"

JSON_TICK = json.dumps(
    {
        "time": "2026-11-26T04:04:13.928413Z",
        "level": "INFO",
        "service": "service1",
        "event": Event.PROCESSING,
        "message": "Processing... 2026-11-26T04:04:13Z",
        "fencing_token": 4294967299,
        "session_id": "0x1000008b7640000",
    }
)
# common.logs' text format: time, the level unless INFO, what happened.
TEXT_TICK = "04:04:13.928 Processing... token 0x100000003"
TEXT_LOST = "04:04:14.100 WARNING leadership lost (suspended), token 0x100000003"


def _print(lines: list[str]) -> list[str]:
    """Feed `lines` to the demo's printer (stdout not a terminal); its output lines."""
    done = subprocess.run(
        ["bash", "-c", 'source "$1"; _print_lines', "printer", str(DEMO)],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_json_lines_are_shown_by_time_name_and_message() -> None:
    assert _print([f"service1 | {JSON_TICK}"]) == [
        "  04:04:13.928  service1  Processing... 2026-11-26T04:04:13Z"
    ]


def test_json_message_quotes_are_unescaped() -> None:
    line = JSON_TICK.replace("Processing... 2026-11-26T04:04:13Z", 'say \\"hi\\"')
    assert _print([f"service1 | {line}"]) == ['  04:04:13.928  service1  say "hi"']


def test_text_lines_are_shown_as_the_worker_wrote_them_time_first() -> None:
    assert _print([f"service1 | {TEXT_TICK}", f"service2 | {TEXT_LOST}"]) == [
        "  04:04:13.928  service1  Processing... token 0x100000003",
        "  04:04:14.100  service2  WARNING leadership lost (suspended), token 0x100000003",
    ]


def test_scaled_services_are_named_by_container() -> None:
    shown = _print([f"zkdemo-service1-2 | {TEXT_TICK}", f"zkdemo_service1_2 | {JSON_TICK}"])
    assert shown == [
        "  04:04:13.928  zkdemo-service1-2  Processing... token 0x100000003",
        "  04:04:13.928  zkdemo_service1_2  Processing... 2026-11-26T04:04:13Z",
    ]


def test_other_lines_and_terminal_escapes() -> None:
    assert _print([f"service1 | \x1b[2K{TEXT_TICK}", "service1 | Traceback (most recent)"]) == [
        "  04:04:13.928  service1  Processing... token 0x100000003",
        "  service1  Traceback (most recent)",
    ]


def test_narration_and_waiting_lines_off_a_terminal() -> None:
    shown = _print(
        [
            f"{MARK}say ==> docker compose stop service1",
            f"{MARK}status   ... 3 s: waiting for service2 to lead",
            f"service1 | {TEXT_TICK}",
            f"{MARK}clear",
            "Container zkdemo-service1-1  Stopped",
        ]
    )
    assert shown == [
        "==> docker compose stop service1",
        "  ... 3 s: waiting for service2 to lead",
        "  04:04:13.928  service1  Processing... token 0x100000003",
        "Container zkdemo-service1-1  Stopped",
    ]


@pytest.mark.parametrize("args", [[], ["bogus"], ["stop", "kill"]])
def test_bad_arguments_print_one_usage_line(args: list[str]) -> None:
    done = subprocess.run(
        [str(DEMO), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "usage:" in done.stderr


@pytest.mark.parametrize(
    ("date_says", "expected"),
    [("1764720000.123456789", "1764720000.123456789"), ("1764720000.N", "1764720000")],
    ids=["gnu-date", "bsd-date"],
)
def test_the_clock_works_with_gnu_and_bsd_date(tmp_path: Path, date_says: str, expected: str):
    """`_now` (docker logs --since) with a date that knows %N, and with one that prints a
    literal N as BSD's and macOS's do: whole seconds then."""
    fake = tmp_path / "date"
    whole = date_says.split(".")[0]
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = "+%s" ]; then echo {whole}; else echo {date_says}; fi\n'
    )
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", "-c", 'PATH="$2:$PATH"; source "$1"; _now', "clock", str(DEMO), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == expected + "\n"


# A `docker` for the stop demo with a project of two workers and one ZooKeeper node:
# service1 leads and keeps leading, so the demo waits for service2 to lead until it gives
# up (15 s). Its `logs -f` prints a worker line every 0.2 s and, like a real follower
# under load, takes a second to end after SIGTERM.
FAKE_DOCKER = r"""#!/usr/bin/env bash
case "$1" in
compose)
    if [[ "$2" == ps ]]; then echo "id-${!#}"; fi ;;
inspect)
    case "$3" in
    "{{.Name}}") echo "/demo-${4#id-}-1" ;;
    *com.docker.compose.service*) echo "${4#id-}" ;;
    "{{.State.Status}}") echo running ;;
    *State.Health*) echo healthy ;;
    "{{.State.ExitCode}}") echo 0 ;;
    *) echo "ZK_SESSION_TIMEOUT_S=10" ;;
    esac ;;
exec)
    case "$2" in
    id-service1) echo '{"state": "leader"}' ;;
    id-service2) echo '{"state": "follower"}' ;;
    *) echo "Mode: leader" ;;
    esac ;;
logs)
    exec python3 -u -c '
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1.0), sys.exit(0)))
while True:
    print("{\"time\": \"2026-12-04T12:00:00.000Z\", \"message\": \"Processing...\"}")
    time.sleep(0.2)
' ;;
esac
"""


def test_two_stop_signals_at_once_leave_nothing_running(tmp_path: Path) -> None:
    """The stop demo interrupted by two stop signals that come together, while it waits
    (its `sleep 1`): bash runs the handler for one and keeps the other pending, and
    while a trap is pending, every `wait` returns at once (bash 5.2). The demo still
    waits until each follower and the printer have ended (a follower here takes a second
    after SIGTERM); in CI it returned with its printer still running."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COMPOSE": "docker compose"}
    run = Reaped([str(DEMO), "stop"], tmp_path / "demo.log", env=env)
    try:
        wait_until(lambda: "waiting for service2 to lead" in run.output(), 30, interval=0.05)
        os.kill(run.pid, signal.SIGHUP)
        os.kill(run.pid, signal.SIGTERM)
        ended, output = run.finish(timeout=30)
    finally:
        run.kill()
    assert ended["left"] == [], f"left running: {ended['left']}, seen as {ended.get('seen')}"
    assert ended["exit"] == 130, output
    assert output.endswith("demo: interrupted; put back what it had changed\n"), output
    assert "service1  Processing..." in output


# A `docker` whose `events` prints one event of the worker `id-a`, for `_keep_events`.
EVENTS_DOCKER = r"""#!/usr/bin/env bash
if [[ "$1" == events && " $* " == *" type=container "* ]]; then
    echo '{"status":"pause","id":"id-a","time":1764849600}'
fi
"""


@pytest.mark.parametrize("before", [0, 1999, 2000, 2600])
def test_saved_events_keep_only_the_newest_lines(tmp_path: Path, before: int) -> None:
    """`_keep_events` appends what Docker says of the demo's fault to the saved events,
    and keeps the newest 2000 lines: the file the timeline reads does not grow without
    bound over a day of demos."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(EVENTS_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    saved = tmp_path / ".build" / "docker-events.jsonl"
    saved.parent.mkdir()
    old = [f'{{"status":"die","id":"id-old","n":{n}}}' for n in range(before)]
    saved.write_text("".join(f"{line}\n" for line in old))
    done = subprocess.run(
        [
            "bash",
            "-c",
            'PATH="$2:$PATH"; source "$1"; workers=(id-a); nodes=(); _keep_events 1764849599',
            "keep",
            str(DEMO),
            str(bin_dir),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == done.stderr == ""
    new = '{"status":"pause","id":"id-a","time":1764849600}'
    assert saved.read_text().splitlines() == [*old, new][-2000:]
    assert not saved.with_suffix(".jsonl.new").exists()
