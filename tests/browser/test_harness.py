"""The browser harness itself, tested as an attacker would try to get past it: a page that reaches
for other hosts in every way a page can must fail its test without a byte reaching them; axe must
report what WCAG 2.1 AA forbids under the hub's strict CSP; Tab and Enter must be all it takes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser.axe import axe, axe_violations
from tests.browser.chromium import OPT_OUT, REPO
from tests.browser.conftest import guarded_context
from tests.browser.keyboard import activate, tab_to, type_into
from tests.browser.local_site import Tripwire, serve
from tests.browser.offline import OfflineGuard


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    wire = Tripwire()
    try:
        yield wire
    finally:
        wire.close()


def leaky_page(port: int) -> str:
    """Every way a page reaches for another host, WebRTC's STUN included (no route sees it): 127.0.0.2
    is loopback (nothing leaves the machine even if the guard fails) yet not a host the offline
    promise allows; the names resolve nowhere."""
    other = f"127.0.0.2:{port}"
    return f"""<!doctype html><html lang="fr"><head><title>fuite</title>
<link rel="stylesheet" href="http://fonts.example.net/css?family=Marianne">
<script src="http://cdn.example.com/lib.js"></script>
</head><body>
<img src="http://{other}/pixel.png" alt="pixel">
<iframe src="http://{other}/frame" title="cadre"></iframe>
<script>
fetch("http://{other}/api").catch(() => {{}});
navigator.sendBeacon("http://{other}/beacon", "x");
new WebSocket("ws://{other}/live");
navigator.serviceWorker.register("/worker.js");
const peer = new RTCPeerConnection({{iceServers: [{{urls: "stun:{other}"}}]}});
peer.createDataChannel("x");
peer.createOffer().then((offer) => peer.setLocalDescription(offer));
</script></body></html>"""


def leaky_worker(port: int) -> str:
    """A service worker's requests come from no page: they must be caught all the same."""
    return (
        f'self.addEventListener("install", () => fetch("http://127.0.0.2:{port}/worker").catch(() => {{}}));'
    )


def settle(page: Page, guard: OfflineGuard, expected: int, seconds: float = 10) -> None:
    """Let the page's requests happen (events reach the guard while Playwright waits)."""
    deadline = time.monotonic() + seconds
    while len(guard.problems()) < expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # and anything that would come after them


def test_a_page_reaching_for_other_hosts_fails_its_test_and_nothing_reaches_them(
    chromium: Browser, tripwire: Tripwire
) -> None:
    other = f"127.0.0.2:{tripwire.port}"
    # Written by hand: each of these must be caught.
    must_be_caught = [
        "http://fonts.example.net/css?family=Marianne",
        "http://cdn.example.com/lib.js",
        f"http://{other}/pixel.png",
        f"http://{other}/frame",
        f"http://{other}/api",
        f"http://{other}/beacon",
        f"ws://{other}/live",
        f"http://{other}/worker",
    ]
    leaky = {"/": leaky_page(tripwire.port), "/worker.js": leaky_worker(tripwire.port)}
    with (
        serve(leaky, csp="") as site,
        guarded_context(chromium) as (context, guard),
    ):
        page = context.new_page()
        page.goto(site + "/")
        settle(page, guard, expected=len(must_be_caught))
        problems = guard.problems()
        with pytest.raises(pytest.fail.Exception, match="offline promise is broken"):
            guard.check()
    for url in must_be_caught:
        assert any(url in problem for problem in problems), (url, problems)
    assert (tripwire.connections, tripwire.datagrams) == (0, 0), problems  # nor STUN over UDP
    assert all("127.0.0.1" not in problem and "localhost" not in problem for problem in problems), problems


def test_what_the_routes_would_let_through_ends_in_the_proxy_sink(
    chromium: Browser, tripwire: Tripwire
) -> None:
    """The second layer alone (the page routes off): the context's proxy catches the browser's
    connections to any host but 127.0.0.1 and localhost, other loopback addresses included."""
    target = f"http://127.0.0.2:{tripwire.port}/page"
    with guarded_context(chromium, routes=False) as (context, guard):
        page = context.new_page()
        with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):  # the sink's 403
            page.goto(target)
        assert guard.sink.targets == [target]
        assert "connection through the proxy to " + target in guard.problems()
    assert tripwire.connections == 0


def test_a_page_that_stays_on_127_0_0_1_passes(chromium: Browser) -> None:
    pages = {
        "/": '<!doctype html><html lang="fr"><title>ok</title><a href="/b">b</a></html>',
        "/b": "<p>b</p>",
    }
    with serve(pages) as site, guarded_context(chromium) as (context, guard):
        page = context.new_page()
        page.goto(site + "/")
        page.goto(site.replace("127.0.0.1", "localhost") + "/b")
        page.wait_for_timeout(300)
        guard.check()
    assert guard.requests == [site + "/", site.replace("127.0.0.1", "localhost") + "/b"], guard.requests


BAD_PAGE = """<!doctype html><html><head><title>mauvais</title><script src="/axe.js"></script></head><body>
<img src="/photo.png">
<input name="q">
<button></button>
</body></html>"""
# A page's own `axe` that finds nothing wrong must not stand in for the real one.
FAKE_AXE = "window.axe = {run: async () => ({violations: [], passes: [{id: 'fake'}]})};"
GOOD_PAGE = """<!doctype html><html lang="fr"><head><title>bon</title></head><body><main>
<h1>Connexion</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Logo de l’agence">
<label>Identifiant <input name="username"></label>
<button type="submit">Se connecter</button>
</main></body></html>"""


def test_axe_reports_serious_and_critical_violations_under_a_strict_csp(browser_page: Page) -> None:
    with serve({"/bad": BAD_PAGE, "/axe.js": FAKE_AXE, "/good": GOOD_PAGE}) as site:
        browser_page.goto(site + "/bad")
        found = {v["id"]: v["impact"] for v in axe_violations(browser_page)}
        # Written by hand from WCAG 2.1 A: no alternative text, no label, a nameless button, no language.
        expected = {
            "image-alt": "critical",
            "label": "critical",
            "button-name": "critical",
            "html-has-lang": "serious",
        }
        assert expected.items() <= found.items(), found
        with pytest.raises(AssertionError, match="image-alt") as failure:
            axe(browser_page)
        assert "button-name" in str(failure.value) and "html-has-lang" in str(failure.value)
        browser_page.goto(site + "/good")
        assert [v for v in axe(browser_page, "harness-good") if v["impact"] in ("serious", "critical")] == []


KEYBOARD_PAGE = """<!doctype html><html lang="fr"><head><title>clavier</title></head><body><main>
<form action="/sent"><label>Identifiant <input name="username"></label>
<label>Mot de passe <input name="password" type="password"></label>
<button type="button" tabindex="-1">Inaccessible</button>
<button type="submit">Se connecter</button></form></main></body></html>"""


def test_the_keyboard_helpers_use_tab_and_enter_only_and_name_the_focus_path(browser_page: Page) -> None:
    with serve({"/": KEYBOARD_PAGE, "/sent": "<p>envoyé</p>"}) as site:
        page = browser_page
        page.goto(site + "/")
        type_into(page, page.get_by_label("Identifiant"), "nadia")
        type_into(page, page.get_by_label("Mot de passe"), "secret")
        with pytest.raises(
            AssertionError, match=r"not reached with 40 Tab presses; focus went: .*Se connecter"
        ):
            tab_to(page, page.get_by_role("button", name="Inaccessible"))
        activate(page, page.get_by_role("button", name="Se connecter"))
        expect(page).to_have_url(site + "/sent?username=nadia&password=secret")


def run_a_browser_test(**env: str) -> subprocess.CompletedProcess[str]:
    """One browser test in a pytest of its own, with these environment variables."""
    environment = {k: v for k, v in os.environ.items() if k != OPT_OUT} | env
    test = "tests/browser/test_harness.py::test_a_page_that_stays_on_127_0_0_1_passes"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", test]
    return subprocess.run(argv, cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("chromium", "reason"),
    [
        ("/nonexistent/chromium", "/nonexistent/chromium is missing: run `make browser`"),
        ("/bin/false", "did not start"),
    ],
)
def test_without_a_working_chromium_browser_tests_fail_saying_why(chromium: str, reason: str) -> None:
    run = run_a_browser_test(RELAIS_CHROMIUM=chromium)
    assert run.returncode == 1, run.stdout
    assert reason in run.stdout and f"set {OPT_OUT}=1 to skip" in run.stdout, run.stdout
    assert "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout


def test_only_the_opt_out_variable_skips_them_and_says_why() -> None:
    run = run_a_browser_test(RELAIS_CHROMIUM="/nonexistent/chromium", **{OPT_OUT: "1"})
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout and "/nonexistent/chromium is missing" in run.stdout, run.stdout
