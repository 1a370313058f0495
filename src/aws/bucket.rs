//! The S3 bucket behind an issuer, pure: what it must look like for exactly the two documents
//! to be public, and the plan from what exists to that. No ACLs by default: modern buckets
//! refuse them (Object Ownership "bucket owner enforced"), so public read is a bucket-policy
//! statement scoped to the two object keys, merged into any existing policy.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aws::names::{Partition, S3Location};
use crate::aws::provider::MANAGED_TAG;

/// How the documents are made public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PublicAccess {
    /// A bucket-policy statement allowing s3:GetObject on the two documents (default).
    Policy,
    /// `public-read` object ACLs, for legacy buckets that still use ACLs.
    Acl,
    /// Nothing: something else (a CDN with origin access) serves the bucket.
    None,
}

/// Why a bucket change could not be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BucketError {
    /// The existing policy is not JSON we can merge into.
    #[error("the bucket policy of {bucket} is not a JSON policy document ({reason}); fix it by hand, or publish with --public-access none")]
    BadPolicy {
        /// The bucket.
        bucket: String,
        /// Why.
        reason: String,
    },
}

/// The four Block Public Access switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct PublicAccessBlock {
    /// BlockPublicAcls.
    pub block_public_acls: bool,
    /// IgnorePublicAcls.
    pub ignore_public_acls: bool,
    /// BlockPublicPolicy.
    pub block_public_policy: bool,
    /// RestrictPublicBuckets.
    pub restrict_public_buckets: bool,
}

/// A bucket as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketState {
    /// Whether it exists.
    pub exists: bool,
    /// Its Block Public Access configuration (`None`: none set on the bucket).
    pub public_access_block: Option<PublicAccessBlock>,
    /// Its policy document.
    pub policy: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its Object Ownership setting (`BucketOwnerEnforced` disables ACLs).
    pub object_ownership: Option<String>,
}

/// One change to the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum BucketChange {
    /// Create it (with a location constraint outside us-east-1).
    Create {
        /// The region.
        region: String,
    },
    /// Replace the tag set with this merged one.
    Tags {
        /// All tags.
        tags: BTreeMap<String, String>,
    },
    /// Relax Block Public Access to this.
    PublicAccessBlock {
        /// The new switches.
        config: PublicAccessBlock,
    },
    /// Let object ACLs apply (Object Ownership `ObjectWriter`).
    AllowAcls,
    /// Put this merged policy.
    Policy {
        /// The whole document.
        document: String,
    },
}

impl BucketChange {
    /// One plan line.
    pub fn describe(&self, bucket: &str) -> String {
        match self {
            Self::Create { region } => format!("+ create bucket {bucket} in {region}"),
            Self::Tags { tags } => format!("~ bucket tags {}", tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")),
            Self::PublicAccessBlock { config } => format!(
                "~ Block Public Access: BlockPublicAcls={} IgnorePublicAcls={} BlockPublicPolicy={} RestrictPublicBuckets={}",
                config.block_public_acls, config.ignore_public_acls, config.block_public_policy, config.restrict_public_buckets
            ),
            Self::AllowAcls => "~ Object Ownership: ObjectWriter (ACLs apply)".to_string(),
            Self::Policy { .. } => "~ bucket policy: public read of the two documents".to_string(),
        }
    }
}

/// The statement id for a location: one per prefix, so several clusters can share a bucket.
pub fn statement_id(loc: &S3Location) -> String {
    if loc.prefix.is_empty() {
        "IrsaIssuerPublicRead".into()
    } else {
        let h: String = Sha256::digest(loc.prefix.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("IrsaIssuerPublicRead{h}")
    }
}

/// The policy statement that makes exactly `keys` readable by everyone.
pub fn public_read_statement(partition: Partition, loc: &S3Location, keys: &[String]) -> Value {
    let resources: Vec<String> = keys
        .iter()
        .map(|k| format!("arn:{}:s3:::{}/{k}", partition.as_str(), loc.bucket))
        .collect();
    json!({
        "Sid": statement_id(loc),
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": resources,
    })
}

/// `existing` with `statement` added or replaced (by Sid), or `None` when it is already there.
pub fn merge_policy(
    bucket: &str,
    existing: Option<&str>,
    statement: Value,
) -> Result<Option<String>, BucketError> {
    let bad = |reason: String| BucketError::BadPolicy {
        bucket: bucket.into(),
        reason,
    };
    let mut doc: Value = match existing {
        Some(text) if !text.trim().is_empty() => {
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?
        }
        _ => json!({"Version": "2012-10-17", "Statement": []}),
    };
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(a)) => a,
        Some(single @ Value::Object(_)) => {
            *single = Value::Array(vec![single.clone()]);
            match single {
                Value::Array(a) => a,
                _ => return Err(bad("unreachable".into())),
            }
        }
        _ => return Err(bad("it has no Statement list".into())),
    };
    let sid = statement.get("Sid").cloned();
    match statements.iter_mut().find(|s| s.get("Sid") == sid.as_ref()) {
        Some(s) if *s == statement => return Ok(None),
        Some(s) => *s = statement,
        None => statements.push(statement),
    }
    Ok(Some(doc.to_string()))
}

/// `existing` without the statement `sid`: `None` when it has no such statement, `Some(None)`
/// when nothing else is left (delete the policy), `Some(Some(doc))` otherwise.
pub fn remove_statement(
    bucket: &str,
    existing: Option<&str>,
    sid: &str,
) -> Result<Option<Option<String>>, BucketError> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let bad = |reason: String| BucketError::BadPolicy {
        bucket: bucket.into(),
        reason,
    };
    let mut doc: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Ok(None),
    };
    let before = statements.len();
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
    if statements.len() == before {
        return Ok(None);
    }
    if statements.is_empty() {
        return Ok(Some(None));
    }
    doc["Statement"] = Value::Array(statements);
    Ok(Some(Some(doc.to_string())))
}

/// What the bucket must look like.
#[derive(Debug, Clone)]
pub struct BucketWanted {
    /// The region to create it in.
    pub region: String,
    /// How the documents are made public.
    pub public_access: PublicAccess,
    /// Tags wanted (irsa-issuer's own is added).
    pub tags: BTreeMap<String, String>,
    /// The statement that makes the documents public (for [`PublicAccess::Policy`]).
    pub statement: Value,
}

/// The changes that turn `actual` into what `wanted` needs, in the order they must be made.
pub fn plan(
    bucket: &str,
    actual: &BucketState,
    wanted: &BucketWanted,
) -> Result<Vec<BucketChange>, BucketError> {
    let mut changes = Vec::new();
    if !actual.exists {
        changes.push(BucketChange::Create {
            region: wanted.region.clone(),
        });
    }
    let mut tags = actual.tags.clone();
    tags.extend(wanted.tags.clone());
    tags.insert(MANAGED_TAG.0.into(), MANAGED_TAG.1.into());
    if tags != actual.tags {
        changes.push(BucketChange::Tags { tags });
    }
    // A new bucket gets AWS's default: all four switches on.
    let current = actual.public_access_block.unwrap_or(if actual.exists {
        PublicAccessBlock::default()
    } else {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    });
    let mut relaxed = current;
    match wanted.public_access {
        PublicAccess::Policy => {
            relaxed.block_public_policy = false;
            relaxed.restrict_public_buckets = false;
        }
        PublicAccess::Acl => {
            relaxed.block_public_acls = false;
            relaxed.ignore_public_acls = false;
        }
        PublicAccess::None => {}
    }
    if relaxed != current {
        changes.push(BucketChange::PublicAccessBlock { config: relaxed });
    }
    match wanted.public_access {
        PublicAccess::Policy => {
            if let Some(document) =
                merge_policy(bucket, actual.policy.as_deref(), wanted.statement.clone())?
            {
                changes.push(BucketChange::Policy { document });
            }
        }
        PublicAccess::Acl => {
            let enforced = actual
                .object_ownership
                .as_deref()
                .is_none_or(|o| o == "BucketOwnerEnforced");
            if enforced {
                changes.push(BucketChange::AllowAcls);
            }
        }
        PublicAccess::None => {}
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_statement_keeps_other_statements() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow"},{"Sid":"B","Effect":"Deny"}]}"#;
        let left = remove_statement("b", Some(doc), "A")
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&left).unwrap();
        assert_eq!(v["Statement"], json!([{"Sid":"B","Effect":"Deny"}]));
        assert_eq!(remove_statement("b", Some(doc), "C").unwrap(), None);
        let only = r#"{"Statement":{"Sid":"A"}}"#;
        assert_eq!(remove_statement("b", Some(only), "A").unwrap(), Some(None));
        assert_eq!(remove_statement("b", None, "A").unwrap(), None);
    }

    fn loc() -> S3Location {
        S3Location::parse("s3://bkt/c1").unwrap()
    }
    fn wanted(mode: PublicAccess) -> BucketWanted {
        BucketWanted {
            region: "eu-west-1".into(),
            public_access: mode,
            tags: BTreeMap::new(),
            statement: public_read_statement(
                Partition::Aws,
                &loc(),
                &[
                    "c1/keys.json".into(),
                    "c1/.well-known/openid-configuration".into(),
                ],
            ),
        }
    }

    #[test]
    fn statement_is_scoped_to_the_two_documents() {
        let s = &wanted(PublicAccess::Policy).statement;
        assert_eq!(s["Action"], "s3:GetObject");
        assert_eq!(s["Principal"], "*");
        assert_eq!(
            s["Resource"],
            json!([
                "arn:aws:s3:::bkt/c1/keys.json",
                "arn:aws:s3:::bkt/c1/.well-known/openid-configuration"
            ])
        );
        assert_ne!(
            statement_id(&loc()),
            statement_id(&S3Location::parse("s3://bkt/c2").unwrap())
        );
    }

    #[test]
    fn merge_keeps_foreign_statements_and_is_idempotent() {
        let foreign = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
        let st = wanted(PublicAccess::Policy).statement;
        let merged = merge_policy("bkt", Some(foreign), st.clone())
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(v["Statement"][0]["Sid"], "Theirs");
        assert_eq!(
            merge_policy("bkt", Some(&merged), st.clone()).unwrap(),
            None
        );
        // A single-object Statement is accepted too.
        let single = r#"{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/x"}}"#;
        let v: Value = serde_json::from_str(
            &merge_policy("bkt", Some(single), st.clone())
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["Statement"].as_array().unwrap().len(), 2);
        assert!(matches!(
            merge_policy("bkt", Some("not json"), st),
            Err(BucketError::BadPolicy { .. })
        ));
    }

    #[test]
    fn new_bucket_plan_relaxes_only_the_policy_switches() {
        let p = plan(
            "bkt",
            &BucketState::default(),
            &wanted(PublicAccess::Policy),
        )
        .unwrap();
        assert_eq!(
            p[0],
            BucketChange::Create {
                region: "eu-west-1".into()
            }
        );
        assert!(
            matches!(&p[1], BucketChange::Tags { tags } if tags.get("managed-by").map(String::as_str) == Some("irsa-issuer"))
        );
        assert_eq!(
            p[2],
            BucketChange::PublicAccessBlock {
                config: PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: false,
                    restrict_public_buckets: false
                }
            }
        );
        assert!(matches!(p[3], BucketChange::Policy { .. }));
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn acl_mode_relaxes_acl_switches_and_enables_acls() {
        let p = plan("bkt", &BucketState::default(), &wanted(PublicAccess::Acl)).unwrap();
        assert!(p.contains(&BucketChange::AllowAcls));
        assert!(p.iter().any(|c| matches!(c, BucketChange::PublicAccessBlock { config } if !config.block_public_acls && config.block_public_policy)));
        assert!(!p.iter().any(|c| matches!(c, BucketChange::Policy { .. })));
    }

    #[test]
    fn converged_bucket_has_an_empty_plan() {
        let w = wanted(PublicAccess::Policy);
        let mut st = BucketState {
            exists: true,
            ..Default::default()
        };
        for c in plan("bkt", &st, &w).unwrap() {
            match c {
                BucketChange::Tags { tags } => st.tags = tags,
                BucketChange::PublicAccessBlock { config } => st.public_access_block = Some(config),
                BucketChange::Policy { document } => st.policy = Some(document),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(plan("bkt", &st, &w).unwrap(), vec![]);
        let none = wanted(PublicAccess::None);
        assert_eq!(plan("bkt", &st, &none).unwrap(), vec![]);
    }
}
