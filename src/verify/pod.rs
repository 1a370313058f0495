//! `verify --pod`: the steps AWS's "configure pods" guide has a person do by hand, on the pod
//! as `kubectl get pod -o json` prints it. Pure: the pod, the trust policy and the provider's
//! client IDs (as IAM returned them) and the file's settings in; checks out.

use std::collections::BTreeMap;

use serde_json::Value;

use super::checks::Check;
use crate::aws::names::Partition;
use crate::oidc::token::string_like;
use crate::webhook::mutate::{self, clean_path};

/// What the pod says about its AWS identity, as far as it could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdentity {
    /// Namespace.
    pub namespace: String,
    /// ServiceAccount.
    pub service_account: String,
    /// `AWS_ROLE_ARN`, when the containers agree on one.
    pub role_arn: Option<String>,
    /// The projected token's audience.
    pub audience: Option<String>,
    /// The projected token's `expirationSeconds`.
    pub expiration: Option<i64>,
}

impl PodIdentity {
    /// `system:serviceaccount:NS:NAME`, the token's `sub`.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// kube-apiserver's default `expirationSeconds` for a projected token that names none.
const DEFAULT_PROJECTED_EXPIRATION: i64 = 3600;

struct Container<'a> {
    name: &'a str,
    env: BTreeMap<&'a str, Option<&'a str>>,
    mounts: Vec<(&'a str, &'a str)>,
}

fn containers(pod: &Value) -> Vec<Container<'_>> {
    let spec = &pod["spec"];
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec[*k].as_array())
        .flatten()
        .map(|c| Container {
            name: c["name"].as_str().unwrap_or(""),
            env: c["env"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|v| Some((v["name"].as_str()?, v["value"].as_str())))
                        .collect()
                })
                .unwrap_or_default(),
            mounts: c["volumeMounts"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|v| Some((v["name"].as_str()?, v["mountPath"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The service-account token projections of the pod's volumes: volume name → (path,
/// audience, expirationSeconds).
fn token_projections(pod: &Value) -> Vec<(&str, &str, &str, Option<i64>)> {
    let mut out = Vec::new();
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or("");
        for s in v["projected"]["sources"].as_array().into_iter().flatten() {
            let t = &s["serviceAccountToken"];
            if let Some(path) = t["path"].as_str() {
                out.push((
                    name,
                    path,
                    t["audience"].as_str().unwrap_or(""),
                    t["expirationSeconds"].as_i64(),
                ));
            }
        }
    }
    out
}

/// The Unix form of a token file path (the webhook writes `C:\...` on Windows pods).
fn unix_path(p: &str) -> String {
    match p.strip_prefix("C:") {
        Some(rest) if rest.starts_with('\\') => rest.replace('\\', "/"),
        _ => p.to_string(),
    }
}

/// The checks on the pod alone: the role and token-file variables in every container the
/// webhook was to mutate, the token file being the projected token's, its audience and
/// lifetime (at most `max_token_age` seconds), and the region variables.
pub fn check_pod(pod: &Value, max_token_age: u64) -> (Vec<Check>, PodIdentity) {
    let mut checks = Vec::new();
    let mut id = PodIdentity {
        namespace: pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string(),
        service_account: mutate::service_account_name(pod).to_string(),
        ..PodIdentity::default()
    };
    let sa = format!("{}/{}", id.namespace, id.service_account);
    let skip: Vec<String> = pod["metadata"]["annotations"]
        .as_object()
        .and_then(|a| {
            a.iter().find_map(|(k, v)| {
                k.ends_with("/skip-containers")
                    .then(|| v.as_str().and_then(mutate::csv_first_record))
                    .flatten()
            })
        })
        .unwrap_or_default();
    let all = containers(pod);
    let (skipped, cs): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|c| skip.iter().any(|s| s == c.name));
    let recreate = format!("the webhook adds them when the pod is created: check that ServiceAccount {sa} has the eks.amazonaws.com/role-arn annotation (`irsa-issuer role manifest`), that the webhook runs (`kubectl get mutatingwebhookconfiguration`), and delete the pod so that it is created again");
    let missing: Vec<&str> = cs
        .iter()
        .filter(|c| {
            !c.env.contains_key("AWS_ROLE_ARN")
                || !c.env.contains_key("AWS_WEB_IDENTITY_TOKEN_FILE")
        })
        .map(|c| c.name)
        .collect();
    if cs.is_empty() {
        checks.push(Check::fail(
            "pod containers",
            "the pod has no container to check",
            "pass the output of `kubectl get pod NAME -o json`",
        ));
        return (checks, id);
    }
    if missing.is_empty() {
        checks.push(Check::ok(
            "role and token variables",
            format!(
                "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE in {}{}",
                cs.iter().map(|c| c.name).collect::<Vec<_>>().join(", "),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} skipped by annotation)",
                        skipped
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        ));
    } else {
        checks.push(Check::fail(
            "role and token variables",
            format!(
                "no AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE in {}",
                missing.join(", ")
            ),
            recreate,
        ));
    }
    let roles: std::collections::BTreeSet<&str> = cs
        .iter()
        .filter_map(|c| c.env.get("AWS_ROLE_ARN").copied().flatten())
        .collect();
    match roles.len() {
        0 => {}
        1 => id.role_arn = roles.first().map(|r| r.to_string()),
        _ => checks.push(Check::fail(
            "role ARN",
            format!("the containers name different roles: {}", roles.iter().copied().collect::<Vec<_>>().join(", ")),
            "one pod has one ServiceAccount token: give every container the same AWS_ROLE_ARN (or drop the hand-set ones and let the webhook add it)",
        )),
    }
    let projections = token_projections(pod);
    let mut token: Option<(&str, Option<i64>)> = None;
    let mut bad_files = Vec::new();
    for c in &cs {
        let Some(Some(file)) = c.env.get("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            continue;
        };
        let file = unix_path(file);
        let found = c.mounts.iter().find_map(|(vol, mount)| {
            projections.iter().find(|(name, path, _, _)| {
                name == vol && clean_path(&format!("{mount}/{path}")) == file
            })
        });
        match found {
            Some((_, _, aud, exp)) => token = Some((aud, *exp)),
            None => bad_files.push(format!("{}: {file}", c.name)),
        }
    }
    if !bad_files.is_empty() {
        checks.push(Check::fail(
            "token file is the projected token",
            format!("no projected service-account token is mounted at AWS_WEB_IDENTITY_TOKEN_FILE ({})", bad_files.join("; ")),
            "the variable must name <mountPath>/<path> of a mounted projected serviceAccountToken volume (the webhook's aws-iam-token): remove a hand-set AWS_WEB_IDENTITY_TOKEN_FILE or fix its volume",
        ));
    } else if let Some((aud, exp)) = token {
        checks.push(Check::ok(
            "token file is the projected token",
            "AWS_WEB_IDENTITY_TOKEN_FILE names the mounted projected token".to_string(),
        ));
        id.audience = Some(aud.to_string());
        id.expiration = Some(exp.unwrap_or(DEFAULT_PROJECTED_EXPIRATION));
    }
    if let Some(aud) = &id.audience {
        if aud.is_empty() {
            checks.push(Check::fail("token audience", "the projected token names no audience, so it carries the API server's own, which STS refuses", "set the ServiceAccount's eks.amazonaws.com/audience (or the webhook's --token-audience) to the provider's client ID, sts.amazonaws.com by default"));
        }
    }
    if let Some(exp) = id.expiration {
        if exp > i64::try_from(max_token_age).unwrap_or(i64::MAX) {
            checks.push(Check::fail(
                "token expiration",
                format!("expirationSeconds {exp} is longer than the rotation's max token age ({max_token_age} s): a key could be retired while tokens it signed are still in use"),
                "lower the eks.amazonaws.com/token-expiration annotation (or the webhook's --token-expiration), or raise rotation.max_token_age",
            ));
        } else {
            checks.push(Check::ok(
                "token expiration",
                format!("{exp} s, within the max token age ({max_token_age} s)"),
            ));
        }
    }
    checks.extend(region_checks(&cs, id.role_arn.as_deref()));
    (checks, id)
}

fn region_checks(cs: &[Container<'_>], role_arn: Option<&str>) -> Vec<Check> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut unset = Vec::new();
    for c in cs {
        let region = c.env.get("AWS_REGION").copied().flatten();
        let default = c.env.get("AWS_DEFAULT_REGION").copied().flatten();
        let regional =
            c.env.get("AWS_STS_REGIONAL_ENDPOINTS").copied().flatten() == Some("regional");
        match (region, default) {
            (Some(a), Some(b)) if a != b => problems.push(format!("{}: AWS_REGION={a} but AWS_DEFAULT_REGION={b}", c.name)),
            (None, None) if regional => problems.push(format!("{}: AWS_STS_REGIONAL_ENDPOINTS=regional without a region, so the SDK cannot pick the STS endpoint", c.name)),
            (None, None) => unset.push(c.name),
            (r, d) => {
                let r = r.or(d).unwrap_or("");
                if let (Some(role), Some(arn_p)) = (role_arn, role_arn.and_then(Partition::of_arn)) {
                    if Partition::of_region(r) != arn_p {
                        problems.push(format!("{}: region {r} is not in the partition of {role}", c.name));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        out.push(Check::fail("region variables", problems.join("; "), "set AWS_REGION (and AWS_DEFAULT_REGION, if set) to the one region the pod calls STS in: the webhook's --aws-default-region does it for every pod"));
    } else if !unset.is_empty() {
        out.push(Check::warn("region variables", format!("no AWS_REGION or AWS_DEFAULT_REGION in {}: the SDK must find the region elsewhere, or calls the global STS endpoint", unset.join(", ")), "run the webhook with --aws-default-region REGION (or set AWS_REGION in the pod)"));
    } else {
        out.push(Check::ok("region variables", "set, and consistent"));
    }
    out
}

/// Whether a trust-policy statement lets `sub` with `aud` assume the role through a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustVerdict {
    /// Allowed through this provider ARN.
    Allowed {
        /// The provider the statement names.
        provider: String,
    },
    /// Not allowed, with why (one reason per statement considered).
    Refused(Vec<String>),
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The `HOST/PATH` of a provider ARN (`arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`).
pub fn provider_host_path(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, hp)| hp)
}

/// Evaluates one condition block for the web-identity context `{HOST/PATH:sub, HOST/PATH:aud}`;
/// `Err` says which condition does not hold.
fn conditions_hold(cond: &Value, host_path: &str, sub: &str, aud: &str) -> Result<(), String> {
    let Some(ops) = cond.as_object() else {
        return Ok(());
    };
    for (op, keys) in ops {
        let Some(keys) = keys.as_object() else {
            return Err(format!("condition {op} is not an object"));
        };
        for (key, wanted) in keys {
            let k = key.to_ascii_lowercase();
            let hp = host_path.to_ascii_lowercase();
            let value = if k == format!("{hp}:sub") {
                sub
            } else if k == format!("{hp}:aud") {
                aud
            } else {
                return Err(format!("condition {op} on {key} cannot be checked here (only {host_path}:sub and :aud can)"));
            };
            let wanted = strings(wanted);
            let any = |f: &dyn Fn(&str) -> bool| wanted.iter().any(|w| f(w));
            let ok = match op.as_str() {
                "StringEquals" => any(&|w| w == value),
                "StringEqualsIgnoreCase" => any(&|w| w.eq_ignore_ascii_case(value)),
                "StringLike" => any(&|w| string_like(w, value)),
                "StringNotEquals" => !any(&|w| w == value),
                "StringNotLike" => !any(&|w| string_like(w, value)),
                other => return Err(format!("condition operator {other} cannot be checked here")),
            };
            if !ok {
                return Err(format!(
                    "{op} {key} is [{}], which {value} does not match",
                    wanted.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Whether `policy` (a role's trust policy) lets `sub` with audience `aud` call
/// AssumeRoleWithWebIdentity. A matching Deny wins over any Allow.
pub fn trust_allows(policy: &Value, sub: &str, aud: &str) -> TrustVerdict {
    let statements: Vec<&Value> = match &policy["Statement"] {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        _ => return TrustVerdict::Refused(vec!["the trust policy has no Statement".into()]),
    };
    let mut reasons = Vec::new();
    let mut allowed = None;
    for (i, st) in statements.iter().enumerate() {
        let effect = st["Effect"].as_str().unwrap_or("");
        let acts = strings(&st["Action"]);
        if !acts
            .iter()
            .any(|a| string_like(&a.to_ascii_lowercase(), "sts:assumerolewithwebidentity"))
        {
            if effect == "Allow" {
                reasons.push(format!(
                    "statement {i} does not allow sts:AssumeRoleWithWebIdentity"
                ));
            }
            continue;
        }
        for provider in strings(&st["Principal"]["Federated"]) {
            let Some(hp) = provider_host_path(provider) else {
                continue;
            };
            match (effect, conditions_hold(&st["Condition"], hp, sub, aud)) {
                ("Deny", Ok(())) => {
                    return TrustVerdict::Refused(vec![format!("statement {i} denies it")])
                }
                ("Allow", Ok(())) => {
                    allowed.get_or_insert_with(|| provider.to_string());
                }
                ("Allow", Err(why)) => reasons.push(format!("statement {i} ({provider}): {why}")),
                _ => {}
            }
        }
        if effect == "Allow" && strings(&st["Principal"]["Federated"]).is_empty() {
            reasons.push(format!("statement {i} names no Federated OIDC provider"));
        }
    }
    match allowed {
        Some(provider) => TrustVerdict::Allowed { provider },
        None if reasons.is_empty() => TrustVerdict::Refused(vec![
            "no statement allows sts:AssumeRoleWithWebIdentity".into(),
        ]),
        None => TrustVerdict::Refused(reasons),
    }
}

/// The trust policy check for the pod's role.
pub fn check_trust(
    role_arn: &str,
    policy: &Value,
    id: &PodIdentity,
    expected_provider: Option<&str>,
) -> (Check, Option<String>) {
    let sub = id.subject();
    let aud = id.audience.as_deref().unwrap_or("");
    let name = "role trusts this pod";
    match trust_allows(policy, &sub, aud) {
        TrustVerdict::Allowed { provider } => match expected_provider {
            Some(want) if want != provider => (
                Check::fail(name, format!("{role_arn} trusts {sub} through {provider}, not through this cluster's provider {want}"), "make the role trust the cluster's issuer: `irsa-issuer apply -f FILE` (or `role apply --issuer URL`)"),
                Some(provider),
            ),
            _ => (Check::ok(name, format!("{role_arn} trusts {sub} with audience {aud} through {provider}")), Some(provider)),
        },
        TrustVerdict::Refused(why) => (
            Check::fail(name, format!("{role_arn} does not let {sub} with audience {aud} assume it: {}", why.join("; ")), format!("add {}/{} to the role's service accounts (with audience {aud}) and apply it: `irsa-issuer apply -f FILE`, or `irsa-issuer role apply --service-account {}/{}`", id.namespace, id.service_account, id.namespace, id.service_account)),
            None,
        ),
    }
}

/// The provider lists the token's audience among its client IDs.
pub fn check_client_ids(provider: &str, client_ids: &[String], audience: &str, fix: &str) -> Check {
    if client_ids.iter().any(|c| c == audience) {
        Check::ok(
            "audience is a provider client ID",
            format!("{provider} lists {audience}"),
        )
    } else {
        Check::fail(
            "audience is a provider client ID",
            format!("{provider} lists [{}], not {audience}: STS answers InvalidIdentityToken (Incorrect token audience)", client_ids.join(", ")),
            fix.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::checks::Status;
    use serde_json::json;

    fn policy(cond: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": cond,
        }]})
    }

    #[test]
    fn trust_policy_evaluation() {
        let sub = "system:serviceaccount:ns:app";
        let p = policy(
            json!({"StringEquals": {"oidc.example.com/c1:sub": sub, "oidc.example.com/c1:aud": "sts.amazonaws.com"}}),
        );
        assert_eq!(
            trust_allows(&p, sub, "sts.amazonaws.com"),
            TrustVerdict::Allowed {
                provider: "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1".into()
            }
        );
        let TrustVerdict::Refused(why) = trust_allows(&p, sub, "other") else {
            panic!()
        };
        assert!(why[0].contains(":aud is [sts.amazonaws.com]"), "{why:?}");
        assert!(matches!(
            trust_allows(&p, "system:serviceaccount:ns:other", "sts.amazonaws.com"),
            TrustVerdict::Refused(_)
        ));
        let like = policy(
            json!({"StringLike": {"oidc.example.com/c1:sub": ["system:serviceaccount:ns:*"]}}),
        );
        assert!(matches!(
            trust_allows(&like, sub, "x"),
            TrustVerdict::Allowed { .. }
        ));
        // A condition on another provider's key does not hold for this one.
        let other = policy(json!({"StringEquals": {"other.example.com:sub": sub}}));
        assert!(matches!(
            trust_allows(&other, sub, "sts.amazonaws.com"),
            TrustVerdict::Refused(_)
        ));
        // Deny wins.
        let mut deny = policy(json!({}));
        deny["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Deny", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"}, "Action": "sts:*"}));
        assert!(
            matches!(trust_allows(&deny, sub, "a"), TrustVerdict::Refused(w) if w[0].contains("denies"))
        );
        let plain = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}});
        assert!(matches!(
            trust_allows(&plain, sub, "a"),
            TrustVerdict::Refused(_)
        ));
    }

    fn mutated_pod() -> Value {
        json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": {
            "serviceAccountName": "app",
            "volumes": [{"name": "aws-iam-token", "projected": {"sources": [{"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}}],
            "containers": [{"name": "c", "env": [
                {"name": "AWS_REGION", "value": "eu-west-1"},
                {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/r"},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],
                "volumeMounts": [{"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount", "readOnly": true}]}]}})
    }

    fn status<'a>(c: &'a [Check], name: &str) -> &'a Check {
        c.iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} in {c:#?}"))
    }

    #[test]
    fn a_mutated_pod_passes_and_each_break_is_named() {
        let (c, id) = check_pod(&mutated_pod(), 86400);
        assert!(c.iter().all(|c| c.status == Status::Ok), "{c:#?}");
        assert_eq!(id.subject(), "system:serviceaccount:ns:app");
        assert_eq!(
            (id.audience.as_deref(), id.expiration),
            (Some("sts.amazonaws.com"), Some(86400))
        );
        let (c, _) = check_pod(&mutated_pod(), 3600);
        assert_eq!(status(&c, "token expiration").status, Status::Fail);
        let mut p = mutated_pod();
        p["spec"]["containers"][0]["env"][2]["value"] = json!("/elsewhere/token");
        let (c, _) = check_pod(&p, 86400);
        assert_eq!(
            status(&c, "token file is the projected token").status,
            Status::Fail
        );
        let mut p = mutated_pod();
        p["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side"}));
        let (c, _) = check_pod(&p, 86400);
        assert!(status(&c, "role and token variables")
            .detail
            .contains("side"));
        // ...unless skipped by annotation.
        p["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "side"});
        let (c, _) = check_pod(&p, 86400);
        assert_eq!(status(&c, "role and token variables").status, Status::Ok);
        let mut p = mutated_pod();
        p["spec"]["containers"][0]["env"][0] = json!({"name": "AWS_REGION", "value": "cn-north-1"});
        let (c, _) = check_pod(&p, 86400);
        assert!(status(&c, "region variables").detail.contains("partition"));
        let mut p = mutated_pod();
        p["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        let (c, _) = check_pod(&p, 86400);
        assert_eq!(status(&c, "region variables").status, Status::Warn);
        // Windows form of the path.
        let mut p = mutated_pod();
        p["spec"]["containers"][0]["env"][2]["value"] =
            json!(r"C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token");
        let (c, _) = check_pod(&p, 86400);
        assert_eq!(
            status(&c, "token file is the projected token").status,
            Status::Ok
        );
    }
}
