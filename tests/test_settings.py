"""Settings.from_env: defaults, accepted values, and one clear line per bad value (E10).

The property codes (E1-E12) are defined in docs/properties.md.
"""

import pytest

from common.settings import ConfigError, Settings, describe


def from_env(**env: str) -> Settings:
    return Settings.from_env(env, default_service_name="service1")


def test_settings_defaults_match_the_article():
    s = from_env()
    assert s.service_name == "service1"
    assert s.zk_hosts == "zoo1:2181,zoo2:2181,zoo3:2181"
    assert s.election_path == "/leader-election"
    assert s.zk_session_timeout_s == 10.0
    assert s.tick_interval_s == 1.0
    assert (s.log_format, s.log_level, s.health_file) == ("json", "INFO", "")


def test_settings_service_name_defaults_to_host_name(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "a1b2c3d4e5f6")
    assert Settings.from_env({}).service_name == "a1b2c3d4e5f6"


def test_settings_accept_good_values():
    s = from_env(
        SERVICE_NAME="worker-7",
        ZK_HOSTS="127.0.0.1:2181, [::1]:2182,zoo3",
        ELECTION_PATH="/apps/demo/leader",
        ZK_SESSION_TIMEOUT_S=" 4.5 ",
        TICK_INTERVAL_S="0.25",
        LOG_FORMAT="TEXT",
        LOG_LEVEL="debug",
        HEALTH_FILE="/tmp/health",
    )
    assert s.service_name == "worker-7"
    assert s.zk_session_timeout_s == 4.5
    assert s.tick_interval_s == 0.25
    assert (s.log_format, s.log_level) == ("text", "DEBUG")
    assert describe(s)["election_path"] == "/apps/demo/leader"


def test_settings_tick_interval_goes_down_to_a_millisecond():
    # The benchmark's ledger phase ticks faster than a ledger write can answer.
    assert from_env(TICK_INTERVAL_S="0.001").tick_interval_s == 0.001
    with pytest.raises(ConfigError, match="between 0.001 and 3600"):
        from_env(TICK_INTERVAL_S="0.0009")


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        from_env().tick_interval_s = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("ZK_SESSION_TIMEOUT_S", "abc", "between 1 and 120"),
        ("ZK_SESSION_TIMEOUT_S", "-1", "between 1 and 120"),
        ("ZK_SESSION_TIMEOUT_S", "nan", "between 1 and 120"),
        ("ZK_SESSION_TIMEOUT_S", "1000", "between 1 and 120"),
        ("TICK_INTERVAL_S", "0", "between 0.001 and 3600"),
        ("TICK_INTERVAL_S", "", "between 0.001 and 3600"),
        ("ZK_CONNECT_TIMEOUT_S", "0", "between 0.5 and 120"),
        ("ZK_RETRY_MAX_DELAY_S", "inf", "between 0.1 and 300"),
        ("ZK_HOSTS", "", "comma-separated list of host:port"),
        ("ZK_HOSTS", "zoo1:2181,", "comma-separated list of host:port"),
        ("ZK_HOSTS", "zoo1:99999", "ports 1-65535"),
        ("ZK_HOSTS", "zoo1:2181/chroot", "chroot"),
        ("ZK_HOSTS", "zoo1:２１８１", "comma-separated list of host:port"),
        ("ZK_HOSTS", "a" * 64 + ".example:2181", "labels of 1 to 63"),
        ("ZK_HOSTS", ".".join(["a" * 60] * 5), "253 in all"),
        ("ZK_HOSTS", "zoo1..local", "labels of 1 to 63"),
        ("ZK_HOSTS", "[0]:2181", "not an IPv6 address"),
        ("ELECTION_PATH", "relative", "absolute ZooKeeper path"),
        ("ELECTION_PATH", "/", "absolute ZooKeeper path"),
        ("ELECTION_PATH", "/a//b", "no empty"),
        ("ELECTION_PATH", "/a/../b", "no empty"),
        ("ELECTION_PATH", "/trailing/", "absolute ZooKeeper path"),
        ("ELECTION_PATH", "/zookeeper/x", "reserves"),
        ("ELECTION_PATH", "/a\u0085b", "no control characters"),
        ("ELECTION_PATH", "/a\ue000", "U+D800..U+F8FF"),
        ("ELECTION_PATH", "/a\ufffe", "U+FFF0 and above"),
        ("ELECTION_PATH", "/emoji-\U0001f600", "U+FFF0 and above"),
        ("ELECTION_PATH", "/" + "a" * 1000, "at most 1000"),
        ("ZK_SESSION_TIMEOUT_S", "١٠", "between 1 and 120"),
        ("ZK_SESSION_TIMEOUT_S", "1_0", "between 1 and 120"),
        ("SERVICE_NAME", "two words", "letters, digits"),
        ("SERVICE_NAME", "-dash", "letters, digits"),
        ("LOG_FORMAT", "xml", "one of json, text"),
        ("LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR"),
        ("HEALTH_FILE", "relative/file", "absolute file path"),
    ],
)
def test_settings_reject_bad_value_naming_variable_and_value(name, value, says):
    with pytest.raises(ConfigError) as caught:
        from_env(**{name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} ")
    assert says in message
    assert repr(value.strip()) in message
    assert "\n" not in message


def test_settings_report_every_bad_variable_in_one_line():
    with pytest.raises(ConfigError) as caught:
        from_env(TICK_INTERVAL_S="0", ZK_HOSTS="")
    message = str(caught.value)
    assert "TICK_INTERVAL_S" in message and "ZK_HOSTS" in message
    assert "\n" not in message


def test_settings_zk_auth_is_read_from_the_variable_or_a_file(tmp_path):
    assert from_env().zk_auth == ""
    assert from_env(ZK_AUTH="election:pass-word-1").zk_auth == "election:pass-word-1"
    secret = tmp_path / "zk_auth"
    secret.write_text("election:from-a-file\nsecond line ignored\n")
    assert from_env(ZK_AUTH_FILE=str(secret)).zk_auth == "election:from-a-file"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ZK_AUTH": "no-colon-here"}, "must be user:password"),
        ({"ZK_AUTH": "user:short"}, "8 to 256 printable"),
        ({"ZK_AUTH": "us er:long-enough-1"}, "must be user:password"),
        ({"ZK_AUTH": "user:has space in it"}, "must be user:password"),
        ({"ZK_AUTH": "a:b-long-enough", "ZK_AUTH_FILE": "/x"}, "set one of them"),
        ({"ZK_AUTH_FILE": "/no/such/file"}, "must name a readable file"),
    ],
)
def test_settings_reject_bad_credentials_without_showing_the_password(env, says):
    with pytest.raises(ConfigError) as caught:
        from_env(**env)
    message = str(caught.value)
    assert says in message and "\n" not in message
    for secret in ("short", "long-enough", "space in it"):
        assert secret not in message, f"the password leaked into: {message}"


def test_settings_never_show_the_credentials_in_logs_or_repr():
    s = from_env(ZK_AUTH="election:top-secret-1")
    assert "top-secret" not in repr(s)
    assert describe(s)["zk_auth"] == "election:***"
