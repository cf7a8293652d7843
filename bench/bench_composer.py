"""The composer's figures on a real agency node (`python -m services.intake` in its own process, real
SQLite, real HTTP on 127.0.0.1, its link to the hub down: the composer works offline), driven as the
page's script drives it: an advisor signs in, and the session (cookie and CSRF header) calls the API.

Run with `python -m bench.bench_composer` (or `python -m bench`). One line per figure:

- `composer_preview`: `POST /v1/preview` with a 1,000-character French text (a link, hashtags, a
  mention) for the issue's 9 networks, what the page asks at each pause in typing: p50 and p95 over
  REQUESTS requests after WARM_UP (target p95 < 50 ms);
- `composer_page`: the bytes on the wire, uncompressed, of `GET /` (signed in, French), the scripts
  and the stylesheet it loads (target < 150 KB in all).

Exits non-zero when a figure misses its target.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from services.intake.store import open_store  # noqa: E402
from shared.accounts import create_user  # noqa: E402
from shared.tokens import load_or_create_private_key  # noqa: E402
from shared.web_login import AGENCY_SESSION_COOKIE  # noqa: E402
from tests.harness import free_port  # noqa: E402
from tests.intake.agency_pages import add_agency_pages  # noqa: E402

AGENCY = "lyon-part-dieu"
PASSWORD = "correct horse battery staple"
# Issue #14's list of networks, in its order.
NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook", "instagram", "threads", "telegram", "youtube"]
WARM_UP = 20
REQUESTS = 200
TARGET_P95_MS = 50.0
TARGET_PAGE_BYTES = 150_000
SENTENCES = (
    "Forum de l’emploi jeudi 12 mars de 9 h à 17 h à l’agence de Lyon Part-Dieu : venez avec vos CV ! ",
    "Plus de quarante entreprises de la logistique, du commerce, de la santé et de l’hôtellerie recrutent. ",
    "Ateliers pour refaire son CV, simulations d’entretien, conseils pour la reconversion (entrée libre). ",
    "Détails et plan d’accès : https://www.francetravail.fr/actualites/forum-emploi-lyon-part-dieu #emploi ",
    "Partagez autour de vous, et suivez @francetravail pour les prochaines dates #Lyon #recrutement. ",
)


def french_text(length: int = 1000) -> str:
    text = ""
    while len(text) < length:
        text += "".join(SENTENCES)
    return text[: length - 1] + "."


def seed(data_dir: Path) -> None:
    """The node's store as the hub's follower leaves it: a page per network, one advisor."""
    db = open_store(data_dir / f"intake-{AGENCY}.db")
    add_agency_pages(db, AGENCY, NETWORKS)
    create_user(db, "conseillere", "advisor", None, PASSWORD, agency=AGENCY)
    db.close()


class Session:
    """One keep-alive connection with the advisor's session cookie, as a browser tab holds it."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=sent)
        response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def sign_in(self) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="login_token" value="([^"]+)"', page)
        assert token, page[:500]
        form = urllib.parse.urlencode(
            {"login_token": token.group(1).decode(), "username": "conseillere", "password": PASSWORD}
        ).encode()
        status, _ = self.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 303 and AGENCY_SESSION_COOKIE in self.cookies, status
        _, composer = self.request("GET", "/")
        csrf = re.search(rb'name="csrf-token" content="([^"]+)"', composer)
        assert csrf, composer[:500]
        self.csrf = csrf.group(1).decode()


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the node exited with {process.returncode}")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the node did not listen within 30 s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="relais-bench-composer-") as tmp:
        data_dir = Path(tmp)
        key_file = data_dir / "keys" / "hub-token-key.pem"
        load_or_create_private_key(key_file)
        seed(data_dir)
        port = free_port()
        env = {
            **os.environ,
            "RELAIS_AGENCY_ID": AGENCY,
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_INTAKE_PORT": str(port),
            "RELAIS_NATS_URL": f"nats://127.0.0.1:{free_port()}",  # nobody there: the link is down
            "RELAIS_TOKEN_PUBLIC_KEY_FILE": str(key_file.with_name("hub-token-key.pub.pem")),
            "RELAIS_LOG_FORMAT": "json",
        }
        log = (data_dir / "intake.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "services.intake"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            wait_listening(port, process)
            return measure(port)
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()


def measure(port: int) -> int:
    session = Session(port)
    session.sign_in()
    text = french_text()
    assert len(text) == 1000
    body = json.dumps({"text": text, "networks": NETWORKS}).encode()
    headers = {"Content-Type": "application/json", "X-CSRF-Token": session.csrf}
    times = []
    for index in range(WARM_UP + REQUESTS):
        start = time.perf_counter()
        status, answer = session.request("POST", "/v1/preview", body, headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert status == 200, answer[:500]
        if index >= WARM_UP:
            times.append(elapsed)
    variants = json.loads(answer)["variants"]
    assert [v["network"] for v in variants] == NETWORKS
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    print(
        f"composer_preview chars={len(text)} networks={len(NETWORKS)} requests={REQUESTS}"
        f" p50_ms={p50:.1f} p95_ms={p95:.1f}",
        flush=True,
    )
    status, page = session.request("GET", "/")
    assert status == 200, status
    # Every script and stylesheet the page loads (node_page.js with composer.js), as a browser would.
    html = page.decode()
    loaded = {
        "script": re.findall(r'<script src="([^"]+)"', html),
        "style": re.findall(r'<link rel="stylesheet" href="([^"]+)"', html),
    }
    assert loaded["script"] and loaded["style"], loaded
    sizes = {"page": len(page)}
    for name, paths in loaded.items():
        sizes[name] = 0
        for path in paths:
            status, data = session.request("GET", path)
            assert status == 200, (path, status)
            sizes[name] += len(data)
    total = sum(sizes.values())
    print(
        f"composer_page bytes={total} page={sizes['page']} script={sizes['script']} style={sizes['style']}",
        flush=True,
    )
    return 0 if p95 < TARGET_P95_MS and total < TARGET_PAGE_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
