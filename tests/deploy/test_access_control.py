"""Access control in the prod overlays: the tokens file mounted from the Secret `rodata-tokens` so that a
rotation reaches the server, a NetworkPolicy that admits only the ingress controller and the metrics
scraper, and no token or digest anywhere in the manifests.  Each checker is shown to reject a mutation of
the rendered overlay that breaks what it checks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.access import (
    GCE_FRONT_ENDS,
    SCRAPER,
    TOKENS_ENV,
    TOKENS_SECRET,
    network_problems,
    secret_literal_problems,
    server_of,
    text_secret_problems,
    tokens_mount_problems,
)
from tests.deploy.fleet import ingress_class
from tests.deploy.manifests import DEPLOY, Rendered, container_port, env_of

PROD_OVERLAYS = ("prod", "prod-large")

ALLOWED_PEERS = [*GCE_FRONT_ENDS, SCRAPER]

#: What a token made as docs/security.md says looks like (made up for the negative controls).
FAKE_TOKEN = "q3Zk8wP1nR5tY7uI9oA2sD4fG6hJ8kL0zX1cV3bN5mQ"
FAKE_DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

Objects = list[dict[str, Any]]


@pytest.fixture(params=PROD_OVERLAYS)
def prod(request: pytest.FixtureRequest, rendered_overlays: dict[str, Rendered]) -> Rendered:
    """Each prod overlay in turn."""
    return rendered_overlays[request.param]


# --- the shipped overlays pass ----------------------------------------------------------------------


def test_prod_mounts_the_tokens_secret_as_a_read_only_directory(prod: Rendered) -> None:
    assert tokens_mount_problems(prod.objects) == []
    env = env_of(prod.server_container)
    mount = next(m for m in prod.server_container["volumeMounts"] if m["name"] == "tokens")
    assert env[TOKENS_ENV].startswith(mount["mountPath"].rstrip("/") + "/")
    assert "subPath" not in mount


def test_the_tokens_secret_is_made_out_of_band(rendered_overlays: dict[str, Rendered]) -> None:
    # No overlay renders the Secret (nor any Secret): it is created with kubectl, never committed.
    for rendered in rendered_overlays.values():
        assert rendered.of_kind("Secret") == [], rendered.name


def test_prod_network_policy_admits_only_the_ingress_controller_and_the_scraper(prod: Rendered) -> None:
    assert network_problems(prod.objects, ALLOWED_PEERS) == []


def test_ingress_peers_are_those_of_the_ingress_class(prod: Rendered) -> None:
    # The GCE front-end ranges are right only for the GCE class (with a ClusterIP Service, container-native
    # load balancing reaches the pods from them); another class needs its controller's pods instead.
    assert ingress_class(prod) == "gce"
    assert prod.one("Service")["spec"]["type"] == "ClusterIP"
    peers = prod.one("NetworkPolicy", "rodata")["spec"]["ingress"][0]["from"]
    assert [p for p in peers if "ipBlock" in p] == GCE_FRONT_ENDS


def test_the_scraper_may_reach_the_port_the_annotations_name(prod: Rendered) -> None:
    annotations = prod.server["spec"]["template"]["metadata"]["annotations"]
    scraped = int(annotations["prometheus.io/port"])
    (rule,) = [r for r in prod.one("NetworkPolicy", "rodata")["spec"]["ingress"] if SCRAPER in r["from"]]
    assert [container_port(prod.server_container, p["port"]) for p in rule["ports"]] == [scraped]


def test_the_etl_gets_no_tokens(prod: Rendered) -> None:
    # Only the server reads the tokens: the ETL pods neither mount the Secret nor see the variable.
    for obj in prod.objects:
        if obj["kind"] in ("Job", "CronJob"):
            text = str(obj)
            assert TOKENS_SECRET not in text
            assert TOKENS_ENV not in text


def test_no_token_or_digest_in_any_rendered_manifest(overlay: Rendered) -> None:
    assert secret_literal_problems(overlay.objects) == []


def test_no_token_or_digest_in_any_file_under_deploy() -> None:
    files = [p for p in sorted(DEPLOY.rglob("*")) if p.is_file()]
    assert any(p.name == "tokens.yaml" for p in files)
    problems = [problem for p in files for problem in text_secret_problems(
        p.read_text(encoding="utf-8"), str(p.relative_to(DEPLOY)))]
    assert problems == []


# --- negative controls: each mutation of a rendered prod overlay is rejected ------------------------


def _pod(objects: Objects) -> dict[str, Any]:
    return server_of(objects)["spec"]["template"]["spec"]


def _tokens_mount(objects: Objects) -> dict[str, Any]:
    return next(m for m in _pod(objects)["containers"][0]["volumeMounts"] if m["name"] == "tokens")


def _tokens_volume(objects: Objects) -> dict[str, Any]:
    return next(v for v in _pod(objects)["volumes"] if v["name"] == "tokens")


def _mount_by_subpath(objects: Objects) -> None:
    mount = _tokens_mount(objects)
    mount["mountPath"] += "/tokens.json"
    mount["subPath"] = "tokens.json"
    env = next(e for e in _pod(objects)["containers"][0]["env"] if e["name"] == TOKENS_ENV)
    env["value"] = mount["mountPath"]


def _mount_writable(objects: Objects) -> None:
    _tokens_mount(objects)["readOnly"] = False


def _point_elsewhere(objects: Objects) -> None:
    env = next(e for e in _pod(objects)["containers"][0]["env"] if e["name"] == TOKENS_ENV)
    env["value"] = "/tmp/tokens.json"


def _drop_the_variable(objects: Objects) -> None:
    container = _pod(objects)["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != TOKENS_ENV]


def _make_optional(objects: Objects) -> None:
    _tokens_volume(objects)["secret"]["optional"] = True


def _other_secret(objects: Objects) -> None:
    _tokens_volume(objects)["secret"]["secretName"] = "rodata-tls"


#: mutation -> (what it does, what the checker must say about it).
Mutation = tuple[Callable[[Objects], None], str]

TOKENS_MUTATIONS: dict[str, Mutation] = {
    "subPath mount": (_mount_by_subpath, "through subPath"),
    "writable mount": (_mount_writable, "not mounted read-only"),
    "variable points elsewhere": (_point_elsewhere, "is not the mounted key"),
    "no variable": (_drop_the_variable, f"{TOKENS_ENV} is not set"),
    "optional Secret": (_make_optional, "is optional"),
    "another Secret": (_other_secret, f"0 volumes of the Secret {TOKENS_SECRET}"),
}


@pytest.mark.parametrize("mutation", TOKENS_MUTATIONS, ids=str)
def test_tokens_checker_rejects(prod: Rendered, mutation: str) -> None:
    objects = copy.deepcopy(prod.objects)
    mutate, expected = TOKENS_MUTATIONS[mutation]
    mutate(objects)
    problems = tokens_mount_problems(objects)
    assert any(expected in problem for problem in problems), problems


def _policy(objects: Objects) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "rodata")


def _allow_all(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"] = [{}]


def _from_anywhere(objects: Objects) -> None:
    del _policy(objects)["spec"]["ingress"][0]["from"]


def _empty_peer(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"][0]["from"].append({})


def _every_namespace(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})


def _the_internet(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"][0]["from"].append({"ipBlock": {"cidr": "0.0.0.0/0"}})


def _a_neighbour(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "notebook"}}})


def _every_port(objects: Objects) -> None:
    del _policy(objects)["spec"]["ingress"][0]["ports"]


def _another_port(objects: Objects) -> None:
    _policy(objects)["spec"]["ingress"][0]["ports"].append({"port": 22, "protocol": "TCP"})


def _second_policy_allows_all(objects: Objects) -> None:
    namespace = _policy(objects)["metadata"]["namespace"]
    objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "allow-all", "namespace": namespace},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}})


def _no_policy(objects: Objects) -> None:
    objects.remove(_policy(objects))


def _scraper_left_out(objects: Objects) -> None:
    rule = _policy(objects)["spec"]["ingress"][0]
    rule["from"] = [p for p in rule["from"] if p != SCRAPER]


NETWORK_MUTATIONS: dict[str, Mutation] = {
    "allow all": (_allow_all, "admits every source"),
    "no from": (_from_anywhere, "admits every source"),
    "empty peer": (_empty_peer, "an empty peer"),
    "every namespace": (_every_namespace, "selects every namespace"),
    "0.0.0.0/0": (_the_internet, "0.0.0.0/0 is wider than"),
    "a neighbour pod": (_a_neighbour, "a peer that is not allowed"),
    "every port": (_every_port, "admits every port"),
    "another port": (_another_port, "admits port 22"),
    "a second policy allowing all": (_second_policy_allows_all, "NetworkPolicy/allow-all ingress[0] admits every"),
    "no policy": (_no_policy, "no NetworkPolicy restricts ingress"),
    "scraper left out": (_scraper_left_out, "is not admitted"),
}


@pytest.mark.parametrize("mutation", NETWORK_MUTATIONS, ids=str)
def test_network_checker_rejects(prod: Rendered, mutation: str) -> None:
    objects = copy.deepcopy(prod.objects)
    mutate, expected = NETWORK_MUTATIONS[mutation]
    mutate(objects)
    problems = network_problems(objects, ALLOWED_PEERS)
    assert any(expected in problem for problem in problems), problems


def _token_in_env(objects: Objects) -> None:
    _pod(objects)["containers"][0]["env"].append({"name": "RODATA_TOKEN", "value": FAKE_TOKEN})


def _short_token_in_env(objects: Objects) -> None:
    # A literal under a secret-looking name is refused even when it does not look random.
    _pod(objects)["containers"][0]["env"].append({"name": "METRICS_TOKEN", "value": "letmein"})


def _token_in_annotation(objects: Objects) -> None:
    server_of(objects)["spec"]["template"]["metadata"]["annotations"]["rodata/auth"] = FAKE_TOKEN


def _bearer_in_annotation(objects: Objects) -> None:
    # A credential in lower case and digits only (not token-like by its mix of cases): the word gives it away.
    annotations = server_of(objects)["spec"]["template"]["metadata"]["annotations"]
    annotations["rodata/auth"] = "Bearer " + FAKE_DIGEST[:40]


def _tokens_secret_rendered(objects: Objects) -> None:
    namespace = server_of(objects)["metadata"]["namespace"]
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": TOKENS_SECRET,
                    "namespace": namespace}, "type": "Opaque", "stringData": {"tokens.json": (
                        '{"tokens": [{"name": "svc-a", "sha256": "' + FAKE_DIGEST + '", "datasets": ["*"]}]}')}})


def _digest_in_config_map(objects: Objects) -> None:
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rodata-tokens"},
                    "data": {"tokens.json": f'{{"tokens": [{{"sha256": "{FAKE_DIGEST.upper()}"}}]}}'}})


LITERAL_MUTATIONS: dict[str, Mutation] = {
    "token in env": (_token_in_env, "a token-like string"),
    "short token in env": (_short_token_in_env, "METRICS_TOKEN is a literal secret"),
    "token in an annotation": (_token_in_annotation, "a token-like string"),
    "bearer annotation": (_bearer_in_annotation, "a bearer credential"),
    "Secret with the tokens file": (_tokens_secret_rendered, "carries data in the manifests"),
    "digest in a ConfigMap": (_digest_in_config_map, "a SHA-256 digest"),
}


@pytest.mark.parametrize("mutation", LITERAL_MUTATIONS, ids=str)
def test_literal_checker_rejects(prod: Rendered, mutation: str) -> None:
    objects = copy.deepcopy(prod.objects)
    mutate, expected = LITERAL_MUTATIONS[mutation]
    mutate(objects)
    problems = secret_literal_problems(objects)
    assert any(expected in problem for problem in problems), problems


def test_literal_checker_lets_an_image_pinned_by_digest_pass(prod: Rendered) -> None:
    # The release pipeline pins the image by digest (docs/deploy.md): that digest is not a token's.
    objects = copy.deepcopy(prod.objects)
    container = _pod(objects)["containers"][0]
    container["image"] = container["image"].partition("@")[0] + "@sha256:" + FAKE_DIGEST
    assert secret_literal_problems(objects) == []
    # As `kustomize edit set image` writes it into kustomization.yaml; a digest under a key is refused.
    assert text_secret_problems(f"    digest: sha256:{FAKE_DIGEST}", "kustomization.yaml") == []
    assert text_secret_problems(f'{{"sha256": "{FAKE_DIGEST}"}}', "tokens.json")
