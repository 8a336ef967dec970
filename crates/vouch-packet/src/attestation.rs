//! Signed attestations, sign-offs and completed access-review campaigns on disk, and in
//! packets: the files of a signed
//! document (canonical JSON, vouch's `.sig`, the public key, the signer's own SSH or
//! OpenPGP signature, Markdown, PDF + `.sig`), their offline verification for `vouch
//! verify`, and the lists packets carry (attestations signed in a month; the attestation
//! status of a quarter).

use crate::verify::Step;
use crate::Error;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vouch_signoff::attest::Attestation;
use vouch_signoff::review;
use vouch_signoff::signature::{self, PersonalSignature, SignedDocument};

/// The document's file name (`attestation.json`, `.json.sig`, `.md`, `.pdf`, `.pdf.sig`).
pub const NAME: &str = "attestation";

/// Where a signed document's files go: `<data dir>/attestations/<period>-<kind>/`.
pub fn dir_for(data_dir: &Path, a: &Attestation) -> PathBuf {
    data_dir
        .join("attestations")
        .join(format!("{}-{}", a.period, a.kind))
}

/// Write every file of a signed document into `dir`: `attestation.json` (the canonical
/// document), `attestation.json.sig`, `public_key.pem`, the personal signature
/// (`attestation.json.ssh.sig` + `allowed_signers`, or `attestation.json.asc`),
/// `attestation.md`, `attestation.pdf` and `attestation.pdf.sig`.
pub fn write(
    dir: &Path,
    keys: &vouch_ledger::Keys,
    a: &Attestation,
    doc: &SignedDocument,
) -> Result<Vec<PathBuf>, Error> {
    let at = a
        .signed
        .as_ref()
        .and_then(|s| vouch_core::period::parse_instant(&s.signed_at))
        .unwrap_or_else(chrono::Utc::now);
    let pdf = crate::pdf::render_attestation(&signature::canonical_bytes(&doc.document), at)
        .map_err(Error::Render)?;
    write_set(
        dir,
        NAME,
        keys,
        doc,
        &vouch_signoff::markdown::render(a),
        &pdf,
    )
}

/// Write a signed document set into `dir` as `NAME.*`: the document and its signatures
/// ([`SignedDocument::write_files`]), `NAME.md`, `NAME.pdf` and `NAME.pdf.sig` (vouch's
/// signature over the PDF, for `openssl dgst -sha256 -verify`). Attestations and
/// access-review campaigns alike.
pub fn write_set(
    dir: &Path,
    name: &str,
    keys: &vouch_ledger::Keys,
    doc: &SignedDocument,
    markdown: &str,
    pdf: &[u8],
) -> Result<Vec<PathBuf>, Error> {
    let mut files = doc
        .write_files(dir, name)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    let md = dir.join(format!("{name}.md"));
    std::fs::write(&md, markdown).map_err(|e| Error::io(&md, e))?;
    files.push(md);
    let p = dir.join(format!("{name}.pdf"));
    std::fs::write(&p, pdf).map_err(|e| Error::io(&p, e))?;
    let s = dir.join(format!("{name}.pdf.sig"));
    std::fs::write(&s, vouch_ledger::sign::sign_b64(&keys.signing, pdf))
        .map_err(|e| Error::io(&s, e))?;
    files.push(p);
    files.push(s);
    Ok(files)
}

/// Where a completed access-review campaign's files go, beside the attestations:
/// `<data dir>/attestations/access-review-<id>/`.
pub fn review_dir_for(data_dir: &Path, id: &str) -> PathBuf {
    data_dir
        .join("attestations")
        .join(format!("{}-{id}", review::FILE_NAME))
}

/// Write a completed campaign's document set into `dir`: `access-review.json`, `.sig`,
/// `public_key.pem`, the completer's own signature (`.json.ssh.sig` + `allowed_signers`
/// or `.json.asc` + `gpg_fingerprint`), `access-review.md`, `.pdf` and `.pdf.sig`.
pub fn write_review(
    dir: &Path,
    keys: &vouch_ledger::Keys,
    set: &review::DocumentSet,
) -> Result<Vec<PathBuf>, Error> {
    write_set(
        dir,
        review::FILE_NAME,
        keys,
        &set.signed,
        &set.markdown,
        &set.pdf,
    )
}

/// The PDF renderer of access-review documents, for [`review::complete`].
pub fn review_pdf(json: &[u8], at: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>, String> {
    crate::pdf::render_access_review(json, at)
}

/// The names of the signed documents `vouch verify` recognises in a directory.
const DOCUMENT_NAMES: &[&str] = &[NAME, review::FILE_NAME];

/// The signed document's JSON in `path` (a directory holding `attestation.json` or
/// `access-review.json`, or that file) and its name.
fn document_in(path: &Path) -> Option<(PathBuf, &'static str)> {
    if path.is_dir() {
        return DOCUMENT_NAMES.iter().find_map(|n| {
            let f = path.join(format!("{n}.json"));
            f.exists().then_some((f, *n))
        });
    }
    let file = path.file_name()?.to_str()?;
    DOCUMENT_NAMES
        .iter()
        .find(|n| file == format!("{n}.json"))
        .filter(|_| path.exists())
        .map(|n| (path.to_path_buf(), *n))
}

/// Whether `path` is (or holds) a signed document: an attestation's `attestation.json`
/// or a completed access-review campaign's `access-review.json`.
pub fn is_attestation(path: &Path) -> bool {
    document_in(path).is_some()
}

fn step(steps: &mut Vec<Step>, check: String, r: Result<String, String>) {
    let (ok, detail) = match r {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    steps.push(Step { check, ok, detail });
}

/// Verify a signed attestation offline: vouch's signature over `attestation.json` (with
/// `pinned` or a known key when given, else the document's own key, said so), the PDF's
/// `.sig`, and the signer's own signature with `ssh-keygen -Y verify` (the
/// `allowed_signers` beside it) or `gpg --verify` (the caller's keyring).
pub fn verify(path: &Path, pinned: Option<&str>, known: &[String]) -> Vec<Step> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let (json_path, file) = document_in(path).unwrap_or((dir.join(format!("{NAME}.json")), NAME));
    let mut steps = Vec::new();
    let name = json_path.display().to_string();
    let bytes = match std::fs::read(&json_path) {
        Ok(b) => b,
        Err(e) => {
            step(&mut steps, name, Err(format!("cannot read it: {e}")));
            return steps;
        }
    };
    let doc: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            step(&mut steps, name, Err(format!("not JSON: {e}")));
            return steps;
        }
    };
    step(
        &mut steps,
        format!("{name}: canonical form"),
        if signature::canonical_bytes(&doc) == bytes {
            Ok(format!(
                "{} bytes, SHA-256 {}",
                bytes.len(),
                vouch_store::blobs::sha256_hex(&bytes)
            ))
        } else {
            Err("the file is not the canonical JSON of its content (it was edited)".into())
        },
    );
    // Where the document says who signed and how: an attestation's `signed` block, an
    // access review's `signing_key` and `access_review` (completed_by, personal kind).
    let review = file == review::FILE_NAME;
    let key_id = if review {
        &doc["signing_key"]["id"]
    } else {
        &doc["signed"]["vouch_key_id"]
    }
    .as_str()
    .unwrap_or_default()
    .to_string();
    let (personal_kind, signer) = if review {
        (
            doc["access_review"]["personal_signature"].as_str(),
            doc["access_review"]["completed_by"].as_str(),
        )
    } else {
        (
            doc["signed"]["personal_signature"].as_str(),
            doc["signed"]["signer"]["name"].as_str(),
        )
    };
    let own = std::fs::read_to_string(dir.join("public_key.pem")).unwrap_or_default();
    let (pem, whose) = match pinned {
        Some(p) => (p.to_string(), "the pinned key".to_string()),
        None => match known
            .iter()
            .find(|k| vouch_ledger::sign::key_id_of_pem(k).ok().as_deref() == Some(key_id.as_str()))
        {
            Some(k) => (k.clone(), "a key this data directory knows".to_string()),
            None => (
                own.clone(),
                "the key beside it (self-declared: pin one with --public-key)".to_string(),
            ),
        },
    };
    let check = |file: &Path| -> Result<String, String> {
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let mut sig = file.as_os_str().to_owned();
        sig.push(".sig");
        let sig = std::fs::read_to_string(PathBuf::from(&sig))
            .map_err(|e| format!("cannot read its .sig: {e}"))?;
        vouch_ledger::sign::verify_b64(&pem, &bytes, sig.trim())
            .map(|_| format!("ECDSA P-256 / SHA-256 with {whose}"))
    };
    step(
        &mut steps,
        format!("{name}: vouch signature"),
        check(&json_path).and_then(|d| {
            let id = vouch_ledger::sign::key_id_of_pem(&pem)?;
            if id == key_id {
                Ok(format!("{d}, key id {id}"))
            } else {
                Err(format!("signed by key {key_id}, checked with {id}"))
            }
        }),
    );
    let pdf = dir.join(format!("{file}.pdf"));
    if pdf.exists() {
        step(
            &mut steps,
            format!("{}: signature", pdf.display()),
            check(&pdf),
        );
    }
    let ssh = dir.join(format!("{file}.json.ssh.sig"));
    let asc = dir.join(format!("{file}.json.asc"));
    match personal_kind {
        Some("ssh") => {
            let signer = signer.unwrap_or_default();
            let principal = signature::principal_of(signer);
            // Documents signed before principals were restricted to [A-Za-z0-9._@-]
            // name the signer with only spaces replaced.
            let legacy = signer.replace(' ', "_");
            let r = std::fs::read_to_string(&ssh)
                .map_err(|e| format!("cannot read {}: {e}", ssh.display()))
                .and_then(|sig| {
                    let allowed = dir.join("allowed_signers");
                    signature::ssh_verify(&allowed, &principal, &sig, &bytes)
                        .map(|_| principal.clone())
                        .or_else(|e| {
                            if legacy != principal {
                                signature::ssh_verify(&allowed, &legacy, &sig, &bytes)
                                    .map(|_| legacy.clone())
                            } else {
                                Err(e)
                            }
                        })
                        .map(|p| {
                            format!(
                                "ssh-keygen -Y verify: good signature by {p} (namespace {})",
                                signature::SSH_NAMESPACE
                            )
                        })
                        .map_err(|e| e.to_string())
                });
            step(&mut steps, format!("{name}: signer's SSH signature"), r);
        }
        Some("gpg") => {
            // The signature must be by the key recorded when signing (gpg_fingerprint):
            // a good signature by another key of the verifier's keyring is refused.
            let fpr_file = dir.join(signature::GPG_FINGERPRINT_FILE);
            let r = std::fs::read_to_string(&asc)
                .map_err(|e| format!("cannot read {}: {e}", asc.display()))
                .and_then(|sig| {
                    let fpr = std::fs::read_to_string(&fpr_file)
                        .map(|t| t.trim().to_string())
                        .ok()
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| format!(
                            "no recorded signer fingerprint ({}): cannot tell whether the right key signed; write the files again with `vouch attest export`",
                            fpr_file.display()
                        ))?;
                    signature::verify_personal(
                        &PersonalSignature::Gpg {
                            signature: sig,
                            key_id: fpr.clone(),
                        },
                        &bytes,
                    )
                    .map(|_| format!("gpg --verify: good signature by the recorded key {fpr}"))
                    .map_err(|e| e.to_string())
                });
            step(&mut steps, format!("{name}: signer's OpenPGP signature"), r);
        }
        _ => {}
    }
    steps
}

/// A short entry for a packet: what was signed, when, by whom, its hash.
pub fn entry(a: &Attestation) -> Value {
    json!({
        "id": a.id, "kind": a.kind, "period": a.period, "status": a.status, "late": a.late,
        "closes_at": a.closes_at,
        "signed_at": a.signed.as_ref().map(|s| s.signed_at.clone()),
        "signer": a.signed.as_ref().map(|s| json!({"name": s.signer.name, "role": s.signer.role})),
        "opinion": a.signed.as_ref().map(|s| s.opinion.clone()),
        "document_sha256": a.document_sha256, "ledger_seq": a.ledger_seq,
        "exceptions": a.exceptions.len(),
    })
}

/// What a packet says about sign-offs, as of `generated_at`: the documents signed in the
/// period (`signed`) and the status of the period's own attestation, when the period is
/// an attested one (`status`: `signed`, `open`, `overdue`, `missed` or `not_opened`).
/// `None` when there is nothing to say, so packets made before stay byte-identical.
pub fn for_packet(
    store: &vouch_store::Store,
    period: &vouch_core::period::Period,
    generated_at: &str,
) -> Result<Option<Value>, Error> {
    let rows = store.query(
        "SELECT record FROM attestations ORDER BY opens_at, kind",
        &[],
    )?;
    let start = vouch_core::event::format_timestamp(&period.start);
    let end = vouch_core::event::format_timestamp(&period.end);
    let mut signed = Vec::new();
    let mut own = Value::Null;
    for r in rows {
        let Ok(a) = serde_json::from_str::<Attestation>(&r.text(0)) else {
            continue;
        };
        let signed_at = a.signed.as_ref().map(|s| s.signed_at.clone());
        let signed_then = signed_at.as_deref().is_some_and(|t| t <= generated_at);
        if signed_then
            && signed_at
                .as_deref()
                .is_some_and(|t| t >= start.as_str() && t < end.as_str())
        {
            signed.push(entry(&a));
        }
        if a.period == period.label && a.kind == vouch_signoff::attest::KIND_ATTESTATION {
            // The status as it stood at `generated_at` (the row moves on later).
            let status = if signed_then {
                "signed"
            } else if a.created_at.as_str() > generated_at {
                "not_opened"
            } else if a.status == "missed" {
                "missed"
            } else if a.closes_at.as_str() <= generated_at {
                "overdue"
            } else {
                "open"
            };
            let mut e = entry(&a);
            e["status"] = json!(status);
            if !signed_then {
                for k in [
                    "signed_at",
                    "signer",
                    "opinion",
                    "document_sha256",
                    "ledger_seq",
                ] {
                    e[k] = Value::Null;
                }
            }
            own = e;
        }
    }
    if signed.is_empty() && own.is_null() {
        return Ok(None);
    }
    Ok(Some(json!({"signed": signed, "period": own})))
}
