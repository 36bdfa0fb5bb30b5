"""The probes and ports of the manifests exist in the real application: its own route table, and the
address `rodata serve` derives from the container's environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from rodata.cli import build_parser
from rodata.server.app import create_app
from tests.deploy.manifests import Rendered, container_port, env_of


@pytest.fixture(scope="module")
def get_routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Paths the application answers with GET."""
    app = create_app(tmp_path_factory.mktemp("data"))
    return {route.path for route in app.routes if isinstance(route, APIRoute) and "GET" in route.methods}


def test_probe_paths_are_routes_of_the_app(overlay: Rendered, get_routes: set[str]) -> None:
    container = overlay.server_container
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in get_routes, probe


def test_metrics_annotation_names_a_route_of_the_app(overlay: Rendered, get_routes: set[str]) -> None:
    annotations = overlay.server["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in get_routes


def test_ingress_paths_reach_the_api_and_nothing_else(overlay: Rendered, get_routes: set[str]) -> None:
    # The probes, /metrics and the API docs stay inside the cluster (/healthz's errors name data paths).
    paths = [p for rule in overlay.one("Ingress")["spec"]["rules"] for p in rule["http"]["paths"]]
    for route in get_routes:
        exposed = any(p["pathType"] == "Prefix" and route.startswith(p["path"]) for p in paths)
        assert exposed == route.startswith("/v1/"), route
    assert "/v1/datasets" in get_routes
    assert {"/healthz", "/livez", "/metrics"} <= get_routes


def test_serve_listens_where_the_probes_look(overlay: Rendered, monkeypatch: pytest.MonkeyPatch) -> None:
    # `rodata serve` with no flags, in the container's environment, as the image's entry point runs it.
    container = overlay.server_container
    for name, value in env_of(container).items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["serve"])
    assert args.host == "0.0.0.0"
    assert Path(args.data_root) == Path(env_of(container)["RODATA_DATA_ROOT"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container_port(container, container[probe]["httpGet"]["port"]) == args.port, probe
    assert args.workers in (None, 1)
