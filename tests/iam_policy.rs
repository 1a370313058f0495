//! `iam-policy` against escalation, checked with an independent evaluator
//! (`tests/common/iam.rs`): what the file asks for is allowed, every known path to more (an
//! administrator policy, a rewritten trust policy, a foreign role, any role to assume) is
//! denied, and structurally no statement grants a dangerous action without its limit.

mod common;

use common::iam::{allows, Request};
use serde_json::Value;

const ISSUER: &str = "https://s3.eu-west-1.amazonaws.com/acme-oidc/c1";
const A: &str = "111122223333";
const READER: &str = "arn:aws:iam::111122223333:policy/reader";
const BOUNDARY: &str = "arn:aws:iam::111122223333:policy/irsa-boundary";
const ADMIN_ROLE: &str = "arn:aws:iam::222233334444:role/irsa-admin";

fn policy(extra: &[&str]) -> Value {
    let mut args = vec![
        "iam-policy",
        "--for",
        "publish,bucket,provider,role,assume-role,destroy",
        "--to",
        "s3://acme-oidc/c1",
        "--issuer",
        ISSUER,
        "--policy-arn",
        READER,
        "--assume-role",
        ADMIN_ROLE,
    ];
    args.extend(extra);
    let o = common::run(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{A}:role/irsa/{name}")
}

fn ours(r: Request) -> Request {
    r.with("aws:ResourceTag/managed-by", "irsa-issuer")
        .with("aws:ResourceTag/irsa-issuer/issuer", ISSUER)
}

fn tagged_request(r: Request) -> Request {
    r.with("aws:RequestTag/managed-by", "irsa-issuer")
        .with("aws:RequestTag/irsa-issuer/issuer", ISSUER)
}

#[test]
fn the_evaluator_reads_policies_as_iam_does() {
    let p: Value = serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "arn:aws:iam::*:role/irsa/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/o": "me"}, "Null": {"aws:RequestTag/x": "true"}}}]});
    let ok =
        Request::new("iam:GetRole", "arn:aws:iam::1:role/irsa/a").with("aws:ResourceTag/o", "me");
    assert!(allows(&p, &ok));
    assert!(!allows(&p, &ok.clone().with("aws:RequestTag/x", "1")));
    assert!(!allows(
        &p,
        &Request::new("iam:GetRole", "arn:aws:iam::1:role/irsa/a")
    ));
    assert!(!allows(
        &p,
        &Request::new("iam:GetRole", "arn:aws:iam::1:role/a").with("aws:ResourceTag/o", "me")
    ));
    assert!(!allows(
        &p,
        &Request::new("iam:PutRolePolicy", "arn:aws:iam::1:role/irsa/a")
            .with("aws:ResourceTag/o", "me")
    ));
}

#[test]
fn what_the_file_asks_for_is_allowed() {
    let p = policy(&["--permissions-boundary", BOUNDARY]);
    let legit = [
        tagged_request(Request::new("iam:CreateRole", &role("reader")))
            .with("iam:PermissionsBoundary", BOUNDARY),
        tagged_request(Request::new("iam:TagRole", &role("reader"))),
        ours(Request::new("iam:AttachRolePolicy", &role("reader")))
            .with("iam:PolicyARN", READER)
            .with("iam:PermissionsBoundary", BOUNDARY),
        ours(Request::new("iam:UpdateAssumeRolePolicy", &role("reader"))),
        ours(Request::new("iam:PutRolePolicy", &role("reader")))
            .with("iam:PermissionsBoundary", BOUNDARY),
        ours(Request::new("iam:DeleteRole", &role("reader"))),
        Request::new("iam:GetRole", &role("reader")),
        Request::new("sts:AssumeRole", ADMIN_ROLE),
        tagged_request(Request::new(
            "iam:CreateOpenIDConnectProvider",
            &format!("arn:aws:iam::{A}:oidc-provider/s3.eu-west-1.amazonaws.com/acme-oidc/c1"),
        )),
        Request::new("s3:PutObject", "arn:aws:s3:::acme-oidc/c1/openid/v1/jwks"),
        Request::new("s3:PutBucketPolicy", "arn:aws:s3:::acme-oidc"),
    ];
    for r in legit {
        assert!(allows(&p, &r), "should be allowed: {r:?}");
    }
}

#[test]
fn every_known_escalation_is_denied() {
    for p in [policy(&[]), policy(&["--permissions-boundary", BOUNDARY])] {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let attacks = [
            // Attach an administrator policy to a role it can create and assume.
            ours(Request::new("iam:AttachRolePolicy", &role("mine")))
                .with("iam:PolicyARN", admin)
                .with("iam:PermissionsBoundary", BOUNDARY),
            // A role outside irsa-issuer's path.
            tagged_request(Request::new(
                "iam:CreateRole",
                &format!("arn:aws:iam::{A}:role/backdoor"),
            ))
            .with("iam:PermissionsBoundary", BOUNDARY),
            // A role not tagged as this issuer's.
            Request::new("iam:CreateRole", &role("untagged")),
            // Rewrite the trust policy of an existing administrator role.
            Request::new(
                "iam:UpdateAssumeRolePolicy",
                &format!("arn:aws:iam::{A}:role/OrganizationAdmin"),
            ),
            // ... or of another cluster's role under the same path.
            Request::new("iam:UpdateAssumeRolePolicy", &role("c2-reader"))
                .with("aws:ResourceTag/managed-by", "irsa-issuer")
                .with(
                    "aws:ResourceTag/irsa-issuer/issuer",
                    "https://s3.eu-west-1.amazonaws.com/acme-oidc/c2",
                ),
            // Adopt a role another tool tagged, to then rewrite it.
            tagged_request(Request::new("iam:TagRole", &role("terraformed")))
                .with("aws:ResourceTag/managed-by", "terraform"),
            // Two steps: tag an untagged administrator role outside the path as this
            // issuer's (as if creating it), then rewrite its trust policy as "ours".
            tagged_request(Request::new(
                "iam:TagRole",
                &format!("arn:aws:iam::{A}:role/OrganizationAdmin"),
            )),
            ours(Request::new(
                "iam:UpdateAssumeRolePolicy",
                &format!("arn:aws:iam::{A}:role/OrganizationAdmin"),
            )),
            ours(Request::new(
                "iam:AttachRolePolicy",
                &format!("arn:aws:iam::{A}:role/OrganizationAdmin"),
            ))
            .with("iam:PolicyARN", READER)
            .with("iam:PermissionsBoundary", BOUNDARY),
            // Inline policies (any permission) without the boundary.
            ours(Request::new("iam:PutRolePolicy", &role("mine"))),
            // Remove or replace the boundary.
            ours(Request::new(
                "iam:DeleteRolePermissionsBoundary",
                &role("mine"),
            )),
            ours(Request::new(
                "iam:PutRolePermissionsBoundary",
                &role("mine"),
            ))
            .with("iam:PermissionsBoundary", admin),
            // Assume any role that trusts the account.
            Request::new(
                "sts:AssumeRole",
                &format!("arn:aws:iam::{A}:role/OrganizationAccountAccessRole"),
            ),
            Request::new("iam:PassRole", &role("mine")),
            Request::new(
                "iam:CreatePolicyVersion",
                &format!("arn:aws:iam::{A}:policy/reader"),
            ),
            Request::new("iam:CreateUser", &format!("arn:aws:iam::{A}:user/x")),
            // Another issuer's provider: trust a thumbprint of one's own.
            Request::new(
                "iam:UpdateOpenIDConnectProviderThumbprint",
                &format!("arn:aws:iam::{A}:oidc-provider/evil.example.com"),
            ),
            Request::new("s3:PutBucketPolicy", "arn:aws:s3:::someone-elses-bucket"),
            Request::new(
                "s3:PutObject",
                "arn:aws:s3:::acme-oidc/other-cluster/keys.json",
            ),
        ];
        for r in attacks {
            assert!(!allows(&p, &r), "escalation allowed: {r:?}\n{p:#}");
        }
    }
}

/// Whatever the inputs, no statement grants a dangerous action without its limit: this holds
/// for every statement of every variant, not only for the requests above.
#[test]
fn no_statement_grants_a_dangerous_action_unbounded() {
    let variants = [
        policy(&[]),
        policy(&["--permissions-boundary", BOUNDARY]),
        policy(&["--role-path", "/platform/irsa/"]),
    ];
    let allowed_actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:PutObjectAcl",
        "s3:DeleteObject",
        "s3:GetBucketLocation",
        "s3:ListBucket",
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "iam:GetOpenIDConnectProvider",
        "iam:CreateOpenIDConnectProvider",
        "iam:TagOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint",
        "iam:AddClientIDToOpenIDConnectProvider",
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListRoleTags",
        "iam:ListRoles",
        "iam:CreateRole",
        "iam:TagRole",
        "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
        "iam:AttachRolePolicy",
        "iam:PutRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "sts:AssumeRole",
    ];
    for p in &variants {
        for s in p["Statement"].as_array().unwrap() {
            let actions: Vec<&str> = s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let cond = s.get("Condition").cloned().unwrap_or(Value::Null);
            let has = |op: &str, key: &str| cond[op].get(key).is_some();
            for a in &actions {
                assert!(!a.contains('*'), "a wildcard action: {s}");
                assert!(allowed_actions.contains(a), "{a} is granted: {s}");
            }
            let resources: Vec<String> = match &s["Resource"] {
                Value::String(r) => vec![r.clone()],
                Value::Array(v) => v.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
                _ => panic!("{s}"),
            };
            let writes_roles = actions.iter().any(|a| {
                a.starts_with("iam:") && !a.starts_with("iam:Get") && !a.starts_with("iam:List")
            });
            if writes_roles {
                assert!(
                    has("StringEquals", "aws:ResourceTag/managed-by")
                        || has("StringEquals", "aws:RequestTag/managed-by"),
                    "an IAM write without an ownership condition: {s}"
                );
            }
            if actions.contains(&"iam:AttachRolePolicy") {
                assert!(has("ArnEquals", "iam:PolicyARN"), "{s}");
            }
            if actions.contains(&"iam:PutRolePolicy")
                || actions.contains(&"iam:PutRolePermissionsBoundary")
            {
                assert!(has("StringEquals", "iam:PermissionsBoundary"), "{s}");
            }
            if actions.contains(&"sts:AssumeRole") {
                assert!(resources.iter().all(|r| r == ADMIN_ROLE), "{s}");
            }
            // A role write reaches only roles under a path of irsa-issuer's own, never every
            // role: an untagged role elsewhere cannot be tagged and taken over.
            if actions.iter().any(|a| {
                a.starts_with("iam:")
                    && a.contains("Role")
                    && !a.starts_with("iam:Get")
                    && !a.starts_with("iam:List")
            }) {
                for r in &resources {
                    let path = r
                        .split_once(":role")
                        .map(|(_, p)| p)
                        .unwrap_or_else(|| panic!("{s}"));
                    assert!(
                        path.len() > "/*".len() && path.ends_with("/*"),
                        "role write on {r}: {s}"
                    );
                }
            }
            // No wildcard hides in a condition value (ArnEquals matches wildcards).
            for (_, block) in cond.as_object().into_iter().flatten() {
                for (key, v) in block.as_object().unwrap() {
                    assert!(
                        !v.to_string().contains(['*', '?']),
                        "wildcard in {key}: {s}"
                    );
                }
            }
            // Only listing (names and paths, nothing else) may be on *: it has no resource-level
            // permissions.
            if resources.iter().any(|r| r == "*") {
                assert_eq!(actions, ["iam:ListRoles"], "a statement on *: {s}");
            }
        }
    }
}

#[test]
fn assume_role_without_roles_is_refused() {
    let o = common::run(&["iam-policy", "--for", "assume-role"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("--assume-role ARN"),
        "{}",
        common::stderr(&o)
    );
}

/// Inputs that would widen the policy are refused, with the reason and the fix, and nothing is
/// printed.
#[test]
fn inputs_that_would_widen_the_policy_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--for", "role", "--role-path", "/", "--issuer", ISSUER],
            "the role path /",
        ),
        (
            &[
                "--for",
                "role",
                "--issuer",
                ISSUER,
                "--policy-arn",
                "arn:aws:iam::aws:policy/*",
            ],
            "wildcards",
        ),
        (
            &[
                "--for",
                "role",
                "--issuer",
                ISSUER,
                "--permissions-boundary",
                "arn:aws:iam::aws:policy/Power*",
            ],
            "wildcards",
        ),
        (
            &[
                "--for",
                "assume-role",
                "--assume-role",
                "arn:aws:iam::111122223333:role/*",
            ],
            "wildcards",
        ),
        (
            &[
                "--for",
                "role",
                "--issuer",
                ISSUER,
                "--policy-arn",
                "ReadOnly",
            ],
            "managed policy ARN",
        ),
        (&["--for", "provider"], "needs the issuer"),
        (&["--for", "bucket"], "needs the bucket"),
        (&["--for", "destroy"], "needs the bucket"),
    ];
    for (args, why) in cases {
        let mut full = vec!["iam-policy"];
        full.extend_from_slice(args);
        let o = common::run(&full);
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed a policy");
    }
}
