"""How passwords are stored and checked: Argon2id hashes (argon2-cffi), with the cost parameters named
by the settings. Hashes written before Argon2 (werkzeug's scrypt or pbkdf2) still verify, and
`needs_rehash` says when a stored hash should be replaced after a successful sign-in: an older
algorithm, or Argon2 with other parameters than the current ones."""
from __future__ import annotations

import re

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

ARGON2 = "argon2"
# "argon2" (argon2-cffi's defaults, RFC 9106's low-memory choice) or "argon2:<time cost>:<memory in
# KiB>:<parallelism>", e.g. "argon2:1:8:1" for tests that need a real salted hash, not a slow one.
_METHOD = re.compile(r"argon2(?::(\d+):(\d+):(\d+))?")


class PasswordHasher:
    """Hashes new passwords with Argon2id; verifies Argon2 and older werkzeug hashes."""

    def __init__(self, method: str = ARGON2):
        found = _METHOD.fullmatch(method)
        if found is None:
            raise ValueError(f"password hash method must be argon2 or argon2:<time>:<memory KiB>:<parallelism>, "
                             f"not {method!r}")
        if found.group(1) is None:
            self._argon2 = Argon2Hasher(type=Type.ID)
        else:
            time_cost, memory, parallelism = (int(g) for g in found.groups())
            self._argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory, parallelism=parallelism,
                                        type=Type.ID)
        self.method = method

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches the stored hash (False for a hash that cannot be read)."""
        if stored.startswith("$argon2"):
            try:
                return self._argon2.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False
        try:
            return check_password_hash(stored, password)
        except (ValueError, TypeError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether a hash that just verified should be replaced by one of the current method."""
        if not stored.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True
