//! PostgreSQL connection strings as libpq reads them, TLS included. The `postgres`
//! crate knows `sslmode=disable|prefer|require` and has no TLS of its own; this module
//! adds libpq's `verify-ca` and `verify-full`, `sslrootcert` (a PEM file, or `system`),
//! `sslcert`/`sslkey` (client certificates) and the `PGSSLMODE`/`PGSSLROOTCERT`
//! defaults, with rustls. Used by the store and by the SQL evidence collectors.
//!
//! What each mode does (as libpq):
//! - `disable`: plain TCP.
//! - `prefer` (the default): TLS when the server offers it, without checking the
//!   certificate; plain TCP otherwise.
//! - `require`: TLS or nothing; the certificate is not checked unless a root
//!   certificate is given (`sslrootcert`, or `~/.postgresql/root.crt` exists), in which
//!   case it behaves as `verify-ca`.
//! - `verify-ca`: TLS, the certificate chain must lead to a root in `sslrootcert`.
//! - `verify-full`: as `verify-ca`, and the certificate must name the host connected to.

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, without verifying its certificate.
    Prefer,
    /// TLS required, certificate not verified (unless a root certificate is given).
    Require,
    /// TLS with the certificate verified against the root certificate.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// The `sslmode` value as libpq spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err(
                "sslmode=allow is not supported (use prefer, require, verify-ca or verify-full)"
                    .into(),
            ),
            other => {
                return Err(format!(
                "invalid sslmode `{other}` (disable, prefer, require, verify-ca or verify-full)"
            ))
            }
        })
    }
}

/// Parameters vouch handles itself (the `postgres` crate would reject them).
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];
/// Parameters never shown (in evidence records or messages).
const SECRET_KEYS: &[&str] = &["password", "sslpassword"];

/// A parsed connection string: the `postgres` configuration, the TLS connector and
/// the non-secret parameters it was given.
#[derive(Clone)]
pub struct PgDsn {
    /// The connection settings for the `postgres` crate (TLS parameters removed).
    pub config: postgres::Config,
    /// The TLS mode asked for.
    pub mode: SslMode,
    /// The root certificate file used to verify the server, if any.
    pub root_cert: Option<String>,
    /// Every parameter given other than secrets, in the order given (`sslmode` and
    /// `options` included), for evidence records.
    pub params: Vec<(String, String)>,
    tls: MakeRustls,
}

impl std::fmt::Debug for PgDsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDsn")
            .field("mode", &self.mode)
            .field("root_cert", &self.root_cert)
            .field("params", &self.params)
            .finish()
    }
}

/// Split a connection string (URL or `key=value` form) into its parameters.
/// Returns (the string without the TLS keys, all parameters).
fn split_params(dsn: &str) -> Result<(String, Vec<(String, String)>), String> {
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        let Some((base, query)) = dsn.split_once('?') else {
            return Ok((dsn.to_string(), Vec::new()));
        };
        let mut kept = Vec::new();
        let mut params = Vec::new();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let (k, v) = (percent_decode(k)?, percent_decode(v)?);
            if !TLS_KEYS.contains(&k.as_str()) {
                kept.push(kv);
            }
            params.push((k, v));
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, params));
    }
    // key = value pairs; values may be single-quoted with backslash escapes.
    let b = dsn.as_bytes();
    let mut i = 0;
    let mut rest = String::new();
    let mut params = Vec::new();
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = dsn[start..i].to_string();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("invalid connection string: `{key}` has no value"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(format!(
                            "invalid connection string: unterminated quote in `{key}`"
                        ))
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
        }
        let value = String::from_utf8(value).map_err(|_| "connection string is not UTF-8")?;
        if !TLS_KEYS.contains(&key.as_str()) {
            rest.push_str(&dsn[start..i]);
            rest.push(' ');
        }
        params.push((key, value));
    }
    Ok((rest.trim_end().to_string(), params))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("invalid percent-encoding in the connection string")?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "connection string is not UTF-8".into())
}

fn home_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = PathBuf::from(home).join(".postgresql").join(name);
    p.exists().then_some(p)
}

fn system_roots_file() -> PathBuf {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
}

fn load_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    if !path.exists() {
        return Err(format!("root certificate file {shown} does not exist"));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} contains no PEM certificate"));
    }
    Ok(certs)
}

impl PgDsn {
    /// Parse a connection string. Errors never contain the password.
    pub fn parse(dsn: &str) -> Result<PgDsn, String> {
        let (rest, params) = split_params(dsn).map_err(|e| redact_in(&e, dsn))?;
        let get = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let mut config = postgres::Config::from_str(&rest).map_err(|e| {
            redact_in(
                &format!("invalid connection string: {}", error_chain(&e)),
                dsn,
            )
        })?;
        let rootcert = get("sslrootcert").or_else(|| {
            std::env::var("PGSSLROOTCERT")
                .ok()
                .filter(|s| !s.is_empty())
        });
        let system_roots = rootcert.as_deref() == Some("system");
        let mode_text = get("sslmode")
            .or_else(|| std::env::var("PGSSLMODE").ok().filter(|s| !s.is_empty()))
            // libpq: with sslrootcert=system the default is verify-full.
            .unwrap_or_else(|| {
                if system_roots {
                    "verify-full"
                } else {
                    "prefer"
                }
                .into()
            });
        if system_roots && mode_text != "verify-full" {
            // As libpq: the system's roots vouch for any host name they have signed,
            // so anything short of verify-full would trust every public certificate.
            return Err(format!(
                "weak sslmode \"{mode_text}\" may not be used with sslrootcert=system (use \"verify-full\")"
            ));
        }
        let mut mode = SslMode::parse(&mode_text)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // libpq uses no TLS over Unix-domain sockets, whatever the sslmode: the
        // connection never leaves the machine. (A `hostaddr` means TCP.)
        let unix_only = !config.get_hosts().is_empty()
            && config.get_hostaddrs().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| !matches!(h, postgres::config::Host::Tcp(_)));

        // The roots: sslrootcert, `system`, or ~/.postgresql/root.crt.
        let (roots_from, roots) = match rootcert.as_deref() {
            _ if unix_only => (None, None),
            Some("system") => {
                let f = system_roots_file();
                (Some(f.display().to_string()), Some(load_certs(&f)?))
            }
            Some(p) if mode != SslMode::Disable && mode != SslMode::Prefer => (
                Some(p.to_string()),
                Some(load_certs(std::path::Path::new(p))?),
            ),
            Some(_) => (None, None),
            None => match home_file("root.crt") {
                Some(f)
                    if matches!(
                        mode,
                        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
                    ) =>
                {
                    (Some(f.display().to_string()), Some(load_certs(&f)?))
                }
                _ => (None, None),
            },
        };
        if mode == SslMode::Require && roots.is_some() {
            // libpq: with a root certificate, `require` verifies the chain.
            mode = SslMode::VerifyCa;
        }
        let verifier: Option<Arc<dyn ServerCertVerifier>> = match mode {
            _ if unix_only => None,
            SslMode::Disable => None,
            SslMode::Prefer | SslMode::Require => Some(Arc::new(NoVerify(provider.clone()))),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let Some(certs) = roots else {
                    return Err(format!(
                        "sslmode={} needs a root certificate: set sslrootcert=FILE (the CA that signed the server's certificate), or sslrootcert=system for the system's trusted roots",
                        mode.as_str()
                    ));
                };
                let mut store = rustls::RootCertStore::empty();
                for c in certs {
                    store.add(c).map_err(|e| {
                        format!(
                            "bad root certificate in {}: {e}",
                            roots_from.as_deref().unwrap_or("")
                        )
                    })?;
                }
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| format!("cannot use the root certificates: {e}"))?;
                Some(Arc::new(Verify {
                    inner,
                    check_name: mode == SslMode::VerifyFull,
                }))
            }
        };
        let client_config = match verifier {
            None => None,
            Some(v) => {
                let builder = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS: {e}"))?
                    .dangerous()
                    .with_custom_certificate_verifier(v);
                let cert = get("sslcert");
                let key = get("sslkey");
                let cfg = match (cert, key) {
                    (Some(c), Some(k)) => {
                        let chain = CertificateDer::pem_file_iter(&c)
                            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                            .map_err(|e| format!("cannot read sslcert {c}: {e}"))?;
                        let key = PrivateKeyDer::from_pem_file(&k)
                            .map_err(|e| format!("cannot read sslkey {k}: {e}"))?;
                        builder
                            .with_client_auth_cert(chain, key)
                            .map_err(|e| format!("sslcert/sslkey: {e}"))?
                    }
                    (None, None) => builder.with_no_client_auth(),
                    _ => return Err("sslcert and sslkey must be given together".into()),
                };
                Some(Arc::new(cfg))
            }
        };
        config.ssl_mode(match mode {
            _ if unix_only => postgres::config::SslMode::Disable,
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        let params = params
            .into_iter()
            .filter(|(k, _)| !SECRET_KEYS.contains(&k.as_str()))
            .collect();
        Ok(PgDsn {
            config,
            mode,
            root_cert: roots_from,
            params,
            tls: MakeRustls(client_config),
        })
    }

    /// Connect with this configuration.
    pub fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        self.connect_with(&self.config)
    }

    /// Connect with another configuration (a modified copy of `config`) and this TLS.
    pub fn connect_with(
        &self,
        config: &postgres::Config,
    ) -> Result<postgres::Client, postgres::Error> {
        Self::with_tls_names(config).connect(self.tls.clone())
    }

    /// `config`, with each `hostaddr` also given as the host name when no `host` is:
    /// tokio-postgres refuses a TLS handshake without a host name, while libpq makes
    /// one with `hostaddr` alone (`prefer` and `require` do not check the name; with
    /// `verify-full` the certificate must then name the address).
    pub fn with_tls_names(config: &postgres::Config) -> postgres::Config {
        let mut c = config.clone();
        if c.get_hosts().is_empty() && !c.get_hostaddrs().is_empty() {
            for a in config.get_hostaddrs() {
                c.host(&a.to_string());
            }
        }
        c
    }

    /// The TLS connector, for `tokio_postgres::Config::connect`.
    pub fn tls(&self) -> MakeRustls {
        self.tls.clone()
    }

    /// A connection error with its whole cause and what to do about TLS failures.
    pub fn explain(&self, e: &postgres::Error) -> String {
        let mut msg = error_chain(e);
        if msg.contains("UnknownIssuer") || msg.contains("unknown issuer") {
            msg.push_str(&format!(
                " (sslmode={}: the server's certificate is not signed by a CA in {})",
                self.mode.as_str(),
                self.root_cert.as_deref().unwrap_or("sslrootcert")
            ));
        } else if msg.contains("not valid for name") || msg.contains("NotValidForName") {
            msg.push_str(
                " (sslmode=verify-full: the server's certificate does not name the host connected to; connect by a name the certificate lists, or use verify-ca)",
            );
        } else if msg.contains("server does not support TLS") {
            msg.push_str(&format!(
                " (sslmode={} requires TLS and the server does not offer it)",
                self.mode.as_str()
            ));
        }
        msg
    }
}

/// An error and all its sources, `a: b: c`, without repeats.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// `msg` with any password the connection string carries replaced by `***`.
pub fn redact_in(msg: &str, dsn: &str) -> String {
    let mut out = msg.to_string();
    for pw in passwords(dsn) {
        if !pw.is_empty() {
            out = out.replace(&pw, "***");
        }
    }
    out
}

/// The passwords a connection string carries (URL userinfo, `password=` parameters).
pub fn passwords(dsn: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rest) = dsn
        .strip_prefix("postgres://")
        .or_else(|| dsn.strip_prefix("postgresql://"))
    {
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            if let Some((_, pw)) = rest[..at].split_once(':') {
                out.push(pw.to_string());
                if let Ok(d) = percent_decode(pw) {
                    out.push(d);
                }
            }
        }
    }
    if let Ok((_, params)) = split_params(dsn) {
        for (k, v) in params {
            if SECRET_KEYS.contains(&k.as_str()) {
                out.push(v);
            }
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

// ---- certificate verification ----

/// `prefer` and `require` without a root: encryption without authentication of the
/// server (as libpq). Handshake signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (chain only) and `verify-full` (chain and host name).
#[derive(Debug)]
struct Verify {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

// ---- the tokio-postgres TLS glue ----

/// A `MakeTlsConnect` over rustls (`None` when TLS is disabled).
#[derive(Clone)]
pub struct MakeRustls(Option<Arc<rustls::ClientConfig>>);

/// A rustls connector for one connection's server name.
pub struct RustlsConnect {
    config: Option<Arc<rustls::ClientConfig>>,
    /// The server name, or why there is none usable.
    name: Result<ServerName<'static>, String>,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    /// tokio-postgres asks for a connector before it knows whether TLS will be used,
    /// with an empty name for Unix sockets and `hostaddr`-only connections; an empty or
    /// unusable name is an error only if a handshake is actually made (tokio-postgres
    /// itself refuses one without a host name: "no hostname provided").
    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = if domain.is_empty() {
            Err("no host name".to_string())
        } else {
            ServerName::try_from(domain.to_string())
                .map_err(|e| format!("host `{domain}` is not a valid TLS server name: {e}"))
        };
        Ok(RustlsConnect {
            config: self.0.clone(),
            name,
        })
    }
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let Some(config) = self.config else {
                return Err(io::Error::other("TLS is disabled (sslmode=disable)"));
            };
            let name = self
                .name
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let s = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(RustlsStream(Box::new(s)))
        })
    }
}

/// A TLS stream to the PostgreSQL server.
pub struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl TlsStream for RustlsStream {
    /// `tls-server-end-point` (RFC 5929), for SCRAM-SHA-256-PLUS: the hash of the
    /// server's certificate, with the certificate's signature hash (SHA-256 for MD5,
    /// SHA-1 and SHA-256).
    fn channel_binding(&self) -> ChannelBinding {
        let (_, conn) = self.0.get_ref();
        match conn.peer_certificates().and_then(|c| c.first()) {
            Some(cert) => match end_point_hash(cert.as_ref()) {
                Some(h) => ChannelBinding::tls_server_end_point(h),
                None => ChannelBinding::none(),
            },
            None => ChannelBinding::none(),
        }
    }
}

/// Read one DER tag-length header at `at`: (content start, content length).
fn der_header(der: &[u8], at: usize) -> Option<(usize, usize)> {
    let len0 = *der.get(at + 1)? as usize;
    if len0 < 0x80 {
        return Some((at + 2, len0));
    }
    let n = len0 & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *der.get(at + 2 + i)? as usize;
    }
    Some((at + 2 + n, len))
}

fn end_point_hash(der: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (body, _) = der_header(der, 0)?;
    let (tbs, tbs_len) = der_header(der, body)?;
    let (alg, _) = der_header(der, tbs + tbs_len)?;
    let oid_end = {
        let (o, l) = der_header(der, alg)?;
        o + l
    };
    let oid = der.get(alg..oid_end)?;
    const SHA384: &[&[u8]] = &[
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c,
        ],
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
    ];
    const SHA512: &[&[u8]] = &[
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d,
        ],
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
    ];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    if SHA384.contains(&oid) {
        Some(sha2::Sha384::digest(der).to_vec())
    } else if SHA512.contains(&oid) {
        Some(sha2::Sha512::digest(der).to_vec())
    } else if oid == ED25519 {
        None
    } else {
        Some(sha2::Sha256::digest(der).to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_url_and_keyword_forms() {
        let (rest, p) =
            split_params("postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&options=-csearch_path%3Dx").unwrap();
        assert_eq!(rest, "postgres://u:pw@h/db?options=-csearch_path%3Dx");
        assert_eq!(p[1], ("sslrootcert".into(), "/tmp/ca.pem".into()));
        assert_eq!(p[2], ("options".into(), "-csearch_path=x".into()));
        let (rest, p) =
            split_params("host=h sslmode = require password='a b\\'c' dbname=d").unwrap();
        assert_eq!(rest, "host=h password='a b\\'c' dbname=d");
        assert_eq!(p[2], ("password".into(), "a b'c".into()));
        assert_eq!(
            passwords("host=h password='a b\\'c'"),
            vec!["a b'c".to_string()]
        );
        assert_eq!(passwords("postgres://u:s%40x@h/db")[1], "s@x");
    }

    #[test]
    fn modes_and_roots() {
        assert!(PgDsn::parse("postgres://h/db?sslmode=bogus")
            .unwrap_err()
            .contains("invalid sslmode `bogus`"));
        let e = PgDsn::parse("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem does not exist"), "{e}");
        let d = PgDsn::parse("postgres://u:secret@h/db?sslmode=disable&options=-csearch_path%3Ds")
            .unwrap();
        assert_eq!(d.mode, SslMode::Disable);
        assert!(d.params.iter().all(|(k, _)| k != "password"));
        // sslrootcert=system: verify-full by default; weaker modes refused (libpq).
        let d = PgDsn::parse("postgres://h/db?sslrootcert=system").unwrap();
        assert_eq!(d.mode, SslMode::VerifyFull);
        for weak in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let e = PgDsn::parse(&format!(
                "postgres://h/db?sslrootcert=system&sslmode={weak}"
            ))
            .unwrap_err();
            assert_eq!(
                e,
                format!("weak sslmode \"{weak}\" may not be used with sslrootcert=system (use \"verify-full\")")
            );
        }
        // Unix sockets: no TLS, whatever the mode (libpq); no root certificate needed.
        let d =
            PgDsn::parse("postgres:///db?host=/var/run/postgresql&sslmode=verify-full").unwrap();
        assert_eq!(d.mode, SslMode::VerifyFull);
        assert_eq!(d.config.get_ssl_mode(), postgres::config::SslMode::Disable);
        // hostaddr alone: the address is the TLS name.
        let d = PgDsn::parse("postgres:///db?hostaddr=127.0.0.1").unwrap();
        let c = PgDsn::with_tls_names(&d.config);
        assert_eq!(
            c.get_hosts(),
            &[postgres::config::Host::Tcp("127.0.0.1".into())]
        );
        // A connector for an empty name can be made (it is used only if TLS is).
        assert!(d.tls().make_tls_connect("").is_ok());
        let e = PgDsn::parse("postgres://u:secret@h/db?bogus=1").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("bogus"), "{e}");
    }
}
