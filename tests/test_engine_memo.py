"""Messages and verdicts are memoised by the values of the fact fields they read: a memo hit
must give exactly the text (and verdict) a fresh CEL evaluation gives."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.policy import celrt as cel
from scanner.policy.functions import FUNCTIONS
from scanner.policy.rules import Expr, FactField, _template, freeze

VALUES: list[Any] = [
    True,
    1,
    1.0,
    0,
    False,
    None,
    "1",
    "",
    [],
    {},
    {"a": 1},
    [["a", 1]],
    [("a", 1)],
    ["x", "y"],
    {"k": [1, True]},
    2**70,
]


def test_freeze_tells_apart_values_cel_tells_apart() -> None:
    frozen = [freeze(v) for v in VALUES]
    for i, a in enumerate(frozen):
        for j, b in enumerate(frozen):
            same = VALUES[i] == VALUES[j] and type(VALUES[i]) is type(VALUES[j])
            if (
                i != j
                and not same
                and not (
                    isinstance(VALUES[i], list | tuple) and isinstance(VALUES[j], list | tuple)
                )
            ):
                assert a != b, (VALUES[i], VALUES[j])


def _ctx(fact: dict[str, Any]) -> Any:
    ctx = cel.Context(variables={"baseline": {}, "params": {}}, functions=dict(FUNCTIONS))
    ctx.set_variable_resolver(lambda name: fact if name == "fact" else None)
    return ctx


@pytest.mark.parametrize("value", VALUES)
def test_a_plain_field_reads_as_cel_would(value: Any) -> None:
    template = _template("v={{fact.v}}", "t.yml", 1)
    assert isinstance(template.parts[1], FactField)
    fact = {"v": value}
    through_cel = template.render(_ctx(fact))  # no fact given: CEL evaluates the part
    assert template.render(_ctx(fact), fact) == through_cel


def test_memo_is_keyed_by_every_field_an_expression_reads() -> None:
    template = _template(
        "{{fact.a == true ? 'yes' : 'no'}} {{fact.b.size()}} {{size(fact)}}", "t.yml", 1
    )
    a, b, bare = template.parts[0], template.parts[2], template.parts[4]
    assert isinstance(a, Expr) and a.fields == ("a",)
    assert isinstance(b, Expr) and b.fields == ("b",)
    assert isinstance(bare, Expr) and bare.fields is None  # `fact` used whole: no memo
    memo: dict[Any, str] = {}
    outs = []
    for fact in ({"a": True, "b": [1]}, {"a": 1, "b": [1]}, {"a": True, "b": [1, 2]}):
        outs.append(template.render(_ctx(fact), fact, memo))
        assert outs[-1] == template.render(_ctx(fact))
    # CEL: 1 == true is false (no cross-type equality); a memo keyed on Python equality
    # would have answered "yes"
    assert outs == ["yes 1 2", "no 1 2", "yes 2 2"]
