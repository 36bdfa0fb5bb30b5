"""docs/security.md stays true to the prod overlays: its commands make a real token and digest and the
Secret the pods mount, its scrape job selects the server pods with a token file, its NetworkPolicy for an
in-cluster ingress controller is valid and admits only that controller and the scraper, and it holds no
token or digest."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.access import (
    GCE_FRONT_ENDS,
    SCRAPER,
    TOKENS_ENV,
    TOKENS_KEY,
    TOKENS_SECRET,
    network_problems,
    text_secret_problems,
)
from tests.deploy.manifests import REPO, Rendered, env_of

SECURITY = REPO / "docs" / "security.md"
#: The in-cluster controller the documented alternative policy admits.
NGINX = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}


@pytest.fixture(scope="module")
def docs() -> str:
    return SECURITY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prod(rendered_overlays: dict[str, Rendered]) -> Rendered:
    return rendered_overlays["prod"]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of `language`, their indentation removed."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^ *```", text, re.DOTALL | re.MULTILINE)
    return ["\n".join(line[len(indent):] for line in body.splitlines()) for indent, body in found]


def pod_meta(labels: dict[str, str], port_name: str) -> dict[str, str]:
    """The meta labels Prometheus' pod discovery gives a target of a pod with `labels` on `port_name`."""
    meta = {"__meta_kubernetes_pod_container_port_name": port_name}
    for key, value in labels.items():
        meta["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return meta


def test_deploy_docs_link_the_security_docs() -> None:
    assert "(security.md)" in (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_no_token_or_digest_in_the_docs(docs: str) -> None:
    assert text_secret_problems(docs, "docs/security.md") == []


def test_documented_commands_make_a_token_and_its_digest(docs: str) -> None:
    # The two commands as a shell runs them: 256 random bits, and the digest the tokens file holds.
    (block,) = [b for b in blocks(docs, "sh") if "token_urlsafe" in b]
    assert shutil.which("python3"), "the documented command runs python3"
    done = subprocess.run(["bash", "-eu", "-c", f'{block}\nprintf "%s\\n" "$TOKEN"'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    digest, token = done.stdout.split()
    assert len(token) >= 43
    assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_documented_tokens_file_has_the_servers_shape(docs: str) -> None:
    (block,) = blocks(docs, "json")
    tokens = json.loads(block)["tokens"]
    assert tokens
    for entry in tokens:
        assert set(entry) == {"name", "sha256", "datasets"}
        assert all(isinstance(pattern, str) for pattern in entry["datasets"])
    assert ["metrics"] in [entry["datasets"] for entry in tokens], "the scraper's token: metrics only"


def test_documented_secret_is_the_one_the_pods_mount(docs: str, prod: Rendered) -> None:
    namespace = prod.one("Namespace")["metadata"]["name"]
    created = re.findall(r"kubectl -n (\S+) create secret generic (\S+) --from-file=([^=\s]+)=", docs)
    assert (namespace, TOKENS_SECRET, TOKENS_KEY) in created
    assert all(c == (namespace, TOKENS_SECRET, TOKENS_KEY) for c in created if c[1] == TOKENS_SECRET)
    path = env_of(prod.server_container)[TOKENS_ENV]
    assert f"`{path}`" in docs
    assert f"`{TOKENS_ENV}`" in docs


def test_documented_scrape_job_scrapes_the_server_pods_with_a_token(docs: str, prod: Rendered) -> None:
    (block,) = [b for b in blocks(docs, "yaml") if "scrape_configs" in b]
    (job,) = yaml.safe_load(block)["scrape_configs"]
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"].startswith("/")
    (discovery,) = job["kubernetes_sd_configs"]
    assert discovery["role"] == "pod"
    assert discovery["namespaces"]["names"] == [prod.one("Namespace")["metadata"]["name"]]
    annotations = prod.server["spec"]["template"]["metadata"]["annotations"]
    assert job["metrics_path"] == annotations["prometheus.io/path"]
    (keep,) = [r for r in job["relabel_configs"] if r["action"] == "keep"]
    port_name = next(p["name"] for p in prod.server_container["ports"]
                     if str(p["containerPort"]) == annotations["prometheus.io/port"])

    def kept(labels: dict[str, str]) -> bool:
        meta = pod_meta(labels, port_name)
        return re.fullmatch(keep["regex"], ";".join(meta.get(s, "") for s in keep["source_labels"])) is not None

    assert kept(prod.server["spec"]["template"]["metadata"]["labels"])
    crons = prod.of_kind("CronJob")
    assert crons
    for cron in crons:  # the build and the verify Job
        assert not kept(cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])


def test_documented_peers_are_the_component_s(docs: str) -> None:
    for peer in GCE_FRONT_ENDS:
        assert f"`{peer['ipBlock']['cidr']}`" in docs
    ((namespace_label, namespace),) = SCRAPER["namespaceSelector"]["matchLabels"].items()
    ((pod_label, pod),) = SCRAPER["podSelector"]["matchLabels"].items()
    assert f"`{namespace_label}: {namespace}`" in docs
    assert f"`{pod_label}: {pod}`" in docs


def test_documented_in_cluster_controller_policy_admits_only_it_and_the_scraper(
    docs: str, prod: Rendered,
) -> None:
    (block,) = [b for b in blocks(docs, "yaml") if "kind: NetworkPolicy" in b]
    patch: dict[str, Any] = yaml.safe_load(block)
    objects = copy.deepcopy(prod.objects)
    policy = next(o for o in objects if o["kind"] == "NetworkPolicy"
                  and o["metadata"]["name"] == patch["metadata"]["name"])
    policy["spec"]["ingress"] = patch["spec"]["ingress"]  # what the patch does: the list is replaced
    kubernetes_validate.validate(policy, kubernetes_validate.latest_version(), strict=True)
    assert network_problems(objects, [NGINX, SCRAPER]) == []
    assert network_problems(objects, [*GCE_FRONT_ENDS, SCRAPER]), "the GCE ranges are no longer admitted"
