"""README's module map is the one tools/architecture_map.py generates from the code: a module added,
renamed or removed, or a docstring changed, fails here until the map is regenerated."""
from __future__ import annotations

from tools import architecture_map as amap

REGENERATE = "run `python tools/architecture_map.py --write` and commit README.md"


def test_every_module_says_what_it_holds():
    assert amap.missing_docstrings() == [], "give these modules a docstring saying what they hold"


def test_readme_map_matches_the_code():
    block = amap.readme_block(amap.README.read_text(encoding="utf-8"))
    assert block is not None, f"README.md lost its {amap.BEGIN} / {amap.END} markers"
    expected = amap.render()
    if block != expected:
        have, want = set(block.splitlines()), set(expected.splitlines())
        stale = sorted(have - want)[:5]
        new = sorted(want - have)[:5]
        raise AssertionError(f"README.md's module map is out of date; {REGENERATE}.\n"
                             f"lines to drop: {stale}\nlines to add: {new}")


def test_the_map_lists_every_module_once(tmp_path):
    (tmp_path / "engine" / "things").mkdir(parents=True)
    for top in ("storage", "web", "cli"):
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text(f'"""The {top}."""\n')
    (tmp_path / "engine" / "__init__.py").write_text('"""The domain."""\n')
    (tmp_path / "engine" / "things" / "__init__.py").write_text('"""Things.\n\nMore about things."""\n')
    (tmp_path / "engine" / "things" / "widgets.py").write_text('"""Widgets, e.g. gears: what turns.\nIn detail."""\n')
    (tmp_path / "engine" / "things" / "bare.py").write_text("x = 1\n")
    text = amap.render(tmp_path)
    assert [line.split()[0] for line in text.splitlines()[1:-1]] == [
        "engine/", "engine/things/", "bare.py", "widgets.py", "storage/", "web/", "cli/"]
    assert "Widgets, e.g. gears: what turns" in text and "In detail" not in text and "More about" not in text
    assert amap.missing_docstrings(tmp_path) == ["bare.py"]
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{amap.BEGIN}\nold\n{amap.END}\n\nprose\n")
    amap.write(readme, tmp_path)
    written = readme.read_text()
    assert amap.readme_block(written) == text and written.endswith(f"{amap.END}\n\nprose\n")
