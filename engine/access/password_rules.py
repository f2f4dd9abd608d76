"""What makes a password acceptable: 8 to 128 characters, not on the bundled list of commonly used
passwords (data/common-passwords.txt), and hard enough to guess by zxcvbn's estimate (a score of at
least the configured minimum, 3 of 4 by default). Each refusal is a Chinese sentence saying what to
do instead."""
from __future__ import annotations

import functools
from pathlib import Path

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
DEFAULT_MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable", about 10^8 guesses or more
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lower case (read once per process)."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, min_score: int = DEFAULT_MIN_SCORE) -> list[str]:
    """Why `password` may not be used (empty when it may)."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"密码不能超过 {MAX_PASSWORD_LENGTH} 个字符。"]
    if password.strip().lower() in common_passwords():
        return ["这是一个常见密码，很容易被猜中，请换一个。"]
    if min_score > 0 and zxcvbn(password, max_length=MAX_PASSWORD_LENGTH)["score"] < min_score:
        return ["密码太容易被猜中，请使用更长、更不规则的密码（例如由几个不相关的词和数字组成）。"]
    return []
