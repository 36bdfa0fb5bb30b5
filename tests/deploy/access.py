"""Checkers of the access-control part of a rendered overlay: the tokens file mounted from its Secret, the
NetworkPolicy in front of the server pods, and the absence of any token or digest in the manifests.

Each checker returns the problems it finds (an empty list when there is none), so that a test can assert
both that the shipped overlays pass and that a mutated copy of them fails."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.manifests import container_port, env_of, selects

__all__ = [
    "GCE_FRONT_ENDS",
    "SCRAPER",
    "TOKENS_ENV",
    "TOKENS_KEY",
    "TOKENS_SECRET",
    "network_problems",
    "secret_literal_problems",
    "server_of",
    "text_secret_problems",
    "tokens_mount_problems",
]

Obj = dict[str, Any]

#: The Secret that holds the tokens file, its key, and the variable that tells the server where it is.
TOKENS_SECRET = "rodata-tokens"
TOKENS_KEY = "tokens.json"
TOKENS_ENV = "RODATA_TOKENS_FILE"

#: The peers the prod overlays admit, as docs/security.md lists them: the GCE load balancer's front ends
#: and health checkers (the ingress class of both overlays), and the Prometheus pods of `monitoring`.
GCE_FRONT_ENDS: list[Obj] = [{"ipBlock": {"cidr": "130.211.0.0/22"}}, {"ipBlock": {"cidr": "35.191.0.0/16"}}]
SCRAPER: Obj = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}

#: The narrowest prefix an ipBlock peer may have (a /16 is the widest range a load balancer needs).
NARROWEST_PREFIX = 16

#: A SHA-256 digest in hex; an OCI digest (`sha256:<hex>`, as an image pinned by digest has it) is an
#: image's, not a token's.
_DIGEST = re.compile(r"(?<![0-9a-fA-F])(?<!sha256:)[0-9a-fA-F]{64}(?![0-9a-fA-F])")
#: What `secrets.token_urlsafe(24 or more)` or a hex/base64 API key looks like: a long run of
#: URL-safe characters mixing upper case, lower case and digits.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-]{32,}")
#: `Bearer <credential>` with a credential written out (not a placeholder such as <token> or $TOKEN).
_BEARER = re.compile(r"\bbearer\s+[A-Za-z0-9._~+/\-]{20,}", re.IGNORECASE)
_SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|API_?KEY", re.IGNORECASE)


def server_of(objects: list[Obj]) -> Obj:
    """The one Deployment (the server fleet) among `objects`."""
    found = [o for o in objects if o["kind"] == "Deployment"]
    assert len(found) == 1, f"expected one Deployment, found {len(found)}"
    return found[0]


def _server_container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"the server pod has {len(containers)} containers"
    return containers[0]


# --- the tokens file --------------------------------------------------------------------------------


def tokens_mount_problems(objects: list[Obj]) -> list[str]:
    """What is wrong with how the server pods get their tokens file (nothing when it is right): the file
    named by RODATA_TOKENS_FILE must be the `tokens.json` key of the Secret `rodata-tokens`, mounted
    read-only as a directory (a subPath mount never sees a rotation), the Secret not optional."""
    deployment = server_of(objects)
    pod = deployment["spec"]["template"]["spec"]
    container = _server_container(deployment)
    problems: list[str] = []
    declared = [e for e in container.get("env", []) if e["name"] == TOKENS_ENV]
    if len(declared) != 1 or "value" not in declared[0]:
        return [f"{TOKENS_ENV} is not set once, as a literal path: {declared}"]
    path = posixpath.normpath(declared[0]["value"])
    volumes = [v for v in pod.get("volumes", []) if (v.get("secret") or {}).get("secretName") == TOKENS_SECRET]
    if len(volumes) != 1:
        return [f"{len(volumes)} volumes of the Secret {TOKENS_SECRET} (expected one)"]
    volume = volumes[0]
    secret = volume["secret"]
    if secret.get("optional"):
        problems.append(f"the Secret {TOKENS_SECRET} is optional: a pod would start without its tokens")
    items = secret.get("items")
    files = {item["key"]: item["path"] for item in items} if items else {TOKENS_KEY: TOKENS_KEY}
    if TOKENS_KEY not in files:
        problems.append(f"the volume {volume['name']} leaves the key {TOKENS_KEY} out: {items}")
    mounts = [m for m in container.get("volumeMounts", []) if m["name"] == volume["name"]]
    if len(mounts) != 1:
        return [*problems, f"the volume {volume['name']} is mounted {len(mounts)} times (expected once)"]
    mount = mounts[0]
    if mount.get("subPath") or mount.get("subPathExpr"):
        problems.append(f"the tokens volume is mounted through subPath ({mount}): a rotation never reaches it")
    if mount.get("readOnly") is not True:
        problems.append("the tokens volume is not mounted read-only")
    if TOKENS_KEY in files:
        expected = posixpath.normpath(posixpath.join(mount["mountPath"], files[TOKENS_KEY]))
        if path != expected:
            problems.append(f"{TOKENS_ENV}={path} is not the mounted key {TOKENS_KEY} ({expected})")
    return problems


# --- the NetworkPolicy ------------------------------------------------------------------------------


def _selects_pods(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a policy's podSelector selects `labels`: an empty selector selects every pod."""
    if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
        return True
    return selects(selector, labels)


def _peer_problems(peer: Obj) -> list[str]:
    """What makes one `from` peer wider than a named set of sources."""
    if not peer:
        return ["an empty peer (every source)"]
    problems = []
    if "ipBlock" in peer:
        network = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
        if network.prefixlen < NARROWEST_PREFIX:
            problems.append(f"ipBlock {network} is wider than a /{NARROWEST_PREFIX}")
    if "namespaceSelector" in peer and not _names_something(peer["namespaceSelector"]):
        problems.append(f"namespaceSelector {{}} selects every namespace: {peer}")
    if "podSelector" in peer and not _names_something(peer["podSelector"]):
        problems.append(f"podSelector {{}} selects every pod: {peer}")
    return problems


def _names_something(selector: Obj | None) -> bool:
    return bool(selector and (selector.get("matchLabels") or selector.get("matchExpressions")))


def _ingress_policies(objects: list[Obj], labels: dict[str, str]) -> Iterator[Obj]:
    """The NetworkPolicies that restrict ingress to pods with `labels` (policies add up: any one of them
    that admits a source lets it in)."""
    for obj in objects:
        if obj["kind"] != "NetworkPolicy":
            continue
        spec = obj["spec"]
        # Ingress is always among the default policy types.
        if "Ingress" in spec.get("policyTypes", ["Ingress"]) and _selects_pods(spec.get("podSelector"), labels):
            yield obj


def network_problems(objects: list[Obj], allowed_peers: list[Obj]) -> list[str]:
    """What is wrong with the ingress the policies give the server pods (nothing when it is right): they
    must admit exactly `allowed_peers`, each one on the HTTP port only, and nothing else."""
    deployment = server_of(objects)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = _server_container(deployment)
    http = int(env_of(container)["RODATA_PORT"])
    policies = list(_ingress_policies(objects, labels))
    if not policies:
        return ["no NetworkPolicy restricts ingress to the server pods: every source reaches them"]
    problems: list[str] = []
    admitted: list[Obj] = []
    for policy in policies:
        name = policy["metadata"]["name"]
        for index, rule in enumerate(policy["spec"].get("ingress") or []):
            where = f"NetworkPolicy/{name} ingress[{index}]"
            ports = rule.get("ports")
            if not ports:
                problems.append(f"{where} admits every port")
            for port in ports or []:
                if port.get("protocol", "TCP") != "TCP" or "endPort" in port or "port" not in port:
                    problems.append(f"{where} admits {port}")
                elif _port_number(container, port["port"]) != http:
                    problems.append(f"{where} admits port {port['port']}, not the HTTP port {http}")
            peers = rule.get("from")
            if not peers:
                problems.append(f"{where} admits every source (no `from`)")
                continue
            for peer in peers:
                problems += [f"{where}: {p}" for p in _peer_problems(peer)]
                if peer not in allowed_peers:
                    problems.append(f"{where} admits a peer that is not allowed: {peer}")
                admitted.append(peer)
    problems += [f"the allowed peer {peer} is not admitted" for peer in allowed_peers if peer not in admitted]
    return problems


def _port_number(container: Obj, port: str | int) -> int | None:
    try:
        return container_port(container, port)
    except AssertionError:
        return None


# --- no token or digest in the manifests ------------------------------------------------------------


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, text) of every key and string in a parsed manifest."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", str(key)
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, str):
        yield where, value


def text_secret_problems(text: str, where: str) -> list[str]:
    """The token-like strings, SHA-256 digests and bearer credentials found in `text`."""
    problems = [f"{where}: a SHA-256 digest {m.group(0)[:8]}..." for m in _DIGEST.finditer(text)]
    for match in _TOKEN_RUN.finditer(text):
        run = match.group(0)
        if re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and re.search(r"[0-9]", run):
            problems.append(f"{where}: a token-like string {run[:6]}...")
    problems += [f"{where}: a bearer credential" for _ in _BEARER.finditer(text)]
    return problems


def secret_literal_problems(objects: list[Obj]) -> list[str]:
    """Tokens or digests committed in manifests: in any string of any object, in a Secret's data (the
    tokens Secret is made out of band, never rendered), or as a literal secret-named variable."""
    problems: list[str] = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        for where, text in _strings(obj, name):
            problems += text_secret_problems(text, where)
        if obj["kind"] == "Secret" and (obj.get("data") or obj.get("stringData")):
            problems.append(f"{name} carries data in the manifests")
        for where, env in _env_lists(obj, name):
            for variable in env:
                if _SECRET_NAMES.search(variable["name"]) and "value" in variable and not (
                        variable["value"].startswith("/")):
                    problems.append(f"{where}: {variable['name']} is a literal secret")
    return problems


def _env_lists(value: Any, where: str) -> Iterator[tuple[str, list[Obj]]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "env" and isinstance(item, list):
                yield f"{where}.env", item
            else:
                yield from _env_lists(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _env_lists(item, f"{where}[{index}]")
