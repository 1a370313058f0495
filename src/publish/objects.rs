//! Plans: what must change, computed as a value from what is wanted and what exists.
//!
//! A plan is printed (for `--plan`) or handed to an adapter to apply; nothing here performs I/O,
//! and no `dry_run` flag is threaded through the adapters.

use serde::Serialize;

use crate::oidc::documents::Documents;
use crate::oidc::issuer::DISCOVERY_PATH;

/// `Content-Type` of the discovery document everywhere, and of the JWKS in object stores.
pub const JSON: &str = "application/json";
/// `Content-Type` kube-apiserver serves the JWKS with.
pub const JWK_SET_JSON: &str = "application/jwk-set+json";

/// An object (a file, an S3 object) as it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredObject {
    /// The key (path below the store's root or prefix).
    pub key: String,
    /// The bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The `Content-Type` (where the store keeps one).
    pub content_type: &'static str,
    /// The `Cache-Control` (where the store keeps one).
    pub cache_control: Option<String>,
}

/// Metadata an object store keeps beside the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMetadata {
    /// The stored `Content-Type`.
    pub content_type: Option<String>,
    /// The stored `Cache-Control`.
    pub cache_control: Option<String>,
}

/// An object as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingObject {
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its metadata, or `None` for a store that keeps none (a directory).
    pub metadata: Option<ObjectMetadata>,
}

/// What a publish does to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ObjectAction {
    /// It does not exist yet.
    Create,
    /// It exists and differs.
    Update {
        /// What differs.
        reasons: Vec<&'static str>,
    },
    /// It is already as wanted: nothing is written.
    Unchanged,
}

/// One object and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishStep {
    /// The object as it should be.
    #[serde(flatten)]
    pub object: DesiredObject,
    /// What happens.
    #[serde(flatten)]
    pub action: ObjectAction,
}

/// The objects to write, in the order they must be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishPlan {
    /// The steps, JWKS first.
    pub steps: Vec<PublishStep>,
}

impl PublishPlan {
    /// Whether anything would be written.
    pub fn has_changes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.action != ObjectAction::Unchanged)
    }
}

/// The objects that publish `docs` below `prefix` (empty, or a path without slashes at either
/// end). The JWKS comes first: a reader that follows a new discovery document must find the
/// keys it names already in place.
pub fn publish_objects(
    docs: &Documents,
    prefix: &str,
    cache_control: Option<&str>,
) -> Vec<DesiredObject> {
    let key = |rel: &str| {
        if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        }
    };
    vec![
        DesiredObject {
            key: key(docs.jwks_path.as_str()),
            body: docs.jwks.clone(),
            content_type: JSON,
            cache_control: cache_control.map(str::to_string),
        },
        DesiredObject {
            key: key(DISCOVERY_PATH),
            body: docs.discovery.clone(),
            content_type: JSON,
            cache_control: cache_control.map(str::to_string),
        },
    ]
}

/// The kids of a published JWKS (`None` when the bytes are not a JWKS).
pub fn jwks_kids(body: &[u8]) -> Option<std::collections::BTreeSet<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(
        v.get("keys")?
            .as_array()?
            .iter()
            .filter_map(|k| k.get("kid")?.as_str().map(str::to_string))
            .collect(),
    )
}

/// Compares each wanted object with what exists (`existing[i]` for `desired[i]`).
pub fn plan_publish(
    desired: Vec<DesiredObject>,
    existing: Vec<Option<ExistingObject>>,
) -> PublishPlan {
    let steps = desired
        .into_iter()
        .zip(existing.into_iter().chain(std::iter::repeat(None)))
        .map(|(object, existing)| {
            let action = match existing {
                None => ObjectAction::Create,
                Some(e) => {
                    let mut reasons = Vec::new();
                    if e.body != object.body {
                        reasons.push("content");
                    }
                    if let Some(m) = e.metadata {
                        if m.content_type.as_deref() != Some(object.content_type) {
                            reasons.push("content-type");
                        }
                        if object.cache_control.is_some() && m.cache_control != object.cache_control
                        {
                            reasons.push("cache-control");
                        }
                    }
                    if reasons.is_empty() {
                        ObjectAction::Unchanged
                    } else {
                        ObjectAction::Update { reasons }
                    }
                }
            };
            PublishStep { object, action }
        })
        .collect();
    PublishPlan { steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kids_of_a_published_jwks_are_read_back() {
        // What keeps `apply` from dropping a key a live token may name: read wrong, a key would
        // look unpublished and could be dropped.
        let jwks = br#"{"keys":[{"kty":"RSA","kid":"k1","n":"x","e":"AQAB"},{"kty":"EC","kid":"k2"},{"kty":"EC"}]}"#;
        let kids = jwks_kids(jwks).unwrap();
        assert_eq!(
            kids.into_iter().collect::<Vec<_>>(),
            ["k1".to_string(), "k2".to_string()]
        );
        assert_eq!(jwks_kids(br#"{"keys":[]}"#), Some(Default::default()));
        assert_eq!(jwks_kids(b"not json"), None);
        assert_eq!(jwks_kids(br#"{"issuer":"https://x"}"#), None);
    }

    fn obj(key: &str, body: &str) -> DesiredObject {
        DesiredObject {
            key: key.into(),
            body: body.as_bytes().to_vec(),
            content_type: JSON,
            cache_control: Some("max-age=60".into()),
        }
    }

    #[test]
    fn create_update_unchanged() {
        let plan = plan_publish(
            vec![obj("a", "1"), obj("b", "2"), obj("c", "3")],
            vec![
                None,
                Some(ExistingObject {
                    body: b"old".to_vec(),
                    metadata: None,
                }),
                Some(ExistingObject {
                    body: b"3".to_vec(),
                    metadata: None,
                }),
            ],
        );
        let actions: Vec<_> = plan.steps.iter().map(|s| s.action.clone()).collect();
        assert_eq!(
            actions,
            vec![
                ObjectAction::Create,
                ObjectAction::Update {
                    reasons: vec!["content"]
                },
                ObjectAction::Unchanged
            ]
        );
        assert!(plan.has_changes());
    }

    #[test]
    fn metadata_is_compared_only_where_the_store_keeps_it() {
        let meta = |ct: &str, cc: Option<&str>| {
            Some(ExistingObject {
                body: b"1".to_vec(),
                metadata: Some(ObjectMetadata {
                    content_type: Some(ct.into()),
                    cache_control: cc.map(Into::into),
                }),
            })
        };
        let p = plan_publish(
            vec![obj("a", "1")],
            vec![meta("binary/octet-stream", Some("max-age=60"))],
        );
        assert_eq!(
            p.steps[0].action,
            ObjectAction::Update {
                reasons: vec!["content-type"]
            }
        );
        let p = plan_publish(vec![obj("a", "1")], vec![meta(JSON, None)]);
        assert_eq!(
            p.steps[0].action,
            ObjectAction::Update {
                reasons: vec!["cache-control"]
            }
        );
        let p = plan_publish(vec![obj("a", "1")], vec![meta(JSON, Some("max-age=60"))]);
        assert!(!p.has_changes());
    }

    #[test]
    fn jwks_is_written_before_discovery_and_prefix_is_kept() {
        use crate::oidc::documents::{render, KeySet};
        use crate::oidc::issuer::{IssuerUrl, JwksPath};
        use crate::oidc::keys::{generate, Algorithm, KeySpec};
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let k = generate(
            KeySpec {
                alg: Algorithm::ES256,
                rsa_bits: 0,
            },
            &mut rng,
        )
        .unwrap()
        .public;
        let docs = render(
            &KeySet::new([k]).unwrap(),
            &IssuerUrl::parse("https://h/p", false).unwrap(),
            &JwksPath::parse("keys.json").unwrap(),
        );
        let objs = publish_objects(&docs, "p", None);
        assert_eq!(objs[0].key, "p/keys.json");
        assert_eq!(objs[0].body, docs.jwks);
        assert_eq!(objs[1].key, "p/.well-known/openid-configuration");
        assert_eq!(objs[1].body, docs.discovery);
        assert_eq!(
            publish_objects(&docs, "", None)[1].key,
            ".well-known/openid-configuration"
        );
    }
}
