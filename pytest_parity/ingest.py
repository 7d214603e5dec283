"""Evidence from any test runner: its JUnit XML test cases mapped onto the registry.

Pure: reads runner files (hardened like the report reader), names each test case by an
ID format, and records those the registry's ``tests`` globs (or ``--suite`` globs) name,
as pytest's own tests are recorded. The evidence is then written as a normal report.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

from .evidence import evaluate
from .files import os_reason
from .model import ParityError, TestRecord, merge_records, plural
from .reader import MAX_REPORT_BYTES, Refused, hardened_parser
from .tags import GlobMatcher, glob_regex

if TYPE_CHECKING:
    import datetime as dt

    from .model import Evidence, FlakyPolicy, Outcome, Registry

__all__ = ["ID_FIELDS", "Case", "IdFormat", "Ingested", "RunnerFile", "ingest", "read_junit"]

#: what an ``--id`` format may name, from each ``<testcase>`` (``suite``: its
#: ``<testsuite>``'s name)
ID_FIELDS = ("classname", "name", "suite", "file")
DEFAULT_ID = "{classname}::{name}"
_FIELD = re.compile(r"\{([^{}]*)\}")
#: a status or result attribute that says the test did not run (GoogleTest)
_NOT_RUN = {"notrun", "suppressed", "skipped", "disabled"}
#: what a child element of a ``<testcase>`` says (a rerun that failed, with no final
#: failure: cargo-nextest, Maven Surefire)
_CHILD_OUTCOMES: dict[str, Outcome] = {
    "failure": "failed",
    "error": "failed",
    "skipped": "skipped",
    "flakyFailure": "flaky",
    "flakyError": "flaky",
    "rerunFailure": "flaky",
    "rerunError": "flaky",
}
#: a test case's captured output, where a reason is found when its failure gives none
_OUTPUT = ("system-out", "system-err")
#: within one test case, what decides its outcome: a failure, else a skip (a test that was
#: rerun and then skipped never passed), else a rerun that passed (flaky), else passed
_RANK = {"passed": 0, "flaky": 1, "skipped": 2, "failed": 3, "not-run": 0}
#: libtest's panic line names the thread's OS ID, which differs from run to run
_THREAD_ID = re.compile(r"^(thread '[^']*') \(\d+\)")
#: expat errors that mean the document ended too soon (a test binary that crashed)
_TRUNCATED = {
    expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
    expat.errors.codes[expat.errors.XML_ERROR_PARTIAL_CHAR],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION],
}
#: expat errors where another document starts after the first one's root element
_NEXT_DOCUMENT = {
    expat.errors.codes[expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT],
    expat.errors.codes[expat.errors.XML_ERROR_MISPLACED_XML_PI],
}


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: where it is, and what it did."""

    fields: dict[str, str]
    outcome: Outcome
    reason: str = ""
    line: int | None = None


@dataclass
class RunnerFile:
    path: str
    cases: list[Case] = field(default_factory=list)
    documents: int = 0
    #: why its last document is incomplete (a crashed test binary), else ``None``
    truncated: str | None = None
    #: failures no named test case owns (a suite's own <error>, GoogleTest's global
    #: environment): they may have hit any test of the document, so nothing can vouch
    unowned: list[str] = field(default_factory=list)


def _first_line(text: str) -> str:
    stripped = text.strip()
    return _THREAD_ID.sub(r"\1", stripped.splitlines()[0][:200]) if stripped else ""


class _Cases:
    """expat handlers that collect the test cases of one document."""

    def __init__(self, found: RunnerFile) -> None:
        self.found = found
        self.depth = 0
        #: its root element began (a document may be cut after its XML declaration)
        self.started = False
        self.suites: list[str] = []
        self.case: dict[str, str] | None = None
        self.outcome: Outcome = "passed"
        self.reason = ""
        self.text: list[str] | None = None  # the body of a failure or skip, while in one

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        self.started = True
        if self.depth == 1 and name not in ("testsuites", "testsuite"):
            raise Refused(f"not JUnit XML (its root element is <{name}>)")
        if name == "property" and attrs.get("name", "").startswith("parity."):
            raise Refused(
                "an evidence report, not a test runner's JUnit XML: give it to merge, check "
                "or the other commands as it is"
            )
        if name == "testcase" and self.case is not None:
            raise Refused("not JUnit XML (a <testcase> inside a <testcase>)")
        if name == "testsuite":
            self.suites.append(attrs.get("name", ""))
        elif name in ("failure", "error") and self.case is None:
            suite = self.suites[-1] if self.suites else ""
            why = _first_line(attrs.get("message", ""))
            self.found.unowned.append(f"<{name}> in suite {suite!r}: {why}")
        elif name == "testcase":
            self.case, self.outcome, self.reason = attrs, "passed", ""
            status = {attrs.get("status", "").lower(), attrs.get("result", "").lower()}
            if status & _NOT_RUN:
                self.outcome = "skipped"
        elif self.case is not None:
            outcome = _CHILD_OUTCOMES.get(name)
            if outcome is not None and _RANK[outcome] > _RANK[self.outcome]:
                self.outcome = outcome
                self.reason = _first_line(attrs.get("message", ""))
                self.text = [] if not self.reason else None
            elif name in _OUTPUT and self.outcome != "passed" and not self.reason:
                # libtest's <failure> is empty: why it failed is in the test's output
                self.text = []

    def data(self, text: str) -> None:
        if self.text is not None:
            self.text.append(text)

    def end(self, name: str) -> None:
        self.depth -= 1
        if self.text is not None and name != "testcase":
            self.reason = _first_line("".join(self.text))
            self.text = None
        if name == "testsuite" and self.suites:
            self.suites.pop()
        elif name == "testcase" and self.case is not None:
            attrs, self.case = self.case, None
            if not attrs.get("name"):  # not a test: GoogleTest's global environment
                if self.outcome == "failed":
                    suite = self.suites[-1] if self.suites else ""
                    self.found.unowned.append(f"a test case without a name in suite {suite!r}")
                return
            # a field the runner does not write for this test case is empty
            fields = {k: attrs.get(k, "") for k in ("classname", "name", "file")}
            fields["suite"] = self.suites[-1] if self.suites else ""
            line = attrs.get("line", "")
            number = int(line) if line.isascii() and line.isdigit() else None
            self.found.cases.append(Case(fields, self.outcome, self.reason, number))


def _document(data: bytes, found: RunnerFile) -> int | None:
    """Parse the document at the start of ``data``; where the next one starts, if any."""
    handlers = _Cases(found)
    parser = hardened_parser()
    parser.StartElementHandler = handlers.start
    parser.EndElementHandler = handlers.end
    parser.CharacterDataHandler = handlers.data
    number = found.documents + 1
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        where = f"document {number}, line {exc.lineno}, column {exc.offset}"
        next_document = exc.code in _NEXT_DOCUMENT
        if next_document and handlers.depth == 0 and handlers.started:
            found.documents = number  # this one is whole; the next starts here
            return int(parser.ErrorByteIndex)
        # cut short: inside its root element, or after its XML declaration alone (libtest
        # writes that first, and nothing more when its process exits mid-run)
        ended_early = exc.code in _TRUNCATED and (handlers.depth > 0 or found.documents > 0)
        if next_document or ended_early:
            found.documents = number
            found.truncated = found.truncated or _cut_short(found.path, number)
            return int(parser.ErrorByteIndex) if next_document else None
        raise ParityError(
            f"{found.path}: not well-formed XML ({where}): {expat.ErrorString(exc.code)}"
        ) from None
    found.documents = number
    return None


def _cut_short(path: str, number: int) -> str:
    return (
        f"{path}: document {number} ends too soon (a test binary that exited or crashed "
        "mid-run, or a file cut short?)"
    )


def read_junit(path: str | os.PathLike[str]) -> RunnerFile:
    """The test cases of a runner's JUnit XML file: one document, or several one after
    another (cargo writes one per test binary). Bad input raises a one-line ParityError."""
    name = os.fspath(path)
    try:
        if stat.S_ISDIR(os.stat(name).st_mode):
            raise ParityError(f"{name}: is a directory, not a JUnit XML file")
        with open(name, "rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{name}: cannot read: {os_reason(exc)}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ParityError(f"{name}: refusing a file larger than {MAX_REPORT_BYTES} bytes")
    if not data.strip():
        raise ParityError(f"{name}: the file is empty (no JUnit XML document in it)")
    found = RunnerFile(name)
    offset: int | None = 0
    try:
        while offset is not None and data[offset:].strip():
            step = _document(data[offset:], found)
            offset = None if step is None else offset + step
    except Refused as exc:
        where = f"document {found.documents + 1}: " if found.documents else ""
        raise ParityError(f"{name}: {where}{exc}") from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding declaration
        raise ParityError(f"{name}: cannot parse as XML: {exc}") from None
    return found


@dataclass(frozen=True)
class IdFormat:
    """``--id`` and ``--prefix``: how a test case is named, e.g. ``rust/{classname}::{name}``."""

    text: str = DEFAULT_ID
    prefix: str = ""

    def __post_init__(self) -> None:
        names = _FIELD.findall(self.text)
        unknown = [name for name in names if name not in ID_FIELDS]
        if unknown or not names:
            raise ParityError(
                f"--id: {self.text!r} must name some of "
                + ", ".join(f"{{{f}}}" for f in ID_FIELDS)
                + (f", not {{{unknown[0]}}}" if unknown else "")
            )
        if "{" in _FIELD.sub("", self.text) or "}" in _FIELD.sub("", self.text):
            raise ParityError(f"--id: a lone brace in {self.text!r}")

    def of(self, case: Case) -> str:
        return self.prefix + self.text.format_map(case.fields)


@dataclass(frozen=True)
class Ingested:
    evidence: Evidence
    #: per runner file: (path, documents, test cases, recorded, an example ID)
    files: list[tuple[str, int, int, int, str]]

    def provenance(self) -> list[dict[str, Any]]:
        return [
            {"file": path, "documents": docs, "testcases": cases, "recorded": recorded}
            for path, docs, cases, recorded, _ in self.files
        ]

    def warnings(self) -> list[str]:
        """A file none of whose test cases is recorded: most likely the ``--id`` format or
        the globs are wrong, and it would prove nothing without a word."""
        said = []
        for path, _, cases, recorded, example in self.files:
            if not cases:
                said.append(f"{path}: it holds no test case")
            elif not recorded:
                shown = example if len(example) <= 80 else example[:77] + "..."
                said.append(
                    f"{path}: none of its {plural(cases, 'test case')} matches a `tests` "
                    f"glob or --suite (its IDs look like {shown!r}: are --id and --prefix "
                    "right?)"
                )
        return said


def ingest(
    files: list[RunnerFile],
    registry: Registry,
    *,
    ids: IdFormat,
    suites: list[tuple[str, str]],
    flaky: FlakyPolicy = "fail",
    today: dt.date | None = None,
    expect_documents: int = 0,
) -> Ingested:
    """The evidence of the runner files' test cases: those a ``tests`` glob of the
    registry names, or a ``suites`` glob (``(milestone, glob)``) puts in a milestone's
    gate suite. A test case seen twice counts as its least favourable outcome.

    The evidence is incomplete (no gate passes on it) when a document was cut short, a
    failure belongs to no named test case, or fewer documents than ``expect_documents``
    were read (a test binary that crashed writes none)."""
    milestones = registry.milestone_ids()
    for milestone, glob in suites:
        if milestone not in milestones:
            raise ParityError(
                f"--suite {milestone}={glob}: {milestone!r} is not a declared milestone "
                f"({', '.join(milestones)})"
            )
    suite_regexes = [(milestone, glob_regex(glob)) for milestone, glob in suites]
    matcher = GlobMatcher(registry)
    groups, stats = [], []
    for found in files:
        recorded: list[TestRecord] = []
        example = ""
        for case in found.cases:
            test_id = ids.of(case)
            example = example or test_id
            if not test_id:  # --id names only fields this runner left empty
                continue
            invariants = matcher.match(test_id)
            gate_suites = {m for m, regex in suite_regexes if regex.fullmatch(test_id)}
            if invariants or gate_suites:
                file = case.fields.get("file")
                recorded.append(
                    TestRecord(
                        test_id,
                        case.outcome,
                        tuple(sorted(invariants)),
                        tuple(sorted(gate_suites)),
                        case.reason,
                        file,
                        case.line,
                    )
                )
        groups.append(recorded)
        stats.append((found.path, found.documents, len(found.cases), len(recorded), example))
    incomplete = next((found.truncated for found in files if found.truncated), None)
    unowned = [(found.path, why) for found in files for why in found.unowned]
    if incomplete is None and unowned:
        path, why = unowned[0]
        incomplete = f"{path}: a failure no test case owns ({why})"
    documents = sum(found.documents for found in files)
    if incomplete is None and documents < expect_documents:
        incomplete = (
            f"{plural(documents, 'JUnit document')} read, {expect_documents} expected: a test "
            "binary that crashed writes none"
        )
    evidence = evaluate(
        registry, merge_records(groups), flaky=flaky, today=today, incomplete=incomplete
    )
    return Ingested(evidence, stats)
