"""A small PromQL checker for the alert expressions of the observability component.

It parses the subset of PromQL that alert rules use (selectors with matchers, range selectors and
`offset`, the aggregations with `by`/`without`, function calls, the binary operators with their
precedence, `bool`, `on`/`ignoring` and `group_left`/`group_right`), types each node (scalar, string,
instant vector, range vector) and reports what Prometheus itself would refuse: a syntax error, an
unknown function, a function given the wrong type (`rate` of an instant vector), an aggregation of a
range vector, a bad duration, a matcher regex that does not compile.  It also returns the metric names
the expression selects, so that a test can check each against what the exporters expose, and the labels
its result has where the expression fixes them (an aggregation `by`, a match `on`), so that a test can
check the labels an alert's annotations name.

Not a full implementation (no subqueries' step checks, no `@` modifier, no histogram literals): an
expression outside the subset is reported as an error, never accepted silently."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Labels", "Parsed", "PromQLError", "parse"]

#: The labels of a result: a known set, or None where they are those of the series selected (any).
Labels = frozenset[str] | None

SCALAR, STRING, VECTOR, RANGE = "scalar", "string", "instant vector", "range vector"

#: Functions by argument types and result.  `None` in the arguments: optional from there on.
_FUNCTIONS: dict[str, tuple[tuple[str | None, ...], str]] = {
    **{name: ((RANGE,), VECTOR) for name in (
        "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets", "absent_over_time",
        "present_over_time", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
        "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time")},
    **{name: ((VECTOR,), VECTOR) for name in (
        "abs", "absent", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sort", "sort_desc",
        "timestamp")},
    "quantile_over_time": ((SCALAR, RANGE), VECTOR),
    "predict_linear": ((RANGE, SCALAR), VECTOR),
    "histogram_quantile": ((SCALAR, VECTOR), VECTOR),
    "clamp": ((VECTOR, SCALAR, SCALAR), VECTOR),
    "clamp_min": ((VECTOR, SCALAR), VECTOR),
    "clamp_max": ((VECTOR, SCALAR), VECTOR),
    "round": ((VECTOR, None, SCALAR), VECTOR),
    "label_replace": ((VECTOR, STRING, STRING, STRING, STRING), VECTOR),
    "vector": ((SCALAR,), VECTOR),
    "scalar": ((VECTOR,), SCALAR),
    "time": ((), SCALAR),
}
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count"}
_PARAM_AGGREGATIONS = {"topk": SCALAR, "bottomk": SCALAR, "quantile": SCALAR, "count_values": STRING}
#: Binary operators by precedence, lowest first (`^` is right-associative).
_PRECEDENCE = [("or",), ("and", "unless"), ("==", "!=", "<=", "<", ">=", ">"), ("+", "-"), ("*", "/", "%", "atan2"),
               ("^",)]
_COMPARISONS = {"==", "!=", "<=", "<", ">=", ">"}
_SET_OPS = {"and", "or", "unless"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<duration>(?:[0-9]+(?:ms|s|m|h|d|w|y))+)(?![A-Za-z0-9_:])
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z_:])
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){}\[\],:])
""", re.VERBOSE)


class PromQLError(ValueError):
    """An expression that Prometheus would refuse, with the offset of the fault."""


@dataclass
class Parsed:
    """What a checked expression selects."""

    metrics: set[str] = field(default_factory=set)
    result: str = VECTOR
    labels: Labels = None


def parse(text: str) -> Parsed:
    """Check `text` as a PromQL expression; raise :class:`PromQLError` naming the fault."""
    parser = _Parser(text)
    result = parser.expression()
    if parser.peek() is not None:
        parser.fail(f"unexpected {parser.peek()!r} after the expression")
    return Parsed(parser.metrics, result, parser.out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        self.metrics: set[str] = set()
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise PromQLError(f"cannot read {text[position:position + 10]!r} at offset {position}")
            if match.lastgroup != "space":
                self.tokens.append((match.lastgroup or "", match.group(), position))
            position = match.end()
        self.index = 0
        #: The labels of the node parsed last (each parsing method sets it for the node it returns).
        self.out: Labels = None

    # --- tokens -----------------------------------------------------------------------------------------

    def fail(self, message: str) -> None:
        offset = self.tokens[self.index][2] if self.index < len(self.tokens) else len(self.text)
        raise PromQLError(f"{message} at offset {offset} of {self.text!r}")

    def peek(self, ahead: int = 0) -> str | None:
        at = self.index + ahead
        return self.tokens[at][1] if at < len(self.tokens) else None

    def kind(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            self.fail(f"expected {expected or 'more'}, found {token!r}")
        self.index += 1
        return token or ""

    def labels(self) -> list[str]:
        self.take("(")
        names: list[str] = []
        while self.peek() != ")":
            if self.kind() != "ident":
                self.fail("expected a label name")
            names.append(self.take())
            if self.peek() == ",":
                self.take(",")
            elif self.peek() != ")":
                self.fail("expected , or )")
        self.take(")")
        return names

    # --- expressions ------------------------------------------------------------------------------------

    def expression(self, level: int = 0) -> str:
        if level == len(_PRECEDENCE):
            return self.unary()
        left = self.expression(level + 1)
        while self.peek() in _PRECEDENCE[level]:
            left_labels = self.out
            op = self.take()
            returns_bool = False
            if self.peek() == "bool":
                if op not in _COMPARISONS:
                    self.fail("bool only follows a comparison")
                self.take()
                returns_bool = True
            matching: tuple[str, frozenset[str], str | None, frozenset[str]] | None = None
            if self.peek() in ("on", "ignoring"):
                how, names = self.take(), frozenset(self.labels())
                group, extra = None, frozenset[str]()
                if self.peek() in ("group_left", "group_right"):
                    group = self.take()
                    if self.peek() == "(":
                        extra = frozenset(self.labels())
                matching = (how, names, group, extra)
            # `^` is right-associative: its right side is parsed at its own level.
            right = self.expression(level if op == "^" else level + 1)
            result = self.binary(op, left, right, returns_bool)
            self.out = _binary_labels(op, (left, left_labels), (right, self.out), returns_bool, matching)
            left = result
        return left

    def binary(self, op: str, left: str, right: str, returns_bool: bool) -> str:
        if RANGE in (left, right) or STRING in (left, right):
            self.fail(f"{op} of a {left} and a {right}")
        if op in _SET_OPS and SCALAR in (left, right):
            self.fail(f"{op} needs two instant vectors")
        if op in _COMPARISONS and left == right == SCALAR and not returns_bool:
            self.fail("a comparison of two scalars needs bool")
        return VECTOR if VECTOR in (left, right) else SCALAR

    def unary(self) -> str:  # the sign keeps the operand's labels
        if self.peek() in ("-", "+"):
            self.take()
            operand = self.unary()
            if operand in (RANGE, STRING):
                self.fail(f"unary sign on a {operand}")
            return operand
        return self.postfix()

    def postfix(self) -> str:
        result = self.primary()
        if self.peek() == "[":
            if result != VECTOR:
                self.fail(f"a range of a {result}")
            self.take("[")
            self.duration()
            if self.peek() == ":":
                self.fail("subqueries are outside the checked subset")
            self.take("]")
            result = RANGE
        if self.peek() == "offset":
            self.take()
            if self.peek() == "-":
                self.take()
            self.duration()
        return result

    def duration(self) -> None:
        if self.kind() != "duration":
            self.fail(f"expected a duration, found {self.peek()!r}")
        self.take()

    def primary(self) -> str:
        token, kind = self.peek(), self.kind()
        if token is None:
            self.fail("unexpected end")
        if kind in ("number", "duration"):
            if kind == "duration":
                self.fail("a duration outside a range")
            self.take()
            self.out = frozenset()
            return SCALAR
        if kind == "string":
            self.take()
            self.out = frozenset()
            return STRING
        if token == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        if token == "{":
            self.matchers()
            self.out = None
            return VECTOR
        if kind != "ident" or token in _KEYWORDS or any(token in ops for ops in _PRECEDENCE):
            self.fail(f"unexpected {token!r}")
        assert token is not None
        if token in _AGGREGATIONS or token in _PARAM_AGGREGATIONS:
            return self.aggregation(token)
        if self.peek(1) == "(":
            return self.call(token)
        self.take()
        self.metrics.add(token)
        if self.peek() == "{":
            self.matchers()
        self.out = None
        return VECTOR

    def matchers(self) -> None:
        self.take("{")
        while self.peek() != "}":
            if self.kind() != "ident":
                self.fail("expected a label name")
            self.take()
            op = self.take()
            if op not in ("=", "!=", "=~", "!~"):
                self.fail(f"{op!r} is not a label matcher")
            if self.kind() != "string":
                self.fail("a label matcher needs a quoted value")
            value = self.take()[1:-1]
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    self.fail(f"bad regex {value!r}: {exc}")
            if self.peek() == ",":
                self.take(",")
            elif self.peek() != "}":
                self.fail("expected , or }")
        self.take("}")

    def aggregation(self, name: str) -> str:
        self.take()
        grouping: tuple[str, list[str]] | None = None
        if self.peek() in ("by", "without"):
            grouping = (self.take(), self.labels())
        self.take("(")
        if name in _PARAM_AGGREGATIONS:
            parameter = self.expression()
            if parameter != _PARAM_AGGREGATIONS[name]:
                self.fail(f"{name} takes first: {_PARAM_AGGREGATIONS[name]}, not: {parameter}")
            self.take(",")
        operand = self.expression()
        operand_labels = self.out
        if operand != VECTOR:
            self.fail(f"{name} of a {operand}")
        self.take(")")
        if self.peek() in ("by", "without"):
            grouping = (self.take(), self.labels())
        if name in ("topk", "bottomk"):
            self.out = operand_labels  # a selection of the operand's series, labels and all
        elif name == "count_values":
            self.out = None  # adds a label its parameter names
        elif grouping is None:
            self.out = frozenset()
        elif grouping[0] == "by":
            self.out = frozenset(grouping[1])
        else:
            self.out = None if operand_labels is None else operand_labels - set(grouping[1])
        return VECTOR

    def call(self, name: str) -> str:
        if name not in _FUNCTIONS:
            self.fail(f"unknown function {name}")
        expected, result = _FUNCTIONS[name]
        self.take()
        self.take("(")
        given: list[str] = []
        given_labels: list[Labels] = []
        while self.peek() != ")":
            given.append(self.expression())
            given_labels.append(self.out)
            if self.peek() == ",":
                self.take(",")
            elif self.peek() != ")":
                self.fail("expected , or )")
        self.take(")")
        required = expected.index(None) if None in expected else len(expected)
        wanted = [t for t in expected if t is not None]
        if not required <= len(given) <= len(wanted):
            self.fail(f"{name} takes {required} to {len(wanted)} arguments, given {len(given)}")
        for position, (have, want) in enumerate(zip(given, wanted, strict=False)):
            if have != want:
                self.fail(f"argument {position + 1} of {name} must be: {want}, not: {have}")
        self.out = _call_labels(name, given, given_labels)
        return result


def _call_labels(name: str, given: list[str], labels: list[Labels]) -> Labels:
    """The labels of a function's result: those of its vector argument (less `le` for a quantile of
    buckets), none for a scalar's, unknown where the function makes or renames labels."""
    if name in ("label_replace", "absent", "absent_over_time"):
        return None
    vectors = [lab for kind, lab in zip(given, labels, strict=True) if kind in (VECTOR, RANGE)]
    if not vectors:
        return frozenset()
    if name == "histogram_quantile":
        return None if vectors[0] is None else vectors[0] - {"le"}
    return vectors[0]


def _binary_labels(op: str, left: tuple[str, Labels], right: tuple[str, Labels], returns_bool: bool,
                   matching: tuple[str, frozenset[str], str | None, frozenset[str]] | None) -> Labels:
    """The labels of a binary operation's result, as Prometheus forms them."""
    (left_kind, left_labels), (right_kind, right_labels) = left, right
    if left_kind != VECTOR or right_kind != VECTOR:  # a vector and a scalar: the vector's labels
        return left_labels if left_kind == VECTOR else right_labels if right_kind == VECTOR else frozenset()
    if op in ("and", "unless"):
        return left_labels
    if op == "or":
        return None
    if op in _COMPARISONS and not returns_bool:  # a filter: the left side's series as they are
        return left_labels
    if matching is None:
        return left_labels
    how, names, group, extra = matching
    if group == "group_left":
        return None if left_labels is None else left_labels | extra
    if group == "group_right":
        return None if right_labels is None else right_labels | extra
    if how == "on":
        return names
    return None if left_labels is None else left_labels - names
