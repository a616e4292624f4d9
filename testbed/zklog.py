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

A second sequence is excused: **a follower that leaves and rejoins while the ensemble
forms**. A JVM stalled past the ensemble's read timeouts on a busy machine (the node
starting, both cores taken) drops its connection to the leader or has it dropped, and
syncs again; ZooKeeper recovers by itself, and `docker compose ps` shows three healthy
nodes. Two of its lines stay on the screen whatever the compose file's logging says:

- the leader's ``LearnerHandler`` logs ``ERROR ... Unexpected exception in
  LearnerHandler:`` with the header ``java.io.EOFException: null`` (the follower closed
  its end) or ``java.net.SocketTimeoutException: Read timed out`` (the follower said
  nothing for the sync limit), at ERROR, a level its other errors need;
- a follower that left between its leader's NEWLEADER and UPTODATE never ran its
  server, so ZooKeeper (3.8, 3.9) does not unregister that server's data-tree bean; on
  its next sync ``LearnerZooKeeperServer`` warns ``Failed to register with JMX`` with
  ``javax.management.InstanceAlreadyExistsException:
  org.apache.ZooKeeperService:name0=ReplicatedServer_id1,...,name2=Follower,name3=InMemoryDataTree``
  through the logger ``org.apache.zookeeper.server.ZooKeeperServer``, whose other
  warnings are wanted.

A third is **ZooKeeper 3.8's bug ZOOKEEPER-4409** (fixed in 3.9.3; the compose file's
official image, 3.9.4, does not have it, the stand-in's Debian 3.8.0 does). When that
follower leaves while its sync thread is sending an acknowledgement, the sync thread
closes a learner socket the leaving has already set to null, and dies:
``ZooKeeperCriticalThread`` logs ``ERROR ... Severe unrecoverable error, from thread :
SyncThread:1`` with ``java.lang.NullPointerException: Cannot invoke
"java.net.Socket.isClosed()" because "this.learner.sock" is null``. The thread belongs
to the server object the follower is leaving (a quorum peer's server has no handler for
that ERROR state); the next sync makes a new one, and the node follows again.

A fourth is **an election connection replaced before its sender ran** (ZooKeeper 3.8 and
3.9). While the ensemble forms, each pair of nodes dials each other on the election port
(3888) and keeps one connection; taking a new one, ``QuorumCnxManager`` closes the
sender thread of the one it replaces. A sender thread starts by sending the last vote it
sent before; started a moment late (both cores busy), it finds its socket closed and
logs ``ERROR [SendWorker:1:...QuorumCnxManager$SendWorker@1265] - Failed to send last
message. Shutting down thread.`` with ``java.net.SocketException: Socket closed``. The
new connection carries the votes; the election goes on.

A fifth is **a leader whose followers went to another**, the mirror of the first
(ZooKeeper 3.8 and 3.9). The same race the other way: zoo2 concludes that it leads, from
its own vote and zoo1's, while zoo1, hearing zoo3 within its 200 ms, moves to zoo3; zoo1
and zoo3 form the ensemble, and zoo2 waits out its ``initLimit`` for followers that never
come, steps down and follows zoo3. Stepping down closes its quorum port under its
acceptor thread, which logs ``WARN [LearnerCnxAcceptorHandler-...:Leader$LearnerCnxAcceptor
$LearnerCnxAcceptorHandler@530] - Exception while shutting down acceptor.`` with
``java.net.SocketException: Socket closed`` (its reason, "Timeout while waiting for epoch
from quorum", goes to ``QuorumPeer`` at WARN, below the compose file's level). A leader
that loses its followers to a stall while the ensemble forms steps down the same way and
prints the same two lines; either way the node follows the ensemble's leader at once.
Seen in CI (a fresh up under Compose v1, round 7 of ten): zoo2's acceptor line was its
only line, and 63 ms later zoo3, leading, synced zoo2 from zxid 0x0. The ``Leader``
logger stays at WARN: its other warnings (a commit out of order, "Perhaps the initTicks
need to be increased") are real.

Excused is exactly: each sequence's opening line, and the exception headers named above
that follow it from the same node. Any other exception's name, from any logger, and
those headers after any other line, stay failures.
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
# A leader's reader of one follower ending ("... - Unexpected exception in
# LearnerHandler: ", its trailing space stripped; not "LearnerHandler." of its other
# failures).
_LEARNER_HANDLER_ENDED = re.compile(
    r"LearnerHandler@\d+\] - Unexpected exception in LearnerHandler:$"
)
# A follower's server registering its data tree again.
_FOLLOWER_REGISTERS_AGAIN = re.compile(
    r"LearnerZooKeeperServer@\d+\] - Failed to register with JMX$"
)

# A follower's sync thread ending on ZOOKEEPER-4409 (3.8: SendAckRequestProcessor.flush
# closing learner.sock after the follower's leaving set it to null).
_SYNC_THREAD_ENDED = re.compile(
    r"ZooKeeperCriticalThread@\d+\] - Severe unrecoverable error, from thread : SyncThread:\d+$"
)

# An election connection's sender thread, its socket closed by the connection that
# replaced it, before it resent its last vote.
_ELECTION_SENDER_REPLACED = re.compile(
    r"QuorumCnxManager\$SendWorker@\d+\] - Failed to send last message\. Shutting down thread\.$"
)

# A leader stepping down: its learners' acceptor, its port closed under it (Leader.java's
# LearnerCnxAcceptorHandler.acceptConnections, when the leader is stopping).
_ACCEPTOR_SHUT_DOWN = re.compile(
    r"Leader\$LearnerCnxAcceptor\$LearnerCnxAcceptorHandler@\d+\] - "
    r"Exception while shutting down acceptor\.$"
)

# Each routine sequence: the line that opens it, and the exception headers the pattern
# prints after it (%ex{0}) that are part of it.
_ROUTINE = (
    (_LEADER_CONNECT_GIVEN_UP, re.compile(r"^java\.net\.ConnectException: ")),
    (
        _LEARNER_HANDLER_ENDED,
        re.compile(
            r"^(?:java\.io\.EOFException: null"
            r"|java\.net\.SocketTimeoutException: Read timed out)$"
        ),
    ),
    (
        _FOLLOWER_REGISTERS_AGAIN,
        re.compile(
            r"^javax\.management\.InstanceAlreadyExistsException: org\.apache\.ZooKeeperService:"
            r"name0=ReplicatedServer_id\d+,name1=replica\.\d+,name2=Follower,name3=InMemoryDataTree$"
        ),
    ),
    (
        _SYNC_THREAD_ENDED,
        re.compile(
            r'^java\.lang\.NullPointerException: Cannot invoke "java\.net\.Socket\.isClosed\(\)"'
            r' because "this\.learner\.sock" is null$'
        ),
    ),
    (_ELECTION_SENDER_REPLACED, re.compile(r"^java\.net\.SocketException: Socket closed$")),
    (_ACCEPTOR_SHUT_DOWN, re.compile(r"^java\.net\.SocketException: Socket closed$")),
)


def _source_and_text(line: str) -> tuple[str, str]:
    """Split a `compose logs` line into its container's prefix and the line itself
    ("zoo1  | 2026-..." or, from Compose v2, "zoo1-1  | 2026-...")."""
    source, bar, text = line.partition("|")
    if not bar:
        return "", line.strip()
    return source.strip(), text.strip()


def forming_exceptions(logs: str) -> tuple[list[str], list[str]]:
    """The lines of `logs` that name a Java exception and are not part of a routine
    sequence, and the routine lines excused (each sequence's opening line and headers)."""
    named: list[str] = []
    excused: list[str] = []
    # Per node: the headers the sequence it is in may print next.
    open_: dict[str, re.Pattern[str]] = {}
    for line in logs.splitlines():
        source, text = _source_and_text(line)
        opening = next((headers for opener, headers in _ROUTINE if opener.search(text)), None)
        if opening is not None:
            open_[source] = opening
            excused.append(line)
            continue
        headers = open_.get(source)
        if headers is not None and headers.match(text):
            excused.append(line)
            continue
        open_.pop(source, None)
        if JAVA_EXCEPTION.search(text):
            named.append(line)
    return named, excused
