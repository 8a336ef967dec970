//! The audit-log index fields of an event (`audit_index`, issue 17): what the
//! sequencer writes beside every leaf and what verification expects of the stored row.

use serde::Deserialize;
use std::borrow::Cow;
use vouch_store::{IndexFields, IndexRef};

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    organization_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    actor: Option<Nested<'a>>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<Typed<'a>>,
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow)]
    result: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Nested<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

/// The index fields of a canonical event or leaf; `None` when it is not an event
/// object (a validated event always has `action`, `category` and `result`).
pub fn fields_of(json: &[u8]) -> Option<IndexFields> {
    let f: Fields<'_> = serde_json::from_slice(json).ok()?;
    let own = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned);
    Some(IndexFields {
        organization_id: own(f.organization_id),
        actor_id: own(f.actor.and_then(|a| a.id)),
        action: own(f.action)?,
        resource_type: own(f.resource.and_then(|r| r.kind)),
        category: own(f.category)?,
        result: own(f.result)?,
    })
}

/// Whether a stored index row says exactly what the leaf (and its verified `ts`) says.
pub fn row_matches(row: &IndexRef<'_>, leaf: &[u8], ts: &[u8]) -> bool {
    let Some(x) = fields_of(leaf) else {
        return false;
    };
    let want: [Option<&[u8]>; 7] = [
        x.organization_id.as_deref().map(str::as_bytes),
        x.actor_id.as_deref().map(str::as_bytes),
        Some(x.action.as_bytes()),
        x.resource_type.as_deref().map(str::as_bytes),
        Some(x.category.as_bytes()),
        Some(x.result.as_bytes()),
        Some(ts),
    ];
    row.fields == want
}

/// The SHA-256 over the audit-log index rows of the entries one retention run prunes,
/// recorded in the run's `retention.archived` event (`metadata.index_sha256`, with the
/// floor as `metadata.index_floor`) and recomputed by verification. Once a leaf is
/// pruned its index row cannot be compared with it any more; this keeps the row
/// tamper-evident all the same.
///
/// The hashed bytes (docs/verification.md): the RFC 8785 canonical JSON of
/// `{"floor":F,"schema":"vouch.pruned-index/v1"}` and a newline, then, for each pruned
/// entry that has a row, in seq order, the canonical JSON array `[seq, organization_id,
/// actor_id, action, resource_type, category, result, ts]` (SQL NULL as `null`) and a
/// newline. `F` is `audit_index_floor.below`: entries pruned below it may lack a row, so
/// it is part of what the digest vouches for.
pub struct PrunedIndexDigest {
    hasher: sha2::Sha256,
}

/// `metadata.index_sha256` of a `retention.archived` event.
pub const PRUNED_INDEX_KEY: &str = "index_sha256";

impl PrunedIndexDigest {
    /// A digest for a run, with the index floor at the time.
    pub fn new(floor: u64) -> PrunedIndexDigest {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(vouch_core::canonical::to_vec(
            &serde_json::json!({"floor": floor, "schema": "vouch.pruned-index/v1"}),
        ));
        hasher.update(b"\n");
        PrunedIndexDigest { hasher }
    }

    /// Add the row of entry `seq` (rows must come in seq order).
    pub fn add(&mut self, seq: u64, row: &IndexRef<'_>) {
        use sha2::Digest;
        let mut line = vec![serde_json::Value::from(seq)];
        line.extend(row.fields.iter().map(|f| match f {
            Some(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
            None => serde_json::Value::Null,
        }));
        self.hasher
            .update(vouch_core::canonical::to_vec(&serde_json::Value::Array(
                line,
            )));
        self.hasher.update(b"\n");
    }

    /// The digest, lower-case hex.
    pub fn finish(self) -> String {
        use sha2::Digest;
        hex::encode(self.hasher.finalize())
    }
}
