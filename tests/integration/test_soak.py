"""The randomized fault soak, short: 1.5 minutes with a fixed seed, on the real ensemble.

The long run is ``python -m soak --minutes 10 --seed N`` (see soak/); the plan's and
the judge's own tests are in the unit layer (tests/test_soak_judge.py).

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from soak.plan import SoakConfig
from soak.run import Soak

SEED = 20261126


@pytest.mark.soak
@pytest.mark.integration
@pytest.mark.timeout(420)
def test_soak_short_run_has_no_violation(ensemble, tmp_path: Path) -> None:
    config = SoakConfig(minutes=1.5, seed=SEED, tick_ms=ensemble.tick_ms)
    report = Soak(ensemble, tmp_path / "soak", config).run()
    print(report.text())  # captured: shown when the test fails
    injected = [i for i in report.timeline.incidents if i.kind not in ("startup", "no_quorum")]
    assert len(injected) >= 15, f"too few faults happened to mean anything:\n{report.text()}"
    assert report.ticks > 50, report.text()
    assert report.takeover_s, f"no fault ever hit the leader:\n{report.text()}"
    assert report.ok, report.text()
