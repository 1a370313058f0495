//! The S3 bucket behind an issuer, pure: what it must look like for exactly the two documents
//! to be public, and the plan from what exists to that. No ACLs by default: modern buckets
//! refuse them (Object Ownership "bucket owner enforced"), so public read is a bucket-policy
//! statement scoped to the two object keys, merged into any existing policy.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aws::names::{Partition, S3Location};
use crate::aws::owner::{with_owner_tags, Owner};

/// The tag recording the Block Public Access switches irsa-issuer turned off (names separated
/// by spaces), so that `destroy` turns exactly those back on.
pub const RELAXED_TAG: &str = "irsa-issuer/relaxed-block-public-access";
/// The tag recording the Object Ownership irsa-issuer replaced to let ACLs apply.
pub const OWNERSHIP_TAG: &str = "irsa-issuer/object-ownership-was";

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
    /// Relaxing Block Public Access would make other public grants live.
    #[error("turning off BlockPublicPolicy and RestrictPublicBuckets on {bucket} would make its other public statements live too ({grants}); remove them, or allow it with --allow-public-grants (s3.allow_public_grants = true in the file) if they are meant to be public")]
    WouldExposePolicy {
        /// The bucket.
        bucket: String,
        /// The other public statements (Sids, or their resources).
        grants: String,
    },
    /// Letting ACLs apply on a bucket irsa-issuer did not create would revive old ACLs.
    #[error("letting ACLs apply on {bucket} (Object Ownership ObjectWriter, BlockPublicAcls and IgnorePublicAcls off) would make the ACLs of every object already in it apply again, public ones included; irsa-issuer did not create this bucket. Use --public-access policy, or allow it with --allow-public-grants (s3.allow_public_grants = true in the file)")]
    WouldExposeAcls {
        /// The bucket.
        bucket: String,
    },
    /// The existing policy is not JSON we can merge into.
    #[error("the bucket policy of {bucket} is not a JSON policy document ({reason}); fix it by hand, or publish with --public-access none (s3.public_access = \"none\" in the file)")]
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
        /// The document it replaces, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        was: Option<String>,
    },
    /// Disable ACLs again (Object Ownership `BucketOwnerEnforced`).
    EnforceOwner,
    /// Remove irsa-issuer's record tags, keeping the others.
    RemoveTags {
        /// The keys removed.
        keys: Vec<String>,
        /// The tags left (none: the tag set is deleted).
        remaining: BTreeMap<String, String>,
    },
}

impl BucketChange {
    /// The plan lines: the change, then what changes in the policy (before → after).
    pub fn details(&self, bucket: &str) -> Vec<String> {
        let mut lines = vec![self.describe(bucket)];
        if let Self::Policy { document, was } = self {
            let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
            let before = was.as_deref().map_or(Value::Null, parse);
            lines.extend(
                crate::aws::diff::diff(&before, &parse(document))
                    .into_iter()
                    .map(|l| format!("    {l}")),
            );
        }
        lines
    }

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
            Self::EnforceOwner => "~ Object Ownership: BucketOwnerEnforced (ACLs no longer apply)".to_string(),
            Self::RemoveTags { keys, .. } => format!("- bucket tags {}", keys.join(", ")),
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

/// The statements of `written` (by `Sid`) that `read_back` lacks or holds otherwise: after a
/// PutBucketPolicy, a writer that replaced the policy in between shows here.
pub fn missing_statements(written: &str, read_back: Option<&str>) -> Vec<String> {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
    let statements = |v: &Value| -> Vec<Value> {
        match &v["Statement"] {
            Value::Array(a) => a.clone(),
            one @ Value::Object(_) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let read = read_back.map(parse).unwrap_or(Value::Null);
    let there = statements(&read);
    statements(&parse(written))
        .iter()
        .filter(|s| !there.contains(s))
        .map(|s| s["Sid"].as_str().unwrap_or("(no Sid)").to_string())
        .collect()
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
    /// The issuer publishing there: a bucket irsa-issuer creates is tagged as this issuer's.
    pub issuer: String,
    /// Relax Block Public Access even when other public grants would become live.
    pub allow_public_grants: bool,
}

/// The public statements of `policy` other than `sid`: `Allow` to everyone (`"*"`,
/// `{"AWS": "*"}`), which Block Public Access stops from applying.
pub fn other_public_statements(policy: Option<&str>, sid: &str) -> Vec<String> {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let everyone = |p: &Value| match p {
        Value::String(s) => s == "*",
        Value::Object(o) => o.get("AWS").is_some_and(|a| match a {
            Value::String(s) => s == "*",
            Value::Array(v) => v.iter().any(|x| x == "*"),
            _ => false,
        }),
        _ => false,
    };
    statements
        .iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .filter(|s| s.get("Principal").is_some_and(everyone))
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(sid))
        .map(|s| match s.get("Sid").and_then(Value::as_str) {
            Some(sid) => format!("statement {sid}"),
            None => format!(
                "a statement on {}",
                s.get("Resource").unwrap_or(&Value::Null)
            ),
        })
        .collect()
}

fn switch_names(before: &PublicAccessBlock, after: &PublicAccessBlock) -> Vec<&'static str> {
    [
        (
            "BlockPublicAcls",
            before.block_public_acls,
            after.block_public_acls,
        ),
        (
            "IgnorePublicAcls",
            before.ignore_public_acls,
            after.ignore_public_acls,
        ),
        (
            "BlockPublicPolicy",
            before.block_public_policy,
            after.block_public_policy,
        ),
        (
            "RestrictPublicBuckets",
            before.restrict_public_buckets,
            after.restrict_public_buckets,
        ),
    ]
    .into_iter()
    .filter(|(_, b, a)| *b && !*a)
    .map(|(n, _, _)| n)
    .collect()
}

/// The changes that turn `actual` into what `wanted` needs, in the order they must be made.
///
/// Only a bucket irsa-issuer creates gets its ownership tags; an existing one is never claimed.
/// Block Public Access is relaxed only in the switches the mode needs, and refused when that
/// would make other public grants live (unless allowed). The switches turned off, and an
/// Object Ownership replaced, are recorded in tags so that `destroy` restores exactly them.
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
    let owner = Owner::of(&actual.tags, &wanted.issuer);
    let mut tags = actual.tags.clone();
    if !actual.exists || owner == Owner::This {
        tags = with_owner_tags(tags, &wanted.issuer);
        tags.extend(wanted.tags.clone());
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
    let enforced = actual
        .object_ownership
        .as_deref()
        .is_none_or(|o| o == "BucketOwnerEnforced");
    let allow_acls = wanted.public_access == PublicAccess::Acl && enforced;
    check_exposure(
        bucket,
        actual,
        wanted,
        owner,
        relaxed != current || allow_acls,
    )?;
    let turned_off = switch_names(&current, &relaxed);
    if !turned_off.is_empty() {
        let mut all: Vec<&str> = tags
            .get(RELAXED_TAG)
            .map(|t| t.split(' ').collect())
            .unwrap_or_default();
        all.extend(turned_off);
        all.sort_unstable();
        all.dedup();
        tags.insert(RELAXED_TAG.into(), all.join(" "));
    }
    if allow_acls {
        tags.insert(
            OWNERSHIP_TAG.into(),
            actual
                .object_ownership
                .clone()
                .unwrap_or_else(|| "BucketOwnerEnforced".into()),
        );
    }
    if tags != actual.tags {
        changes.push(BucketChange::Tags { tags });
    }
    if relaxed != current {
        changes.push(BucketChange::PublicAccessBlock { config: relaxed });
    }
    match wanted.public_access {
        PublicAccess::Policy => {
            if let Some(document) =
                merge_policy(bucket, actual.policy.as_deref(), wanted.statement.clone())?
            {
                changes.push(BucketChange::Policy {
                    document,
                    was: actual.policy.clone(),
                });
            }
        }
        PublicAccess::Acl if allow_acls => changes.push(BucketChange::AllowAcls),
        PublicAccess::Acl | PublicAccess::None => {}
    }
    Ok(changes)
}

/// Refuses a change of Block Public Access or Object Ownership that would make other public
/// grants apply, unless allowed.
fn check_exposure(
    bucket: &str,
    actual: &BucketState,
    wanted: &BucketWanted,
    owner: Owner,
    relaxing: bool,
) -> Result<(), BucketError> {
    if !relaxing || wanted.allow_public_grants || !actual.exists {
        return Ok(());
    }
    match wanted.public_access {
        PublicAccess::Policy => {
            let sid = wanted
                .statement
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let others = other_public_statements(actual.policy.as_deref(), sid);
            if !others.is_empty() {
                return Err(BucketError::WouldExposePolicy {
                    bucket: bucket.into(),
                    grants: others.join(", "),
                });
            }
        }
        PublicAccess::Acl if owner != Owner::This => {
            return Err(BucketError::WouldExposeAcls {
                bucket: bucket.into(),
            })
        }
        PublicAccess::Acl | PublicAccess::None => {}
    }
    Ok(())
}

/// What `destroy` changes on a bucket it keeps, once this prefix's statement is gone: the
/// Block Public Access switches irsa-issuer turned off go back on when no other public
/// statement needs them (policy switches) and no other object could carry a public ACL (ACL
/// switches, Object Ownership); the record tags go when everything they record is restored.
pub fn restore(
    actual: &BucketState,
    policy_after: Option<&str>,
    other_objects: usize,
) -> Vec<BucketChange> {
    let mut changes = Vec::new();
    let mut tags = actual.tags.clone();
    let current = actual.public_access_block.unwrap_or_default();
    let mut restored = current;
    let mut still_off = Vec::new();
    let policy_free = other_public_statements(policy_after, "").is_empty();
    if let Some(record) = actual.tags.get(RELAXED_TAG) {
        for name in record.split(' ') {
            let (slot, free) = match name {
                "BlockPublicPolicy" => (&mut restored.block_public_policy, policy_free),
                "RestrictPublicBuckets" => (&mut restored.restrict_public_buckets, policy_free),
                "BlockPublicAcls" => (&mut restored.block_public_acls, other_objects == 0),
                "IgnorePublicAcls" => (&mut restored.ignore_public_acls, other_objects == 0),
                _ => continue,
            };
            if free {
                *slot = true;
            } else {
                still_off.push(name);
            }
        }
        if still_off.is_empty() {
            tags.remove(RELAXED_TAG);
        } else {
            tags.insert(RELAXED_TAG.into(), still_off.join(" "));
        }
    }
    if actual.tags.get(OWNERSHIP_TAG).map(String::as_str) == Some("BucketOwnerEnforced")
        && other_objects == 0
    {
        changes.push(BucketChange::EnforceOwner);
        tags.remove(OWNERSHIP_TAG);
    }
    if restored != current {
        changes.insert(0, BucketChange::PublicAccessBlock { config: restored });
    }
    if tags != actual.tags {
        changes.push(BucketChange::RemoveTags {
            keys: actual
                .tags
                .keys()
                .filter(|k| !tags.contains_key(*k))
                .cloned()
                .collect(),
            remaining: tags,
        });
    }
    changes
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
            issuer: "https://s3.eu-west-1.amazonaws.com/bkt/c1".into(),
            allow_public_grants: false,
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
    fn a_statement_lost_to_another_writer_is_found() {
        let a = r#"{"Sid":"A","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a/x"}"#;
        let b = r#"{"Sid":"B","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/b/x"}"#;
        let written = format!(r#"{{"Version":"2012-10-17","Statement":[{a},{b}]}}"#);
        assert!(missing_statements(&written, Some(&written)).is_empty());
        let other = format!(r#"{{"Version":"2012-10-17","Statement":[{b}]}}"#);
        assert_eq!(missing_statements(&written, Some(&other)), ["A"]);
        assert_eq!(missing_statements(&written, None), ["A", "B"]);
    }

    #[test]
    fn merge_replaces_our_changed_statement_in_place() {
        // Ours for c1 with the old JWKS path, beside someone else's statement.
        let loc = S3Location::parse("s3://bkt/c1").unwrap();
        let old = public_read_statement(
            Partition::Aws,
            &loc,
            &[
                "c1/openid/v1/jwks".into(),
                "c1/.well-known/openid-configuration".into(),
            ],
        );
        let theirs = json!({"Sid": "Theirs", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bkt/*"});
        let existing =
            json!({"Version": "2012-10-17", "Statement": [theirs.clone(), old]}).to_string();
        // The JWKS path changes to keys.json: the same Sid, other resources.
        let new = public_read_statement(
            Partition::Aws,
            &loc,
            &[
                "c1/keys.json".into(),
                "c1/.well-known/openid-configuration".into(),
            ],
        );
        let merged: Value = serde_json::from_str(
            &merge_policy("bkt", Some(&existing), new.clone())
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        let statements = merged["Statement"].as_array().unwrap();
        assert_eq!(
            statements.len(),
            2,
            "appended instead of replaced: {merged}"
        );
        assert_eq!(statements[0], theirs);
        assert_eq!(statements[1], new);
        assert!(!merged.to_string().contains("openid/v1/jwks"), "{merged}");
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
            merge_policy("bkt", Some("not json"), st.clone()),
            Err(BucketError::BadPolicy { .. })
        ));
        // No policy, or an empty one (some S3-compatible stores answer an empty body): a new
        // document with just our statement.
        for none in [None, Some(""), Some("  \n")] {
            let v: Value =
                serde_json::from_str(&merge_policy("bkt", none, st.clone()).unwrap().unwrap())
                    .unwrap();
            assert_eq!(v["Version"], "2012-10-17", "{none:?}");
            assert_eq!(v["Statement"], json!([st.clone()]), "{none:?}");
        }
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
                BucketChange::Policy { document, .. } => st.policy = Some(document),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(plan("bkt", &st, &w).unwrap(), vec![]);
        let none = wanted(PublicAccess::None);
        assert_eq!(plan("bkt", &st, &none).unwrap(), vec![]);
    }

    fn bpa_all_on() -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }

    /// An existing bucket, all switches on, with an old `Principal: *` statement on bucket/*:
    /// `--create-bucket` switched BlockPublicPolicy and RestrictPublicBuckets off (making that
    /// old statement live), kept it, and tagged the bucket as irsa-issuer's.
    #[test]
    fn an_existing_bucket_with_other_public_grants_is_not_exposed_or_claimed() {
        let old = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OldWebsite","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
        let actual = BucketState {
            exists: true,
            public_access_block: Some(bpa_all_on()),
            policy: Some(old.into()),
            tags: [("team".to_string(), "web".to_string())].into(),
            object_ownership: Some("BucketOwnerEnforced".into()),
        };
        let w = wanted(PublicAccess::Policy);
        let e = plan("bkt", &actual, &w).unwrap_err();
        assert!(e.to_string().contains("OldWebsite"), "{e}");
        // Allowed explicitly: relaxed, recorded, but never claimed as irsa-issuer's.
        let allowed = BucketWanted {
            allow_public_grants: true,
            ..w
        };
        let p = plan("bkt", &actual, &allowed).unwrap();
        let tags = p
            .iter()
            .find_map(|c| match c {
                BucketChange::Tags { tags } => Some(tags.clone()),
                _ => None,
            })
            .unwrap();
        assert!(!tags.contains_key("managed-by"), "{tags:?}");
        assert_eq!(tags[RELAXED_TAG], "BlockPublicPolicy RestrictPublicBuckets");
        assert_eq!(tags["team"], "web");
        // Without other grants, relaxing is fine, and still no ownership tag.
        let clean = BucketState {
            policy: None,
            ..actual.clone()
        };
        let p = plan("bkt", &clean, &wanted(PublicAccess::Policy)).unwrap();
        assert!(!p
            .iter()
            .any(|c| matches!(c, BucketChange::Tags { tags } if tags.contains_key("managed-by"))));
    }

    /// In acl mode it switched Object Ownership from BucketOwnerEnforced to ObjectWriter,
    /// reviving old ACLs.
    #[test]
    fn acls_are_not_revived_on_a_bucket_irsa_issuer_did_not_create() {
        let actual = BucketState {
            exists: true,
            public_access_block: Some(bpa_all_on()),
            object_ownership: Some("BucketOwnerEnforced".into()),
            ..Default::default()
        };
        assert!(matches!(
            plan("bkt", &actual, &wanted(PublicAccess::Acl)),
            Err(BucketError::WouldExposeAcls { .. })
        ));
        // One this issuer created may.
        let ours = BucketState {
            tags: with_owner_tags(BTreeMap::new(), &wanted(PublicAccess::Acl).issuer),
            ..actual
        };
        let p = plan("bkt", &ours, &wanted(PublicAccess::Acl)).unwrap();
        assert!(p.contains(&BucketChange::AllowAcls));
    }

    #[test]
    fn restore_turns_back_on_only_what_was_turned_off_and_nothing_else_needs() {
        let relaxed = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: false,
            restrict_public_buckets: false,
        };
        let state = BucketState {
            exists: true,
            public_access_block: Some(relaxed),
            policy: None,
            tags: [
                (
                    RELAXED_TAG.to_string(),
                    "BlockPublicPolicy RestrictPublicBuckets".to_string(),
                ),
                ("team".to_string(), "x".to_string()),
            ]
            .into(),
            object_ownership: None,
        };
        let changes = restore(&state, None, 0);
        assert_eq!(
            changes[0],
            BucketChange::PublicAccessBlock {
                config: PublicAccessBlock {
                    ignore_public_acls: false,
                    ..bpa_all_on()
                }
            }
        );
        assert!(
            matches!(&changes[1], BucketChange::RemoveTags { keys, remaining } if keys == &[RELAXED_TAG.to_string()] && remaining["team"] == "x")
        );
        // Another cluster's public statement still needs the policy switches off.
        let other = r#"{"Statement":[{"Sid":"IrsaIssuerPublicReadabc","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/c2/keys.json"}]}"#;
        assert!(restore(&state, Some(other), 0).is_empty());
        // Nothing recorded: nothing restored.
        let untouched = BucketState {
            tags: BTreeMap::new(),
            ..state
        };
        assert!(restore(&untouched, None, 0).is_empty());
    }
}
