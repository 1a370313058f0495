//! AWS: what IAM and S3 must hold for an issuer to be trusted, as values and plans (names and
//! partitions, the bucket and its public-read statement, the OIDC provider, roles and their
//! trust policies, CloudFront in front of a private bucket, the policy the principal running irsa-issuer needs), and, in `sdk`, the
//! adapters that read and change them through the AWS SDK (S3 lives in `publish::s3`).
//!
//! Pure: `names`, `owner`, `diff`, `bucket`, `cdn`, `provider`, `role`, `trust`, `runner_policy`.
//! I/O: `sdk`.

pub mod bucket;
pub mod cdn;
pub mod diff;
pub mod names;
pub mod owner;
pub mod provider;
pub mod role;
pub mod runner_policy;
pub mod sdk;
pub mod trust;
