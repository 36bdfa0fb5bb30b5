"""Negative controls: each mistake below, applied to the rendered prod overlay, must make the suite's own
checks fail (they are called here as the suite runs them); and what is right (GKE's class annotation, a
ServiceMonitor) must pass them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

import tests.deploy.test_etl_lifecycle as lifecycle
import tests.deploy.test_fleet_exposure as exposure
import tests.deploy.test_fleet_rollouts as rollouts
import tests.deploy.test_fleet_semantics as semantics
import tests.deploy.test_render_validate as schema
from tests.deploy.manifests import Rendered

Obj = dict[str, Any]
Check = Callable[[Rendered], object]


def _find(objects: list[Obj], kind: str) -> Obj:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == "rodata"]
    return found


def _pod(objects: list[Obj]) -> Obj:
    return _find(objects, "Deployment")["spec"]["template"]["spec"]


def _container(objects: list[Obj]) -> Obj:
    return _pod(objects)["containers"][0]


def _set_env(objects: list[Obj], name: str, value: str) -> None:
    env = _container(objects)["env"]
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]


def _burstable_init_container(objects: list[Obj]) -> None:
    container = copy.deepcopy(_container(objects))
    container.update(name="warm", resources={"requests": {"cpu": "100m", "memory": "64Mi"},
                                             "limits": {"cpu": "1", "memory": "1024Mi"}})
    for probe in ("startupProbe", "readinessProbe", "livenessProbe", "lifecycle", "ports"):
        container.pop(probe, None)
    _pod(objects)["initContainers"] = [container]


def _sticky_ingress(objects: list[Obj]) -> None:
    annotations = _find(objects, "Ingress")["metadata"].setdefault("annotations", {})
    annotations["nginx.ingress.kubernetes.io/upstream-hash-by"] = "$remote_addr"


def _sticky_backend(objects: list[Obj]) -> None:
    _find(objects, "BackendConfig")["spec"]["sessionAffinity"] = {"affinityType": "CLIENT_IP"}


def _one_second_liveness(objects: list[Obj]) -> None:
    _container(objects)["livenessProbe"].update(periodSeconds=1, timeoutSeconds=1, failureThreshold=1)


def _no_hpa_behaviour(objects: list[Obj]) -> None:
    del _find(objects, "HorizontalPodAutoscaler")["spec"]["behavior"]


def _no_zone_spread(objects: list[Obj]) -> None:
    pod = _pod(objects)
    pod["topologySpreadConstraints"] = [c for c in pod["topologySpreadConstraints"]
                                        if c["topologyKey"] != "topology.kubernetes.io/zone"]


def _daily_poll(objects: list[Obj]) -> None:
    _set_env(objects, "RODATA_POLL_INTERVAL", "86400")


def _verification_off(objects: list[Obj]) -> None:
    _set_env(objects, "RODATA_VERIFY", "off")


def _full_verification_on_a_recorded_budget(objects: list[Obj]) -> None:
    _set_env(objects, "RODATA_VERIFY", "full")


def _percentage_surge(objects: list[Obj]) -> None:
    _find(objects, "Deployment")["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "25%"


def _surge_beyond_the_filer(objects: list[Obj]) -> None:
    _find(objects, "Deployment")["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 50


def _default_progress_deadline(objects: list[Obj]) -> None:
    _set_env(objects, "RODATA_VERIFY", "full")
    _container(objects)["startupProbe"]["failureThreshold"] = 180
    del _find(objects, "Deployment")["spec"]["progressDeadlineSeconds"]


def _class_name_only(objects: list[Obj]) -> None:
    ingress = _find(objects, "Ingress")
    del ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"]
    ingress["spec"]["ingressClassName"] = "gce"


def _short_keep_alive(objects: list[Obj]) -> None:
    _set_env(objects, "RODATA_KEEP_ALIVE_TIMEOUT", "5")


def _everything_public(objects: list[Obj]) -> None:
    for rule in _find(objects, "Ingress")["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            path["path"] = "/"


def _tag_only(objects: list[Obj]) -> None:
    container = _container(objects)
    container["image"] = container["image"].partition("@")[0]


def _build_pod(objects: list[Obj]) -> Obj:
    (cron,) = [o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == "rodata-build-daily"]
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _spill_on_the_share(objects: list[Obj]) -> None:
    for entry in _build_pod(objects)["containers"][0]["env"]:
        if entry["name"] == "RODATA_SPILL_DIR":
            entry["value"] = "/srv/rodata/spill"


def _default_build_grace(objects: list[Obj]) -> None:
    del _build_pod(objects)["terminationGracePeriodSeconds"]


#: mutation -> (what it does to the rendered prod objects, the suite's checks that must reject it)
MUTATIONS: dict[str, tuple[Callable[[list[Obj]], None], list[Check]]] = {
    "init container with requests != limits": (
        _burstable_init_container, [semantics.test_every_container_of_every_pod_is_guaranteed]),
    "hashing ingress annotation": (
        _sticky_ingress, [semantics.test_ingress_routes_to_the_service_with_a_class_a_host_and_no_stickiness]),
    "client-IP affinity on the backend": (
        _sticky_backend, [exposure.test_gce_service_is_a_neg_backend_with_its_backend_config]),
    "1 s liveness probe": (_one_second_liveness, [rollouts.test_liveness_tolerates_the_per_request_time_bound]),
    "HPA behaviour removed": (_no_hpa_behaviour, [rollouts.test_autoscaler_behaviour_scales_up_fast_and_down_slowly]),
    "zone spread dropped": (_no_zone_spread, [semantics.test_pods_spread_across_nodes_and_zones]),
    "a poll interval of a day": (_daily_poll, [rollouts.test_a_publish_is_seen_within_seconds]),
    "verification off": (_verification_off, [rollouts.test_startup_budget_follows_the_verification_mode]),
    "full verification on recorded mode's budget": (
        _full_verification_on_a_recorded_budget, [rollouts.test_startup_budget_follows_the_verification_mode]),
    "maxSurge 25%": (_percentage_surge, [rollouts.test_max_surge_is_absolute_and_sized_by_the_filer]),
    "maxSurge beyond the filer": (
        _surge_beyond_the_filer, [rollouts.test_max_surge_is_absolute_and_sized_by_the_filer]),
    "default progress deadline": (
        _default_progress_deadline, [rollouts.test_progress_deadline_outlasts_the_startup_budget]),
    "ingressClassName without the annotation": (
        _class_name_only, [exposure.test_gce_ingress_uses_the_annotation_gke_reads]),
    "uvicorn's 5 s keep-alive": (
        _short_keep_alive, [exposure.test_keep_alive_outlasts_the_load_balancers_idle_timeout]),
    "the Ingress routes /": (_everything_public, [exposure.test_ingress_exposes_the_api_only]),
    "the build spills to the share": (_spill_on_the_share, [lifecycle.test_the_build_spills_to_a_local_empty_dir]),
    "the build's default 30 s grace": (_default_build_grace, [lifecycle.test_a_stopped_build_has_time_to_clean_up]),
}


def mutated(prod: Rendered, mutate: Callable[[list[Obj]], None]) -> Rendered:
    """The prod overlay with `mutate` applied, as the suite would render it."""
    objects = copy.deepcopy(prod.objects)
    mutate(objects)
    return Rendered(prod.name, yaml.safe_dump_all(objects))


def rejects(check: Check, rendered: Rendered) -> bool:
    try:
        check(rendered)
    except (AssertionError, pytest.fail.Exception):
        return True
    return False


@pytest.fixture
def prod(rendered_overlays: dict[str, Rendered]) -> Rendered:
    return rendered_overlays["prod"]


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_suite_rejects(prod: Rendered, mutation: str) -> None:
    mutate, checks = MUTATIONS[mutation]
    for check in checks:
        assert not rejects(check, prod), f"{check.__name__} fails on prod as rendered"
        assert rejects(check, mutated(prod, mutate)), f"{check.__name__} lets '{mutation}' pass"


def _verify_during_the_build(objects: list[Obj]) -> None:
    (cron,) = [o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == "rodata-verify-daily"]
    cron["spec"]["schedule"] = "0 3 * * *"


def _verify_beside_the_build(objects: list[Obj]) -> None:
    (cron,) = [o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == "rodata-verify-daily"]
    del cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["affinity"]


def test_the_suite_rejects_verification_off_an_unpinned_image_and_a_verify_job_out_of_place(
    rendered_overlays: dict[str, Rendered], prod: Rendered,
) -> None:
    verify_job = lifecycle.test_prod_verifies_each_published_version_on_a_node_of_its_own
    for mutate, check in ((_verification_off, rollouts.test_prod_overlays_verify_once_and_require_every_dataset),
                          (_tag_only, exposure.test_prod_pins_every_image_by_digest),
                          (_verify_during_the_build, verify_job), (_verify_beside_the_build, verify_job)):
        check(rendered_overlays)
        with pytest.raises(AssertionError):
            check({**rendered_overlays, "prod": mutated(prod, mutate)})


def test_the_gke_annotation_and_a_service_monitor_pass(rendered_overlays: dict[str, Rendered]) -> None:
    # What the schema test used to refuse: a custom resource, and the class by annotation only.
    dev = rendered_overlays["dev"]
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
               "metadata": {"name": "rodata", "namespace": dev.one("Namespace")["metadata"]["name"]},
               "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "rodata"}},
                        "endpoints": [{"port": "http", "path": "/metrics"}]}}

    def gke_class(objects: list[Obj]) -> None:
        ingress = _find(objects, "Ingress")
        del ingress["spec"]["ingressClassName"]
        ingress["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "gce"}
        objects.append(monitor)

    changed = mutated(dev, gke_class)
    for version in schema.KUBERNETES_VERSIONS:
        schema.test_every_object_validates_strictly(changed, version)
    semantics.test_ingress_routes_to_the_service_with_a_class_a_host_and_no_stickiness(changed)
    exposure.test_ingress_exposes_the_api_only(changed)
