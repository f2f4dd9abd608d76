"""`yijianshi scenarios report`: the one-thing scenarios' figures computed from the models.

Wiring (cli/main.py): `add_scenarios_parser(sub)` registers `scenarios report [paths]`."""
from __future__ import annotations

import sys
import unicodedata

from yijianshi.engine.errors import DefinitionError

DEFAULT_PROCESSES = "processes"


def add_scenarios_parser(sub) -> None:
    """Register `scenarios report [paths]` on the top-level sub-command parser."""
    p = sub.add_parser("scenarios", help="一件事场景：模型指标报告")
    inner = p.add_subparsers(dest="scenarios_command", metavar="子命令", required=True)
    r = inner.add_parser("report", help="由模型计算各场景的表单、材料、跑动次数和时限指标")
    r.add_argument("paths", nargs="*", default=[DEFAULT_PROCESSES], help="BPMN 文件或目录（默认 processes/）")
    r.set_defaults(func=cmd_scenarios_report)


def cmd_scenarios_report(args) -> int:
    from yijianshi.engine.modeling.scenario_savings import scenario_metrics

    paths = args.paths or [DEFAULT_PROCESSES]
    try:
        metrics = scenario_metrics(paths)
    except DefinitionError as err:
        for p in err.problems:
            print(str(p), file=sys.stderr)
        return 1
    if not metrics:
        print("没有找到一件事场景（首个用户任务由申请人办理的可执行流程）。", file=sys.stderr)
        return 1
    print(format_report(metrics))
    print()
    print(format_sources(metrics))
    return 0


HEADERS = ("场景", "事项", "表单字段 分别→合并", "材料 分别→复用", "跑动 改革前→后", "时限 累加→关键路径（工作日）")


def format_report(metrics) -> str:
    """The metrics as an aligned table with Chinese headers, one row per scenario plus a total."""
    rows = [HEADERS]
    for m in metrics:
        rows.append((m.name, str(len(m.items)), _pair(m.fields_separate, m.fields_merged, m.fields_cut),
                     _pair(m.materials_separate, m.materials_merged, m.materials_cut),
                     _pair(m.visits_before, m.visits_after, m.visits_cut),
                     _pair(m.limits_sum, m.critical_path, m.time_cut)))
    total = lambda attr: sum(getattr(m, attr) for m in metrics)
    rows.append(("合计", str(sum(len(m.items) for m in metrics)),
                 _pair(total("fields_separate"), total("fields_merged")),
                 _pair(total("materials_separate"), total("materials_merged")),
                 _pair(total("visits_before"), total("visits_after")),
                 _pair(total("limits_sum"), total("critical_path"))))
    widths = [max(_width(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(_pad(c, w, right=i > 0) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0 or k == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("说明：“分别”为各事项单独申请之和；时限“关键路径”为并联办理时从受理到出件的最长承诺时限链。")
    shared = [m for m in metrics if m.shared_materials]
    if shared:
        lines.append("数据共享替代的材料（按模型中的共享核验服务任务计，不再向申请人收取）：")
        lines.extend(f"  {m.name}：{'、'.join(m.shared_materials)}" for m in shared)
    return "\n".join(lines)


def format_sources(metrics) -> str:
    """Every limit of each scenario with its source (时限依据): the items' promised limits, then the
    scenario's own (受理, 容缺补齐, 差评核实与整改 …); `local default` marks a limit no document backs."""
    lines = ["时限依据（《文件名》条款；local default 为本地默认值）"]
    for m in metrics:
        lines.append(f"{m.name}")
        for i in m.items:
            limit = str(i.limit) if i.limit is not None else "—"
            lines.append(f"  事项 {i.name}：{limit}　依据：{i.limit_source or '（未写明）'}")
        for e in m.own_limits:
            lines.append(f"  环节 {e.name}：{e.text}　依据：{e.source or '（未写明）'}")
    return "\n".join(lines)


def _pair(before: int, after: int, cut: float | None = None) -> str:
    if cut is None and before:
        cut = round(100.0 * (before - after) / before, 1)
    return f"{before} → {after}" + (f"（-{cut:g}%）" if cut else "")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def main(argv: list[str] | None = None) -> int:
    """Run `scenarios report` alone (python -m cli.scenarios [paths]) until it is wired into cli/main.py."""
    import argparse

    parser = argparse.ArgumentParser(prog="yijianshi")
    sub = parser.add_subparsers(dest="command", required=True)
    add_scenarios_parser(sub)
    args = parser.parse_args(["scenarios", "report", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

