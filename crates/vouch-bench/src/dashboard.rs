//! `vouch-bench dashboard`: p50/p95/p99 of every dashboard page (`/admin/compliance/…`)
//! on a ledger of N events made as a user makes one (`vouch demo --events N`), served by
//! a `vouch serve` child on loopback, logged in as the demo's compliance officer
//! (password and TOTP, enrolled by the bench on first use) and with its auditor token;
//! against the same pages on a small ledger (the baseline) measured in the same run.
//!
//! The time of a request is the server's own, from its `Server-Timing: app;dur=MS`
//! header (the request-id middleware: limits, authentication, handler, self-audit), and
//! the loopback round trip measured here (request to the last byte of the body) is given
//! next to it; a response without the header is timed by the client alone, and the
//! output says which.

use crate::child::Vouch;
use crate::http::Server;
use crate::{machine, round};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

/// Parameters of `vouch-bench dashboard`.
#[derive(Debug, Clone)]
pub struct DashboardBench {
    /// Events in the measured ledger (`vouch demo --events`).
    pub events: usize,
    /// Events in the baseline ledger (0: no baseline).
    pub baseline_events: usize,
    /// Timed requests per page and login (after one warm-up request).
    pub requests: usize,
    /// Keep the measured ledger's data directory here: filled when it holds no earlier
    /// fill of this bench, reused as it is when it does.
    pub data_dir: Option<PathBuf>,
    /// The same for the baseline's data directory.
    pub baseline_data_dir: Option<PathBuf>,
    /// PostgreSQL URL: the ledgers are stored there (a schema each) instead of SQLite.
    pub database: Option<String>,
    /// Scratch directory (data directories not kept), removed after the run.
    pub dir: PathBuf,
    /// The `vouch` binary (default: next to this executable).
    pub vouch: Option<PathBuf>,
}

/// What this bench keeps in a data directory it filled (secrets: mode 0600).
const STATE_FILE: &str = "bench-dashboard.json";
/// The demo's local user (a compliance officer).
const OFFICER: &str = "officer";

/// `vouch-bench dashboard`: runs the benchmark and returns its report.
pub fn dashboard(b: &DashboardBench, progress: &mut dyn FnMut(&str)) -> Result<Value> {
    let vouch = Vouch::locate(b.vouch.as_deref())?;
    if b.requests == 0 {
        bail!("--requests must be at least 1");
    }
    std::fs::create_dir_all(&b.dir).with_context(|| format!("creating {}", b.dir.display()))?;
    let mut ledgers = Vec::new();
    let mut schemas_to_drop = Vec::new();
    let mut runs = Vec::new();
    if b.baseline_events > 0 {
        runs.push((
            "baseline",
            b.baseline_events,
            b.baseline_data_dir.clone(),
            "dashboard-baseline",
        ));
    }
    runs.push(("ledger", b.events, b.data_dir.clone(), "dashboard-ledger"));
    let result = (|| -> Result<()> {
        for (name, events, kept, scratch) in runs {
            let dir = kept.clone().unwrap_or_else(|| b.dir.join(scratch));
            let data = prepare(
                &vouch,
                &dir,
                events,
                b.database.as_deref(),
                kept.is_none(),
                progress,
            )?;
            if kept.is_none() {
                if let Some(s) = &data.state.schema {
                    schemas_to_drop.push(s.clone());
                }
            }
            ledgers.push(measure(&vouch, name, &dir, data, b, progress)?);
        }
        Ok(())
    })();
    if let Some(url) = &b.database {
        for s in &schemas_to_drop {
            drop_schema(url, s);
        }
    }
    result?;

    // How each page's p95 grows from the baseline to the measured ledger.
    let mut growth = Vec::new();
    if ledgers.len() == 2 {
        for p in ledgers[1]["pages"].as_array().into_iter().flatten() {
            let base = ledgers[0]["pages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|q| q["page"] == p["page"] && q["login"] == p["login"]);
            if let Some(q) = base {
                let (a, z) = (
                    q["p95_ms"].as_f64().unwrap_or(0.0),
                    p["p95_ms"].as_f64().unwrap_or(0.0),
                );
                growth.push(json!({"page": p["page"], "login": p["login"], "p95_ms_baseline": a, "p95_ms": z, "ratio": round(z / a.max(1e-6), 2)}));
            }
        }
    }
    let over: Vec<Value> = ledgers
        .last()
        .and_then(|l| l["pages"].as_array())
        .into_iter()
        .flatten()
        .filter(|p| p["p95_ms"].as_f64().unwrap_or(0.0) > 200.0)
        .map(|p| json!({"page": p["page"], "login": p["login"], "p95_ms": p["p95_ms"]}))
        .collect();
    Ok(json!({
        "benchmark": "dashboard",
        "vouch_version": vouch_engine::VERSION,
        "date": crate::now(),
        "machine": machine(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "parameters": {
            "events": b.events, "baseline_events": b.baseline_events, "requests": b.requests,
            "database": if b.database.is_some() { "postgresql" } else { "sqlite" },
            "scheduler": "off (VOUCH_SCHEDULER=off: no job runs during the timing)",
        },
        "timing": "p50/p95/p99 are the server's time (Server-Timing app;dur: limits, authentication, handler, self-audit) where the response carries it, else the loopback client's; client_ms is always the loopback round trip to the last byte of the body, one request at a time over a kept-alive connection, after one warm-up request per page",
        "ledgers": ledgers,
        "growth_p95": growth,
        "over_goal": over,
        "goal": {"p95_ms": 200, "at_events": 10_000_000},
    }))
}

/// What the bench keeps next to a data directory's ledger.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct State {
    /// Events `vouch demo` appended.
    events: u64,
    /// The officer's password (from the demo).
    password: String,
    /// The demo's auditor token.
    auditor_token: String,
    /// The officer's TOTP secret (base32), once enrolled.
    totp_secret: Option<String>,
    /// The last TOTP time step used (a code is good once).
    totp_last_step: i64,
    /// The demo's access review.
    access_review: String,
    /// The PostgreSQL schema holding the ledger (none: SQLite in the data directory).
    schema: Option<String>,
    /// The fill: `vouch demo`'s time, its append time, events per second.
    fill: Value,
}

struct Data {
    state: State,
    reused: bool,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

fn save_state(dir: &Path, s: &State) -> Result<()> {
    let p = state_path(dir);
    std::fs::write(&p, serde_json::to_vec_pretty(s)?)
        .with_context(|| format!("writing {}", p.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Environment for `vouch` children on this data directory's ledger.
fn env_of(database: Option<&str>, schema: Option<&str>) -> Result<Vec<(&'static str, String)>> {
    let mut env = vec![("VOUCH_SCHEDULER", "off".to_string())];
    match (database, schema) {
        (Some(url), Some(s)) => {
            env.push(("VOUCH_DATABASE_URL", url.to_string()));
            env.push(("VOUCH_DATABASE_SCHEMA", s.to_string()));
        }
        (None, Some(s)) => bail!(
            "this data directory's ledger is in PostgreSQL schema {s}: give its --database URL"
        ),
        _ => {}
    }
    Ok(env)
}

fn drop_schema(url: &str, schema: &str) {
    match postgres::Client::connect(url, postgres::NoTls) {
        Ok(mut c) => {
            if let Err(e) = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            {
                eprintln!("[bench] dropping schema {schema}: {e}");
            }
        }
        Err(e) => eprintln!("[bench] dropping schema {schema}: {e}"),
    }
}

/// The data directory `dir` with `events` events: reused when it holds this bench's
/// state file, else made with `vouch demo --into DIR --events N` (timed).
fn prepare(
    vouch: &Vouch,
    dir: &Path,
    events: usize,
    database: Option<&str>,
    scratch: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Data> {
    let sp = state_path(dir);
    if !scratch && sp.is_file() && dir.join("vouch.toml").is_file() {
        let state: State = serde_json::from_slice(&std::fs::read(&sp)?)
            .with_context(|| format!("reading {}", sp.display()))?;
        progress(&format!(
            "reusing {} ({} events; delete it to fill again)",
            dir.display(),
            state.events
        ));
        if state.events as usize / 12 != events / 12 {
            progress(&format!(
                "note: {} holds {} events, not the {events} asked for; measured as it is",
                dir.display(),
                state.events
            ));
        }
        return Ok(Data {
            state,
            reused: true,
        });
    }
    if scratch {
        let _ = std::fs::remove_dir_all(dir);
    } else if dir.join("vouch.toml").is_file() {
        // A data directory this bench did not fill (or whose state file is gone): `vouch
        // demo` would replace it, and a 10M-event one takes long to make again.
        bail!(
            "{} holds a vouch data directory without {STATE_FILE} (not filled by this \
             benchmark): delete it to have it filled again, or give another --data-dir",
            dir.display()
        );
    }
    let schema = database.map(|_| {
        format!(
            "vouch_bench_dash_{}_{}",
            events,
            uuid_ish(&dir.display().to_string())
        )
    });
    if let (Some(url), Some(s)) = (database, &schema) {
        drop_schema(url, s);
    }
    progress(&format!(
        "vouch demo --into {} --events {events}{}",
        dir.display(),
        schema
            .as_ref()
            .map(|s| format!(" (PostgreSQL schema {s})"))
            .unwrap_or_default()
    ));
    let mut cmd = vouch.command(dir);
    cmd.envs(env_of(database, schema.as_deref())?)
        .args(["--json", "demo", "--into"])
        .arg(dir)
        .args(["--events", &events.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let t = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", vouch.path.display()))?;
    let secs = t.elapsed().as_secs_f64();
    let demo: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "vouch demo printed no JSON (exit {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    if !out.status.success() {
        bail!("vouch demo failed ({}): {demo}", out.status);
    }
    let text = |v: &Value, what: &str| -> Result<String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("vouch demo printed no {what}: {demo}"))
    };
    let appended = demo["events"].as_u64().unwrap_or(events as u64);
    let append_secs = demo["append_seconds"].as_f64().unwrap_or(0.0);
    let state = State {
        events: appended,
        password: text(&demo["dashboard"]["password"], "officer password")?,
        auditor_token: text(&demo["dashboard"]["auditor_token"], "auditor token")?,
        totp_secret: None,
        totp_last_step: 0,
        access_review: text(&demo["access_review"]["id"], "access review")?,
        schema,
        fill: json!({
            "demo_seconds": round(secs, 2),
            "append_seconds": round(append_secs, 2),
            "append_events_per_sec": (appended as f64 / append_secs.max(1e-9)).round(),
            "demo_events_per_sec": (appended as f64 / secs.max(1e-9)).round(),
            "verify_seconds": demo["verify_seconds"],
        }),
    };
    save_state(dir, &state)?;
    progress(&format!(
        "filled {appended} events in {secs:.1} s (append {append_secs:.1} s, {} events/s)",
        state.fill["append_events_per_sec"]
    ));
    Ok(Data {
        state,
        reused: false,
    })
}

/// A short stable tag for a path (schema names of kept data directories).
fn uuid_ish(s: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..4])
}

/// RFC 4648 base32 (no padding) to bytes.
fn base32_decode(s: &str) -> Result<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = A
            .iter()
            .position(|&x| x == c.to_ascii_uppercase())
            .ok_or_else(|| anyhow!("not base32: {s}"))? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Ok(out)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Form-encode one value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `vouch_session=…` pair from a login's 303 answer.
fn session_cookie(r: &ureq::http::Response<ureq::Body>, what: &str) -> Result<String> {
    if r.status().as_u16() != 303 {
        bail!("{what}: answered {}, not 303", r.status());
    }
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("vouch_session=") && !c.starts_with("vouch_session=;"))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{what}: no session cookie"))
}

fn post_json(agent: &ureq::Agent, url: &str, bearer: Option<&str>, body: Value) -> Result<Value> {
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut r = req.send(body.to_string().as_str())?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string()?;
    if status != 200 {
        bail!("POST {url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// A TOTP code for a step after the last one used (a code is good once; the server
/// takes one step of drift either way), waiting for the clock if need be.
fn next_code(state: &mut State) -> Result<String> {
    let secret = base32_decode(state.totp_secret.as_deref().unwrap_or_default())?;
    loop {
        let now = chrono::Utc::now().timestamp();
        let step = (now / 30).max(state.totp_last_step + 1);
        if step <= now / 30 + 1 {
            state.totp_last_step = step;
            return Ok(vouch_server::auth::totp(&secret, step * 30));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The officer's TOTP, enrolled through the API when this data directory has none yet.
fn enroll_totp(agent: &ureq::Agent, base: &str, state: &mut State) -> Result<()> {
    let login = post_json(
        agent,
        &format!("{base}/api/compliance/auth/login"),
        None,
        json!({"username": OFFICER, "password": state.password}),
    )?;
    let token = login["token"]
        .as_str()
        .ok_or_else(|| anyhow!("login returned no token: {login}"))?
        .to_string();
    let e = post_json(
        agent,
        &format!("{base}/api/compliance/auth/totp/enroll"),
        Some(&token),
        json!({"password": state.password}),
    )?;
    state.totp_secret = Some(
        e["secret"]
            .as_str()
            .ok_or_else(|| anyhow!("enrolment returned no secret: {e}"))?
            .to_string(),
    );
    let code = next_code(state)?;
    post_json(
        agent,
        &format!("{base}/api/compliance/auth/totp/verify"),
        Some(&token),
        json!({"code": code}),
    )?;
    Ok(())
}

/// The officer's dashboard session: the login form with the password and a TOTP code.
fn officer_session(agent: &ureq::Agent, base: &str, state: &mut State) -> Result<String> {
    let code = next_code(state)?;
    let r = agent
        .post(format!("{base}/admin/compliance/login"))
        .header("Accept", "text/html")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(
            format!(
                "username={OFFICER}&password={}&totp_code={code}&next=%2Fadmin%2Fcompliance",
                enc(&state.password)
            )
            .as_str(),
        )?;
    session_cookie(&r, "officer login (password + TOTP)")
}

/// The auditor's dashboard session: the token pasted into the token form.
fn auditor_session(agent: &ureq::Agent, base: &str, token: &str) -> Result<String> {
    let r = agent
        .post(format!("{base}/admin/compliance/token-login"))
        .header("Accept", "text/html")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("token={}&next=%2Fadmin%2Fcompliance", enc(token)).as_str())?;
    session_cookie(&r, "auditor token login")
}

/// One GET: status, body, server time (ms) if the server said, client time (ms).
struct Got {
    status: u16,
    body: Vec<u8>,
    server_ms: Option<f64>,
    client_ms: f64,
}

fn get(agent: &ureq::Agent, url: &str, cookie: &str) -> Result<Got> {
    let t = Instant::now();
    let mut r = agent
        .get(url)
        .header("Accept", "text/html")
        .header("Cookie", cookie)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .with_context(|| format!("reading {url}"))?;
    let client_ms = t.elapsed().as_secs_f64() * 1000.0;
    let server_ms = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.split([';', ',']).next())
        .and_then(|v| v.trim().parse::<f64>().ok());
    Ok(Got {
        status: r.status().as_u16(),
        body,
        server_ms,
        client_ms,
    })
}

/// Every `href="…"` of a page starting with `prefix` (HTML-unescaped).
fn links(html: &str, prefix: &str) -> Vec<String> {
    let pat = format!("href=\"{prefix}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&pat) {
        let s = &rest[i + 6..];
        let end = s.find('"').unwrap_or(s.len());
        out.push(s[..end].replace("&amp;", "&"));
        rest = &s[end..];
    }
    out
}

/// The dashboard's pages on this ledger, with real ids: found by following the links of
/// the fixed pages (a criterion and a control from the overview, an evidence item from
/// a control, a finding from the findings list, the inclusion-proof download from the
/// evidence item), and the demo's access review.
fn pages(
    agent: &ureq::Agent,
    base: &str,
    cookie: &str,
    state: &State,
) -> Result<Vec<(String, String)>> {
    const R: &str = "/admin/compliance";
    let mut pages: Vec<(String, String)> = [
        ("overview", R.to_string()),
        ("effectiveness", format!("{R}/effectiveness")),
        ("timeline", format!("{R}/timeline")),
        ("findings", format!("{R}/findings")),
        ("packets", format!("{R}/packets")),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect();
    let fetch = |path: &str| -> Result<String> {
        let g = get(agent, &format!("{base}{path}"), cookie)?;
        if g.status != 200 {
            bail!("GET {path}: {} (pages must answer 200)", g.status);
        }
        Ok(String::from_utf8_lossy(&g.body).into_owned())
    };
    let overview = fetch(R)?;
    let first = |html: &str, what: &str, kind: &str| -> Result<String> {
        links(html, &format!("{R}/{kind}/"))
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no {what} linked from the dashboard: the demo made none"))
    };
    let criterion = first(&overview, "criterion", "criteria")?;
    let crit_html = fetch(&criterion)?;
    let mut controls = links(&crit_html, &format!("{R}/controls/"));
    controls.extend(links(
        &fetch(&format!("{R}/effectiveness"))?,
        &format!("{R}/controls/"),
    ));
    controls.dedup();
    let control = controls
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("no control linked from the dashboard"))?;
    // The first control (in the overview's order) whose page links an evidence item.
    let mut evidence = None;
    for c in controls.iter().take(60) {
        if let Some(e) = links(&fetch(c)?, &format!("{R}/evidence/"))
            .into_iter()
            .next()
        {
            evidence = Some(e);
            break;
        }
    }
    let evidence = match evidence {
        Some(e) => e,
        None => first(&overview, "evidence item", "evidence")?,
    };
    let proof = links(&fetch(&evidence)?, "/api/compliance/ledger/proof?")
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the evidence page {evidence} links no inclusion proof"))?;
    let finding = first(&fetch(&format!("{R}/findings"))?, "finding", "findings")?;
    pages.extend([
        ("criterion".to_string(), criterion),
        ("control".to_string(), control),
        ("evidence".to_string(), evidence),
        ("proof_download".to_string(), proof),
        ("finding".to_string(), finding),
        (
            "access_review".to_string(),
            format!("{R}/access-reviews/{}", state.access_review),
        ),
    ]);
    Ok(pages)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn load_average() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|x| x.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .map(|v| json!(v))
        .unwrap_or(Value::Null)
}

fn stats(v: &mut [f64]) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({
        "p50": round(percentile(v, 0.5), 2),
        "p95": round(percentile(v, 0.95), 2),
        "p99": round(percentile(v, 0.99), 2),
        "max": round(v.last().copied().unwrap_or(0.0), 2),
    })
}

/// Serve `dir`, log in both ways, and time every page.
fn measure(
    vouch: &Vouch,
    name: &str,
    dir: &Path,
    mut data: Data,
    b: &DashboardBench,
    progress: &mut dyn FnMut(&str),
) -> Result<Value> {
    let env = env_of(b.database.as_deref(), data.state.schema.as_deref())?;
    let t = Instant::now();
    let server = Server::start_with_env(vouch, dir, &env)?;
    let start_secs = t.elapsed().as_secs_f64();
    let base = format!("http://{}", server.addr);
    let agent = agent();
    if data.state.totp_secret.is_none() {
        progress("enrolling the officer's TOTP");
        enroll_totp(&agent, &base, &mut data.state)?;
        save_state(dir, &data.state)?;
    }
    let officer = officer_session(&agent, &base, &mut data.state);
    // The step used is spent even when the login failed.
    save_state(dir, &data.state)?;
    let officer = officer?;
    let auditor = auditor_session(&agent, &base, &data.state.auditor_token)?;
    let pages = pages(&agent, &base, &officer, &data.state)?;
    progress(&format!(
        "{name}: {} events, {} pages × 2 logins × {} requests",
        data.state.events,
        pages.len(),
        b.requests
    ));
    let load_before = load_average();
    let mut out = Vec::new();
    let mut all_server = true;
    for (login, cookie) in [("officer", &officer), ("auditor", &auditor)] {
        for (page, path) in &pages {
            let url = format!("{base}{path}");
            let warm = get(&agent, &url, cookie)?;
            if warm.status != 200 {
                bail!(
                    "{login} GET {path}: {} (every page must answer 200): {}",
                    warm.status,
                    String::from_utf8_lossy(&warm.body)
                        .chars()
                        .take(300)
                        .collect::<String>()
                );
            }
            let mut server_ms = Vec::new();
            let mut client_ms = Vec::new();
            let mut codes: BTreeMap<String, usize> = BTreeMap::new();
            let mut bytes = 0usize;
            for _ in 0..b.requests {
                let g = get(&agent, &url, cookie)?;
                *codes.entry(g.status.to_string()).or_default() += 1;
                if g.status != 200 {
                    bail!(
                        "{login} GET {path}: {} (every page must answer 200)",
                        g.status
                    );
                }
                bytes = g.body.len();
                client_ms.push(g.client_ms);
                match g.server_ms {
                    Some(ms) => server_ms.push(ms),
                    None => all_server = false,
                }
            }
            let server_stats = (server_ms.len() == client_ms.len()).then(|| stats(&mut server_ms));
            let client_stats = stats(&mut client_ms);
            let main = server_stats.as_ref().unwrap_or(&client_stats);
            out.push(json!({
                "page": page, "path": path, "login": login,
                "requests": b.requests, "status": codes, "bytes": bytes,
                "time_source": if server_stats.is_some() { "server" } else { "client" },
                "p50_ms": main["p50"], "p95_ms": main["p95"], "p99_ms": main["p99"], "max_ms": main["max"],
                "client_ms": client_stats,
            }));
            progress(&format!(
                "  {login:<7} {page:<15} p50 {} ms  p95 {} ms  p99 {} ms  ({} bytes)",
                main["p50"], main["p95"], main["p99"], bytes
            ));
        }
    }
    let load_after = load_average();
    drop(server);
    Ok(json!({
        "name": name,
        "events": data.state.events,
        "data_dir": dir.display().to_string(),
        "database": data.state.schema.as_ref().map(|s| format!("postgresql (schema {s})")).unwrap_or_else(|| "sqlite".into()),
        "fill": if data.reused { let mut f = data.state.fill.clone(); f["reused"] = json!(true); f } else { data.state.fill.clone() },
        "server_start_seconds": round(start_secs, 2),
        "time_source": if all_server { "server (Server-Timing)" } else { "client (loopback) for pages without Server-Timing" },
        "load_average_before": load_before,
        "load_average_after": load_after,
        "pages": out,
    }))
}
