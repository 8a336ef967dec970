//! Rego policies (regorus): `deny` over `input`, each message a failing item. Syntax and
//! runtime errors come back as messages, never panics.
//!
//! A policy may also define `judged`: the rows (a set or array) or the number of rows it
//! judged. When it does and that is 0, the check is `no_evidence` rather than `pass`: a
//! policy that denies nothing because it saw nothing has checked nothing.

use serde_json::Value;

/// What a policy said: its `deny` messages, and how many rows it judged when it defines
/// `judged`.
pub struct Judgement {
    /// The values of the policy's `deny` set.
    pub denied: Vec<Value>,
    /// Rows the policy judged, when it defines `judged`.
    pub judged: Option<u64>,
}

/// Evaluate `deny` (and `judged`, when defined) of the policy's package; the policy is
/// parsed and the input converted once for both rules.
pub fn judge(name: &str, policy: &str, input: &Value) -> Result<Judgement, String> {
    let mut loaded = Loaded::new(name, policy, input)?;
    let denied = loaded.deny()?;
    let judged =
        match loaded.eval("judged", policy)? {
            None => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                format!("policy {name}: `judged` must be a count of rows, not {n}")
            })?),
            Some(Value::Array(a)) => Some(a.len() as u64),
            Some(other) => {
                return Err(format!(
                    "policy {name}: `judged` must be a set of rows or a count, not {other}"
                ))
            }
        };
    Ok(Judgement { denied, judged })
}

/// Evaluate `deny` of the policy's package; the messages, in the set's order.
pub fn deny(name: &str, policy: &str, input: &Value) -> Result<Vec<Value>, String> {
    Loaded::new(name, policy, input)?.deny()
}

/// A policy parsed into an engine with its input set.
struct Loaded<'a> {
    name: &'a str,
    engine: regorus::Engine,
    package: String,
}

impl<'a> Loaded<'a> {
    fn new(name: &'a str, policy: &str, input: &Value) -> Result<Self, String> {
        let mut engine = regorus::Engine::new();
        let package = engine
            .add_policy(name.to_string(), policy.to_string())
            .map_err(|e| format!("policy {name} does not parse: {}", one_line(&e.to_string())))?;
        let input = regorus::Value::from_json_str(&input.to_string())
            .map_err(|e| format!("policy input: {e}"))?;
        engine.set_input(input);
        Ok(Loaded {
            name,
            engine,
            package,
        })
    }

    /// A rule's value as JSON; `None` when undefined, or when it is the optional
    /// `judged` and the policy does not define it.
    fn eval(&mut self, rule: &str, policy: &str) -> Result<Option<Value>, String> {
        let name = self.name;
        let full = format!("{}.{rule}", self.package);
        let out = match self.engine.eval_rule(full) {
            Ok(v) => v,
            Err(e) => {
                // An undefined optional rule is no error.
                if rule == "judged" && !defines(policy, "judged") {
                    return Ok(None);
                }
                return Err(format!(
                    "policy {name} failed: {}",
                    one_line(&e.to_string())
                ));
            }
        };
        if out == regorus::Value::Undefined {
            return Ok(None);
        }
        let json = out
            .to_json_str()
            .map_err(|e| format!("policy result: {e}"))?;
        serde_json::from_str::<Value>(&json)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn deny(&mut self) -> Result<Vec<Value>, String> {
        match self.eval("deny", "")? {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(format!(
                "{}.deny must be a set of messages, not {other}",
                self.package
            )),
        }
    }
}

/// Whether the policy has a rule `name` (a line starting with it).
fn defines(policy: &str, name: &str) -> bool {
    policy.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|r| r.starts_with([' ', '\t', ':', '=', '[', '(', '{']))
    })
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
        // `judged` is optional; when defined it is the number of rows judged.
        assert_eq!(
            super::judge("t.rego", p, &json!({"rows": []}))
                .unwrap()
                .judged,
            None
        );
        let q = format!("{p}judged contains r if {{\n some r in input.rows\n}}\n");
        let j = super::judge("q.rego", &q, &json!({"rows": []})).unwrap();
        assert_eq!((j.denied.len(), j.judged), (0, Some(0)));
        let j = super::judge("q.rego", &q, &json!({"rows": [{"id": 1, "status": "ok"}]})).unwrap();
        assert_eq!(j.judged, Some(1));
    }
}
