"""The registry of departments, roles and regions: the codes processes may use as candidate groups,
lane names and working-day regions, with their Chinese names. One JSON file (processes/registry.json)
that designers edit like the diagrams; `yijianshi validate`, `yijianshi deploy` and the web upload
check every process against it (or against another file chosen with --registry)."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from yijianshi.engine.errors import DefinitionError, Problem

REGISTRY_FILENAME = "registry.json"
# The project's registry: the one validate and deploy (command line and web upload) check against.
PROJECT_REGISTRY = Path(__file__).resolve().parents[2] / "processes" / REGISTRY_FILENAME
KINDS = {"department": "部门", "role": "角色", "region": "地区"}
_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Entry:
    code: str
    name: str
    kind: str  # department | role | region
    description: str = ""


@dataclass(frozen=True)
class Registry:
    path: str
    entries: dict[str, Entry]

    def name(self, code: str) -> str:
        """The Chinese name of a code (the code itself when it is not registered)."""
        entry = self.entries.get(code)
        return entry.name if entry is not None else code

    def kind(self, code: str) -> str | None:
        entry = self.entries.get(code)
        return entry.kind if entry is not None else None

    def is_group(self, code: str) -> bool:
        """A department or role: something a work item can be assigned to."""
        return self.kind(code) in ("department", "role")

    def codes(self, kind: str | None = None) -> list[str]:
        return [e.code for e in self.entries.values() if kind is None or e.kind == kind]


def parse_registry(text: str, path: str) -> Registry:
    """Read a registry file's text; DefinitionError lists every problem (file:line where known)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DefinitionError([Problem(path, err.lineno, f"登记表不是有效的 JSON：{err.msg}（第 {err.colno} 列）。")]) from None
    raw = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise DefinitionError([Problem(path, 1, "登记表必须是含 \"entries\" 列表的 JSON 对象。")])
    lines = text.splitlines()
    problems: list[Problem] = []
    entries: dict[str, Entry] = {}
    for i, item in enumerate(raw):
        code = item.get("code") if isinstance(item, dict) else None
        line = _line_of(lines, f'"code": "{code}"') if isinstance(code, str) else None
        if not isinstance(item, dict) or not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            problems.append(Problem(path, line, f"第 {i + 1} 项的代码 {code!r} 无效：须以小写字母开头，只含小写字母、数字和下划线。"))
            continue
        kind, name = item.get("kind"), item.get("name")
        if kind not in KINDS:
            problems.append(Problem(path, line, f"代码 {code} 的 kind 为 {kind!r}，只能是 {' / '.join(KINDS)}。", code))
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(path, line, f"代码 {code} 缺少中文名称 name。", code))
        if code in entries:
            problems.append(Problem(path, line, f"代码 {code} 重复登记。", code))
        if kind in KINDS and isinstance(name, str) and code not in entries:
            entries[code] = Entry(code, name.strip(), kind, str(item.get("description") or ""))
    if problems:
        raise DefinitionError(problems)
    return Registry(path, entries)


def load_registry(path: str | Path) -> Registry:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DefinitionError([Problem(str(path), None, f"无法读取登记表：{err}")]) from None
    return parse_registry(text, str(path))


def registry_for_checks(path: str | Path | None = None) -> Registry:
    """The registry that processes are validated and deployed against: the file at `path` when one is
    chosen, else the project's processes/registry.json. There is always one: a missing file is a
    DefinitionError, never a silently skipped department check."""
    chosen = Path(path) if path else PROJECT_REGISTRY
    if not chosen.is_file():
        raise DefinitionError([Problem(str(chosen), None, "找不到部门登记表：校验和部署要按登记表检查办理部门、"
                                       "角色和地区。请提供登记表文件（命令行可用 --registry 指定）。")])
    return load_registry(chosen)


@functools.cache
def shipped_registry() -> Registry:
    """The registry of the project's processes/ (read once): the one source of department and role names."""
    return load_registry(PROJECT_REGISTRY)


def find_registry(paths: Iterable[str | Path]) -> Path | None:
    """The registry.json that governs these files: in a given folder or the nearest one above a file or folder."""
    for p in map(Path, paths):
        p = p.resolve()
        for folder in ([p] if p.is_dir() else []) + list(p.parents):
            candidate = folder / REGISTRY_FILENAME
            if candidate.is_file():
                return candidate
    return None


def _line_of(lines: list[str], needle: str) -> int | None:
    return next((i + 1 for i, line in enumerate(lines) if needle in line), None)
