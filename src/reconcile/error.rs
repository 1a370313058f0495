//! The error of every reconcile operation, with the error of the layer below as its source.

use super::config;
use crate::errors::chain;

/// Why an operation failed, with the error of the layer below as its source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A key could not be read, parsed or generated.
    #[error(transparent)]
    Key(#[from] crate::oidc::keys::KeyError),
    /// The key directory could not be read or written.
    #[error(transparent)]
    KeyDir(#[from] crate::rotation::keydir::KeyDirError),
    /// A rotation step is not allowed now.
    #[error(transparent)]
    Rotation(#[from] crate::rotation::state::RotationError),
    /// The documents cannot be built from these keys.
    #[error(transparent)]
    Documents(#[from] crate::oidc::documents::DocumentError),
    /// An issuer URL or JWKS path is wrong.
    #[error(transparent)]
    Issuer(#[from] crate::oidc::issuer::IssuerError),
    /// An AWS name (bucket, ARN, thumbprint) is wrong.
    #[error(transparent)]
    Name(#[from] crate::aws::names::NameError),
    /// The bucket cannot be set up as asked.
    #[error(transparent)]
    Bucket(#[from] crate::aws::bucket::BucketError),
    /// Reading or writing a document failed.
    #[error(transparent)]
    Store(#[from] crate::publish::StoreError),
    /// A lock could not be taken or given back.
    #[error(transparent)]
    Lock(#[from] crate::publish::lock::LockError),
    /// The provider cannot be as asked.
    #[error(transparent)]
    Provider(#[from] crate::aws::provider::ProviderError),
    /// The plan cannot be made.
    #[error(transparent)]
    Plan(#[from] super::plan::PlanError),
    /// The role cannot be as asked.
    #[error(transparent)]
    Role(#[from] crate::aws::role::RoleError),
    /// The trust policy cannot be built.
    #[error(transparent)]
    Trust(#[from] crate::aws::trust::TrustError),
    /// Fetching from the issuer failed.
    #[error(transparent)]
    Fetch(#[from] crate::verify::fetch::FetchError),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] crate::aws::sdk::AwsError),
    /// Reaching the accounts failed.
    #[error(transparent)]
    Accounts(#[from] crate::aws::sdk::accounts::AccountsError),
    /// A file could not be read or written.
    #[error("{what}")]
    Io {
        /// What was being done (`cannot read key file F`).
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the JSON it should be.
    #[error("{what}")]
    Json {
        /// Which file, and what it should be.
        what: String,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// Something is refused as asked: the message says what and what to do.
    #[error("{0}")]
    Refused(String),
    /// An error in one account.
    #[error("account {account}")]
    InAccount {
        /// The account ID.
        account: String,
        /// What failed there.
        #[source]
        source: Box<Error>,
    },
    /// An error with what was being done.
    #[error("{context}")]
    Context {
        /// What was being done, and what to do about it.
        context: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// Several steps of a plan failed.
    #[error("{} steps failed: {}", .0.len(), .0.iter().map(|(step, e)| format!("{step}: {}", chain(e))).collect::<Vec<_>>().join("; "))]
    Steps(Vec<(String, Error)>),
}

impl Error {
    /// This error, as having happened in `account`.
    pub fn in_account(self, account: &str) -> Self {
        Self::InAccount {
            account: account.to_string(),
            source: Box::new(self),
        }
    }

    /// This error, with what was being done.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// `Err(Error::Refused(..))` from a format string.
macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err($crate::reconcile::Error::Refused(format!($($arg)*)).into())
    };
}
pub(crate) use refuse;
