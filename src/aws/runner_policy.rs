//! The least-privilege IAM policy the principal running irsa-issuer needs, per command, pure.
//!
//! Scoped so that the principal can do what the file says and nothing more: S3 to the bucket and
//! prefix; providers to the issuer's provider and to providers tagged for this issuer; roles to
//! the role path irsa-issuer creates them under (`/irsa/`), to roles tagged for this issuer, to
//! the managed policies the file attaches (`iam:PolicyARN`), with inline policies only under a
//! required permissions boundary (`iam:PermissionsBoundary`), and `sts:AssumeRole` only on the
//! file's roles. Without those limits, `CreateRole` + `AttachRolePolicy` (or `PutRolePolicy`, or
//! `UpdateAssumeRolePolicy` on an existing role) and `sts:AssumeRole` are a path to
//! administrator.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::aws::names::{Partition, S3Location};
use crate::aws::owner::{MANAGED_TAG, OWNER_TAG};
use crate::oidc::issuer::IssuerUrl;

/// What the principal will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `publish --to s3://...` without bucket set-up.
    Publish,
    /// `publish --create-bucket`: create the bucket and make the documents public.
    Bucket,
    /// `provider apply|show|delete`.
    Provider,
    /// `role apply|delete|manifest`.
    Role,
    /// `--assume-role` into other accounts.
    AssumeRole,
    /// `destroy`: delete the documents, restore the bucket's Block Public Access, and delete the
    /// bucket with --delete-bucket (the provider and role deletions are in `provider` and `role`).
    Destroy,
    /// `[cdn]` / `publish --cdn cloudfront`: the distribution, its Origin Access Control and cache
    /// policy, invalidations, and their teardown (the bucket's set-up is in `bucket`).
    Cdn,
}

/// CloudFront actions that only list (they take no resource).
pub const CDN_LIST_ACTIONS: &[&str] = &[
    "cloudfront:ListDistributions",
    "cloudfront:ListOriginAccessControls",
    "cloudfront:ListCachePolicies",
];
/// CloudFront actions that read a distribution.
pub const CDN_READ_ACTIONS: &[&str] = &[
    "cloudfront:ListTagsForResource",
    "cloudfront:GetDistribution",
    "cloudfront:GetDistributionConfig",
];
/// CloudFront actions on a distribution irsa-issuer tagged for this target.
pub const CDN_MANAGE_ACTIONS: &[&str] = &[
    "cloudfront:UpdateDistribution",
    "cloudfront:DeleteDistribution",
    "cloudfront:CreateInvalidation",
    "cloudfront:TagResource",
];
/// CloudFront actions on Origin Access Controls (they carry no tags to scope by).
pub const CDN_OAC_ACTIONS: &[&str] = &[
    "cloudfront:CreateOriginAccessControl",
    "cloudfront:GetOriginAccessControl",
    "cloudfront:UpdateOriginAccessControl",
    "cloudfront:DeleteOriginAccessControl",
];
/// CloudFront actions on cache policies (they carry no tags either).
pub const CDN_CACHE_POLICY_ACTIONS: &[&str] = &[
    "cloudfront:CreateCachePolicy",
    "cloudfront:GetCachePolicy",
    "cloudfront:UpdateCachePolicy",
    "cloudfront:DeleteCachePolicy",
];

/// S3 actions for publishing objects.
pub const PUBLISH_OBJECT_ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"];
/// S3 actions on the bucket for publishing.
pub const PUBLISH_BUCKET_ACTIONS: &[&str] = &["s3:GetBucketLocation", "s3:ListBucket"];
/// S3 actions for `--create-bucket`.
pub const BUCKET_ACTIONS: &[&str] = &[
    "s3:CreateBucket",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
];
/// S3 actions for `destroy`.
pub const DESTROY_BUCKET_ACTIONS: &[&str] = &[
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
    "s3:DeleteBucket",
];
/// IAM actions that only read.
pub const ROLE_READ_ACTIONS: &[&str] = &[
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListRoleTags",
];
/// IAM actions that change or delete a role irsa-issuer owns.
pub const ROLE_MANAGE_ACTIONS: &[&str] = &[
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:DeleteRole",
];
/// IAM actions that change or delete a provider irsa-issuer owns.
pub const PROVIDER_MANAGE_ACTIONS: &[&str] = &[
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
];

/// What the policy is scoped to.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// The bucket and prefix (else any bucket).
    pub location: Option<&'a S3Location>,
    /// The issuer (else any provider irsa-issuer tagged, and no owner condition).
    pub issuer: Option<&'a IssuerUrl>,
    /// Without `issuer`: the provider IDs it may be (`*.cloudfront.net/PREFIX` for a CloudFront
    /// distribution not created yet, whose domain CloudFront picks).
    pub issuer_pattern: Option<String>,
    /// The IAM path roles live under.
    pub role_path: &'a str,
    /// The managed policies roles may have attached.
    pub policy_arns: Vec<String>,
    /// The permissions boundaries roles carry (inline policies are granted only under one).
    pub permissions_boundaries: Vec<String>,
    /// The roles to assume in other accounts.
    pub assume_roles: Vec<String>,
}

/// The policy, and what the user should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerPolicy {
    /// The document.
    pub document: Value,
    /// Notes: permissions left out, and why.
    pub notes: Vec<String>,
}

/// Why a policy cannot be printed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunnerPolicyError {
    /// `assume-role` without roles.
    #[error("`--for assume-role` needs the roles to assume: -f FILE (its [[accounts]]) or --assume-role ARN (repeatable); sts:AssumeRole on every role would let this principal assume any role that trusts its account")]
    NoRolesToAssume,
    /// An S3 capability without a bucket.
    #[error("`--for {0}` needs the bucket: -f FILE (its s3:// target) or --to s3://BUCKET/PREFIX; unscoped, it would grant bucket policy and Block Public Access changes on every bucket of the account")]
    NoBucket(&'static str),
    /// `provider` without an issuer.
    #[error("`--for provider` needs the issuer: -f FILE or --issuer URL; unscoped, it would let this principal tag, change and delete any untagged OIDC provider of the account (EKS clusters' among them)")]
    NoIssuer,
    /// `role` under the root path.
    #[error("`--for role` with the role path /: every untagged role of the account would be under it, and this principal could tag one as irsa-issuer's, rewrite its trust policy and take its permissions; use a path only irsa-issuer's roles live under (iam.role_path or --role-path, default /irsa/)")]
    RootRolePath,
    /// An ARN that is malformed or holds a wildcard.
    #[error("{what}: {source}")]
    Arn {
        /// Which input.
        what: &'static str,
        /// What is wrong with it.
        #[source]
        source: crate::aws::names::NameError,
    },
}

fn stmt(sid: &str, actions: &[&str], resource: Value, condition: Option<Value>) -> Value {
    let mut s = json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

/// A condition block from `("Operator key", value)` pairs, grouped by operator.
fn condition(pairs: &[(String, Value)]) -> Value {
    let mut ops: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        let (op, key) = key.split_once(' ').unwrap_or(("StringEquals", key));
        let entry = ops.entry(op.to_string()).or_insert_with(|| json!({}));
        entry[key] = value.clone();
    }
    Value::Object(ops)
}

fn one_or_many(v: &[String]) -> Value {
    match v {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The policy document for `caps` within `scope`.
pub fn policy(
    caps: &[Capability],
    partition: Partition,
    scope: &Scope,
) -> Result<RunnerPolicy, RunnerPolicyError> {
    check_scope(caps, scope)?;
    let mut statements = Vec::new();
    let mut notes = Vec::new();
    s3_statements(caps, partition, scope, &mut statements);
    if caps.contains(&Capability::Provider) {
        provider_statements(partition, scope, &mut statements);
    }
    if caps.contains(&Capability::Role) {
        role_statements(partition, scope, &mut statements, &mut notes);
    }
    if caps.contains(&Capability::Cdn) {
        cdn_statements(partition, scope, &mut statements, &mut notes);
    }
    if caps.contains(&Capability::AssumeRole) {
        if scope.assume_roles.is_empty() {
            return Err(RunnerPolicyError::NoRolesToAssume);
        }
        statements.push(stmt(
            "IrsaIssuerAssumeRole",
            &["sts:AssumeRole"],
            one_or_many(&scope.assume_roles),
            None,
        ));
    }
    Ok(RunnerPolicy {
        document: json!({"Version": "2012-10-17", "Statement": statements}),
        notes,
    })
}

/// Refuses a scope that would grant more than the file says: an S3 capability without its
/// bucket, providers without the issuer, roles under `/`, and any ARN that is malformed or
/// holds a wildcard (a `policy/*` in `iam:PolicyARN` would allow AdministratorAccess).
fn check_scope(caps: &[Capability], scope: &Scope) -> Result<(), RunnerPolicyError> {
    use crate::aws::names::{validate_iam_arn, IamArnKind};
    for (cap, name) in [
        (Capability::Publish, "publish"),
        (Capability::Bucket, "bucket"),
        (Capability::Destroy, "destroy"),
    ] {
        if caps.contains(&cap) && scope.location.is_none() {
            return Err(RunnerPolicyError::NoBucket(name));
        }
    }
    if caps.contains(&Capability::Provider)
        && scope.issuer.is_none()
        && scope.issuer_pattern.is_none()
    {
        return Err(RunnerPolicyError::NoIssuer);
    }
    if caps.contains(&Capability::Role) && matches!(scope.role_path, "" | "/") {
        return Err(RunnerPolicyError::RootRolePath);
    }
    let inputs = [
        (
            "--policy-arn (policy_arns)",
            &scope.policy_arns,
            IamArnKind::Policy,
        ),
        (
            "--permissions-boundary (permissions_boundary)",
            &scope.permissions_boundaries,
            IamArnKind::Policy,
        ),
        (
            "--assume-role ([[accounts]] assume_role)",
            &scope.assume_roles,
            IamArnKind::Role,
        ),
    ];
    for (what, arns, kind) in inputs {
        for arn in arns {
            validate_iam_arn(arn, kind)
                .map_err(|source| RunnerPolicyError::Arn { what, source })?;
        }
    }
    Ok(())
}

fn s3_statements(caps: &[Capability], partition: Partition, scope: &Scope, out: &mut Vec<Value>) {
    let p = partition.as_str();
    let bucket_arn = scope.location.map_or_else(
        || format!("arn:{p}:s3:::*"),
        |l| format!("arn:{p}:s3:::{}", l.bucket),
    );
    let objects_arn = match scope.location {
        Some(l) if !l.prefix.is_empty() => format!("arn:{p}:s3:::{}/{}/*", l.bucket, l.prefix),
        Some(l) => format!("arn:{p}:s3:::{}/*", l.bucket),
        None => format!("arn:{p}:s3:::*/*"),
    };
    if caps.contains(&Capability::Publish) || caps.contains(&Capability::Bucket) {
        out.push(stmt(
            "IrsaIssuerPublishObjects",
            PUBLISH_OBJECT_ACTIONS,
            json!(objects_arn),
            None,
        ));
        out.push(stmt(
            "IrsaIssuerPublishBucket",
            PUBLISH_BUCKET_ACTIONS,
            json!(bucket_arn),
            None,
        ));
    }
    if caps.contains(&Capability::Bucket) {
        out.push(stmt(
            "IrsaIssuerBucketSetup",
            BUCKET_ACTIONS,
            json!(bucket_arn),
            None,
        ));
    }
    if caps.contains(&Capability::Destroy) {
        out.push(stmt(
            "IrsaIssuerDestroyObjects",
            &["s3:GetObject", "s3:DeleteObject"],
            json!(objects_arn),
            None,
        ));
        out.push(stmt(
            "IrsaIssuerDestroyBucket",
            DESTROY_BUCKET_ACTIONS,
            json!(bucket_arn),
            None,
        ));
    }
}

/// Conditions that the tags (`aws:RequestTag` or `aws:ResourceTag`) name irsa-issuer, and this
/// issuer when known, as the owner.
fn owner_tags(kind: &str, scope: &Scope) -> Vec<(String, Value)> {
    let mut c = vec![(
        format!("StringEquals aws:{kind}/{}", MANAGED_TAG.0),
        json!(MANAGED_TAG.1),
    )];
    if let Some(i) = scope.issuer {
        c.push((
            format!("StringEquals aws:{kind}/{OWNER_TAG}"),
            json!(i.as_str()),
        ));
    } else if let Some(p) = &scope.issuer_pattern {
        c.push((
            format!("StringLike aws:{kind}/{OWNER_TAG}"),
            json!(format!("https://{p}")),
        ));
    }
    c
}

fn request_tags(scope: &Scope) -> Vec<(String, Value)> {
    owner_tags("RequestTag", scope)
}

fn resource_tags(scope: &Scope) -> Vec<(String, Value)> {
    owner_tags("ResourceTag", scope)
}

/// Condition: the resource carries no managed-by tag yet (tagging at creation).
fn untagged() -> (String, Value) {
    (
        format!("Null aws:ResourceTag/{}", MANAGED_TAG.0),
        json!("true"),
    )
}

/// CloudFront: listing takes no resource; a distribution is created only tagged as
/// irsa-issuer's for this target and changed or deleted only when it carries those tags; OACs
/// and cache policies have no tags, so they are scoped to their resource type.
fn cdn_statements(
    partition: Partition,
    scope: &Scope,
    out: &mut Vec<Value>,
    notes: &mut Vec<String>,
) {
    let p = partition.as_str();
    let distributions = format!("arn:{p}:cloudfront::*:distribution/*");
    let tag_pairs = |kind: &str| {
        let mut c = vec![(
            format!("StringEquals aws:{kind}/{}", MANAGED_TAG.0),
            json!(MANAGED_TAG.1),
        )];
        if let Some(l) = scope.location {
            c.push((
                format!("StringEquals aws:{kind}/{}", crate::aws::cdn::TARGET_TAG),
                json!(l.to_string()),
            ));
        }
        c
    };
    out.push(stmt(
        "IrsaIssuerCdnList",
        CDN_LIST_ACTIONS,
        json!("*"),
        None,
    ));
    out.push(stmt(
        "IrsaIssuerCdnRead",
        CDN_READ_ACTIONS,
        json!(distributions),
        None,
    ));
    out.push(stmt(
        "IrsaIssuerCdnCreate",
        &["cloudfront:CreateDistribution", "cloudfront:TagResource"],
        json!(distributions),
        Some(condition(&tag_pairs("RequestTag"))),
    ));
    out.push(stmt(
        "IrsaIssuerCdnManage",
        CDN_MANAGE_ACTIONS,
        json!(distributions),
        Some(condition(&tag_pairs("ResourceTag"))),
    ));
    out.push(stmt(
        "IrsaIssuerCdnOriginAccess",
        CDN_OAC_ACTIONS,
        json!(format!("arn:{p}:cloudfront::*:origin-access-control/*")),
        None,
    ));
    out.push(stmt(
        "IrsaIssuerCdnCachePolicy",
        CDN_CACHE_POLICY_ACTIONS,
        json!(format!("arn:{p}:cloudfront::*:cache-policy/*")),
        None,
    ));
    notes.push("CloudFront origin access controls and cache policies carry no tags: their statements cover the account's (irsa-issuer touches only those named irsa-issuer-<hash of bucket and prefix>)".into());
}

fn provider_statements(partition: Partition, scope: &Scope, out: &mut Vec<Value>) {
    let p = partition.as_str();
    let arn = match (scope.issuer, &scope.issuer_pattern) {
        (Some(i), _) => format!("arn:{p}:iam::*:oidc-provider/{}", i.provider_id()),
        (None, Some(pattern)) => format!("arn:{p}:iam::*:oidc-provider/{pattern}"),
        (None, None) => format!("arn:{p}:iam::*:oidc-provider/*"),
    };
    out.push(stmt(
        "IrsaIssuerProviderRead",
        &["iam:GetOpenIDConnectProvider"],
        json!(arn),
        None,
    ));
    out.push(stmt(
        "IrsaIssuerProviderCreate",
        &["iam:CreateOpenIDConnectProvider"],
        json!(arn),
        Some(condition(&request_tags(scope))),
    ));
    // Tagging on create: the provider has no tags yet.
    let mut on_create = request_tags(scope);
    on_create.push(untagged());
    out.push(stmt(
        "IrsaIssuerProviderTagOnCreate",
        &["iam:TagOpenIDConnectProvider"],
        json!(arn),
        Some(condition(&on_create)),
    ));
    let mut manage = PROVIDER_MANAGE_ACTIONS.to_vec();
    manage.push("iam:TagOpenIDConnectProvider");
    out.push(stmt(
        "IrsaIssuerProviderManage",
        &manage,
        json!(arn),
        Some(condition(&resource_tags(scope))),
    ));
}

fn role_statements(
    partition: Partition,
    scope: &Scope,
    out: &mut Vec<Value>,
    notes: &mut Vec<String>,
) {
    let p = partition.as_str();
    let path = if scope.role_path.is_empty() {
        "/"
    } else {
        scope.role_path
    };
    let roles = format!("arn:{p}:iam::*:role{path}*");
    notes.push(format!("roles are scoped to the path {path}: keep it for irsa-issuer's roles alone (an untagged role put there by hand could be tagged and taken over by this principal)"));
    let boundary = (!scope.permissions_boundaries.is_empty()).then(|| {
        (
            "StringEquals iam:PermissionsBoundary".to_string(),
            one_or_many(&scope.permissions_boundaries),
        )
    });
    out.push(stmt(
        "IrsaIssuerRoleRead",
        ROLE_READ_ACTIONS,
        json!(roles),
        None,
    ));
    // Finding the roles the file no longer names (prune): ListRoles has no resource-level
    // permissions, and it returns names and paths only (no policies, no tags).
    out.push(stmt(
        "IrsaIssuerRoleList",
        &["iam:ListRoles"],
        json!("*"),
        None,
    ));
    let mut create = request_tags(scope);
    create.extend(boundary.clone());
    out.push(stmt(
        "IrsaIssuerRoleCreate",
        &["iam:CreateRole"],
        json!(roles),
        Some(condition(&create)),
    ));
    let mut on_create = request_tags(scope);
    on_create.push(untagged());
    out.push(stmt(
        "IrsaIssuerRoleTagOnCreate",
        &["iam:TagRole"],
        json!(roles),
        Some(condition(&on_create)),
    ));
    let mut manage = ROLE_MANAGE_ACTIONS.to_vec();
    manage.push("iam:TagRole");
    out.push(stmt(
        "IrsaIssuerRoleManage",
        &manage,
        json!(roles),
        Some(condition(&resource_tags(scope))),
    ));
    if scope.policy_arns.is_empty() {
        notes.push("no managed policy given (--policy-arn, or policy_arns in the file): AttachRolePolicy is not granted".into());
    } else {
        let mut attach = resource_tags(scope);
        attach.push((
            "ArnEquals iam:PolicyARN".to_string(),
            one_or_many(&scope.policy_arns),
        ));
        attach.extend(boundary.clone());
        out.push(stmt(
            "IrsaIssuerRoleAttach",
            &["iam:AttachRolePolicy"],
            json!(roles),
            Some(condition(&attach)),
        ));
    }
    match boundary {
        Some(b) => {
            let mut bounded = resource_tags(scope);
            bounded.push(b);
            out.push(stmt(
                "IrsaIssuerRoleBounded",
                &["iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"],
                json!(roles),
                Some(condition(&bounded)),
            ));
        }
        None => notes.push("no permissions boundary given (--permissions-boundary, or permissions_boundary in the file): PutRolePolicy (inline policies) is not granted, since an inline policy can grant anything and this principal could then assume the role".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_to_bucket_prefix_and_provider() {
        let loc = S3Location::parse("s3://bkt/c1").unwrap();
        let i = IssuerUrl::parse("https://s3.eu-west-1.amazonaws.com/bkt/c1", false).unwrap();
        let v = policy(
            &[Capability::Publish, Capability::Provider],
            Partition::Aws,
            &Scope {
                location: Some(&loc),
                issuer: Some(&i),
                role_path: "/irsa/",
                ..Scope::default()
            },
        )
        .unwrap()
        .document;
        let st = v["Statement"].as_array().unwrap();
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::bkt/c1/*");
        assert_eq!(st[1]["Resource"], "arn:aws:s3:::bkt");
        assert_eq!(
            st[2]["Resource"],
            "arn:aws:iam::*:oidc-provider/s3.eu-west-1.amazonaws.com/bkt/c1"
        );
        assert!(!v.to_string().contains("s3:CreateBucket"));
        assert_eq!(
            st[3]["Condition"]["StringEquals"]["aws:RequestTag/irsa-issuer/issuer"],
            i.as_str()
        );
    }

    #[test]
    fn a_scope_that_would_grant_more_than_the_file_is_refused() {
        let loc = S3Location::parse("s3://bkt/c1").unwrap();
        let i = IssuerUrl::parse("https://s3.eu-west-1.amazonaws.com/bkt/c1", false).unwrap();
        let full = Scope {
            location: Some(&loc),
            issuer: Some(&i),
            role_path: "/irsa/",
            policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            assume_roles: vec!["arn:aws:iam::123456789012:role/irsa-admin".into()],
            ..Scope::default()
        };
        let all = [
            Capability::Publish,
            Capability::Bucket,
            Capability::Provider,
            Capability::Role,
            Capability::AssumeRole,
            Capability::Destroy,
        ];
        assert!(policy(&all, Partition::Aws, &full).is_ok());
        let refused =
            |scope: Scope, caps: &[Capability]| policy(caps, Partition::Aws, &scope).unwrap_err();
        for (cap, name) in [
            (Capability::Publish, "publish"),
            (Capability::Bucket, "bucket"),
            (Capability::Destroy, "destroy"),
        ] {
            let e = refused(
                Scope {
                    location: None,
                    ..full.clone()
                },
                &[cap],
            );
            assert_eq!(e, RunnerPolicyError::NoBucket(name));
        }
        assert_eq!(
            refused(
                Scope {
                    issuer: None,
                    ..full.clone()
                },
                &[Capability::Provider]
            ),
            RunnerPolicyError::NoIssuer
        );
        for root in ["/", ""] {
            assert_eq!(
                refused(
                    Scope {
                        role_path: root,
                        ..full.clone()
                    },
                    &[Capability::Role]
                ),
                RunnerPolicyError::RootRolePath
            );
        }
        for (scope, what) in [
            (
                Scope {
                    policy_arns: vec!["arn:aws:iam::aws:policy/*".into()],
                    ..full.clone()
                },
                "--policy-arn",
            ),
            (
                Scope {
                    permissions_boundaries: vec!["arn:aws:iam::aws:policy/Power?".into()],
                    ..full.clone()
                },
                "--permissions-boundary",
            ),
            (
                Scope {
                    assume_roles: vec!["arn:aws:iam::123456789012:role/*".into()],
                    ..full.clone()
                },
                "--assume-role",
            ),
        ] {
            match refused(scope, &all) {
                RunnerPolicyError::Arn { what: w, .. } => assert!(w.starts_with(what), "{w}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn assume_role_needs_the_roles() {
        assert_eq!(
            policy(&[Capability::AssumeRole], Partition::Aws, &Scope::default()),
            Err(RunnerPolicyError::NoRolesToAssume)
        );
    }
}
