"""Rendering the Kustomize overlays with the real ``kubectl kustomize`` and reading what comes out."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEPLOY",
    "OVERLAYS",
    "REPO",
    "Rendered",
    "container_port",
    "env_of",
    "etl_containers",
    "etl_templates",
    "job_templates",
    "kubectl",
    "parse_quantity",
    "pod_templates",
    "render",
    "selects",
    "verify_templates",
]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = DEPLOY / "kustomize" / "overlays"

Obj = dict[str, Any]


def kubectl() -> str:
    """The kubectl binary; its absence is a failure of the test environment, not a reason to skip."""
    path = shutil.which("kubectl")
    if path is None:
        raise RuntimeError("kubectl is not on PATH: the deploy tests render with `kubectl kustomize`")
    return path


def render(directory: Path) -> str:
    """`kubectl kustomize DIRECTORY` as text (a failure to render raises, with kubectl's message)."""
    command = [kubectl(), "kustomize", str(directory)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return done.stdout


class Rendered:
    """The objects of one rendered overlay."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.objects: list[Obj] = [doc for doc in yaml.safe_load_all(text) if doc]

    def of_kind(self, kind: str) -> list[Obj]:
        """Every object of `kind`."""
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Obj:
        """The one object of `kind` (and `name`, when given)."""
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def get(self, kind: str, name: str) -> Obj | None:
        """The object of `kind` called `name`, or None."""
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found[0] if found else None

    @property
    def server(self) -> Obj:
        """The API fleet's Deployment."""
        return self.one("Deployment")

    @property
    def server_container(self) -> Obj:
        """The one container of the server pods."""
        containers = self.server["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1, f"{self.name}: the server pod has {len(containers)} containers"
        return containers[0]


def pod_templates(rendered: Rendered) -> Iterator[tuple[str, Obj]]:
    """(description, pod template) of every workload: Deployments, Jobs and CronJobs."""
    for obj in rendered.objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{name}", obj["spec"]["template"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", obj["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            yield f"{kind}/{name}", obj


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and/or matchExpressions, or a plain map) selects `labels`."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return False  # an empty selector is never what these manifests mean
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


_SUFFIX = {
    "m": Fraction(1, 1000), "": Fraction(1), "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9),
    "T": Fraction(10**12), "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30),
    "Ti": Fraction(2**40), "Pi": Fraction(2**50),
}


def parse_quantity(value: str | int | float) -> Fraction:
    """A Kubernetes resource quantity ("1", "500m", "1024Mi", "1Gi", 2) as an exact number."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError(f"not a quantity: {value!r}")
    return Fraction(match.group(1)) * _SUFFIX[match.group(2)]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    """The container's literal environment variables."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def container_port(container: dict[str, Any], port: str | int) -> int:
    """The number of a port given by name or number; it must be one the container declares."""
    for declared in container.get("ports", []):
        if port in (declared.get("name"), declared["containerPort"]):
            return int(declared["containerPort"])
    raise AssertionError(f"port {port!r} is not declared by container {container['name']}")



def job_templates(overlay: Rendered, component: str) -> list[tuple[str, dict[str, Any]]]:
    """(description, pod template) of the Jobs and CronJobs whose pods are of `component`."""
    found = [(f"Job/{j['metadata']['name']}", j["spec"]["template"]) for j in overlay.of_kind("Job")]
    found += [(f"CronJob/{c['metadata']['name']}", c["spec"]["jobTemplate"]["spec"]["template"])
              for c in overlay.of_kind("CronJob")]
    return [(d, t) for d, t in found if t["metadata"]["labels"].get("app.kubernetes.io/component") == component]


def etl_templates(overlay: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """(description, pod template) of the ETL Job and CronJob (the builds)."""
    return job_templates(overlay, "etl")


def verify_templates(overlay: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """(description, pod template) of the verifying Jobs (`rodata verify --deep --record`)."""
    return job_templates(overlay, "verify")


def etl_containers(overlay: Rendered) -> list[dict[str, Any]]:
    """The containers of the ETL workloads."""
    return [c for _, t in etl_templates(overlay) for c in t["spec"]["containers"]]
