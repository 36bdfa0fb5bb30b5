"""deploy/Dockerfile and .dockerignore read as a recipe: the image they build is the one the overlays run
(same entry point, user, port, data root and tag), built in two stages with no compiler at run time."""

from __future__ import annotations

import re

import pytest
import tomllib

from tests.deploy.dockerfile import Dockerfile, parse, substitute
from tests.deploy.dockerignore import DockerIgnore
from tests.deploy.manifests import DEPLOY, REPO, Rendered, env_of, etl_templates, verify_templates

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def recipe() -> Dockerfile:
    return parse(DOCKERFILE)


def project_version() -> str:
    """The package version pyproject.toml declares."""
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def runtime_env(recipe: Dockerfile) -> dict[str, str]:
    """The runtime stage's ENV with its ARGs substituted."""
    stage = recipe.stages[-1]
    values = {**recipe.global_args, **stage.args}
    return {key: substitute(value, values) for key, value in stage.env.items()}


def test_two_stages_a_build_with_a_compiler_and_a_slim_runtime(recipe: Dockerfile) -> None:
    build, runtime = recipe.stage("build"), recipe.stages[-1]
    assert runtime.name == "runtime"
    assert "slim" in runtime.base
    assert "slim" not in build.base, "the build stage needs the compiler of the full image"
    # The same Python in both stages, or the wheel's compiled core would not import.
    assert build.base.split(":")[1].split("-")[0] == runtime.base.split(":")[1].split("-")[0]
    assert any(run.startswith("pip wheel ") for run in build.runs)
    runtime_steps = " ".join(runtime.runs)
    assert "--no-index" in runtime_steps
    assert not re.search(r"apt-get|apk |gcc|build-essential|cython", runtime_steps, re.IGNORECASE)


def test_runtime_takes_only_the_wheels_of_the_build_stage(recipe: Dockerfile) -> None:
    runtime = recipe.stages[-1]
    assert [(c.from_stage, c.sources, c.dest) for c in runtime.copies] == [("build", ["$WHEELS"], "$WHEELS")]
    assert runtime.args["WHEELS"] == recipe.stage("build").args["WHEELS"]


def test_entry_point_is_one_rodata_serve_process(recipe: Dockerfile) -> None:
    assert recipe.stages[-1].entrypoint == ["rodata", "serve"]


def test_image_runs_as_the_non_root_user_the_pods_declare(recipe: Dockerfile, overlay: Rendered) -> None:
    user = recipe.stages[-1].user
    assert user is not None
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0
    assert gid != 0
    templates = [overlay.server["spec"]["template"], *(t for _, t in etl_templates(overlay)),
                 *(t for _, t in verify_templates(overlay))]
    for template in templates:
        context = template["spec"]["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid)


def test_image_settings_agree_with_the_pods(recipe: Dockerfile, overlay: Rendered) -> None:
    env = runtime_env(recipe)
    container = overlay.server_container
    assert env["RODATA_HOST"] == "0.0.0.0"
    assert recipe.stages[-1].expose == [env["RODATA_PORT"]]
    assert [p["containerPort"] for p in container["ports"]] == [int(env["RODATA_PORT"])]
    assert env_of(container)["RODATA_PORT"] == env["RODATA_PORT"]
    assert env_of(container)["RODATA_DATA_ROOT"] == env["RODATA_DATA_ROOT"]
    annotations = overlay.server["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == env["RODATA_PORT"]


def test_image_writes_only_under_tmp(recipe: Dockerfile, overlay: Rendered) -> None:
    # The pods mount the root read-only and an emptyDir on /tmp: the image keeps HOME there and writes
    # no bytecode.
    env = runtime_env(recipe)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert (env["HOME"] + "/").startswith("/tmp/")
    writable = [m["mountPath"] for m in overlay.server_container["volumeMounts"] if not m.get("readOnly")]
    assert writable == ["/tmp"]


def test_every_overlay_runs_the_release_tag_of_this_version(overlay: Rendered) -> None:
    templates = [("server", overlay.server["spec"]["template"]), *etl_templates(overlay), *verify_templates(overlay)]
    images = {c["image"] for _, t in templates for c in t["spec"]["containers"]}
    assert len(images) == 1, f"server, ETL and verify run one image: {images}"
    # The prod overlays pin the digest too (name:tag@sha256:...): the tag still says which release.
    name, tag = images.pop().split("@", 1)[0].rsplit(":", 1)
    assert name.rsplit("/", 1)[-1] == "rodata"
    assert tag == project_version()


def test_docs_build_the_image_the_overlays_run(rendered_overlays: dict[str, Rendered]) -> None:
    # The build makes the tag; prod runs that tag pinned by the digest the push gives (name:tag@sha256:...).
    docs = (REPO / "docs" / "deploy.md").read_text()
    tag, _, digest = rendered_overlays["prod"].server_container["image"].partition("@")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    built = set(re.findall(r"docker build -f deploy/Dockerfile -t (\S+) \.", docs))
    assert built == {tag}
    header = DOCKERFILE.read_text()
    assert f"-t {tag} ." in header


def test_dockerignore_sends_the_sources_and_nothing_else() -> None:
    ignore = DockerIgnore((REPO / ".dockerignore").read_text())
    kept_paths = ("pyproject.toml", "setup.py", "README.md", "src/rodata/cli.py", "src/rodata/py.typed",
                  "src/rodata/_core/_codec.pyx", "src/rodata/_core/includes/rodata_c.h")
    for kept in kept_paths:
        assert not ignore.ignored(kept), kept
    for left_out in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "benchmarks/x.py", "build/lib/x",
                     "src/rodata/_core/_codec.c", "src/rodata/_core/_codec.cpython-311-x86_64-linux-gnu.so",
                     "src/rodata/__pycache__/cli.cpython-311.pyc", "src/rodata.egg-info/PKG-INFO"):
        assert ignore.ignored(left_out), left_out
