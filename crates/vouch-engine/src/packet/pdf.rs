//! The PDF rendering of a packet (typst). Placeholder until the renderer lands.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub fn render(_packet: &Value, _at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    Err("PDF rendering is not available yet".into())
}
