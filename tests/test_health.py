"""The container health check reads the worker's health file and judges its age."""

import json

from common.health import check
from common.settings import Settings


def settings(path: str = "", tick: float = 1.0) -> Settings:
    return Settings(service_name="service1", health_file=path, tick_interval_s=tick)


def test_health_fresh_file_is_healthy(tmp_path):
    path = tmp_path / "health"
    path.write_text(json.dumps({"state": "follower", "updated": 1000.0}))
    healthy, why = check(settings(str(path)), now=1002.0)
    assert healthy and why.startswith("follower")


def test_health_stale_file_is_unhealthy(tmp_path):
    path = tmp_path / "health"
    path.write_text(json.dumps({"state": "leader", "updated": 1000.0}))
    healthy, why = check(settings(str(path)), now=1006.0)
    assert not healthy and "old" in why


def test_health_missing_or_garbled_file_is_unhealthy(tmp_path):
    assert not check(settings(str(tmp_path / "absent")))[0]
    garbled = tmp_path / "garbled"
    garbled.write_text("{not json")
    assert not check(settings(str(garbled)))[0]
    assert not check(settings(""))[0]
