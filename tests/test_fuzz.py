"""Fuzzing what comes from outside: settings, node names, node data (hypothesis).
``printable`` itself, which every string from the tree goes through, is fuzzed in
tests/test_printable.py.

Each property holds for every input hypothesis finds, against an oracle written from
the other side's rules: ZooKeeper's PathUtils.validatePath (on Java's UTF-16), kazoo's
host parser and the IDNA codec that resolves host names, ASCII sequence numbers.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from kazoo.hosts import collect_hosts

from common.observer import identity, sequence
from common.settings import ConfigError, Settings

VARIABLES = [
    "SERVICE_NAME",
    "ZK_HOSTS",
    "ELECTION_PATH",
    "ZK_SESSION_TIMEOUT_S",
    "TICK_INTERVAL_S",
    "ZK_CONNECT_TIMEOUT_S",
    "ZK_RETRY_MAX_DELAY_S",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "HEALTH_FILE",
    "ZK_AUTH",
]
# Text that lands near the rules' edges more often than uniform text would.
EDGY = st.one_of(
    st.text(),
    st.text(alphabet=string.ascii_letters + string.digits + ".-_:/[],@ " + "٠١２\x00\n\u0085"),
)
HOSTY = st.text(alphabet=string.ascii_lowercase + string.digits + ".-_:[],/", max_size=300)
PATHY = st.text(
    alphabet=st.one_of(
        st.sampled_from("/.ab\x00\x1f\x7f\x85\ud7ff\ue000\uf8ff\uf900\ufff0\uffff"),
        st.characters(),
    ),
    max_size=40,
)


def _from(**env: str) -> Settings | None:
    try:
        return Settings.from_env(env, default_service_name="fuzz")
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message
        assert any(message.startswith(name) for name in env), message
        return None


@settings(max_examples=300)
@given(name=st.sampled_from(VARIABLES), value=EDGY)
def test_fuzz_any_value_is_taken_or_refused_in_one_line(name: str, value: str) -> None:
    _from(**{name: value})  # never anything but Settings or ConfigError


@settings(max_examples=500)
@given(value=HOSTY)
def test_fuzz_hosts_taken_are_hosts_kazoo_and_the_resolver_take(value: str) -> None:
    taken = _from(ZK_HOSTS=value)
    if taken is None:
        return
    hosts, chroot = collect_hosts(taken.zk_hosts)
    assert chroot is None
    for host, port in hosts:
        host.encode("idna")  # UnicodeError: label empty or too long ("label too long")
        assert 1 <= port <= 65535


def _zookeeper_accepts(path: str) -> bool:
    """ZooKeeper's PathUtils.validatePath, on the UTF-16 code units Java sees."""
    units = path.encode("utf-16-be", "surrogatepass")
    chars = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    if not chars or chars[0] != ord("/"):
        return False
    if len(chars) == 1:
        return True
    if chars[-1] == ord("/"):
        return False
    for i in range(1, len(chars)):
        c, last = chars[i], chars[i - 1]
        end = i + 1 == len(chars) or chars[i + 1] == ord("/")
        if c == 0:
            return False
        if c == ord("/") and last == ord("/"):
            return False
        if c == ord(".") and last == ord(".") and chars[i - 2] == ord("/") and end:
            return False
        if c == ord(".") and last == ord("/") and end:
            return False
        if 0 < c <= 0x1F or 0x7F <= c <= 0x9F or 0xD800 <= c <= 0xF8FF or 0xFFF0 <= c <= 0xFFFF:
            return False
    return True


@settings(max_examples=500)
@given(value=PATHY)
def test_fuzz_election_paths_taken_are_paths_zookeeper_takes(value: str) -> None:
    taken = _from(ELECTION_PATH=value)
    if taken is not None:
        path = taken.election_path
        assert _zookeeper_accepts(path), f"ZooKeeper would refuse {path!r}"
        assert _zookeeper_accepts(path + "/n_0000000001")


@settings(max_examples=300)
@given(value=EDGY)
def test_fuzz_seconds_taken_are_ascii_finite_and_in_range(value: str) -> None:
    taken = _from(ZK_SESSION_TIMEOUT_S=value)
    if taken is not None and value.strip():
        assert value.strip().isascii()
        assert 1 <= taken.zk_session_timeout_s <= 120


@settings(max_examples=500)
@given(
    name=st.one_of(
        st.text(),
        st.builds(lambda d: "n_" + d, st.text(alphabet="0123456789٠١２", min_size=9, max_size=11)),
    )
)
def test_fuzz_only_n_and_ten_ascii_digits_is_a_sequence(name: str) -> None:
    expected = (
        len(name) == 12 and name.startswith("n_") and all(c in "0123456789" for c in name[2:])
    )
    assert (sequence(name) is not None) == expected
    if expected:
        assert sequence(name) == int(name[2:])


@settings(max_examples=500)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=300).map(lambda b: bytes(c % 32 for c in b)),  # controls only
        st.text(alphabet="\x1b[31m\n\u202e\u0085é", max_size=300).map(str.encode),
    )
)
def test_fuzz_node_data_becomes_a_short_line_without_controls(data: bytes) -> None:
    shown = identity(data)
    assert len(shown) <= 65
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
