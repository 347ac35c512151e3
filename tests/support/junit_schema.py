"""Check a JUnit XML tree against what CI servers read: the strict schema (Jenkins'
``junit-10.xsd``, vendored in tests/data/junit/, checked with ``xmlschema``), plus what a schema
cannot say: numeric counts that match the children, at most one outcome per test case."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

XSD = Path(__file__).parent.parent / "data" / "junit" / "junit-10.xsd"


@functools.cache
def strict_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def validate_strict(root: ET.Element) -> None:
    """Raises ``xmlschema.XMLSchemaValidationError`` where junit-10.xsd rejects the tree."""
    strict_schema().validate(root)


SUITES_ATTRS = {"name", "tests", "failures", "errors", "skipped", "disabled", "time"}
SUITE_ATTRS = {
    "name",
    "tests",
    "failures",
    "errors",
    "skipped",
    "disabled",
    "time",
    "timestamp",
    "hostname",
    "id",
    "package",
    "file",
}
CASE_ATTRS = {"name", "classname", "time", "file", "line"}
OUTCOMES = {"failure", "error", "skipped"}


def _number(node: ET.Element, attr: str) -> float:
    value = node.get(attr)
    assert value is not None, f"<{node.tag}> lacks {attr}"
    return float(value)  # raises on a non-number


def validate_junit(root: ET.Element, *, strict: bool = True) -> None:
    """``strict``: also valid against junit-10.xsd (off for ``--junit-locations`` files)."""
    if strict:
        validate_strict(root)
    assert root.tag == "testsuites", root.tag
    assert set(root.attrib) <= SUITES_ATTRS, set(root.attrib) - SUITES_ATTRS
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        assert suite.tag == "testsuite", suite.tag
        assert set(suite.attrib) <= SUITE_ATTRS, set(suite.attrib) - SUITE_ATTRS
        assert suite.get("name")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite:
            if case.tag in ("properties", "system-out", "system-err"):
                continue
            assert case.tag == "testcase", case.tag
            assert set(case.attrib) <= CASE_ATTRS, set(case.attrib) - CASE_ATTRS
            assert case.get("name") and _number(case, "time") >= 0
            counts["tests"] += 1
            outcomes = [c for c in case if c.tag in OUTCOMES]
            assert len(outcomes) <= 1, "a test case has at most one outcome"
            for child in case:
                assert child.tag in OUTCOMES | {"system-out", "system-err"}, child.tag
                if child.tag in ("failure", "error"):
                    assert set(child.attrib) <= {"message", "type"}
                    counts["failures" if child.tag == "failure" else "errors"] += 1
                if child.tag == "skipped":
                    counts["skipped"] += 1
        for key, value in counts.items():
            if suite.get(key) is not None or key != "skipped":
                assert _number(suite, key) == value, (suite.get("name"), key)
        _number(suite, "time")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        if root.get(key) is not None:
            assert _number(root, key) == value, key
