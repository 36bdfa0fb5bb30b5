"""The ETL on the cluster, the storage both sides mount, and the restricted security posture of every
pod, per overlay."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from rodata.cli import build_parser
from tests.deploy.dockerfile import substitute
from tests.deploy.manifests import (
    DEPLOY,
    Rendered,
    env_of,
    etl_containers,
    etl_templates,
    parse_quantity,
    pod_templates,
)

#: Volume types the Pod Security Standards' restricted profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
}


def data_volume(template: dict[str, Any], container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, mount) of the data claim in a pod template."""
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            return volume, mount
    raise AssertionError(f"container {container['name']} mounts no claim")


def backend_of(pv: dict[str, Any]) -> tuple[str, ...]:
    """What storage a PersistentVolume points at (two volumes with one backend share their files)."""
    spec = pv["spec"]
    if "nfs" in spec:
        return ("nfs", spec["nfs"]["server"], spec["nfs"]["path"].rstrip("/"))
    if "hostPath" in spec:
        return ("hostPath", spec["hostPath"]["path"].rstrip("/"))
    if "csi" in spec:
        return ("csi", spec["csi"]["driver"], spec["csi"]["volumeHandle"])
    raise AssertionError(f"PersistentVolume {pv['metadata']['name']}: unknown volume source")


# --- storage ----------------------------------------------------------------------------------------


def test_fleet_mounts_a_read_only_many_claim_read_only(overlay: Rendered) -> None:
    volume, mount = data_volume(overlay.server["spec"]["template"], overlay.server_container)
    assert volume["persistentVolumeClaim"]["readOnly"] is True
    assert mount["readOnly"] is True
    claim = overlay.one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_every_claim_binds_a_volume_of_its_class_and_modes(overlay: Rendered) -> None:
    for claim in overlay.of_kind("PersistentVolumeClaim"):
        pv = overlay.one("PersistentVolume", claim["spec"]["volumeName"])
        assert pv["spec"]["storageClassName"] == claim["spec"]["storageClassName"]
        assert set(claim["spec"]["accessModes"]) <= set(pv["spec"]["accessModes"])
        assert parse_quantity(pv["spec"]["capacity"]["storage"]) >= parse_quantity(
            claim["spec"]["resources"]["requests"]["storage"])
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain", "deleting a claim must keep the data"


def test_etl_writes_the_storage_the_fleet_reads(overlay: Rendered) -> None:
    server_volume, server_mount = data_volume(overlay.server["spec"]["template"], overlay.server_container)
    server_pv = overlay.one("PersistentVolume", overlay.one(
        "PersistentVolumeClaim", server_volume["persistentVolumeClaim"]["claimName"])["spec"]["volumeName"])
    for description, template in etl_templates(overlay):
        for container in template["spec"]["containers"]:
            volume, mount = data_volume(template, container)
            assert not volume["persistentVolumeClaim"].get("readOnly", False), description
            assert not mount.get("readOnly", False), description
            claim = overlay.one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
            assert claim["spec"]["accessModes"] == ["ReadWriteMany"], description
            pv = overlay.one("PersistentVolume", claim["spec"]["volumeName"])
            assert backend_of(pv) == backend_of(server_pv), description
            assert mount["mountPath"] == server_mount["mountPath"], description
            data_root = env_of(overlay.server_container)["RODATA_DATA_ROOT"]
            assert env_of(container)["RODATA_DATA_ROOT"] == data_root, description


def test_read_only_volume_is_mounted_read_only_by_the_node_too(overlay: Rendered) -> None:
    for pv in overlay.of_kind("PersistentVolume"):
        if pv["spec"]["accessModes"] == ["ReadOnlyMany"] and "nfs" in pv["spec"]:
            assert pv["spec"]["nfs"].get("readOnly") is True
            assert "ro" in pv["spec"].get("mountOptions", [])


# --- the ETL ----------------------------------------------------------------------------------------


def test_dev_has_a_build_job_and_prod_a_daily_cronjob(rendered_overlays: dict[str, Rendered]) -> None:
    assert [j["metadata"]["name"] for j in rendered_overlays["dev"].of_kind("Job")] == ["rodata-build"]
    for name in ("prod", "prod-large"):
        crons = [c for c in rendered_overlays[name].of_kind("CronJob")
                 if c["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"][
                     "app.kubernetes.io/component"] == "etl"]
        assert len(crons) == 1, name
        fields = crons[0]["spec"]["schedule"].split()
        assert fields[0].isdigit()
        assert fields[1].isdigit()
        assert fields[2:] == ["*", "*", "*"], "once a day"
        assert crons[0]["spec"]["concurrencyPolicy"] == "Forbid"
        assert rendered_overlays[name].of_kind("Job") == []


def test_etl_runs_rodata_build_on_several_whole_cores(overlay: Rendered) -> None:
    containers = etl_containers(overlay)
    assert containers
    for container in containers:
        command = " ".join(container.get("command", []) + container.get("args", []))
        assert "rodata build" in command
        assert '--data-root "$RODATA_DATA_ROOT"' in command
        assert "--workers" not in command, "the build uses every CPU of its cgroup quota"
        resources = container["resources"]
        assert resources["requests"] == resources["limits"]
        cores = parse_quantity(resources["limits"]["cpu"])
        assert cores >= 2
        assert cores.denominator == 1, "whole cores"


def etl_argv(container: dict[str, Any]) -> list[str]:
    """The `rodata ...` command line the ETL container's shell runs, its variables expanded."""
    command = container["command"] + container["args"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert len(command) == 3
    script = command[2]
    assert script.startswith("exec "), "the shell hands the process over to rodata"
    return shlex.split(substitute(script.removeprefix("exec "), env_of(container)))


def test_etl_command_is_a_valid_rodata_build(overlay: Rendered) -> None:
    # Parsed by the real command-line parser, as the container would run it.
    for container in etl_containers(overlay):
        argv = etl_argv(container)
        assert argv[:2] == ["rodata", "build"]
        args = build_parser().parse_args(argv[1:])
        env = env_of(container)
        assert args.data_root == env["RODATA_DATA_ROOT"]
        assert args.workers is None
        assert (args.dataset, args.key, args.keep_versions) == (
            env["BUILD_DATASET"], env["BUILD_KEY"], int(env["BUILD_KEEP_VERSIONS"]))


def test_etl_inputs_lie_on_the_share_outside_the_data_root(overlay: Rendered) -> None:
    for container in etl_containers(overlay):
        env = env_of(container)
        mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
        inputs = env["BUILD_INPUTS"]
        assert inputs.startswith(mount.rstrip("/") + "/")
        assert not inputs.startswith(env["RODATA_DATA_ROOT"].rstrip("/") + "/")
        assert int(env["BUILD_KEEP_VERSIONS"]) >= 2, "rollback needs an older version kept"


def test_job_and_cronjob_share_one_pod_template() -> None:
    job = yaml.safe_load((DEPLOY / "kustomize" / "etl" / "job" / "job.yaml").read_text())
    cron = yaml.safe_load((DEPLOY / "kustomize" / "etl" / "cronjob" / "cronjob.yaml").read_text())
    assert job["spec"] == cron["spec"]["jobTemplate"]["spec"]


def test_failed_builds_stop_and_never_restart_in_place(overlay: Rendered) -> None:
    specs = [j["spec"] for j in overlay.of_kind("Job")]
    specs += [c["spec"]["jobTemplate"]["spec"] for c in overlay.of_kind("CronJob")]
    for spec in specs:
        assert spec["backoffLimit"] <= 3
        assert spec["activeDeadlineSeconds"] > 0
        assert spec["template"]["spec"]["restartPolicy"] == "Never"


# --- security ---------------------------------------------------------------------------------------


def test_every_pod_meets_the_restricted_profile(overlay: Rendered) -> None:
    templates = list(pod_templates(overlay))
    assert len(templates) >= 2
    for description, template in templates:
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, description
        assert pod["securityContext"].get("runAsUser", 1) != 0, description
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host_namespace), description
        assert pod["automountServiceAccountToken"] is False, description
        overlay.one("ServiceAccount", pod["serviceAccountName"])
        for volume in pod["volumes"]:
            assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES, (description, volume)
        for container in pod["containers"] + pod.get("initContainers", []):
            check_restricted_container(description, pod, container)


def check_restricted_container(description: str, pod: dict[str, Any], container: dict[str, Any]) -> None:
    """The restricted profile's container rules, plus a read-only root with /tmp on an emptyDir."""
    context = container["securityContext"]
    where = f"{description} container {container['name']}"
    assert context["allowPrivilegeEscalation"] is False, where
    assert context.get("privileged", False) is False, where
    assert context["capabilities"]["drop"] == ["ALL"], where
    assert not context["capabilities"].get("add"), where
    assert context["readOnlyRootFilesystem"] is True, where
    assert context.get("runAsUser", 1) != 0, where
    seccomp = context.get("seccompProfile") or pod["securityContext"].get("seccompProfile")
    assert seccomp == {"type": "RuntimeDefault"}, where
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1, where
    assert "emptyDir" in volumes[tmp[0]["name"]], where


def test_namespace_enforces_the_restricted_profile(overlay: Rendered) -> None:
    labels = overlay.one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_network_policies_close_everything_but_the_http_port(overlay: Rendered) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in overlay.of_kind("NetworkPolicy")}
    server = policies[overlay.server["metadata"]["name"]]
    assert set(server["policyTypes"]) == {"Ingress", "Egress"}
    assert server["egress"] == []
    assert [rule["ports"] for rule in server["ingress"]] == [[{"port": "http", "protocol": "TCP"}]]
    etl = [p for name, p in policies.items() if p["podSelector"]["matchLabels"].get(
        "app.kubernetes.io/component") == "etl"]
    assert len(etl) == 1
    assert etl[0]["ingress"] == []


@pytest.mark.parametrize("path", sorted((DEPLOY / "kustomize").rglob("*.yaml")), ids=lambda p: str(
    Path(p).relative_to(DEPLOY)))
def test_manifest_files_are_plain_yaml(path: Path) -> None:
    # Every file parses on its own (a tab or a bad indent fails here with the file's name).
    assert [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
