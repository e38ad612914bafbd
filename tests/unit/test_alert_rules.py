"""The alerting rules shipped in deploy/prometheus/alerts.yaml are valid PromQL (promql-parser, the parser of
GreptimeDB, as no Prometheus runs here), name only metrics the services export, and the runbook says what
each alert means."""
from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"


def exported_samples() -> set[str]:
    """Every sample name a service's /metrics can show: the process's own metrics and the scrape-time figures."""
    from prometheus_client import REGISTRY

    from services.backbone.metrics import STATE_METRICS

    suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",), "gauge": ("",)}
    names = set(STATE_METRICS)
    for family in REGISTRY.collect():
        if family.name.startswith("fourgates_"):
            names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_is_complete_and_names_only_exported_metrics() -> None:
    exported = exported_samples()
    assert {"fourgates_consumer_lag_seconds_bucket", "fourgates_parked_messages"} <= exported
    assert len(rules()) >= 5
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")  # type: ignore[index]
        assert set(rule["annotations"]) == {"summary", "description"}  # type: ignore[arg-type]
        promql_parser.parse(str(rule["expr"]))  # raises on a PromQL syntax error
        used = set(re.findall(r"\bfourgates_[a-z_]+", str(rule["expr"])))
        assert used and used <= exported, f"{rule['alert']} names {sorted(used - exported)}, which no service exports"


def test_the_runbook_explains_every_alert() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    missing = [rule["alert"] for rule in rules() if f"`{rule['alert']}`" not in runbook]
    assert not missing, f"docs/runbook.md does not explain {missing}"
