"""vouch's compliance dashboard in a real browser (issue 17).

Headless Debian Chromium driven by selenium against a live `vouch serve` on loopback,
on the data `vouch demo` makes, once on SQLite and once on PostgreSQL. Nothing is
mocked: the login is the dashboard's own form with a real TOTP code, the statuses are
compared with the API's, the inclusion proof is downloaded by the browser and verified
with the independent verifier (tests/independent/verify_tlog.py), and axe-core runs in
each page. See README.md beside this file for the environment it reads.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "independent"))
import verify_tlog  # noqa: E402  (the independent verifier: shares no code with vouch)

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("VOUCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VOUCH_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
OUT = Path(os.environ.get("VOUCH_BROWSER_OUT", HERE / "out"))
SHOTS = os.environ.get("VOUCH_SCREENSHOTS_DIR")  # docs/dashboard when refreshing the docs
WAIT = 20  # seconds, the ceiling of every explicit wait (they return as soon as met)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
ROOT = "/admin/compliance"


def missing(what):
    """A missing tool fails under CI (CI=true) and skips on a developer's machine."""
    if CI:
        pytest.fail(f"{what} (CI=true: the browser tests must run)")
    pytest.skip(what)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # reported per test by the fixtures below
    webdriver = None


# ------------------------------------------------------------------ RFC 6238 TOTP
def totp(secret_b32, step):
    """RFC 6238 (HMAC-SHA-1, 6 digits) at time step `step` (30 s steps)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def test_totp_matches_rfc6238_vectors():
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last 6 digits.
    seed = base64.b32encode(b"12345678901234567890").decode()
    for t, code in [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")]:
        assert totp(seed, t // 30) == code


class Totp:
    """Codes for one secret. vouch takes each time step once (and none at or before
    the last one used) within ±1 step of now, so the next code is the current step's
    or, when that one is spent, the following step's: no waiting for the clock."""

    def __init__(self, secret):
        self.secret, self.last = secret, None

    def next(self):
        step = int(time.time()) // 30
        if self.last is not None and step <= self.last:
            step = self.last + 1
        assert step <= int(time.time()) // 30 + 1, "more than two codes in one 30 s step"
        self.last = step
        return totp(self.secret, step)


# ------------------------------------------------------------------------ the server
class Api:
    """A tiny JSON client for the live server (urllib: no extra dependency)."""

    def __init__(self, base, bearer=None):
        self.base, self.bearer = base, bearer

    def call(self, method, path, body=None, bearer=None, cookie=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        tok = bearer or self.bearer
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        if cookie:
            req.add_header("Cookie", cookie)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw, code = r.read(), r.status
        except urllib.error.HTTPError as e:
            raw, code = e.read(), e.code
        try:
            return code, json.loads(raw) if raw else None
        except ValueError:
            return code, raw.decode("utf-8", "replace")

    def get(self, path, **kw):
        code, body = self.call("GET", path, **kw)
        assert code == 200, f"GET {path}: {code} {body}"
        return body


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, what, timeout=WAIT):
    """Poll `pred` until it is true (an explicit wait for things outside the page)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


ENGINES = [e for e in os.environ.get("VOUCH_BROWSER_ENGINES", "sqlite,postgres").split(",") if e]


@pytest.fixture(scope="module", params=ENGINES)
def server(request):
    engine = request.param
    vouch = os.environ.get("VOUCH_BIN")
    if not vouch or not os.access(vouch, os.X_OK):
        missing(f"VOUCH_BIN must name the vouch binary (got {vouch!r})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_DATABASE")}
    schema = None
    if engine == "postgres":
        url = os.environ.get("VOUCH_TEST_DATABASE_URL")
        if not url:
            missing("VOUCH_TEST_DATABASE_URL is not set: no PostgreSQL")
        schema = f"vouch_browser_{os.getpid()}_{int(time.time())}"
        env.update(VOUCH_DATABASE_URL=url, VOUCH_DATABASE_SCHEMA=schema)
    tmp = Path(tempfile.mkdtemp(prefix=f"vouch-browser-{engine}-"))
    data = tmp / "demo"
    demo = subprocess.run([vouch, "--json", "demo", "--into", str(data), "--events", "1200"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, f"vouch demo failed: {demo.stderr[-2000:]}"
    info = json.loads(demo.stdout)
    dash = info["dashboard"]
    assert dash["password"], "a fresh demo creates the `officer` user and prints its password"
    port = free_port()
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([vouch, "--data-dir", str(data), "serve", "--listen", f"127.0.0.1:{port}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"

    def healthy():
        assert proc.poll() is None, f"vouch serve exited: {(tmp / 'serve.log').read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(origin + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, "vouch serve to answer /healthz", timeout=60)
        api = Api(origin)
        # TOTP for the demo's compliance officer, enrolled through the API as a user would.
        code, body = api.call("POST", "/api/compliance/auth/login",
                              {"username": dash["username"], "password": dash["password"]})
        assert code == 200, f"API login: {code} {body}"
        session = body.get("token") or body.get("session")
        assert session, f"API login returned no session: {body}"
        code, body = api.call("POST", "/api/compliance/auth/totp/enroll", {"password": dash["password"]}, bearer=session)
        assert code == 200, f"TOTP enroll: {code} {body}"
        codes = Totp(body["secret"])
        code, body = api.call("POST", "/api/compliance/auth/totp/verify", {"code": codes.next()}, bearer=session)
        assert code == 200, f"TOTP verify: {code} {body}"
        # An admin token for the checks the test makes through the API (not the browser).
        admin = subprocess.run([vouch, "--data-dir", str(data), "tokens", "create", "--role", "admin",
                                "--name", "browser-test"], env=env, capture_output=True, text=True, check=True)
        yield types.SimpleNamespace(engine=engine, origin=origin, api=Api(origin, admin.stdout.strip()),
                                    dash=dash, info=info, codes=codes, tmp=tmp, data=data)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if schema:
            subprocess.run(["psql", os.environ["VOUCH_TEST_DATABASE_URL"], "-qc",
                            f"DROP SCHEMA IF EXISTS {schema} CASCADE"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------ the browser
def new_driver(download_dir=None):
    if webdriver is None:
        missing("python selenium is not installed")
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            missing(f"{p} is missing (Debian packages chromium and chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--window-size=1280,900", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run", "--password-store=basic"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(WAIT)
    if download_dir:
        drv.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(download_dir)})
    return drv


def by_id(drv, tid, timeout=WAIT):
    return WebDriverWait(drv, timeout).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f'[data-testid="{tid}"]')))


def all_by_id(drv, tid):
    return drv.find_elements(By.CSS_SELECTOR, f'[data-testid="{tid}"]')


def open_page(drv, origin, path, expect):
    """Load a page and wait until the element `expect` (a data-testid) is there."""
    drv.get(origin + path)
    return by_id(drv, expect)


def submit(drv, form):
    """Submit a form with its own button and wait for the next page to load."""
    old = drv.find_element(By.TAG_NAME, "html")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(drv, WAIT).until(EC.staleness_of(old))


def login_officer(drv, srv):
    open_page(drv, srv.origin, ROOT, "login-form")
    assert "/login" in drv.current_url, "an anonymous browser is sent to the login page"
    drv.find_element(By.ID, "username").send_keys(srv.dash["username"])
    drv.find_element(By.ID, "password").send_keys(srv.dash["password"])
    drv.find_element(By.ID, "totp_code").send_keys(srv.codes.next())
    submit(drv, by_id(drv, "login-form"))
    who = by_id(drv, "who")
    assert srv.dash["username"] in who.text, who.text
    by_id(drv, "overall-status")


@pytest.fixture(scope="module")
def officer(server):
    dl = server.tmp / "downloads"
    dl.mkdir()
    drv = new_driver(dl)
    drv.download_dir = dl
    try:
        login_officer(drv, server)
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def auditor(server):
    drv = new_driver()
    try:
        open_page(drv, server.origin, ROOT + "/login", "token-login-form")
        drv.find_element(By.ID, "token").send_keys(server.dash["auditor_token"])
        submit(drv, by_id(drv, "token-login-form"))
        by_id(drv, "overall-status")
        yield drv
    finally:
        drv.quit()


def page_status(drv):
    """The HTTP status of the page just loaded (Navigation Timing; Chromium has it)."""
    return drv.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : null;")


@pytest.fixture(scope="module")
def site(server, officer):
    """Every dashboard page, with real ids found by following the dashboard's own links
    from the overview: [(name, path, testid that marks the page loaded)]."""
    drv = officer
    open_page(drv, server.origin, ROOT, "criteria")
    rows = [r for r in all_by_id(drv, "criterion-row") if r.get_attribute("data-status") != "no_evidence"]
    assert rows, "the demo maps controls to some criteria"
    crit = rows[0].find_element(By.TAG_NAME, "a").get_attribute("href")
    open_page(drv, "", crit, "criterion-controls")
    control = all_by_id(drv, "control-row")[0].find_element(By.TAG_NAME, "a").get_attribute("href")
    open_page(drv, "", control, "control-status")
    links = all_by_id(drv, "evidence-link")
    assert links, "the demo's controls were judged on evidence items"
    evidence = links[0].get_attribute("href")
    findings = server.api.get("/api/compliance/findings")
    reviews = server.api.get("/api/compliance/access-reviews")
    strip = lambda u: u[len(server.origin):] if u.startswith(server.origin) else u
    out = [
        ("overview", ROOT, "overall-status"),
        ("effectiveness", ROOT + "/effectiveness", "effectiveness-grid"),
        ("timeline", ROOT + "/timeline", "timeline"),
        ("criterion", strip(crit), "criterion-status"),
        ("control", strip(control), "control-status"),
        ("evidence", strip(evidence), "ipe-record"),
        ("findings", ROOT + "/findings", "findings-filter"),
        ("packets", ROOT + "/packets", "packets"),
    ]
    assert findings, "the demo opens findings"
    out.append(("finding", f"{ROOT}/findings/{findings[0]['id']}", "finding"))
    if reviews:
        out.append(("access-review", f"{ROOT}/access-reviews/{reviews[0]['campaign']['id']}", "review-entries"))
    return out


# ------------------------------------------------------------------------ the tests
def test_login_refuses_a_wrong_code(server):
    """Password right, TOTP code wrong: refused on the form, no session."""
    drv = new_driver()
    try:
        open_page(drv, server.origin, ROOT, "login-form")
        step = int(time.time()) // 30
        valid = {totp(server.codes.secret, s) for s in range(step - 2, step + 3)}
        wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
        drv.find_element(By.ID, "username").send_keys(server.dash["username"])
        drv.find_element(By.ID, "password").send_keys(server.dash["password"])
        drv.find_element(By.ID, "totp_code").send_keys(wrong)
        submit(drv, by_id(drv, "login-form"))
        by_id(drv, "login-error")
        assert not all_by_id(drv, "who") and not all_by_id(drv, "overall-status")
        # Without a code at all: TOTP is enrolled, so the password alone is not enough.
        drv.find_element(By.ID, "username").send_keys(server.dash["username"])
        drv.find_element(By.ID, "password").send_keys(server.dash["password"])
        submit(drv, by_id(drv, "login-form"))
        by_id(drv, "login-error")
        assert not all_by_id(drv, "who")
    finally:
        drv.quit()


def test_overview_matches_the_status_api(server, officer):
    drv = officer
    status = server.api.get("/api/compliance/status")
    period = status["period"]
    checked = 0
    for path in (ROOT, f"{ROOT}?period={urllib.parse.quote(period)}"):
        open_page(drv, server.origin, path, "criteria")
        assert by_id(drv, "overall-status").get_attribute("data-status") == status["overall_status"], path
        for s, n in status["controls"].items():
            el = all_by_id(drv, f"count-{s}")
            if el:
                assert int(el[0].get_attribute("data-count")) == n, f"{path}: count of {s}"
                checked += 1
        for cat, c in status["criteria"].items():
            row = by_id(drv, f"category-{cat}")
            assert row.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == c["status"], cat
            checked += 1
    rows = all_by_id(drv, "criterion-row")
    assert len(rows) == 61, "each of the 61 Trust Services Criteria has a row"
    shown = {r.get_attribute("data-criterion"): r.get_attribute("data-status") for r in rows}
    judged = 0
    for k, st in shown.items():
        api = server.api.get(f"/api/compliance/controls/{urllib.parse.quote(k)}/evidence?period={urllib.parse.quote(period)}")
        # The page says "stale" where the API's rollup says not_tested because a
        # control's evidence is older than its schedule allows (docs/dashboard.md).
        assert st == api["status"] or (st == "stale" and api["status"] == "not_tested"), \
            f"{k}: page {st}, API {api['status']}"
        judged += bool(api["controls"])
    assert judged > 0 and checked >= 5 + len(status["criteria"])
    # Another period from the page's own selector, and the API for the same period.
    opts = [o.get_attribute("value") for o in Select(drv.find_element(By.ID, "period")).options]
    other = next((o for o in opts if o and o != period), None)
    if other:
        code, st = server.api.call("GET", f"/api/compliance/status?period={urllib.parse.quote(other)}")
        if code == 200:
            open_page(drv, server.origin, f"{ROOT}?period={urllib.parse.quote(other)}", "criteria")
            assert by_id(drv, "overall-status").get_attribute("data-status") == st["overall_status"], other


def test_drill_from_criterion_to_a_verified_inclusion_proof(server, officer):
    drv = officer
    open_page(drv, server.origin, ROOT, "criteria")
    row = next(r for r in all_by_id(drv, "criterion-row") if r.get_attribute("data-status") != "no_evidence")
    want = row.get_attribute("data-status")
    old = drv.find_element(By.TAG_NAME, "html")
    row.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(drv, WAIT).until(EC.staleness_of(old))
    assert by_id(drv, "criterion-status").get_attribute("data-status") in (want, "not_tested" if want == "stale" else want)
    ctl = all_by_id(drv, "control-row")[0]
    cid = ctl.get_attribute("data-control")
    old = drv.find_element(By.TAG_NAME, "html")
    ctl.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(drv, WAIT).until(EC.staleness_of(old))
    by_id(drv, "control-status")
    assert all_by_id(drv, "check"), f"control {cid} shows its checks"
    link = all_by_id(drv, "evidence-link")[0]
    item = link.text.strip()
    old = drv.find_element(By.TAG_NAME, "html")
    link.click()
    WebDriverWait(drv, WAIT).until(EC.staleness_of(old))
    by_id(drv, "ipe-record")
    assert item in by_id(drv, "ipe-id").text
    seq = by_id(drv, "ipe-ledger-seq").get_attribute("data-seq")
    assert seq.isdigit(), "the evidence item's ledger event is recorded"
    sha = by_id(drv, "ipe-sha256").text.strip()
    # The browser downloads the proof (a real download into the download dir).
    by_id(drv, "proof-link").click()
    proof = drv.download_dir / f"evidence-{seq}.tlog-proof"
    wait_for(lambda: proof.exists() and proof.stat().st_size > 0 and
             not any(p.suffix == ".crdownload" for p in drv.download_dir.iterdir()), f"download of {proof.name}")
    # The log's verifier key from the server, the same the demo printed.
    with urllib.request.urlopen(server.origin + "/api/compliance/public-key", timeout=10) as r:
        vkey = r.headers["X-Log-Verifier-Key"]
    assert vkey and vkey == server.info["log_verifier_key"]
    ok = verify_tlog.cmd_inclusion(types.SimpleNamespace(proof=str(proof), key=vkey, leaf=None))
    assert ok.startswith(f"OK inclusion index={seq} "), ok
    # The proven leaf is this item's event: it names the item (or its content hash).
    head = proof.read_text().split("\n\n", 1)[0].split("\n")
    leaf = base64.b64decode(next(l[6:] for l in head if l.startswith("extra ")))
    event = json.loads(leaf)
    assert event.get("seq") == int(seq)
    assert item in leaf.decode() or (sha and sha in leaf.decode()), f"leaf {seq} does not name item {item}"
    # And the verifier is not a rubber stamp: a flipped bit in the path is refused.
    text = proof.read_text()
    lines = text.split("\n")
    i = next(n for n, l in enumerate(lines) if l.startswith("index ")) + 1
    raw = bytearray(base64.b64decode(lines[i]))
    raw[0] ^= 1
    lines[i] = base64.b64encode(bytes(raw)).decode()
    bad = server.tmp / "tampered.tlog-proof"
    bad.write_text("\n".join(lines))
    with pytest.raises(verify_tlog.Fail):
        verify_tlog.cmd_inclusion(types.SimpleNamespace(proof=str(bad), key=vkey, leaf=None))
    shutil.copy(proof, OUT_DIR(server) / proof.name)


def finding_by_id(server, fid):
    return next(f for f in server.api.get("/api/compliance/findings") if f["id"] == fid)


def fill_finding_form(drv, status, note):
    Select(drv.find_element(By.ID, "f-status")).select_by_value(status)
    n = drv.find_element(By.ID, "f-note")
    n.clear()
    n.send_keys(note)
    return by_id(drv, "finding-form")


def test_update_a_finding_through_the_form_and_csrf_is_required(server, officer):
    drv = officer
    f = next(f for f in server.api.get("/api/compliance/findings") if f["status"] == "open")
    fid, path = f["id"], f"{ROOT}/findings/{f['id']}"
    before = len(f.get("notes") or [])
    # 1. The form without its CSRF field: refused, nothing changes.
    open_page(drv, server.origin, path, "finding-form")
    form = fill_finding_form(drv, "accepted", "no csrf: must not land")
    drv.execute_script("arguments[0].querySelector('input[name=csrf]').remove()", form)
    submit(drv, form)
    err = by_id(drv, "error")
    assert page_status(drv) == 400, "a form without CSRF is refused with 400"
    assert "csrf" in (err.text + (err.get_attribute("data-code") or "")).lower() or page_status(drv) == 400
    # 2. A wrong CSRF token: refused too.
    open_page(drv, server.origin, path, "finding-form")
    form = fill_finding_form(drv, "accepted", "wrong csrf: must not land")
    drv.execute_script("arguments[0].querySelector('input[name=csrf]').value = 'A'.repeat(43)", form)
    submit(drv, form)
    by_id(drv, "error")
    assert page_status(drv) == 400
    # 3. Outside the browser, the session cookie alone (a forged cross-site post): 400.
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in drv.get_cookies())
    req = urllib.request.Request(server.origin + path, method="POST",
                                 data=urllib.parse.urlencode({"status": "accepted", "note": "forged"}).encode(),
                                 headers={"Cookie": cookie, "Accept": "text/html",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    try:
        code = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        code = e.code
    assert code == 400
    after = finding_by_id(server, fid)
    assert after["status"] == "open" and len(after.get("notes") or []) == before, "a refused form changed the finding"
    # 4. The real form: the change is in the API and on the page.
    note = f"accepted in the browser test {uuid.uuid4().hex[:8]}"
    open_page(drv, server.origin, path, "finding-form")
    versions = int(by_id(drv, "finding-history").get_attribute("data-count"))
    submit(drv, fill_finding_form(drv, "accepted", note))
    by_id(drv, "flash")
    assert by_id(drv, "finding").get_attribute("data-status") == "accepted"
    assert int(by_id(drv, "finding-history").get_attribute("data-count")) > versions
    after = finding_by_id(server, fid)
    assert after["status"] == "accepted"
    assert note in json.dumps(after.get("notes")), f"the note is not in GET /findings: {after.get('notes')}"


def test_an_auditor_sees_no_action_on_any_page(server, officer, auditor, site):
    assert "auditor" in by_id(auditor, "who").text.lower()
    for name, path, mark in site:
        open_page(auditor, server.origin, path, mark)
        acts = [a.get_attribute("data-action") for a in auditor.find_elements(By.CSS_SELECTOR, "[data-action]")]
        assert not acts, f"{name}: the auditor is offered {acts}"
        posts = [f.get_attribute("action") for f in auditor.find_elements(By.CSS_SELECTOR, "form")
                 if (f.get_attribute("method") or "").lower() == "post" and f.get_attribute("data-testid") != "logout-form"]
        assert not posts, f"{name}: the auditor has forms posting to {posts}"
    # The check is not vacuous: the compliance officer does get the actions.
    seen = set()
    for name, path, mark in site:
        open_page(officer, server.origin, path, mark)
        seen |= {a.get_attribute("data-action") for a in officer.find_elements(By.CSS_SELECTOR, "[data-action]")}
    assert {"run-checks", "run-job", "update-finding"} <= seen, seen


def run_axe(drv):
    if not AXE.exists():
        missing(f"{AXE} is missing (npm ci in tests/browser)")
    # execute_script runs through the DevTools protocol, which the page's CSP
    # (script-src 'self') does not govern; checked by the test below.
    drv.execute_script(AXE.read_text())
    res = drv.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));")
    v = json.loads(res)
    assert not isinstance(v, dict), f"axe failed: {v}"
    return v


def test_axe_injection_is_not_blocked_by_the_csp(server, officer):
    """The page's CSP is really in force (an inline script is refused), and axe ran all
    the same: so a clean axe report is not a report of axe never running."""
    drv = officer
    open_page(drv, server.origin, ROOT, "overall-status")
    with urllib.request.urlopen(urllib.request.Request(server.origin + ROOT + "/login"), timeout=10) as r:
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    drv.execute_script(
        "window.__inlineRan = false; const s = document.createElement('script');"
        "s.textContent = 'window.__inlineRan = true'; document.head.appendChild(s);")
    assert drv.execute_script("return window.__inlineRan") is False, "CSP did not block an inline script"
    v = run_axe(drv)
    assert isinstance(v, list) and drv.execute_script("return typeof axe.version") == "string"


def test_skip_link_is_the_first_tab_stop(server, officer):
    drv = officer
    drv.set_window_size(*WIDTHS["desktop"])
    open_page(drv, server.origin, ROOT, "overall-status")
    drv.execute_script("document.activeElement && document.activeElement.blur(); window.focus();")
    drv.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    el = drv.switch_to.active_element
    assert el.tag_name == "a" and el.get_attribute("href").endswith("#main"), el.get_attribute("outerHTML")
    rect = drv.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.left, r.width, r.height];", el)
    assert rect[2] > 1 and rect[3] > 1 and rect[0] >= 0 and rect[1] >= 0, f"the focused skip link is not visible: {rect}"
    # Tabbing on from there reaches the navigation.
    stops = []
    for _ in range(8):
        drv.switch_to.active_element.send_keys(Keys.TAB)
        stops.append(drv.switch_to.active_element.get_attribute("data-testid"))
    assert "nav-overview" in stops and "nav-findings" in stops, stops
    # Following the skip link: the next Tab stop is inside the main content.
    open_page(drv, server.origin, ROOT, "overall-status")
    drv.execute_script("document.activeElement && document.activeElement.blur(); window.focus();")
    drv.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    drv.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(drv, WAIT).until(lambda d: d.execute_script("return location.hash") == "#main")
    drv.switch_to.active_element.send_keys(Keys.TAB)
    assert drv.execute_script("return document.getElementById('main').contains(document.activeElement)"), \
        drv.switch_to.active_element.get_attribute("outerHTML")


def test_pages_at_1280_and_390_px_with_screenshots_and_axe(server, officer, site):
    """One load per page and width serves all the per-page checks: no horizontal
    scrolling, a full-page screenshot, and axe-core (any serious or critical violation
    fails; the full report goes to out/<engine>/axe.json)."""
    out = OUT_DIR(server)
    overflow = []
    report = {}
    outline = None
    anon = new_driver()
    try:
        targets = [("login", anon, ROOT + "/login", "login-form")] + [(n, officer, p, m) for n, p, m in site]
        for label, (w, h) in WIDTHS.items():
            for name, drv, path, mark in targets:
                drv.set_window_size(w, h)
                open_page(drv, server.origin, path, mark)
                inner = drv.execute_script("return window.innerWidth")
                assert abs(inner - w) <= 20, f"{label}: viewport is {inner} px, not {w}"
                sw = drv.execute_script("return document.documentElement.scrollWidth")
                if sw > inner + 1:
                    overflow.append(f"{name}@{w}: the page is {sw} px wide in a {inner} px viewport")
                # axe before the screenshot: captureBeyondViewport resizes the page
                # for a moment, and axe's scrollable-region rule depends on the layout.
                report[f"{name}@{w}"] = run_axe(drv)
                if name == "overview" and label == "phone":
                    # The scrollable table wrappers are keyboard stops with a visible focus.
                    outline = drv.execute_script(
                        "const e = document.querySelector('div.scroll[tabindex=\"0\"][role=region][aria-label]');"
                        "if (!e) return null; e.focus(); const s = getComputedStyle(e);"
                        "return [document.activeElement === e, s.outlineStyle, s.outlineWidth];")
                shot = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
                (out / f"{name}-{w}.png").write_bytes(base64.b64decode(shot["data"]))
                if SHOTS and server.engine == ENGINES[0]:
                    # The docs get what a visitor first sees (the window, not the whole page).
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    drv.save_screenshot(str(Path(SHOTS) / f"{name}-{w}.png"))
    finally:
        anon.quit()
        officer.set_window_size(*WIDTHS["desktop"])
    (out / "axe.json").write_text(json.dumps(report, indent=1))
    assert len(list(out.glob("*.png"))) == 2 * len(targets)
    assert len(report) == 2 * (1 + len(site))
    assert not overflow, "pages wider than the window (horizontal scrolling):\n" + "\n".join(overflow)
    bad = [f"{key}: {x['id']} ({x['impact']}): {x['help']} at "
           + "; ".join(str(n["target"]) for n in x["nodes"][:5])
           for key, v in report.items() for x in v if x["impact"] in ("serious", "critical")]
    assert not bad, "axe-core serious/critical violations:\n" + "\n".join(bad)
    assert outline is not None, "the overview has no focusable scroll region"
    assert outline[0] and outline[1] != "none" and outline[2] != "0px", f"scroll region focus: {outline}"


def OUT_DIR(server):
    d = OUT / server.engine
    d.mkdir(parents=True, exist_ok=True)
    return d
