"""The pytest entry point: options, settings, and which objects take part in a run.

Everything that decides lives in the pure core (registry, tags, evidence, report,
summary); :mod:`.collection` and :mod:`.controller` are the objects that follow a run.
With no registry and no ``parity`` marker the plugin is dormant.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .collection import Collector, DormantGuard, FixtureWatch
from .controller import TODAY_KEY, Controller, Outputs
from .files import output_kind
from .links import SourceLinks, commit_from_env, repo_path
from .model import FLAKY_POLICIES, ParityError, report_timestamp, utc_today
from .registry import check_registry, find_registry, load_registry

if TYPE_CHECKING:
    from .model import FlakyPolicy

MARKER_HELP = (
    "parity(*invariant_ids, milestone=None): this test proves the named invariants "
    "declared in the pytest-parity registry; milestone= tags it as part of that "
    "milestone's gate suite."
)

#: the run's plugin objects, registered in pytest_configure, unregistered in pytest_unconfigure
_PLUGINS_KEY = pytest.StashKey[list[object]]()


def flaky_policy(value: str) -> FlakyPolicy:
    """``--parity-flaky`` and ini ``parity_flaky``: ``fail`` or ``allow``."""
    if value not in FLAKY_POLICIES:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(FLAKY_POLICIES)}")
    return "allow" if value == "allow" else "fail"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity", "pytest-parity: CI-gated invariant proofs")
    options = [
        (
            "registry",
            "PATH",
            None,
            "registry of declared invariants (TOML); write it as --parity-registry=PATH. "
            "Default: parity.toml, else [tool.parity] in pyproject.toml, in the rootdir. "
            "Ini: parity_registry (relative to the rootdir).",
        ),
        (
            "gate",
            "SCOPE",
            None,
            "fail the run unless every invariant in scope is proven or waived. SCOPE (a "
            "value is required) is 'all', a milestone M (every milestone up to and "
            "including M), or 'none' (no gate, also when the ini sets one). Ini: parity_gate.",
        ),
        (
            "report",
            "PATH",
            None,
            "write the JUnit-XML evidence report to PATH. Ini: parity_report (relative to "
            "the rootdir).",
        ),
        (
            "flaky",
            "fail|allow",
            flaky_policy,
            "whether a test that passed only on a rerun may prove an invariant "
            "(default: fail). Ini: parity_flaky.",
        ),
        (
            "html",
            "PATH",
            None,
            "also write the parity page (one self-contained HTML file) to PATH. Ini: "
            "parity_html (relative to the rootdir); its links to the source: ini "
            "parity_source_url.",
        ),
    ]
    for name, metavar, kind, help_text in options:
        # --parity-gate without a value is an error that lists the scopes, not argparse's
        extra = {"nargs": "?", "const": ""} if name == "gate" else {}
        flag, dest = f"--parity-{name}", f"parity_{name}"
        group.addoption(flag, dest=dest, metavar=metavar, type=kind, help=help_text, **extra)
        parser.addini(f"parity_{name}", help_text)
    parser.addini(
        "parity_source_url",
        "the parity page's links to the source: a URL template naming {path}, and maybe "
        "{line} and {sha} (the commit, from GITHUB_SHA, CI_COMMIT_SHA, GIT_COMMIT or "
        "BUILD_SOURCEVERSION), e.g. https://github.com/OWNER/REPO/blob/{sha}/{path}#L{line}",
    )


def _ini(config: pytest.Config, name: str) -> str | None:
    value = config.getini(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _setting(config: pytest.Config, name: str) -> str | None:
    """A command-line option, else its ini twin, else None (an empty ini value is unset)."""
    value: str | None = config.getoption(name)
    return _ini(config, name) if value is None else value


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Take the date before any conftest is imported: a test suite that freezes the clock
    at import must not decide whether a waiver has expired."""
    early_config.stash[TODAY_KEY] = utc_today()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    try:
        ini_registry = _ini(config, "parity_registry")
        path = find_registry(config.rootpath, config.getoption("parity_registry"), ini_registry)
        plugins = _dormant(config) if path is None else _active(config, path)
    except ParityError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_PLUGINS_KEY] = plugins
    for plugin in plugins:
        config.pluginmanager.register(plugin)


def pytest_unconfigure(config: pytest.Config) -> None:
    for plugin in config.stash.get(_PLUGINS_KEY, []):
        config.pluginmanager.unregister(plugin)
    config.stash[_PLUGINS_KEY] = []


def _dormant(config: pytest.Config) -> list[object]:
    for name in ("parity_gate", "parity_report", "parity_html"):
        if _setting(config, name) is not None:
            raise ParityError(
                f"--{name.replace('_', '-')} (or ini {name}) is set but no pytest-parity "
                "registry was found: add parity.toml or [tool.parity] to pyproject.toml in the "
                f"rootdir ({config.rootpath}), or pass --parity-registry=PATH"
            )
    return [DormantGuard()]


def _active(config: pytest.Config, path: Path) -> list[object]:
    registry = load_registry(path)
    registry.file = repo_path(path, config.rootpath)
    config.hook.pytest_parity_registry_loaded(registry=registry)
    registry = check_registry(registry)
    collector = Collector(config, registry)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: it only collects and runs
        return [collector, FixtureWatch(config)]
    gate = _setting(config, "parity_gate")
    if gate == "":
        scopes = ", ".join(["all", *registry.milestone_ids(), "none"])
        raise ParityError(f"--parity-gate needs a SCOPE, one of: {scopes}")
    if gate == "none":
        gate = None
    if gate is not None:
        registry.scope(gate)  # validates: 'all' or a declared milestone
    flaky: FlakyPolicy = config.getoption("parity_flaky") or "fail"
    if config.getoption("parity_flaky") is None and (ini := _ini(config, "parity_flaky")):
        try:
            flaky = flaky_policy(ini)
        except argparse.ArgumentTypeError as exc:
            raise ParityError(f"parity_flaky: {exc}") from None
    outputs = _outputs(config)
    fixtures = FixtureWatch(config)
    controller = Controller(config, registry, collector, fixtures, gate, outputs, flaky)
    return [collector, fixtures, controller]


def _output_path(config: pytest.Config, name: str, others: dict[str, str]) -> str | None:
    """``--parity-report`` / ``--parity-html`` (or the ini twin, rootdir-relative), checked
    before the run: an unusable path is a usage error now, not after the tests ran."""
    path = _setting(config, name)
    if path is None:
        return None
    flag = f"--{name.replace('_', '-')}"
    if not path.strip():
        raise ParityError(f"{flag}: the path is empty; write {flag}=PATH")
    if config.getoption(name) is None:  # the ini value is rootdir-relative
        path = str(config.rootpath / path)
    if os.path.isdir(path):
        raise ParityError(f"{flag}: {path} is a directory")
    if os.path.exists(path) and not output_kind(os.stat(path).st_mode):
        raise ParityError(
            f"{flag}: {path} is not a regular file, FIFO or character device (a socket or "
            "block device is never replaced)"
        )
    for other, other_path in others.items():
        if other_path and os.path.realpath(other_path) == os.path.realpath(path):
            raise ParityError(
                f"{flag}: {path} is also the {other} path: one would overwrite the other; "
                "give them different paths"
            )
    return path


def _outputs(config: pytest.Config) -> Outputs:
    junitxml = {"--junitxml": config.getoption("xmlpath", None) or ""}
    report = _output_path(config, "parity_report", junitxml)
    page = _output_path(config, "parity_html", {**junitxml, "--parity-report": report or ""})
    links = None
    if page is not None and (template := _ini(config, "parity_source_url")):
        links = SourceLinks.parse(template, commit_from_env(), "parity_source_url")
    if report is not None or page is not None:
        report_timestamp()  # a bad SOURCE_DATE_EPOCH is an error now, not after the run
    return Outputs(report, page, links)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keywords for ``-k`` and ``parity`` markers for ``-m`` (see ``prepare_selection``).

    A plain hook of this module, so it runs after the conftests' own (they may add
    ``parity`` markers) and before pytest deselects by ``-k`` and ``-m``, the only ones
    that read them.
    """
    keywords, marks = bool(config.getoption("keyword")), bool(config.getoption("markexpr"))
    for plugin in config.stash.get(_PLUGINS_KEY, []):
        if isinstance(plugin, Collector) and (keywords or marks):
            plugin.prepare_selection(items, keywords, marks)
