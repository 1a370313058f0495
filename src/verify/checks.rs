//! The checks of `irsa-issuer verify`, pure: each takes what was fetched (documents, the
//! provider as IAM reports it, a token) and says ok or fail, with the fix. The command only
//! fetches and prints.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::aws::provider::ProviderState;
use crate::oidc::issuer::IssuerUrl;
use crate::oidc::keys::KeyId;
use crate::oidc::token::{self, Lifetime, Token};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Ok,
    /// Failed: STS would refuse tokens (or soon will).
    Fail,
    /// Works, but is not what it should be.
    Warn,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, for a failure or warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failed check with its fix.
    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A warning with its fix.
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Whether a Content-Type is JSON.
fn is_json(ct: Option<&str>) -> bool {
    ct.and_then(|c| c.split(';').next())
        .map(|c| {
            let c = c.trim().to_ascii_lowercase();
            c == "application/json" || c == "application/jwk-set+json"
        })
        .unwrap_or(false)
}

/// A JSON content type is expected; another one works with STS but is worth fixing.
fn content_type_check(name: &str, url: &str, content_type: Option<&str>) -> Check {
    if is_json(content_type) {
        Check::ok(name, content_type.unwrap_or_default())
    } else {
        Check::warn(
            name,
            format!("{url} is served as {}", content_type.unwrap_or("(none)")),
            "serve it as application/json (irsa-issuer's publish and serve do)",
        )
    }
}

/// The issuer URL as given: a trailing slash is a failure in itself (STS compares `iss`, the
/// provider URL and the discovery `issuer` byte for byte), then checked without it.
pub fn check_issuer_url(given: &str) -> (Option<Check>, String) {
    if given.len() > "https://".len() && given.ends_with('/') {
        let trimmed = given.trim_end_matches('/').to_string();
        (
            Some(Check::fail(
                "issuer URL",
                format!("{given} ends with a slash"),
                format!("use {trimmed} everywhere: kube-apiserver's --service-account-issuer, the provider, the discovery document (STS compares them byte for byte)"),
            )),
            trimmed,
        )
    } else {
        (None, given.to_string())
    }
}

/// Checks the discovery document; returns the checks and its `jwks_uri` when usable.
pub fn check_discovery(
    issuer: &IssuerUrl,
    body: &[u8],
    content_type: Option<&str>,
    fix_publish: &str,
) -> (Vec<Check>, Option<String>) {
    let mut checks = Vec::new();
    let url = issuer.discovery_url();
    checks.push(content_type_check(
        "discovery content type",
        &url,
        content_type,
    ));
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            checks.push(Check::fail(
                "discovery document",
                format!("{url} is not a JSON object"),
                fix_publish.to_string(),
            ));
            return (checks, None);
        }
    };
    match doc["issuer"].as_str() {
        Some(i) if i == issuer.as_str() => {
            checks.push(Check::ok("discovery issuer", format!("{i} (byte for byte)")))
        }
        Some(i) if i.trim_end_matches('/') == issuer.as_str() => checks.push(Check::fail(
            "discovery issuer",
            format!("the document says {i}, with a trailing slash; the URL is {issuer}"),
            format!("the issuer has no trailing slash anywhere: republish with issuer {issuer} ({fix_publish}) and check kube-apiserver's --service-account-issuer"),
        )),
        Some(i) => checks.push(Check::fail(
            "discovery issuer",
            format!("the document says {i}, not {issuer}"),
            format!("STS rejects tokens when the discovery issuer differs from the URL it was fetched under: republish for {issuer} ({fix_publish}), or point the provider and kube-apiserver at {i}"),
        )),
        None => checks.push(Check::fail(
            "discovery issuer",
            "the document has no issuer".to_string(),
            fix_publish.to_string(),
        )),
    }
    let jwks_uri = match doc["jwks_uri"].as_str() {
        Some(u) if u.starts_with("https://") => {
            checks.push(Check::ok("jwks_uri scheme", u.to_string()));
            Some(u.to_string())
        }
        Some(u) => {
            checks.push(Check::fail(
                "jwks_uri scheme",
                format!("jwks_uri is {u}: STS only fetches keys over https"),
                format!("publish the JWKS under the https issuer ({fix_publish}); behind a proxy, make it rewrite jwks_uri to https"),
            ));
            None
        }
        None => {
            checks.push(Check::fail(
                "jwks_uri scheme",
                "the document has no jwks_uri".to_string(),
                fix_publish.to_string(),
            ));
            None
        }
    };
    (checks, jwks_uri)
}

const PRIVATE_PARAMS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The kid kube-apiserver would give the key of `jwk`: base64url(SHA-256(DER SPKI)).
pub fn derived_kid(jwk: &Value) -> Option<KeyId> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use spki::EncodePublicKey as _;
    let f = |n: &str| jwk[n].as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    let der = match jwk["kty"].as_str()? {
        "RSA" => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&f("n")?),
                rsa::BigUint::from_bytes_be(&f("e")?),
            )
            .ok()?;
            key.to_public_key_der().ok()?
        }
        "EC" => {
            let mut point = vec![4u8];
            point.extend(f("x")?);
            point.extend(f("y")?);
            match jwk["crv"].as_str()? {
                "P-256" => p256::PublicKey::from_sec1_bytes(&point)
                    .ok()?
                    .to_public_key_der()
                    .ok()?,
                "P-384" => p384::PublicKey::from_sec1_bytes(&point)
                    .ok()?
                    .to_public_key_der()
                    .ok()?,
                "P-521" => p521::PublicKey::from_sec1_bytes(&point)
                    .ok()?
                    .to_public_key_der()
                    .ok()?,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(KeyId::from_spki_der(der.as_bytes()))
}

/// Checks the JWKS; returns the checks and its keys.
pub fn check_jwks(
    url: &str,
    body: &[u8],
    content_type: Option<&str>,
    fix_publish: &str,
) -> (Vec<Check>, Vec<Value>) {
    let mut checks = Vec::new();
    checks.push(content_type_check("JWKS content type", url, content_type));
    let keys = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v["keys"].as_array() {
            Some(k) => k.clone(),
            None => {
                checks.push(Check::fail(
                    "JWKS",
                    format!("{url} has no `keys` list"),
                    fix_publish.to_string(),
                ));
                return (checks, Vec::new());
            }
        },
        Err(e) => {
            checks.push(Check::fail(
                "JWKS",
                format!("{url} is not JSON: {e}"),
                fix_publish.to_string(),
            ));
            return (checks, Vec::new());
        }
    };
    if keys.is_empty() {
        checks.push(Check::fail(
            "JWKS",
            "it holds no keys".to_string(),
            fix_publish.to_string(),
        ));
    } else if keys.len() > 100 {
        checks.push(Check::fail(
            "JWKS",
            format!("{} keys: STS reads at most 100", keys.len()),
            "retire old keys (`irsa-issuer rotate retire`)",
        ));
    } else {
        checks.push(Check::ok("JWKS", format!("{} key(s)", keys.len())));
    }
    for (i, k) in keys.iter().enumerate() {
        let kid = k["kid"].as_str();
        let name = format!("JWKS key {}", kid.unwrap_or(&format!("#{i}")));
        let mut problems = Vec::new();
        if kid.is_none() {
            problems.push("no kid".to_string());
        }
        match k["alg"].as_str() {
            Some("RS256" | "ES256" | "ES384" | "ES512") => {}
            Some(a) => problems.push(format!("alg {a} is not one kube-apiserver signs with")),
            None => problems.push("no alg".to_string()),
        }
        if k["use"].as_str() != Some("sig") {
            problems.push("use is not \"sig\"".to_string());
        }
        let private: Vec<&str> = PRIVATE_PARAMS
            .iter()
            .copied()
            .filter(|p| k.get(*p).is_some())
            .collect();
        if !private.is_empty() {
            checks.push(Check::fail(
                name.clone(),
                format!("PRIVATE key material is published ({})", private.join(", ")),
                "remove it now and rotate the key: anyone could sign tokens with it (`irsa-issuer rotate stage`)",
            ));
            continue;
        }
        if let (Some(kid), Some(derived)) = (kid, derived_kid(k)) {
            if derived.as_str() != kid {
                problems.push(format!(
                    "kid is not the key's SHA-256 SPKI thumbprint ({derived}), which kube-apiserver puts in its tokens"
                ));
            }
        }
        if problems.is_empty() {
            checks.push(Check::ok(
                name,
                format!(
                    "{} {}",
                    k["kty"].as_str().unwrap_or("?"),
                    k["alg"].as_str().unwrap_or("?")
                ),
            ));
        } else {
            checks.push(Check::fail(
                name,
                problems.join("; "),
                fix_publish.to_string(),
            ));
        }
    }
    (checks, keys)
}

/// The served kids against the local key set.
pub fn check_local_keys(
    served: &BTreeSet<String>,
    local: &BTreeSet<String>,
    fix_publish: &str,
) -> Check {
    let missing: Vec<&String> = local.difference(served).collect();
    let extra: Vec<&String> = served.difference(local).collect();
    if missing.is_empty() && extra.is_empty() {
        return Check::ok(
            "served keys = local keys",
            format!("{} key(s)", local.len()),
        );
    }
    let mut detail = Vec::new();
    if !missing.is_empty() {
        detail.push(format!(
            "not served: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !extra.is_empty() {
        detail.push(format!(
            "served but not local: {}",
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Check::fail(
        "served keys = local keys",
        detail.join("; "),
        fix_publish.to_string(),
    )
}

/// The certificate chain the issuer's JWKS host presents now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// SHA-1 of its last certificate.
    pub thumbprint: String,
    /// Why IAM does not use a thumbprint for it (a public CA, S3), or `None` for a private CA,
    /// where the provider's thumbprint list is what STS checks.
    pub trusted_by_aws: Option<String>,
    /// What to do when the list lacks it (depends on how the file sets thumbprints).
    pub fix: String,
}

/// The provider in one account: it exists, takes the audience, and trusts the chain the issuer
/// presents now. A thumbprint that does not match is a failure only for a private CA: for a
/// public CA or S3, IAM verifies the chain against its own CA library and ignores the list.
pub fn check_provider(
    account: &str,
    arn: &str,
    provider: Option<&ProviderState>,
    audience: &str,
    presented: Option<&Presented>,
    fix: &str,
) -> Vec<Check> {
    let name = |what: &str| format!("provider {what} ({account})");
    let Some(p) = provider else {
        return vec![Check::fail(
            name("exists"),
            format!("there is no OIDC provider {arn}"),
            fix.to_string(),
        )];
    };
    let mut checks = vec![Check::ok(name("exists"), arn.to_string())];
    if p.client_ids.contains(audience) {
        checks.push(Check::ok(name("client IDs"), format!("include {audience}")));
    } else {
        checks.push(Check::fail(
            name("client IDs"),
            format!(
                "{} does not include the audience {audience}: STS answers InvalidIdentityToken (Incorrect token audience)",
                p.client_ids.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            fix.to_string(),
        ));
    }
    let Some(pr) = presented else {
        return checks;
    };
    let t = &pr.thumbprint;
    let listed = p.thumbprints.iter().cloned().collect::<Vec<_>>().join(", ");
    let listed = if listed.is_empty() {
        "no thumbprint".to_string()
    } else {
        listed
    };
    match (&pr.trusted_by_aws, p.thumbprints.contains(t)) {
        (_, true) => checks.push(Check::ok(
            name("thumbprint"),
            format!("includes {t}, presented now"),
        )),
        (Some(why), false) => checks.push(Check::warn(
            name("thumbprint"),
            format!("lists {listed}, not {t} that the JWKS host presents now; harmless: {why}, so IAM does not use the thumbprint"),
            format!("nothing needed; to stop this warning, pin the one presented now (provider.thumbprints = [\"{t}\"], or `provider apply --thumbprint {t}`) and apply"),
        )),
        (None, false) => checks.push(Check::fail(
            name("thumbprint"),
            format!("lists {listed}, not {t} that the JWKS host presents now: its chain ends in a private CA, so STS checks the thumbprint and refuses tokens"),
            pr.fix.clone(),
        )),
    }
    checks
}

/// A role the token could be used with.
#[derive(Debug, Clone)]
pub struct RoleTrust {
    /// The role: its ARN in each account that holds it (its name when none was read).
    pub name: String,
    /// `sub` patterns its trust policy allows.
    pub subjects: Vec<String>,
    /// The audience it requires.
    pub audience: String,
}

/// Checks a token as STS would, given the served keys, at `now`.
pub fn check_token(
    token_text: &str,
    issuer: &IssuerUrl,
    audience: &str,
    keys: &[Value],
    roles: &[RoleTrust],
    now: i64,
) -> Vec<Check> {
    let t = match Token::decode(token_text) {
        Ok(t) => t,
        Err(e) => {
            return vec![Check::fail(
                "token",
                e.to_string(),
                "pass the projected token file (e.g. /var/run/secrets/eks.amazonaws.com/serviceaccount/token)",
            )]
        }
    };
    let mut checks = Vec::new();
    let kid = t.kid().unwrap_or("");
    match keys.iter().find(|k| k["kid"].as_str() == Some(kid)) {
        None => checks.push(Check::fail(
            "token kid",
            format!("kid {} is not in the served JWKS: STS answers \"Couldn't retrieve verification key from your identity provider\"", if kid.is_empty() { "(none)" } else { kid }),
            "publish the key kube-apiserver signs with (`irsa-issuer apply -f FILE`, or add it to the key directory / keys.files)",
        )),
        Some(jwk) => {
            checks.push(Check::ok("token kid", format!("{kid} is served")));
            match t.verify(jwk) {
                Ok(()) => checks.push(Check::ok("token signature", format!("{} verifies", t.alg().unwrap_or("?")))),
                Err(e) => checks.push(Check::fail(
                    "token signature",
                    e.to_string(),
                    "the served key with this kid is not the one that signed it: republish from the key kube-apiserver uses",
                )),
            }
        }
    }
    match t.claims["iss"].as_str() {
        Some(i) if i == issuer.as_str() => checks.push(Check::ok("token iss", i.to_string())),
        Some(i) if i.trim_end_matches('/') == issuer.as_str() => checks.push(Check::fail(
            "token iss",
            format!("{i} has a trailing slash; the issuer is {issuer}"),
            format!("set kube-apiserver's --service-account-issuer={issuer} (no slash)"),
        )),
        other => checks.push(Check::fail(
            "token iss",
            format!("{} is not {issuer}", other.unwrap_or("(none)")),
            format!("set kube-apiserver's --service-account-issuer={issuer}, or verify against the issuer the token names"),
        )),
    }
    let auds = t.audiences();
    if auds.iter().any(|a| a == audience) {
        checks.push(Check::ok("token aud", audience.to_string()));
    } else {
        checks.push(Check::fail(
            "token aud",
            format!("[{}] does not include {audience}", auds.join(", ")),
            format!("request the token with audience {audience} (the pod-identity webhook's --token-audience, or the projected volume's audience)"),
        ));
    }
    match token::lifetime(&t.claims, now) {
        Lifetime::Valid { remaining } => checks.push(Check::ok(
            "token exp/nbf",
            format!("valid, {remaining} s left"),
        )),
        Lifetime::Expired { ago } => checks.push(Check::fail(
            "token exp/nbf",
            format!("expired {ago} s ago (5 minutes of skew allowed)"),
            "use a fresh token: the kubelet refreshes projected tokens; a copied token goes stale",
        )),
        Lifetime::NotYetValid { in_secs } => checks.push(Check::fail(
            "token exp/nbf",
            format!("not valid for another {in_secs} s"),
            "check the clocks of the API server and this machine (NTP)",
        )),
        Lifetime::NoExpiry => checks.push(Check::fail(
            "token exp/nbf",
            "it has no exp".to_string(),
            "STS requires an expiring token: use a projected service-account token",
        )),
    }
    let sub = t.claims["sub"].as_str().unwrap_or("");
    if token::service_account_of(sub).is_some() {
        checks.push(Check::ok("token sub", sub.to_string()));
    } else {
        checks.push(Check::fail(
            "token sub",
            format!("`{sub}` is not system:serviceaccount:NAMESPACE:NAME"),
            "use a service-account token issued by kube-apiserver",
        ));
    }
    if !roles.is_empty() {
        let accepting: Vec<&str> = roles
            .iter()
            .filter(|r| auds.contains(&r.audience))
            .filter(|r| r.subjects.iter().any(|s| token::string_like(s, sub)))
            .map(|r| r.name.as_str())
            .collect();
        if accepting.is_empty() {
            checks.push(Check::fail(
                "roles accepting the token",
                format!("no configured role trusts {sub} with audience [{}]", auds.join(", ")),
                "add the service account to a role's service_accounts, then `irsa-issuer apply -f FILE`",
            ));
        } else {
            checks.push(Check::ok("roles accepting the token", accepting.join(", ")));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> IssuerUrl {
        IssuerUrl::parse("https://oidc.example.com/c1", false).unwrap()
    }

    fn failed<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks
            .iter()
            .find(|c| c.name == name && c.status == Status::Fail)
            .unwrap_or_else(|| panic!("no failed {name} in {checks:#?}"))
    }

    #[test]
    fn a_served_kid_signed_by_another_key_fails_the_signature() {
        use rand_chacha::rand_core::SeedableRng as _;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let spec = crate::oidc::keys::KeySpec {
            alg: crate::oidc::keys::Algorithm::ES256,
            rsa_bits: 2048,
        };
        let served = crate::oidc::keys::generate(spec, &mut rng).unwrap();
        let thief = crate::oidc::keys::generate(spec, &mut rng).unwrap();
        let jwk =
            serde_json::to_value(crate::oidc::documents::Jwk::from_key(&served.public)).unwrap();
        let sign = |with: &crate::oidc::keys::GeneratedKey| {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            h.kid = Some(served.public.kid().to_string());
            let claims = serde_json::json!({"iss": issuer().as_str(), "aud": "sts.amazonaws.com",
                "sub": "system:serviceaccount:a:b", "exp": 2_000_000_000i64, "iat": 1_000_000_000i64});
            let key = jsonwebtoken::EncodingKey::from_ec_pem(with.private_pem.as_bytes()).unwrap();
            jsonwebtoken::encode(&h, &claims, &key).unwrap()
        };
        let now = 1_500_000_000;
        let good = check_token(
            &sign(&served),
            &issuer(),
            "sts.amazonaws.com",
            std::slice::from_ref(&jwk),
            &[],
            now,
        );
        assert!(good.iter().all(|c| c.status == Status::Ok), "{good:#?}");
        let forged = check_token(
            &sign(&thief),
            &issuer(),
            "sts.amazonaws.com",
            &[jwk],
            &[],
            now,
        );
        let f = failed(&forged, "token signature");
        assert!(f.detail.contains("does not verify"), "{f:?}");
    }

    #[test]
    fn discovery_issuer_is_compared_byte_for_byte() {
        let body = |iss: &str, jwks: &str| {
            serde_json::json!({"issuer": iss, "jwks_uri": jwks}).to_string()
        };
        let (c, uri) = check_discovery(
            &issuer(),
            body(
                "https://oidc.example.com/c1",
                "https://oidc.example.com/c1/keys.json",
            )
            .as_bytes(),
            Some("application/json"),
            "fix",
        );
        assert!(c.iter().all(|c| c.status == Status::Ok), "{c:#?}");
        assert_eq!(
            uri.as_deref(),
            Some("https://oidc.example.com/c1/keys.json")
        );
        let (c, _) = check_discovery(
            &issuer(),
            body("https://oidc.example.com/c1/", "https://x/k").as_bytes(),
            None,
            "fix",
        );
        assert!(failed(&c, "discovery issuer")
            .detail
            .contains("trailing slash"));
        assert!(c
            .iter()
            .any(|c| c.name == "discovery content type" && c.status == Status::Warn));
        let (c, _) = check_discovery(
            &issuer(),
            body("https://OIDC.example.com/c1", "https://x/k").as_bytes(),
            None,
            "fix",
        );
        assert!(failed(&c, "discovery issuer")
            .detail
            .contains("not https://oidc.example.com/c1"));
        let (c, uri) = check_discovery(
            &issuer(),
            body("https://oidc.example.com/c1", "http://x/k").as_bytes(),
            None,
            "fix",
        );
        assert!(failed(&c, "jwks_uri scheme").detail.contains("https"));
        assert_eq!(uri, None);
    }

    #[test]
    fn jwks_keys_need_kid_alg_use_and_no_private_parts() {
        let set = |k: Value| serde_json::json!({"keys": [k]}).to_string();
        let (c, _) = check_jwks(
            "u",
            set(serde_json::json!({"kty":"RSA","n":"AQAB","e":"AQAB"})).as_bytes(),
            Some("application/json"),
            "fix",
        );
        let d = &failed(&c, "JWKS key #0").detail;
        assert!(
            d.contains("no kid") && d.contains("no alg") && d.contains("use"),
            "{d}"
        );
        let (c, _) = check_jwks("u", set(serde_json::json!({"kty":"RSA","kid":"a","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB","d":"AQAB"})).as_bytes(), None, "fix");
        assert!(failed(&c, "JWKS key a").detail.contains("PRIVATE"));
        let many: Vec<Value> = (0..101)
            .map(|i| serde_json::json!({"kid": i.to_string()}))
            .collect();
        let (c, _) = check_jwks(
            "u",
            serde_json::json!({"keys": many}).to_string().as_bytes(),
            None,
            "fix",
        );
        assert!(failed(&c, "JWKS").detail.contains("at most 100"));
    }

    #[test]
    fn provider_checks_name_the_problem() {
        let p = ProviderState {
            arn: "arn".into(),
            url: "oidc.example.com/c1".into(),
            client_ids: ["other".to_string()].into(),
            thumbprints: ["a".repeat(40)].into(),
            tags: Default::default(),
        };
        let private = Presented {
            thumbprint: "b".repeat(40),
            trusted_by_aws: None,
            fix: "pin it".into(),
        };
        let c = check_provider(
            "111122223333",
            "arn",
            Some(&p),
            "sts.amazonaws.com",
            Some(&private),
            "fix it",
        );
        assert!(failed(&c, "provider client IDs (111122223333)")
            .detail
            .contains("sts.amazonaws.com"));
        assert_eq!(
            failed(&c, "provider thumbprint (111122223333)")
                .fix
                .as_deref(),
            Some("pin it")
        );
        // A public CA or S3: a changed thumbprint is harmless, a warning.
        let public = Presented {
            trusted_by_aws: Some("a public CA".into()),
            ..private
        };
        let c = check_provider(
            "111122223333",
            "arn",
            Some(&p),
            "other",
            Some(&public),
            "fix it",
        );
        let t = c
            .iter()
            .find(|c| c.name == "provider thumbprint (111122223333)")
            .unwrap();
        assert_eq!(t.status, Status::Warn);
        assert!(t.detail.contains("harmless"), "{}", t.detail);
        let c = check_provider(
            "111122223333",
            "arn",
            None,
            "sts.amazonaws.com",
            None,
            "fix",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, Status::Fail);
    }

    #[test]
    fn local_keys_must_equal_served() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            check_local_keys(&s(&["a", "b"]), &s(&["b", "a"]), "f").status,
            Status::Ok
        );
        let c = check_local_keys(&s(&["a"]), &s(&["a", "b"]), "f");
        assert!(
            c.status == Status::Fail && c.detail.contains("not served: b"),
            "{c:?}"
        );
    }

    #[test]
    fn trailing_slash_in_the_given_url_fails_and_is_trimmed() {
        let (c, u) = check_issuer_url("https://oidc.example.com/c1/");
        assert_eq!(u, "https://oidc.example.com/c1");
        assert_eq!(c.unwrap().status, Status::Fail);
        assert!(check_issuer_url("https://oidc.example.com/c1").0.is_none());
    }
}
