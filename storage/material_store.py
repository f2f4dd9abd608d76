"""SQL for uploaded materials (the files themselves are in the file store by content hash:
storage/file_store.py)."""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select

from yijianshi.storage.tables import Material

materials = Material.__table__


def add(conn: Connection, rows: list[dict]) -> list[int]:
    """Insert material rows; returns their ids in the same order."""
    return [conn.execute(insert(materials).values(**row).returning(materials.c.id)).scalar_one() for row in rows]


_FOR_CASE = select(materials).where(materials.c.case_id == bindparam("cid")).order_by(materials.c.id)
_BY_ID = select(materials).where(materials.c.id == bindparam("mid"))


def for_case(conn: Connection, case_id: int) -> list:
    return list(conn.execute(_FOR_CASE, {"cid": case_id}))


def get(conn: Connection, material_id: int):
    return conn.execute(_BY_ID, {"mid": material_id}).first()


def referenced(conn: Connection, hashes: list[str]) -> set[str]:
    """Which of these content hashes some stored material still refers to."""
    q = select(materials.c.sha256).where(materials.c.sha256.in_(hashes)).distinct()
    return set(conn.execute(q).scalars())


def all_hashes(conn: Connection) -> set[str]:
    """The content hash of every stored material."""
    return set(conn.execute(select(materials.c.sha256).distinct()).scalars())
