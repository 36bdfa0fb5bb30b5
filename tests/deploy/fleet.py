"""The fleet's planning figures as the manifests state them (annotations, probes, the server's settings),
read back for the tests: the verification mode, the startup budget it needs, the filer's throughput and
the per-pod read rate of a cold start."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from rodata.server.settings import Settings
from tests.deploy.manifests import Rendered, env_of, etl_containers, parse_quantity

__all__ = [
    "COLD_START_RATE",
    "FILER_THROUGHPUT",
    "LB_IDLE_TIMEOUT_S",
    "MAX_POLL_INTERVAL_S",
    "RECORDED_STARTUP_S",
    "STARTUP_MARGIN_S",
    "WORST_BLOCKING_ANSWER_S",
    "ingress_class",
    "live_bytes",
    "probe_budget_s",
    "server_settings",
    "startup_budget_s",
]

#: Deployment annotations: the filer's sustained read throughput (bytes per second, a quantity), and the
#: rate at which one cold-starting pod reads from it (verification in full mode, warming its hot set in
#: recorded mode).  "Concurrent cold starts x per-pod read rate <= filer throughput" is tested on them.
FILER_THROUGHPUT = "rodata.io/filer-read-bytes-per-second"
COLD_START_RATE = "rodata.io/cold-start-read-bytes-per-second"

#: (least, most) seconds of startup budget in recorded mode: a pod reads headers, manifests and
#: verdicts, a few small reads per part, whatever the data size; a budget sized for full mode there
#: would leave a wedged pod unrestarted for half an hour.
RECORDED_STARTUP_S = (60, 300)

#: What a rollout wave needs beyond the startup budget: scheduling, a node scale-up, the image pull and
#: the first readiness checks.
STARTUP_MARGIN_S = 300

#: The longest a single answer may keep the event loop from answering /livez: the per-request time
#: bound of a cold 100,000-key batch lookup on network storage (docs/deploy.md, "Probes").
WORST_BLOCKING_ANSWER_S = 10

#: The idle timeout after which each load balancer reuses or drops an upstream connection; the server's
#: keep-alive must outlast it, or the balancer sends a request on a connection the server is closing.
LB_IDLE_TIMEOUT_S = {"gce": 600, "nginx": 60}

#: How late a pod may notice a new CURRENT (a publish, a rollback).
MAX_POLL_INTERVAL_S = 10


def server_settings(overlay: Rendered) -> Settings:
    """The settings `rodata serve` runs with in the server container's environment."""
    return Settings.from_env(env_of(overlay.server_container))


def probe_budget_s(probe: dict[str, Any]) -> int:
    """How long a probe tolerates failures before it acts: failureThreshold x periodSeconds."""
    return int(probe.get("failureThreshold", 3)) * int(probe.get("periodSeconds", 10))


def startup_budget_s(overlay: Rendered) -> int:
    """The startup probe's budget of the server container."""
    return probe_budget_s(overlay.server_container["startupProbe"])


def live_bytes(overlay: Rendered) -> Fraction:
    """The live versions' size at most: the read-only claim's size / the versions the ETL keeps."""
    claim = overlay.one("PersistentVolumeClaim", "rodata-data")
    claim_bytes = parse_quantity(claim["spec"]["resources"]["requests"]["storage"])
    keep_versions = min(int(env_of(c)["BUILD_KEEP_VERSIONS"]) for c in etl_containers(overlay)
                        if "BUILD_KEEP_VERSIONS" in env_of(c))
    return claim_bytes / keep_versions


def ingress_class(overlay: Rendered) -> str:
    """The ingress class, from the annotation GKE reads or from ingressClassName."""
    ingress = overlay.one("Ingress")
    annotations = ingress["metadata"].get("annotations") or {}
    return str(annotations.get("kubernetes.io/ingress.class") or ingress["spec"].get("ingressClassName") or "")
