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
        // destroy --delete-bucket: which providers another spelling of the bucket's URL has.
        "iam:ListOpenIDConnectProviders",
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
                assert!(
                    actions == ["iam:ListRoles"] || actions == ["iam:ListOpenIDConnectProviders"],
                    "a statement on *: {s}"
                );
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

// --- CloudFront -------------------------------------------------------------------------------

const TARGET: &str = "s3://acme-oidc/c1";

fn dist(id: &str) -> String {
    format!("arn:aws:cloudfront::{A}:distribution/{id}")
}

fn cdn_policy(extra: &[&str]) -> Value {
    let mut args = vec!["iam-policy", "--for", "cdn", "--to", TARGET];
    args.extend(extra);
    let o = common::run(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A TagResource or CreateDistribution request carrying `tags` (what IAM puts in the request
/// context: each aws:RequestTag/KEY, and aws:TagKeys with every key).
fn with_tags(mut r: Request, tags: &[(&str, &str)]) -> Request {
    for (k, v) in tags {
        r = r
            .with(&format!("aws:RequestTag/{k}"), v)
            .with("aws:TagKeys", k);
    }
    r
}

/// What a distribution tagged as this target's carries (aws:ResourceTag/KEY).
fn tagged_as_ours(r: Request) -> Request {
    r.with("aws:ResourceTag/managed-by", "irsa-issuer")
        .with("aws:ResourceTag/irsa-issuer/target", TARGET)
}

const OURS: &[(&str, &str)] = &[
    ("managed-by", "irsa-issuer"),
    ("irsa-issuer/target", TARGET),
];

/// Before the distribution exists (nothing pinned): it can be created and tagged as this
/// target's, and nothing can be changed or deleted; the two-step take-over (tag someone else's
/// distribution as ours, then update, invalidate or delete it "as ours") stops at step two,
/// whatever tags the distribution carries.
#[test]
fn cdn_bootstrap_creates_and_grants_nothing_on_tagged_distributions() {
    let p = cdn_policy(&[]);
    let mine = dist("EMINE");
    let legit = [
        with_tags(Request::new("cloudfront:CreateDistribution", "*"), OURS),
        with_tags(Request::new("cloudfront:TagResource", &mine), OURS),
        with_tags(
            Request::new("cloudfront:TagResource", &mine),
            &[
                OURS[0],
                OURS[1],
                ("irsa-issuer/issuer", "https://d1.cloudfront.net/c1"),
            ],
        ),
        Request::new("cloudfront:CreateOriginAccessControl", "*"),
        Request::new("cloudfront:CreateCachePolicy", "*"),
        Request::new("cloudfront:ListDistributions", "*"),
        Request::new("cloudfront:GetDistribution", &mine),
        Request::new("cloudfront:ListTagsForResource", &mine),
    ];
    for r in legit {
        assert!(allows(&p, &r), "should be allowed: {r:?}\n{p:#}");
    }
    let victim = dist("EVICTIM");
    let attacks = [
        // Step two of the take-over, after tagging the victim as ours: no action on a
        // distribution is granted by its tags.
        tagged_as_ours(Request::new("cloudfront:UpdateDistribution", &victim)),
        tagged_as_ours(Request::new("cloudfront:DeleteDistribution", &victim)),
        tagged_as_ours(Request::new("cloudfront:CreateInvalidation", &victim)),
        tagged_as_ours(Request::new("cloudfront:UntagResource", &victim)),
        // Not even our own is changed before it is pinned.
        tagged_as_ours(Request::new("cloudfront:UpdateDistribution", &mine)),
        // Tags that are not irsa-issuer's, or without irsa-issuer's two.
        with_tags(
            Request::new("cloudfront:TagResource", &victim),
            &[OURS[0], OURS[1], ("owner", "me")],
        ),
        with_tags(
            Request::new("cloudfront:TagResource", &victim),
            &[("irsa-issuer/issuer", "https://d1.cloudfront.net/c1")],
        ),
        with_tags(
            Request::new("cloudfront:TagResource", &victim),
            &[OURS[0], ("irsa-issuer/target", "s3://other/c2")],
        ),
        with_tags(
            Request::new("cloudfront:CreateDistribution", "*"),
            &[OURS[0]],
        ),
        // Someone else's origin access control or cache policy.
        Request::new(
            "cloudfront:UpdateOriginAccessControl",
            &format!("arn:aws:cloudfront::{A}:origin-access-control/EOTHER"),
        ),
        Request::new(
            "cloudfront:DeleteCachePolicy",
            &format!("arn:aws:cloudfront::{A}:cache-policy/other"),
        ),
        Request::new(
            "cloudfront:UpdateCachePolicy",
            &format!("arn:aws:cloudfront::{A}:cache-policy/other"),
        ),
    ];
    for r in attacks {
        assert!(!allows(&p, &r), "escalation allowed: {r:?}\n{p:#}");
    }
}

/// Pinned: every update, deletion, invalidation and tag is on exactly the pinned ARNs, and
/// nothing is created; the take-over path is closed at both steps.
#[test]
fn cdn_pinned_ids_scope_every_change_to_exactly_them() {
    let p = cdn_policy(&[
        "--distribution-id",
        "EMINE",
        "--origin-access-control-id",
        "OMINE",
        "--cache-policy-id",
        "658327ea-f89d-4fab-a63d-7e88639e58f6",
    ]);
    let mine = dist("EMINE");
    let oac = |id: &str| format!("arn:aws:cloudfront::{A}:origin-access-control/{id}");
    let policy = |id: &str| format!("arn:aws:cloudfront::{A}:cache-policy/{id}");
    let cp = policy("658327ea-f89d-4fab-a63d-7e88639e58f6");
    for action in [
        "GetDistribution",
        "GetDistributionConfig",
        "ListTagsForResource",
        "UpdateDistribution",
        "CreateInvalidation",
        "TagResource",
        "DeleteDistribution",
    ] {
        let r = Request::new(&format!("cloudfront:{action}"), &mine);
        assert!(allows(&p, &r), "should be allowed: {r:?}");
        // Another distribution, tagged as ours or not.
        let other = tagged_as_ours(Request::new(&format!("cloudfront:{action}"), &dist("E2")));
        assert!(!allows(&p, &other), "allowed: {other:?}\n{p:#}");
    }
    for action in [
        "GetOriginAccessControl",
        "UpdateOriginAccessControl",
        "DeleteOriginAccessControl",
    ] {
        assert!(allows(
            &p,
            &Request::new(&format!("cloudfront:{action}"), &oac("OMINE"))
        ));
        assert!(!allows(
            &p,
            &Request::new(&format!("cloudfront:{action}"), &oac("EOTHER"))
        ));
    }
    for action in ["GetCachePolicy", "UpdateCachePolicy", "DeleteCachePolicy"] {
        assert!(allows(
            &p,
            &Request::new(&format!("cloudfront:{action}"), &cp)
        ));
        assert!(!allows(
            &p,
            &Request::new(&format!("cloudfront:{action}"), &policy("other"))
        ));
    }
    for create in [
        "CreateDistribution",
        "CreateOriginAccessControl",
        "CreateCachePolicy",
    ] {
        let r = with_tags(Request::new(&format!("cloudfront:{create}"), "*"), OURS);
        assert!(!allows(&p, &r), "pinned, yet may create: {r:?}\n{p:#}");
    }
}

/// For any scope: no CloudFront write reaches a wildcard resource without a limit. Creating
/// takes `*` (CloudFront has no resource-level permission for it) and tagging a new distribution
/// takes `distribution/*`, both only with irsa-issuer's tags; nothing else writes on a wildcard.
#[test]
fn no_cloudfront_write_is_on_a_wildcard_without_its_tags() {
    let variants = [
        cdn_policy(&[]),
        cdn_policy(&["--distribution-id", "EMINE"]),
        cdn_policy(&[
            "--cache-policy-id",
            "P1",
            "--origin-access-control-id",
            "O1",
        ]),
    ];
    for p in &variants {
        for s in p["Statement"].as_array().unwrap() {
            let actions: Vec<&str> = s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let resource = s["Resource"].as_str().unwrap();
            let cond = s.get("Condition").cloned().unwrap_or(Value::Null);
            for a in &actions {
                let op = a.strip_prefix("cloudfront:").unwrap();
                let reads = op.starts_with("Get") || op.starts_with("List");
                // The account is `*` (CloudFront ids are unique across accounts); the resource
                // part after it is what must be exact.
                let id = resource.rsplit(':').next().unwrap();
                if reads || !id.contains('*') {
                    continue;
                }
                match op {
                    "CreateOriginAccessControl" | "CreateCachePolicy" => {
                        assert_eq!(resource, "*", "{s}")
                    }
                    "CreateDistribution" | "TagResource" => {
                        assert_eq!(
                            cond["StringEquals"]["aws:RequestTag/managed-by"], "irsa-issuer",
                            "{s}"
                        );
                        assert_eq!(
                            cond["StringEquals"]["aws:RequestTag/irsa-issuer/target"], TARGET,
                            "{s}"
                        );
                        assert!(
                            cond["ForAllValues:StringEquals"]["aws:TagKeys"].is_array(),
                            "{s}"
                        );
                    }
                    _ => panic!("{a} on {resource}: {s}"),
                }
            }
        }
    }
}

/// Behind CloudFront without an alias, the issuer is the distribution's domain, unknown before
/// CloudFront names it: providers and roles are refused until the file pins `issuer` (never
/// scoped to a pattern, which would reach every other CloudFront cluster's providers and roles),
/// and once pinned they are scoped to exactly it.
#[test]
fn a_cloudfront_issuer_not_known_yet_is_never_a_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let base = format!("target = \"{TARGET}\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"k\"\n[tags]\ncluster = \"c1\"\n[cdn]\nkind = \"cloudfront\"\n");
    std::fs::write(&file, &base).unwrap();
    let f = file.to_str().unwrap();
    for caps in ["provider", "role", "publish,bucket,provider,role,cdn"] {
        let o = common::run(&["iam-policy", "-f", f, "--for", caps]);
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{caps}: {err}");
        assert!(err.contains("set `issuer = "), "{caps}: {err}");
        assert!(o.stdout.is_empty(), "{caps} printed a policy");
    }
    // The bootstrap (no provider, no role) is printed, its tag keys the file's too.
    let o = common::run(&["iam-policy", "-f", f, "--for", "publish,bucket,cdn"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("CloudFront bootstrap"),
        "{}",
        common::stderr(&o)
    );
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(allows(
        &p,
        &with_tags(
            Request::new("cloudfront:CreateDistribution", "*"),
            &[OURS[0], OURS[1], ("cluster", "c1")]
        )
    ));
    // Pinned issuer (and distribution): providers and roles of exactly this issuer.
    let issuer = "https://d111111abcdef8.cloudfront.net/c1";
    std::fs::write(
        &file,
        base.replace("[cdn]\n", "[cdn]\ndistribution_id = \"E111111ABCDEF8\"\n")
            .replacen("target", &format!("issuer = \"{issuer}\"\ntarget"), 1),
    )
    .unwrap();
    let o = common::run(&["iam-policy", "-f", f, "--for", "provider,role,cdn"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!o.stdout.windows(16).any(|w| w == b"*.cloudfront.net"));
    let provider = |host: &str| format!("arn:aws:iam::{A}:oidc-provider/{host}/c1");
    let owned = |r: Request, i: &str| {
        r.with("aws:ResourceTag/managed-by", "irsa-issuer")
            .with("aws:ResourceTag/irsa-issuer/issuer", i)
    };
    assert!(allows(
        &p,
        &owned(
            Request::new(
                "iam:UpdateOpenIDConnectProviderThumbprint",
                &provider("d111111abcdef8.cloudfront.net")
            ),
            issuer
        )
    ));
    // Another CloudFront cluster's provider and role in the same account.
    let other = "https://d222222abcdef8.cloudfront.net/c1";
    assert!(!allows(
        &p,
        &owned(
            Request::new(
                "iam:UpdateOpenIDConnectProviderThumbprint",
                &provider("d222222abcdef8.cloudfront.net")
            ),
            other
        )
    ));
    assert!(!allows(
        &p,
        &owned(
            Request::new("iam:UpdateAssumeRolePolicy", &role("c2-reader")),
            other
        )
    ));
}
