"""Every overlay renders with `kubectl kustomize`, and every object in it validates strictly (unknown
fields rejected) against the Kubernetes API schemas of the oldest supported and the newest release."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.deploy.conftest import EXPECTED_OVERLAYS, overlay_names
from tests.deploy.crds import crd_problems, is_allowed_crd
from tests.deploy.manifests import Rendered

#: The oldest Kubernetes release the manifests support (docs/deploy.md says so), and the newest one the
#: installed schemas know.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())

#: Kinds that have no namespace.
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "PriorityClass"}


def validation_errors(obj: dict, version: str) -> list[str]:
    """What kubernetes-validate --strict says is wrong with `obj` (nothing when it is valid); a custom
    resource of an allowed kind (tests/deploy/crds.py) is checked by its own rules instead."""
    if is_allowed_crd(obj):
        return crd_problems(obj)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{obj['kind']}/{obj['metadata']['name']}: {obj['apiVersion']} is not served by {version}"]
    return []


def test_the_expected_overlays_exist() -> None:
    assert overlay_names() == sorted(EXPECTED_OVERLAYS)


def test_overlay_renders_the_whole_deployment(overlay: Rendered) -> None:
    kinds = {o["kind"] for o in overlay.objects}
    assert {"Namespace", "ServiceAccount", "Deployment", "Service", "Ingress", "PodDisruptionBudget",
            "HorizontalPodAutoscaler", "PersistentVolumeClaim", "PersistentVolume", "NetworkPolicy"} <= kinds
    assert kinds & {"Job", "CronJob"}, "no ETL workload in the overlay"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(overlay: Rendered, version: str) -> None:
    errors = [e for obj in overlay.objects for e in validation_errors(obj, version)]
    assert errors == []


def test_strict_validation_rejects_a_misspelt_field(overlay: Rendered) -> None:
    # The check above must be able to fail: a probe field in the wrong case is an unknown property.
    deployment = copy.deepcopy(overlay.server)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    assert validation_errors(deployment, KUBERNETES_VERSIONS[-1])


def test_objects_live_in_the_overlay_namespace(overlay: Rendered) -> None:
    namespace = overlay.one("Namespace")["metadata"]["name"]
    for obj in overlay.objects:
        expected = None if obj["kind"] in CLUSTER_SCOPED else namespace
        assert obj["metadata"].get("namespace") == expected, f"{obj['kind']}/{obj['metadata']['name']}"


def test_overlay_leaves_no_placeholder(overlay: Rendered) -> None:
    # The base marks what each overlay must set with "set-by-overlay".
    assert "set-by-overlay" not in overlay.text


def test_an_unknown_custom_resource_still_fails(overlay: Rendered) -> None:
    # The allow-list names kinds, it does not open the door to any CRD: an unlisted one is refused,
    # and a listed one without the fields its controller needs too.
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validation_errors(unknown, KUBERNETES_VERSIONS[-1])
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"},
               "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    assert validation_errors(monitor, KUBERNETES_VERSIONS[-1])
    monitor["spec"]["endpoints"] = [{"port": "http"}]
    assert validation_errors(monitor, KUBERNETES_VERSIONS[-1]) == []
