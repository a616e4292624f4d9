"""Reading a worker's Prometheus metrics (METRICS_PORT, common/metrics.py) over HTTP.

    samples = scrape("http://127.0.0.1:9101/metrics")
    samples.value("leader_election_leading")                          # 1.0
    samples.value("leader_election_units_refused_total", reason="older_token")

Parsed by prometheus-client's own text parser, so what a test reads is what a
Prometheus server would. ``scrape_or_none`` answers None while nothing listens (a
stopped worker, one still starting), for waits that poll.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "scrape", "scrape_or_none"]


@dataclass(frozen=True)
class Samples:
    """One scrape: every sample, by name and labels."""

    values: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    text: str

    def value(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, tuple(sorted(labels.items()))))

    def names(self) -> set[str]:
        return {name for name, _labels in self.values}


def scrape(url: str, timeout: float = 5.0) -> Samples:
    """GET ``url`` and parse it; raises OSError (URLError) when nothing answers."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        text = answer.read().decode("utf-8")
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Samples(values, text)


def scrape_or_none(url: str, timeout: float = 2.0) -> Samples | None:
    try:
        return scrape(url, timeout)
    except (OSError, urllib.error.URLError):
        return None
