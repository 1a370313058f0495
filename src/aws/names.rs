//! AWS naming rules, pure: partitions, S3 locations and the issuer an S3 bucket serves,
//! OIDC-provider ARNs, SHA-1 thumbprints. Everything is checked before any call is made.

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::oidc::issuer::{IssuerError, IssuerUrl};

/// An AWS partition: it decides ARNs, DNS suffixes and the default STS audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Partition {
    /// Commercial regions.
    Aws,
    /// China (Beijing, Ningxia).
    AwsCn,
    /// GovCloud (US).
    AwsUsGov,
}

impl Partition {
    /// The partition of a region name.
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Self::AwsCn
        } else if region.starts_with("us-gov-") {
            Self::AwsUsGov
        } else {
            Self::Aws
        }
    }

    /// The partition named in an ARN (`arn:PARTITION:...`).
    pub fn of_arn(arn: &str) -> Option<Self> {
        match arn.split(':').nth(1)? {
            "aws" => Some(Self::Aws),
            "aws-cn" => Some(Self::AwsCn),
            "aws-us-gov" => Some(Self::AwsUsGov),
            _ => None,
        }
    }

    /// The ARN spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }

    /// The DNS suffix of service endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Self::AwsCn => "amazonaws.com.cn",
            _ => "amazonaws.com",
        }
    }

    /// The partition of a region, checked: a name shaped like `eu-west-1`, in a partition
    /// irsa-issuer knows (not the isolated ones, whose endpoints and ARNs it does not build).
    pub fn for_region(region: &str) -> Result<Self, NameError> {
        let bad = |reason| NameError::Region {
            region: region.into(),
            reason,
        };
        let parts: Vec<&str> = region.split('-').collect();
        let shaped = parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if !shaped {
            return Err(bad("it is not a region name such as eu-west-1"));
        }
        if parts.iter().any(|p| p.starts_with("iso")) {
            return Err(bad(
                "it is in an isolated partition (aws-iso*), which irsa-issuer does not support",
            ));
        }
        Ok(Self::of_region(region))
    }

    /// The partition an issuer URL implies, when it is an AWS endpoint (S3, CloudFront in
    /// China): `None` for any other host.
    pub fn of_issuer(issuer: &IssuerUrl) -> Option<Self> {
        let host = issuer.host();
        if host.ends_with(".amazonaws.com.cn") {
            return Some(Self::AwsCn);
        }
        let (_, _, region) = s3_issuer_parts(issuer)?;
        Some(region.map_or(Self::Aws, |r| Self::of_region(&r)))
    }
}

/// The audience STS expects in web-identity tokens: `sts.amazonaws.com` in every partition, as
/// AWS's pod-identity webhook, eksctl and kops use it (China included: a `.com.cn` audience
/// breaks the webhook's default and every role that trusts the usual one).
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// The ARN of the IAM OIDC provider for `issuer` in `account`.
pub fn provider_arn(partition: Partition, account: &str, issuer: &IssuerUrl) -> String {
    format!(
        "arn:{}:iam::{account}:oidc-provider/{}",
        partition.as_str(),
        issuer.provider_id()
    )
}

/// Why an AWS name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Bucket name against the S3 naming rules.
    #[error("`{bucket}` is not a valid S3 bucket name: {reason} (see the S3 bucket naming rules)")]
    Bucket {
        /// The name.
        bucket: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// A bad `s3://` target.
    #[error("`{target}` is not a usable S3 target: {reason}; write it as s3://BUCKET or s3://BUCKET/PREFIX")]
    Target {
        /// What was given.
        target: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The issuer points at another bucket or prefix than the target.
    #[error("--issuer {issuer} points at {found}, but the documents go to {target}: tokens would name an issuer whose documents are elsewhere. Drop --issuer to derive it from the target ({derived}), or make the two agree")]
    IssuerMismatch {
        /// The issuer given.
        issuer: String,
        /// What the issuer points at.
        found: String,
        /// The publish target.
        target: String,
        /// The issuer derived from the target.
        derived: String,
    },
    /// A thumbprint that is not 40 hex digits.
    #[error("`{0}` is not a certificate thumbprint: expected the SHA-1 fingerprint as 40 hexadecimal digits (colons allowed), e.g. from `irsa-issuer thumbprint URL`")]
    Thumbprint(String),
    /// A region name that is malformed or in an unknown partition.
    #[error("`{region}` is not a usable AWS region: {reason}")]
    Region {
        /// What was given.
        region: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The global S3 endpoint for a bucket outside us-east-1.
    #[error("the issuer {issuer} uses S3's global endpoint (s3.amazonaws.com), but the bucket is in {region}: S3 answers with a redirect there, which STS does not follow; use https://s3.{region}.amazonaws.com/... (the issuer irsa-issuer derives)")]
    GlobalEndpoint {
        /// The issuer.
        issuer: String,
        /// The bucket's region.
        region: String,
    },
    /// The derived issuer is not a valid issuer URL.
    #[error(transparent)]
    Issuer(#[from] IssuerError),
    /// An IAM ARN (role, managed policy) that is malformed or holds a wildcard.
    #[error("`{arn}` is not {kind}: {reason}")]
    Arn {
        /// What was given.
        arn: String,
        /// What it should be, with an example.
        kind: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Which kind of IAM ARN [`validate_iam_arn`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamArnKind {
    /// `arn:PARTITION:iam::ACCOUNT:role[/PATH]/NAME`.
    Role,
    /// `arn:PARTITION:iam::(ACCOUNT|aws):policy[/PATH]/NAME`.
    Policy,
}

/// Checks an IAM role or managed-policy ARN that will reach a policy document or an IAM call:
/// the shape, a known partition, and none of `*`, `?` or `$` (in an ARN condition or resource
/// those are wildcards and variables: `policy/*` would match AdministratorAccess).
pub fn validate_iam_arn(arn: &str, kind: IamArnKind) -> Result<(), NameError> {
    let (what, resource_type) = match kind {
        IamArnKind::Role => ("an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", "role"),
        IamArnKind::Policy => (
            "a managed policy ARN (arn:aws:iam::aws:policy/NAME or arn:aws:iam::123456789012:policy/NAME)",
            "policy",
        ),
    };
    let err = |reason| {
        Err(NameError::Arn {
            arn: arn.to_string(),
            kind: what,
            reason,
        })
    };
    if arn.contains(['*', '?', '$']) {
        return err("`*`, `?` and `$` are wildcards or variables in IAM policies; name one resource exactly");
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [head, _partition, service, region, account, resource] = parts[..] else {
        return err("an ARN has six colon-separated parts");
    };
    if head != "arn" || service != "iam" || !region.is_empty() {
        return err("it must start with arn:PARTITION:iam:: (IAM ARNs have no region)");
    }
    if Partition::of_arn(arn).is_none() {
        return err("the partition must be aws, aws-cn or aws-us-gov");
    }
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if !(account_ok || (kind == IamArnKind::Policy && account == "aws")) {
        return err("the account must be 12 digits (or `aws` for an AWS managed policy)");
    }
    let Some(path_and_name) = resource
        .strip_prefix(resource_type)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return err("the resource must be TYPE/NAME, with TYPE role or policy as asked");
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c);
    if name.is_empty() || !path_and_name.chars().all(ok_char) || path_and_name.contains("//") {
        return err(
            "the name (and path) must be letters, digits and +=,.@-_ (paths separated by /)",
        );
    }
    if name.len() > if kind == IamArnKind::Role { 64 } else { 128 } {
        return err("the name is longer than IAM allows (64 for a role, 128 for a policy)");
    }
    Ok(())
}

/// A bucket and an optional key prefix: where an S3 target publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The prefix without slashes at either end, or "".
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://BUCKET[/PREFIX]`, checking the bucket name against S3's rules.
    pub fn parse(target: &str) -> Result<Self, NameError> {
        let bad = |reason| NameError::Target {
            target: target.into(),
            reason,
        };
        let rest = target
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        if prefix.starts_with('/')
            || prefix.split('/').any(|s| s == "." || s == "..")
            || prefix.contains("//")
        {
            return Err(bad("the prefix has empty, '.' or '..' segments"));
        }
        if prefix.contains(['?', '#', '\\']) || prefix.chars().any(char::is_whitespace) {
            return Err(bad(
                "the prefix may not contain '?', '#', '\\' or white space",
            ));
        }
        if prefix.contains(crate::oidc::issuer::POLICY_SPECIAL) {
            return Err(bad("the prefix may not contain '*', '?' or '$': it becomes a resource in the bucket policy and in IAM policies, where they are wildcards and variables (s3://bkt/c1/* would make the whole prefix public)"));
        }
        validate_bucket(bucket)?;
        Ok(Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
        })
    }

    /// The issuer this location serves through S3's path-style regional endpoint:
    /// `https://s3.REGION.amazonaws.com/BUCKET[/PREFIX]` (works for bucket names with dots).
    pub fn issuer(&self, region: &str) -> Result<IssuerUrl, NameError> {
        let suffix = Partition::of_region(region).dns_suffix();
        let mut url = format!("https://s3.{region}.{suffix}/{}", self.bucket);
        if !self.prefix.is_empty() {
            url.push('/');
            url.push_str(&self.prefix);
        }
        Ok(IssuerUrl::parse(&url, false)?)
    }

    /// Checks that `issuer`, when it points at S3, points at this bucket and prefix (in
    /// `region` when it names one). An issuer on another host (a CDN in front of the bucket)
    /// is accepted as is.
    pub fn check_issuer(&self, issuer: &IssuerUrl, region: &str) -> Result<(), NameError> {
        let Some((bucket, prefix, issuer_region)) = s3_issuer_parts(issuer) else {
            return Ok(());
        };
        let region_ok = issuer_region.as_deref().is_none_or(|r| r == region);
        if bucket == self.bucket && prefix == self.prefix && region_ok {
            if issuer_region.is_none() && region != "us-east-1" {
                return Err(NameError::GlobalEndpoint {
                    issuer: issuer.to_string(),
                    region: region.to_string(),
                });
            }
            return Ok(());
        }
        let found = match issuer_region {
            Some(r) => format!("{} in {r}", display(&bucket, &prefix)),
            None => display(&bucket, &prefix),
        };
        Err(NameError::IssuerMismatch {
            issuer: issuer.to_string(),
            found,
            target: format!("{} in {region}", display(&self.bucket, &self.prefix)),
            derived: self
                .issuer(region)
                .map(|i| i.to_string())
                .unwrap_or_default(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display(&self.bucket, &self.prefix))
    }
}

fn display(bucket: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{prefix}")
    }
}

/// The S3 endpoint a host names: `Some((bucket for virtual-hosted, region))` for `s3`,
/// `s3.REGION`, `s3-REGION` (legacy), `s3.dualstack.REGION`, `s3-fips.REGION`,
/// `s3-fips.dualstack.REGION` below amazonaws.com(.cn), path-style or as `BUCKET.ENDPOINT`.
fn s3_endpoint(host: &str) -> Option<(Option<String>, Option<String>)> {
    let base = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let region_of = |endpoint: &str| -> Option<Option<String>> {
        if endpoint == "s3" {
            return Some(None);
        }
        let r = [
            "s3-fips.dualstack.",
            "s3.dualstack.",
            "s3-fips.",
            "s3.",
            "s3-",
        ]
        .iter()
        .find_map(|p| endpoint.strip_prefix(p))?;
        if r.is_empty() || r.contains('.') {
            return None;
        }
        Some(Some(r.to_string()))
    };
    if let Some(region) = region_of(base) {
        return Some((None, region));
    }
    let idx = base.find(".s3")?;
    let region = region_of(&base[idx + 1..])?;
    Some((Some(base[..idx].to_string()), region))
}

/// Whether a host is an S3 endpoint (IAM trusts S3's certificates through its own CA library).
pub fn is_s3_host(host: &str) -> bool {
    s3_endpoint(host).is_some()
}

/// (bucket, prefix, region) for an issuer served by S3, path-style or virtual-hosted.
fn s3_issuer_parts(issuer: &IssuerUrl) -> Option<(String, String, Option<String>)> {
    let path = issuer.path_prefix().trim_start_matches('/');
    match s3_endpoint(issuer.host())? {
        // Path style: s3[.REGION].amazonaws.com/BUCKET/PREFIX
        (None, region) => {
            let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
            Some((bucket.into(), prefix.into(), region))
        }
        // Virtual-hosted: BUCKET.s3[.REGION].amazonaws.com/PREFIX
        (Some(bucket), region) => Some((bucket, path.into(), region)),
    }
}

/// Whether `issuer` is served by S3 (path-style or virtual-hosted, any regional endpoint form):
/// IAM then trusts the JWKS through its own CA library and uses no thumbprint.
pub fn is_s3_issuer(issuer: &IssuerUrl) -> bool {
    s3_issuer_parts(issuer).is_some()
}

/// Whether an OIDC provider URL (`https://` optional, as IAM lists it without) is served from
/// the S3 bucket `bucket`, in any spelling of an S3 endpoint: path-style
/// (`s3.amazonaws.com/BUCKET`, `s3.REGION.amazonaws.com/BUCKET`, `s3-REGION`, `s3.dualstack`,
/// `s3-fips`, `.amazonaws.com.cn`) or virtual-hosted (`BUCKET.s3.REGION.amazonaws.com`), any
/// prefix. Such a provider trusts whoever holds the bucket's name.
pub fn url_served_from_bucket(url: &str, bucket: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let Some(endpoint) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    // Virtual-hosted: BUCKET.s3[...]
    if let Some(after) = endpoint.strip_prefix(&format!("{bucket}.")) {
        if after.split('.').next().is_some_and(|l| l.starts_with("s3")) {
            return true;
        }
    }
    // Path-style: s3[...]/BUCKET[/...]
    let first = endpoint.split('.').next().unwrap_or_default();
    first.starts_with("s3") && path.split('/').next() == Some(bucket)
}

/// S3's bucket naming rules for general-purpose buckets.
pub fn validate_bucket(bucket: &str) -> Result<(), NameError> {
    let bad = |reason| NameError::Bucket {
        bucket: bucket.into(),
        reason,
    };
    if !(3..=63).contains(&bucket.len()) {
        return Err(bad("it must be 3 to 63 characters long"));
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad(
            "only lowercase letters, digits, dots and hyphens are allowed",
        ));
    }
    let first_last = [bucket.as_bytes()[0], bucket.as_bytes()[bucket.len() - 1]];
    if !first_last
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(bad("it must begin and end with a letter or digit"));
    }
    if bucket.contains("..") {
        return Err(bad("it may not contain two adjacent dots"));
    }
    if bucket.parse::<Ipv4Addr>().is_ok() {
        return Err(bad("it may not be formatted as an IP address"));
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if bucket.starts_with(p) {
            return Err(bad("it may not start with xn--, sthree- or amzn-s3-demo-"));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if bucket.ends_with(s) {
            return Err(bad(
                "it may not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3",
            ));
        }
    }
    Ok(())
}

/// A certificate's SHA-1 fingerprint as IAM wants it: 40 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Thumbprint(String);

impl Thumbprint {
    /// The thumbprint of a DER certificate.
    pub fn of_der(cert_der: &[u8]) -> Self {
        Self(
            Sha1::digest(cert_der)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// Parses 40 hex digits, upper or lower case, colons allowed (as openssl prints them).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let hex: String = text
            .trim()
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex))
        } else {
            Err(NameError::Thumbprint(text.into()))
        }
    }

    /// The 40 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identity of the credentials in use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Caller {
    /// The account ID.
    pub account: String,
    /// The principal's ARN.
    pub arn: String,
    /// The partition, from the ARN.
    pub partition: Partition,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_served_from_a_bucket_in_every_s3_spelling() {
        for url in [
            "s3.eu-west-1.amazonaws.com/acme-oidc/c1",
            "https://s3.eu-west-1.amazonaws.com/acme-oidc",
            "s3.amazonaws.com/acme-oidc/other-prefix",
            "s3-eu-west-1.amazonaws.com/acme-oidc/c1",
            "s3.dualstack.eu-west-1.amazonaws.com/acme-oidc/c1",
            "s3-fips.us-east-1.amazonaws.com/acme-oidc/c1",
            "s3.cn-north-1.amazonaws.com.cn/acme-oidc/c1",
            "acme-oidc.s3.eu-west-1.amazonaws.com/c1",
            "acme-oidc.s3.amazonaws.com",
            "ACME-OIDC.S3.EU-WEST-1.AMAZONAWS.COM/c1",
            "acme-oidc.s3-eu-west-1.amazonaws.com/c1",
            "acme-oidc.s3.dualstack.eu-west-1.amazonaws.com/c1",
        ] {
            assert!(url_served_from_bucket(url, "acme-oidc"), "{url}");
        }
        for url in [
            "s3.eu-west-1.amazonaws.com/acme-oidc-2/c1",
            "s3.eu-west-1.amazonaws.com/other/acme-oidc",
            "acme-oidc-2.s3.eu-west-1.amazonaws.com/c1",
            "x.acme-oidc.s3.eu-west-1.amazonaws.com/c1",
            "oidc.example.com/acme-oidc",
            "acme-oidc.example.com/c1",
            "d111111abcdef8.cloudfront.net/acme-oidc",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "sts.amazonaws.com/acme-oidc",
        ] {
            assert!(!url_served_from_bucket(url, "acme-oidc"), "{url}");
        }
    }

    #[test]
    fn iam_arns_are_checked_and_wildcards_refused() {
        for ok in [
            "arn:aws:iam::123456789012:role/irsa/reader",
            "arn:aws-cn:iam::123456789012:role/r",
        ] {
            assert_eq!(validate_iam_arn(ok, IamArnKind::Role), Ok(()), "{ok}");
        }
        for ok in [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AmazonEKSClusterPolicy",
            "arn:aws-us-gov:iam::123456789012:policy/team/reader",
        ] {
            assert_eq!(validate_iam_arn(ok, IamArnKind::Policy), Ok(()), "{ok}");
        }
        let reason = |arn: &str, kind| match validate_iam_arn(arn, kind) {
            Err(NameError::Arn { reason, .. }) => reason,
            other => panic!("{arn}: {other:?}"),
        };
        assert!(reason("arn:aws:iam::aws:policy/*", IamArnKind::Policy).contains("wildcards"));
        assert!(reason("arn:aws:iam::aws:policy/Admin?", IamArnKind::Policy).contains("wildcards"));
        assert!(reason("arn:aws:iam::123456789012:role/*", IamArnKind::Role).contains("wildcards"));
        assert!(reason("arn:aws:iam::*:role/x", IamArnKind::Role).contains("wildcards"));
        assert!(reason(
            "arn:aws:iam::${aws:PrincipalAccount}:role/x",
            IamArnKind::Role
        )
        .contains("wildcards"));
        assert!(reason("arn:aws:iam::aws:role/x", IamArnKind::Role).contains("account"));
        assert!(reason("arn:aws:iam::123456789012:policy/x", IamArnKind::Role).contains("TYPE"));
        assert!(reason("arn:aws:s3:::bucket", IamArnKind::Policy).contains("arn:PARTITION:iam"));
        assert!(reason(
            "arn:aws:iam:eu-west-1:123456789012:role/x",
            IamArnKind::Role
        )
        .contains("no region"));
        assert!(
            reason("arn:aws-iso:iam::123456789012:role/x", IamArnKind::Role).contains("partition")
        );
        assert!(reason("arn:aws:iam::123456789012:role/", IamArnKind::Role).contains("name"));
        assert!(reason("arn:aws:iam::123456789012:role/a b", IamArnKind::Role).contains("name"));
        assert!(reason(
            &format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)),
            IamArnKind::Role
        )
        .contains("longer"));
        assert!(reason("ReadOnly", IamArnKind::Policy).contains("six"));
    }

    #[test]
    fn wildcards_in_a_prefix_are_refused() {
        for bad in [
            "s3://bkt/c1/*",
            "s3://bkt/*",
            "s3://bkt/c$1",
            "s3://bkt/a?b",
        ] {
            let e = S3Location::parse(bad).unwrap_err();
            assert!(e.to_string().contains("prefix"), "{bad}: {e}");
        }
        assert!(S3Location::parse("s3://bkt/c-1/x_y.z").is_ok());
    }

    #[test]
    fn derived_issuer_is_path_style_and_partition_aware() {
        let loc = S3Location::parse("s3://acme-g8s-c1-oidc-pod-identity").unwrap();
        assert_eq!(
            loc.issuer("eu-west-1").unwrap().as_str(),
            "https://s3.eu-west-1.amazonaws.com/acme-g8s-c1-oidc-pod-identity"
        );
        let loc = S3Location::parse("s3://my.dotted.bucket/clusters/c1/").unwrap();
        assert_eq!(loc.prefix, "clusters/c1");
        assert_eq!(
            loc.issuer("cn-north-1").unwrap().as_str(),
            "https://s3.cn-north-1.amazonaws.com.cn/my.dotted.bucket/clusters/c1"
        );
        assert_eq!(Partition::of_region("us-gov-west-1").as_str(), "aws-us-gov");
    }

    #[test]
    fn regions_and_issuers_name_their_partition_or_are_refused() {
        assert_eq!(Partition::for_region("cn-north-1"), Ok(Partition::AwsCn));
        assert_eq!(
            Partition::for_region("us-gov-east-1"),
            Ok(Partition::AwsUsGov)
        );
        assert_eq!(Partition::for_region("ap-southeast-5"), Ok(Partition::Aws));
        for bad in [
            "",
            "eu-west",
            "EU-WEST-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "mars",
        ] {
            assert!(Partition::for_region(bad).is_err(), "{bad}");
        }
        let p = |u: &str| Partition::of_issuer(&IssuerUrl::parse(u, false).unwrap());
        assert_eq!(
            p("https://s3.cn-north-1.amazonaws.com.cn/b/c1"),
            Some(Partition::AwsCn)
        );
        assert_eq!(
            p("https://s3.us-gov-west-1.amazonaws.com/b/c1"),
            Some(Partition::AwsUsGov)
        );
        assert_eq!(
            p("https://s3.dualstack.eu-west-1.amazonaws.com/b"),
            Some(Partition::Aws)
        );
        assert_eq!(p("https://oidc.example.com/c1"), None);
    }

    #[test]
    fn dualstack_and_fips_endpoints_are_s3_issuers_and_the_global_one_only_in_us_east_1() {
        let loc = S3Location::parse("s3://bk1/p").unwrap();
        let check =
            |u: &str, region: &str| loc.check_issuer(&IssuerUrl::parse(u, false).unwrap(), region);
        for u in [
            "https://s3.dualstack.eu-west-1.amazonaws.com/bk1/p",
            "https://s3-fips.us-east-2.amazonaws.com/bk1/p",
            "https://s3-fips.dualstack.us-east-2.amazonaws.com/bk1/p",
        ] {
            let region = if u.contains("eu-west-1") {
                "eu-west-1"
            } else {
                "us-east-2"
            };
            assert!(check(u, region).is_ok(), "{u}");
        }
        // Another bucket through the dualstack endpoint is still caught.
        assert!(check(
            "https://s3.dualstack.eu-west-1.amazonaws.com/other/p",
            "eu-west-1"
        )
        .is_err());
        assert!(check("https://s3.amazonaws.com/bk1/p", "us-east-1").is_ok());
        assert!(matches!(
            check("https://s3.amazonaws.com/bk1/p", "eu-west-1"),
            Err(NameError::GlobalEndpoint { .. })
        ));
    }

    #[test]
    fn issuer_must_agree_with_an_s3_target() {
        let loc = S3Location::parse("s3://bk1/p").unwrap();
        let ok = |u: &str| loc.check_issuer(&IssuerUrl::parse(u, false).unwrap(), "us-east-2");
        assert!(ok("https://s3.us-east-2.amazonaws.com/bk1/p").is_ok());
        assert!(ok("https://bk1.s3.us-east-2.amazonaws.com/p").is_ok());
        // The global endpoint redirects outside us-east-1, and STS does not follow redirects.
        assert!(matches!(
            ok("https://bk1.s3.amazonaws.com/p"),
            Err(NameError::GlobalEndpoint { .. })
        ));
        assert!(
            ok("https://oidc.example.com/anything").is_ok(),
            "a CDN in front is allowed"
        );
        let e = ok("https://s3.us-east-2.amazonaws.com/bk2/p").unwrap_err();
        assert!(
            e.to_string().contains("s3://bk2/p in us-east-2")
                && e.to_string().contains("s3://bk1/p in us-east-2"),
            "{e}"
        );
        assert!(ok("https://s3.eu-west-1.amazonaws.com/bk1/p").is_err());
        assert!(ok("https://s3.us-east-2.amazonaws.com/bk1").is_err());
    }

    #[test]
    fn bucket_naming_rules() {
        for good in ["abc", "a.b-c", "0bucket9", &"a".repeat(63)] {
            assert!(validate_bucket(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "under_score",
            "-lead",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "sthree-x",
            "x-s3alias",
            "x--ol-s3",
            "b.mrap",
            "b--x-s3",
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
        }
        assert!(S3Location::parse("s3://Bad_Bucket").is_err());
        assert!(S3Location::parse("https://bucket").is_err());
        assert!(S3Location::parse("s3://bucket/a//b").is_err());
        assert!(S3Location::parse("s3://bucket/../b").is_err());
    }

    #[test]
    fn thumbprints() {
        let t = Thumbprint::parse("9E:99:A4:8A:99:60:B1:49:26:BB:7F:3B:02:E2:2D:A2:B0:AB:72:80")
            .unwrap();
        assert_eq!(t.as_str(), "9e99a48a9960b14926bb7f3b02e22da2b0ab7280");
        assert!(Thumbprint::parse("abc").is_err());
        assert!(Thumbprint::parse(&"g".repeat(40)).is_err());
        // SHA-1 of the empty string, a published test vector.
        assert_eq!(
            Thumbprint::of_der(b"").as_str(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn provider_arns() {
        let i = IssuerUrl::parse("https://s3.cn-north-1.amazonaws.com.cn/b/c", false).unwrap();
        assert_eq!(
            provider_arn(Partition::AwsCn, "123456789012", &i),
            "arn:aws-cn:iam::123456789012:oidc-provider/s3.cn-north-1.amazonaws.com.cn/b/c"
        );
        assert_eq!(
            Partition::of_arn("arn:aws-us-gov:iam::1:root"),
            Some(Partition::AwsUsGov)
        );
    }
}
