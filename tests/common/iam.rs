//! A small IAM policy evaluator for tests, written from the IAM policy grammar (not from
//! irsa-issuer's code): Allow statements only (the policies under test have no Deny), action
//! and resource wildcards, and the condition operators irsa-issuer's policies use
//! (StringEquals, StringLike, ArnEquals, ArnLike, Null, and ForAllValues:StringEquals, which
//! holds when every value of the key is listed, and vacuously when the key is absent). Anything it does not understand makes
//! the statement not apply, so an unknown construct can only make a request look denied.

use std::collections::BTreeMap;

use serde_json::Value;

/// One request: action, resource ARN, and the request context (condition keys → values).
#[derive(Debug, Clone)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context
            .entry(key.into())
            .or_default()
            .push(value.into());
        self
    }
}

/// `*` and `?` wildcards, as IAM matches actions (case-insensitively) and ARNs.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(&p, &t)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn condition_holds(op: &str, key: &str, wanted: &Value, req: &Request) -> bool {
    let present = req.context.get(key);
    let wanted = strings(wanted);
    match op {
        "Null" => {
            let want_absent = wanted.first().map(String::as_str) == Some("true");
            want_absent == present.is_none()
        }
        "StringEquals" | "ArnEquals" => present.is_some_and(|vals| {
            vals.iter().any(|v| {
                wanted
                    .iter()
                    .any(|w| w == v || (op == "ArnEquals" && glob(w, v, false)))
            })
        }),
        "StringLike" | "ArnLike" => present.is_some_and(|vals| {
            vals.iter()
                .any(|v| wanted.iter().any(|w| glob(w, v, false)))
        }),
        "ForAllValues:StringEquals" => {
            present.is_none_or(|vals| vals.iter().all(|v| wanted.contains(v)))
        }
        _ => false,
    }
}

fn statement_allows(s: &Value, req: &Request) -> bool {
    if s["Effect"] != "Allow" {
        return false;
    }
    if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
        return false;
    }
    let action_ok = strings(&s["Action"])
        .iter()
        .any(|a| glob(a, &req.action, true));
    let resource_ok = strings(&s["Resource"])
        .iter()
        .any(|r| glob(r, &req.resource, false));
    if !(action_ok && resource_ok) {
        return false;
    }
    match s.get("Condition") {
        None => true,
        Some(Value::Object(ops)) => ops.iter().all(|(op, block)| match block {
            Value::Object(keys) => keys
                .iter()
                .all(|(key, wanted)| condition_holds(op, key, wanted, req)),
            _ => false,
        }),
        Some(_) => false,
    }
}

/// Whether `policy` allows `req`.
pub fn allows(policy: &Value, req: &Request) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(a) => a.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|s| statement_allows(s, req))
}
