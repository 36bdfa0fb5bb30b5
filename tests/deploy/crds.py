"""The custom resources the overlays may render, and the checks they get in place of the API schemas.

The built-in schemas of kubernetes-validate know no custom resource definition, so the strict schema
test would refuse every one. The kinds below are allowed by name; each is checked for its apiVersion,
its kind, a metadata name and the spec fields its controller requires. Any other unknown kind still
fails the strict test. Shared by the schema test and the component tests (access control, GKE,
observability): add a kind here, with its required fields, before an overlay renders it."""

from __future__ import annotations

from typing import Any

__all__ = ["CRD_KINDS", "crd_problems", "is_allowed_crd"]

#: (apiVersion, kind) -> the spec fields that object must have (dotted paths), per custom resource.
CRD_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    # GKE: the load balancer's health check, connection draining and timeouts of a Service's backend.
    ("cloud.google.com/v1", "BackendConfig"): ("healthCheck.requestPath", "connectionDraining.drainingTimeoutSec"),
    # Prometheus Operator: what to scrape, and the alert and recording rules.
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("selector", "endpoints"),
    ("monitoring.coreos.com/v1", "PodMonitor"): ("selector", "podMetricsEndpoints"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("groups",),
    # Google Cloud Managed Service for Prometheus.
    ("monitoring.googleapis.com/v1", "PodMonitoring"): ("selector", "endpoints"),
    # CSI snapshots (docs/deploy.md's backup example).
    ("snapshot.storage.k8s.io/v1", "VolumeSnapshot"): ("source",),
}


def is_allowed_crd(obj: dict[str, Any]) -> bool:
    """Whether `obj` is of one of the allowed custom resource kinds."""
    return (obj.get("apiVersion"), obj.get("kind")) in CRD_KINDS


def _lookup(spec: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(spec, dict) or part not in spec:
            return None
        spec = spec[part]
    return spec


def crd_problems(obj: dict[str, Any]) -> list[str]:
    """What is wrong with a custom resource of an allowed kind (nothing when it is well formed)."""
    kind = obj.get("kind")
    required = CRD_KINDS.get((obj.get("apiVersion"), kind))
    if required is None:
        return [f"{obj.get('apiVersion')} {kind}: not an allowed custom resource kind (tests/deploy/crds.py)"]
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return [f"{kind}: no metadata.name"]
    where = f"{kind}/{metadata['name']}"
    if set(obj) - {"apiVersion", "kind", "metadata", "spec"}:
        return [f"{where}: unknown top-level fields {sorted(set(obj) - {'apiVersion', 'kind', 'metadata', 'spec'})}"]
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [f"{where}: no spec"]
    return [f"{where}: spec.{field} is missing or empty" for field in required
            if _lookup(spec, field) in (None, "", [], {})]
