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
    /// `[cdn]` / `publish --cdn cloudfront`: creating the distribution, its Origin Access Control
    /// and cache policy until their ids are pinned; then reading, changing, invalidating and
    /// deleting exactly those (the bucket's set-up is in `bucket`).
    Cdn,
}

/// CloudFront actions that only list (they take no resource: `*`).
pub const CDN_LIST_ACTIONS: &[&str] = &[
    "cloudfront:ListDistributions",
    "cloudfront:ListOriginAccessControls",
    "cloudfront:ListCachePolicies",
];
/// CloudFront actions that read a distribution (finding it by its tags reads every one).
pub const CDN_READ_ACTIONS: &[&str] = &[
    "cloudfront:GetDistribution",
    "cloudfront:GetDistributionConfig",
    "cloudfront:ListTagsForResource",
];
/// CloudFront actions on the one pinned distribution: reading, changing, invalidating,
/// tagging and deleting it.
pub const CDN_DISTRIBUTION_ACTIONS: &[&str] = &[
    "cloudfront:GetDistribution",
    "cloudfront:GetDistributionConfig",
    "cloudfront:ListTagsForResource",
    "cloudfront:UpdateDistribution",
    "cloudfront:CreateInvalidation",
    "cloudfront:TagResource",
    "cloudfront:DeleteDistribution",
];
/// CloudFront actions on the one pinned Origin Access Control.
pub const CDN_OAC_ACTIONS: &[&str] = &[
    "cloudfront:GetOriginAccessControl",
    "cloudfront:UpdateOriginAccessControl",
    "cloudfront:DeleteOriginAccessControl",
];
/// CloudFront actions on the one pinned cache policy.
pub const CDN_CACHE_POLICY_ACTIONS: &[&str] = &[
    "cloudfront:GetCachePolicy",
    "cloudfront:UpdateCachePolicy",
    "cloudfront:DeleteCachePolicy",
];

/// S3 actions for publishing objects.
pub const PUBLISH_OBJECT_ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"];
/// S3 actions on the bucket's lock object (taken with conditional writes, given back with a
/// conditional delete).
pub const LOCK_ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"];
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
    /// CloudFront: the pinned ids and the file's tags.
    pub cdn: CdnScope,
    /// The IAM path roles live under.
    pub role_path: &'a str,
    /// The managed policies roles may have attached.
    pub policy_arns: Vec<String>,
    /// The permissions boundaries roles carry (inline policies are granted only under one).
    pub permissions_boundaries: Vec<String>,
    /// The roles to assume in other accounts.
    pub assume_roles: Vec<String>,
}

/// What the CloudFront statements are scoped to: each resource whose id is pinned gets its
/// updates and deletions on exactly its ARN; one not pinned yet gets only creation.
#[derive(Debug, Clone, Default)]
pub struct CdnScope {
    /// `cdn.distribution_id`.
    pub distribution_id: Option<String>,
    /// `cdn.origin_access_control_id`.
    pub origin_access_control_id: Option<String>,
    /// `cdn.cache_policy_id`.
    pub cache_policy_id: Option<String>,
    /// The keys of the file's `[tags]`, which a new distribution carries too.
    pub tag_keys: Vec<String>,
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
    /// A pinned CloudFront id that could widen an ARN.
    #[error(transparent)]
    CdnId(crate::aws::cdn::CdnError),
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
    if caps.contains(&Capability::Destroy) && caps.contains(&Capability::Provider) {
        // `destroy --delete-bucket` lists the providers (a list call has no resource) to find
        // any that another spelling of the bucket's URL still trusts.
        statements.push(stmt(
            "IrsaIssuerProviderList",
            &["iam:ListOpenIDConnectProviders"],
            json!("*"),
            None,
        ));
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
    if caps.contains(&Capability::Provider) && scope.issuer.is_none() {
        return Err(RunnerPolicyError::NoIssuer);
    }
    if caps.contains(&Capability::Cdn)
        && scope.location.is_none()
        && scope.cdn.distribution_id.is_none()
    {
        return Err(RunnerPolicyError::NoBucket("cdn"));
    }
    for (what, id) in [
        ("distribution", &scope.cdn.distribution_id),
        ("origin access control", &scope.cdn.origin_access_control_id),
        ("cache policy", &scope.cdn.cache_policy_id),
    ] {
        if let Some(id) = id {
            crate::aws::cdn::validate_id(what, id).map_err(RunnerPolicyError::CdnId)?;
        }
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
    if let (Some(l), true) = (
        scope.location,
        [Capability::Publish, Capability::Bucket, Capability::Destroy]
            .iter()
            .any(|c| caps.contains(c)),
    ) {
        // The lock runs take turns with: one object, never public, outside every prefix.
        out.push(stmt(
            "IrsaIssuerLock",
            LOCK_ACTIONS,
            json!(format!(
                "arn:{p}:s3:::{}/{}",
                l.bucket,
                crate::publish::lease::LOCK_KEY
            )),
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

/// The bootstrap's risk, said with the policy (the distribution is not pinned yet).
pub const CDN_BOOTSTRAP_NOTE: &str = "CloudFront bootstrap: this policy creates the distribution, its origin access control and its cache policy, and tags the new distribution; it grants no update, deletion or invalidation of any of them. IAM has no create-only condition for cloudfront:TagResource, so it also lets this principal put irsa-issuer's tags (managed-by=irsa-issuer and this target; only irsa-issuer's tag keys, aws:TagKeys) on any distribution of the account: nothing here acts on tagged distributions, but do not grant other principals rights by these tags. Once `apply` (or `publish`) has created them, pin cdn.distribution_id, cdn.origin_access_control_id and cdn.cache_policy_id in the file (apply prints them) and run `iam-policy -f FILE` again: that policy can change and delete exactly those, and create nothing";

/// CloudFront, from the Service Authorization Reference: CreateDistribution,
/// CreateOriginAccessControl and CreateCachePolicy take no resource (`*`); CreateDistribution
/// and TagResource evaluate `aws:RequestTag` and `aws:TagKeys`; every other action here takes the
/// resource's ARN. Distributions list `aws:ResourceTag`, but CloudFront's ABAC support is
/// partial and TagResource has no create-only condition (anyone allowed to tag could tag another
/// distribution as this one), so nothing is granted by resource tags: a pinned resource gets its
/// updates and deletions on exactly its ARN, one not pinned yet only creation.
fn cdn_statements(
    partition: Partition,
    scope: &Scope,
    out: &mut Vec<Value>,
    notes: &mut Vec<String>,
) {
    let p = partition.as_str();
    let c = &scope.cdn;
    let arn = |kind: &str, id: &str| format!("arn:{p}:cloudfront::*:{kind}/{id}");
    let mut list = Vec::new();
    let mut create = Vec::new();
    match &c.distribution_id {
        Some(id) => out.push(stmt(
            "IrsaIssuerCdnDistribution",
            CDN_DISTRIBUTION_ACTIONS,
            json!(arn("distribution", id)),
            None,
        )),
        None => {
            list.push("cloudfront:ListDistributions");
            out.push(stmt(
                "IrsaIssuerCdnRead",
                CDN_READ_ACTIONS,
                json!(arn("distribution", "*")),
                None,
            ));
            // Only ever with irsa-issuer's tags for this target, and only irsa-issuer's keys.
            let mut keys: Vec<String> = [
                MANAGED_TAG.0,
                crate::aws::cdn::TARGET_TAG,
                OWNER_TAG,
                crate::aws::cdn::SERVED_TAG,
            ]
            .iter()
            .map(|k| k.to_string())
            .chain(c.tag_keys.iter().cloned())
            .collect();
            keys.sort();
            keys.dedup();
            let mut tagged = vec![(
                format!("StringEquals aws:RequestTag/{}", MANAGED_TAG.0),
                json!(MANAGED_TAG.1),
            )];
            if let Some(l) = scope.location {
                tagged.push((
                    format!(
                        "StringEquals aws:RequestTag/{}",
                        crate::aws::cdn::TARGET_TAG
                    ),
                    json!(l.to_string()),
                ));
            }
            tagged.push((
                "ForAllValues:StringEquals aws:TagKeys".to_string(),
                json!(keys),
            ));
            out.push(stmt(
                "IrsaIssuerCdnCreateDistribution",
                &["cloudfront:CreateDistribution"],
                json!("*"),
                Some(condition(&tagged)),
            ));
            out.push(stmt(
                "IrsaIssuerCdnTagNewDistribution",
                &["cloudfront:TagResource"],
                json!(arn("distribution", "*")),
                Some(condition(&tagged)),
            ));
            notes.push(CDN_BOOTSTRAP_NOTE.into());
        }
    }
    match &c.origin_access_control_id {
        Some(id) => out.push(stmt(
            "IrsaIssuerCdnOriginAccessControl",
            CDN_OAC_ACTIONS,
            json!(arn("origin-access-control", id)),
            None,
        )),
        None => {
            list.push("cloudfront:ListOriginAccessControls");
            create.push("cloudfront:CreateOriginAccessControl");
        }
    }
    match &c.cache_policy_id {
        Some(id) => out.push(stmt(
            "IrsaIssuerCdnCachePolicy",
            CDN_CACHE_POLICY_ACTIONS,
            json!(arn("cache-policy", id)),
            None,
        )),
        None => {
            list.push("cloudfront:ListCachePolicies");
            create.push("cloudfront:CreateCachePolicy");
        }
    }
    if !create.is_empty() {
        out.push(stmt("IrsaIssuerCdnCreate", &create, json!("*"), None));
        notes.push("CloudFront has no resource-level permission for creating origin access controls and cache policies: this principal may create any number of them (never change or delete one it was not given by id)".into());
    }
    if !list.is_empty() {
        out.push(stmt("IrsaIssuerCdnList", &list, json!("*"), None));
    }
}

fn provider_statements(partition: Partition, scope: &Scope, out: &mut Vec<Value>) {
    let p = partition.as_str();
    let arn = match scope.issuer {
        Some(i) => format!("arn:{p}:iam::*:oidc-provider/{}", i.provider_id()),
        None => format!("arn:{p}:iam::*:oidc-provider/*"),
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
        // The lock object only, at the bucket's root.
        assert_eq!(st[2]["Sid"], "IrsaIssuerLock");
        assert_eq!(st[2]["Resource"], "arn:aws:s3:::bkt/.irsa-issuer/lock");
        assert_eq!(
            st[3]["Resource"],
            "arn:aws:iam::*:oidc-provider/s3.eu-west-1.amazonaws.com/bkt/c1"
        );
        assert!(!v.to_string().contains("s3:CreateBucket"));
        assert_eq!(
            st[4]["Condition"]["StringEquals"]["aws:RequestTag/irsa-issuer/issuer"],
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
