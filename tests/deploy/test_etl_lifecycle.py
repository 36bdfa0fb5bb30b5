"""The data lifecycle on the cluster: a build has time to clean up when it is stopped, spills to the node's
local disk rather than the share, and one build runs at a time; in the prod overlays a verifying Job on a
node of its own records a second verdict on what the build published, after the build is over."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from rodata.cli import build_parser
from tests.deploy.manifests import Rendered, env_of, etl_templates, parse_quantity, verify_templates

PROD_OVERLAYS = ("prod", "prod-large")
#: How long a stopped build may take to remove its staging directory and spills (many files on NFS).
CLEANUP_S = 120


def mount_of(template: dict[str, Any], container: dict[str, Any], path: str) -> tuple[dict, dict] | None:
    """(volume, mount) under which `path` lies in the container, the deepest mount first."""
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = sorted(container["volumeMounts"], key=lambda m: -len(m["mountPath"]))
    for mount in mounts:
        if PurePosixPath(path).is_relative_to(mount["mountPath"]):
            return volumes[mount["name"]], mount
    return None


def test_a_stopped_build_has_time_to_clean_up(overlay: Rendered) -> None:
    for description, template in etl_templates(overlay):
        assert template["spec"].get("terminationGracePeriodSeconds", 30) >= CLEANUP_S, description  # 30: the default


def test_the_build_spills_to_a_local_empty_dir(overlay: Rendered) -> None:
    for description, template in etl_templates(overlay):
        for container in template["spec"]["containers"]:
            spill = env_of(container)["RODATA_SPILL_DIR"]
            found = mount_of(template, container, spill)
            assert found, (description, spill)
            volume, mount = found
            assert "emptyDir" in volume, (description, "the spill must not go to the share")
            assert mount["mountPath"] != "/tmp", "spills get a volume of their own, sized for them"
            assert parse_quantity(volume["emptyDir"]["sizeLimit"]) >= 10 * 2**30, description


def test_prod_verifies_each_published_version_on_a_node_of_its_own(rendered_overlays: dict[str, Rendered]) -> None:
    for name in PROD_OVERLAYS:
        rendered = rendered_overlays[name]
        build = rendered.one("CronJob", "rodata-build-daily")
        datasets = {env_of(c)["BUILD_DATASET"] for _, t in etl_templates(rendered) for c in t["spec"]["containers"]}
        verifies = verify_templates(rendered)
        assert verifies, name
        verified = set()
        for description, template in verifies:
            (container,) = template["spec"]["containers"]
            argv = container["command"] + container.get("args", [])
            assert argv[:2] == ["rodata", "verify"], description
            args = build_parser().parse_args(argv[1:])
            assert args.deep and args.record, description
            assert args.data_root == env_of(rendered.server_container)["RODATA_DATA_ROOT"], description
            verified.add(args.target)
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], description
            check_own_node(description, template)
        assert datasets <= verified, (name, datasets, verified)
        check_runs_after_the_build(name, build, [c for c in rendered.of_kind("CronJob")
                                                 if c is not build])


def check_own_node(description: str, template: dict[str, Any]) -> None:
    """The pod may not share a node with a build or a serving pod (a second machine's verdict)."""
    anti = (template["spec"].get("affinity") or {}).get("podAntiAffinity") or {}
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    avoided: set[str] = set()
    for term in terms:
        assert term["topologyKey"] == "kubernetes.io/hostname", description
        for expr in term["labelSelector"].get("matchExpressions", []):
            if expr["key"] == "app.kubernetes.io/component" and expr["operator"] == "In":
                avoided |= set(expr["values"])
        component = term["labelSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        if component:
            avoided.add(component)
    assert {"etl", "server"} <= avoided, (description, avoided)


def minutes_of_day(schedule: str) -> int:
    minute, hour, *rest = schedule.split()
    assert rest == ["*", "*", "*"], schedule
    return int(hour) * 60 + int(minute)


def check_runs_after_the_build(name: str, build: dict[str, Any], verifies: list[dict[str, Any]]) -> None:
    """Each verifying CronJob starts once the build's latest possible end has passed: its schedule, plus
    its starting deadline, plus its active deadline."""
    spec = build["spec"]
    latest_end = (minutes_of_day(spec["schedule"]) * 60 + spec["startingDeadlineSeconds"]
                  + spec["jobTemplate"]["spec"]["activeDeadlineSeconds"])
    assert latest_end < 24 * 3600, "the build must end within its day"
    assert verifies, name
    for cron in verifies:
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        start = minutes_of_day(cron["spec"]["schedule"]) * 60
        assert latest_end <= start, (name, start, latest_end)
