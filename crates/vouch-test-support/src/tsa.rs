//! A local RFC 3161 timestamp authority for tests (no network): a CA and a TSA
//! certificate made with `openssl`, and a loopback HTTP server answering each POSTed
//! query with `openssl ts -reply`.

use crate::tls::{make_ca, openssl};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// A running local TSA: `url` takes `application/timestamp-query` POSTs; `ca` is the
/// CA certificate tokens verify against. Stopped when dropped.
pub struct LocalTsa {
    /// Its URL (`http://127.0.0.1:PORT/`).
    pub url: String,
    /// The CA certificate (PEM).
    pub ca: std::path::PathBuf,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl LocalTsa {
    /// Make the CA and TSA certificates in `dir` and start serving.
    pub fn start(dir: &Path) -> LocalTsa {
        make_tsa(dir);
        let (url, handle) = serve(dir);
        LocalTsa {
            url,
            ca: dir.join("ca.crt"),
            handle: Some(handle),
        }
    }
}

impl Drop for LocalTsa {
    fn drop(&mut self) {
        let addr = self
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let _ = std::net::TcpStream::connect(addr).and_then(|mut s| s.write_all(b"QUIT\r\n"));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Serve `openssl ts -reply` (with `dir`'s `tsa.cnf`) on loopback; the URL.
pub fn serve(dir: &Path) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = dir.to_path_buf();
    let h = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            if first.starts_with("QUIT") {
                return;
            }
            loop {
                let mut l = String::new();
                reader.read_line(&mut l).unwrap();
                if l == "\r\n" || l.is_empty() {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            std::fs::write(dir.join("q.tsq"), &body).unwrap();
            openssl(
                &dir,
                &[
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-queryfile",
                    "q.tsq",
                    "-out",
                    "r.tsr",
                ],
            );
            let reply = std::fs::read(dir.join("r.tsr")).unwrap();
            write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", reply.len()).unwrap();
            s.write_all(&reply).unwrap();
        }
    });
    (format!("http://{addr}/"), h)
}

/// A CA (`ca.crt`) and a TSA certificate and key signed by it, and `tsa.cnf` for
/// `openssl ts -reply`, in `dir`.
pub fn make_tsa(dir: &Path) {
    make_ca(dir, "ca");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/CN=vouch test TSA",
        ],
    );
    std::fs::write(dir.join("tsa.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "2",
            "-extfile",
            "tsa.ext",
        ],
    );
    std::fs::write(dir.join("tsaserial"), "01\n").unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\ndir = .\nserial = $dir/tsaserial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.crt\ncerts = $dir/ca.crt\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\nother_policies = 1.2.3.4.5.6\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
}

/// `openssl ts -verify -data FILE -in FILE.tsr -CAfile CA`, as an auditor runs it:
/// whether it said `Verification: OK`, and its output.
pub fn openssl_verify(file: &Path, ca: &Path) -> (bool, String) {
    let mut tsr = file.as_os_str().to_owned();
    tsr.push(".tsr");
    let o = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(file)
        .arg("-in")
        .arg(&tsr)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .expect("openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (
        o.status.success() && text.contains("Verification: OK"),
        text,
    )
}
