"""The steps of deploy/Dockerfile, replayed without a container engine.

Each container path is mapped under one temporary folder: the build stage's COPY takes the files the
build context would send (.dockerignore applied), its RUN lines run as written (`pip wheel` compiles the
core), the runtime stage's RUN lines install the wheels, runtime dependencies only and offline, into a
fresh virtual environment, and its ENTRYPOINT serves a real dataset as the image's USER (a uid with no
account, no write access outside /tmp) on loopback, with the image's ENV.  The wheel is built once per
test session (a minute or two: the core is compiled)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Dockerfile, Stage, parse, substitute
from tests.deploy.dockerignore import DockerIgnore, copy_from_context
from tests.deploy.manifests import DEPLOY, REPO
from tests.waiting import wait_until

#: Variables of the test's own environment that must not leak into the replayed steps.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
#: PATH of the python base images, which the image's ENV PATH extends.
_BASE_IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Image:
    """The replayed image: its root folder, the recipe and the runtime stage's ENV (paths mapped)."""

    root: Path
    recipe: Dockerfile
    env: dict[str, str]
    wheels: list[str]
    wheel_files: list[str]

    def path(self, container_path: str) -> Path:
        """Where a path of the container lies on this machine."""
        return self.root / container_path.lstrip("/")


def _readable_by_all(path: Path) -> bool:
    """Whether any user may read `path` (and pass through every folder above it)."""
    real = path.resolve()
    folders_open = all(p.stat().st_mode & stat.S_IXOTH for p in real.parents)
    return folders_open and bool(real.stat().st_mode & stat.S_IROTH)


def _base_python() -> Path:
    """An interpreter of the tests' Python version that the image's user can read: in the image it
    lives in /usr/local; here, an interpreter installed under a private home would not do."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [getattr(sys, "_base_executable", sys.executable), shutil.which(version),
                  f"/usr/local/bin/{version}", f"/usr/bin/{version}"]
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if not path.exists() or not _readable_by_all(path):
            continue
        probe = "import sys, sysconfig; print(sys.version_info[:2] == (%d, %d), sysconfig.get_paths()['stdlib'])"
        done = subprocess.run([str(path), "-c", probe % sys.version_info[:2]], capture_output=True, text=True,
                              timeout=60)
        same_version, _, stdlib = done.stdout.strip().partition(" ")
        if done.returncode == 0 and same_version == "True" and _readable_by_all(Path(stdlib) / "os.py"):
            return path
    raise AssertionError(f"no {version} that every user can read among {candidates}")


def _step_env(values: dict[str, str], tools: Path) -> dict[str, str]:
    """The environment of a RUN step: this machine's (for the package index settings), the stage's ARGs,
    and the base image's `python` and `pip` (`tools`, a virtual environment of the base interpreter)
    first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update(values)
    env["PATH"] = f"{tools / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return env


def _stage_values(recipe: Dockerfile, stage: Stage, root: Path) -> dict[str, str]:
    """The stage's ARG values, absolute paths mapped under `root`."""
    values = {**recipe.global_args, **stage.args}
    return {k: str(root / v.lstrip("/")) if v.startswith("/") else v for k, v in values.items()}


def _run_steps(stage: Stage, values: dict[str, str], cwd: Path, tools: Path) -> None:
    for step in stage.runs:
        done = subprocess.run(["/bin/sh", "-c", step], cwd=cwd, env=_step_env(values, tools),
                              capture_output=True, text=True, timeout=1200)
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == 0, f"RUN {step}\nfailed ({done.returncode}):\n{output}"


def _replay_build_stage(recipe: Dockerfile, root: Path, tools: Path) -> tuple[list[str], list[str]]:
    """COPY from the context and RUN; returns (wheel names, files of the rodata wheel)."""
    stage = recipe.stage("build")
    values = _stage_values(recipe, stage, root)
    workdir = root / stage.workdir.lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    ignore = DockerIgnore((REPO / ".dockerignore").read_text())
    for copy in stage.copies:
        assert copy.from_stage is None
        dest = root / copy.dest.lstrip("/") if copy.dest.startswith("/") else workdir / copy.dest
        copy_from_context(REPO, ignore, copy.sources, dest, copy.dest.endswith("/") or len(copy.sources) > 1)
    _run_steps(stage, values, workdir, tools)
    wheels = Path(values["WHEELS"])
    names = sorted(p.name for p in wheels.glob("*.whl"))
    ours = [n for n in names if n.startswith("rodata-")]
    assert len(ours) == 1, names
    with zipfile.ZipFile(wheels / ours[0]) as archive:
        return names, archive.namelist()


def _replay_runtime_stage(recipe: Dockerfile, root: Path, tools: Path) -> dict[str, str]:
    """COPY --from=build (the same mapped path) and RUN; returns the stage's ENV, paths mapped."""
    stage = recipe.stages[-1]
    values = _stage_values(recipe, stage, root)
    for copy in stage.copies:
        # Both stages map to one root, so the copy between them is the identity.
        assert copy.from_stage == "build"
        assert [substitute(s, values) for s in copy.sources] == [substitute(copy.dest, values)]
    workdir = root / stage.workdir.lstrip("/")
    _run_steps(stage, values, workdir, tools)
    env: dict[str, str] = {}
    for key, raw in stage.env.items():
        lookup = {**values, **env}
        if key == "PATH":
            lookup["PATH"] = _BASE_IMAGE_PATH
        value = substitute(raw, lookup)
        env[key] = str(root / value.lstrip("/")) if value.startswith("/") and ":" not in value else value
    return env


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """deploy/Dockerfile replayed into a fresh folder (removed afterwards)."""
    root = Path(tempfile.mkdtemp(prefix="rodata-image-"))
    root.chmod(0o755)  # the image's user must reach the runtime environment and the data
    try:
        recipe = parse(DEPLOY / "Dockerfile")
        tools = root / "_base_python"  # outside every path the image uses
        subprocess.run([str(_base_python()), "-m", "venv", str(tools)], check=True, timeout=300)
        wheels, wheel_files = _replay_build_stage(recipe, root, tools)
        env = _replay_runtime_stage(recipe, root, tools)
        yield Image(root, recipe, env, wheels, wheel_files)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _user_prefix(user: str) -> list[str]:
    """Run as the image's USER: as root (CI) switch to that uid:gid; as anyone else, stay (non-root)."""
    if os.geteuid() != 0:
        return []
    uid, gid = user.split(":")
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running `rodata serve` of the replayed image."""

    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for(served: Served, path: str, deadline_s: float = 120.0) -> tuple[int, bytes]:
    """Poll `path` until it answers 200 (the server exiting or the deadline is a failure)."""
    last: list[tuple[int, bytes]] = [(0, b"")]

    def answered() -> tuple[int, bytes] | None:
        exited = served.process.poll()
        assert exited is None, f"rodata serve exited {exited}:\n{served.log_text()}"
        last[0] = _get(served.url(path))
        return last[0] if last[0][0] == 200 else None

    return wait_until(answered, f"{path} to answer 200", deadline_s, interval=0.2, ignore=(OSError,),
                      detail=lambda: f"last {last[0]}:\n{served.log_text()}")


@pytest.fixture(scope="module")
def served(image: Image) -> Iterator[Served]:
    """The image's ENTRYPOINT serving one small dataset, as the image's USER, on loopback."""
    runtime = image.recipe.stages[-1]
    python = str(image.path(image.recipe.stages[-1].args["VENV"]) / "bin" / "python")
    data_root = image.env["RODATA_DATA_ROOT"]
    write = ("import numpy as np, rodata, sys; n = 1000; rodata.write(sys.argv[1], 'demo', "
             "{'id': np.arange(n), 'double': 2 * np.arange(n)}, key='id')")
    subprocess.run([python, "-c", write, data_root], check=True, cwd=image.root, timeout=120,
                   env={"PATH": image.env["PATH"]})
    (image.root / "tmp").mkdir(mode=0o1777, exist_ok=True)
    (image.root / "tmp").chmod(0o1777)
    # The image's ENV as it is, but for the address: a test serves on loopback only.
    env = {**image.env, "RODATA_HOST": "127.0.0.1", "RODATA_PORT": str(_free_port())}
    assert runtime.user is not None
    assert runtime.entrypoint is not None
    program = shutil.which(runtime.entrypoint[0], path=env["PATH"])
    assert program is not None
    assert Path(program).is_relative_to(image.root), f"{program} is not the image's"
    log = image.root / "tmp" / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(_user_prefix(runtime.user) + runtime.entrypoint, cwd=image.path(runtime.workdir),
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    served = Served(process, int(env["RODATA_PORT"]), env, log)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_wheel_carries_the_compiled_core(image: Image) -> None:
    assert any(name.startswith("rodata/_core/_codec") and name.endswith(".so") for name in image.wheel_files)
    assert not any(name.endswith(".o") for name in image.wheel_files)
    assert "rodata/cli.py" in image.wheel_files


#: Run inside the runtime environment: (installed distributions, those rodata needs at run time).
_CLOSURE = """
import importlib.metadata as md, json, re
def name(text): return re.match(r"[A-Za-z0-9._-]+", text).group(0).lower().replace("_", "-")
installed = {name(d.metadata["Name"]) for d in md.distributions()}
needed, todo = set(), ["rodata"]
while todo:
    dist = todo.pop()
    if dist in needed or dist not in installed:
        continue
    needed.add(dist)
    todo += [name(r) for r in md.requires(dist) or [] if "extra ==" not in r]
print(json.dumps([sorted(installed), sorted(needed)]))
"""


def test_runtime_environment_has_runtime_dependencies_only(image: Image) -> None:
    python = image.path(image.recipe.stages[-1].args["VENV"]) / "bin" / "python"
    listed = subprocess.run([str(python), "-c", _CLOSURE], capture_output=True, text=True, check=True,
                            env={"PATH": image.env["PATH"]}, timeout=120)
    installed, needed = (set(names) for names in json.loads(listed.stdout))
    assert {"rodata", "numpy", "fastapi", "uvicorn", "orjson"} <= needed
    # What a new virtual environment starts with, and nothing more than rodata's requirements.
    assert installed - needed <= {"pip", "setuptools"}
    assert not image.path("/wheels").exists(), "the runtime stage removes the wheels it installed"


def test_serves_as_the_images_non_root_user(served: Served, image: Image) -> None:
    _wait_for(served, "/livez")
    status, body = _wait_for(served, "/healthz")
    assert b"demo" in body
    status, body = _get(served.url("/v1/datasets/demo/rows/21"))
    assert status == 200, body
    assert json.loads(body) == {"id": 21, "double": 42}
    uid = next(line.split()[1] for line in Path(f"/proc/{served.process.pid}/status").read_text().splitlines()
               if line.startswith("Uid:"))
    assert int(uid) != 0
    if os.geteuid() == 0:
        assert uid == image.recipe.stages[-1].user.split(":")[0]


def test_healthcheck_command_passes(served: Served, image: Image) -> None:
    _wait_for(served, "/livez")
    healthcheck = image.recipe.stages[-1].healthcheck
    assert healthcheck is not None
    user = image.recipe.stages[-1].user
    assert user is not None
    done = subprocess.run(_user_prefix(user) + healthcheck, env=served.env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr


def test_sigterm_drains_and_exits_zero(served: Served) -> None:
    _wait_for(served, "/livez")
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0, served.log_text()
