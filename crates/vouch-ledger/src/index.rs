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
