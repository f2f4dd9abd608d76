"""SQL for API clients and the idempotency keys of their start requests."""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from yijianshi.storage.tables import ApiClient, ApiIdempotencyKey

clients = ApiClient.__table__
keys = ApiIdempotencyKey.__table__

_BY_TOKEN = select(clients).where(clients.c.token_hash == bindparam("token_hash"))
_KEY = select(keys).where(keys.c.client_id == bindparam("cid"), keys.c.key == bindparam("key"))


def add_client(conn: Connection, values: dict) -> int:
    return conn.execute(insert(clients).values(**values).returning(clients.c.id)).scalar_one()


def client_by_name(conn: Connection, name: str):
    return conn.execute(select(clients).where(clients.c.name == name)).first()


def client_by_token_hash(conn: Connection, token_hash: str):
    return conn.execute(_BY_TOKEN, {"token_hash": token_hash}).first()


def all_clients(conn: Connection) -> list:
    return list(conn.execute(select(clients).order_by(clients.c.name)))


def change_client(conn: Connection, name: str, **values) -> int:
    return conn.execute(update(clients).where(clients.c.name == name).values(**values)).rowcount


def idempotency_key(conn: Connection, client_id: int, key: str):
    return conn.execute(_KEY, {"cid": client_id, "key": key}).first()


def add_idempotency_key(conn: Connection, values: dict) -> None:
    """Raises IntegrityError when the client already used the key (a concurrent retry committed first)."""
    conn.execute(insert(keys).values(**values))
