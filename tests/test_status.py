"""`python -m common.status`: ZK_HOSTS entries are read in every form the settings accept."""

import pytest

from common.settings import Settings
from common.status import _split_host_port


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("zoo1:2181", ("zoo1", 2181)),
        (" zoo3 ", ("zoo3", 2181)),
        ("127.0.0.1:2182", ("127.0.0.1", 2182)),
        ("[::1]:2183", ("::1", 2183)),
        ("[::1]", ("::1", 2181)),
    ],
)
def test_status_splits_every_host_form(entry, expected):
    Settings.from_env({"ZK_HOSTS": entry})  # a form the worker accepts too
    assert _split_host_port(entry) == expected
