//! Signer-key pins (issue 15): which personal key each signer's signatures must be made
//! with. A key configured in `[attestations] signer_keys` wins; otherwise the key of the
//! signer's first personally signed document is pinned (trust on first use, one row of
//! `signer_key_pins` per signer, inserted in the signing transaction so concurrent first
//! signatures cannot pin two keys). An admin replaces a pinned key with
//! [`Signoffs::rotate_signer_key`]: the row changes and an `attestation.signer_key_rotated`
//! event names the old and new fingerprints, who rotated and why.

use crate::attest::Signoffs;
use crate::signature;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use vouch_core::event::format_timestamp as ts;

/// A signer's pinned key, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerPin {
    /// The signer's name (as their documents record it).
    pub signer: String,
    /// `SHA256:…` for an SSH key, the OpenPGP fingerprint otherwise.
    pub fingerprint: String,
    /// The key (SSH public key) or the OpenPGP fingerprint.
    pub public_key: String,
    /// `config`, `first_use` or `rotated`.
    pub pinned_by: String,
    /// The document whose signature pinned it (first use).
    pub document_id: Option<String>,
    /// When it was pinned (RFC 3339; empty for configured keys).
    pub pinned_at: String,
}

/// The key part of what an admin gives: an SSH public key line (`ssh-ed25519 AAAA…`)
/// or an OpenPGP fingerprint (40 or 64 hex digits, spaces ignored).
pub fn parse_key(given: &str) -> Result<String, Error> {
    if given.contains("PRIVATE KEY") {
        return Err(Error::Invalid(
            "key: that is a private key; give the public key (the .pub file) or an OpenPGP fingerprint".into(),
        ));
    }
    if let Some(k) = signature::ssh_public_key_of(given) {
        return Ok(k);
    }
    let fpr: String = given
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if (fpr.len() == 40 || fpr.len() == 64) && fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(fpr);
    }
    Err(Error::Invalid(
        "key: neither an SSH public key (ssh-ed25519 AAAA…) nor an OpenPGP fingerprint (40 hex digits)".into(),
    ))
}

impl Signoffs<'_> {
    /// Every pinned signer key: the configured ones, then those pinned in the store.
    pub fn signer_pins(&self) -> Result<Vec<SignerPin>, Error> {
        let configured = &self.config.settings.attestations.signer_keys;
        let mut out: Vec<SignerPin> = configured
            .iter()
            .map(|(signer, k)| SignerPin {
                signer: signer.clone(),
                fingerprint: signature::pinned_fingerprint(k),
                public_key: k.clone(),
                pinned_by: "config".into(),
                document_id: None,
                pinned_at: String::new(),
            })
            .collect();
        for r in self.store.query(
            "SELECT signer, public_key, fingerprint, pinned_by, document_id, pinned_at FROM signer_key_pins ORDER BY signer",
            &[],
        )? {
            // A configured key overrides the stored pin.
            if configured.contains_key(&r.text(0)) {
                continue;
            }
            out.push(SignerPin {
                signer: r.text(0),
                public_key: r.text(1),
                fingerprint: r.text(2),
                pinned_by: r.text(3),
                document_id: r.opt_text(4),
                pinned_at: r.text(5),
            });
        }
        Ok(out)
    }

    /// Replace `signer`'s pinned key with `new_key` (an SSH public key line or an
    /// OpenPGP fingerprint), recorded as `attestation.signer_key_rotated` with the old
    /// and new fingerprints, the admin and the reason. A key configured in vouch.toml is
    /// changed there, not here (conflict). The pin row is written first and put back if
    /// the event cannot be recorded.
    pub fn rotate_signer_key(
        &self,
        signer: &str,
        new_key: &str,
        reason: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<SignerPin, Error> {
        if signer.trim().is_empty() {
            return Err(Error::Invalid("signer: a name is needed".into()));
        }
        if reason.trim().is_empty() {
            return Err(Error::Invalid(
                "reason: say why the key is rotated (it is recorded in the ledger)".into(),
            ));
        }
        if self
            .config
            .settings
            .attestations
            .signer_keys
            .contains_key(signer)
        {
            return Err(Error::Conflict(format!(
                "{signer}'s key is configured in vouch.toml ([attestations] signer_keys): change it there"
            )));
        }
        let key = parse_key(new_key)?;
        let fingerprint = signature::pinned_fingerprint(&key);
        let old = self.pinned_key(signer)?;
        let old_fpr = old.as_ref().map(|(k, _)| signature::pinned_fingerprint(k));
        if old_fpr.as_deref() == Some(fingerprint.as_str()) {
            return Err(Error::Conflict(format!(
                "{signer}'s key is already {fingerprint}: nothing to rotate"
            )));
        }
        let previous = self.store.query(
            "SELECT public_key, fingerprint, pinned_by, document_id, pinned_at FROM signer_key_pins WHERE signer = $1",
            &[signer.into()],
        )?;
        let at = ts(&now);
        self.store.write(&mut |sql| {
            sql.execute(
                "DELETE FROM signer_key_pins WHERE signer = $1",
                &[signer.into()],
            )?;
            sql.execute(
                "INSERT INTO signer_key_pins (signer, public_key, fingerprint, pinned_by, document_id, pinned_at) VALUES ($1, $2, $3, 'rotated', NULL, $4)",
                &[signer.into(), key.clone().into(), fingerprint.clone().into(), at.clone().into()],
            )?;
            Ok(())
        })?;
        let ev = json!({
            "timestamp": at,
            "action": "attestation.signer_key_rotated", "category": "administrative", "result": "success",
            "actor": {"id": actor, "email": null, "ip": null},
            "resource": {"type": "signer_key", "id": signer, "name": signer},
            "details": {"description": format!(
                "{actor} rotated {signer}'s personal signing key from {} to {fingerprint}: {reason}",
                old_fpr.as_deref().unwrap_or("(none pinned)")
            )},
            "metadata": {
                "signer": signer,
                "old_fingerprint": old_fpr,
                "old_pinned_by": old.as_ref().map(|(_, s)| *s),
                "new_fingerprint": fingerprint,
                "reason": reason,
            },
        });
        if let Err(e) = vouch_ledger::audit::record(self.ledger, ev) {
            // Not recorded, so not rotated: put the previous pin back.
            let _ = self.store.write(&mut |sql| {
                sql.execute(
                    "DELETE FROM signer_key_pins WHERE signer = $1 AND pinned_by = 'rotated' AND pinned_at = $2",
                    &[signer.into(), at.clone().into()],
                )?;
                if let Some(r) = previous.first() {
                    sql.execute(
                        "INSERT INTO signer_key_pins (signer, public_key, fingerprint, pinned_by, document_id, pinned_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (signer) DO NOTHING",
                        &[signer.into(), r.text(0).into(), r.text(1).into(), r.text(2).into(), r.opt_text(3).into(), r.text(4).into()],
                    )?;
                }
                Ok(())
            });
            return Err(e.into());
        }
        Ok(SignerPin {
            signer: signer.into(),
            fingerprint,
            public_key: key,
            pinned_by: "rotated".into(),
            document_id: None,
            pinned_at: at,
        })
    }
}
