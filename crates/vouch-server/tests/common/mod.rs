//! Test fixtures for the HTTP service: a real `vouch serve` on a loopback port whose
//! database is SQLite or its own PostgreSQL schema, and a small HTTP client.
#![allow(dead_code)]

use serde_json::Value;
use std::net::SocketAddr;
use vouch_server::roles::Role;

pub use vouch_test_support::pg::drop_schema;
pub use vouch_test_support::{on_both, pg_url, Kind};

pub const JWT_SECRET: &str = "test-jwt-secret-of-enough-length-0123456789";

/// `VOUCH_JWT_SECRET` (the HS256 secret the in-process servers read) is set once, before
/// `main`, while the test process has a single thread: setting it from a test (as was
/// done in `Server::start_with`) would race with other threads reading the environment.
/// There is no child process to hand it to: the server runs in this process.
#[cfg(target_os = "linux")]
#[used]
// SAFETY: a plain function pointer in .init_array, called once by the loader before
// main; it only sets one environment variable while no other thread exists.
#[allow(unsafe_code)]
#[link_section = ".init_array"]
static SET_JWT_SECRET: extern "C" fn() = {
    extern "C" fn set() {
        std::env::set_var("VOUCH_JWT_SECRET", JWT_SECRET);
    }
    set
};

pub fn unique_schema() -> String {
    vouch_test_support::unique_name("vouch_srv")
}

/// A data directory (config, keys) whose database is SQLite or a fresh PostgreSQL
/// schema; `edit` may change the configuration text first.
pub struct Data {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub schema: Option<String>,
    pub url: String,
}

impl Data {
    pub fn new(kind: Kind, edit: impl FnOnce(&mut String)) -> Data {
        let dir = tempfile::tempdir().unwrap();
        vouch_engine::init::init(dir.path(), Some("Acme"), Some("acme.example/vouch/audit"))
            .unwrap();
        let cfg = dir.path().join("vouch.toml");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        let (mut schema, mut url) = (None, String::new());
        if kind == Kind::Postgres {
            url = pg_url().expect("PostgreSQL tests need VOUCH_TEST_DATABASE_URL");
            let s = unique_schema();
            text = text
                .replacen("url = \"vouch.db\"", &format!("url = \"{url}\""), 1)
                .replacen("schema = \"\"", &format!("schema = \"{s}\""), 1);
            schema = Some(s);
        }
        edit(&mut text);
        std::fs::write(&cfg, text).unwrap();
        Data {
            kind,
            dir,
            schema,
            url,
        }
    }

    pub fn config(&self) -> vouch_engine::Config {
        vouch_engine::Config::load(self.dir.path()).unwrap()
    }

    /// Environment for a `vouch` child process using this data directory.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match &self.schema {
            Some(s) => vec![
                ("VOUCH_DATABASE_URL", self.url.clone()),
                ("VOUCH_DATABASE_SCHEMA", s.clone()),
            ],
            None => vec![],
        }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        if let Some(s) = &self.schema {
            drop_schema(&self.url, s);
        }
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub store: vouch_store::Store,
    pub tls: bool,
    rt: Option<tokio::runtime::Runtime>,
    // Declared last: the schema is dropped after the server and store are gone.
    pub data: Data,
}

impl Server {
    /// A server with HS256 JWTs enabled (seed 000's role names mapped).
    pub fn start(kind: Kind) -> Server {
        Self::start_with(kind, |_| {})
    }

    pub fn start_with(kind: Kind, edit: impl FnOnce(&mut String)) -> Server {
        #[cfg(not(target_os = "linux"))]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| std::env::set_var("VOUCH_JWT_SECRET", JWT_SECRET));
        }
        let data = Data::new(kind, |t| {
            *t = t.replace("jwt_algorithm = \"\"", "jwt_algorithm = \"HS256\"");
            edit(t)
        });
        Self::on(data, None)
    }

    /// Serve `data`, optionally over TLS.
    pub fn on(data: Data, tls: Option<vouch_server::TlsFiles>) -> Server {
        let config = data.config();
        let store = vouch_engine::open(&config).unwrap().0;
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let is_tls = tls.is_some();
        rt.spawn(async move {
            let opts = vouch_server::ServeOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                ready: Some(tx),
                tls,
                shutdown: None,
            };
            if let Err(e) = vouch_server::serve_with(config, opts).await {
                panic!("serve: {e}");
            }
        });
        let addr = rt.block_on(rx).expect("the server did not start");
        Server {
            addr,
            store,
            tls: is_tls,
            rt: Some(rt),
            data,
        }
    }

    pub fn kind(&self) -> Kind {
        self.data.kind
    }

    /// Stop serving (the runtime and its tasks go away).
    pub fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }

    /// Rows of a table matching a WHERE clause (raw SQL, same text on both engines).
    pub fn count(&self, sql: &str) -> i64 {
        self.store.query(sql, &[]).unwrap()[0].int(0)
    }

    /// Every ledger leaf as JSON.
    pub fn leaves(&self) -> Vec<Value> {
        (0..self.store.head().unwrap().size)
            .filter_map(|i| self.store.leaf(i).unwrap())
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A request with a bearer token (when given) and a JSON content type.
pub fn call(s: &Server, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
    let mut h = vec![("Content-Type", "application/json".to_string())];
    if let Some(t) = token {
        h.push(("Authorization", format!("Bearer {t}")));
    }
    call_h(s, method, path, &h, body)
}

/// A request with exactly these headers.
pub fn call_h(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Resp {
    let url = format!("http://{}{path}", s.addr);
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let agent = agent();
    let mut resp = match body {
        Some(b) => agent.run(req.body(b.to_string()).unwrap()),
        None => agent.run(req.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Resp {
        status: resp.status().as_u16(),
        body: resp.body_mut().read_to_vec().unwrap(),
        headers,
    }
}

/// A raw HTTP/1.1 exchange (for requests a client library will not send).
pub fn raw(s: &Server, request: &[u8]) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

pub fn token(s: &Server, role: Role, expires: Option<chrono::DateTime<chrono::Utc>>) -> String {
    vouch_server::auth::create_token(
        &s.store,
        &format!("{}-{}", role.as_str(), uuid::Uuid::new_v4()),
        role,
        expires,
    )
    .unwrap()
    .1
}

pub fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        buf = (buf << 5) | A.iter().position(|x| *x == c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}
