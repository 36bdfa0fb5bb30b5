"""The observability component in the prod overlays: a ServiceMonitor that reaches every server pod's
/metrics with a bearer token, and alerts on refused versions, version skew, readiness, major page faults
and 5xx answers whose expressions parse and read only series that exist (the server's own, from a real
exposition, or those of the exporters the component names).  Each checker is shown to reject a mutated
copy of the rendered overlay."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rodata.catalog import Catalog
from rodata.server import routes
from rodata.server.metrics import Metrics
from tests.deploy.manifests import Rendered
from tests.deploy.observability import (
    EXTERNAL_METRICS,
    alerts_of,
    monitor_problems,
    required_alert_problems,
    rule_problems,
    seconds,
)
from tests.deploy.promql import PromQLError, parse

PROD_OVERLAYS = ("prod", "prod-large")
METRICS_PATH = next(r.path for r in routes.ROUTES if r.name == "metrics")
DEPLOY_DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"

Objects = list[dict[str, Any]]


@pytest.fixture(params=PROD_OVERLAYS)
def prod(request: pytest.FixtureRequest, rendered_overlays: dict[str, Rendered]) -> Rendered:
    """Each prod overlay in turn."""
    return rendered_overlays[request.param]


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every series name the server's /metrics exposes: the exposition of a real catalog, read as
    Prometheus reads it (every family has its TYPE line, with or without samples)."""
    text = Metrics(Catalog(tmp_path_factory.mktemp("data"))).render().decode()
    names: set[str] = set()
    for line in text.splitlines():
        typed = re.match(r"# TYPE (\S+) (\S+)", line)
        if typed:
            name, kind = typed.groups()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def mutated(objects: Objects, kind: str, change: Callable[[dict[str, Any]], None]) -> Objects:
    """A deep copy of `objects` with `change` applied to the one object of `kind`."""
    copied = copy.deepcopy(objects)
    change(next(o for o in copied if o["kind"] == kind))
    return copied


def alert(objects: Objects, name: str) -> dict[str, Any]:
    return next(r for r in alerts_of(objects) if r["alert"] == name)


# --- the shipped overlays pass ----------------------------------------------------------------------


def test_the_exposition_has_the_documented_metrics(exposed: set[str]) -> None:
    # The fixture itself must see the server's metrics, or every "unknown metric" check is vacuous.
    assert {"rodata_requests_total", "rodata_ready", "rodata_dataset_info",
            "rodata_dataset_refused_versions_total", "process_resident_memory_bytes"} <= exposed


def test_prod_overlays_include_the_component(prod: Rendered) -> None:
    namespace = prod.one("Namespace")["metadata"]["name"]
    for kind in ("ServiceMonitor", "PrometheusRule"):
        obj = prod.one(kind, "rodata")
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert obj["metadata"]["namespace"] == namespace


def test_dev_needs_no_monitoring_crds(rendered_overlays: dict[str, Rendered]) -> None:
    # A one-node dev cluster seldom runs the Prometheus Operator: its CRDs would make the apply fail.
    assert not [o for o in rendered_overlays["dev"].objects if o["apiVersion"].startswith("monitoring.")]


def test_service_monitor_scrapes_every_server_pod_with_a_token(prod: Rendered) -> None:
    assert monitor_problems(prod.objects, METRICS_PATH) == []


def test_every_alert_is_complete_and_reads_existing_series(prod: Rendered, exposed: set[str]) -> None:
    assert rule_problems(prod.objects, exposed) == []
    assert len(alerts_of(prod.objects)) >= len(["refused", "skew", "ready", "faults", "5xx"])


def test_the_required_alerts_are_there(prod: Rendered) -> None:
    assert required_alert_problems(prod.objects) == []


def test_not_ready_alert_waits_out_the_startup_budget(prod: Rendered) -> None:
    # rodata_ready is 0 through a normal start: the alert must not fire before the startup probe
    # itself would give up on the pod.
    probe = prod.server_container["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    assert seconds(alert(prod.objects, "RodataPodNotReady")["for"]) >= budget


def test_external_series_are_named_in_the_docs() -> None:
    # Whoever installs the rules must know which exporters they need.
    docs = DEPLOY_DOCS.read_text(encoding="utf-8")
    for metric, exporter in EXTERNAL_METRICS.items():
        assert metric in docs and exporter.split(",")[0] in docs, metric


def test_documented_queries_parse_and_read_existing_series(exposed: set[str]) -> None:
    # The runbook's convergence queries are typed into Prometheus as they are written.
    docs = DEPLOY_DOCS.read_text(encoding="utf-8")
    queries = [q for block in re.findall(r"```promql\n(.*?)```", docs, re.DOTALL) for q in block.splitlines() if q]
    assert len(queries) >= 2
    for query in queries:
        assert parse(query).metrics <= exposed | set(EXTERNAL_METRICS), query


# --- the checkers reject broken copies --------------------------------------------------------------


@pytest.mark.parametrize(("what", "change"), [
    ("a port the Service lacks", lambda m: m["spec"]["endpoints"][0].update(port="metrics")),
    ("a selector of other pods", lambda m: m["spec"]["selector"]["matchLabels"].update(
        {"app.kubernetes.io/component": "etl"})),
    ("no token", lambda m: m["spec"]["endpoints"][0].pop("authorization")),
    ("the digests' Secret as the token", lambda m: m["spec"]["endpoints"][0]["authorization"]["credentials"]
     .update(name="rodata-tokens")),
    ("another path", lambda m: m["spec"]["endpoints"][0].update(path="/v1/metrics")),
    ("other namespaces", lambda m: m["spec"].update(namespaceSelector={"any": True})),
])
def test_monitor_check_rejects(prod: Rendered, what: str, change: Callable[[dict[str, Any]], None]) -> None:
    assert monitor_problems(mutated(prod.objects, "ServiceMonitor", change), METRICS_PATH), what


def _rule(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    change(rule)
    return apply


@pytest.mark.parametrize(("what", "change"), [
    ("no for", _rule("RodataVersionSkew", lambda r: r.pop("for"))),
    ("no annotations", _rule("RodataHigh5xxRate", lambda r: r.pop("annotations"))),
    ("no severity", _rule("RodataPodNotReady", lambda r: r["labels"].pop("severity"))),
    ("a misspelt metric", _rule("RodataVersionRefused", lambda r: r.update(
        expr=r["expr"].replace("refused_versions_total", "refused_version_total")))),
    ("rate of an instant vector", _rule("RodataHigh5xxRate", lambda r: r.update(
        expr=r["expr"].replace("[5m]", "")))),
    ("unbalanced parentheses", _rule("RodataVersionSkew", lambda r: r.update(expr=r["expr"] + ")"))),
    ("a bad duration", _rule("RodataDatasetError", lambda r: r.update(**{"for": "10 minutes"}))),
    ("a label aggregated away", _rule("RodataVersionSkew", lambda r: r["annotations"].update(
        summary="{{ $labels.pod }} lags"))),
    ("a label dropped by a match", _rule("RodataHigh5xxRate", lambda r: r.update(
        expr=r["expr"].replace("/ sum by (namespace)", "/ on () sum by (namespace)")))),
])
def test_rule_check_rejects(prod: Rendered, exposed: set[str], what: str,
                            change: Callable[[dict[str, Any]], None]) -> None:
    assert rule_problems(mutated(prod.objects, "PrometheusRule", change), exposed), what


@pytest.mark.parametrize(("what", "change"), [
    ("a skew alert after 1 minute", _rule("RodataVersionSkew", lambda r: r.update(**{"for": "1m"}))),
    ("skew counted per pod", _rule("RodataVersionSkew", lambda r: r.update(
        expr=r["expr"].replace("(namespace, dataset)", "(namespace, pod, dataset)")))),
    ("no page-fault alert", _rule("RodataMajorPageFaults", lambda r: r.update(
        expr=r["expr"].replace("pgmajfault", "pgfault")))),
    ("5xx counted with 4xx", _rule("RodataHigh5xxRate", lambda r: r.update(
        expr=r["expr"].replace('"5.."', '"[45].."')))),
])
def test_required_alert_check_rejects(prod: Rendered, what: str, change: Callable[[dict[str, Any]], None]) -> None:
    assert required_alert_problems(mutated(prod.objects, "PrometheusRule", change)), what


def test_readiness_alert_check_rejects_a_short_wait(prod: Rendered) -> None:
    probe = prod.server_container["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    objects = mutated(prod.objects, "PrometheusRule",
                      _rule("RodataPodNotReady", lambda r: r.update(**{"for": f"{budget - 1}s"})))
    assert seconds(alert(objects, "RodataPodNotReady")["for"]) < budget


@pytest.mark.parametrize("expr", [
    "rate(rodata_ready)",                      # a range function of an instant vector
    "sum(rodata_ready[5m])",                   # an aggregation of a range vector
    'rodata_ready{pod=~"("}',                  # a regex that does not compile
    "rodata_ready > ",                         # an operand missing
    "frobnicate(rodata_ready)",                # an unknown function
    "increase(rodata_ready[5q])",              # a bad duration
    "rodata_ready and 1",                      # a set operator with a scalar
])
def test_promql_checker_rejects(expr: str) -> None:
    with pytest.raises(PromQLError):
        parse(expr)


@pytest.mark.parametrize("expr", [
    "histogram_quantile(0.99, sum by (le) (rate(rodata_request_duration_seconds_bucket[5m])))",
    'topk(3, sum without (status) (rate(rodata_requests_total{route!~"healthz|livez"}[5m] offset 1h)))',
    "rodata_dataset_rows / on (namespace, pod) group_left rodata_ready > bool 0",
])
def test_promql_checker_accepts(expr: str) -> None:
    assert parse(expr).metrics


@pytest.mark.parametrize(("expr", "labels"), [
    ("sum by (namespace, dataset) (increase(rodata_dataset_refused_versions_total[15m])) > 0",
     {"namespace", "dataset"}),
    ("sum by (namespace) (rate(rodata_requests_total[5m])) / on (namespace) sum(rate(rodata_requests_total[5m]))",
     {"namespace"}),
    ("histogram_quantile(0.99, sum by (le, route) (rate(rodata_request_duration_seconds_bucket[5m])))", {"route"}),
    ("count(rodata_ready)", set()),
    ("rodata_ready == 0", None),
])
def test_promql_checker_knows_the_result_labels(expr: str, labels: set[str] | None) -> None:
    assert parse(expr).labels == (None if labels is None else frozenset(labels))
