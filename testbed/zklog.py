"""What ZooKeeper's nodes print while the ensemble forms, judged line by line.

Usage::

    named, retries = forming_exceptions(project.compose("logs", "zoo1", "zoo2", "zoo3"))
    assert named == []          # no Java exception but an election's retry

The compose file's logging (``docker/zookeeper/logback.xml``) keeps ZooKeeper's routine
forming off the screen, so a line naming a Java exception (``java.net.ConnectException:
...``) is a failure to look at. One sequence is excused: **a follower whose elected
leader never led**. ZooKeeper's fast leader election lets a node conclude as soon as a
majority agrees and no better vote comes within 200 ms; when the nodes' JVMs start a
little apart (a busy machine), zoo1 can conclude "zoo2" from the votes of zoo1 and zoo2
while zoo2, hearing zoo3 in time, moves to zoo3. zoo2 then never opens its quorum port,
zoo1 tries it five times, and ``Learner$LeaderConnector`` logs ``ERROR ... retries
exceeded ... connecting to zoo2/...:2888`` (and ``Failed connect to``), each followed by
its exception's header, ``java.net.ConnectException: Connection refused``. zoo1 then
elects again and follows zoo3. The ``Learner`` logger stays at ERROR in the compose file
because its other errors (a bad snapshot signature, a log it cannot truncate) are real,
and logback without janino cannot tell lines of one logger apart by message; so the
retry stays on the screen, and the test, not the configuration, says it is routine.

Excused is exactly: a ``Learner$LeaderConnector`` line about connecting to the leader,
and the ``java.net.ConnectException`` headers that follow it from the same node. Any
other exception's name, from any logger, stays a failure.
"""

from __future__ import annotations

import re

# A Java exception's name in a ZooKeeper line ("java.net.ConnectException: ...",
# "java.lang.InterruptedException: null").
JAVA_EXCEPTION = re.compile(r"\b(?:java|javax|org)\.[\w.$]+(?:Exception|Error)\b")
# A follower giving up on the leader it elected (ZooKeeper 3.6 and later: Learner.java's
# LeaderConnector; its class in the pattern's %C{1}).
_LEADER_CONNECT_GIVEN_UP = re.compile(
    r"Learner\$LeaderConnector@\d+\] - "
    r"(?:Unexpected exception, (?:retries|connectToLeader) exceeded\.|Failed connect to )"
)
# The exception's header the pattern prints after such a line (%ex{0}).
_REFUSED = re.compile(r"^java\.net\.ConnectException: ")


def _source_and_text(line: str) -> tuple[str, str]:
    """Split a `compose logs` line into its container's prefix and the line itself
    ("zoo1  | 2026-..." or, from Compose v2, "zoo1-1  | 2026-...")."""
    source, bar, text = line.partition("|")
    if not bar:
        return "", line.strip()
    return source.strip(), text.strip()


def forming_exceptions(logs: str) -> tuple[list[str], list[str]]:
    """The lines of `logs` that name a Java exception and are not an election's retry,
    and the retry lines excused (each retry's ERROR line and its headers)."""
    named: list[str] = []
    excused: list[str] = []
    after_retry: set[str] = set()
    for line in logs.splitlines():
        source, text = _source_and_text(line)
        if _LEADER_CONNECT_GIVEN_UP.search(text):
            after_retry.add(source)
            excused.append(line)
            continue
        if source in after_retry and _REFUSED.match(text):
            excused.append(line)
            continue
        after_retry.discard(source)
        if JAVA_EXCEPTION.search(text):
            named.append(line)
    return named, excused
