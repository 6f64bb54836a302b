"""The JSON layout of SARIF and JSON reports (scanner/report/jsonfmt.py): the same data as
json.dumps gives, indented, one long-list item per line, whatever the data holds."""

from __future__ import annotations

import json

from scanner.report import jsonfmt

KEYS = frozenset({"results", "findings"})


def test_same_data_one_item_per_line() -> None:
    doc = {
        "version": "2.1.0",
        "runs": [{"tool": {"name": "t"}, "results": [{"a": 1}, {"b": [1, 2]}], "x": []}],
        "findings": [],
    }
    text = jsonfmt.dumps(doc, KEYS)
    assert json.loads(text) == doc
    lines = text.splitlines()
    assert '      "results": [' in lines
    assert '        {"a":1},' in lines and '        {"b":[1,2]}' in lines
    assert '  "findings": []' in lines


def test_text_that_looks_like_a_placeholder_stays_text() -> None:
    """Repository text (messages, paths) cannot steer where the lists are put."""
    hostile = [f"\x00{'0' * 32}-{i}\x00" for i in range(3)] + ['"results": [', "\\u0000"]
    doc = {
        "runs": [
            {
                "invocations": [{"toolExecutionNotifications": hostile}],
                "results": [{"message": {"text": h}} for h in hostile],
            }
        ]
    }
    text = jsonfmt.dumps(doc, KEYS)
    assert json.loads(text) == doc


def test_nested_long_lists() -> None:
    doc = {"results": [{"results": [1, 2]}, {"findings": [{"x": "y"}]}], "other": {"a": [1]}}
    assert json.loads(jsonfmt.dumps(doc, KEYS)) == doc
