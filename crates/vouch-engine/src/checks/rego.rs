//! Rego policies (regorus): `deny` over `input`, each message a failing item. Syntax and
//! runtime errors come back as messages, never panics.

use serde_json::Value;

/// Evaluate `deny` of the policy's package; the messages, in the set's order.
pub fn deny(name: &str, policy: &str, input: &Value) -> Result<Vec<Value>, String> {
    let mut engine = regorus::Engine::new();
    let package = engine
        .add_policy(name.to_string(), policy.to_string())
        .map_err(|e| format!("policy {name} does not parse: {}", one_line(&e.to_string())))?;
    let input = regorus::Value::from_json_str(&input.to_string())
        .map_err(|e| format!("policy input: {e}"))?;
    engine.set_input(input);
    let rule = format!("{package}.deny");
    let out = engine
        .eval_rule(rule.clone())
        .map_err(|e| format!("policy {name} failed: {}", one_line(&e.to_string())))?;
    if out == regorus::Value::Undefined {
        return Ok(Vec::new());
    }
    let json = out
        .to_json_str()
        .map_err(|e| format!("policy result: {e}"))?;
    match serde_json::from_str::<Value>(&json).map_err(|e| e.to_string())? {
        Value::Array(a) => Ok(a),
        other => Err(format!("{rule} must be a set of messages, not {other}")),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn deny_messages_and_errors() {
        let p = "package vouch.test\nimport rego.v1\ndeny contains msg if {\n some r in input.rows\n r.status == \"failed\"\n msg := sprintf(\"run %v failed\", [r.id])\n}\n";
        let out = super::deny(
            "t.rego",
            p,
            &json!({"rows": [{"id": 1, "status": "ok"}, {"id": 2, "status": "failed"}]}),
        )
        .unwrap();
        assert_eq!(out, vec![json!("run 2 failed")]);
        assert!(super::deny("t.rego", p, &json!({"rows": []}))
            .unwrap()
            .is_empty());
        let e =
            super::deny("bad.rego", "package x\ndeny contains msg if {", &json!({})).unwrap_err();
        assert!(e.starts_with("policy bad.rego does not parse"), "{e}");
        let e = super::deny(
            "rt.rego",
            "package x\nimport rego.v1\ndeny contains msg if { msg := 1 / 0 }",
            &json!({}),
        )
        .unwrap_err();
        assert!(e.contains("rt.rego"), "{e}");
    }
}
