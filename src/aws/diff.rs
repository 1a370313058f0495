//! What changes between two policy documents, pure: one line per changed value, so a plan shows
//! before → after instead of "~ trust policy". Statements are matched by `Sid` when every
//! statement on both sides has one (the bucket policy: one statement per prefix), else by
//! position.

use serde_json::Value;

/// The changed values between `before` and `after`, one line each: `+ path: value`,
/// `- path: value`, `~ path: before -> after`.
pub fn diff(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn show(v: &Value) -> String {
    v.to_string()
}

fn key(path: &str, k: &str) -> String {
    let simple = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => k.to_string(),
        (false, true) => format!("{path}.{k}"),
        (_, false) => format!("{path}[{}]", Value::String(k.to_string())),
    }
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = key(path, k);
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) => walk(&p, x, y, out),
                    (Some(x), None) => out.push(format!("- {p}: {}", show(x))),
                    (None, Some(y)) => out.push(format!("+ {p}: {}", show(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if by_sid(b) && by_sid(a) => {
            let sid = |v: &Value| v["Sid"].as_str().unwrap_or_default().to_string();
            for x in b {
                let p = format!("{path}[Sid={}]", sid(x));
                match a.iter().find(|y| sid(y) == sid(x)) {
                    Some(y) => walk(&p, x, y, out),
                    None => out.push(format!("- {p}: {}", show(x))),
                }
            }
            for y in a.iter().filter(|y| !b.iter().any(|x| sid(x) == sid(y))) {
                out.push(format!("+ {path}[Sid={}]: {}", sid(y), show(y)));
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for i in 0..b.len().max(a.len()) {
                let p = format!("{path}[{i}]");
                match (b.get(i), a.get(i)) {
                    (Some(x), Some(y)) => walk(&p, x, y, out),
                    (Some(x), None) => out.push(format!("- {p}: {}", show(x))),
                    (None, Some(y)) => out.push(format!("+ {p}: {}", show(y))),
                    (None, None) => {}
                }
            }
        }
        _ => out.push(format!(
            "~ {}: {} -> {}",
            if path.is_empty() { "(document)" } else { path },
            show(before),
            show(after)
        )),
    }
}

fn by_sid(v: &[Value]) -> bool {
    !v.is_empty()
        && v.iter()
            .all(|s| s.get("Sid").and_then(Value::as_str).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_trust_policy_change_names_the_condition_that_changed() {
        let before = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Condition": {"StringEquals": {"h/c1:sub": "system:serviceaccount:a:b", "h/c1:aud": "sts.amazonaws.com"}}}]});
        let after = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Condition": {"StringEquals": {"h/c1:aud": "sts.amazonaws.com"},
                          "StringLike": {"h/c1:sub": "system:serviceaccount:a:*"}}}]});
        assert_eq!(
            diff(&before, &after),
            vec![
                r#"- Statement[0].Condition.StringEquals["h/c1:sub"]: "system:serviceaccount:a:b""#,
                r#"+ Statement[0].Condition.StringLike: {"h/c1:sub":"system:serviceaccount:a:*"}"#,
            ]
        );
    }

    #[test]
    fn bucket_statements_are_matched_by_sid() {
        let before = json!({"Statement": [{"Sid": "Theirs", "Effect": "Deny"},
            {"Sid": "IrsaIssuerPublicReadaa", "Resource": ["arn:aws:s3:::b/c1/keys.json"]}]});
        let after = json!({"Statement": [
            {"Sid": "IrsaIssuerPublicReadaa", "Resource": ["arn:aws:s3:::b/c1/openid/v1/jwks"]},
            {"Sid": "Theirs", "Effect": "Deny"}]});
        assert_eq!(
            diff(&before, &after),
            vec![
                r#"~ Statement[Sid=IrsaIssuerPublicReadaa].Resource[0]: "arn:aws:s3:::b/c1/keys.json" -> "arn:aws:s3:::b/c1/openid/v1/jwks""#
            ]
        );
        assert!(diff(&after, &after).is_empty());
        assert_eq!(
            diff(&Value::Null, &json!({"a": 1})),
            vec![r#"~ (document): null -> {"a":1}"#]
        );
    }
}
