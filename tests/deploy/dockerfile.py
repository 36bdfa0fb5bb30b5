"""A small Dockerfile reader: stages with their ARG, ENV, WORKDIR, COPY, RUN, USER, EXPOSE, HEALTHCHECK
and ENTRYPOINT instructions, enough for the tests to check the image's recipe and to replay its steps
on a machine with no container engine.  An instruction it does not know is an error, so that a new
kind of step in deploy/Dockerfile cannot slip past the tests unreplayed."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Copy", "Dockerfile", "Stage", "parse", "substitute"]

_KNOWN = {
    "FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "LABEL",
}
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Copy:
    """One COPY: sources (context paths, or paths of another stage) and a destination."""

    sources: list[str]
    dest: str
    from_stage: str | None = None


@dataclass
class Stage:
    """One FROM ... AS name section, its instructions in order of appearance."""

    name: str
    base: str
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: list[Copy] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    user: str | None = None
    expose: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    entrypoint: list[str] | None = None


@dataclass
class Dockerfile:
    """Global ARGs (before the first FROM) and the stages."""

    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """The stage called `name`."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in the Dockerfile")


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace $NAME and ${NAME} by their values (unknown names are left as they are)."""
    return _VAR.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def _logical_lines(text: str) -> list[str]:
    """Instructions with line continuations joined and comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current.strip())
    return lines


def _key_values(rest: str) -> dict[str, str]:
    """`KEY=value KEY2="value 2"` (ENV, LABEL) or the legacy `KEY value` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def parse(path: Path) -> Dockerfile:
    """Read the Dockerfile at `path`."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword not in _KNOWN:
            raise ValueError(f"{path}: instruction {keyword} is not understood by tests/deploy/dockerfile.py")
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=substitute(words[0], global_args)))
            continue
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            (stages[-1].args if stages else global_args)[name] = default
            continue
        if not stages:
            raise ValueError(f"{path}: {keyword} before the first FROM")
        _apply(stages[-1], keyword, rest)
    return Dockerfile(global_args, stages)


def _apply(stage: Stage, keyword: str, rest: str) -> None:
    if keyword == "ENV":
        stage.env.update(_key_values(rest))
    elif keyword == "WORKDIR":
        stage.workdir = rest
    elif keyword == "COPY":
        flags, words = _flags(rest.split())
        stage.copies.append(Copy(sources=words[:-1], dest=words[-1], from_stage=flags.get("from")))
    elif keyword == "RUN":
        stage.runs.append(rest)
    elif keyword == "USER":
        stage.user = rest
    elif keyword == "EXPOSE":
        stage.expose.extend(rest.split())
    elif keyword == "HEALTHCHECK":
        match = re.match(r"(?:--\S+\s+)*CMD\s+(\[.*\])$", rest)
        if not match:
            raise ValueError(f"HEALTHCHECK needs an exec-form CMD: {rest}")
        stage.healthcheck = json.loads(match.group(1))
    elif keyword == "ENTRYPOINT":
        stage.entrypoint = json.loads(rest)
