//! The least-privilege IAM policy the principal running irsa-issuer needs, per command.

use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::names::{Partition, S3Location};
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
    /// `destroy`: delete the documents, and the bucket when irsa-issuer made it (the provider
    /// and role deletions are in `provider` and `role`).
    Destroy,
}

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
/// IAM actions for the OIDC provider.
pub const PROVIDER_ACTIONS: &[&str] = &[
    "iam:GetOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
];

/// IAM actions for roles.
pub const ROLE_ACTIONS: &[&str] = &[
    "iam:GetRole",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:ListAttachedRolePolicies",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
];

/// The policy document for `caps`, scoped to `location` and `issuer` when given (else `*`).
pub fn policy(
    caps: &[Capability],
    partition: Partition,
    location: Option<&S3Location>,
    issuer: Option<&IssuerUrl>,
) -> Value {
    let p = partition.as_str();
    let bucket_arn = location.map_or_else(
        || format!("arn:{p}:s3:::*"),
        |l| format!("arn:{p}:s3:::{}", l.bucket),
    );
    let objects_arn = match location {
        Some(l) if !l.prefix.is_empty() => format!("arn:{p}:s3:::{}/{}/*", l.bucket, l.prefix),
        Some(l) => format!("arn:{p}:s3:::{}/*", l.bucket),
        None => format!("arn:{p}:s3:::*/*"),
    };
    let provider_arn = issuer.map_or_else(
        || format!("arn:{p}:iam::*:oidc-provider/*"),
        |i| format!("arn:{p}:iam::*:oidc-provider/{}", i.provider_id()),
    );
    let mut statements = Vec::new();
    let stmt = |sid: &str, actions: &[&str], resource: &str| json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource});
    if caps.contains(&Capability::Publish) || caps.contains(&Capability::Bucket) {
        statements.push(stmt(
            "IrsaIssuerPublishObjects",
            PUBLISH_OBJECT_ACTIONS,
            &objects_arn,
        ));
        statements.push(stmt(
            "IrsaIssuerPublishBucket",
            PUBLISH_BUCKET_ACTIONS,
            &bucket_arn,
        ));
    }
    if caps.contains(&Capability::Bucket) {
        statements.push(stmt("IrsaIssuerBucketSetup", BUCKET_ACTIONS, &bucket_arn));
    }
    if caps.contains(&Capability::Provider) {
        statements.push(stmt(
            "IrsaIssuerOidcProvider",
            PROVIDER_ACTIONS,
            &provider_arn,
        ));
    }
    if caps.contains(&Capability::Role) {
        statements.push(stmt(
            "IrsaIssuerRoles",
            ROLE_ACTIONS,
            &format!("arn:{p}:iam::*:role/*"),
        ));
    }
    if caps.contains(&Capability::Destroy) {
        statements.push(stmt(
            "IrsaIssuerDestroyObjects",
            &["s3:DeleteObject"],
            &objects_arn,
        ));
        statements.push(stmt(
            "IrsaIssuerDestroyBucket",
            &[
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:ListBucket",
            ],
            &bucket_arn,
        ));
    }
    if caps.contains(&Capability::AssumeRole) {
        statements.push(stmt("IrsaIssuerAssumeRole", &["sts:AssumeRole"], "*"));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
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
            Some(&loc),
            Some(&i),
        );
        let st = v["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::bkt/c1/*");
        assert_eq!(st[1]["Resource"], "arn:aws:s3:::bkt");
        assert_eq!(
            st[2]["Resource"],
            "arn:aws:iam::*:oidc-provider/s3.eu-west-1.amazonaws.com/bkt/c1"
        );
        assert!(!v.to_string().contains("s3:CreateBucket"));
    }
}
