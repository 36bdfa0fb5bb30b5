"""The tokens runbook of docs/security.md, played end to end against a real `rodata serve`: tokens made by
the documented command, the Secret made by the documented `kubectl create secret` (client-side dry run),
laid out as the kubelet lays out the prod overlay's Secret volume, and read by a server started with the
prod container's environment.  Each rotation step swaps the volume's `..data` link as the kubelet does,
and the server follows without a restart."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import rodata
from tests.deploy.access import TOKENS_ENV, TOKENS_SECRET
from tests.deploy.manifests import Rendered, env_of, kubectl
from tests.deploy.test_security_docs import SECURITY, blocks
from tests.server.httpkit import Server


class SecretVolume:
    """A Secret volume as the kubelet writes it: each projected file a link through `..data`, which
    names a timestamped directory and is replaced by a rename when the Secret changes."""

    def __init__(self, mount: Path, volume: dict[str, Any]) -> None:
        self.mount = mount
        self.secret = volume["secret"]
        self.generation = 0
        mount.mkdir(parents=True)

    def project(self, secret: dict[str, Any]) -> None:
        """Write `secret`'s data as the volume's items say, then swap `..data` to it."""
        assert secret["metadata"]["name"] == self.secret["secretName"]
        data = {key: base64.b64decode(value) for key, value in secret["data"].items()}
        items = self.secret.get("items") or [{"key": key, "path": key} for key in data]
        self.generation += 1
        version = self.mount / f"..2026_01_01_00_00_0{self.generation}.{self.generation}"
        version.mkdir()
        for item in items:
            path = version / item["path"]
            path.write_bytes(data[item["key"]])  # a missing key fails here, as the kubelet refuses it
            path.chmod(item.get("mode", self.secret.get("defaultMode", 0o644)))
        old = os.readlink(self.mount / "..data") if (self.mount / "..data").is_symlink() else None
        (self.mount / "..data_tmp").symlink_to(version.name)
        os.rename(self.mount / "..data_tmp", self.mount / "..data")
        for item in items:
            link = self.mount / item["path"]
            if not link.is_symlink():
                link.symlink_to(f"..data/{item['path']}")
        if old is not None:
            for path in (self.mount / old).iterdir():
                path.unlink()
            (self.mount / old).rmdir()


@pytest.fixture(scope="module")
def docs() -> str:
    return SECURITY.read_text(encoding="utf-8")


def make_token(docs: str) -> tuple[str, str]:
    """(token, digest) made by the documented commands."""
    (block,) = [b for b in blocks(docs, "sh") if "token_urlsafe" in b]
    done = subprocess.run(["bash", "-eu", "-c", f'{block}\nprintf "%s\\n" "$TOKEN"'],
                          capture_output=True, text=True, timeout=60, check=True)
    digest, token = done.stdout.split()
    return token, digest


def kubectl_secret(docs: str, which: str, cwd: Path) -> dict[str, Any]:
    """The Secret the documented command (`create`: the first one, `replace`: the rotation's) makes,
    run as a client-side dry run in `cwd` (where ./tokens.json is)."""
    commands = re.findall(r"(kubectl -n \S+ create secret generic \S+ --from-file=\S+)(.*?)\n(?!\s*--)", docs,
                          re.DOTALL)
    chosen = next(c for c, rest in commands if ("replace" in rest) == (which == "replace"))
    argv = chosen.split()
    done = subprocess.run([kubectl(), *argv[1:], "--dry-run=client", "-o", "yaml"], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    secret: dict[str, Any] = yaml.safe_load(done.stdout)
    return secret


def tokens_file(docs: str, digests: dict[str, str]) -> dict[str, Any]:
    """The documented tokens.json, each placeholder digest replaced by the digest of that entry's token."""
    (block,) = blocks(docs, "json")
    doc: dict[str, Any] = json.loads(block)
    for entry in doc["tokens"]:
        entry["sha256"] = digests[entry["name"]]
    return doc


def status(server: Server, path: str, token: str | None) -> int:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return server.client.request("GET", path, None, headers).status


def test_the_documented_runbook_rotates_a_token_without_a_restart(
    docs: str, tmp_path: Path, rendered_overlays: dict[str, Rendered],
) -> None:
    prod = rendered_overlays["prod"]
    container = prod.server_container
    volume = next(v for v in prod.server["spec"]["template"]["spec"]["volumes"]
                  if (v.get("secret") or {}).get("secretName") == TOKENS_SECRET)
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    env = env_of(container)
    # The container's paths, moved under tmp_path (the pod's root is not ours).
    root = tmp_path / "root"
    tokens_path = root / Path(env[TOKENS_ENV]).relative_to("/")
    secret_volume = SecretVolume(root / Path(mount["mountPath"]).relative_to("/"), volume)
    data_root = root / Path(env["RODATA_DATA_ROOT"]).relative_to("/")
    rodata.write(data_root, "users", {"id": np.arange(10, dtype=np.int64), "n": np.arange(10, dtype=np.int32)},
                 key="id")

    old, old_digest = make_token(docs)
    new, new_digest = make_token(docs)
    scraper, scraper_digest = make_token(docs)
    work = tmp_path / "work"
    work.mkdir()
    first = tokens_file(docs, {"recommender": old_digest, "prometheus": scraper_digest})
    (work / "tokens.json").write_text(json.dumps(first))
    secret_volume.project(kubectl_secret(docs, "create", work))

    server_env = {**env, TOKENS_ENV: str(tokens_path), "RODATA_DATA_ROOT": str(data_root),
                  "RODATA_HOST": "127.0.0.1"}
    server = Server(data_root, tmp_path / "server.log", env=server_env)
    try:
        server.wait_ready()
        assert status(server, "/livez", None) == 200
        assert status(server, "/healthz", None) == 200, "the probes need no token"
        assert status(server, "/v1/datasets/users", None) == 401
        assert status(server, "/v1/datasets/users", old) == 200
        assert status(server, "/v1/datasets/users", new) == 401
        assert status(server, "/metrics", scraper) == 200
        assert status(server, "/v1/datasets/users", scraper) == 403, "the scraper's token reads no dataset"
        assert status(server, "/metrics", old) == 403

        # Step 1: the new token beside the old one; the Secret replaced.
        second = json.loads(json.dumps(first))
        recommender = next(e for e in second["tokens"] if e["name"] == "recommender")
        second["tokens"].append({**recommender, "name": "recommender-2", "sha256": new_digest})
        (work / "tokens.json").write_text(json.dumps(second))
        secret_volume.project(kubectl_secret(docs, "replace", work))
        server.wait_until(lambda: status(server, "/v1/datasets/users", new) == 200, "the new token to read")
        assert status(server, "/v1/datasets/users", old) == 200, "both tokens read while the clients roll"

        # Step 3: the old entry removed; the Secret replaced again.
        second["tokens"].remove(recommender)
        (work / "tokens.json").write_text(json.dumps(second))
        secret_volume.project(kubectl_secret(docs, "replace", work))
        server.wait_until(lambda: status(server, "/v1/datasets/users", old) == 401, "the old token to be refused")
        assert status(server, "/v1/datasets/users", new) == 200
        assert status(server, "/metrics", scraper) == 200
        assert server.proc.poll() is None
        events = [line.get("event") for line in server.logs()]
        assert events.count("listening") == 1, "one process from start to end: no restart"
        assert events.count("tokens_reloaded") == 2
    finally:
        server.stop()
    log = server.log_path.read_text()
    for token in (old, new, scraper):
        assert token not in log
