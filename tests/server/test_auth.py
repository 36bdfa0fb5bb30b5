"""Access control against a real ``rodata serve --tokens FILE`` on loopback, with the fast path on
(the compiled protocol answers row, lookup and column) and off (FastAPI answers every route):
every route with no, a wrong, an out-of-scope and an in-scope token; the 403 that does not tell
whether a dataset exists; ``/v1/datasets`` per token; the metrics scope; open probes and docs;
the file re-read on change (atomic rename, Kubernetes Secret swap); broken files; no token nor
digest in any log line; the warning of an open server on a non-loopback address."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

import rodata
from rodata.errors import UsageError
from rodata.server.app import create_app
from rodata.server.settings import Settings
from rodata.server.tokens import Gate
from tests.server.httpkit import Response, Server

READER = "rd-reader-" + secrets.token_hex(16)  # flights, users-*
EVERYTHING = "rd-all-" + secrets.token_hex(16)  # "*": every dataset, not metrics
OPS = "rd-ops-" + secrets.token_hex(16)  # metrics only
ROOT_TOKEN = "rd-root-" + secrets.token_hex(16)  # "*" and metrics
NEW = "rd-new-" + secrets.token_hex(16)  # only in the rotated files
TOKENS = {"reader": READER, "all": EVERYTHING, "ops": OPS, "root": ROOT_TOKEN}
SCOPES = {"reader": ["flights", "users-*"], "all": ["*"], "ops": ["metrics"], "root": ["*", "metrics"]}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_doc(**tokens: str) -> dict[str, Any]:
    """The tokens file holding `tokens` (name -> token), each with its name's scope (SCOPES)."""
    return {"tokens": [{"name": name, "sha256": digest(token), "datasets": SCOPES.get(name, ["flights"])}
                       for name, token in tokens.items()]}


def write_atomically(path: Path, text: str) -> None:
    staged = path.with_name(path.name + ".new")
    staged.write_text(text)
    os.replace(staged, path)


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {token}"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("gated")
    for name in ("flights", "private"):
        rodata.write(data, name, {"id": np.arange(20, dtype=np.int64), "n": np.arange(20, dtype=np.int32) * 2},
                     key="id")
    for name in ("users-eu", "users-us"):
        rodata.write(data, name, {"user": [f"u{i}" for i in range(5)], "age": list(range(5))}, key="user")
    return data


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    path.write_text(json.dumps(tokens_doc(**TOKENS)))
    return path


@pytest.fixture(scope="module", params=["fast", "asgi"])
def gated(request: pytest.FixtureRequest, root: Path, tokens_file: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the tokens file, the fast path on or off, the access log on."""
    args = ["--tokens", str(tokens_file), "--access-log"] + (["--no-fast-path"] if request.param == "asgi" else [])
    srv = Server(root, tmp_path_factory.mktemp("log") / "server.log", *args)
    srv.wait_until(lambda: srv.client.get("/healthz").status == 200, "/healthz 200")
    yield srv
    srv.stop()
    assert_no_secret_logged(srv.log_path)


def assert_no_secret_logged(log_path: Path) -> None:
    text = log_path.read_text(encoding="utf-8", errors="replace")
    for token in (*TOKENS.values(), NEW):
        for secret in (token, digest(token), digest(token).upper()):
            assert secret not in text, f"a token or its digest is in {log_path}"


def ask(srv: Server, method: str, path: str, headers: dict[str, str] | None = None,
        body: bytes | None = None) -> Response:
    sent = dict(headers or {})
    if body is not None:
        sent["content-type"] = "application/json"
    return srv.client.request(method, path, body, sent)


NOT_TOKENS = ({}, {"authorization": "Bearer " + secrets.token_hex(20)}, {"authorization": f"Basic {READER}"},
              {"authorization": "Bearer"}, {"authorization": "Bearer "}, {"authorization": f"Bearer{READER}"},
              {"authorization": READER}, {"authorization": f"Bearer {READER[:-1]}"})


def assert_unauthorized(answer: Response) -> None:
    assert answer.status == 401, (answer.status, answer.body)
    assert answer.headers.get("www-authenticate") == "Bearer"
    assert answer.error_code == "unauthorized"


def assert_forbidden(answer: Response) -> None:
    assert answer.status == 403, (answer.status, answer.body)
    assert answer.error_code == "forbidden"


# Each route of the table on a dataset in the reader's scope (flights, users-eu) and the same
# request on one out of it (private, or the metrics the reader may not see).
LOOKUP = json.dumps({"keys": [1, 2, 99]}).encode()
ROUTES = {
    "row": ("GET", "/v1/datasets/flights/rows/3", "/v1/datasets/private/rows/3", None),
    "row-string-key": ("GET", "/v1/datasets/users-eu/rows/u1", "/v1/datasets/private/rows/1", None),
    "lookup": ("POST", "/v1/datasets/flights/lookup", "/v1/datasets/private/lookup", LOOKUP),
    "column": ("GET", "/v1/datasets/flights/columns/n?limit=4", "/v1/datasets/private/columns/n?limit=4", None),
    "scan": ("GET", "/v1/datasets/flights/scan?limit=3", "/v1/datasets/private/scan?limit=3", None),
    "dataset": ("GET", "/v1/datasets/flights", "/v1/datasets/private", None),
    "head-row": ("HEAD", "/v1/datasets/flights/rows/3", "/v1/datasets/private/rows/3", None),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_dataset_route_by_token(gated: Server, route: str) -> None:
    method, inside, outside, body = ROUTES[route]
    for path in (inside, outside):
        for headers in NOT_TOKENS:  # no token, an unknown one, or not a bearer token
            answer = ask(gated, method, path, headers, body)
            if method == "HEAD":
                assert answer.status == 401 and answer.headers.get("www-authenticate") == "Bearer"
                assert answer.body == b""
            else:
                assert_unauthorized(answer)
    for token in (READER, OPS):
        answer = ask(gated, method, outside, bearer(token), body)
        if method == "HEAD":
            assert answer.status == 403 and answer.body == b""
        else:
            assert_forbidden(answer)
    for headers in (bearer(READER), bearer(READER, "bearer"), bearer(READER, "BEARER"), bearer(EVERYTHING),
                    bearer(ROOT_TOKEN)):
        answer = ask(gated, method, inside, headers, body)
        assert answer.status == 200, (headers, answer.status, answer.body)
        if method == "GET" and "columns" not in inside:
            assert answer.json()
    assert ask(gated, method, outside, bearer(EVERYTHING), body).status == 200
    # In scope, a missing key is the route's own 404 (the gate let it through).
    if route == "row":
        assert ask(gated, "GET", "/v1/datasets/flights/rows/999", bearer(READER)).error_code == "key_not_found"


DATASET_ROUTES = {
    "row": ("GET", "/v1/datasets/{}/rows/1", None),
    "lookup": ("POST", "/v1/datasets/{}/lookup", LOOKUP),
    "column": ("GET", "/v1/datasets/{}/columns/n", None),
    "scan": ("GET", "/v1/datasets/{}/scan", None),
    "dataset": ("GET", "/v1/datasets/{}", None),
    "below-a-dataset": ("GET", "/v1/datasets/{}/rows/1/more", None),
}


@pytest.mark.parametrize("route", sorted(DATASET_ROUTES))
def test_403_does_not_tell_whether_the_dataset_exists(gated: Server, route: str) -> None:
    method, pattern, body = DATASET_ROUTES[route]
    answers = [ask(gated, method, pattern.format(name), bearer(READER), body)
               for name in ("private", "no-such-dataset", "users")]
    for answer in answers:
        assert_forbidden(answer)
    assert len({(a.status, a.body, a.headers.get("content-type"), a.headers.get("content-length"))
                for a in answers}) == 1
    # A token that may read everything is told which of them exist.
    assert ask(gated, method, pattern.format("no-such-dataset"), bearer(EVERYTHING), body).status == 404


def test_other_paths_need_a_valid_token(gated: Server) -> None:
    assert_unauthorized(ask(gated, "GET", "/v1/nothing-here"))
    assert_unauthorized(ask(gated, "DELETE", "/v1/datasets/flights"))
    assert ask(gated, "GET", "/v1/nothing-here", bearer(READER)).status == 404
    assert ask(gated, "DELETE", "/v1/datasets/flights", bearer(READER)).status == 405


def test_the_datasets_list_holds_what_the_token_may_read(gated: Server) -> None:
    assert_unauthorized(ask(gated, "GET", "/v1/datasets"))
    assert_unauthorized(ask(gated, "GET", "/v1/datasets", bearer(NEW)))

    def names(token: str, scheme: str = "Bearer") -> list[str]:
        answer = ask(gated, "GET", "/v1/datasets", bearer(token, scheme))
        assert answer.status == 200, answer.body
        return [d["name"] for d in answer.json()["datasets"]]

    assert names(READER) == names(READER, "bearer") == ["flights", "users-eu", "users-us"]
    assert names(EVERYTHING) == names(ROOT_TOKEN) == ["flights", "private", "users-eu", "users-us"]
    assert names(OPS) == []
    # The scope is the request's own: a listing for one token right after another's is its own.
    assert names(READER) == ["flights", "users-eu", "users-us"]


def test_metrics_need_the_metrics_scope(gated: Server) -> None:
    assert_unauthorized(ask(gated, "GET", "/metrics"))
    assert_unauthorized(ask(gated, "GET", "/metrics", bearer(NEW)))
    assert_forbidden(ask(gated, "GET", "/metrics", bearer(READER)))
    assert_forbidden(ask(gated, "GET", "/metrics", bearer(EVERYTHING)))  # "*" is every dataset, not metrics
    assert_forbidden(ask(gated, "GET", "/%6Detrics", bearer(READER)))  # however the path is spelt
    assert_unauthorized(ask(gated, "GET", "/v1/datasets/flights"))
    assert_forbidden(ask(gated, "GET", "/v1/datasets/private", bearer(READER)))
    for token in (OPS, ROOT_TOKEN):
        answer = ask(gated, "GET", "/metrics", bearer(token))
        assert answer.status == 200 and b"rodata_requests_total" in answer.body
    # Refusals are counted under their route, like any other answer.
    text = ask(gated, "GET", "/metrics", bearer(OPS)).body.decode()
    assert 'rodata_requests_total{route="dataset",status="401"}' in text
    assert 'rodata_requests_total{route="dataset",status="403"}' in text
    assert 'rodata_requests_total{route="metrics",status="403"}' in text


def test_probes_and_docs_are_open(gated: Server) -> None:
    for headers in ({}, {"authorization": "Bearer " + secrets.token_hex(20)}, bearer(READER)):
        assert ask(gated, "GET", "/livez", headers).status == 200
        assert ask(gated, "GET", "/healthz", headers).status == 200
        assert ask(gated, "GET", "/openapi.json", headers).json()["paths"]
        assert b"swagger" in ask(gated, "GET", "/docs", headers).body.lower()
        assert ask(gated, "GET", "/docs/static/swagger-ui.css", headers).status == 200
        assert ask(gated, "GET", "/", headers).status == 307
        assert ask(gated, "HEAD", "/livez", headers).status == 200


def test_the_access_log_has_no_token(gated: Server) -> None:
    ask(gated, "GET", "/v1/datasets/flights/rows/1?columns=n", bearer(READER))
    ask(gated, "GET", "/v1/datasets/private", bearer(READER))

    def logged() -> bool:
        paths = {line.get("path") for line in gated.logs() if line.get("event") == "access"}
        return "/v1/datasets/private" in paths

    gated.wait_until(logged, "the access log lines")
    assert_no_secret_logged(gated.log_path)


# -- the tokens file changing under a running server --------------------------------------------------


def start(root: Path, tokens: Path, log: Path) -> Server:
    srv = Server(root, log, "--tokens", str(tokens), "--access-log", "--log-level", "debug")
    srv.wait_ready()
    return srv


def status_with(srv: Server, token: str) -> int:
    return ask(srv, "GET", "/v1/datasets/flights", bearer(token)).status


def test_an_atomically_replaced_file_is_read_without_a_restart(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(tokens_doc(reader=READER)))
    srv = start(root, path, tmp_path / "server.log")
    try:
        assert status_with(srv, READER) == 200
        assert status_with(srv, NEW) == 401
        assert [(line["file"], line["tokens"]) for line in srv.logs() if line.get("event") == "tokens_loaded"] == [
            (str(path), 1)]
        # Rotation: the new token added next to the old one, then the old one removed.
        write_atomically(path, json.dumps(tokens_doc(reader=READER, new=NEW)))
        srv.wait_until(lambda: status_with(srv, NEW) == 200, "the new token to be accepted")
        assert status_with(srv, READER) == 200
        write_atomically(path, json.dumps(tokens_doc(new=NEW)))
        srv.wait_until(lambda: status_with(srv, READER) == 401, "the old token to be refused")
        assert status_with(srv, NEW) == 200
        assert any(line.get("event") == "tokens_reloaded" and line.get("file") == str(path) for line in srv.logs())
    finally:
        srv.stop()
    assert_no_secret_logged(srv.log_path)


def test_a_kubernetes_secret_rotation_is_read_without_a_restart(root: Path, tmp_path: Path) -> None:
    # The kubelet's layout: tokens.json -> ..data/tokens.json, ..data -> ..<timestamp>/; a rotation
    # writes a new timestamped directory and renames a new ..data link over the old one.
    mount = tmp_path / "secret"
    first = mount / "..2026_01_01_00_00_00.1"
    first.mkdir(parents=True)
    (first / "tokens.json").write_text(json.dumps(tokens_doc(reader=READER)))
    (mount / "..data").symlink_to(first.name)
    (mount / "tokens.json").symlink_to("..data/tokens.json")
    srv = start(root, mount / "tokens.json", tmp_path / "server.log")
    try:
        assert status_with(srv, READER) == 200
        assert status_with(srv, NEW) == 401
        second = mount / "..2026_02_01_00_00_00.2"
        second.mkdir()
        (second / "tokens.json").write_text(json.dumps(tokens_doc(new=NEW)))
        (mount / "..data_tmp").symlink_to(second.name)
        os.rename(mount / "..data_tmp", mount / "..data")
        (first / "tokens.json").unlink()
        first.rmdir()
        srv.wait_until(lambda: status_with(srv, NEW) == 200, "the rotated token to be accepted")
        assert status_with(srv, READER) == 401
    finally:
        srv.stop()
    assert_no_secret_logged(srv.log_path)


def test_a_broken_file_later_keeps_the_previous_tokens(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(tokens_doc(reader=READER)))
    srv = start(root, path, tmp_path / "server.log")
    try:
        # Broken twice (not JSON, then a digest that is not hex), each holding secrets that must not
        # be logged; then gone; then fixed with a new token.
        brokens = [f'{{"tokens": [{{"name": "new", "sha256": "{digest(NEW)}", "datasets": ["*"] {NEW}',
                   json.dumps({"tokens": [{"name": "new", "sha256": NEW, "datasets": ["*"]}]})]
        for count, text in enumerate(brokens, start=1):
            write_atomically(path, text)

            def errors(count: int = count) -> bool:
                return len([line for line in srv.logs() if line.get("event") == "tokens_error"]) >= count

            srv.wait_until(errors, "the error naming the file")
            assert status_with(srv, READER) == 200
            assert status_with(srv, NEW) == 401
        lines = [line for line in srv.logs() if line.get("event") == "tokens_error"]
        assert len(lines) == 2  # once per broken version, not once per poll
        for line in lines:
            assert line["level"] == "error" and line["file"] == str(path) and str(path) in line["message"]
        assert "not valid JSON" in lines[0]["message"] and "sha256" in lines[1]["message"]
        path.unlink()
        srv.wait_until(lambda: len([line for line in srv.logs() if line.get("event") == "tokens_error"]) == 3,
                       "the error of a missing file")
        assert status_with(srv, READER) == 200
        path.write_text(json.dumps(tokens_doc(new=NEW)))
        srv.wait_until(lambda: status_with(srv, NEW) == 200, "the fixed file's token")
        assert status_with(srv, READER) == 401
    finally:
        srv.stop()
    assert_no_secret_logged(srv.log_path)


# -- start-up --------------------------------------------------------------------------------------


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rodata", "serve", "--port", "0", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_a_broken_file_at_start_is_a_usage_error(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"tokens": [' + json.dumps({"name": "a", "sha256": digest(READER), "datasets": []}) + ",")
    done = serve("--data-root", str(root), "--tokens", str(path))
    assert done.returncode == 2, done.stderr
    assert f"tokens file {path}: not valid JSON" in done.stderr
    assert digest(READER) not in done.stderr
    path.write_text(json.dumps({"tokens": [{"name": "a", "sha256": digest(READER), "datasets": []},
                                           {"name": "b", "sha256": digest(READER).upper(), "datasets": ["*"]}]}))
    done = serve("--data-root", str(root), env={"RODATA_TOKENS_FILE": str(path)})
    assert done.returncode == 2, done.stderr
    assert f"tokens file {path}: tokens[1] ('b') has the same sha256 as tokens[0] ('a')" in done.stderr
    done = serve("--data-root", str(root), "--tokens", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and f"tokens file {tmp_path / 'missing.json'}: cannot read it" in done.stderr


@pytest.mark.parametrize(("doc", "fault"), [
    ([], 'expected an object with one field, "tokens"'),
    ({"tokens": [], "extra": 1}, 'expected an object with one field, "tokens"'),
    ({"tokens": {}}, '"tokens" must be a list'),
    ({"tokens": ["x"]}, "tokens[0]: expected an object"),
    ({"tokens": [{"name": "a", "datasets": []}]}, "tokens[0]: missing sha256"),
    ({"tokens": [{"name": "a", "sha256": "0" * 64, "datasets": [], "scope": []}]}, "unknown field 'scope'"),
    ({"tokens": [{"name": "", "sha256": "0" * 64, "datasets": []}]}, "tokens[0]: name must be"),
    ({"tokens": [{"name": "a", "sha256": "0" * 63 + "g", "datasets": []}]}, "tokens[0] ('a'): sha256 must be"),
    ({"tokens": [{"name": "a", "sha256": "0" * 62, "datasets": []}]}, "tokens[0] ('a'): sha256 must be"),
    ({"tokens": [{"name": "a", "sha256": "0" * 64, "datasets": "flights"}]}, "datasets must be a list"),
    ({"tokens": [{"name": "a", "sha256": "0" * 64, "datasets": ["", "x"]}]}, "datasets must be a list"),
])
def test_the_tokens_file_is_checked_strictly(tmp_path: Path, doc: Any, fault: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError) as caught:
        create_app(tmp_path, settings=Settings(tokens_file=str(path)))
    assert str(caught.value).startswith(f"tokens file {path}: ") and fault in str(caught.value)


def test_the_gate_decides_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(tokens_doc(reader=READER, ops=OPS)))
    gate = Gate(path)
    header = f"Bearer {READER}".encode()
    for _ in range(2):  # computed, then remembered
        assert gate.decide(header, "row", "flights") is None
        assert gate.decide(header, "row", "users-x") is None
        assert gate.decide(header, "row", "Flights").status == 403  # case matters
        assert gate.decide(header, "row", "users").status == 403
        assert gate.decide(header, "row", None).status == 403
        assert gate.decide(header, "datasets", None) is None
        assert gate.decide(header, "metrics", None).status == 403
        assert gate.decide(f"Bearer {OPS}".encode(), "metrics", None) is None
        assert gate.decide(None, "scan", "flights").status == 401
        assert gate.decide(None, "healthz", None) is None
        assert gate.decide(None, "docs", None) is None
    assert gate.readable(header)("users-eu") and not gate.readable(header)("private")
    assert not gate.readable(None)("flights") and not gate.readable(b"Bearer x")("flights")
    # A reload drops every remembered decision.
    write_atomically(path, json.dumps(tokens_doc(new=NEW)))
    assert gate.refresh()
    assert gate.decide(header, "row", "flights").status == 401
    assert gate.decide(f"bearer {NEW}".encode(), "row", "flights") is None
    assert not gate.refresh()  # unchanged


def test_an_open_server_warns_on_a_non_loopback_address(root: Path, tmp_path: Path, tokens_file: Path) -> None:
    def warnings(srv: Server) -> list[dict[str, Any]]:
        return [line for line in srv.logs() if line.get("event") == "open_access"]

    for host, tokens, warned in (("0.0.0.0", [], True), ("127.0.0.1", [], False),
                                 ("0.0.0.0", ["--tokens", str(tokens_file)], False)):
        srv = Server(root, tmp_path / f"server-{zlib.crc32(repr((host, tokens)).encode())}.log", "--host", host,
                     *tokens)
        try:
            srv.wait_until(lambda srv=srv: srv.client.get("/livez").status == 200, "/livez")
            lines = warnings(srv)
            assert bool(lines) is warned, (host, tokens, lines)
            if warned:
                assert lines[0]["level"] == "warning" and "--tokens" in lines[0]["message"]
        finally:
            srv.stop()


# -- generated requests, with a token that may read everything -----------------------------------------


SPEC = create_app("/nonexistent", settings=Settings()).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_generated_requests_with_a_token(case: Any, gated: Server) -> None:
    params = case.path_parameters or {}
    if "name" in params and zlib.crc32(repr(sorted(params.items())).encode()) % 2:
        params["name"] = "flights"
        if "column" in params:
            params["column"] = "n"
    response = case.call_and_validate(base_url=f"http://127.0.0.1:{gated.port}", checks=[not_a_server_error],
                                      headers=bearer(ROOT_TOKEN), timeout=30)
    assert response.status_code < 500
    assert response.status_code not in (401, 403), response.text  # the token may read everything
