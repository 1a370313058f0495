//! CloudFront in front of a private bucket, pure: what the distribution, its Origin Access
//! Control (OAC) and its cache policy must look like for an issuer, the drift between that and
//! what CloudFront reports (turned into the changes that repair it), the bucket-policy statement
//! that lets only that distribution read the two documents, and the order of a teardown.
//!
//! The bucket stays private (all four Block Public Access switches on): CloudFront signs its
//! requests to S3 with SigV4 through the OAC, and the bucket policy allows the CloudFront
//! service principal `s3:GetObject` on the two object keys only when the request comes from this
//! distribution (`AWS:SourceArn`). Viewers get HTTPS only; the documents are cached for the
//! max-age of `s3.cache_control`, so a published change is seen no later than the objects'
//! own Cache-Control says, and irsa-issuer invalidates the two paths whenever one changes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aws::bucket::{self, BucketChange, BucketError, BucketState, PublicAccessBlock};
use crate::aws::names::{Partition, S3Location};
use crate::aws::owner::with_owner_tags;
use crate::oidc::issuer::{IssuerError, IssuerUrl};

/// The tag naming the bucket and prefix a distribution serves: how irsa-issuer finds it again
/// (the issuer of a distribution without an alias is only known once CloudFront names it).
pub const TARGET_TAG: &str = "irsa-issuer/target";
/// The id of the one origin irsa-issuer's distributions have.
pub const ORIGIN_ID: &str = "irsa-issuer-s3";
/// The start of every distribution comment irsa-issuer writes (a cheap filter before tags).
pub const COMMENT_PREFIX: &str = "irsa-issuer";
/// The oldest TLS viewers may use with an own domain.
pub const MINIMUM_PROTOCOL_VERSION: &str = "TLSv1.2_2021";
/// The only region CloudFront takes ACM certificates from.
pub const CERTIFICATE_REGION: &str = "us-east-1";
/// The status of a distribution whose last change has reached every edge location.
pub const DEPLOYED: &str = "Deployed";

/// Which edge locations serve the issuer (and what they cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, clap::ValueEnum)]
pub enum PriceClass {
    /// North America, Europe, Israel (cheapest; the default).
    #[default]
    #[value(name = "PriceClass_100")]
    #[serde(rename = "PriceClass_100")]
    PriceClass100,
    /// Also Asia, the Middle East and Africa.
    #[value(name = "PriceClass_200")]
    #[serde(rename = "PriceClass_200")]
    PriceClass200,
    /// Every edge location.
    #[value(name = "PriceClass_All")]
    #[serde(rename = "PriceClass_All")]
    PriceClassAll,
}

impl PriceClass {
    /// CloudFront's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PriceClass100 => "PriceClass_100",
            Self::PriceClass200 => "PriceClass_200",
            Self::PriceClassAll => "PriceClass_All",
        }
    }

    /// Parses CloudFront's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::PriceClass100,
            Self::PriceClass200,
            Self::PriceClassAll,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// The `[cdn]` section: CloudFront in front of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnConfig {
    /// An own domain (`oidc.example.com`): the issuer is then `https://ALIAS[/PREFIX]`.
    pub alias: Option<String>,
    /// The ACM certificate for the alias (in us-east-1).
    pub acm_certificate_arn: Option<String>,
    /// The edge locations.
    pub price_class: PriceClass,
    /// How long to wait for the distribution to deploy (destroy; apply when it makes a public
    /// bucket private), in seconds.
    pub deploy_timeout: u64,
}

/// How long a wait for a deployment lasts by default: CloudFront usually deploys in a few
/// minutes, sometimes in more than ten.
pub const DEFAULT_DEPLOY_TIMEOUT: u64 = 30 * 60;

/// A `[cdn]` setting CloudFront would refuse, found before any call.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CdnError {
    /// An alias that is not a DNS name CloudFront accepts.
    #[error("`{alias}` is not a domain name CloudFront accepts as an alias: {reason}")]
    Alias {
        /// What was given.
        alias: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A certificate ARN CloudFront cannot use.
    #[error("`{arn}` is not an ACM certificate CloudFront can use: {reason}")]
    Certificate {
        /// What was given.
        arn: String,
        /// What is wrong.
        reason: String,
    },
    /// An alias without a certificate, or the reverse.
    #[error("{0}")]
    Pairing(&'static str),
    /// No max-age to take the cache TTL from.
    #[error("`{0}` has no max-age: the CDN caches the documents for that long, so s3.cache_control needs one (e.g. \"public, max-age=300\")")]
    NoMaxAge(String),
    /// The issuer given is not the one the distribution serves.
    #[error("issuer {given} is not what the distribution serves ({expected}): drop `issuer` from the file (it is derived from the alias or the distribution), or make the two agree")]
    IssuerMismatch {
        /// The issuer in the file.
        given: String,
        /// The one the distribution serves.
        expected: String,
    },
    /// The issuer could not be built.
    #[error(transparent)]
    Issuer(#[from] IssuerError),
}

/// Checks an alias: lower-case DNS labels, at least two, no wildcard.
pub fn validate_alias(alias: &str) -> Result<(), CdnError> {
    let bad = |reason| CdnError::Alias {
        alias: alias.into(),
        reason,
    };
    if alias.is_empty() || alias.len() > 253 {
        return Err(bad("it must be 1 to 253 characters"));
    }
    if alias.contains('*') {
        return Err(bad("a wildcard names no single issuer host"));
    }
    let labels: Vec<&str> = alias.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("it needs at least two labels (oidc.example.com)"));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return Err(bad(
                "each label is 1-63 lower-case letters, digits or inner hyphens",
            ));
        }
    }
    if alias.ends_with(".cloudfront.net") {
        return Err(bad(
            "it is a CloudFront domain: leave alias out to use the distribution's own",
        ));
    }
    Ok(())
}

/// Checks an ACM certificate ARN: `arn:PARTITION:acm:us-east-1:ACCOUNT:certificate/ID`.
pub fn validate_certificate_arn(arn: &str) -> Result<(), CdnError> {
    let bad = |reason: String| CdnError::Certificate {
        arn: arn.into(),
        reason,
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6
        || parts[0] != "arn"
        || Partition::of_arn(arn).is_none()
        || parts[2] != "acm"
        || !(parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()))
        || !parts[5].starts_with("certificate/")
        || parts[5].len() <= "certificate/".len()
    {
        return Err(bad(
            "expected arn:aws:acm:us-east-1:123456789012:certificate/ID".into(),
        ));
    }
    if parts[3] != CERTIFICATE_REGION {
        return Err(bad(format!(
            "it is in {}, and CloudFront only uses certificates from {CERTIFICATE_REGION}: request or import it there (`aws acm request-certificate --region {CERTIFICATE_REGION}`)",
            parts[3]
        )));
    }
    Ok(())
}

/// Checks a whole `[cdn]` section.
pub fn validate(c: &CdnConfig) -> Result<(), CdnError> {
    match (&c.alias, &c.acm_certificate_arn) {
        (Some(a), Some(arn)) => {
            validate_alias(a)?;
            validate_certificate_arn(arn)
        }
        (Some(_), None) => Err(CdnError::Pairing("cdn.alias needs cdn.acm_certificate_arn: CloudFront serves an own domain only with its certificate (from ACM in us-east-1)")),
        (None, Some(_)) => Err(CdnError::Pairing("cdn.acm_certificate_arn is given without cdn.alias: set the alias the certificate is for, or drop the certificate")),
        (None, None) => Ok(()),
    }
}

fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The names of one issuer's CloudFront resources, derived from its bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The OAC's and the cache policy's name (`irsa-issuer-<12 hex>`, unique in the account).
    pub resource: String,
    /// The distribution's comment (at most 128 characters).
    pub comment: String,
    /// The value of [`TARGET_TAG`].
    pub target: String,
    /// The bucket-policy statement's Sid.
    pub statement_id: String,
}

/// The names for `loc`.
pub fn names(loc: &S3Location) -> Names {
    let target = loc.to_string();
    let mut comment = format!("{COMMENT_PREFIX} {target}");
    if comment.len() > 128 {
        let mut cut = 128;
        while !comment.is_char_boundary(cut) {
            cut -= 1;
        }
        comment.truncate(cut);
    }
    let statement_id = if loc.prefix.is_empty() {
        "IrsaIssuerCloudFront".to_string()
    } else {
        format!("IrsaIssuerCloudFront{}", hash(&loc.prefix))
    };
    Names {
        resource: format!(
            "irsa-issuer-{}",
            hash(&format!("{}/{}", loc.bucket, loc.prefix))
        ),
        comment,
        target,
        statement_id,
    }
}

/// The S3 REST endpoint CloudFront reaches the bucket at.
pub fn origin_domain(bucket: &str, region: &str) -> String {
    format!(
        "{bucket}.s3.{region}.{}",
        Partition::of_region(region).dns_suffix()
    )
}

/// The issuer a distribution serves: `https://HOST[/PREFIX]`, HOST the alias or the
/// distribution's own domain.
pub fn issuer(host: &str, loc: &S3Location) -> Result<IssuerUrl, CdnError> {
    let mut url = format!("https://{host}");
    if !loc.prefix.is_empty() {
        url.push('/');
        url.push_str(&loc.prefix);
    }
    Ok(IssuerUrl::parse(&url, false)?)
}

/// The two paths viewers request (and an invalidation names), for the object keys.
pub fn paths(keys: &[String]) -> Vec<String> {
    keys.iter().map(|k| format!("/{k}")).collect()
}

/// The statement that lets only `distribution_arn` read exactly `keys`.
pub fn oac_statement(
    partition: Partition,
    loc: &S3Location,
    keys: &[String],
    distribution_arn: &str,
) -> Value {
    let resources: Vec<String> = keys
        .iter()
        .map(|k| format!("arn:{}:s3:::{}/{k}", partition.as_str(), loc.bucket))
        .collect();
    json!({
        "Sid": names(loc).statement_id,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": resources,
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    })
}

/// An Origin Access Control as CloudFront reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OacState {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `sigv4`.
    pub signing_protocol: String,
    /// `always`, `never` or `no-override`.
    pub signing_behavior: String,
    /// `s3`, `mediastore`, ….
    pub origin_type: String,
}

/// What the OAC must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OacWanted {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
}

/// A change to the OAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum OacChange {
    /// Create it.
    Create(OacWanted),
    /// Set it back to SigV4, always signing, for S3.
    Update {
        /// Its id.
        id: String,
        /// What it must be.
        wanted: OacWanted,
        /// What drifted.
        drift: Vec<String>,
    },
}

/// The OAC change that makes `actual` what `wanted` says.
pub fn plan_oac(wanted: &OacWanted, actual: Option<&OacState>) -> Option<OacChange> {
    let Some(a) = actual else {
        return Some(OacChange::Create(wanted.clone()));
    };
    let mut drift = Vec::new();
    for (what, is, want) in [
        ("signing protocol", &a.signing_protocol, "sigv4"),
        ("signing behavior", &a.signing_behavior, "always"),
        ("origin type", &a.origin_type, "s3"),
    ] {
        if is != want {
            drift.push(format!("~ {what} {is} -> {want}"));
        }
    }
    (!drift.is_empty()).then(|| OacChange::Update {
        id: a.id.clone(),
        wanted: wanted.clone(),
        drift,
    })
}

/// A cache policy as CloudFront reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CachePolicyState {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// MinTTL, DefaultTTL, MaxTTL.
    pub ttls: (i64, i64, i64),
    /// Gzip and Brotli responses cached.
    pub compression: (bool, bool),
    /// Header, cookie and query-string behaviours in the cache key.
    pub key: (String, String, String),
}

/// What the cache policy must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachePolicyWanted {
    /// Its name.
    pub name: String,
    /// Its comment.
    pub comment: String,
    /// Default and maximum TTL (the documents' max-age); the minimum is 0, so the objects'
    /// own Cache-Control is honoured below it.
    pub ttl: i64,
}

/// A change to the cache policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum CachePolicyChange {
    /// Create it.
    Create(CachePolicyWanted),
    /// Set it back.
    Update {
        /// Its id.
        id: String,
        /// What it must be.
        wanted: CachePolicyWanted,
        /// What drifted.
        drift: Vec<String>,
    },
}

/// The cache policy change that makes `actual` what `wanted` says.
pub fn plan_cache_policy(
    wanted: &CachePolicyWanted,
    actual: Option<&CachePolicyState>,
) -> Option<CachePolicyChange> {
    let Some(a) = actual else {
        return Some(CachePolicyChange::Create(wanted.clone()));
    };
    let mut drift = Vec::new();
    let want = (0, wanted.ttl, wanted.ttl);
    if a.ttls != want {
        drift.push(format!(
            "~ TTL min/default/max {}/{}/{} -> {}/{}/{} s (s3.cache_control's max-age)",
            a.ttls.0, a.ttls.1, a.ttls.2, want.0, want.1, want.2
        ));
    }
    if a.compression != (true, true) {
        drift.push("~ compression: gzip and brotli on".into());
    }
    let none = ("none".to_string(), "none".to_string(), "none".to_string());
    if a.key != none {
        drift.push("~ cache key: no headers, cookies or query strings".into());
    }
    (!drift.is_empty()).then(|| CachePolicyChange::Update {
        id: a.id.clone(),
        wanted: wanted.clone(),
        drift,
    })
}

/// The viewer certificate of a distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// `*.cloudfront.net`'s.
    Default,
    /// An ACM certificate.
    Acm {
        /// Its ARN.
        arn: String,
        /// `sni-only`, `vip`, `static-ip`.
        ssl_support_method: String,
        /// The oldest TLS allowed.
        minimum_protocol_version: String,
    },
    /// Anything else (an IAM certificate), described.
    Other(String),
}

/// One origin of a distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginModel {
    /// Its id.
    pub id: String,
    /// Its domain.
    pub domain_name: String,
    /// Its origin path.
    pub origin_path: String,
    /// The OAC it signs with, if any.
    pub oac_id: Option<String>,
    /// The legacy Origin Access Identity of an S3 origin (`Some("")`: an S3 origin without
    /// one; `None`: not an S3 origin).
    pub s3_oai: Option<String>,
}

/// The parts of a distribution's configuration irsa-issuer manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionModel {
    /// Serving.
    pub enabled: bool,
    /// Its origins.
    pub origins: Vec<OriginModel>,
    /// The default behaviour's origin.
    pub target_origin_id: String,
    /// `redirect-to-https`, `https-only`, `allow-all`.
    pub viewer_protocol_policy: String,
    /// Allowed methods, sorted.
    pub allowed_methods: Vec<String>,
    /// Cached methods, sorted.
    pub cached_methods: Vec<String>,
    /// Compression.
    pub compress: bool,
    /// The cache policy (`None`: legacy cache settings).
    pub cache_policy_id: Option<String>,
    /// Alternate domain names, sorted.
    pub aliases: Vec<String>,
    /// The viewer certificate.
    pub certificate: Certificate,
    /// The price class.
    pub price_class: String,
}

/// A distribution as CloudFront reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionState {
    /// Its id.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its own domain (`dXXXX.cloudfront.net`).
    pub domain: String,
    /// `InProgress` or `Deployed`.
    pub status: String,
    /// What irsa-issuer manages of its configuration.
    pub model: DistributionModel,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// What the distribution must be, apart from the ids of the OAC and cache policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistributionWanted {
    /// The bucket's S3 endpoint.
    pub origin_domain: String,
    /// The alias, if any.
    pub alias: Option<String>,
    /// Its certificate.
    pub certificate_arn: Option<String>,
    /// The price class.
    pub price_class: PriceClass,
    /// The comment.
    pub comment: String,
    /// The tags, owner tags included (the issuer's once it is known).
    pub tags: BTreeMap<String, String>,
}

impl DistributionWanted {
    /// The wanted distribution for `loc` in `region`; `issuer` is known with an alias, and
    /// for an existing distribution.
    pub fn new(
        cdn: &CdnConfig,
        loc: &S3Location,
        region: &str,
        issuer: Option<&str>,
        extra_tags: &BTreeMap<String, String>,
    ) -> Self {
        let n = names(loc);
        let mut tags = extra_tags.clone();
        tags.insert(TARGET_TAG.into(), n.target.clone());
        let tags = match issuer {
            Some(i) => with_owner_tags(tags, i),
            None => {
                let mut t = tags;
                t.insert(
                    crate::aws::owner::MANAGED_TAG.0.into(),
                    crate::aws::owner::MANAGED_TAG.1.into(),
                );
                t
            }
        };
        Self {
            origin_domain: origin_domain(&loc.bucket, region),
            alias: cdn.alias.clone(),
            certificate_arn: cdn.acm_certificate_arn.clone(),
            price_class: cdn.price_class,
            comment: n.comment,
            tags,
        }
    }

    /// The configuration with these OAC and cache policy ids.
    pub fn model(&self, oac_id: Option<&str>, cache_policy_id: Option<&str>) -> DistributionModel {
        let certificate = match &self.certificate_arn {
            Some(arn) => Certificate::Acm {
                arn: arn.clone(),
                ssl_support_method: "sni-only".into(),
                minimum_protocol_version: MINIMUM_PROTOCOL_VERSION.into(),
            },
            None => Certificate::Default,
        };
        DistributionModel {
            enabled: true,
            origins: vec![OriginModel {
                id: ORIGIN_ID.into(),
                domain_name: self.origin_domain.clone(),
                origin_path: String::new(),
                oac_id: oac_id.map(str::to_string),
                s3_oai: Some(String::new()),
            }],
            target_origin_id: ORIGIN_ID.into(),
            viewer_protocol_policy: "redirect-to-https".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cached_methods: vec!["GET".into(), "HEAD".into()],
            compress: true,
            cache_policy_id: cache_policy_id.map(str::to_string),
            aliases: self.alias.iter().cloned().collect(),
            certificate,
            price_class: self.price_class.as_str().into(),
        }
    }
}

fn describe_origins(o: &[OriginModel]) -> String {
    if o.is_empty() {
        return "none".into();
    }
    o.iter()
        .map(|o| {
            let access = match (&o.oac_id, &o.s3_oai) {
                (Some(id), _) => format!("OAC {id}"),
                (None, Some(oai)) if !oai.is_empty() => format!("legacy OAI {oai}"),
                _ => "unsigned".to_string(),
            };
            format!("{} ({access})", o.domain_name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_certificate(c: &Certificate) -> String {
    match c {
        Certificate::Default => "the *.cloudfront.net certificate".into(),
        Certificate::Acm {
            arn,
            ssl_support_method,
            minimum_protocol_version,
        } => format!("{arn} ({ssl_support_method}, {minimum_protocol_version})"),
        Certificate::Other(o) => o.clone(),
    }
}

/// What differs between the distribution as it is and as wanted, one plan line each; an OAC or
/// cache policy id still to be created (`None` wanted) counts as a difference.
pub fn drift(actual: &DistributionModel, wanted: &DistributionModel) -> Vec<String> {
    let mut out = Vec::new();
    let oac_wanted = wanted.origins.first().and_then(|o| o.oac_id.clone());
    let mut origins_wanted = wanted.origins.clone();
    // An OAC created in this run has no id yet: compare the rest, and say it changes.
    let oac_changes = oac_wanted.is_none()
        || actual.origins.first().and_then(|o| o.oac_id.as_ref()) != oac_wanted.as_ref();
    if oac_wanted.is_none() {
        origins_wanted[0].oac_id = actual.origins.first().and_then(|o| o.oac_id.clone());
    }
    if actual.origins != origins_wanted || oac_changes {
        out.push(format!(
            "~ origin {} -> {}",
            describe_origins(&actual.origins),
            if oac_wanted.is_none() {
                format!("{} (the new OAC)", wanted.origins[0].domain_name)
            } else {
                describe_origins(&wanted.origins)
            }
        ));
    }
    if !actual.enabled {
        out.push("~ enabled false -> true".into());
    }
    if actual.target_origin_id != wanted.target_origin_id
        || actual.viewer_protocol_policy != wanted.viewer_protocol_policy
        || actual.allowed_methods != wanted.allowed_methods
        || actual.cached_methods != wanted.cached_methods
        || actual.compress != wanted.compress
    {
        out.push(format!(
            "~ default behaviour: {} {} compress={} -> redirect-to-https GET/HEAD compress=true",
            actual.viewer_protocol_policy,
            actual.allowed_methods.join("/"),
            actual.compress
        ));
    }
    if wanted.cache_policy_id.is_none() || actual.cache_policy_id != wanted.cache_policy_id {
        out.push(format!(
            "~ cache policy {} -> {}",
            actual.cache_policy_id.as_deref().unwrap_or("none"),
            wanted
                .cache_policy_id
                .as_deref()
                .unwrap_or("the new cache policy")
        ));
    }
    if actual.aliases != wanted.aliases {
        out.push(format!(
            "~ aliases [{}] -> [{}]",
            actual.aliases.join(", "),
            wanted.aliases.join(", ")
        ));
    }
    if actual.certificate != wanted.certificate {
        out.push(format!(
            "~ viewer certificate {} -> {}",
            describe_certificate(&actual.certificate),
            describe_certificate(&wanted.certificate)
        ));
    }
    if actual.price_class != wanted.price_class {
        out.push(format!(
            "~ price class {} -> {}",
            actual.price_class, wanted.price_class
        ));
    }
    out
}

/// A change to the distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DistributionChange {
    /// Create it (tagged), pointing at the OAC and cache policy.
    Create(DistributionWanted),
    /// Update its configuration (with its current ETag).
    Update {
        /// Its id.
        id: String,
        /// What it must be.
        wanted: DistributionWanted,
        /// What drifted.
        drift: Vec<String>,
    },
    /// Add or update tags.
    Tag {
        /// Its ARN.
        arn: String,
        /// The tags to set.
        tags: BTreeMap<String, String>,
    },
}

/// The changes that make the distribution what `wanted` says: `oac_id` and `cache_policy_id`
/// are the existing resources' ids (`None`: created in this run).
pub fn plan_distribution(
    wanted: &DistributionWanted,
    actual: Option<&DistributionState>,
    oac_id: Option<&str>,
    cache_policy_id: Option<&str>,
) -> Vec<DistributionChange> {
    let Some(a) = actual else {
        return vec![DistributionChange::Create(wanted.clone())];
    };
    let mut out = Vec::new();
    let d = drift(&a.model, &wanted.model(oac_id, cache_policy_id));
    if !d.is_empty() {
        out.push(DistributionChange::Update {
            id: a.id.clone(),
            wanted: wanted.clone(),
            drift: d,
        });
    }
    let missing: BTreeMap<String, String> = wanted
        .tags
        .iter()
        .filter(|(k, v)| a.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing.is_empty() {
        out.push(DistributionChange::Tag {
            arn: a.arn.clone(),
            tags: missing,
        });
    }
    out
}

impl DistributionChange {
    /// The plan lines.
    pub fn details(&self) -> Vec<String> {
        match self {
            Self::Create(w) => {
                let mut v = vec![format!(
                    "+ distribution for {} (through the OAC, cache policy TTL from s3.cache_control), HTTPS only, {}",
                    w.origin_domain,
                    w.price_class.as_str()
                )];
                if let Some(a) = &w.alias {
                    v.push(format!(
                        "+ alias {a} with {} ({MINIMUM_PROTOCOL_VERSION})",
                        w.certificate_arn.as_deref().unwrap_or_default()
                    ));
                }
                v
            }
            Self::Update { drift, .. } => drift.clone(),
            Self::Tag { tags, .. } => vec![format!(
                "~ tags {}",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        }
    }
}

/// What `destroy` does to a distribution, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Teardown {
    /// Disable it (CloudFront deletes only a disabled distribution).
    Disable,
    /// Wait until the last change is deployed.
    WaitDeployed,
    /// Delete it.
    Delete,
}

/// The teardown steps left for a distribution in this state: a destroy stopped during the
/// wait resumes at the wait.
pub fn teardown(d: &DistributionState) -> Vec<Teardown> {
    match (d.model.enabled, d.status == DEPLOYED) {
        (true, _) => vec![Teardown::Disable, Teardown::WaitDeployed, Teardown::Delete],
        (false, false) => vec![Teardown::WaitDeployed, Teardown::Delete],
        (false, true) => vec![Teardown::Delete],
    }
}

/// How the bucket becomes private once the distribution serves: the policy without this
/// prefix's public-read statement, the Block Public Access switches that go on, and the
/// record tags that go with them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Privatize {
    /// The new policy when this prefix's public-read statement goes (`Some(None)`: delete it).
    pub policy: Option<Option<String>>,
    /// Bucket changes: Block Public Access, record tags.
    pub changes: Vec<BucketChange>,
    /// Why a switch stays off.
    pub notes: Vec<String>,
}

impl Privatize {
    /// Whether there is anything to do.
    pub fn is_empty(&self) -> bool {
        self.policy.is_none() && self.changes.is_empty()
    }
}

/// What makes the bucket private: the public-read statement `public_sid` goes, all four Block
/// Public Access switches go on, except where something else in the bucket still needs one off
/// (another public statement: the policy switches; object ACLs that apply on a bucket this
/// issuer did not create: the ACL switches), which is said.
pub fn privatize(
    bucket_name: &str,
    state: &BucketState,
    public_sid: &str,
    ours: bool,
) -> Result<Privatize, BucketError> {
    let mut out = Privatize {
        policy: bucket::remove_statement(bucket_name, state.policy.as_deref(), public_sid)?,
        ..Privatize::default()
    };
    let after = match &out.policy {
        Some(p) => p.clone(),
        None => state.policy.clone(),
    };
    let others = bucket::other_public_statements(after.as_deref(), "");
    let acls_apply = state
        .object_ownership
        .as_deref()
        .is_some_and(|o| o != "BucketOwnerEnforced");
    let current = state.public_access_block.unwrap_or_default();
    let mut wanted = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    if !others.is_empty() {
        wanted.block_public_policy = current.block_public_policy;
        wanted.restrict_public_buckets = current.restrict_public_buckets;
        if !(current.block_public_policy && current.restrict_public_buckets) {
            out.notes.push(format!(
                "BlockPublicPolicy and RestrictPublicBuckets stay as they are: other public statements need them off ({})",
                others.join(", ")
            ));
        }
    }
    if acls_apply && !ours {
        wanted.block_public_acls = current.block_public_acls;
        wanted.ignore_public_acls = current.ignore_public_acls;
        if !(current.block_public_acls && current.ignore_public_acls) {
            out.notes.push("BlockPublicAcls and IgnorePublicAcls stay as they are: object ACLs apply in this bucket, which irsa-issuer did not create".into());
        }
    }
    if wanted != current || state.public_access_block.is_none() {
        out.changes
            .push(BucketChange::PublicAccessBlock { config: wanted });
    }
    if let Some(record) = state.tags.get(bucket::RELAXED_TAG) {
        let still_off: Vec<&str> = record
            .split(' ')
            .filter(|n| match *n {
                "BlockPublicPolicy" => !wanted.block_public_policy,
                "RestrictPublicBuckets" => !wanted.restrict_public_buckets,
                "BlockPublicAcls" => !wanted.block_public_acls,
                "IgnorePublicAcls" => !wanted.ignore_public_acls,
                _ => false,
            })
            .collect();
        let mut tags = state.tags.clone();
        if still_off.is_empty() {
            tags.remove(bucket::RELAXED_TAG);
        } else {
            tags.insert(bucket::RELAXED_TAG.into(), still_off.join(" "));
        }
        if tags != state.tags {
            out.changes.push(BucketChange::RemoveTags {
                keys: vec![bucket::RELAXED_TAG.to_string()],
                remaining: tags,
            });
        }
    }
    Ok(out)
}

/// The public grants of a bucket, for `verify`: Block Public Access switches that are off and
/// statements that allow everyone.
pub fn public_grants(state: &BucketState) -> Vec<String> {
    let mut out = Vec::new();
    let b = state.public_access_block.unwrap_or_default();
    for (name, on) in [
        ("BlockPublicAcls", b.block_public_acls),
        ("IgnorePublicAcls", b.ignore_public_acls),
        ("BlockPublicPolicy", b.block_public_policy),
        ("RestrictPublicBuckets", b.restrict_public_buckets),
    ] {
        if !on {
            out.push(format!("{name} is off"));
        }
    }
    out.extend(
        bucket::other_public_statements(state.policy.as_deref(), "")
            .into_iter()
            .map(|s| format!("{s} allows everyone")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> S3Location {
        S3Location::parse("s3://acme-oidc/c1").unwrap()
    }

    fn cdn(alias: bool) -> CdnConfig {
        CdnConfig {
            alias: alias.then(|| "oidc.example.com".to_string()),
            acm_certificate_arn: alias
                .then(|| "arn:aws:acm:us-east-1:123456789012:certificate/abc".to_string()),
            price_class: PriceClass::default(),
            deploy_timeout: DEFAULT_DEPLOY_TIMEOUT,
        }
    }

    #[test]
    fn certificates_outside_us_east_1_and_bad_aliases_are_refused() {
        let mut c = cdn(true);
        assert_eq!(validate(&c), Ok(()));
        c.acm_certificate_arn = Some("arn:aws:acm:eu-west-1:123456789012:certificate/abc".into());
        let e = validate(&c).unwrap_err().to_string();
        assert!(e.contains("eu-west-1") && e.contains("us-east-1"), "{e}");
        for bad in [
            "Oidc.example.com",
            "*.example.com",
            "localhost",
            "a..b",
            "-a.b",
            "d1.cloudfront.net",
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
        c.acm_certificate_arn = None;
        assert!(matches!(validate(&c), Err(CdnError::Pairing(_))));
        assert!(validate_certificate_arn("arn:aws:acm:us-east-1:1:certificate/x").is_err());
    }

    #[test]
    fn names_are_per_bucket_and_prefix_and_fit_cloudfront_limits() {
        let a = names(&loc());
        let b = names(&S3Location::parse("s3://acme-oidc/c2").unwrap());
        let c = names(&S3Location::parse("s3://other-oidc/c1").unwrap());
        assert_ne!(a.resource, b.resource);
        assert_ne!(a.resource, c.resource);
        assert_ne!(a.statement_id, b.statement_id);
        assert_eq!(
            a.statement_id, c.statement_id,
            "the Sid is per prefix, as the public one"
        );
        assert!(a.resource.len() <= 64);
        let long =
            S3Location::parse(&format!("s3://{}/{}", "b".repeat(63), "p".repeat(200))).unwrap();
        assert!(names(&long).comment.len() <= 128);
        assert_eq!(a.comment, "irsa-issuer s3://acme-oidc/c1");
    }

    #[test]
    fn the_statement_allows_only_this_distribution_to_read_the_two_documents() {
        let keys = vec![
            "c1/openid/v1/jwks".to_string(),
            "c1/.well-known/openid-configuration".to_string(),
        ];
        let arn = "arn:aws:cloudfront::123456789012:distribution/E1";
        let s = oac_statement(Partition::Aws, &loc(), &keys, arn);
        assert_eq!(
            s["Principal"],
            json!({"Service": "cloudfront.amazonaws.com"})
        );
        assert_eq!(s["Action"], "s3:GetObject");
        assert_eq!(
            s["Resource"],
            json!([
                "arn:aws:s3:::acme-oidc/c1/openid/v1/jwks",
                "arn:aws:s3:::acme-oidc/c1/.well-known/openid-configuration"
            ])
        );
        assert_eq!(s["Condition"]["StringEquals"]["AWS:SourceArn"], arn);
        // It is not a public statement: Block Public Access lets it stand.
        let doc = json!({"Statement": [s]}).to_string();
        assert!(bucket::other_public_statements(Some(&doc), "").is_empty());
    }

    fn state(w: &DistributionWanted) -> DistributionState {
        DistributionState {
            id: "E1".into(),
            arn: "arn:aws:cloudfront::1:distribution/E1".into(),
            domain: "d1.cloudfront.net".into(),
            status: DEPLOYED.into(),
            model: w.model(Some("OAC1"), Some("CP1")),
            tags: w.tags.clone(),
        }
    }

    #[test]
    fn a_converged_distribution_needs_nothing_and_each_drift_is_named() {
        let w = DistributionWanted::new(
            &cdn(true),
            &loc(),
            "eu-west-1",
            Some("https://oidc.example.com/c1"),
            &BTreeMap::new(),
        );
        assert_eq!(w.origin_domain, "acme-oidc.s3.eu-west-1.amazonaws.com");
        let s = state(&w);
        assert!(plan_distribution(&w, Some(&s), Some("OAC1"), Some("CP1")).is_empty());
        // Alias removed, OAC detached, legacy cache settings: one update naming each.
        let mut drifted = s.clone();
        drifted.model.aliases.clear();
        drifted.model.origins[0].oac_id = None;
        drifted.model.cache_policy_id = None;
        let p = plan_distribution(&w, Some(&drifted), Some("OAC1"), Some("CP1"));
        let [DistributionChange::Update { drift, .. }] = p.as_slice() else {
            panic!("{p:?}")
        };
        assert_eq!(drift.len(), 3, "{drift:?}");
        assert!(drift
            .iter()
            .any(|d| d.starts_with("~ aliases [] -> [oidc.example.com]")));
        assert!(drift.iter().any(|d| d.contains("OAC OAC1")));
        // A new OAC (created in this run) is a change too.
        let p = plan_distribution(&w, Some(&s), None, Some("CP1"));
        assert!(
            matches!(p.as_slice(), [DistributionChange::Update { .. }]),
            "{p:?}"
        );
        // A missing owner tag is only a tag change.
        let mut untagged = s.clone();
        untagged.tags.remove(crate::aws::owner::OWNER_TAG);
        let p = plan_distribution(&w, Some(&untagged), Some("OAC1"), Some("CP1"));
        assert!(
            matches!(p.as_slice(), [DistributionChange::Tag { .. }]),
            "{p:?}"
        );
    }

    #[test]
    fn the_viewer_side_is_https_only_with_tls_1_2_for_an_alias() {
        let m = DistributionWanted::new(&cdn(true), &loc(), "us-east-1", None, &BTreeMap::new())
            .model(None, None);
        assert_eq!(m.viewer_protocol_policy, "redirect-to-https");
        assert_eq!(m.allowed_methods, ["GET", "HEAD"]);
        assert!(
            matches!(&m.certificate, Certificate::Acm { minimum_protocol_version, ssl_support_method, .. } if minimum_protocol_version == "TLSv1.2_2021" && ssl_support_method == "sni-only")
        );
        assert_eq!(m.origins[0].s3_oai.as_deref(), Some(""), "no legacy OAI");
        let m = DistributionWanted::new(&cdn(false), &loc(), "us-east-1", None, &BTreeMap::new())
            .model(None, None);
        assert_eq!(m.certificate, Certificate::Default);
        assert_eq!(m.price_class, "PriceClass_100");
    }

    #[test]
    fn cache_policy_ttl_follows_max_age() {
        let w = CachePolicyWanted {
            name: "n".into(),
            comment: "c".into(),
            ttl: 300,
        };
        let ok = CachePolicyState {
            id: "CP1".into(),
            name: "n".into(),
            ttls: (0, 300, 300),
            compression: (true, true),
            key: ("none".into(), "none".into(), "none".into()),
        };
        assert_eq!(plan_cache_policy(&w, Some(&ok)), None);
        let changed = CachePolicyState {
            ttls: (0, 86400, 31536000),
            ..ok
        };
        let Some(CachePolicyChange::Update { drift, .. }) = plan_cache_policy(&w, Some(&changed))
        else {
            panic!()
        };
        assert_eq!(drift, ["~ TTL min/default/max 0/86400/31536000 -> 0/300/300 s (s3.cache_control's max-age)"]);
    }

    #[test]
    fn teardown_resumes_where_it_stopped() {
        let w = DistributionWanted::new(&cdn(false), &loc(), "us-east-1", None, &BTreeMap::new());
        let mut s = state(&w);
        assert_eq!(
            teardown(&s),
            [Teardown::Disable, Teardown::WaitDeployed, Teardown::Delete]
        );
        s.model.enabled = false;
        s.status = "InProgress".into();
        assert_eq!(teardown(&s), [Teardown::WaitDeployed, Teardown::Delete]);
        s.status = DEPLOYED.into();
        assert_eq!(teardown(&s), [Teardown::Delete]);
    }

    #[test]
    fn privatize_drops_the_public_statement_and_turns_on_what_it_can() {
        let public =
            bucket::public_read_statement(Partition::Aws, &loc(), &["c1/openid/v1/jwks".into()]);
        let sid = bucket::statement_id(&loc());
        let relaxed = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: false,
            restrict_public_buckets: false,
        };
        let st = BucketState {
            exists: true,
            public_access_block: Some(relaxed),
            policy: Some(json!({"Statement": [public]}).to_string()),
            tags: [(
                bucket::RELAXED_TAG.to_string(),
                "BlockPublicPolicy RestrictPublicBuckets".to_string(),
            )]
            .into(),
            object_ownership: Some("BucketOwnerEnforced".into()),
        };
        let p = privatize("acme-oidc", &st, &sid, true).unwrap();
        assert_eq!(p.policy, Some(None));
        assert!(p.changes.iter().any(|c| matches!(c, BucketChange::PublicAccessBlock { config } if config.block_public_policy && config.restrict_public_buckets)));
        assert!(p.changes.iter().any(
            |c| matches!(c, BucketChange::RemoveTags { remaining, .. } if remaining.is_empty())
        ));
        // Another cluster's public statement keeps the policy switches off, and says so.
        let other = bucket::public_read_statement(
            Partition::Aws,
            &S3Location::parse("s3://acme-oidc/c2").unwrap(),
            &["c2/keys.json".into()],
        );
        let shared = BucketState {
            policy: Some(json!({"Statement": [other]}).to_string()),
            ..st.clone()
        };
        let p = privatize("acme-oidc", &shared, &sid, true).unwrap();
        assert_eq!(p.policy, None);
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert_eq!(p.notes.len(), 1);
        // A private bucket needs nothing.
        let private = BucketState {
            public_access_block: Some(PublicAccessBlock {
                block_public_policy: true,
                restrict_public_buckets: true,
                ..relaxed
            }),
            policy: None,
            tags: BTreeMap::new(),
            ..st
        };
        assert!(privatize("acme-oidc", &private, &sid, true)
            .unwrap()
            .is_empty());
        assert!(public_grants(&private).is_empty());
    }
}
