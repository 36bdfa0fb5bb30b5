"""docs/deploy.md stays true to the manifests: its YAML is valid, its one-off admin pod is a valid,
restricted Pod on the writer claim running a real `rodata` command, and its tables and paths name what
the overlays render."""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rodata.cli import build_parser
from tests.deploy.crds import crd_problems, is_allowed_crd
from tests.deploy.manifests import REPO, Rendered, env_of
from tests.deploy.test_etl_storage_security import check_restricted_container

DOCS = REPO / "docs" / "deploy.md"


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS.read_text(encoding="utf-8")


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)


def admin_pod(text: str) -> dict[str, Any]:
    """The Pod that the documented `kubectl run ... --overrides='...'` creates."""
    overrides = re.search(r"--overrides='(\{.*?\})'", text, re.DOTALL)
    assert overrides, "docs/deploy.md lost its one-off admin pod"
    spec = json.loads(overrides.group(1))["spec"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rodata-admin"}, "spec": spec}


def test_yaml_examples_are_valid_objects(docs: str) -> None:
    objects = [o for block in yaml_blocks(docs) for o in yaml.safe_load_all(block) if o]
    assert len(objects) >= 2
    for obj in objects:
        if is_allowed_crd(obj):  # kinds from API extensions, which the built-in schemas do not know
            assert crd_problems(obj) == []
            continue
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        if obj["kind"] == "PersistentVolumeClaim":
            assert obj["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_admin_pod_is_valid_and_restricted(docs: str) -> None:
    pod = admin_pod(docs)
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    for container in pod["spec"]["containers"]:
        check_restricted_container("docs admin pod", pod["spec"], container)


def test_admin_pod_runs_rollback_on_the_writer_claim(docs: str, rendered_overlays: dict[str, Rendered]) -> None:
    prod = rendered_overlays["prod"]
    pod = admin_pod(docs)["spec"]
    (container,) = pod["containers"]
    # The release's tag, or the tag pinned by its digest as prod runs it.
    assert container["image"] in (prod.server_container["image"], prod.server_container["image"].partition("@")[0])
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
              if "persistentVolumeClaim" in v}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] in claims]
    writer = prod.one("PersistentVolumeClaim", claims[mount["name"]])
    assert writer["spec"]["accessModes"] == ["ReadWriteMany"]
    server_mount = next(m for m in prod.server_container["volumeMounts"] if m["name"] == "data")
    assert mount["mountPath"] == server_mount["mountPath"]
    command = container["command"]
    assert command[:2] == ["rodata", "rollback"]
    args = build_parser().parse_args(command[1:])
    assert args.func is not None
    assert args.data_root == env_of(prod.server_container)["RODATA_DATA_ROOT"]


def test_overlay_table_matches_the_rendered_overlays(docs: str, rendered_overlays: dict[str, Rendered]) -> None:
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in docs.splitlines() if line.startswith("| ")}
    names = rows[""]
    assert names == ["dev", "prod", "prod-large"]
    (replicas_row,) = [key for key in rows if key.startswith("replicas (HPA, CPU ")]
    target = int(replicas_row.removeprefix("replicas (HPA, CPU ").removesuffix("%)"))
    for name, namespace, replicas in zip(names, rows["namespace"], rows[replicas_row], strict=True):
        rendered = rendered_overlays[name]
        assert namespace == f"`{rendered.one('Namespace')['metadata']['name']}`"
        hpa = rendered.one("HorizontalPodAutoscaler")["spec"]
        cpu = next(m["resource"] for m in hpa["metrics"] if m["type"] == "Resource")
        assert cpu["target"]["averageUtilization"] == target
        assert replicas == f"{hpa['minReplicas']}\u2013{hpa['maxReplicas']}"  # an en dash


def test_documented_claim_patch_targets_the_data_volume(docs: str, rendered_overlays: dict[str, Rendered]) -> None:
    match = re.search(r'"path": "/spec/template/spec/volumes/(\d+)/persistentVolumeClaim/claimName"', docs)
    assert match
    volume = rendered_overlays["prod"].server["spec"]["template"]["spec"]["volumes"][int(match.group(1))]
    assert volume["persistentVolumeClaim"]["claimName"] == "rodata-data"
