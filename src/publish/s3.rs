//! An S3 bucket (and prefix) as the issuer's document store, plus the bucket set-up of
//! `--create-bucket`.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectCannedAcl, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, Tag, Tagging,
};
use tracing::instrument;

use super::{Store, StoreError};
use crate::aws::bucket::{BucketChange, BucketState, PublicAccessBlock};
use crate::aws::names::S3Location;
use crate::aws::sdk::{call_error, error_code, AwsError};
use crate::publish::objects::{DesiredObject, ExistingObject, ObjectMetadata};

/// Publishes into `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    location: S3Location,
    acl: bool,
}

fn remote(action: &'static str, location: String, e: AwsError) -> StoreError {
    StoreError::Remote {
        action,
        location,
        source: Box::new(e),
    }
}

/// An SDK request builder's failure, for `op` on `bucket`.
fn build_error<'a>(
    bucket: &'a str,
    op: &'static str,
) -> impl Fn(aws_sdk_s3::error::BuildError) -> StoreError + Copy + 'a {
    move |e| {
        remote(
            "building",
            format!("bucket {bucket}"),
            AwsError::Call {
                operation: op,
                message: e.to_string(),
            },
        )
    }
}

impl S3Store {
    /// A store writing through `client`; `acl` adds a `public-read` ACL to each object.
    pub fn new(client: aws_sdk_s3::Client, location: S3Location, acl: bool) -> Self {
        Self {
            client,
            location,
            acl,
        }
    }

    fn bucket(&self) -> &str {
        &self.location.bucket
    }

    fn describe_key(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket())
    }

    /// The bucket's region, or `None` when the bucket does not exist.
    #[instrument(skip_all)]
    pub async fn bucket_region(&self) -> Result<Option<String>, StoreError> {
        match self
            .client
            .get_bucket_location()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                match out
                    .location_constraint()
                    .map(BucketLocationConstraint::as_str)
                {
                    None | Some("") => "us-east-1".to_string(),
                    Some("EU") => "eu-west-1".to_string(),
                    Some(r) => r.to_string(),
                },
            )),
            Err(e) if error_code(&e) == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(remote(
                "locating",
                format!("bucket {}", self.bucket()),
                call_error("s3:GetBucketLocation", e),
            )),
        }
    }

    /// The bucket policy, or `None` when it has none.
    pub async fn policy(&self) -> Result<Option<String>, StoreError> {
        let b = self.bucket();
        match self.client.get_bucket_policy().bucket(b).send().await {
            Ok(out) => Ok(out.policy().map(str::to_string)),
            Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(remote(
                "reading",
                format!("bucket {b}"),
                call_error("s3:GetBucketPolicy", e),
            )),
        }
    }

    /// Reads what the bucket set-up plan compares against.
    #[instrument(skip_all)]
    pub async fn bucket_state(&self, exists: bool) -> Result<BucketState, StoreError> {
        if !exists {
            return Ok(BucketState::default());
        }
        let b = self.bucket();
        let loc = || format!("bucket {b}");
        // Four independent reads, side by side (each is a round trip).
        let public_access_block = async {
            Ok::<_, StoreError>(
                match self.client.get_public_access_block().bucket(b).send().await {
                    Ok(out) => out
                        .public_access_block_configuration()
                        .map(|c| PublicAccessBlock {
                            block_public_acls: c.block_public_acls().unwrap_or(false),
                            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                            block_public_policy: c.block_public_policy().unwrap_or(false),
                            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                        }),
                    Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => {
                        None
                    }
                    Err(e) => {
                        return Err(remote(
                            "reading",
                            loc(),
                            call_error("s3:GetPublicAccessBlock", e),
                        ))
                    }
                },
            )
        };
        let tags = async {
            Ok::<_, StoreError>(
                match self.client.get_bucket_tagging().bucket(b).send().await {
                    Ok(out) => out
                        .tag_set()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                    Err(e) if error_code(&e) == Some("NoSuchTagSet") => BTreeMap::new(),
                    Err(e) => {
                        return Err(remote(
                            "reading",
                            loc(),
                            call_error("s3:GetBucketTagging", e),
                        ))
                    }
                },
            )
        };
        let object_ownership = async {
            Ok::<_, StoreError>(
                match self
                    .client
                    .get_bucket_ownership_controls()
                    .bucket(b)
                    .send()
                    .await
                {
                    Ok(out) => out
                        .ownership_controls()
                        .and_then(|c| c.rules().first())
                        .map(|r| r.object_ownership().as_str().to_string()),
                    Err(e) if error_code(&e) == Some("OwnershipControlsNotFoundError") => None,
                    Err(e) => {
                        return Err(remote(
                            "reading",
                            loc(),
                            call_error("s3:GetBucketOwnershipControls", e),
                        ))
                    }
                },
            )
        };
        let (public_access_block, policy, tags, object_ownership) =
            tokio::try_join!(public_access_block, self.policy(), tags, object_ownership)?;
        Ok(BucketState {
            exists: true,
            public_access_block,
            policy,
            tags,
            object_ownership,
        })
    }

    /// The bucket's object keys that are not in `ours` (at most the first 1000 listed).
    #[instrument(skip_all)]
    pub async fn keys_besides(&self, ours: &[String]) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(self.bucket())
            .send()
            .await
            .map_err(|e| {
                remote(
                    "listing",
                    format!("bucket {}", self.bucket()),
                    call_error("s3:ListBucket", e),
                )
            })?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter(|k| !ours.iter().any(|o| o == k))
            // The lock runs take turns with is no one's content.
            .filter(|k| *k != crate::publish::lease::LOCK_KEY)
            .map(str::to_string)
            .collect())
    }

    /// Replaces the bucket policy with `doc`, or deletes it when `None`.
    #[instrument(skip_all)]
    pub async fn set_policy(&self, doc: Option<&str>) -> Result<(), StoreError> {
        let b = self.bucket();
        let result = match doc {
            Some(d) => self
                .client
                .put_bucket_policy()
                .bucket(b)
                .policy(d)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("s3:PutBucketPolicy", e)),
            None => self
                .client
                .delete_bucket_policy()
                .bucket(b)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("s3:DeleteBucketPolicy", e)),
        };
        result.map_err(|e| remote("setting the policy of", format!("bucket {b}"), e))
    }

    /// Deletes the (empty) bucket.
    #[instrument(skip_all)]
    pub async fn delete_bucket(&self) -> Result<(), StoreError> {
        let b = self.bucket();
        // This run holds the bucket's lock: give it back first (the bucket must be empty). Should
        // another run take it in between, the bucket is not empty and stays.
        crate::publish::lock::release_for(b).await;
        self.client
            .delete_bucket()
            .bucket(b)
            .send()
            .await
            .map_err(|e| {
                remote(
                    "deleting",
                    format!("bucket {b}"),
                    call_error("s3:DeleteBucket", e),
                )
            })?;
        Ok(())
    }

    /// Replaces the bucket's tag set.
    async fn put_tags(&self, tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let b = self.bucket();
        let build = build_error(b, "s3:PutBucketTagging");
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(build)?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(build)?;
        self.client
            .put_bucket_tagging()
            .bucket(b)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| {
                remote(
                    "tagging",
                    format!("bucket {b}"),
                    call_error("s3:PutBucketTagging", e),
                )
            })?;
        Ok(())
    }

    /// Sets the bucket's Object Ownership.
    async fn set_ownership(&self, ownership: ObjectOwnership) -> Result<(), StoreError> {
        let b = self.bucket();
        let build = build_error(b, "s3:PutBucketOwnershipControls");
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ownership)
            .build()
            .map_err(build)?;
        let controls = OwnershipControls::builder()
            .rules(rule)
            .build()
            .map_err(build)?;
        self.client
            .put_bucket_ownership_controls()
            .bucket(b)
            .ownership_controls(controls)
            .send()
            .await
            .map_err(|e| {
                remote(
                    "configuring",
                    format!("bucket {b}"),
                    call_error("s3:PutBucketOwnershipControls", e),
                )
            })?;
        Ok(())
    }

    /// Applies a bucket plan in order.
    #[instrument(skip_all)]
    pub async fn apply_bucket(&self, changes: &[BucketChange]) -> Result<(), StoreError> {
        let b = self.bucket();
        let loc = || format!("bucket {b}");
        for change in changes {
            match change {
                BucketChange::Create { region } => {
                    let mut req = self.client.create_bucket().bucket(b);
                    if region != "us-east-1" {
                        req = req.create_bucket_configuration(
                            CreateBucketConfiguration::builder()
                                .location_constraint(BucketLocationConstraint::from(
                                    region.as_str(),
                                ))
                                .build(),
                        );
                    }
                    match req.send().await {
                        Ok(_) => {}
                        // A retry after a lost answer: the first attempt created it.
                        Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => {}
                        Err(e) => {
                            return Err(remote("creating", loc(), call_error("s3:CreateBucket", e)))
                        }
                    }
                }
                BucketChange::Tags { tags } => self.put_tags(tags).await?,
                BucketChange::PublicAccessBlock { config } => {
                    let c = PublicAccessBlockConfiguration::builder()
                        .block_public_acls(config.block_public_acls)
                        .ignore_public_acls(config.ignore_public_acls)
                        .block_public_policy(config.block_public_policy)
                        .restrict_public_buckets(config.restrict_public_buckets)
                        .build();
                    self.client
                        .put_public_access_block()
                        .bucket(b)
                        .public_access_block_configuration(c)
                        .send()
                        .await
                        .map_err(|e| {
                            remote(
                                "configuring",
                                loc(),
                                call_error("s3:PutPublicAccessBlock", e),
                            )
                        })?;
                }
                BucketChange::AllowAcls => {
                    self.set_ownership(ObjectOwnership::ObjectWriter).await?
                }
                BucketChange::EnforceOwner => {
                    self.set_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .await?
                }
                BucketChange::RemoveTags { remaining, .. } if remaining.is_empty() => {
                    self.client
                        .delete_bucket_tagging()
                        .bucket(b)
                        .send()
                        .await
                        .map_err(|e| {
                            remote("untagging", loc(), call_error("s3:DeleteBucketTagging", e))
                        })?;
                }
                BucketChange::RemoveTags { remaining, .. } => self.put_tags(remaining).await?,
                BucketChange::Policy { document, .. } => {
                    self.client
                        .put_bucket_policy()
                        .bucket(b)
                        .policy(document)
                        .send()
                        .await
                        .map_err(|e| {
                            remote(
                                "setting the policy of",
                                loc(),
                                call_error("s3:PutBucketPolicy", e),
                            )
                        })?;
                    // Read it back: a writer that replaced the policy in between (another
                    // cluster sharing the bucket, without the lock) would have dropped this
                    // run's statement, and STS could no longer read the documents.
                    let now = self.policy().await?;
                    let lost = crate::aws::bucket::missing_statements(document, now.as_deref());
                    if !lost.is_empty() {
                        return Err(remote(
                            "checking the policy of",
                            loc(),
                            AwsError::Call {
                                operation: "s3:GetBucketPolicy",
                                message: format!("statement(s) {} written by this run are not in the policy read back: another writer replaced it in between; run again (with the bucket lock, runs take turns)", lost.join(", ")),
                            },
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Store for S3Store {
    fn describe(&self) -> String {
        self.location.to_string()
    }

    #[instrument(skip_all, fields(key))]
    async fn get(&self, key: &str) -> Result<Option<ExistingObject>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if matches!(error_code(&e), Some("NoSuchKey" | "NotFound")) => return Ok(None),
            Err(e) => {
                return Err(remote(
                    "reading",
                    self.describe_key(key),
                    call_error("s3:GetObject", e),
                ))
            }
        };
        let metadata = ObjectMetadata {
            content_type: out.content_type().map(str::to_string),
            cache_control: out.cache_control().map(str::to_string),
        };
        let body = out.body.collect().await.map_err(|e| StoreError::Remote {
            action: "reading",
            location: self.describe_key(key),
            source: Box::new(AwsError::Call {
                operation: "s3:GetObject",
                message: format!("the body could not be read ({e})"),
            }),
        })?;
        Ok(Some(ExistingObject {
            body: body.into_bytes().to_vec(),
            metadata: Some(metadata),
        }))
    }

    #[instrument(skip_all, fields(key = %object.key))]
    async fn put(&self, object: &DesiredObject) -> Result<(), StoreError> {
        let mut req = self
            .client
            .put_object()
            .bucket(self.bucket())
            .key(&object.key)
            .body(ByteStream::from(object.body.clone()))
            .content_type(object.content_type)
            .set_cache_control(object.cache_control.clone());
        if self.acl {
            req = req.acl(ObjectCannedAcl::PublicRead);
        }
        req.send().await.map_err(|e| {
            remote(
                "writing",
                self.describe_key(&object.key),
                call_error("s3:PutObject", e),
            )
        })?;
        Ok(())
    }

    #[instrument(skip_all, fields(key))]
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| {
                remote(
                    "deleting",
                    self.describe_key(key),
                    call_error("s3:DeleteObject", e),
                )
            })?;
        Ok(())
    }
}
