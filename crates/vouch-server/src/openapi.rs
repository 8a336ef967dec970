//! The OpenAPI 3.1 document, generated from the route table.

use crate::roles::Perm;
use crate::routes::ROUTES;
use serde_json::{json, Map, Value};

/// The OpenAPI form of a route template: axum's catch-all `{*path}` is `{path}`.
pub fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

/// Whether a route belongs in the document: the dashboard's HTML pages and form posts
/// (`/admin/compliance…`) are not API (they answer HTML and take forms), so they stay in
/// the route table (roles matrix, permissions) but out of `/openapi.json`.
pub fn documented(path: &str) -> bool {
    path != crate::dashboard::ROOT && !path.starts_with(&format!("{}/", crate::dashboard::ROOT))
}

/// The OpenAPI 3.1 document of every API route.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES.iter().filter(|r| documented(r.path)) {
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|p| json!({"name": p.name, "in": p.location, "required": p.required, "schema": {"type": p.schema}}))
            .collect();
        let mut responses = Map::new();
        let ok = if r.method == "POST"
            && (r.path.ends_with("audit-logs") || r.path.ends_with("findings"))
        {
            "201"
        } else {
            "200"
        };
        responses.insert(
            ok.into(),
            json!({"description": "OK", "content": {r.produces: {"schema": {}}}}),
        );
        let err = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        for code in ["400", "404", "413", "414", "422", "431", "503"] {
            responses.insert(code.into(), err.clone());
        }
        if r.body {
            responses.insert("415".into(), err.clone());
        }
        if r.perm != Perm::Public {
            responses.insert("401".into(), err.clone());
            responses.insert("403".into(), err.clone());
            responses.insert("429".into(), err.clone());
        } else if r.path.ends_with("/login") {
            responses.insert("401".into(), err.clone());
            responses.insert("429".into(), err.clone());
        }
        // A locked account answers a login like a wrong password (401); signed-in
        // changes of password or MFA say 423.
        if r.path.contains("/auth/") && !r.path.ends_with("/login") {
            responses.insert("423".into(), err.clone());
        }
        // 409: an event id reused with other content; a job run already running; a
        // packet that a later packet of its series chains to (not rebuilt).
        if (r.path.ends_with("audit-logs") && r.method == "POST")
            || r.path.ends_with("/run")
            || r.path.ends_with("/soc2-packet")
        {
            responses.insert("409".into(), err.clone());
        }
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": responses,
            "x-vouch-permission": r.perm,
        });
        if r.perm == Perm::Public {
            op["security"] = json!([]);
        }
        if r.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": {}}}});
        }
        let entry = paths
            .entry(openapi_path(r.path))
            .or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "vouch", "version": vouch_engine::VERSION, "description": "SOC 2 evidence engine: tamper-evident audit ledger, evidence, checks, packets, archives."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (vch_…), a JWT, or a session token (vss_…)"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}},
        },
    })
}
