//! CloudFront: find an issuer's distribution, Origin Access Control and cache policy, apply the
//! changes [`crate::aws::cdn`] planned (each update with the resource's current ETag), invalidate
//! the two documents, and tear a distribution down (disable, wait until deployed, delete).
//!
//! A concrete type rather than a trait, like the IAM adapters: tests run it against moto's
//! CloudFront (with the launcher's stricter ETag and deletion rules) instead of a fake.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachePolicyConfig, CachePolicyCookieBehavior,
    CachePolicyCookiesConfig, CachePolicyHeaderBehavior, CachePolicyHeadersConfig,
    CachePolicyQueryStringBehavior, CachePolicyQueryStringsConfig, CachePolicyType, CachedMethods,
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, InvalidationBatch,
    Method, MinimumProtocolVersion, Origin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, Origins, ParametersInCacheKeyAndForwardedToOrigin, Paths,
    PriceClass as SdkPriceClass, S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate,
    ViewerProtocolPolicy,
};
use tracing::instrument;

use super::{call_error, AwsError};
use crate::aws::cdn::{
    CachePolicyChange, CachePolicyState, CachePolicyWanted, Certificate, DistributionChange,
    DistributionModel, DistributionState, DistributionWanted, OacChange, OacState, OacWanted,
    OriginModel, COMMENT_PREFIX, DEPLOYED, MINIMUM_PROTOCOL_VERSION, ORIGIN_ID, TARGET_TAG,
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

fn model_of(
    enabled: bool,
    origins: Option<&Origins>,
    behavior: Option<&DefaultCacheBehavior>,
    aliases: Option<&Aliases>,
    cert: Option<&ViewerCertificate>,
    price_class: Option<&SdkPriceClass>,
) -> DistributionModel {
    let origins = origins
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
    let certificate = match cert {
        Some(c) if c.acm_certificate_arn().is_some_and(|a| !a.is_empty()) => Certificate::Acm {
            arn: c.acm_certificate_arn().unwrap_or_default().to_string(),
            ssl_support_method: c
                .ssl_support_method()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            minimum_protocol_version: c
                .minimum_protocol_version()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        },
        Some(c) if c.iam_certificate_id().is_some_and(|a| !a.is_empty()) => {
            Certificate::Other(format!(
                "IAM certificate {}",
                c.iam_certificate_id().unwrap_or_default()
            ))
        }
        _ => Certificate::Default,
    };
    DistributionModel {
        enabled,
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
        aliases: sorted(aliases.map(|a| a.items().to_vec()).unwrap_or_default()),
        certificate,
        price_class: price_class
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "PriceClass_All".into()),
    }
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

/// The parts of a distribution configuration irsa-issuer sets, on top of `base` (the current
/// configuration, whose other settings are kept) or of a new one.
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
    let mut c = DistributionConfig::builder()
        .caller_reference(
            base.map(|c| c.caller_reference().to_string())
                .unwrap_or_else(|| caller_reference.to_string()),
        )
        .comment(&w.comment)
        .enabled(true)
        .origins(origins)
        .default_cache_behavior(behavior)
        .aliases(aliases)
        .viewer_certificate(cert)
        .price_class(SdkPriceClass::from(w.price_class.as_str()));
    if let Some(base) = base {
        c = c
            .set_default_root_object(base.default_root_object().map(str::to_string))
            .set_custom_error_responses(base.custom_error_responses().cloned())
            .set_logging(base.logging().cloned())
            .set_restrictions(base.restrictions().cloned())
            .set_web_acl_id(base.web_acl_id().map(str::to_string))
            .set_http_version(base.http_version().cloned())
            .set_is_ipv6_enabled(base.is_ipv6_enabled())
            .set_continuous_deployment_policy_id(
                base.continuous_deployment_policy_id().map(str::to_string),
            )
            .set_staging(base.staging());
    } else {
        c = c.is_ipv6_enabled(true);
    }
    c.build().map_err(b)
}

impl CloudFront {
    /// CloudFront through `client`.
    pub fn new(client: aws_sdk_cloudfront::Client) -> Self {
        Self { client }
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
                .map_err(|e| call_error("cloudfront:ListOriginAccessControls", &e))?;
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
                .map_err(|e| call_error("cloudfront:ListCachePolicies", &e))?;
            let Some(list) = out.cache_policy_list() else {
                return Ok(None);
            };
            for s in list.items() {
                let Some(p) = s.cache_policy() else { continue };
                let Some(c) = p.cache_policy_config().filter(|c| c.name() == name) else {
                    continue;
                };
                let k = c.parameters_in_cache_key_and_forwarded_to_origin();
                return Ok(Some(CachePolicyState {
                    id: p.id().to_string(),
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
                }));
            }
            match list.next_marker().filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m.to_string()),
                None => return Ok(None),
            }
        }
    }

    /// The distribution tagged as serving `target` (`s3://BUCKET/PREFIX`), if any: listed,
    /// filtered by irsa-issuer's comment, then confirmed by its tags.
    #[instrument(skip_all, fields(target))]
    pub async fn find_distribution(
        &self,
        target: &str,
    ) -> Result<Option<DistributionState>, AwsError> {
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_distributions()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| call_error("cloudfront:ListDistributions", &e))?;
            let Some(list) = out.distribution_list() else {
                return Ok(None);
            };
            for d in list
                .items()
                .iter()
                .filter(|d| d.comment().starts_with(COMMENT_PREFIX))
            {
                let tags = self.tags(d.arn()).await?;
                if tags.get(TARGET_TAG).map(String::as_str) != Some(target)
                    || !crate::aws::owner::is_managed(&tags)
                {
                    continue;
                }
                return Ok(Some(DistributionState {
                    id: d.id().to_string(),
                    arn: d.arn().to_string(),
                    domain: d.domain_name().to_string(),
                    status: d.status().to_string(),
                    model: model_of(
                        d.enabled(),
                        d.origins(),
                        d.default_cache_behavior(),
                        d.aliases(),
                        d.viewer_certificate(),
                        Some(d.price_class()),
                    ),
                    tags,
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

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource(arn)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:ListTagsForResource", &e))?;
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
                    .map_err(|e| call_error("cloudfront:CreateOriginAccessControl", &e))?;
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
                    .map_err(|e| call_error("cloudfront:GetOriginAccessControl", &e))?
                    .e_tag()
                    .map(str::to_string);
                self.client
                    .update_origin_access_control()
                    .id(id)
                    .set_if_match(etag)
                    .origin_access_control_config(Self::oac_config(wanted)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:UpdateOriginAccessControl", &e))?;
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
                    .map_err(|e| call_error("cloudfront:CreateCachePolicy", &e))?;
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
                    .map_err(|e| call_error("cloudfront:GetCachePolicy", &e))?
                    .e_tag()
                    .map(str::to_string);
                self.client
                    .update_cache_policy()
                    .id(id)
                    .set_if_match(etag)
                    .cache_policy_config(Self::cache_policy_config(wanted)?)
                    .send()
                    .await
                    .map_err(|e| call_error("cloudfront:UpdateCachePolicy", &e))?;
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
            .map_err(|e| call_error("cloudfront:GetDistributionConfig", &e))?;
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
                    .map_err(|e| call_error("cloudfront:CreateDistributionWithTags", &e))?;
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
                    .map_err(|e| call_error("cloudfront:UpdateDistribution", &e))?;
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
            .map_err(|e| call_error("cloudfront:TagResource", &e))?;
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
            .map_err(|e| call_error("cloudfront:CreateInvalidation", &e))?;
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
            .map_err(|e| call_error("cloudfront:GetDistribution", &e))?;
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
        let b = build("cloudfront:UpdateDistribution");
        let disabled = DistributionConfig::builder()
            .caller_reference(current.caller_reference())
            .set_aliases(current.aliases().cloned())
            .set_default_root_object(current.default_root_object().map(str::to_string))
            .set_origins(current.origins().cloned())
            .set_origin_groups(current.origin_groups().cloned())
            .set_default_cache_behavior(current.default_cache_behavior().cloned())
            .set_cache_behaviors(current.cache_behaviors().cloned())
            .set_custom_error_responses(current.custom_error_responses().cloned())
            .comment(current.comment())
            .set_logging(current.logging().cloned())
            .set_price_class(current.price_class().cloned())
            .enabled(false)
            .set_viewer_certificate(current.viewer_certificate().cloned())
            .set_restrictions(current.restrictions().cloned())
            .set_web_acl_id(current.web_acl_id().map(str::to_string))
            .set_http_version(current.http_version().cloned())
            .set_is_ipv6_enabled(current.is_ipv6_enabled())
            .build()
            .map_err(b)?;
        self.client
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(disabled)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:UpdateDistribution", &e))?;
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
            .map_err(|e| call_error("cloudfront:DeleteDistribution", &e))?;
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
            .map_err(|e| call_error("cloudfront:GetOriginAccessControl", &e))?
            .e_tag()
            .map(str::to_string);
        self.client
            .delete_origin_access_control()
            .id(id)
            .set_if_match(etag)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:DeleteOriginAccessControl", &e))?;
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
            .map_err(|e| call_error("cloudfront:GetCachePolicy", &e))?
            .e_tag()
            .map(str::to_string);
        self.client
            .delete_cache_policy()
            .id(id)
            .set_if_match(etag)
            .send()
            .await
            .map_err(|e| call_error("cloudfront:DeleteCachePolicy", &e))?;
        Ok(())
    }
}
