"""SQL for the working-day calendar: published years and regional closures."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from yijianshi.storage.tables import CalendarClosure, CalendarYear

years = CalendarYear.__table__
closures = CalendarClosure.__table__


def all_years(conn: Connection) -> list:
    return list(conn.execute(select(years).order_by(years.c.year)))


def all_closures(conn: Connection) -> list:
    return list(conn.execute(select(closures).order_by(closures.c.region, closures.c.day)))


def stamp(conn: Connection):
    """Changes whenever a year or closure is loaded, so other processes know to reload."""
    last_year = conn.execute(select(func.max(years.c.loaded_at), func.count()).select_from(years)).one()
    n_closures = conn.execute(select(func.count()).select_from(closures)).scalar_one()
    return (last_year[0], last_year[1], n_closures)


def put_year(conn: Connection, year: int, schedule_json: str, source: str, at: datetime, by: str) -> None:
    conn.execute(delete(years).where(years.c.year == year))
    conn.execute(insert(years).values(year=year, schedule_json=schedule_json, source=source,
                                      loaded_at=at, loaded_by=by))


def put_closure(conn: Connection, region: str, day: str, reason: str) -> None:
    conn.execute(delete(closures).where(closures.c.region == region, closures.c.day == day))
    conn.execute(insert(closures).values(region=region, day=day, reason=reason))
