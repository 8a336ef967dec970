//! `vouch verify`: offline checks of packets and their files — every signature, the
//! checkpoint's signature, the consistency proof to the previous packet, and every hash
//! the packet lists against the files beside it. Needs no database.

use super::{
    build::{SCHEMA, SCHEMA_V1},
    series::series_of,
    sign, JSON_FILE, PDF_FILE,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use vouch_core::note::{Checkpoint, NoteVerifier};

/// What packet verification trusts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pin the signing key (SPKI PEM text). Otherwise a known key with the packet's
    /// key id is used, or the packet's own (self-declared) key with a warning.
    pub public_key_pem: Option<String>,
    /// Public keys vouch knows (current and rotated), as PEM text.
    pub known_keys: Vec<String>,
    /// Pin the log key (C2SP verifier key). Otherwise the packet's.
    pub log_key: Option<String>,
    /// Witness keys trusted for cosignatures (`--witnesses FILE`); empty: cosignatures
    /// are not checked.
    pub witnesses: Vec<vouch_witness::CosignerVerifier>,
    /// How many of `witnesses` must have cosigned a checkpoint the packet's extends to.
    pub min_cosignatures: usize,
}

/// One step of a packet verification.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked.
    pub check: String,
    /// Whether it held.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

struct Steps(Vec<Step>);

impl Steps {
    fn push(&mut self, check: impl Into<String>, r: Result<String, String>) {
        let (ok, detail) = match r {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.0.push(Step {
            check: check.into(),
            ok,
            detail,
        });
    }
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn sig_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Check a detached `.sig` beside `file`.
fn check_sig(file: &Path, pem: &str) -> Result<String, String> {
    let bytes = read(file)?;
    let sig = String::from_utf8(read(&sig_path(file))?)
        .map_err(|_| "the .sig file is not text".to_string())?;
    sign::verify_b64(pem, &bytes, sig.trim())
        .map(|_| format!("{} bytes, ECDSA P-256 / SHA-256", bytes.len()))
}

/// Verify the given paths (packet JSON files, PDFs, or directories holding a packet).
pub fn verify(paths: &[PathBuf], opts: &Options) -> Vec<Step> {
    let mut steps = Steps(Vec::new());
    // `whole`: packets given as their directory, which must hold every file they list.
    let (mut packets, mut loose_pdfs, whole) = read_all(paths, &mut steps);
    // Each series is one chain, ordered by tree size (then period end).
    packets.sort_by(|a, b| {
        (
            series_name(&a.1),
            a.1["ledger"]["checkpoint"]["size"].as_u64(),
            a.1["period"]["end"].as_str(),
        )
            .cmp(&(
                series_name(&b.1),
                b.1["ledger"]["checkpoint"]["size"].as_u64(),
                b.1["period"]["end"].as_str(),
            ))
    });

    for (path, v) in &packets {
        let dir_given = whole.contains(path);
        check_packet(path, v, opts, dir_given, &mut steps, &mut loose_pdfs);
    }
    check_chains(&packets, &mut steps);
    for pdf in loose_pdfs {
        let pem = opts
            .public_key_pem
            .clone()
            .or_else(|| opts.known_keys.first().cloned())
            .unwrap_or_default();
        steps.push(
            format!("{}: signature", pdf.display()),
            if pem.is_empty() {
                Err("no public key: pass --public-key".into())
            } else {
                check_sig(&pdf, &pem)
            },
        );
    }
    steps.0
}

/// The packets (JSON, by schema) and the PDFs given without their JSON, from files or
/// packet directories; what cannot be read becomes a failed step.
fn read_all(
    paths: &[PathBuf],
    steps: &mut Steps,
) -> (Vec<(PathBuf, Value)>, Vec<PathBuf>, Vec<PathBuf>) {
    let mut whole: Vec<PathBuf> = Vec::new();
    let mut packets: Vec<(PathBuf, Value)> = Vec::new();
    let mut loose_pdfs: Vec<PathBuf> = Vec::new();
    for p in paths {
        let targets: Vec<PathBuf> = if p.is_dir() {
            [JSON_FILE, PDF_FILE]
                .iter()
                .map(|f| p.join(f))
                .filter(|f| f.exists())
                .collect()
        } else {
            vec![p.clone()]
        };
        if targets.is_empty() {
            steps.push(
                format!("{}", p.display()),
                Err("no SOC2_Evidence.json or SOC2_Evidence.pdf here".into()),
            );
        }
        for t in targets {
            let t = if t.extension().is_some_and(|e| e == "sig") {
                t.with_extension("")
            } else {
                t
            };
            match read(&t) {
                Err(e) => steps.push(format!("{}", t.display()), Err(e)),
                Ok(bytes) if t.extension().is_some_and(|e| e == "json") => {
                    match serde_json::from_slice::<Value>(&bytes) {
                        Ok(v) if v["schema"] == SCHEMA || v["schema"] == SCHEMA_V1 => {
                            if p.is_dir() {
                                whole.push(t.clone());
                            }
                            packets.push((t, v))
                        }
                        Ok(_) => steps.push(
                            format!("{}", t.display()),
                            Err(format!(
                                "not a vouch packet (schema is neither {SCHEMA} nor {SCHEMA_V1})"
                            )),
                        ),
                        Err(e) => steps.push(
                            format!("{}", t.display()),
                            Err(format!("invalid JSON: {e}")),
                        ),
                    }
                }
                Ok(_) => loose_pdfs.push(t),
            }
        }
    }
    (packets, loose_pdfs, whole)
}

/// The series a packet belongs to (recorded, or derived from its label).
fn series_name(v: &Value) -> String {
    v["period"]["series"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| series_of(v["period"]["label"].as_str().unwrap_or("")).into())
}

/// One packet: signing key, signatures (its PDF's too, which is then no longer loose),
/// checkpoint, the verification it records, consistency with the previous and later
/// packets it names, and the hashes of the exports beside it.
fn check_packet(
    path: &Path,
    v: &Value,
    opts: &Options,
    dir_given: bool,
    steps: &mut Steps,
    loose_pdfs: &mut Vec<PathBuf>,
) {
    let name = path.display().to_string();
    let key_id = v["signing_key"]["id"].as_str().unwrap_or_default();
    let pem = choose_key(opts, key_id, v, steps, &name);
    steps.push(format!("{name}: signature"), check_sig(path, &pem));
    let pdf = path.with_file_name(PDF_FILE);
    if pdf.exists() {
        steps.push(
            format!("{}: signature", pdf.display()),
            check_sig(&pdf, &pem),
        );
        loose_pdfs.retain(|p| p != &pdf);
    }
    // The checkpoint: signed by the log key, and the packet says the same.
    let vkey = opts.log_key.clone().unwrap_or_else(|| {
        v["ledger"]["log_key"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    let verifier = NoteVerifier::parse(&vkey).map_err(|e| format!("log key: {e}"));
    let cp = &v["ledger"]["checkpoint"];
    let opened = verifier.clone().and_then(|ver| {
        Checkpoint::open(cp["note"].as_str().unwrap_or_default(), &ver).map_err(|e| e.to_string())
    });
    steps.push(
        format!("{name}: ledger checkpoint"),
        opened.clone().and_then(|c| {
            if Some(c.size) != cp["size"].as_u64()
                || vouch_core::b64(&c.root) != cp["root"].as_str().unwrap_or_default()
            {
                return Err("the signed checkpoint does not match the packet's size/root".into());
            }
            Ok(format!("tree size {} signed by {}", c.size, c.origin))
        }),
    );
    if !opts.witnesses.is_empty() {
        steps.push(
            format!(
                "{name}: witness cosignatures ({} of {})",
                opts.min_cosignatures,
                opts.witnesses.len()
            ),
            check_witnessed(v, opened.as_ref().ok(), verifier.as_ref().ok(), opts),
        );
    }
    let verification = &v["ledger"]["verification"];
    steps.push(
        format!("{name}: ledger verification at generation"),
        if verification["valid"] == true {
            Ok(format!(
                "{} entries verified when the packet was made",
                verification["checked"]
            ))
        } else {
            Err(format!(
                "the packet records a broken ledger at entry {}: {}",
                verification["broken_at"], verification["reason"]
            ))
        },
    );
    // Consistency with the previous packet's checkpoint.
    let prev = &v["ledger"]["previous"];
    if !prev.is_null() {
        steps.push(
            format!("{name}: consistency with the previous packet"),
            check_consistency(prev, cp, verifier.as_ref().ok()),
        );
    }
    // A backfill proves that the later packet's tree (made before it) extends its own.
    let next = &v["ledger"]["following"];
    if next.is_object() {
        let as_prev =
            serde_json::json!({"checkpoint": cp, "consistency_proof": next["consistency_proof"]});
        steps.push(
            format!(
                "{name}: consistency with the later packet {}",
                next["period"].as_str().unwrap_or("")
            ),
            check_consistency(&as_prev, &next["checkpoint"], verifier.as_ref().ok()),
        );
    }
    // Every listed file present beside the packet. A packet given as its directory must
    // hold them all: a stripped directory must not look complete. Given as the JSON file
    // alone, the exports that are there are checked.
    let dir = path.parent().unwrap_or(Path::new("."));
    for e in v["exports"].as_array().into_iter().flatten() {
        let fname = e["name"].as_str().unwrap_or_default();
        let f = dir.join(fname);
        if !f.exists() {
            if dir_given {
                steps.push(
                    format!("{}: sha256", f.display()),
                    Err("listed in the packet but missing from its directory: not checked".into()),
                );
            }
            continue;
        }
        steps.push(format!("{}: sha256", f.display()), check_export(&f, e));
    }
}

/// Consecutive packets of a series: each must extend the one before (its recorded
/// previous checkpoint), or be extended by it (a backfill), or follow an empty tree.
fn check_chains(packets: &[(PathBuf, Value)], steps: &mut Steps) {
    // A second packet must extend the first: same checkpoint as recorded previous.
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0].1, &pair[1].1);
        if series_name(a) != series_name(b) {
            continue;
        }
        let recorded = &b["ledger"]["previous"]["checkpoint"];
        let earlier = &a["ledger"]["checkpoint"];
        let backfill = &a["ledger"]["following"]["checkpoint"];
        let label = |v: &Value| {
            v["period"]["label"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let what = format!("packet {} follows packet {}", label(b), label(a));
        steps.push(
            what,
            if recorded["note"] == earlier["note"] && !recorded.is_null() {
                Ok(format!("its consistency proof starts at the earlier packet's checkpoint (tree size {})", earlier["size"]))
            } else if backfill["note"] == b["ledger"]["checkpoint"]["note"] && !backfill.is_null() {
                Ok(format!("packet {} was made after it (a backfill) and proves its tree (size {}) extends its own (size {})", label(a), b["ledger"]["checkpoint"]["size"], earlier["size"]))
            } else if earlier["size"] == 0 {
                Ok(format!("packet {} covers an empty tree: there is nothing to extend", label(a)))
            } else if recorded.is_null() {
                Err(format!("packet {} records no previous packet, so it cannot prove it extends {}", label(b), label(a)))
            } else {
                Err(format!("its previous checkpoint (tree size {}) is not the earlier packet's (tree size {})", recorded["size"], earlier["size"]))
            },
        );
    }
}

fn choose_key(opts: &Options, key_id: &str, v: &Value, steps: &mut Steps, name: &str) -> String {
    if let Some(pem) = &opts.public_key_pem {
        let id = sign::key_id_of_pem(pem).unwrap_or_default();
        steps.push(
            format!("{name}: signing key"),
            if id == key_id {
                Ok(format!("pinned key {id}"))
            } else {
                Err(format!(
                    "the packet was signed with key {key_id}, not the pinned key {id}"
                ))
            },
        );
        return pem.clone();
    }
    if let Some(pem) = opts
        .known_keys
        .iter()
        .find(|p| sign::key_id_of_pem(p).ok().as_deref() == Some(key_id))
    {
        steps.push(
            format!("{name}: signing key"),
            Ok(format!("known key {key_id}")),
        );
        return pem.clone();
    }
    steps.push(
        format!("{name}: signing key"),
        Ok(format!(
            "key {key_id} embedded in the packet (self-declared: pin it with --public-key)"
        )),
    );
    v["signing_key"]["public_key_pem"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn check_consistency(
    prev: &Value,
    cp: &Value,
    verifier: Option<&NoteVerifier>,
) -> Result<String, String> {
    let verifier = verifier.ok_or("no usable log key")?;
    let proof = prev["consistency_proof"]
        .as_array()
        .ok_or("no consistency proof recorded")?;
    let hashes: Vec<_> = proof
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(vouch_core::unb64_hash)
                .ok_or("bad proof hash")
        })
        .collect::<Result<_, _>>()?;
    let old = Checkpoint::open(
        prev["checkpoint"]["note"].as_str().unwrap_or_default(),
        verifier,
    )
    .map_err(|e| format!("previous checkpoint: {e}"))?;
    let new = Checkpoint::open(cp["note"].as_str().unwrap_or_default(), verifier)
        .map_err(|e| format!("checkpoint: {e}"))?;
    if vouch_core::merkle::verify_consistency(old.size, new.size, &hashes, &old.root, &new.root) {
        Ok(format!(
            "tree {} extends tree {} (RFC 6962 consistency proof)",
            new.size, old.size
        ))
    } else {
        Err(format!(
            "the consistency proof from {} to {} does not verify",
            old.size, new.size
        ))
    }
}

/// The packet's checkpoint is in a checkpoint cosigned by enough trusted witnesses:
/// the cosigned note verifies (log key, then k of n cosignatures) and the consistency
/// proof leads from the packet's tree to it.
fn check_witnessed(
    v: &Value,
    packet_cp: Option<&Checkpoint>,
    verifier: Option<&NoteVerifier>,
    opts: &Options,
) -> Result<String, String> {
    let w = &v["ledger"]["witnessed"];
    if w.is_null() {
        return Err("the packet carries no witness cosignatures (made before witnesses were configured, or before any had cosigned a checkpoint this late)".into());
    }
    let verifier = verifier.ok_or("no usable log key")?;
    let packet_cp = packet_cp.ok_or("the packet's checkpoint does not verify")?;
    let witnessed = vouch_witness::verify::verify_cosigned(
        w["note"].as_str().unwrap_or_default(),
        verifier,
        &opts.witnesses,
        opts.min_cosignatures,
    )
    .map_err(|e| e.to_string())?;
    let cp = &witnessed.checkpoint;
    let hashes: Vec<_> = w["consistency_proof"]
        .as_array()
        .ok_or("no consistency proof to the cosigned checkpoint")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(vouch_core::unb64_hash)
                .ok_or("bad proof hash")
        })
        .collect::<Result<_, _>>()?;
    if !vouch_core::merkle::verify_consistency(
        packet_cp.size,
        cp.size,
        &hashes,
        &packet_cp.root,
        &cp.root,
    ) {
        return Err(format!(
            "the consistency proof from the packet's tree ({}) to the cosigned tree ({}) does not verify",
            packet_cp.size, cp.size
        ));
    }
    Ok(format!(
        "tree size {} extends to tree size {} cosigned by {}",
        packet_cp.size,
        cp.size,
        witnessed.describe()
    ))
}

fn check_export(f: &Path, e: &Value) -> Result<String, String> {
    let mut file = std::fs::File::open(f).map_err(|err| format!("cannot read: {err}"))?;
    let mut h = Sha256::new();
    let mut lines = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|err| format!("cannot read: {err}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let got = hex::encode(h.finalize());
    if got != e["sha256"].as_str().unwrap_or_default() {
        return Err(format!(
            "sha256 {got} differs from the packet's {}",
            e["sha256"]
        ));
    }
    if Some(lines) != e["count"].as_u64() {
        return Err(format!("{lines} lines, the packet says {}", e["count"]));
    }
    Ok(format!("{lines} records, sha256 matches"))
}
