//! `vouch serve --tls-cert --tls-key`: HTTPS on loopback with a certificate made by the
//! real openssl, checked by the real curl; session cookies are `Secure`.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use vouch_server::roles::Role;

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it.
fn certs(dir: &Path) -> (String, String, String) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=vouch test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &p("server.key"),
        "-out",
        &p("server.csr"),
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-out",
        &p("server.pem"),
        "-days",
        "2",
        "-extfile",
        &p("ext.cnf"),
    ]);
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

fn curl(args: &[&str]) -> (bool, String, String) {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

on_both!(ext_https_on_loopback_with_an_openssl_certificate, |kind| {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certs(tmp.path());
    let data = Data::new(kind, |_| {});
    let s = Server::on(
        data,
        Some(vouch_server::TlsFiles {
            cert: cert.clone().into(),
            key: key.clone().into(),
        }),
    );
    let port = s.addr.port();
    let base = format!("https://127.0.0.1:{port}");
    // Trusted through the CA: TLS 1.3, the API answers.
    let (ok, out, err) = curl(&["-v", "--cacert", &ca, &format!("{base}/healthz")]);
    assert!(ok, "{err}");
    assert!(out.contains("\"status\":\"ok\""), "{out}");
    assert!(err.contains("TLSv1.3"), "{err}");
    // Without the CA the certificate is not trusted; plain HTTP gets no answer.
    let (ok, _, err) = curl(&[&format!("{base}/healthz")]);
    assert!(!ok, "an untrusted certificate must fail: {err}");
    let (ok, out, _) = curl(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert!(
        !ok || !out.contains("\"status\""),
        "plain HTTP must not be served: {out}"
    );
    // Login over TLS: the session cookie is Secure and HttpOnly; the session works.
    vouch_server::auth::add_user(&s.store, "tess", Role::Auditor, "Correct horse battery 9")
        .unwrap();
    let (ok, out, err) = curl(&[
        "-i",
        "--cacert",
        &ca,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username":"tess","password":"Correct horse battery 9"}"#,
        &format!("{base}/api/compliance/auth/login"),
    ]);
    assert!(ok, "{err}");
    let cookie = out
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {out}"));
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let tok = out
        .rsplit("\"token\":\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (ok, out, err) = curl(&[
        "--cacert",
        &ca,
        "-H",
        &format!("Authorization: Bearer {tok}"),
        &format!("{base}/api/compliance/auth/whoami"),
    ]);
    assert!(ok && out.contains("user:tess"), "{out} {err}");
    // Self-audit still sees the client's address through TLS.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "auth.login" && l["actor"]["ip"] == "127.0.0.1"));
});

#[test]
fn ext_bad_tls_files_are_refused_at_start_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, cert, key) = certs(tmp.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start = |c: &str, k: &str| {
        let d = Data::new(Kind::Sqlite, |_| {});
        rt.block_on(vouch_server::serve_with(
            d.config(),
            vouch_server::ServeOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                ready: None,
                tls: Some(vouch_server::TlsFiles {
                    cert: c.into(),
                    key: k.into(),
                }),
                shutdown: None,
            },
        ))
        .unwrap_err()
        .to_string()
    };
    let e = start("/nonexistent/cert.pem", &key);
    assert!(
        e.contains("--tls-cert /nonexistent/cert.pem") && e.contains("does not exist"),
        "{e}"
    );
    assert!(!e.contains("I/O error") && !e.contains("os error"), "{e}");
    let e = start(&cert, "/nonexistent/key.pem");
    assert!(
        e.contains("--tls-key /nonexistent/key.pem") && e.contains("does not exist"),
        "{e}"
    );
    let e = start(&cert, &cert);
    assert!(e.contains("--tls-key"), "{e}");
    let other = tmp.path().join("other.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        other.to_str().unwrap(),
    ]);
    let e = start(&cert, other.to_str().unwrap());
    assert!(
        e.contains("the private key in") && e.contains("does not belong to the certificate"),
        "{e}"
    );
    assert!(
        !e.contains("KeyMismatch") && !e.contains("consistent"),
        "no rustls internals: {e}"
    );
}
