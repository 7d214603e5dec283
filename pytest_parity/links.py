"""Links from the parity page and matrix to the source that proves an invariant.

A URL template names ``{path}`` (a test's file, or the registry file), and may name
``{line}`` and ``{sha}`` (the commit), for example
``https://github.com/OWNER/REPO/blob/{sha}/{path}#L{line}``.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from urllib.parse import quote

from .model import ParityError

__all__ = ["PLACEHOLDERS", "SHA_VARIABLES", "SourceLinks", "commit_from_env", "repo_path"]

PLACEHOLDERS = ("sha", "path", "line")
#: where CI systems put the commit being built: GitHub Actions, GitLab, Jenkins (git
#: plugin), Azure Pipelines
SHA_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "BUILD_SOURCEVERSION")
_FIELD = re.compile(r"\{([^{}]*)\}")
#: characters a template may not hold: they would end a Markdown link or an HTML attribute
_UNSAFE = re.compile(r"[\s<>\"'`()\\]")


def repo_path(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str | None:
    """``path`` as links name it: relative to ``root`` (the rootdir, or where the command
    runs), ``/``-separated; ``None`` outside it (``../``, another drive), where a link
    would point at the wrong file."""
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:  # pragma: no cover (Windows: another drive)
        return None
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return relative.replace(os.sep, "/")


def commit_from_env() -> str | None:
    """The commit the CI system is building, from the first of :data:`SHA_VARIABLES` set."""
    return next((os.environ[v] for v in SHA_VARIABLES if os.environ.get(v, "").strip()), None)


@dataclass(frozen=True)
class SourceLinks:
    template: str
    sha: str | None = None

    @classmethod
    def parse(cls, template: str, sha: str | None, option: str) -> SourceLinks:
        """Check a template; ``option`` (``--source-url``) starts every error message."""
        names = _FIELD.findall(template)
        unknown = [name for name in names if name not in PLACEHOLDERS]
        if unknown:
            raise ParityError(
                f"{option}: unknown placeholder {{{unknown[0]}}} in {template!r}; "
                "the template may name {sha}, {path} and {line}"
            )
        if "path" not in names:
            raise ParityError(f"{option}: {template!r} does not name {{path}}")
        if "{" in _FIELD.sub("", template) or "}" in _FIELD.sub("", template):
            raise ParityError(f"{option}: a lone brace in {template!r}")
        if _UNSAFE.search(template):
            raise ParityError(
                f"{option}: {template!r} holds a space, quote, bracket or backslash; "
                "percent-encode it"
            )
        if "sha" in names and not (sha and sha.strip()):
            raise ParityError(
                f"{option}: {template!r} names {{sha}} but no commit is known: pass "
                f"--source-sha or set one of {', '.join(SHA_VARIABLES)}"
            )
        return cls(template, sha.strip() if sha else None)

    @property
    def changes_with_each_commit(self) -> bool:
        """It names ``{sha}`` or ``{line}``: a document kept in the repository with such
        links would be out of date after every commit."""
        return "{sha}" in self.template or "{line}" in self.template

    def url(self, path: str | None, line: int | None) -> str | None:
        """The link to ``path`` (at ``line``), or ``None`` when the template needs what
        is unknown."""
        if path is None or (line is None and "{line}" in self.template):
            return None
        # every brace pair of a checked template is a placeholder: str.format fills them
        sha = _quoted(self.sha or "", "")
        # a report written on Windows names files with backslashes
        return self.template.format(sha=sha, path=_quoted(path.replace("\\", "/"), "/"), line=line)


@functools.lru_cache(maxsize=4096)  # a page links to the same file once per test in it
def _quoted(text: str, safe: str) -> str:
    return quote(text, safe=safe)
