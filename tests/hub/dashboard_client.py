"""A person at the hub's dashboard, over plain HTTP: users made with the real CLI, a cookie jar, the
login form, and the dashboard's forms with their CSRF token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

PASSWORD = "correct horse battery staple"


def create_user(
    data_dir: Path,
    username: str,
    role: str,
    region: str | None = None,
    password: str = PASSWORD,
    agency: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`relais users create`, the password on standard input, as a deployment script would."""
    argv = [sys.executable, "-m", "relais.cli", "users", "create", "--username", username, "--role", role]
    if region:
        argv += ["--region", region]
    if agency:
        argv += ["--agency", agency]
    env = {**os.environ, "RELAIS_DATA_DIR": str(data_dir)}
    return subprocess.run(argv, input=password + "\n", env=env, capture_output=True, text=True, timeout=60)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class DashboardSession:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.csrf = ""

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        """(status, body, headers); redirects are returned, not followed."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), dict(err.headers)

    def login(self, username: str, password: str = PASSWORD) -> int:
        _, page, _ = self.request("GET", "/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token, page
        form = {"login_token": token.group(1), "username": username, "password": password}
        status, _, _ = self.request("POST", "/login", form)
        return status

    def dashboard(self) -> str:
        status, page, _ = self.request("GET", "/dashboard")
        assert status == 200, (status, page[:300])
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert csrf
        self.csrf = csrf.group(1)
        return page

    def act(self, path: str, form: dict[str, str] | None = None, csrf: str | None = None) -> tuple[int, str]:
        """POST a dashboard form as the page's script does (JSON answer), with the session's token."""
        fields = {"csrf": self.csrf if csrf is None else csrf, **(form or {})}
        status, body, _ = self.request("POST", path, fields, {"Accept": "application/json"})
        return status, body
