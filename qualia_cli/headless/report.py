"""Playthrough reports: a rich table, a verbose transcript, and JUnit XML for CI."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from qualia_cli.headless.results import FileResult, Status, TestResult

# characters XML 1.0 does not allow (model output may hold them)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.ERROR: "bold red"}


def results_table(files: list[FileResult]) -> Table:
    table = Table(title="playthroughs", show_lines=False)
    table.add_column("test", overflow="fold")
    table.add_column("turns", justify="right")
    table.add_column("checks", justify="right")
    table.add_column("result")
    table.add_column("first failure (file:line check → actual)", overflow="fold")
    for f in files:
        if f.error:
            table.add_row(str(f.path), "", "", Text("error", "bold red"), f.error)
        for t in f.tests:
            first = t.failures[0] if t.failures else ""
            table.add_row(
                f"{f.path.name}:{t.name}",
                str(len(t.turns)),
                str(t.checks_run),
                Text(t.status.value, _STYLE[t.status]),
                Text(first),
            )
    return table


def print_summary(console: Console, files: list[FileResult]) -> None:
    tests = [t for f in files for t in f.tests]
    passed = sum(t.status is Status.PASSED for t in tests)
    failed = sum(t.status is Status.FAILED for t in tests)
    errors = sum(t.status is Status.ERROR for t in tests) + sum(bool(f.error) for f in files)
    seconds = sum(f.seconds for f in files)
    style = "green" if not failed and not errors else "red"
    console.print(
        f"[{style}]{passed} passed, {failed} failed, {errors} errors[/] "
        f"in {len(files)} file{'s' if len(files) != 1 else ''} ({seconds:.1f}s)"
    )
    for f in files:
        cassette = f.cassette or {}
        skipped = cassette.get("not_recorded") or []
        if skipped:
            console.print(
                f"[yellow]{cassette['path']}: {len(skipped)} calls failed while recording and "
                f"were not recorded ({escape(skipped[0])}); record again[/]",
                markup=True,
                highlight=False,
            )
        if f.cassette and f.cassette.get("unused") and f.cassette["mode"] == "replay":
            console.print(
                f"[dim]{f.cassette['path']}: {f.cassette['unused']} recorded calls were not "
                "used (a stale cassette? re-record with --record)[/]"
            )


def print_transcript(console: Console, result: TestResult) -> None:
    """The test's turns with every check, failures marked (for -v)."""
    style = _STYLE[result.status]
    console.rule(Text(f"{result.name} — {result.status.value}", style))
    for turn in result.turns:
        console.print(Text(f"[{turn.number}] {turn.where}  {turn.step}", "dim"))
        console.print(Text(f"  Player: {turn.player}", "cyan"))
        s = turn.summary
        if s is not None and s.narration:
            console.print(Text(f"  Narrator: {s.narration}", "italic"))
        if s is not None and s.ok:
            act = f"({s.action}) " if s.action else ""
            console.print(Text(f"  {result.partner_name}: {act}{s.reply}"))
            if s.suggestions:
                shown = " | ".join(x.get("text", "") for x in s.suggestions)
                console.print(Text(f"  suggestions: {shown}", "dim"))
        if turn.failure:
            console.print(Text(f"  ✗ {turn.failure}", "bold red"))
        for c in turn.checks:
            mark, st = ("✓", "green") if c.passed else ("✗", "bold red")
            console.print(Text(f"    {mark} {c.check.source} → {c.actual}", st))
    for c in result.final:
        mark, st = ("✓", "green") if c.passed else ("✗", "bold red")
        console.print(Text(f"  final {mark} {c.check.source} → {c.actual}", st))
    if result.error:
        console.print(Text(f"  error: {result.error}", "bold red"))


def junit_xml(files: list[FileResult], *, locations: bool = False) -> ET.ElementTree:
    """One <testsuite> per file, one <testcase> per test; <failure> lists the failed checks,
    <error> a test that could not run; the transcript goes in <system-out>.

    The file is valid against the strict JUnit schema (Jenkins' ``junit-10.xsd``) unless
    ``locations`` adds ``file`` / ``line`` to each <testcase>, which GitLab, pytest-style
    readers and most CI annotators accept but the strict schema does not."""
    root = ET.Element("testsuites", name="qualia playthroughs")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for f in files:
        suite = ET.SubElement(root, "testsuite", name=str(f.path))
        counts = {"tests": len(f.tests), "failures": 0, "errors": 0, "skipped": 0}
        if f.error:
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=_classname(f.path), name="(file)")
            case.set("time", "0")
            ET.SubElement(case, "error", message=f.error, type="error").text = f.error
            counts["tests"] += 1
        for t in f.tests:
            case = ET.SubElement(suite, "testcase", classname=_classname(f.path), name=t.name)
            case.set("time", f"{t.seconds:.3f}")
            if locations:
                case.set("file", str(f.path))
                case.set("line", t.where.rsplit(":", 1)[-1])
            failures = t.failures
            if t.status is Status.FAILED:
                counts["failures"] += 1
                node = ET.SubElement(case, "failure", type="check")
                node.set("message", failures[0] if failures else "failed")
                node.text = "\n".join(failures)
            elif t.status is Status.ERROR:
                counts["errors"] += 1
                node = ET.SubElement(case, "error", type="error")
                node.set("message", (t.error or (failures[0] if failures else "error"))[:500])
                node.text = "\n".join(failures)
            ET.SubElement(case, "system-out").text = t.transcript()
        for key, value in counts.items():
            suite.set(key, str(value))
        suite.set("time", f"{f.seconds:.3f}")
        totals["tests"] += counts["tests"]
        totals["failures"] += counts["failures"]
        totals["errors"] += counts["errors"]
        total_time += f.seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    for node in root.iter():
        if node.text:
            node.text = _NOT_XML.sub("\ufffd", node.text)
        for key, value in node.attrib.items():
            node.set(key, _NOT_XML.sub("\ufffd", value))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(files: list[FileResult], path: Path, *, locations: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(files, locations=locations).write(path, encoding="utf-8", xml_declaration=True)


def _classname(path: Path) -> str:
    name = path.name
    for suffix in (".play.yaml", ".play.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
