"""The build context as a container engine sends it: .dockerignore rules (``*``, ``?``, ``**``, ``!``
exceptions, the last matching rule wins, a rule that matches a folder covers what is inside it) and a
COPY of context paths into a folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

__all__ = ["DockerIgnore", "copy_from_context"]


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


class DockerIgnore:
    """The rules of one .dockerignore file."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
            self.rules.append((exception, _to_regex(pattern)))

    def ignored(self, relpath: str) -> bool:
        """Whether the context path `relpath` (posix, relative to the context root) is left out."""
        parts = PurePosixPath(relpath).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for exception, regex in self.rules:
            if any(regex.match(p) for p in prefixes):
                result = not exception
        return result


def copy_from_context(
    context: Path, ignore: DockerIgnore, sources: list[str], dest: Path, dest_is_dir: bool
) -> list[str]:
    """COPY `sources` (context paths; a folder copies its contents) to `dest`.

    `dest_is_dir`: the destination named a folder (it ended in "/", or there are several sources).
    Returns the context paths copied.  A source that is missing, or left out entirely by
    .dockerignore, is an error, as it is for a container build."""
    copied: list[str] = []
    for source in sources:
        src = context / source
        if src.is_file():
            pairs = [(src, dest / src.name if dest_is_dir else dest)]
        elif src.is_dir():
            pairs = [(f, dest / f.relative_to(src)) for f in sorted(src.rglob("*")) if f.is_file()]
        else:
            raise FileNotFoundError(f"COPY {source}: not found in the build context {context}")
        kept = [(f, t) for f, t in pairs if not ignore.ignored(f.relative_to(context).as_posix())]
        if not kept:
            raise FileNotFoundError(f"COPY {source}: excluded by .dockerignore")
        for f, t in kept:
            t.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, t)
            copied.append(f.relative_to(context).as_posix())
    return copied
