"""What the API schemas cannot check about the serving fleet: resources, probes, wiring between objects,
storage access, scaling and disruption rules, per overlay."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from rodata.server.settings import Settings
from tests.deploy.fleet import ingress_class
from tests.deploy.manifests import (
    Rendered,
    container_port,
    env_of,
    etl_containers,
    etl_templates,
    parse_quantity,
    pod_templates,
    selects,
)

#: The slowest rate at which we plan a fresh pod to map and verify its data: network storage read
#: cold, with other pods starting beside it.
SLOWEST_VERIFY_BYTES_PER_S = 120 * 2**20

WORKER_FLAGS = ("--workers", "-w", "--worker-class", "--reload")
WORKER_ENV = ("WEB_CONCURRENCY", "UVICORN_WORKERS", "GUNICORN_CMD_ARGS", "RODATA_WORKERS")


# --- resources --------------------------------------------------------------------------------------


def test_server_is_guaranteed_one_core_and_1024mi(overlay: Rendered) -> None:
    resources = overlay.server_container["resources"]
    assert set(resources) == {"requests", "limits"}
    for side in ("requests", "limits"):
        assert set(resources[side]) == {"cpu", "memory"}
        assert parse_quantity(resources[side]["cpu"]) == 1
        assert parse_quantity(resources[side]["memory"]) == 1024 * 2**20


def test_every_container_of_every_pod_is_guaranteed(overlay: Rendered) -> None:
    # Guaranteed QoS (and an exclusive core under the static CPU manager) needs requests == limits in
    # every container, init containers included: one that differs drops the whole pod to Burstable.
    for description, template in pod_templates(overlay):
        spec = template["spec"]
        for container in spec["containers"] + spec.get("initContainers", []):
            resources = container.get("resources") or {}
            where = f"{description} container {container['name']}"
            assert resources.get("requests") and resources.get("limits"), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            requests = {k: parse_quantity(v) for k, v in resources["requests"].items()}
            limits = {k: parse_quantity(v) for k, v in resources["limits"].items()}
            assert requests == limits, where


def test_no_replicas_field_the_autoscaler_owns_it(overlay: Rendered) -> None:
    assert "replicas" not in overlay.server["spec"]


# --- probes -----------------------------------------------------------------------------------------


def test_probes_use_healthz_and_livez_on_the_served_port(overlay: Rendered) -> None:
    container = overlay.server_container
    served_port = int(env_of(container)["RODATA_PORT"])
    expected_paths = {"startupProbe": "/healthz", "readinessProbe": "/healthz", "livenessProbe": "/livez"}
    for probe_name, path in expected_paths.items():
        probe = container[probe_name]
        assert probe["httpGet"]["path"] == path, probe_name
        assert container_port(container, probe["httpGet"]["port"]) == served_port, probe_name


def test_readiness_probe_timing(overlay: Rendered) -> None:
    probe = overlay.server_container["readinessProbe"]
    assert 10 <= probe["initialDelaySeconds"] <= 30
    assert probe["periodSeconds"] == 10


def test_startup_probe_covers_a_slow_map_and_verify_of_the_live_data(overlay: Rendered) -> None:
    # The share holds --keep-versions versions of every dataset, so the live versions together are at
    # most claim size / keep-versions; in full mode all of them are verified before /healthz says ready
    # (recorded mode reads no data at start: tests/deploy/test_fleet_rollouts.py sizes its budget).
    if Settings.from_env(env_of(overlay.server_container)).verify != "full":
        return
    probe = overlay.server_container["startupProbe"]
    budget_s = probe["failureThreshold"] * probe.get("periodSeconds", 10)
    claim = overlay.one("PersistentVolumeClaim", "rodata-data")
    claim_bytes = parse_quantity(claim["spec"]["resources"]["requests"]["storage"])
    keep_versions = min(int(env_of(c)["BUILD_KEEP_VERSIONS"]) for c in etl_containers(overlay))
    live_bytes = claim_bytes / keep_versions
    assert budget_s >= live_bytes / SLOWEST_VERIFY_BYTES_PER_S, (budget_s, float(live_bytes / 2**30))


def test_liveness_never_kills_a_pod_that_is_still_verifying(overlay: Rendered) -> None:
    # Kubernetes runs liveness only after the startup probe succeeds, and it must not use the readiness
    # path: /healthz turns 503 when no dataset serves, which needs no restart.
    container = overlay.server_container
    assert container["livenessProbe"]["httpGet"]["path"] != container["readinessProbe"]["httpGet"]["path"]
    assert "startupProbe" in container


# --- one process per pod ----------------------------------------------------------------------------


def test_server_runs_the_image_entry_point_with_no_worker_flags(overlay: Rendered) -> None:
    container = overlay.server_container
    assert "command" not in container, "the image's entry point (rodata serve) must run as it is"
    assert not any(arg.split("=")[0] in WORKER_FLAGS for arg in container.get("args", []))
    assert not set(env_of(container)) & set(WORKER_ENV)


def test_server_listens_on_all_interfaces_and_reads_the_mounted_data(overlay: Rendered) -> None:
    container = overlay.server_container
    env = env_of(container)
    assert env["RODATA_HOST"] == "0.0.0.0"
    data_mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert (env["RODATA_DATA_ROOT"] + "/").startswith(data_mount["mountPath"].rstrip("/") + "/")


def test_service_links_cannot_shadow_the_servers_settings(overlay: Rendered) -> None:
    # A Service named "rodata" would inject RODATA_PORT=tcp://... into every pod of the namespace.
    for obj in (overlay.server, *overlay.of_kind("Job")):
        assert obj["spec"]["template"]["spec"]["enableServiceLinks"] is False
    for cron in overlay.of_kind("CronJob"):
        assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["enableServiceLinks"] is False


# --- graceful shutdown ------------------------------------------------------------------------------


def test_prestop_pause_and_grace_period_let_endpoints_drain(overlay: Rendered) -> None:
    pod = overlay.server["spec"]["template"]["spec"]
    container = overlay.server_container
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause >= 5, "endpoint removal needs seconds to reach every proxy"
    drain = float(env_of(container).get("RODATA_DRAIN_SECONDS", Settings().drain_seconds))
    assert pod["terminationGracePeriodSeconds"] > pause + drain


def test_rolling_update_never_drops_below_the_current_size(overlay: Rendered) -> None:
    rolling = overlay.server["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] in (0, "0%")


# --- wiring -----------------------------------------------------------------------------------------


def test_selectors_match_the_pod_template(overlay: Rendered) -> None:
    labels = overlay.server["spec"]["template"]["metadata"]["labels"]
    assert selects(overlay.server["spec"]["selector"], labels)
    assert selects(overlay.one("Service")["spec"]["selector"], labels)
    assert selects(overlay.one("PodDisruptionBudget")["spec"]["selector"], labels)
    policy = overlay.one("NetworkPolicy", overlay.server["metadata"]["name"])
    assert selects(policy["spec"]["podSelector"], labels)
    for constraint in overlay.server["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"], labels)


def test_fleet_selectors_leave_the_etl_pods_out(overlay: Rendered) -> None:
    for _, template in etl_templates(overlay):
        labels = template["metadata"]["labels"]
        assert not selects(overlay.one("Service")["spec"]["selector"], labels)
        assert not selects(overlay.one("PodDisruptionBudget")["spec"]["selector"], labels)
        assert not selects(overlay.server["spec"]["selector"], labels)


def test_autoscaler_targets_the_deployment_on_cpu_and_the_request_rate(overlay: Rendered) -> None:
    # CPU 60%, the capacity model's target (utilisation caps at 100% of one core), plus in prod the
    # request rate per pod (tests/deploy/test_fleet_rollouts.py); nothing else.
    hpa = overlay.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        overlay.server["apiVersion"], "Deployment", overlay.server["metadata"]["name"])
    metrics = hpa["spec"]["metrics"]
    assert metrics[0] == {"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
    assert [m["type"] for m in metrics[1:]] in ([], ["Pods"])
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_service_is_clusterip_without_affinity_and_targets_the_http_port(overlay: Rendered) -> None:
    service = overlay.one("Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["sessionAffinity"] == "None"
    assert "sessionAffinityConfig" not in service["spec"]
    for port in service["spec"]["ports"]:
        assert container_port(overlay.server_container, port["targetPort"]) == int(
            env_of(overlay.server_container)["RODATA_PORT"])


def test_ingress_routes_to_the_service_with_a_class_a_host_and_no_stickiness(overlay: Rendered) -> None:
    ingress = overlay.one("Ingress")
    service = overlay.one("Service")
    assert ingress_class(overlay)
    service_ports = {key for p in service["spec"]["ports"] for key in (p["name"], p["port"])}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"]
        assert not rule["host"].endswith(".invalid")
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"].get("name", backend["port"].get("number")) in service_ports
    for obj in (ingress, service):
        for key, value in (obj["metadata"].get("annotations") or {}).items():
            text = f"{key}={value}".lower()
            assert not any(word in text for word in ("affinity", "sticky", "session-cookie", "hash")), text


# --- disruption and scale per overlay ---------------------------------------------------------------


def disruptions_allowed_at(pdb: dict[str, Any], replicas: int) -> int:
    """How many pods the budget lets an eviction take when `replicas` pods are healthy."""
    spec = pdb["spec"]

    def count(value: int | str, round_up: bool) -> int:
        if isinstance(value, str) and value.endswith("%"):
            exact = Fraction(int(value[:-1]) * replicas, 100)
            return int(-(-exact // 1)) if round_up else int(exact // 1)
        return int(value)

    if "minAvailable" in spec:
        return replicas - count(spec["minAvailable"], round_up=True)
    return count(spec["maxUnavailable"], round_up=True)


def test_budget_lets_a_node_drain_at_the_smallest_size(overlay: Rendered) -> None:
    pdb = overlay.one("PodDisruptionBudget")
    smallest = overlay.one("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    assert disruptions_allowed_at(pdb, smallest) >= 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_budget_keeps_someone_serving_outside_dev(overlay: Rendered) -> None:
    pdb = overlay.one("PodDisruptionBudget")
    smallest = overlay.one("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    if overlay.name != "dev":
        assert disruptions_allowed_at(pdb, smallest) < smallest


@pytest.mark.parametrize(("name", "min_replicas", "budget"), [
    ("dev", 1, {"maxUnavailable": 1}),
    ("prod", None, {"minAvailable": 1}),
    ("prod-large", None, {"minAvailable": "50%"}),
])
def test_overlay_budget_and_size(rendered_overlays: dict[str, Rendered], name: str,
                                 min_replicas: int | None, budget: dict[str, Any]) -> None:
    rendered = rendered_overlays[name]
    pdb_spec = rendered.one("PodDisruptionBudget")["spec"]
    assert {k: pdb_spec[k] for k in ("minAvailable", "maxUnavailable") if k in pdb_spec} == budget
    if min_replicas is not None:
        assert rendered.one("HorizontalPodAutoscaler")["spec"]["minReplicas"] == min_replicas


def test_large_fleet_scales_higher_than_prod(rendered_overlays: dict[str, Rendered]) -> None:
    prod = rendered_overlays["prod"].one("HorizontalPodAutoscaler")["spec"]
    large = rendered_overlays["prod-large"].one("HorizontalPodAutoscaler")["spec"]
    assert large["minReplicas"] > prod["minReplicas"]
    assert large["maxReplicas"] > prod["maxReplicas"]


def test_pods_spread_across_nodes_and_zones(overlay: Rendered) -> None:
    keys = {c["topologyKey"] for c in overlay.server["spec"]["template"]["spec"]["topologySpreadConstraints"]}
    assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= keys


def test_each_overlay_sets_its_own_host_storage_class_and_image(
    rendered_overlays: dict[str, Rendered],
) -> None:
    def settings(r: Rendered) -> tuple[str, str, str]:
        return (r.one("Ingress")["spec"]["rules"][0]["host"],
                r.one("PersistentVolumeClaim", "rodata-data")["spec"]["storageClassName"],
                r.server_container["image"])

    hosts, classes, images = zip(*(settings(r) for r in rendered_overlays.values()), strict=True)
    assert len(set(hosts)) == len(hosts)
    assert len(set(classes)) == len(classes)
    assert all(":" in image.rsplit("/", 1)[-1] for image in images), "every overlay pins an image tag"
