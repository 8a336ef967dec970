//! A typed, read-only view of an evidence item's `operation` (how the IPE was produced):
//! the query, command, URL, file glob or upload, and the collector's parameters.
//!
//! The stored record stays open-ended JSON (each source kind writes its own operation);
//! readers (the packet's `produced_by`, the server's evidence export) read these fields
//! instead of indexing `r["operation"]["query"]`.

use serde_json::Value;

/// The `operation` of an evidence item's record, as readers use it. A field that is
/// absent, or not of the expected JSON type, reads as `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Operation {
    /// The SQL (or other) query run against the source.
    pub query: Option<String>,
    /// The command run (program and arguments), for command sources; only its string
    /// elements.
    pub argv: Option<Vec<String>>,
    /// The URL fetched, for HTTP sources.
    pub url: Option<String>,
    /// The file glob read, for file sources.
    pub glob: Option<String>,
    /// The uploaded file's name, for uploads.
    pub upload: Option<String>,
    /// The collector's parameters (open-ended; `null` when absent).
    pub params: Value,
}

impl Operation {
    /// The operation of an evidence item's `record` (its `operation` member).
    pub fn of_record(record: &Value) -> Operation {
        let op = &record["operation"];
        let text = |k: &str| op[k].as_str().map(str::to_string);
        Operation {
            query: text("query"),
            argv: op["argv"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            }),
            url: text("url"),
            glob: text("glob"),
            upload: text("upload"),
            params: op["params"].clone(),
        }
    }

    /// The command line: `argv` joined by spaces.
    pub fn command(&self) -> Option<String> {
        self.argv.as_ref().map(|a| a.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_each_kind_and_ignores_wrong_types() {
        let op = Operation::of_record(&json!({"operation": {
            "query": "SELECT 1", "argv": ["velero", 3, "get"], "params": {"a": 1}, "url": 5,
        }}));
        assert_eq!(op.query.as_deref(), Some("SELECT 1"));
        assert_eq!(op.command().as_deref(), Some("velero get"));
        assert_eq!(op.url, None);
        assert_eq!(op.params, json!({"a": 1}));
        assert_eq!(Operation::of_record(&json!({})), Operation::default());
    }
}
