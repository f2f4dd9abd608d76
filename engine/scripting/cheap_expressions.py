"""Expressions too simple to cost anything, evaluated in the engine's own process instead of a script
worker (a gateway condition like `approved == "true" and amount > 1000`).

An expression qualifies when it is short and made only of names, small constants, tuples/lists/sets
of those, comparisons, `and`/`or`/`not`, unary minus, attribute access and subscripts by a constant
or a name. It calls nothing and builds nothing larger than itself, so its cost is linear in its own
length plus the size of the task data it compares (already in memory): no call, no arithmetic, no
slicing, no comprehension, no f-string. Everything else goes to a worker with hard limits."""
from __future__ import annotations

import ast
import functools

MAX_SOURCE = 500
MAX_ELEMENTS = 50
MAX_INT_BITS = 64
MAX_STR = 200

_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot)
_UNARY_OPS = (ast.Not, ast.USub, ast.UAdd)


@functools.lru_cache(maxsize=4096)
def is_cheap(expression: str) -> bool:
    """Whether `expression` can be evaluated in-process without risk of an expensive C-level call."""
    if len(expression) > MAX_SOURCE:
        return False
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return False
    return _cheap(tree.body)


def _cheap(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return True
        if isinstance(value, int):
            return value.bit_length() <= MAX_INT_BITS
        return isinstance(value, str) and len(value) <= MAX_STR
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return len(node.elts) <= MAX_ELEMENTS and all(_cheap(e) for e in node.elts)
    if isinstance(node, ast.Compare):
        return all(isinstance(op, _COMPARE_OPS) for op in node.ops) and _cheap(node.left) \
            and all(_cheap(c) for c in node.comparators)
    if isinstance(node, ast.BoolOp):
        return all(_cheap(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, _UNARY_OPS) and _cheap(node.operand)
    if isinstance(node, ast.Attribute):
        return isinstance(node.ctx, ast.Load) and _cheap(node.value)
    if isinstance(node, ast.Subscript):
        index = node.slice
        return isinstance(node.ctx, ast.Load) and _cheap(node.value) \
            and isinstance(index, (ast.Constant, ast.Name)) and _cheap(index)
    return False
