//! CloudFront: find an issuer's distribution, Origin Access Control and cache policy, apply the
//! changes [`crate::aws::cdn`] planned (each update with the resource's current ETag), invalidate
//! the two documents, and tear a distribution down (disable, wait until deployed, delete).
//!
//! A concrete type rather than a trait, like the IAM adapters: tests run it against moto's
//! CloudFront (with the launcher's stricter ETag and deletion rules) instead of a fake.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehaviors, CachePolicyConfig, CachePolicyCookieBehavior,
    CachePolicyCookiesConfig, CachePolicyHeaderBehavior, CachePolicyHeadersConfig,
    CachePolicyQueryStringBehavior, CachePolicyQueryStringsConfig, CachePolicyType, CachedMethods,
    CustomErrorResponses, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    InvalidationBatch, Method, MinimumProtocolVersion, Origin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginGroups, Origins,
    ParametersInCacheKeyAndForwardedToOrigin, Paths, PriceClass as SdkPriceClass, S3OriginConfig,
    SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use tracing::instrument;

use super::{call_error, error_code, AwsError};
use crate::aws::cdn::{
    CachePolicyChange, CachePolicyState, CachePolicyWanted, Certificate, DistributionChange,
    DistributionModel, DistributionState, DistributionWanted, Names, OacChange, OacState,
    OacWanted, OriginModel, Pins, COMMENT_PREFIX, DEPLOYED, MINIMUM_PROTOCOL_VERSION, ORIGIN_ID,
    TARGET_TAG,
};

/// The CloudFront resources of one account.
#[derive(Debug, Clone)]
pub struct CloudFront {
    client: aws_sdk_cloudfront::Client,
}

fn build(op: &'static str) -> impl Fn(aws_sdk_cloudfront::error::BuildError) -> AwsError {
    move |e| AwsError::Call {
        operation: op,
        message: e.to_string(),
    }
}

/// A distribution's identity once it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its id.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its own domain.
    pub domain: String,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What irsa-issuer manages of a distribution's configuration, and everything else that acts on
/// a request or response (the model's `extras`).
fn model_of(c: &DistributionConfig) -> DistributionModel {
    let origins = c
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| OriginModel {
            id: o.id().to_string(),
            domain_name: o.domain_name().to_string(),
            origin_path: o.origin_path().unwrap_or_default().to_string(),
            oac_id: o
                .origin_access_control_id()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            s3_oai: o
                .s3_origin_config()
                .map(|s| s.origin_access_identity().to_string()),
        })
        .collect();
    let behavior = c.default_cache_behavior();
    let methods = |m: Option<&AllowedMethods>| -> (Vec<String>, Vec<String>) {
        let Some(m) = m else {
            return (Vec::new(), Vec::new());
        };
        let all = sorted(m.items().iter().map(|x| x.as_str().to_string()).collect());
        let cached = sorted(
            m.cached_methods()
                .map(|c| c.items().iter().map(|x| x.as_str().to_string()).collect())
                .unwrap_or_default(),
        );
        (all, cached)
    };
    let (allowed, cached) = methods(behavior.and_then(|b| b.allowed_methods()));
    let certificate = match c.viewer_certificate() {
        Some(v) if v.acm_certificate_arn().is_some_and(|a| !a.is_empty()) => Certificate::Acm {
            arn: v.acm_certificate_arn().unwrap_or_default().to_string(),
            ssl_support_method: v
                .ssl_support_method()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            minimum_protocol_version: v
                .minimum_protocol_version()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        },
        Some(v) if v.iam_certificate_id().is_some_and(|a| !a.is_empty()) => {
            Certificate::Other(format!(
                "IAM certificate {}",
                v.iam_certificate_id().unwrap_or_default()
            ))
        }
        _ => Certificate::Default,
    };
    DistributionModel {
        enabled: c.enabled(),
        origins,
        target_origin_id: behavior
            .map(|b| b.target_origin_id().to_string())
            .unwrap_or_default(),
        viewer_protocol_policy: behavior
            .map(|b| b.viewer_protocol_policy().as_str().to_string())
            .unwrap_or_default(),
        allowed_methods: allowed,
        cached_methods: cached,
        compress: behavior.and_then(|b| b.compress()).unwrap_or(false),
        cache_policy_id: behavior
            .and_then(|b| b.cache_policy_id())
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        aliases: sorted(c.aliases().map(|a| a.items().to_vec()).unwrap_or_default()),
        certificate,
        price_class: c
            .price_class()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "PriceClass_All".into()),
        comment: c.comment().to_string(),
        extras: extras(c),
    }
}

/// Everything in `c` that acts on a request or a response besides the origin and the cache
/// policy irsa-issuer sets, one description each.
fn extras(c: &DistributionConfig) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = c.default_cache_behavior() {
        for f in b
            .function_associations()
            .map(|f| f.items())
            .unwrap_or_default()
        {
            out.push(format!(
                "CloudFront Function {} on {}",
                f.function_arn(),
                f.event_type().as_str()
            ));
        }
        for l in b
            .lambda_function_associations()
            .map(|l| l.items())
            .unwrap_or_default()
        {
            out.push(format!(
                "Lambda@Edge {} on {}",
                l.lambda_function_arn(),
                l.event_type().as_str()
            ));
        }
        for (what, id) in [
            ("origin request policy", b.origin_request_policy_id()),
            ("response headers policy", b.response_headers_policy_id()),
            ("field-level encryption", b.field_level_encryption_id()),
        ] {
            if let Some(id) = id.filter(|i| !i.is_empty()) {
                out.push(format!("{what} {id}"));
            }
        }
        if b.trusted_key_groups().is_some_and(|t| t.enabled())
            || b.trusted_signers().is_some_and(|t| t.enabled())
        {
            out.push("signed URLs or cookies required (trusted key groups or signers)".into());
        }
    }
    for cb in c.cache_behaviors().map(|b| b.items()).unwrap_or_default() {
        out.push(format!("cache behaviour for {}", cb.path_pattern()));
    }
    if c.origin_groups().is_some_and(|g| g.quantity() > 0) {
        out.push("origin groups".into());
    }
    for e in c
        .custom_error_responses()
        .map(|e| e.items())
        .unwrap_or_default()
    {
        out.push(format!("custom error response for HTTP {}", e.error_code()));
    }
    out
}

fn cache_policy_state(id: &str, c: &CachePolicyConfig) -> CachePolicyState {
    let k = c.parameters_in_cache_key_and_forwarded_to_origin();
    CachePolicyState {
        id: id.to_string(),
        name: c.name().to_string(),
        ttls: (
            c.min_ttl(),
            c.default_ttl().unwrap_or(86400),
            c.max_ttl().unwrap_or(31_536_000),
        ),
        compression: (
            k.is_some_and(|k| k.enable_accept_encoding_gzip()),
            k.and_then(|k| k.enable_accept_encoding_brotli())
                .unwrap_or(false),
        ),
        key: (
            k.and_then(|k| k.headers_config())
                .map(|h| h.header_behavior().as_str().to_string())
                .unwrap_or_default(),
            k.and_then(|k| k.cookies_config())
                .map(|h| h.cookie_behavior().as_str().to_string())
                .unwrap_or_default(),
            k.and_then(|k| k.query_strings_config())
                .map(|h| h.query_string_behavior().as_str().to_string())
                .unwrap_or_default(),
        ),
    }
}

/// An issuer's CloudFront resources, as found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The OAC.
    pub oac: Option<OacState>,
    /// The cache policy.
    pub cache_policy: Option<CachePolicyState>,
    /// The distribution.
    pub distribution: Option<DistributionState>,
}

fn tags_of(map: &BTreeMap<String, String>) -> Result<Tags, AwsError> {
    let items = map
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(build("cloudfront:TagResource"))?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

fn get_get_head() -> Result<AllowedMethods, AwsError> {
    let b = build("cloudfront:UpdateDistribution");
    AllowedMethods::builder()
        .quantity(2)
        .items(Method::Get)
        .items(Method::Head)
        .cached_methods(
            CachedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .build()
                .map_err(&b)?,
        )
        .build()
        .map_err(b)
}

/// The configuration irsa-issuer wants: on top of `base` (the current configuration, whose
/// other settings, such as logging, WAF, HTTP versions and continuous deployment, are kept), or
/// a new one. What could change a response on its way to viewers (function associations, extra
/// cache behaviours, origin groups, custom error responses) is reset, as drift.
fn config(
    w: &DistributionWanted,
    oac_id: &str,
    cache_policy_id: &str,
    base: Option<&DistributionConfig>,
    caller_reference: &str,
) -> Result<DistributionConfig, AwsError> {
    let b = build("cloudfront:DistributionConfig");
    let origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(&w.origin_domain)
        .origin_path("")
        .origin_access_control_id(oac_id)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .map_err(&b)?;
    let origins = Origins::builder()
        .quantity(1)
        .items(origin)
        .build()
        .map_err(&b)?;
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(get_get_head()?)
        .compress(true)
        .cache_policy_id(cache_policy_id)
        .build()
        .map_err(&b)?;
    let aliases: Vec<String> = w.alias.iter().cloned().collect();
    let aliases = Aliases::builder()
        .quantity(aliases.len() as i32)
        .set_items((!aliases.is_empty()).then_some(aliases))
        .build()
        .map_err(&b)?;
    let cert = match &w.certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::from(MINIMUM_PROTOCOL_VERSION))
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    let Some(base) = base else {
        return DistributionConfig::builder()
            .caller_reference(caller_reference)
            .comment(&w.comment)
            .enabled(true)
            .origins(origins)
            .default_cache_behavior(behavior)
            .aliases(aliases)
            .viewer_certificate(cert)
            .price_class(SdkPriceClass::from(w.price_class.as_str()))
            .is_ipv6_enabled(true)
            .build()
            .map_err(b);
    };
    let mut c = base.clone();
    c.comment = w.comment.clone();
    c.enabled = true;
    c.origins = Some(origins);
    c.default_cache_behavior = Some(behavior);
    c.cache_behaviors = Some(CacheBehaviors::builder().quantity(0).build().map_err(&b)?);
    c.origin_groups = base
        .origin_groups()
        .is_some_and(|g| g.quantity() > 0)
        .then(|| OriginGroups::builder().quantity(0).build())
        .transpose()
        .map_err(&b)?;
    c.custom_error_responses = Some(
        CustomErrorResponses::builder()
            .quantity(0)
            .build()
            .map_err(&b)?,
    );
    c.aliases = Some(aliases);
    c.viewer_certificate = Some(cert);
    c.price_class = Some(SdkPriceClass::from(w.price_class.as_str()));
    Ok(c)
}

/// `current` as it is (continuous deployment, staging, anycast and everything else this SDK
/// knows), only disabled.
fn disabled(mut current: DistributionConfig) -> DistributionConfig {
    current.enabled = false;
    current
}

impl CloudFront {
    /// CloudFront through `client`.
    pub fn new(client: aws_sdk_cloudfront::Client) -> Self {
        Self { client }
    }

    /// An issuer's OAC, cache policy and distribution: each by its pinned id, else the OAC and
    /// cache policy by name and the distribution by its tags. A pinned id that does not exist
    /// is refused (a pinned resource is never created anew: the runner's policy would not allow
    /// it, and the file would name a resource that is gone), unless `gone_ok` (a teardown that
    /// resumes after deleting it).
    #[instrument(skip_all)]
    pub async fn lookup(
        &self,
        pins: &Pins,
        names: &Names,
        gone_ok: bool,
    ) -> Result<Found, AwsError> {
        let gone = |what: &str, field: &str, id: &str| {
            AwsError::Call {
            operation: "cloudfront:Get",
            message: format!("cdn.{field} = \"{id}\" names no {what} of this account: fix it, or remove it from the file to create a new one (`irsa-issuer iam-policy` then prints the policy that may create it)"),
        }
        };
        let oac = match &pins.origin_access_control_id {
            Some(id) => match self.oac_by_id(id).await? {
                None if !gone_ok => {
                    return Err(gone(
                        "origin access control",
                        "origin_access_control_id",
                        id,
                    ))
                }
                found => found,
            },
            None => self.find_oac(&names.resource).await?,
        };
        let cache_policy = match &pins.cache_policy_id {
            Some(id) => match self.cache_policy_by_id(id).await? {
                None if !gone_ok => return Err(gone("cache policy", "cache_policy_id", id)),
                found => found,
            },
            None => self.find_cache_policy(&names.resource).await?,
        };
        let distribution = self
            .pinned_or_tagged(pins.distribution_id.as_deref(), &names.target, gone_ok)
            .await?;
        Ok(Found {
            oac,
            cache_policy,
            distribution,
        })
    }

    /// The distribution `pinned` (refused when it is gone, unless `gone_ok`, or when it is
    /// tagged for another target), else the one tagged for `target`.
    pub async fn pinned_or_tagged(
        &self,
        pinned: Option<&str>,
        target: &str,
        gone_ok: bool,
    ) -> Result<Option<DistributionState>, AwsError> {
        let Some(id) = pinned else {
            return self.find_distribution(target).await;
        };
        let d = match self.distribution(id).await? {
            Some(d) => d,
            None if gone_ok => return Ok(None),
            None => return Err(AwsError::Call {
                operation: "cloudfront:GetDistribution",
                message: format!("cdn.distribution_id = \"{id}\" names no distribution of this account: fix it, or remove it from the file to create a new one (`irsa-issuer iam-policy` then prints the policy that may create it)"),
            }),
        };
        if let Some(other) = d.tags.get(TARGET_TAG).filter(|t| *t != target) {
            return Err(AwsError::Call {
                operation: "cloudfront:ListTagsForResource",
                message: format!("cdn.distribution_id = \"{id}\" serves {other}, not {target}: pin this target's distribution"),
            });
        }
        Ok(Some(d))
    }

    /// The OAC named `name`, if any.
    #[instrument(skip_all, fields(name))]
    pub async fn find_oac(&self, name: &str) -> Result<Option<OacState>, AwsError> {
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_origin_access_controls()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| call_error("cloudfront:ListOriginAccessControls", e))?;
            let Some(list) = out.origin_access_control_list() else {
                return Ok(None);
            };
            if let Some(o) = list.items().iter().find(|o| o.name() == name) {
                return Ok(Some(OacState {
                    id: o.id().to_string(),
                    name: o.name().to_string(),
                    signing_protocol: o.signing_protocol().as_str().to_string(),
                    signing_behavior: o.signing_behavior().as_str().to_string(),
                    origin_type: o.origin_access_control_origin_type().as_str().to_string(),
                }));
            }
            match list
                .next_marker()
                .filter(|m| list.is_truncated() && !m.is_empty())
            {
                Some(m) => marker = Some(m.to_string()),
                None => return Ok(None),
            }
        }
    }

    /// The OAC `id`, if it exists.
    #[instrument(skip_all, fields(id))]
    pub async fn oac_by_id(&self, id: &str) -> Result<Option<OacState>, AwsError> {
        let out = match self.client.get_origin_access_control().id(id).send().await {
            Ok(o) => o,
            Err(e) if error_code(&e) == Some("NoSuchOriginAccessControl") => return Ok(None),
            Err(e) => return Err(call_error("cloudfront:GetOriginAccessControl", e)),
        };
        Ok(out
            .origin_access_control()
            .and_then(|o| Some((o.id(), o.origin_access_control_config()?)))
            .map(|(id, c)| OacState {
                id: id.to_string(),
                name: c.name().to_string(),
                signing_protocol: c.signing_protocol().as_str().to_string(),
                signing_behavior: c.signing_behavior().as_str().to_string(),
                origin_type: c.origin_access_control_origin_type().as_str().to_string(),
            }))
    }

    /// The custom cache policy named `name`, if any.
    #[instrument(skip_all, fields(name))]
    pub async fn find_cache_policy(
        &self,
        name: &str,
    ) -> Result<Option<CachePolicyState>, AwsError> {
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_cache_policies()
                .r#type(CachePolicyType::Custom)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| call_error("cloudfront:ListCachePolicies", e))?;
            let Some(list) = out.cache_policy_list() else {
                return Ok(None);
            };
            for s in list.items() {
                let Some(p) = s.cache_policy() else { continue };
                if let Some(c) = p.cache_policy_config().filter(|c| c.name() == name) {
                    return Ok(Some(cache_policy_state(p.id(), c)));
                }
            }
            match list.next_marker().filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m.to_string()),
                None => return Ok(None),
            }
        }
    }

    /// The cache policy `id`, if it exists.
    #[instrument(skip_all, fields(id))]
    pub async fn cache_policy_by_id(&self, id: &str) -> Result<Option<CachePolicyState>, AwsError> {
        let out = match self.client.get_cache_policy().id(id).send().await {
            Ok(o) => o,
            Err(e) if error_code(&e) == Some("NoSuchCachePolicy") => return Ok(None),
            Err(e) => return Err(call_error("cloudfront:GetCachePolicy", e)),
        };
        Ok(out
            .cache_policy()
            .and_then(|p| Some(cache_policy_state(p.id(), p.cache_policy_config()?))))
    }

    /// The distribution tagged as serving `target` (`s3://BUCKET/PREFIX`), if any: found by its
    /// tags alone (a hand-edited comment does not hide it; the comment is drift). Distributions
    /// whose comment is irsa-issuer's are looked at first, then all the others. Two tagged for
    /// the same target are refused: which one serves the issuer is for a person to say
    /// (`cdn.distribution_id`).
    #[instrument(skip_all, fields(target))]
    pub async fn find_distribution(
        &self,
        target: &str,
    ) -> Result<Option<DistributionState>, AwsError> {
        let mut summaries: Vec<(String, String, bool)> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_distributions()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| call_error("cloudfront:ListDistributions", e))?;
            let Some(list) = out.distribution_list() else {
                break;
            };
            summaries.extend(list.items().iter().map(|d| {
                (
                    d.id().to_string(),
                    d.arn().to_string(),
                    d.comment().starts_with(COMMENT_PREFIX),
                )
            }));
            match list
                .next_marker()
                .filter(|m| list.is_truncated() && !m.is_empty())
            {
                Some(m) => marker = Some(m.to_string()),
                None => break,
            }
        }
        for ours_by_comment in [true, false] {
            let mut matches = Vec::new();
            for (id, arn, _) in summaries.iter().filter(|s| s.2 == ours_by_comment) {
                let tags = self.tags(arn).await?;
                if tags.get(TARGET_TAG).map(String::as_str) == Some(target)
                    && crate::aws::owner::is_managed(&tags)
                {
                    matches.push(id.clone());
                }
            }
            match matches.as_slice() {
                [] => continue,
                [id] => return self.distribution(id).await,
                many => {
                    return Err(AwsError::Call {
                        operation: "cloudfront:ListTagsForResource",
                        message: format!("distributions {} are all tagged as serving {target}: pin the one that does with cdn.distribution_id in the file (and delete or untag the others)", many.join(", ")),
                    })
                }
            }
        }
        Ok(None)
    }

    /// The distribution `id` with its configuration and tags, if it exists.
    #[instrument(skip_all, fields(id))]
    pub async fn distribution(&self, id: &str) -> Result<Option<DistributionState>, AwsError> {
        let out = match self.client.get_distribution().id(id).send().await {
            Ok(o) => o,
            Err(e) if error_code(&e) == Some("NoSuchDistribution") => return Ok(None),
            Err(e) => return Err(call_error("cloudfront:GetDistribution", e)),
        };
        let Some(d) = out.distribution() else {
            return Ok(None);
        };
        let Some(config) = d.distribution_config() else {
            return Err(AwsError::Call {
                operation: "cloudfront:GetDistribution",
                message: format!("no configuration returned for distribution {id}"),
            });
        };
        Ok(Some(DistributionState {
            id: d.id().to_string(),
            arn: d.arn().to_string(),
            domain: d.domain_name().to_string(),
            status: d.status().to_string(),
            model: model_of(config),
            tags: self.tags(d.arn()).await?,
        }))
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource(arn)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:ListTagsForResource", e))?;
        Ok(out
            .tags()
            .map(|t| t.items())
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    fn oac_config(w: &OacWanted) -> Result<OriginAccessControlConfig, AwsError> {
        OriginAccessControlConfig::builder()
            .name(&w.name)
            .description(&w.description)
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .map_err(build("cloudfront:OriginAccessControlConfig"))
    }

    /// Creates or repairs the OAC; returns its id.
    #[instrument(skip_all)]
    pub async fn apply_oac(&self, change: &OacChange) -> Result<String, AwsError> {
        match change {
            OacChange::Create(w) => {
                let out = self
                    .client
                    .create_origin_access_control()
                    .origin_access_control_config(Self::oac_config(w)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:CreateOriginAccessControl", e))?;
                Ok(out
                    .origin_access_control()
                    .map(|o| o.id().to_string())
                    .unwrap_or_default())
            }
            OacChange::Update { id, wanted, .. } => {
                let etag = self
                    .client
                    .get_origin_access_control()
                    .id(id)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:GetOriginAccessControl", e))?
                    .e_tag()
                    .map(str::to_string);
                self.client
                    .update_origin_access_control()
                    .id(id)
                    .set_if_match(etag)
                    .origin_access_control_config(Self::oac_config(wanted)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:UpdateOriginAccessControl", e))?;
                Ok(id.clone())
            }
        }
    }

    fn cache_policy_config(w: &CachePolicyWanted) -> Result<CachePolicyConfig, AwsError> {
        let b = build("cloudfront:CachePolicyConfig");
        let key = ParametersInCacheKeyAndForwardedToOrigin::builder()
            .enable_accept_encoding_gzip(true)
            .enable_accept_encoding_brotli(true)
            .headers_config(
                CachePolicyHeadersConfig::builder()
                    .header_behavior(CachePolicyHeaderBehavior::None)
                    .build()
                    .map_err(&b)?,
            )
            .cookies_config(
                CachePolicyCookiesConfig::builder()
                    .cookie_behavior(CachePolicyCookieBehavior::None)
                    .build()
                    .map_err(&b)?,
            )
            .query_strings_config(
                CachePolicyQueryStringsConfig::builder()
                    .query_string_behavior(CachePolicyQueryStringBehavior::None)
                    .build()
                    .map_err(&b)?,
            )
            .build()
            .map_err(&b)?;
        CachePolicyConfig::builder()
            .name(&w.name)
            .comment(&w.comment)
            .min_ttl(0)
            .default_ttl(w.ttl)
            .max_ttl(w.ttl)
            .parameters_in_cache_key_and_forwarded_to_origin(key)
            .build()
            .map_err(b)
    }

    /// Creates or repairs the cache policy; returns its id.
    #[instrument(skip_all)]
    pub async fn apply_cache_policy(&self, change: &CachePolicyChange) -> Result<String, AwsError> {
        match change {
            CachePolicyChange::Create(w) => {
                let out = self
                    .client
                    .create_cache_policy()
                    .cache_policy_config(Self::cache_policy_config(w)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:CreateCachePolicy", e))?;
                Ok(out
                    .cache_policy()
                    .map(|p| p.id().to_string())
                    .unwrap_or_default())
            }
            CachePolicyChange::Update { id, wanted, .. } => {
                let etag = self
                    .client
                    .get_cache_policy()
                    .id(id)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:GetCachePolicy", e))?
                    .e_tag()
                    .map(str::to_string);
                self.client
                    .update_cache_policy()
                    .id(id)
                    .set_if_match(etag)
                    .cache_policy_config(Self::cache_policy_config(wanted)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:UpdateCachePolicy", e))?;
                Ok(id.clone())
            }
        }
    }

    /// The distribution's configuration and its current ETag.
    async fn config_and_etag(&self, id: &str) -> Result<(DistributionConfig, String), AwsError> {
        let out = self
            .client
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:GetDistributionConfig", e))?;
        let etag = out.e_tag().unwrap_or_default().to_string();
        let config = out.distribution_config().cloned().ok_or(AwsError::Call {
            operation: "cloudfront:GetDistributionConfig",
            message: format!("no configuration returned for distribution {id}"),
        })?;
        Ok((config, etag))
    }

    /// Applies one planned change to the distribution, with the OAC and cache policy ids (an
    /// update rewrites what irsa-issuer manages on top of the current configuration, with its
    /// ETag). Returns the distribution's identity.
    #[instrument(skip_all)]
    pub async fn apply_distribution(
        &self,
        change: &DistributionChange,
        oac_id: &str,
        cache_policy_id: &str,
        caller_reference: &str,
    ) -> Result<Option<Created>, AwsError> {
        match change {
            DistributionChange::Create(w) => {
                let with_tags = DistributionConfigWithTags::builder()
                    .distribution_config(config(
                        w,
                        oac_id,
                        cache_policy_id,
                        None,
                        caller_reference,
                    )?)
                    .tags(tags_of(&w.tags)?)
                    .build();
                let out = self
                    .client
                    .create_distribution_with_tags()
                    .distribution_config_with_tags(with_tags)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:CreateDistributionWithTags", e))?;
                let d = out.distribution().ok_or(AwsError::Call {
                    operation: "cloudfront:CreateDistributionWithTags",
                    message: "no distribution in the answer".into(),
                })?;
                Ok(Some(Created {
                    id: d.id().to_string(),
                    arn: d.arn().to_string(),
                    domain: d.domain_name().to_string(),
                }))
            }
            DistributionChange::Update { id, wanted, .. } => {
                let (current, etag) = self.config_and_etag(id).await?;
                let new = config(
                    wanted,
                    oac_id,
                    cache_policy_id,
                    Some(&current),
                    caller_reference,
                )?;
                self.client
                    .update_distribution()
                    .id(id)
                    .if_match(etag)
                    .distribution_config(new)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:UpdateDistribution", e))?;
                Ok(None)
            }
            DistributionChange::Tag { arn, tags } => {
                self.tag(arn, tags).await?;
                Ok(None)
            }
        }
    }

    /// Adds or updates tags on a distribution.
    #[instrument(skip_all)]
    pub async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.client
            .tag_resource()
            .resource(arn)
            .tags(tags_of(tags)?)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:TagResource", e))?;
        Ok(())
    }

    /// Invalidates `paths` (absolute, `/PREFIX/...`) in the distribution; returns the
    /// invalidation's id.
    #[instrument(skip_all, fields(id))]
    pub async fn invalidate(
        &self,
        id: &str,
        paths: &[String],
        caller_reference: &str,
    ) -> Result<String, AwsError> {
        let b = build("cloudfront:CreateInvalidation");
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(paths.len() as i32)
                    .set_items(Some(paths.to_vec()))
                    .build()
                    .map_err(&b)?,
            )
            .caller_reference(caller_reference)
            .build()
            .map_err(b)?;
        let out = self
            .client
            .create_invalidation()
            .distribution_id(id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:CreateInvalidation", e))?;
        Ok(out
            .invalidation()
            .map(|i| i.id().to_string())
            .unwrap_or_default())
    }

    /// The distribution's status (`InProgress`, `Deployed`) and ETag.
    async fn status(&self, id: &str) -> Result<(String, String), AwsError> {
        let out = self
            .client
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:GetDistribution", e))?;
        Ok((
            out.distribution()
                .map(|d| d.status().to_string())
                .unwrap_or_default(),
            out.e_tag().unwrap_or_default().to_string(),
        ))
    }

    /// Disables the distribution (its configuration otherwise unchanged), with its ETag.
    #[instrument(skip_all, fields(id))]
    pub async fn disable(&self, id: &str) -> Result<(), AwsError> {
        let (current, etag) = self.config_and_etag(id).await?;
        if !current.enabled() {
            return Ok(());
        }
        let disabled = disabled(current);
        self.client
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(disabled)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:UpdateDistribution", e))?;
        Ok(())
    }

    /// Polls until the distribution is deployed, every `interval`, for at most `timeout`,
    /// telling `progress` what it sees. A timeout is an error that says how to resume.
    #[instrument(skip_all, fields(id))]
    pub async fn wait_deployed(
        &self,
        id: &str,
        timeout: Duration,
        interval: Duration,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), AwsError> {
        let start = tokio::time::Instant::now();
        loop {
            let (status, _) = self.status(id).await?;
            let waited = start.elapsed();
            if status == DEPLOYED {
                return Ok(());
            }
            if waited >= timeout {
                return Err(AwsError::Call {
                    operation: "cloudfront:GetDistribution",
                    message: format!(
                        "distribution {id} is still {status} after {} s (CloudFront takes minutes to deploy a change to every edge location): run the same command again to resume from here, or raise cdn.deploy_timeout",
                        waited.as_secs()
                    ),
                });
            }
            progress(&format!(
                "distribution {id} is {status} ({} s of at most {} s)",
                waited.as_secs(),
                timeout.as_secs()
            ));
            tokio::time::sleep(interval.min(timeout.saturating_sub(waited))).await;
        }
    }

    /// Deletes the (disabled, deployed) distribution, with its current ETag.
    #[instrument(skip_all, fields(id))]
    pub async fn delete_distribution(&self, id: &str) -> Result<(), AwsError> {
        let (_, etag) = self.status(id).await?;
        self.client
            .delete_distribution()
            .id(id)
            .if_match(etag)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:DeleteDistribution", e))?;
        Ok(())
    }

    /// Deletes the OAC, with its current ETag.
    #[instrument(skip_all, fields(id))]
    pub async fn delete_oac(&self, id: &str) -> Result<(), AwsError> {
        let etag = self
            .client
            .get_origin_access_control()
            .id(id)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:GetOriginAccessControl", e))?
            .e_tag()
            .map(str::to_string);
        self.client
            .delete_origin_access_control()
            .id(id)
            .set_if_match(etag)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:DeleteOriginAccessControl", e))?;
        Ok(())
    }

    /// Deletes the cache policy, with its current ETag.
    #[instrument(skip_all, fields(id))]
    pub async fn delete_cache_policy(&self, id: &str) -> Result<(), AwsError> {
        let etag = self
            .client
            .get_cache_policy()
            .id(id)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:GetCachePolicy", e))?
            .e_tag()
            .map(str::to_string);
        self.client
            .delete_cache_policy()
            .id(id)
            .set_if_match(etag)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:DeleteCachePolicy", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::cdn::{CdnConfig, PriceClass};
    use aws_sdk_cloudfront::types::{EventType, FunctionAssociation, FunctionAssociations};

    fn wanted() -> DistributionWanted {
        let c = CdnConfig {
            alias: None,
            acm_certificate_arn: None,
            price_class: PriceClass::default(),
            deploy_timeout: 60,
            pins: Pins::default(),
        };
        let loc = crate::aws::names::S3Location::parse("s3://acme-oidc/c1").unwrap();
        DistributionWanted::new(&c, &loc, "us-east-1", None, &BTreeMap::new())
    }

    /// A configuration as someone else left it: staging set-up, logging, WAF, and a
    /// viewer-response function.
    fn theirs() -> DistributionConfig {
        let base = config(&wanted(), "OAC1", "CP1", None, "ref").unwrap();
        let mut c = base.clone();
        c.continuous_deployment_policy_id = Some("cdp-1".into());
        c.staging = Some(false);
        c.web_acl_id = Some("arn:aws:wafv2:us-east-1:1:global/webacl/w/1".into());
        c.comment = "hand-edited".into();
        let mut b = c.default_cache_behavior.clone().unwrap();
        b.function_associations = Some(
            FunctionAssociations::builder()
                .quantity(1)
                .items(
                    FunctionAssociation::builder()
                        .function_arn("arn:aws:cloudfront::1:function/f")
                        .event_type(EventType::ViewerResponse)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
        c.default_cache_behavior = Some(b);
        c
    }

    #[test]
    fn an_update_keeps_what_irsa_issuer_does_not_manage_and_resets_what_acts_on_responses() {
        let current = theirs();
        assert_eq!(
            model_of(&current).extras,
            ["CloudFront Function arn:aws:cloudfront::1:function/f on viewer-response"]
        );
        let new = config(&wanted(), "OAC1", "CP1", Some(&current), "unused").unwrap();
        assert_eq!(
            new.continuous_deployment_policy_id.as_deref(),
            Some("cdp-1")
        );
        assert_eq!(new.staging, Some(false));
        assert_eq!(new.web_acl_id, current.web_acl_id);
        assert_eq!(new.caller_reference, current.caller_reference);
        assert_eq!(new.comment, "irsa-issuer s3://acme-oidc/c1");
        let m = model_of(&new);
        assert!(m.extras.is_empty(), "{:?}", m.extras);
        assert!(crate::aws::cdn::drift(&m, &wanted().model(Some("OAC1"), Some("CP1"))).is_empty());
    }

    #[test]
    fn disabling_changes_nothing_else() {
        let current = theirs();
        let d = disabled(current.clone());
        assert!(!d.enabled);
        assert_eq!(d.continuous_deployment_policy_id.as_deref(), Some("cdp-1"));
        assert_eq!(d.staging, Some(false));
        let mut back = d;
        back.enabled = true;
        assert_eq!(back, current);
    }
}
