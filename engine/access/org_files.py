"""The organisation as a file, for `yijianshi org import` and `org export`: CSV or JSON (by the
file's ending), read into engine/access/org_rules.py records that remember their line.

CSV: one record per line under the header
    type,code,name,kind,parent,username,role,principal,starts_on,ends_on,reason
with type unit (code, name, kind, parent), member (username, code = the unit, role member|leader),
deputy (username = the deputy, principal, starts_on, ends_on) or absence (username, starts_on,
ends_on, reason); columns a type does not use stay empty. Dates are YYYY-MM-DD, both days included.

JSON: {"units": [{"code", "name", "kind", "parent"}], "memberships": [{"username", "unit", "role"}],
"deputies": [{"deputy", "principal", "starts_on", "ends_on"}], "absences": [{"username", "starts_on",
"ends_on", "reason"}]}; a record's line is the line of its opening brace."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from yijianshi.engine.access.organisation import OrgError
from yijianshi.engine.access.org_rules import Absence, Deputy, Membership, OrgData, Unit, parse_day, where

CSV_COLUMNS = ("type", "code", "name", "kind", "parent", "username", "role", "principal", "starts_on", "ends_on",
               "reason")
SECTIONS = ("units", "memberships", "deputies", "absences")


class OrgFileError(OrgError):
    """A file that cannot be read as an organisation at all (every problem in `problems`)."""


def read_org_file(path: Path) -> OrgData:
    """The records of a .csv or .json file; OrgFileError when its form is wrong (the records' own
    problems are checked by org_rules.org_problems when they are imported)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise OrgFileError([f"无法读取文件 {path}（cannot read the file）：{err}"]) from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text)
    if path.suffix.lower() == ".json":
        return parse_json(text)
    raise OrgFileError([f"不支持的文件类型“{path.suffix}”（unsupported file type）：请使用 .csv 或 .json。"])


def parse_csv(text: str) -> OrgData:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise OrgFileError([f"第 1 行（line 1）：表头缺少列 {', '.join(missing)}；应为 {','.join(CSV_COLUMNS)}。"])
    data, problems = OrgData(), list[str]()
    for row in reader:
        line = reader.line_num
        cell = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        _add(data, cell["type"], cell, line, problems)
    if problems:
        raise OrgFileError(problems)
    return data


def parse_json(text: str) -> OrgData:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise OrgFileError([f"第 {err.lineno} 行（line {err.lineno}）：不是有效的 JSON：{err.msg}。"]) from None
    if not isinstance(doc, dict) or set(doc) - set(SECTIONS):
        raise OrgFileError([f"第 1 行（line 1）：须为只含 {'、'.join(SECTIONS)} 的 JSON 对象。"])
    lines = iter(_record_lines(text))
    kinds = {"units": "unit", "memberships": "member", "deputies": "deputy", "absences": "absence"}
    data, problems = OrgData(), list[str]()
    for section, records in doc.items():
        if not isinstance(records, list):
            problems.append(f"“{section}”须为列表（a list）。")
            continue
        for i, record in enumerate(records):
            line = next(lines, None) if isinstance(record, dict) else None
            if not isinstance(record, dict):
                problems.append(f"“{section}”的第 {i + 1} 项须为 JSON 对象。")
                continue
            cell = {k: str(v).strip() for k, v in record.items() if v is not None}
            if section == "memberships":
                cell["code"] = cell.get("unit", "")
            if section == "deputies":
                cell["username"] = cell.get("deputy", "")
            _add(data, kinds[section], cell, line, problems)
    if problems:
        raise OrgFileError(problems)
    return data


def write_csv(data: OrgData) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for u in data.units:
        writer.writerow(dict(type="unit", code=u.code, name=u.name, kind=u.kind, parent=u.parent or ""))
    for m in data.memberships:
        writer.writerow(dict(type="member", code=m.unit, username=m.username, role=m.role))
    for d in data.deputies:
        writer.writerow(dict(type="deputy", username=d.deputy, principal=d.principal, starts_on=d.starts_on,
                             ends_on=d.ends_on))
    for a in data.absences:
        writer.writerow(dict(type="absence", username=a.username, starts_on=a.starts_on, ends_on=a.ends_on,
                             reason=a.reason))
    return out.getvalue()


def write_json(data: OrgData) -> str:
    doc = {
        "units": [dict(code=u.code, name=u.name, kind=u.kind, parent=u.parent) for u in data.units],
        "memberships": [dict(username=m.username, unit=m.unit, role=m.role) for m in data.memberships],
        "deputies": [dict(deputy=d.deputy, principal=d.principal, starts_on=d.starts_on.isoformat(),
                          ends_on=d.ends_on.isoformat()) for d in data.deputies],
        "absences": [dict(username=a.username, starts_on=a.starts_on.isoformat(), ends_on=a.ends_on.isoformat(),
                          reason=a.reason) for a in data.absences],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _add(data: OrgData, kind: str, cell: dict[str, str], line: int | None, problems: list[str]) -> None:
    at = where(line, "记录")
    if kind == "unit":
        position = cell.get("position", "0")
        data.units.append(Unit(cell.get("code", ""), cell.get("name", ""), cell.get("kind", ""),
                               cell.get("parent") or None, int(position) if position.isdigit() else 0, line))
    elif kind == "member":
        data.memberships.append(Membership(cell.get("username", ""), cell.get("code", ""),
                                           cell.get("role") or "member", line))
    elif kind == "deputy":
        data.deputies.append(Deputy(cell.get("username", ""), cell.get("principal", ""),
                                    parse_day(cell.get("starts_on", ""), at, problems),
                                    parse_day(cell.get("ends_on", ""), at, problems), line=line))
    elif kind == "absence":
        data.absences.append(Absence(cell.get("username", ""), parse_day(cell.get("starts_on", ""), at, problems),
                                     parse_day(cell.get("ends_on", ""), at, problems), cell.get("reason", ""),
                                     line=line))
    else:
        problems.append(f"{at}记录类型“{kind}”无效，可选：unit、member、deputy、absence。")


def _record_lines(text: str) -> list[int]:
    """The line of each object opened inside a top-level list, in file order (JSON text assumed valid)."""
    lines, depth, line, in_string, escaped = [], 0, 1, False, False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if ch == "{" and depth == 3:
                lines.append(line)
        elif ch in "}]":
            depth -= 1
    return lines
