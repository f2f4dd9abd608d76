"""FEEL, the expression language Camunda Modeler writes in DMN decision tables: a lark grammar of the
subset decision tables use, translated at deploy time node by node into the Python expression forms
SpiffWorkflow's DMN engine evaluates in the restricted sandbox (nothing is substituted at run time).

Input entries (simple unary tests): `-` or empty (any value); a literal ("text", numbers,
true/false, null) or a name/path (`limit`, `a.b`) meaning equality; `< x`, `<= x`, `> x`, `>= x`;
ranges `[a..b]`, `]a..b[`, `(a..b)` and the mixed forms (`[`/`]` closed or open as FEEL defines);
comma lists (any matches) and `not(...)`; `date("…")` and `date and time("…")` literals (so `date`
is FEEL's function, never a variable name).
Expressions (input expressions, output entries): names and paths, literals, `+ - * /`, unary
minus, `= != < <= > >=`, `and`/`or`/`not(…)`, parentheses and `if … then … else …`.
The translation tests the input value through the name `dmninputexpr` (the DMN engine binds it to
the evaluated input expression). Comparisons, equality and paths reuse JUEL's null-safe helpers
(juel.HELPERS): comparing with null is false, a path through null or a missing key gives null.
A unary test may also be a boolean expression over `?`, the input value (`? > 5 and ? != 7`).
Anything else (functions, `for`/`some`/`every`, `in`, lists, contexts, `instance of`, `between`,
`?` outside an input entry) is refused with a Chinese message naming the construct and the fix.
"""
from __future__ import annotations

import ast
import functools
import keyword
import re
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from yijianshi.engine.errors import ScriptError

FEEL_NAMESPACES = ("https://www.omg.org/spec/DMN/20191111/FEEL/", "http://www.omg.org/spec/FEEL/20140401",
                   "https://www.omg.org/spec/FEEL/20140401")
INPUT = "dmninputexpr"  # the name DMNEngine.evaluate binds to the input value
MAX_SOURCE = 2000

_GRAMMAR = r"""
?tests: "-"                                   -> any_
      | "not" "(" test_list ")"               -> negated
      | test_list
test_list: test ("," test)*
?test: cmp_op add_expr                        -> comparison
     | "[" add_expr ".." add_expr close_      -> closed_start
     | "]" add_expr ".." add_expr close_      -> open_start
     | "(" add_expr ".." add_expr close_      -> open_start
     | expr                                   -> equality
!cmp_op: "<=" | ">=" | "<" | ">"
!close_: "]" | "[" | ")"

?expr: ifexpr
?ifexpr: or_expr
       | "if" expr "then" expr "else" expr    -> cond
?or_expr: and_expr
        | or_expr "or" and_expr               -> or_
?and_expr: cmp_expr
         | and_expr "and" cmp_expr            -> and_
?cmp_expr: add_expr
         | add_expr rel_op add_expr           -> compare
!rel_op: "<=" | ">=" | "!=" | "<" | ">" | "="
?add_expr: mul_expr
         | add_expr add_op mul_expr           -> arith
!add_op: "+" | "-"
?mul_expr: unary
         | mul_expr mul_op unary              -> arith
!mul_op: "*" | "/"
?unary: primary
      | "-" unary                             -> neg
?primary: literal
        | path
        %NOT%
        | "date" "(" STRING ")"               -> date
        | "date" "and" "time" "(" STRING ")"  -> date_time
        | NAME "(" [args] ")"                 -> call
        | "?"                                 -> input_ref
        | "(" expr ")"
args: expr ("," expr)*
?path: NAME                                   -> var
     | path "." NAME                          -> prop
literal: STRING                               -> string
       | NUMBER                               -> number
       | "true"                               -> true
       | "false"                              -> false
       | "null"                               -> null

NAME: /[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*/
STRING: /"(?:[^"\\]|\\.)*"/
NUMBER: /[0-9]+(\.[0-9]+)?/
%ignore /[ \t\r\n]+/
"""

# LALR keeps translation linear in the text (deploys check every cell of untrusted uploads). In unary
# tests `not(...)` negates the whole cell, so only the expression grammar has the not(...) function.
_TESTS = Lark(_GRAMMAR.replace("%NOT%", ""), start="tests", parser="lalr", maybe_placeholders=True)
_EXPR = Lark(_GRAMMAR.replace("%NOT%", '| "not" "(" expr ")" -> not_'), start="expr", parser="lalr",
             maybe_placeholders=True)
_CMP = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "=": "eq", "!=": "ne"}
_ARITH = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult(), "/": ast.Div()}
_RESERVED = {"for", "some", "every", "in", "return", "satisfies", "instance", "of", "between", "function",
             "then", "else", "if", "and", "or", "not", "true", "false", "null"}
_FUNCTION_FIX = ("请改写为比较（如 < 1000、[1000..5000]）、字面量或变量，或在决策表前用脚本任务算好后作为输入，"
                 "或把决策表改为 expressionLanguage=\"python\"。")

_SYNTAX_FIX = "请检查写法（支持的写法见 README“Camunda 7 兼容性”中的 DMN 一节）。"


_TOO_DEEP = "FEEL 表达式嵌套或连写过多，过于复杂。请拆分为多列条件，或在前面的脚本任务中先算好。"


class FeelError(ScriptError):
    """A FEEL text outside the supported subset or with a syntax error (message in Chinese)."""


def _helper(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(f"_juel_{name}_", ast.Load()), list(args), [])


def _unescape(token: str) -> str:
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}

    def one(match: re.Match) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        return escapes.get(match.group(2), "\\" + match.group(2))

    return re.sub(r"\\u([0-9a-fA-F]{4})|\\(.)", one, token[1:-1])


def _date(text: str, with_time: bool) -> ast.expr:
    from datetime import date, datetime
    try:
        if with_time:
            datetime.fromisoformat(text)
        else:
            date.fromisoformat(text)
    except ValueError:
        what = "date and time" if with_time else "date"
        raise FeelError(f"FEEL {what}(\"{text}\") 不是有效的 ISO 8601 {'日期时间' if with_time else '日期'}"
                        f"（应为 {'2026-01-01T09:00:00' if with_time else '2026-01-01'}）。") from None
    # Dates compare as their ISO text, as form date fields store them.
    return ast.Constant(text)


def _interval(low_op: str, low: ast.expr, high: ast.expr, closing: Token) -> ast.expr:
    value = ast.Name(INPUT, ast.Load())
    high_op = "le" if str(closing) == "]" else "lt"
    return ast.BoolOp(ast.And(), [_helper("cmp", ast.Constant(low_op), value, low),
                                  _helper("cmp", ast.Constant(high_op), value, high)])


@v_args(inline=True)
class _ToPython(Transformer):
    """Each rule becomes the Python AST node computing it."""

    # ---- unary tests
    def any_(self) -> None:
        return None

    def test_list(self, *tests: ast.expr) -> ast.expr:
        return tests[0] if len(tests) == 1 else ast.BoolOp(ast.Or(), list(tests))

    def negated(self, tests: ast.expr) -> ast.expr:
        return ast.UnaryOp(ast.Not(), tests)

    def cmp_op(self, token: Token) -> Token:
        return token

    rel_op = add_op = mul_op = close_ = cmp_op

    def comparison(self, op: Token, value: ast.expr) -> ast.expr:
        return _helper("cmp", ast.Constant(_CMP[str(op)]), ast.Name(INPUT, ast.Load()), value)

    def closed_start(self, low: ast.expr, high: ast.expr, closing: Token) -> ast.expr:
        return _interval("ge", low, high, closing)

    def open_start(self, low: ast.expr, high: ast.expr, closing: Token) -> ast.expr:
        return _interval("gt", low, high, closing)

    def input_ref(self) -> ast.expr:
        return ast.Name(INPUT, ast.Load())

    def equality(self, value: ast.expr) -> ast.expr:
        if _uses_input(value):  # `? > 5 and ? != 7`: the test is the expression itself
            return ast.Compare(value, [ast.Is()], [ast.Constant(True)])
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
            raise FeelError("not(…) 只能包住整个条件单元格，例如 not(\"A\", \"B\")。")
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            # `true` / `false` as a test: the input is exactly that boolean
            return ast.Compare(ast.Name(INPUT, ast.Load()), [ast.Is()], [value])
        return _helper("cmp", ast.Constant("eq"), ast.Name(INPUT, ast.Load()), value)

    # ---- expressions
    def string(self, token: Token) -> ast.expr:
        return ast.Constant(_unescape(str(token)))

    def number(self, token: Token) -> ast.expr:
        text = str(token)
        return ast.Constant(int(text) if text.isdigit() else float(text))

    def true(self) -> ast.expr:
        return ast.Constant(True)

    def false(self) -> ast.expr:
        return ast.Constant(False)

    def null(self) -> ast.expr:
        return ast.Constant(None)

    def var(self, name: Token) -> ast.expr:
        text = str(name)
        if text in ("True", "False", "None"):
            raise FeelError(f"FEEL 中布尔值和空值写作 true、false、null（小写），不是“{text}”。"
                            "请改为小写，或把决策表改为 expressionLanguage=\"python\"。")
        if text in _RESERVED:
            raise FeelError(f"FEEL 的“{text}”写法不受支持。{_FUNCTION_FIX}")
        if text.startswith("_") or keyword.iskeyword(text) or text == INPUT:
            raise FeelError(f"变量名“{text}”不可用：不能以下划线开头或是 Python 保留字，请改名。")
        return ast.Name(text, ast.Load())

    def prop(self, base: ast.expr, name: Token) -> ast.expr:
        return _helper("get", base, ast.Constant(str(name)))

    def date_time(self, text: Token) -> ast.expr:
        return _date(_unescape(str(text)), True)

    def args(self, *items: ast.expr) -> list[ast.expr]:
        return list(items)

    def date(self, text: Token) -> ast.expr:
        return _date(_unescape(str(text)), False)

    def call(self, name: Token, args: list[ast.expr] | None) -> ast.expr:
        raise FeelError(f"FEEL 函数 {name}(…) 不受支持。{_FUNCTION_FIX}")

    def not_(self, operand: ast.expr) -> ast.expr:
        return ast.UnaryOp(ast.Not(), operand)

    def neg(self, operand: ast.expr) -> ast.expr:
        if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)):
            return ast.Constant(-operand.value)
        return ast.UnaryOp(ast.USub(), operand)

    def and_(self, a: ast.expr, b: ast.expr) -> ast.expr:
        return ast.BoolOp(ast.And(), [a, b])

    def or_(self, a: ast.expr, b: ast.expr) -> ast.expr:
        return ast.BoolOp(ast.Or(), [a, b])

    def cond(self, test: ast.expr, then: ast.expr, otherwise: ast.expr) -> ast.expr:
        return ast.IfExp(ast.Compare(test, [ast.Is()], [ast.Constant(True)]), then, otherwise)

    def compare(self, a: ast.expr, op: Token, b: ast.expr) -> ast.expr:
        return _helper("cmp", ast.Constant(_CMP[str(op)]), a, b)

    def arith(self, a: ast.expr, op: Token, b: ast.expr) -> ast.expr:
        return ast.BinOp(a, _ARITH[str(op)], b)


_REFUSED_WORDS = {
    "for": "FEEL 的 for 循环", "some": "FEEL 的 some 量词", "every": "FEEL 的 every 量词",
    "in": "FEEL 的 in 运算", "instance": "FEEL 的 instance of", "between": "FEEL 的 between",
    "function": "FEEL 的函数定义",
}


def _syntax_message(err: UnexpectedInput, text: str) -> str:
    words = set(re.findall(r"[A-Za-z]+", text))
    for word, what in _REFUSED_WORDS.items():
        if word in words:
            return f"{what}不受支持。{_FUNCTION_FIX}"
    spaced = re.search(r"\b([A-Za-z]+(?: [A-Za-z]+)+)\s*\(", text)
    if spaced and spaced.group(1) != "date and time":
        return f"FEEL 函数 {spaced.group(1)}(…) 不受支持。{_FUNCTION_FIX}"
    if re.match(r"not\s*\(", text):
        return "not(…) 只能包住整个条件单元格，例如 not(\"A\", \"B\")、not(< 5, [7..9])。请检查括号与写法。"
    if "{" in text or "[" in text and ".." not in text:
        return "FEEL 的列表、上下文（{…}）不受支持。请改写为字面量、比较、区间或逗号分隔的多个值。"
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return "FEEL 表达式不完整（可能缺少右括号、区间端点或操作数）。" + _SYNTAX_FIX
    column = getattr(err, "column", None)
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream or 0]
        return f"FEEL 表达式第 {column} 列：无法识别的字符“{char}”。" + _SYNTAX_FIX
    if isinstance(err, UnexpectedToken):
        return f"FEEL 表达式第 {column} 列：此处不应出现“{err.token}”。" + _SYNTAX_FIX
    return "FEEL 表达式有语法错误。" + _SYNTAX_FIX


def _uses_input(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == INPUT for n in ast.walk(node))


def _translate(text: str, parser: Lark) -> ast.expr | None:
    if len(text) > MAX_SOURCE:
        raise FeelError(f"FEEL 表达式过长（超过 {MAX_SOURCE} 个字符）。请拆分为多列条件，或在前面的脚本任务中先算好。")
    try:
        tree = parser.parse(text)
    except UnexpectedInput as err:
        raise FeelError(_syntax_message(err, text)) from None
    try:
        node = _ToPython().transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, FeelError):
            raise err.orig_exc from None
        raise
    except RecursionError:
        raise FeelError(_TOO_DEEP) from None
    return node


def _source(node: ast.expr) -> str:
    # Strings are written with \x escapes for ? and quotes, so the DMN engine's `?` rewriting (a
    # regular expression over the text) never sees either inside a literal.
    literals: list[str] = []

    class _Mark(ast.NodeTransformer):
        def visit_Constant(self, constant: ast.Constant) -> Any:
            if isinstance(constant.value, str):
                literals.append(_literal(constant.value))
                return ast.Name(f"feelstr{len(literals) - 1}x", ast.Load())
            return constant

    marked = _Mark().visit(ast.fix_missing_locations(ast.Expression(node)))
    source = ast.unparse(marked)
    return re.sub(r"\bfeelstr(\d+)x\b", lambda m: literals[int(m.group(1))], source)


def _literal(value: str) -> str:
    out = []
    for char in value:
        if char in "?'\"\\":
            out.append(f"\\x{ord(char):02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return '"' + "".join(out) + '"'


@functools.lru_cache(maxsize=4096)
def unary_tests(text: str | None) -> str | None:
    """The Python test of a FEEL input entry over `dmninputexpr`; None when it matches any value."""
    stripped = (text or "").strip()
    if not stripped:
        return None
    node = _translate(stripped, _TESTS)
    try:
        return None if node is None else _source(node)
    except RecursionError:
        raise FeelError(_TOO_DEEP) from None


@functools.lru_cache(maxsize=4096)
def expression(text: str) -> str:
    """The Python source of a FEEL expression (input expression or output entry)."""
    node = _translate(text.strip(), _EXPR)
    if node is None or _uses_input(node):
        raise FeelError("“?”（输入值）只能用在条件单元格中。请在输入表达式和结果单元格中直接写变量名。")
    try:
        return _source(node)
    except RecursionError:
        raise FeelError(_TOO_DEEP) from None
