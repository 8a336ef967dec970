//! MySQL/MariaDB collectors honour `ssl-mode` against a real MariaDB with TLS: a
//! private mariadbd (its own data directory, port and socket) whose certificate comes
//! from a CA the test makes with openssl. The shared server on 3306 is left unchanged.

use crate::common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use vouch_core::period::Period;

fn october() -> Period {
    Period::parse("2026-10", chrono::Utc::now()).unwrap()
}

/// Skip unless MySQL tests are on (they must be under CI); a private server needs root
/// (mariadbd runs with `--user=root`) and the MariaDB server binaries.
fn enabled() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    match std::env::var("VOUCH_TEST_MYSQL_URL") {
        Ok(u) if !u.is_empty() => {}
        _ => {
            assert!(!ci, "CI=true but VOUCH_TEST_MYSQL_URL is not set");
            eprintln!("skipping: VOUCH_TEST_MYSQL_URL not set");
            return false;
        }
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let bins = Command::new("mariadb-install-db")
        .arg("--help")
        .output()
        .is_ok()
        && Path::new("/usr/sbin/mariadbd").exists();
    if !root || !bins {
        assert!(!ci, "CI=true: these tests need root and mariadbd");
        eprintln!("skipping: needs root, mariadbd and mariadb-install-db");
        return false;
    }
    true
}

// The test CA and the server certificate (`localhost` only, not 127.0.0.1) come from
// vouch-test-support.
use vouch_test_support::tls::{make_ca, make_server_cert, run};

/// A private MariaDB server, killed and removed on drop.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Server {
    /// `tls`: serve with the test CA's certificate (`ca.crt`, `server.crt`), or without TLS.
    fn start(tls: bool) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("vouch-my-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let d = dir.path();
        // Its own tmpdir too: two bootstraps sharing /tmp trip over each other's
        // temporary tables.
        std::fs::create_dir(d.join("tmp")).unwrap();
        let tmpdir = format!("--tmpdir={}", d.join("tmp").display());
        run(Command::new("mariadb-install-db")
            .current_dir(d)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ])
            .arg(&tmpdir));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .arg(format!("--log-error={}", d.join("err.log").display()))
            .arg(format!("--port={port}"))
            .arg(&tmpdir)
            .args([
                "--user=root",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ]);
        if tls {
            make_ca(d, "ca");
            make_ca(d, "other");
            make_server_cert(d, "ca");
            cmd.arg(format!("--ssl-ca={}", d.join("ca.crt").display()))
                .arg(format!("--ssl-cert={}", d.join("server.crt").display()))
                .arg(format!("--ssl-key={}", d.join("server.key").display()));
        } else {
            cmd.arg("--skip-ssl");
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { dir, port, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while s.sql("SELECT 1").is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "mariadbd did not start: {}",
                std::fs::read_to_string(s.dir.path().join("err.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        // A TCP user with a password (root has socket authentication only).
        s.sql(
            "CREATE USER 'vouch'@'%' IDENTIFIED BY 'My-Tls-S3cret';
             GRANT SELECT ON *.* TO 'vouch'@'%';
             CREATE DATABASE evid;
             CREATE TABLE evid.grants (who varchar(20));
             INSERT INTO evid.grants VALUES ('alice');",
        )
        .unwrap();
        s
    }

    /// `sql` as root over the server's own socket.
    fn sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                self.dir.path().join("sock").display()
            ))
            .args(["-uroot", "-N", "-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SECRET: &str = "My-Tls-S3cret";

/// Collect one evidence item per (name, DSN) and return the records by name.
fn collect(sources: &[(&str, String)]) -> Vec<(String, serde_json::Value, String)> {
    let mut fx = common::Fx::new(common::Kind::Sqlite).unwrap();
    let mut catalog = String::new();
    for (name, dsn) in sources {
        let var = format!("VOUCH_T_MYTLS_{}", name.to_uppercase());
        std::env::set_var(&var, dsn);
        catalog.push_str(&format!(
            "[[source]]\nname = \"{name}\"\nkind = \"mysql\"\nurl_env = \"{var}\"\n\n\
             [[evidence]]\nid = \"{name}\"\ntitle = \"{name}\"\nsource = \"{name}\"\n\
             query = \"SELECT who FROM evid.grants\"\n\n"
        ));
    }
    fx.with_catalog(&catalog);
    let items = fx
        .collector()
        .collect(&[], &october(), &mut |_| {})
        .unwrap();
    let leaves = fx.all_leaves();
    sources
        .iter()
        .map(|(name, _)| {
            let rec = items
                .iter()
                .find(|i| i.record["evidence_id"] == *name)
                .unwrap_or_else(|| panic!("no record for {name}"))
                .record
                .clone();
            (name.to_string(), rec, leaves.clone())
        })
        .collect()
}

fn err(rec: &serde_json::Value) -> String {
    assert_ne!(rec["status"], "ok", "expected a failure: {rec}");
    eprintln!("{}: {}", rec["evidence_id"], rec["error"]);
    rec["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn ext_mysql_ssl_modes_against_a_test_ca() {
    if !enabled() {
        return;
    }
    let s = Server::start(true);
    let port = s.port;
    let ca = s.file("ca.crt");
    let other = s.file("other.crt");
    let by_name = format!("mysql://vouch:{SECRET}@localhost:{port}/evid");
    let by_ip = format!("mysql://vouch:{SECRET}@127.0.0.1:{port}/evid");
    // A host name that reaches the server but is not on its certificate: the machine's
    // own name, when it resolves to 127.0.0.1 (the IP address case below always runs).
    let other_name = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h != "localhost")
        .filter(|h| {
            use std::net::ToSocketAddrs;
            (h.as_str(), port)
                .to_socket_addrs()
                .map(|mut a| a.any(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST))
                .unwrap_or(false)
        });
    let mut sources = vec![
        (
            "identity",
            format!("{by_name}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
        (
            "wrongname",
            format!("{by_ip}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
        (
            "untrusted",
            format!("{by_name}?ssl-mode=VERIFY_IDENTITY&ssl-ca={other}"),
        ),
        (
            "verifyca",
            format!("{by_ip}?ssl-mode=VERIFY_CA&ssl-ca={ca}"),
        ),
        (
            "verifycabad",
            format!("{by_ip}?ssl-mode=VERIFY_CA&ssl-ca={other}"),
        ),
        ("required", format!("{by_ip}?ssl-mode=REQUIRED")),
        ("preferred", by_ip.clone()),
        ("disabled", format!("{by_ip}?ssl-mode=DISABLED")),
    ];
    if let Some(h) = &other_name {
        sources.push((
            "wrongdns",
            format!("mysql://vouch:{SECRET}@{h}:{port}/evid?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ));
    }
    let recs = collect(&sources);
    let get = |n: &str| recs.iter().find(|r| r.0 == n).unwrap().1.clone();
    let leaves = &recs[0].2;
    for (name, rec, _) in &recs {
        assert!(
            !rec.to_string().contains(SECRET),
            "{name}: password in the record: {rec}"
        );
    }
    assert!(!leaves.contains(SECRET), "password in the ledger");

    // VERIFY_IDENTITY with the CA, by the name the certificate lists: encrypted, read.
    let r = get("identity");
    assert_eq!(r["status"], "ok", "{r}");
    let fp = &r["source"]["fingerprint"];
    assert_eq!(fp["ssl_mode"], "VERIFY_IDENTITY", "{fp}");
    assert_eq!(fp["ssl_ca"], ca.as_str(), "{fp}");
    assert_eq!(fp["tls"], true, "{fp}");
    assert!(
        fp["tls_version"]
            .as_str()
            .unwrap_or("")
            .starts_with("TLSv1."),
        "{fp}"
    );

    // The certificate names localhost, not 127.0.0.1.
    let e = err(&get("wrongname"));
    assert!(
        e.contains("does not name `127.0.0.1`") && e.contains("VERIFY_IDENTITY"),
        "{e}"
    );
    if let Some(h) = &other_name {
        let e = err(&get("wrongdns"));
        assert!(e.contains(&format!("does not name `{h}`")), "{e}");
    }
    // A CA that did not sign the server's certificate.
    let e = err(&get("untrusted"));
    assert!(e.contains(&format!("not signed by a CA in {other}")), "{e}");
    // VERIFY_CA checks the chain, not the name.
    let r = get("verifyca");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["tls"], true);
    let e = err(&get("verifycabad"));
    assert!(
        e.contains("ssl-mode=VERIFY_CA") && e.contains("not signed by a CA in"),
        "{e}"
    );
    // REQUIRED: encrypted, certificate not checked.
    let r = get("required");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["tls"], true, "{r}");
    assert_eq!(r["source"]["fingerprint"]["ssl_mode"], "REQUIRED");
    // PREFERRED (the default): TLS when the server offers it.
    let r = get("preferred");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["ssl_mode"], "PREFERRED");
    assert_eq!(r["source"]["fingerprint"]["tls"], true, "{r}");
    // DISABLED: plain text, and the record says so.
    let r = get("disabled");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["ssl_mode"], "DISABLED");
    assert_eq!(r["source"]["fingerprint"]["tls"], false, "{r}");
    drop(s);
}

#[test]
fn ext_mysql_required_fails_clearly_when_the_server_has_no_tls() {
    if !enabled() {
        return;
    }
    let s = Server::start(false);
    let port = s.port;
    let dsn = format!("mysql://vouch:{SECRET}@127.0.0.1:{port}/evid");
    let recs = collect(&[
        ("required", format!("{dsn}?ssl-mode=REQUIRED")),
        ("preferred", format!("{dsn}?ssl-mode=PREFERRED")),
        ("disabled", format!("{dsn}?ssl-mode=DISABLED")),
    ]);
    let get = |n: &str| recs.iter().find(|r| r.0 == n).unwrap().1.clone();
    let e = err(&get("required"));
    assert!(
        e.contains("ssl-mode=REQUIRED requires TLS and the server at 127.0.0.1 does not offer it"),
        "{e}"
    );
    assert!(!e.contains(SECRET), "{e}");
    let r = get("preferred");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["tls"], false, "{r}");
    let r = get("disabled");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["source"]["fingerprint"]["tls"], false, "{r}");
}
