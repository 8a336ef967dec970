//! HTTPS without a proxy: `vouch serve --tls-cert PEM --tls-key PEM` (rustls, ring).
//! Handshakes run in their own tasks, so a slow or silent client never holds up the
//! accept loop; finished connections are handed to axum through a `Listener`.

use crate::TlsFiles;
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_rustls::rustls;
use vouch_engine::Error;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Load the certificate chain and private key; every error names the file.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_pem = read_file("--tls-cert", &files.cert)?;
    let key_pem = read_file("--tls-key", &files.key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(format!(
                "--tls-cert {}: not a PEM certificate chain ({})",
                files.cert.display(),
                pem_problem(&e)
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "--tls-cert {}: no certificate in the file (expected PEM `CERTIFICATE` blocks)",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        Error::config(format!(
            "--tls-key {}: not a PEM private key ({})",
            files.key.display(),
            pem_problem(&e)
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::config(match e {
                rustls::Error::InconsistentKeys(_) => format!(
                    "--tls-key: the private key in {} does not belong to the certificate in {}",
                    files.key.display(),
                    files.cert.display()
                ),
                _ => format!(
                    "--tls-key {}: the key cannot be used with the certificate in {} (unsupported key type or a malformed certificate)",
                    files.key.display(),
                    files.cert.display()
                ),
            })
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A TLS file's bytes; a missing or unreadable file is named in plain words.
fn read_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::config(match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{flag} {}: the file does not exist", path.display())
            }
            std::io::ErrorKind::PermissionDenied => {
                format!(
                    "{flag} {}: permission denied reading the file",
                    path.display()
                )
            }
            std::io::ErrorKind::IsADirectory => {
                format!("{flag} {}: a directory, not a file", path.display())
            }
            _ => format!("{flag} {}: cannot read the file ({e})", path.display()),
        })
    })
}

/// What is wrong with a PEM file, in plain words.
fn pem_problem(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as P;
    match e {
        P::NoItemsFound => "no PEM block of the right kind in the file".into(),
        P::MissingSectionEnd { .. } => "a PEM block has no END line".into(),
        P::IllegalSectionStart { .. } => "a malformed BEGIN line".into(),
        P::Base64Decode(_) => "a PEM block is not valid base64".into(),
        P::SectionTooLarge => "a PEM block is too large".into(),
        _ => "unreadable PEM".into(),
    }
}

type Conn = (
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    SocketAddr,
);

struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<Conn>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop is gone (shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }
    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serve `router` over TLS until `shutdown`; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::config(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Conn>(64);
    let accept_loop = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send((tls, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    let listener = TlsListener { rx, local }.tap_io(|_| {});
    let r = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| Error::config(format!("server: {e}")));
    accept_loop.abort();
    r
}
