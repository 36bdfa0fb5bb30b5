"""Checkers of the observability component of a rendered overlay: the ServiceMonitor that scrapes the
server pods, and the PrometheusRule's alerts.

Each checker returns the problems it finds (an empty list when there is none), so that a test can assert
both that the shipped overlays pass and that a mutated copy of them fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.deploy.access import TOKENS_SECRET
from tests.deploy.manifests import container_port, selects
from tests.deploy.promql import PromQLError, parse

__all__ = [
    "EXTERNAL_METRICS",
    "METRICS_SECRET",
    "REQUIRED_ALERTS",
    "alerts_of",
    "monitor_problems",
    "required_alert_problems",
    "rule_problems",
    "seconds",
]

Obj = dict[str, Any]

#: The Secret (in the overlay's namespace, made out of band) holding the scraper's bearer token.
METRICS_SECRET = "rodata-metrics-token"

#: Series the alerts read that other exporters publish, with the exporter (docs/deploy.md names them).
EXTERNAL_METRICS = {
    "kube_deployment_status_replicas_unavailable": "kube-state-metrics",
    "container_memory_failures_total": "cAdvisor, through the kubelet's /metrics/cadvisor",
}

_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_SEVERITIES = {"warning", "critical"}


def seconds(duration: str) -> float:
    """A Prometheus duration ("10m", "1h30m") in seconds."""
    if not _DURATION.fullmatch(duration):
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNIT[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


def _one(objects: list[Obj], kind: str, name: str) -> Obj | None:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found[0] if len(found) == 1 else None


def monitor_problems(objects: list[Obj], metrics_path: str) -> list[str]:
    """What keeps the ServiceMonitor `rodata` from scraping every server pod's /metrics with a token."""
    monitor, service = _one(objects, "ServiceMonitor", "rodata"), _one(objects, "Service", "rodata")
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    if monitor is None or service is None or len(deployments) != 1:
        return ["expected one ServiceMonitor rodata, one Service rodata and one Deployment"]
    problems: list[str] = []
    spec, template = monitor["spec"], deployments[0]["spec"]["template"]
    if monitor["metadata"].get("namespace") != service["metadata"].get("namespace"):
        problems.append("the ServiceMonitor is not in the Service's namespace")
    if spec.get("namespaceSelector") not in (None, {"matchNames": [service["metadata"].get("namespace")]}):
        problems.append(f"namespaceSelector {spec['namespaceSelector']} looks beyond the overlay's namespace")
    if not selects(spec.get("selector", {}), service["metadata"].get("labels", {})):
        problems.append("the ServiceMonitor's selector does not select the Service rodata")
    if not selects(service["spec"]["selector"], template["metadata"]["labels"]):
        problems.append("the Service does not select the server pods")
    annotations = template["metadata"].get("annotations", {})
    container = template["spec"]["containers"][0]
    if not spec.get("endpoints"):
        problems.append("the ServiceMonitor has no endpoint")
    for endpoint in spec.get("endpoints", []):
        problems += _endpoint_problems(endpoint, service, container, annotations, metrics_path)
    return problems


def _endpoint_problems(endpoint: Obj, service: Obj, container: Obj, annotations: dict[str, str],
                       metrics_path: str) -> list[str]:
    problems: list[str] = []
    ports = {p.get("name"): p for p in service["spec"]["ports"]}
    port = ports.get(endpoint.get("port"))
    if port is None:
        problems.append(f"endpoint port {endpoint.get('port')!r} is not a named port of the Service")
    else:
        try:
            scraped = container_port(container, port["targetPort"])
        except AssertionError as exc:
            problems.append(str(exc))
        else:
            if str(scraped) != annotations.get("prometheus.io/port"):
                problems.append(f"the endpoint reaches port {scraped}, the pods say metrics are on "
                                f"{annotations.get('prometheus.io/port')}")
    if endpoint.get("path") != metrics_path or annotations.get("prometheus.io/path") != metrics_path:
        problems.append(f"the endpoint's path {endpoint.get('path')!r} is not the app's {metrics_path}")
    if endpoint.get("scheme", "http") != "http":
        problems.append("the pods speak plain HTTP (TLS ends at the ingress)")
    problems += _authorization_problems(endpoint)
    return problems


def _authorization_problems(endpoint: Obj) -> list[str]:
    # /metrics answers 401 without a token that has the metrics scope (docs/security.md).
    for legacy in ("bearerTokenFile", "bearerTokenSecret"):
        if legacy in endpoint:
            return [f"{legacy} is deprecated: use authorization"]
    auth = endpoint.get("authorization")
    if not auth or auth.get("type", "Bearer") != "Bearer":
        return ["the endpoint sends no bearer token: /metrics answers 401 in prod"]
    credentials = auth.get("credentials") or {}
    if credentials.get("name") == TOKENS_SECRET:
        return [f"{TOKENS_SECRET} holds digests, which are no tokens: the scrape would get 401"]
    if credentials.get("name") != METRICS_SECRET or not credentials.get("key"):
        return [f"the token must come from a key of the Secret {METRICS_SECRET}, not {credentials}"]
    return []


def alerts_of(objects: list[Obj]) -> list[Obj]:
    """Every alerting rule of every PrometheusRule."""
    return [rule for o in objects if o["kind"] == "PrometheusRule"
            for group in o["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def rule_problems(objects: list[Obj], known_metrics: set[str]) -> list[str]:
    """What is wrong with the alerting rules: a missing part, a bad duration or severity, an expression
    that does not parse or names a series no exporter publishes."""
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    if len(rules) != 1:
        return [f"expected one PrometheusRule, found {len(rules)}"]
    problems: list[str] = []
    groups = rules[0]["spec"].get("groups") or []
    names = [g.get("name") for g in groups]
    if not groups or len(set(names)) != len(names) or not all(names):
        problems.append(f"groups need unique names: {names}")
    alerts = [r.get("alert") for g in groups for r in g.get("rules") or []]
    if len(set(alerts)) != len(alerts):
        problems.append(f"alert names repeat: {alerts}")
    for group in groups:
        for rule in group.get("rules") or []:
            problems += [f"{rule.get('alert') or rule.get('record')}: {p}" for p in _one_rule(rule, known_metrics)]
    return problems


def _one_rule(rule: Obj, known_metrics: set[str]) -> list[str]:
    missing = [part for part in ("alert", "expr", "for", "labels", "annotations") if not rule.get(part)]
    if missing:
        return [f"no {', '.join(missing)}"]
    problems: list[str] = []
    if not _DURATION.fullmatch(str(rule["for"])):
        problems.append(f"for: {rule['for']!r} is not a duration")
    if rule["labels"].get("severity") not in _SEVERITIES:
        problems.append(f"severity {rule['labels'].get('severity')!r} is not one of {sorted(_SEVERITIES)}")
    for part in ("summary", "description"):
        if not str(rule["annotations"].get(part, "")).strip():
            problems.append(f"no {part} annotation")
    try:
        parsed = parse(str(rule["expr"]))
    except PromQLError as exc:
        return [*problems, str(exc)]
    # The annotations are expanded with the labels of the expression's result: a label it aggregates
    # away is empty in the alert.
    named = {m for text in rule["annotations"].values() for m in re.findall(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)",
                                                                           str(text))}
    if parsed.labels is not None and named - parsed.labels:
        problems.append(f"the annotations name {sorted(named - parsed.labels)}, which the result has not "
                        f"(it keeps {sorted(parsed.labels)})")
    unknown = parsed.metrics - known_metrics - set(EXTERNAL_METRICS)
    if unknown:
        problems.append(f"no exporter publishes {sorted(unknown)}")
    if not parsed.metrics:
        problems.append("the expression reads no series")
    return problems


def _has(rule: Obj, *fragments: str) -> bool:
    expr = re.sub(r"\s+", " ", str(rule["expr"]))
    return all(f in expr for f in fragments)


#: What the fleet must be alerted on (issue: refused versions, version skew across pods for 10 minutes,
#: readiness, major page faults, 5xx), as a predicate on one alert each.
REQUIRED_ALERTS: dict[str, Callable[[Obj], bool]] = {
    "refused versions": lambda r: _has(r, "increase(rodata_dataset_refused_versions_total["),
    "version skew across pods for 10 minutes": lambda r: (
        _has(r, "count by (namespace, dataset) (count by (namespace, dataset, version) (rodata_dataset_info)) > 1")
        and seconds(str(r["for"])) == 600),
    "a pod serving another version than CURRENT names": lambda r: _has(
        r, "rodata_dataset_current_info unless on (namespace, pod, dataset, version) rodata_dataset_info"),
    "a pod not ready": lambda r: _has(r, "rodata_ready == 0"),
    "pods of the Deployment unavailable": lambda r: _has(
        r, 'kube_deployment_status_replicas_unavailable{deployment="rodata"}'),
    "major page faults": lambda r: _has(r, "rate(container_memory_failures_total{", 'failure_type="pgmajfault"'),
    "5xx answers": lambda r: _has(r, 'rodata_requests_total{status=~"5..",'),
}


def required_alert_problems(objects: list[Obj]) -> list[str]:
    """Which required alerts have no rule."""
    alerts = alerts_of(objects)
    return [f"no alert on {what}" for what, check in REQUIRED_ALERTS.items() if not any(check(r) for r in alerts)]
