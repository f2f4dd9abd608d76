"""A browser-like HTTP client for the benchmarks: one user's session cookie and latest CSRF token,
signing in through the login page like a person would."""
from __future__ import annotations

import http.client
import re
import urllib.parse

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Session:
    """One user's browser: a cookie and the latest CSRF token, one connection per request (gunicorn's
    sync workers close it after each response)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookie = ""
        self.token = ""

    def request(self, method: str, path: str, form: dict | None = None, *,
                keep_cookie: bool = True) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header, value in response.getheaders():
            if keep_cookie and header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        found = _TOKEN.search(text)
        if found:
            self.token = found.group(1)
        return response.status, response.getheader("Location") or "", text

    def sign_in(self, username: str, password: str) -> None:
        self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login",
                                    {"csrf_token": self.token, "username": username, "password": password})
        if status != 302:
            raise RuntimeError(f"{username} could not sign in ({status})")
        self.request("GET", "/inbox/")  # a fresh session after sign-in: take its CSRF token
