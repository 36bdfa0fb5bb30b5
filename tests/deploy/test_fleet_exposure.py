"""How the fleet meets its load balancer and its nodes: GKE's ingress class annotation, container-native
load balancing (NEG) with a BackendConfig, keep-alive longer than the balancer's idle timeout, only
/v1/ exposed, a serving node pool, a PriorityClass, and the image pinned by digest in prod."""

from __future__ import annotations

import json
import re

from tests.deploy.fleet import LB_IDLE_TIMEOUT_S, ingress_class, server_settings
from tests.deploy.manifests import REPO, Rendered, container_port, env_of, pod_templates

PROD_OVERLAYS = ("prod", "prod-large")
#: Routes that must never be public: metrics, API docs, and the probes (whose errors name data paths).
PRIVATE_ROUTES = ("/metrics", "/docs", "/openapi.json", "/healthz", "/livez")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def test_gce_ingress_uses_the_annotation_gke_reads(overlay: Rendered) -> None:
    # GKE's controller ignores spec.ingressClassName: with it alone no load balancer is created.
    ingress = overlay.one("Ingress")
    if ingress_class(overlay) == "gce":
        annotations = ingress["metadata"].get("annotations") or {}
        assert annotations.get("kubernetes.io/ingress.class") == "gce"
        assert "ingressClassName" not in ingress["spec"]
    assert ingress_class(overlay) in LB_IDLE_TIMEOUT_S


def test_gce_service_is_a_neg_backend_with_its_backend_config(overlay: Rendered) -> None:
    if ingress_class(overlay) != "gce":
        return
    service = overlay.one("Service")
    annotations = service["metadata"]["annotations"]
    assert json.loads(annotations["cloud.google.com/neg"]) == {"ingress": True}
    name = json.loads(annotations["cloud.google.com/backend-config"])["default"]
    spec = overlay.one("BackendConfig", name)["spec"]
    container = overlay.server_container
    check = spec["healthCheck"]
    assert check["requestPath"] == "/healthz"
    assert check["type"] == "HTTP"
    assert check["port"] == container_port(container, "http"), "with NEGs the check goes to the pod's port"
    # Draining ends while the pod still serves: the preStop pause plus the server's own drain.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env_of(container)["RODATA_DRAIN_SECONDS"])
    assert 0 < spec["connectionDraining"]["drainingTimeoutSec"] <= pause + drain
    assert spec.get("sessionAffinity", {}).get("affinityType", "NONE") == "NONE"


def test_keep_alive_outlasts_the_load_balancers_idle_timeout(overlay: Rendered) -> None:
    # Else the balancer reuses a connection the server is closing: sporadic 502s.
    assert server_settings(overlay).keep_alive_timeout > LB_IDLE_TIMEOUT_S[ingress_class(overlay)]


def test_ingress_exposes_the_api_only(overlay: Rendered) -> None:
    paths = [p for rule in overlay.one("Ingress")["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths
    for path in paths:
        assert path["pathType"] == "Prefix"
        assert path["path"] == "/v1/", path["path"]
    for route in PRIVATE_ROUTES:
        assert not any(route.startswith(p["path"]) for p in paths), route


def test_prod_pins_every_image_by_digest(rendered_overlays: dict[str, Rendered]) -> None:
    for name in PROD_OVERLAYS:
        templates = list(pod_templates(rendered_overlays[name]))
        assert len(templates) >= 3, "server, build and verify"
        for description, template in templates:
            for container in template["spec"]["containers"] + template["spec"].get("initContainers", []):
                assert DIGEST.search(container["image"]), (name, description, container["image"])


# --- placement (finding 7) --------------------------------------------------------------------------


def test_prod_serves_from_a_node_pool_of_its_own(rendered_overlays: dict[str, Rendered]) -> None:
    # The static CPU manager is set per node pool: the serving pods go to that pool, and only they
    # tolerate its taint.
    for name in PROD_OVERLAYS:
        rendered = rendered_overlays[name]
        pod = rendered.server["spec"]["template"]["spec"]
        assert pod["nodeSelector"], name
        taints = [t for t in pod["tolerations"] if t.get("effect") == "NoSchedule" and t.get("key")]
        assert taints, name
        for description, template in pod_templates(rendered):
            if template is rendered.server["spec"]["template"]:
                continue
            keys = {t.get("key") for t in template["spec"].get("tolerations", [])}
            assert not keys & {t["key"] for t in taints}, (name, description)


def test_server_pods_have_a_priority_class_that_exists(overlay: Rendered) -> None:
    pod = overlay.server["spec"]["template"]["spec"]
    priority = overlay.one("PriorityClass", pod["priorityClassName"])
    assert priority["value"] > 0
    assert priority.get("globalDefault", False) is False
    for description, template in pod_templates(overlay):
        other = template["spec"].get("priorityClassName")
        if other and template is not overlay.server["spec"]["template"]:
            assert overlay.one("PriorityClass", other)["value"] < priority["value"], description


def test_cpu_pinning_advice_fits_one_cpu_pods() -> None:
    # full-pcpus-only makes a pod asking for one CPU fail admission (SMTAlignmentError) on a node with
    # two hyper-threads per core: the docs may name it only to warn against it.
    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "cpuManagerPolicy: static" in text
    for paragraph in text.split("\n\n"):
        if "full-pcpus-only" in paragraph:
            assert "SMTAlignmentError" in paragraph and re.search(r"\b(not|never)\b", paragraph), paragraph
