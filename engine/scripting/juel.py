"""Camunda's expression language (JUEL, `${...}` / `#{...}`) for conditions, timers, due dates and
candidate groups: a lark grammar of the supported subset, translated node by node into a Python
expression AST whose source the restricted sandbox then compiles and runs like any Python expression
(so its size and time guards apply unchanged).

Supported: variables; `a.b` and `a['b']` on dicts (a missing key or a null base gives null, like
Camunda's map resolver) and `a[0]` on lists; literals (strings in '' or "", integers, decimals,
true/false/null); `!`/`not`, `&&`/`and`, `||`/`or` (short-circuit), `==`/`eq`, `!=`/`ne`, `<`/`lt`,
`>`/`gt`, `<=`/`le`, `>=`/`ge`, `empty`, `+ - * / div % mod`, unary minus and `? :`; the functions in
FUNCTIONS; composite text templates (`unit:${lead_department}`, `${a}-${b}`: text around and between
`${...}` parts, each part's value turned into text, null as "", and joined — Camunda's composite
expressions). JUEL's coercions are followed where they matter for business rules: comparing a number
with a string compares numbers, a boolean with a string compares booleans, arithmetic treats null and
"" as 0, `/` and `div` divide without truncating (5 div 2 is 2.5), `%`/`mod` keep the dividend's sign.
Refused with a message naming the fix: Camunda engine objects (`execution`, method calls such as
`execution.getVariable('x')`), unknown functions, lambdas and assignments.
"""
from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from yijianshi.engine.errors import ScriptError

# JUEL function -> the engine function (engine/scripting/functions.py, deadlines/calendar_holder.py) it
# calls. Each returns an ISO string, so a timeDate written `${workingDays(7)}` needs nothing else.
FUNCTIONS: dict[str, str] = {
    "workingDays": "working_days",          # the time n working days from now (+08:00)
    "addWorkingDays": "add_working_days",   # addWorkingDays(start, n): n working days after start
    "warningBefore": "warning_before",      # warningBefore(n, before): `before` working days ahead of the limit
    "isWorkingDay": "is_working_day",       # isWorkingDay(day)
    "now": "now_iso",                       # the command's time as an ISO string
    "today": "today",                       # the command's date, YYYY-MM-DD
}
# Camunda engine objects and built-ins that exist only inside Camunda's own engine.
ENGINE_OBJECTS = ("execution", "variableScope", "authenticatedUserId", "processEngine", "processEngineServices",
                  "currentUser", "currentUserGroups")

_GRAMMAR = r"""
?start: expr
?expr: ternary
?ternary: or_expr
        | or_expr "?" ternary ":" ternary    -> cond
?or_expr: and_expr
        | or_expr ("||" | "or") and_expr     -> or_
?and_expr: eq_expr
         | and_expr ("&&" | "and") eq_expr   -> and_
?eq_expr: rel_expr
        | eq_expr eq_op rel_expr             -> compare
?rel_expr: add_expr
         | rel_expr rel_op add_expr          -> compare
?add_expr: mul_expr
         | add_expr add_op mul_expr          -> arith
?mul_expr: unary
         | mul_expr mul_op unary             -> arith
?unary: value
      | "-" unary                            -> neg
      | ("!" | "not") unary                  -> not_
      | "empty" unary                        -> empty
?value: primary
      | value "." IDENT                      -> prop
      | value "[" expr "]"                   -> index
      | value "." IDENT "(" [args] ")"       -> method
?primary: literal
        | IDENT                              -> var
        | IDENT "(" [args] ")"               -> call
        | "(" expr ")"
args: expr ("," expr)*
!eq_op: "==" | "!=" | "eq" | "ne"
!rel_op: "<=" | ">=" | "<" | ">" | "le" | "ge" | "lt" | "gt"
!add_op: "+" | "-"
!mul_op: "*" | "/" | "%" | "div" | "mod"
literal: STRING                              -> string
       | NUMBER                              -> number
       | "true"                              -> true
       | "false"                             -> false
       | "null"                              -> null

IDENT: /[A-Za-z_$][A-Za-z0-9_$]*/
STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
NUMBER: /[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/ | /\.[0-9]+([eE][+-]?[0-9]+)?/
%ignore /[ \t\r\n]+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True)
_WRAPPED = re.compile(r"\A\s*[$#]\{(.*)\}\s*\Z", re.S)
_CMP_NAMES = {"==": "eq", "!=": "ne", "<": "lt", ">": "gt", "<=": "le", ">=": "ge"}
_ARITH = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult(), "/": ast.Div(), "div": ast.Div()}
MAX_SOURCE = 2000  # characters: a condition is a line, not a program


class JuelError(ScriptError):
    """A JUEL expression that does not parse or uses a construct this engine refuses (message in Chinese)."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


def is_juel(text: str | None) -> bool:
    """Whether a BPMN expression is written in JUEL (`${...}` or `#{...}`) rather than in Python."""
    stripped = (text or "").strip()
    if stripped.startswith(("${", "#{")):
        return True
    if "${" not in stripped and "#{" not in stripped:
        return False
    try:  # text around a ${...} (a composite template): JUEL, refused with its own message
        ast.parse(stripped, mode="eval")
    except SyntaxError:
        return True
    return False  # a Python expression with "${" inside a string literal


# ---- run-time helpers the translation calls (they take untrusted values; they never call into them) --

def _number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"布尔值 {str(value).lower()} 不能参与算术运算")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
        except ValueError:
            pass
    raise ValueError(f"无法把 {_show(value)} 当作数字")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _boolean(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    raise ValueError(f"无法把 {_show(value)} 当作布尔值（true/false）")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    if _is_number(a) or _is_number(b):
        return _number(a) == _number(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return _boolean(a) == _boolean(b)
    if isinstance(a, str) or isinstance(b, str):
        return _text(a) == _text(b)
    return bool(a == b)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return _equal(a, b)
    if op == "ne":
        return not _equal(a, b)
    if a is None or b is None:
        return False
    if _is_number(a) or _is_number(b):
        a, b = _number(a), _number(b)
    elif isinstance(a, str) != isinstance(b, str):
        a, b = _text(a), _text(b)
    try:
        return {"lt": a < b, "gt": a > b, "le": a <= b, "ge": a >= b}[op] if op in ("lt", "gt", "le", "ge") \
            else False
    except TypeError:
        raise ValueError(f"无法比较 {_show(a)} 和 {_show(b)}") from None


def _remainder(a: Any, b: Any) -> int | float:
    x, y = _number(a), _number(b)
    if isinstance(x, int) and isinstance(y, int):
        if y == 0:
            raise ValueError("取余运算的除数为 0")
        r = abs(x) % abs(y)
        return r if x >= 0 else -r
    return math.fmod(x, y)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, dict, set, frozenset)):
        return len(value) == 0
    return False


def _property(base: Any, key: Any) -> Any:
    if base is None:
        return None
    if isinstance(base, dict):
        return base.get(key)
    if isinstance(base, (list, tuple)):
        index = _number(key)
        if not isinstance(index, int):
            raise ValueError(f"列表下标必须是整数，不能是 {_show(key)}")
        return base[index] if 0 <= index < len(base) else None
    raise ValueError(f"只能读取字典的属性或列表的元素，{_show(base)} 不是字典或列表")


def _concat(*parts: Any) -> str:
    """A composite template's value: each part as text (null as ""), joined."""
    return "".join("" if p is None else _text(p) for p in parts)


HELPERS: dict[str, Any] = {
    "_juel_num_": _number, "_juel_bool_": _boolean, "_juel_cmp_": _compare, "_juel_mod_": _remainder,
    "_juel_empty_": _empty, "_juel_get_": _property, "_juel_concat_": _concat,
}


# ---- parse tree -> Python AST ------------------------------------------------------------------------

def _helper(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(f"_juel_{name}_", ast.Load()), list(args), [])


def _unescape(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: m.group(1) if m.group(1) in "\\'\"" else m.group(0), body)


@v_args(inline=True)
class _ToPython(Transformer):
    """Each rule becomes the Python AST node computing it."""

    def string(self, token: Token) -> ast.expr:
        return ast.Constant(_unescape(str(token)))

    def number(self, token: Token) -> ast.expr:
        text = str(token)
        if re.fullmatch(r"[0-9]+", text):
            return ast.Constant(int(text))
        return ast.Constant(float(text))

    def true(self) -> ast.expr:
        return ast.Constant(True)

    def false(self) -> ast.expr:
        return ast.Constant(False)

    def null(self) -> ast.expr:
        return ast.Constant(None)

    def var(self, name: Token) -> ast.expr:
        if str(name) in ENGINE_OBJECTS:
            raise JuelError(f"“{name}”是 Camunda 引擎内部对象，本引擎不提供。请直接写流程变量名"
                            "（例如把 ${execution.getVariable('x')} 写成 ${x}）。", name.column)
        if str(name).startswith("_") or "$" in str(name) or keyword.iskeyword(str(name)):
            raise JuelError(f"变量名“{name}”不可用：不能以下划线开头、包含 $ 或是保留字。", name.column)
        return ast.Name(str(name), ast.Load())

    def prop(self, base: ast.expr, name: Token) -> ast.expr:
        return _helper("get", base, ast.Constant(str(name)))

    def index(self, base: ast.expr, key: ast.expr) -> ast.expr:
        return _helper("get", base, key)

    def method(self, base: ast.expr, name: Token, args: Any) -> ast.expr:
        raise JuelError(f"不支持调用方法“{name}(…)”：Camunda 的 Java 对象方法在本引擎中不可用。"
                        "请直接写变量名（例如把 ${execution.getVariable('x')} 写成 ${x}），"
                        f"或使用支持的函数：{', '.join(FUNCTIONS)}。", name.column)

    def args(self, *items: ast.expr) -> list[ast.expr]:
        return list(items)

    def call(self, name: Token, args: list[ast.expr] | None) -> ast.expr:
        target = FUNCTIONS.get(str(name))
        if target is None:
            raise JuelError(f"不支持的函数“{name}”。可用的函数：{', '.join(FUNCTIONS)}。", name.column)
        return ast.Call(ast.Name(target, ast.Load()), list(args or []), [])

    def eq_op(self, token: Token) -> Token:
        return token

    rel_op = add_op = mul_op = eq_op

    def neg(self, operand: ast.expr) -> ast.expr:
        return ast.UnaryOp(ast.USub(), _helper("num", operand))

    def not_(self, operand: ast.expr) -> ast.expr:
        return ast.UnaryOp(ast.Not(), _helper("bool", operand))

    def empty(self, operand: ast.expr) -> ast.expr:
        return _helper("empty", operand)

    def and_(self, a: ast.expr, b: ast.expr) -> ast.expr:
        return ast.BoolOp(ast.And(), [_helper("bool", a), _helper("bool", b)])

    def or_(self, a: ast.expr, b: ast.expr) -> ast.expr:
        return ast.BoolOp(ast.Or(), [_helper("bool", a), _helper("bool", b)])

    def cond(self, test: ast.expr, then: ast.expr, otherwise: ast.expr) -> ast.expr:
        return ast.IfExp(_helper("bool", test), then, otherwise)

    def compare(self, a: ast.expr, op: Token, b: ast.expr) -> ast.expr:
        return _helper("cmp", ast.Constant(_CMP_NAMES.get(str(op), str(op))), a, b)

    def arith(self, a: ast.expr, op: Token, b: ast.expr) -> ast.expr:
        if str(op) in ("%", "mod"):
            return _helper("mod", a, b)
        # Plain BinOps: the sandbox's policy guards `*` like any Python multiplication.
        return ast.BinOp(_helper("num", a), _ARITH[str(op)], _helper("num", b))


def _syntax_message(err: UnexpectedInput, body: str) -> tuple[str, int]:
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return "表达式不完整（可能缺少右括号、操作数或 ? : 的一部分）", len(body) + 1  # at the closing }
    column = getattr(err, "column", None) or len(body) + 1
    if isinstance(err, UnexpectedCharacters):
        char = body[err.pos_in_stream or 0]
        if char == "=":
            return "不支持赋值“=”，比较相等请用 == 或 eq", column
        return f"无法识别的字符“{char}”", column
    if isinstance(err, UnexpectedToken):
        word = str(err.token)
        return f"此处不应出现“{word}”", column
    return "语法错误", column


def _template_parts(text: str) -> list[tuple[str, int]]:
    """A composite template cut into literal text and `${...}` parts: (text, column of the part's
    first character, 1-based; 0 for literal text). A `}` inside a quoted string does not close a part."""
    parts: list[tuple[str, int]] = []
    i, literal = 0, ""
    while i < len(text):
        if text[i] in "$#" and text.startswith("{", i + 1):
            j, quote = i + 2, None
            while j < len(text):
                c = text[j]
                if quote:
                    if c == "\\":
                        j += 1
                    elif c == quote:
                        quote = None
                elif c in "'\"":
                    quote = c
                elif c == "}":
                    break
                j += 1
            if j >= len(text):
                raise JuelError(f"第 {i + 1} 列的 ${{ 没有对应的右花括号 }}。", i + 1)
            if literal:
                parts.append((literal, 0))
                literal = ""
            parts.append((text[i:j + 1], i + 1))
            i = j + 1
        else:
            literal += text[i]
            i += 1
    if literal:
        parts.append((literal, 0))
    return parts


def _one(text: str, offset: int) -> ast.expr:
    """The Python AST of one `${...}` part starting at 0-based `offset` of the original text."""
    body = text[2:-1]
    offset += 2
    if not body.strip():
        raise JuelError("${} 中没有表达式。", offset + 1)
    try:
        tree = _PARSER.parse(body)
    except UnexpectedInput as err:
        message, column = _syntax_message(err, body)
        raise JuelError(f"JUEL 表达式第 {offset + column} 列：{message}。", offset + column) from None
    try:
        return _ToPython().transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, JuelError):
            cause = err.orig_exc
            at = offset + cause.column if cause.column else None
            where = f"JUEL 表达式第 {at} 列：" if at else ""
            raise JuelError(f"{where}{cause}", at) from None
        raise


@functools.lru_cache(maxsize=4096)
def to_python(text: str) -> str:
    """The Python source computing a `${...}`/`#{...}` JUEL expression or a composite template of
    text and `${...}` parts (a string); JuelError (Chinese, with the column counted in the original
    text) when it does not parse or is refused."""
    if len(text) > MAX_SOURCE:
        raise JuelError(f"表达式过长（超过 {MAX_SOURCE} 个字符）。")
    match = _WRAPPED.match(text)
    if match is not None and len(_template_parts(text.strip())) == 1:
        start = text.index(text.strip()[:2])
        node = _one(text.strip(), start)
    else:
        parts = _template_parts(text)
        if not any(column for _, column in parts):
            raise JuelError("表达式中没有 ${…}。", 1)
        node = _helper("concat", *[_one(part, column - 1) if column else ast.Constant(part)
                                   for part, column in parts])
    expression = ast.fix_missing_locations(ast.Expression(node))
    return ast.unparse(expression)


def as_python(text: str) -> str:
    """The Python source of an expression written in either language (JuelError for bad JUEL)."""
    return to_python(text.strip()) if is_juel(text) else text
