"""Fixtures of the deployment tests: every overlay rendered once per session with `kubectl kustomize`."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import OVERLAYS, Rendered, render

#: The overlays the deployment ships; the tests fail if one goes missing or an unknown one appears.
EXPECTED_OVERLAYS = ("dev", "prod", "prod-large")


def overlay_names() -> list[str]:
    """Names of the overlay folders present in the repository."""
    return sorted(p.parent.name for p in OVERLAYS.glob("*/kustomization.yaml"))


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, Rendered]:
    """name -> rendered overlay, for every overlay."""
    return {name: Rendered(name, render(OVERLAYS / name)) for name in overlay_names()}


@pytest.fixture(params=EXPECTED_OVERLAYS)
def overlay(request: pytest.FixtureRequest, rendered_overlays: dict[str, Rendered]) -> Rendered:
    """Each overlay in turn."""
    name = request.param
    assert name in rendered_overlays, f"overlay {name} is missing from {OVERLAYS}"
    return rendered_overlays[name]
