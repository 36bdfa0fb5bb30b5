"""A static security scan (checkov) of every rendered overlay and of deploy/Dockerfile, with the settings
and justified skips of deploy/checkov.yaml.

checkov pins dependencies that clash with the test tools, so it lives in a virtual environment of its
own, installed from the `scan` extra of pyproject.toml on first use (about a minute) and kept in the
user's cache folder for later runs."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from tests.deploy.manifests import DEPLOY, REPO, Rendered

CONFIG = DEPLOY / "checkov.yaml"


def scan_requirements() -> list[str]:
    """The `scan` extra of pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["scan"])


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rodata-tests"


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov command, in its own virtual environment (made once per machine and requirement)."""
    requirements = scan_requirements()
    key = hashlib.sha256(f"{sys.version}|{requirements}".encode()).hexdigest()[:12]
    venv = _cache_root() / f"checkov-{key}"
    complete = venv / "installed"  # written last: a half-made environment is made again
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install it once
        if not complete.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *requirements],
                                  capture_output=True, text=True, timeout=1200)
            assert done.returncode == 0, f"installing {requirements} failed:\n{done.stderr[-3000:]}"
            complete.write_text("\n".join(requirements))
    command = venv / "bin" / "checkov"
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return command


def run_checkov(checkov: Path, directory: Path) -> dict[str, dict[str, Any]]:
    """check type -> checkov's JSON report for the files in `directory`."""
    done = subprocess.run(
        [str(checkov), "--directory", str(directory), "--config-file", str(CONFIG), "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=600, cwd=directory,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    assert done.returncode in (0, 1), f"checkov failed to run ({done.returncode}):\n{done.stderr[-3000:]}"
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {r["check_type"]: r for r in reports}


def failures(report: dict[str, Any]) -> list[str]:
    return [f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})"
            for c in report["results"]["failed_checks"]]


def test_rendered_overlays_and_dockerfile_pass_the_scan(
    checkov: Path, rendered_overlays: dict[str, Rendered], tmp_path: Path,
) -> None:
    for name, rendered in rendered_overlays.items():
        (tmp_path / f"{name}.yaml").write_text(rendered.text)
    shutil.copy(DEPLOY / "Dockerfile", tmp_path / "Dockerfile")
    reports = run_checkov(checkov, tmp_path)
    assert set(reports) == {"kubernetes", "dockerfile"}
    for check_type, report in reports.items():
        assert failures(report) == [], check_type
        assert report["summary"]["parsing_errors"] == 0
    scanned = {Path(c["file_path"]).name for r in reports.values() for c in r["results"]["passed_checks"]}
    assert scanned == {"Dockerfile", *(f"{name}.yaml" for name in rendered_overlays)}


def test_scan_catches_a_privileged_container(
    checkov: Path, rendered_overlays: dict[str, Rendered], tmp_path: Path,
) -> None:
    # The scan must be able to fail: the dev Deployment with its hardening undone.
    deployment = copy.deepcopy(rendered_overlays["dev"].server)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    (tmp_path / "weak.yaml").write_text(yaml.safe_dump(deployment))
    failed = {c["check_id"] for c in run_checkov(checkov, tmp_path)["kubernetes"]["results"]["failed_checks"]}
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_22"} <= failed  # privileged, escalation, writable root


def test_every_skipped_check_is_justified_in_a_comment() -> None:
    lines = CONFIG.read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    skipped = config.get("skip-check", [])
    assert all(re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check) for check in skipped)
    for check in skipped:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        comment: list[str] = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            comment.insert(0, line.strip().lstrip("# "))
        text = " ".join(comment)
        assert check in text, f"{check}: the comment above it must name it"
        assert len(text.split()) >= 12, f"{check}: say why it is skipped"


def test_no_check_is_skipped_inside_the_manifests(rendered_overlays: dict[str, Rendered]) -> None:
    # Skips live in deploy/checkov.yaml, each with its reason, not in scattered annotations.
    for rendered in rendered_overlays.values():
        assert "checkov.io/skip" not in rendered.text
    assert "checkov:skip" not in (DEPLOY / "Dockerfile").read_text()
