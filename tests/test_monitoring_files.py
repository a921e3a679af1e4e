"""The shipped monitoring files: alert rules, the Prometheus example, the Grafana dashboard and
the Alertmanager routing reference only metrics runtime.observability.metrics exports and
are well formed.
Structure is always checked in Python; promtool and amtool also check them when installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runtime.observability import metrics

DEPLOY = Path(__file__).parent.parent / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "ehrfusion-stream.json"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
SEVERITIES = ("critical", "warning", "info")
METRIC = re.compile(r"\behrfusion_[a-z0-9_]+")


def exported_names() -> set[str]:
    """The sample names runtime.observability.metrics exposes (counters with their `_total`)."""
    return {f.name + ("_total" if f.type == "counter" else "") for f in metrics.REGISTRY.collect()}


def tool(name: str) -> str | None:
    found = shutil.which(name) or f"/usr/bin/{name}"
    return found if Path(found).is_file() else None


def run_tool(*args: str | Path) -> str:
    """Run a checker; fail with its output unless it succeeds. Returns its standard output."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_metric_names_follow_the_conventions():
    for family in metrics.REGISTRY.collect():
        assert re.fullmatch(r"ehrfusion_[a-z0-9_]+", family.name), family.name
        assert not family.name.endswith("_total"), family.name  # the client adds it to counters
        if "seconds" in family.name:
            assert family.name.endswith("_seconds"), family.name  # the unit comes last


def test_every_alert_rule_is_complete_and_per_domain():
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"][key].strip(), (rule["alert"], key)
        assert "{{ $labels.domain }}" in rule["annotations"]["summary"], rule["alert"]
        for grouping in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", rule["expr"]):
            assert {g.strip() for g in grouping.split(",")} == {"tenant", "stream", "domain"}


def test_alert_rules_use_only_exported_metrics_and_cover_the_failure_modes():
    used = {name for rule in alert_rules() for name in METRIC.findall(rule["expr"])}
    assert used <= exported_names(), used - exported_names()
    by_name = {r["alert"]: r["expr"] for r in alert_rules()}
    assert "ehrfusion_domain_cadence_seconds" in by_name["EhrfusionDomainStale"]
    for alert in (
        "EhrfusionRunDurationSpike",
        "EhrfusionEndToEndLatencyHigh",
        "EhrfusionErrorRateSpike",
        "EhrfusionThrottleSpike",
        "EhrfusionReconciliationDrift",
        "EhrfusionDeadLettersAppeared",
    ):
        assert alert in by_name


def test_every_alert_has_a_promtool_unit_test():
    tests = yaml.safe_load(ALERTS_TEST.read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {
        check["alertname"]
        for case in tests["tests"]
        for check in case["alert_rule_test"]
        if check["exp_alerts"]
    }
    assert tested == {r["alert"] for r in alert_rules()}


def test_the_prometheus_example_loads_the_rules_and_keeps_pushed_labels():
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["ehrfusion-pushgateway"]["honor_labels"] is True
    assert "--collector.textfile.directory" in PROMETHEUS.read_text()


@pytest.mark.skipif(tool("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_rules_the_unit_tests_and_the_config():
    promtool = tool("promtool")
    assert "SUCCESS" in run_tool(promtool, "check", "rules", ALERTS)
    assert "SUCCESS" in run_tool(promtool, "test", "rules", ALERTS_TEST)
    assert "SUCCESS" in run_tool(promtool, "check", "config", PROMETHEUS)


def test_the_dashboard_is_templated_by_tenant_and_stream_on_a_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name in ("tenant", "stream", "domain"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${DS_PROMETHEUS}"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])


def test_the_dashboard_shows_every_exported_metric_and_nothing_else():
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert used == exported_names()
    scope = 'tenant="$tenant", stream="$stream", domain=~"$domain"'
    for expr in dashboard_exprs():
        for selector in re.findall(r"ehrfusion_[a-z0-9_]+(\{[^}]*\})?", expr):
            assert selector == "{" + scope + "}", expr
    titles = " ".join(p["title"].lower() for p in json.loads(DASHBOARD.read_text())["panels"])
    for topic in ("rows", "duration", "latency", "errors", "429", "queue", "dead", "drift"):
        assert topic in titles, topic


@pytest.mark.skipif(tool("promtool") is None, reason="promtool not installed")
def test_promtool_parses_every_dashboard_query(tmp_path):
    values = {"$tenant": "t", "$stream": "s", "$domain": ".*"}
    rules = []
    for i, expr in enumerate(dashboard_exprs()):
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert "SUCCESS" in run_tool(tool("promtool"), "check", "rules", path)


def alertmanager_receivers(labels: dict[str, str]) -> list[str]:
    """Receivers an alert reaches: the first matching route per level, more with `continue`."""

    def matches(route: dict) -> bool:
        for matcher in route.get("matchers", []):
            name, op, value = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher).groups()
            actual = labels.get(name, "")
            if not (re.fullmatch(value, actual) if op == "=~" else actual == value):
                return False
        return True

    root = yaml.safe_load(ALERTMANAGER.read_text())["route"]
    reached = []
    for route in root["routes"]:
        if matches(route):
            reached.append(route["receiver"])
            if not route.get("continue", False):
                break
    return reached or [root["receiver"]]


def test_alertmanager_routes_each_severity_to_its_channels():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routes = [config["route"], *config["route"]["routes"]]
    assert all(route["receiver"] in receivers for route in routes)
    kinds = {name: next(k for k in r if k.endswith("_configs")) for name, r in receivers.items()}
    assert sorted(kinds.values()) == [
        "email_configs",
        "pagerduty_configs",
        "slack_configs",
        "webhook_configs",
    ]
    expected = {
        "critical": {"webhook_configs", "pagerduty_configs", "slack_configs"},
        "warning": {"webhook_configs", "slack_configs"},
        "info": {"webhook_configs", "email_configs"},
    }
    for severity, channels in expected.items():
        reached = alertmanager_receivers({"alertname": "EhrfusionX", "severity": severity})
        assert {kinds[r] for r in reached} == channels, severity
    used = {rule["labels"]["severity"] for rule in alert_rules()}
    assert used <= set(expected)


def test_alertmanager_reads_every_secret_from_a_documented_file():
    text = ALERTMANAGER.read_text()
    config = yaml.safe_load(text)
    found: list[tuple[str, str]] = []

    def walk(node):
        items = node.items() if isinstance(node, dict) else (("", item) for item in node)
        for key, value in items:
            if isinstance(value, dict | list):
                walk(value)
            else:
                found.append((key, value))

    walk(config)
    keys = {key for key, _ in found}
    for inline in ("slack_api_url", "api_url", "routing_key", "service_key", "auth_password",
                   "smtp_auth_password", "credentials", "password", "bearer_token"):  # fmt: skip
        assert inline not in keys, inline
    secret_files = [value for key, value in found if key.endswith("_file")]
    assert len(secret_files) == 4
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for path in secret_files:
        assert path.startswith("/etc/alertmanager/secrets/")
        assert path in comments, f"{path} is not documented in the header"


@pytest.mark.skipif(tool("amtool") is None, reason="amtool not installed")
def test_amtool_accepts_the_config_and_agrees_on_the_routes():
    amtool = tool("amtool")
    assert "SUCCESS" in run_tool(amtool, "check-config", ALERTMANAGER)
    for severity in SEVERITIES:
        labels = {"alertname": "EhrfusionDomainStale", "severity": severity}
        out = run_tool(
            amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
            *(f"{k}={v}" for k, v in labels.items()),
        )  # fmt: skip
        assert out.splitlines()[0].split(",") == alertmanager_receivers(labels)
