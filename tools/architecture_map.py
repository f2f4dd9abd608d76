"""The module map in README.md's "Architecture" section, generated from the code: every package of
engine/, storage/, web/ and cli/, and each of its modules with the first sentence of its docstring.

    python tools/architecture_map.py           print the map
    python tools/architecture_map.py --write   rewrite the map between the markers in README.md

tests/test_architecture_map.py fails when README's map differs from what this prints."""
from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("engine", "storage", "web", "cli")
BEGIN = "<!-- architecture:begin -->"
END = "<!-- architecture:end -->"
README = ROOT / "README.md"
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.。])\s")
LINE = 110  # longer summaries continue on lines of their own, under the first


def summary(path: Path) -> str | None:
    """The first sentence of a module's docstring (its first paragraph, on one line); None without one."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc or not doc.strip():
        return None
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return _SENTENCE_END.split(paragraph, maxsplit=1)[0].rstrip(".")


def packages(root: Path = ROOT) -> list[Path]:
    """Every package folder below the top-level folders, in path order."""
    found = []
    for top in TOP_LEVEL:
        found += sorted(p.parent for p in (root / top).rglob("__init__.py"))
    return found


def entries(root: Path = ROOT) -> list[tuple[str, str | None]]:
    """(shown name, summary) per package and module: a package as its path, its modules indented."""
    rows: list[tuple[str, str | None]] = []
    for package in packages(root):
        rows.append((f"{package.relative_to(root).as_posix()}/", summary(package / "__init__.py")))
        for module in sorted(package.glob("*.py")):
            if module.name != "__init__.py":
                rows.append((f"  {module.name}", summary(module)))
    return rows


def missing_docstrings(root: Path = ROOT) -> list[str]:
    return [name.strip() for name, text in entries(root) if text is None]


def render(root: Path = ROOT) -> str:
    """The map as it stands between the markers: a fenced block, one line per package and module."""
    rows = entries(root)
    lines = []
    for i, (name, text) in enumerate(rows):
        if not name.startswith(" "):  # a package: its block is aligned on its own longest name
            block = [n for n, _ in rows[i:i + 1]] + [n for n, _ in _modules_after(rows, i)]
            width = max(24, max(len(n) for n in block) + 2)
        wrapped = textwrap.wrap(text or "(no docstring)", max(LINE - width, 40)) or [""]
        lines.append(f"{name:<{width}}{wrapped[0]}".rstrip())
        lines += [" " * width + more for more in wrapped[1:]]
    return "\n".join(["```", *lines, "```"])


def _modules_after(rows, i):
    for row in rows[i + 1:]:
        if not row[0].startswith(" "):
            return
        yield row


def readme_block(text: str) -> str | None:
    """What README.md has between the markers (without them), or None when a marker is missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN):end].strip("\n")


def write(readme: Path = README, root: Path = ROOT) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {BEGIN} … {END} markers")
    readme.write_text(text[:start + len(BEGIN)] + "\n" + render(root) + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--write"]:
        write()
    elif argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    else:
        print(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
