//! `vouch witness serve`: a C2SP tlog-witness (c2sp.org/tlog-witness) for vouch logs.
//!
//! It trusts a fixed set of log keys (`--log VKEY`, the origin is the key's name) and
//! keeps, per origin, the latest checkpoint it cosigned in one small JSON state file
//! (written to a temporary file, synced, renamed: a crash leaves the old or the new
//! state, never half). The check against the stored size and the update happen under
//! one lock, so two concurrent requests cannot roll the state back (the race the spec
//! describes). Status codes are the spec's: 400 bad request or old size > size, 403 no
//! valid signature by a trusted log key, 404 unknown origin, 409 old size is not the
//! witness's (body: its size, `text/x.tlog.size`), 422 proof or root mismatch.

use crate::cosig::CosignerKey;
use crate::WitnessError;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, NoteError, NoteVerifier};
use vouch_core::{b64, unb64_hash};

/// What the witness remembers of one log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogState {
    /// Size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its base64 root hash.
    pub root: String,
    /// The checkpoint with the log's signature and this witness's cosignature.
    pub checkpoint: String,
}

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateFile {
    /// Per log origin.
    pub logs: BTreeMap<String, LogState>,
}

/// A refused request: HTTP status and a one-line reason (or, for 409, the size line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The spec's status code.
    pub status: u16,
    /// The response body.
    pub body: String,
}

fn refuse(status: u16, body: impl Into<String>) -> Refusal {
    // Reasons quote parts of the request (an origin, a signature line): bounded, so a
    // crafted request is not echoed back or logged whole.
    let mut body = excerpt(&body.into(), MAX_REASON);
    body.push('\n');
    Refusal { status, body }
}

/// The longest reason a refusal carries, in characters.
const MAX_REASON: usize = 300;
/// The longest origin quoted in a reason or a log line, in characters.
const MAX_ORIGIN: usize = 100;

/// Untrusted text made fit for one log line: at most `max` characters, control
/// characters (newlines, terminal escapes) escaped, and a note of what was cut.
fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    let rest = chars.as_str().len();
    if rest > 0 {
        out.push_str(&format!("… ({rest} more bytes)"));
    }
    out
}

/// What a log line says of a request: its checkpoint's origin (shortened), the old
/// size, the checkpoint's size and root line (shortened; for a fork, the conflicting
/// root) — never the note itself.
fn describe(request: &str) -> Described {
    let (head, note) = request.split_once("\n\n").unwrap_or((request, ""));
    let old = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(|n| n.parse().ok());
    let mut lines = note.lines();
    let origin = excerpt(lines.next().unwrap_or_default(), MAX_ORIGIN);
    let size = lines.next().and_then(|n| n.parse().ok());
    let root = excerpt(lines.next().unwrap_or_default(), 64);
    Described {
        origin,
        old,
        size,
        root,
    }
}

/// [`describe`]'s answer.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    origin: String,
    old: Option<u64>,
    size: Option<u64>,
    root: String,
}

/// A witness: its key, the logs it trusts, its state file.
pub struct Witness {
    key: CosignerKey,
    logs: BTreeMap<String, Vec<NoteVerifier>>,
    state_path: PathBuf,
    state: Mutex<StateFile>,
}

impl Witness {
    /// A witness over `state_path` (created on first cosignature).
    pub fn open(
        key: CosignerKey,
        log_keys: &[NoteVerifier],
        state_path: &Path,
    ) -> Result<Witness, WitnessError> {
        let state = match std::fs::read(state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                WitnessError::Invalid(format!(
                    "{}: not a witness state file: {e}",
                    state_path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
            Err(e) => return Err(WitnessError::io(state_path, e)),
        };
        let mut logs: BTreeMap<String, Vec<NoteVerifier>> = BTreeMap::new();
        for k in log_keys {
            logs.entry(k.name().to_string())
                .or_default()
                .push(k.clone());
        }
        Ok(Witness {
            key,
            logs,
            state_path: state_path.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The witness's public key.
    pub fn verifier(&self) -> crate::CosignerVerifier {
        self.key.verifier()
    }

    /// The latest cosigned checkpoint of `origin`.
    pub fn latest(&self, origin: &str) -> Option<LogState> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .logs
            .get(origin)
            .cloned()
    }

    /// `add-checkpoint`: the cosignature line(s) or the refusal.
    pub fn add_checkpoint(&self, request: &str, now: u64) -> Result<String, Refusal> {
        let (old, proof, note) = parse_request(request)?;
        let origin = note.lines().next().unwrap_or_default();
        let keys = self.logs.get(origin).ok_or_else(|| {
            refuse(
                404,
                format!("unknown log origin `{}`", excerpt(origin, MAX_ORIGIN)),
            )
        })?;
        // A signature by a trusted key must verify; one that fails makes the note bad.
        let mut cp = None;
        for k in keys {
            match Checkpoint::open(note, k) {
                Ok(c) => cp = Some(c),
                Err(NoteError::NoSignature(_)) => {}
                Err(NoteError::BadSignature(m)) => {
                    return Err(refuse(403, format!("the signature by {m} does not verify")))
                }
                Err(e) => return Err(refuse(400, e.to_string())),
            }
        }
        let cp =
            cp.ok_or_else(|| refuse(403, format!("no signature by a trusted key for `{origin}`")))?;
        if old > cp.size {
            return Err(refuse(
                400,
                format!(
                    "old size {old} is greater than the checkpoint's size {}",
                    cp.size
                ),
            ));
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let known = state.logs.get(origin).cloned();
        let known_size = known.as_ref().map_or(0, |k| k.size);
        if old != known_size {
            return Err(Refusal {
                status: 409,
                body: format!("{known_size}\n"),
            });
        }
        if cp.size == 0 && cp.root != merkle::empty_root() {
            return Err(refuse(
                422,
                "a checkpoint of size 0 must have the empty tree's root",
            ));
        }
        match &known {
            None => {
                if !proof.is_empty() {
                    return Err(refuse(422, "old size 0 takes an empty consistency proof"));
                }
            }
            Some(k) => {
                let old_root = unb64_hash(&k.root)
                    .ok_or_else(|| refuse(500, "the witness state holds a bad root"))?;
                if !merkle::verify_consistency(old, cp.size, &proof, &old_root, &cp.root) {
                    // Logged (as a warning) by the handler, like every refusal.
                    return Err(refuse(
                        422,
                        if old == cp.size {
                            format!("tree size {old} was cosigned with a different root: a fork")
                        } else {
                            format!(
                                "the consistency proof from {old} to {} does not verify against the cosigned root: a fork",
                                cp.size
                            )
                        },
                    ));
                }
            }
        }
        let line = self.key.cosign(&cp.body(), now);
        let mut next = state.clone();
        next.logs.insert(
            origin.to_string(),
            LogState {
                size: cp.size,
                root: b64(&cp.root),
                checkpoint: format!("{note}{line}"),
            },
        );
        // Persist before answering; keep the old state if the write fails.
        persist(&self.state_path, &next)
            .map_err(|e| refuse(500, format!("cannot persist the witness state: {e}")))?;
        *state = next;
        Ok(line)
    }
}

/// `old N`, the proof lines, a blank line, the checkpoint note.
fn parse_request(req: &str) -> Result<(u64, Vec<vouch_core::Hash>, &str), Refusal> {
    let (first, rest) = req
        .split_once('\n')
        .ok_or_else(|| refuse(400, "empty request"))?;
    let old = first
        .strip_prefix("old ")
        .filter(|n| *n == "0" || (!n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| refuse(400, "the first line must be `old <size>`"))?;
    let mut proof = Vec::new();
    let mut rest = rest;
    loop {
        let (line, tail) = rest
            .split_once('\n')
            .ok_or_else(|| refuse(400, "no blank line before the checkpoint"))?;
        rest = tail;
        if line.is_empty() {
            break;
        }
        if proof.len() == 63 {
            return Err(refuse(400, "more than 63 consistency proof lines"));
        }
        proof.push(
            unb64_hash(line).ok_or_else(|| refuse(400, "a proof line is not a base64 hash"))?,
        );
    }
    Ok((old, proof, rest))
}

/// Write `state` to `path` atomically: temporary file in the same directory, fsync,
/// rename, fsync of the directory.
fn persist(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&serde_json::to_vec_pretty(state).expect("state serializes"))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp().max(1) as u64
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "the request is not UTF-8\n").into_response();
    };
    let text = text.to_string();
    let w2 = w.clone();
    let request = text.clone();
    let r = tokio::task::spawn_blocking(move || w2.add_checkpoint(&request, now())).await;
    match r {
        Ok(Ok(lines)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        Ok(Err(refusal)) => {
            let status =
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if refusal.status == 409 {
                (
                    status,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    refusal.body,
                )
                    .into_response()
            } else {
                // A short description, never the submitted note: it may be as large as
                // the body limit and crafted.
                let Described {
                    origin,
                    old,
                    size,
                    root,
                } = describe(&text);
                let reason = refusal.body.trim_end();
                if refusal.status == 422 {
                    tracing::warn!(
                        status = refusal.status,
                        origin,
                        old,
                        size,
                        root,
                        bytes = body.len(),
                        reason,
                        "add-checkpoint refused: an inconsistent checkpoint (possible fork or split view)"
                    );
                } else {
                    tracing::info!(
                        status = refusal.status,
                        origin,
                        old,
                        size,
                        root,
                        bytes = body.len(),
                        reason,
                        "add-checkpoint refused"
                    );
                }
                (
                    status,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    refusal.body,
                )
                    .into_response()
            }
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
    }
}

/// `GET <prefix>/<hex SHA-256 of origin>/checkpoint`: the latest cosigned checkpoint.
async fn latest_checkpoint(
    State(w): State<Arc<Witness>>,
    UrlPath(hash): UrlPath<String>,
) -> Response {
    let found = {
        let state = w.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .logs
            .iter()
            .find(|(o, _)| hex::encode(Sha256::digest(o.as_bytes())) == hash)
            .map(|(_, s)| s.checkpoint.clone())
    };
    match found {
        Some(cp) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            cp,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "this witness has cosigned no checkpoint of that log\n",
        )
            .into_response(),
    }
}

/// The witness's HTTP routes: `POST /add-checkpoint`, `GET /<origin hash>/checkpoint`.
pub fn router(w: Arc<Witness>) -> axum::Router {
    axum::Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(w)
}

/// Serve until SIGINT/SIGTERM. `ready` is called with the bound address.
pub fn serve(
    w: Witness,
    listen: &str,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), WitnessError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| WitnessError::Invalid(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| WitnessError::Invalid(format!("--listen {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| WitnessError::Invalid(format!("--listen {listen}: {e}")))?;
        ready(addr);
        axum::serve(listener, router(Arc::new(w)))
            .with_graceful_shutdown(async {
                let term = async {
                    #[cfg(unix)]
                    if let Ok(mut s) =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        s.recv().await;
                        return;
                    }
                    std::future::pending::<()>().await
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term => {},
                }
            })
            .await
            .map_err(|e| WitnessError::Invalid(format!("witness server: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_describe_requests_in_bounded_text() {
        let long = format!("o\u{1b}[2J{}", "x".repeat(10_000));
        let d = describe(&format!("old 3\nAAAA\n\n{long}\n7\nroot\n\n— sig\n"));
        assert_eq!((d.old, d.size, d.root.as_str()), (Some(3), Some(7), "root"));
        let origin = d.origin;
        assert!(origin.starts_with("o\\u{1b}[2Jxxx"), "{origin}");
        assert!(origin.len() < MAX_ORIGIN + 40, "{}", origin.len());
        assert!(origin.ends_with("(9905 more bytes)"), "{origin}");
        let r = refuse(400, "y".repeat(5_000));
        assert!(r.body.len() < MAX_REASON + 40 && r.body.ends_with('\n'));
        assert_eq!(describe("garbage").origin, "");
    }
    use vouch_core::merkle::{consistency_proof, leaf_hash, Frontier};
    use vouch_core::note::NoteSigner;

    /// A tree over the given leaves as a NodeSource.
    struct Leaves(Vec<vouch_core::Hash>);
    impl merkle::NodeSource for Leaves {
        type Error = std::convert::Infallible;
        fn perfect(&mut self, level: u32, index: u64) -> Result<vouch_core::Hash, Self::Error> {
            let n = 1usize << level;
            let start = index as usize * n;
            Ok(merkle::fold_perfect(&self.0[start..start + n]))
        }
    }

    fn tree(leaves: &[&str]) -> Leaves {
        Leaves(leaves.iter().map(|l| leaf_hash(l.as_bytes())).collect())
    }

    fn root(t: &Leaves, n: u64) -> vouch_core::Hash {
        let mut f = Frontier::default();
        for h in &t.0[..n as usize] {
            f.push(*h, |_| {});
        }
        f.root()
    }

    fn req(log: &NoteSigner, t: &mut Leaves, old: u64, size: u64) -> String {
        // A rollback (old > size) has no proof to send.
        let proof = if old > size {
            Vec::new()
        } else {
            consistency_proof(t, old, size).unwrap()
        };
        let cp = Checkpoint {
            origin: log.name().into(),
            size,
            root: root(t, size),
        };
        let mut s = format!("old {old}\n");
        for h in proof {
            s.push_str(&b64(&h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&log.sign(&cp.body()));
        s
    }

    #[test]
    fn cosigns_consistent_refuses_fork_and_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::generate("acme.example/log").unwrap();
        let key = CosignerKey::generate("witness.example/w1").unwrap();
        let path = dir.path().join("state.json");
        let w = Witness::open(key.clone(), &[log.verifier()], &path).unwrap();
        let mut a = tree(&["a", "b", "c", "d", "e", "f", "g"]);
        let line = w.add_checkpoint(&req(&log, &mut a, 0, 3), 100).unwrap();
        assert!(line.starts_with("\u{2014} witness.example/w1 "));
        // Old size not the witness's: 409 with its size.
        assert_eq!(
            w.add_checkpoint(&req(&log, &mut a, 0, 5), 101).unwrap_err(),
            Refusal {
                status: 409,
                body: "3\n".into()
            }
        );
        w.add_checkpoint(&req(&log, &mut a, 3, 5), 102).unwrap();
        // A fork: same key, different history from leaf 2.
        let mut b = tree(&["a", "b", "X", "d", "e", "f", "g"]);
        assert_eq!(
            w.add_checkpoint(&req(&log, &mut b, 5, 7), 103)
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(
            w.add_checkpoint(&req(&log, &mut b, 5, 5), 103)
                .unwrap_err()
                .status,
            422
        );
        // Rollback: a smaller tree than the cosigned one.
        assert_eq!(
            w.add_checkpoint(&req(&log, &mut a, 5, 4), 104)
                .unwrap_err()
                .status,
            400
        );
        // Unknown origin and untrusted key.
        let other = NoteSigner::generate("other.example/log").unwrap();
        assert_eq!(
            w.add_checkpoint(&req(&other, &mut a, 0, 3), 105)
                .unwrap_err()
                .status,
            404
        );
        let impostor = NoteSigner::generate("acme.example/log").unwrap();
        assert_eq!(
            w.add_checkpoint(&req(&impostor, &mut a, 5, 6), 105)
                .unwrap_err()
                .status,
            403
        );
        // The state survives a restart.
        let w2 = Witness::open(key, &[log.verifier()], &path).unwrap();
        assert_eq!(w2.latest("acme.example/log").unwrap().size, 5);
        w2.add_checkpoint(&req(&log, &mut a, 5, 7), 106).unwrap();
    }
}
