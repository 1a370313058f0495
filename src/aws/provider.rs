//! The IAM OpenID Connect provider, pure: its wanted state, IAM's limits, and the plan that turns
//! what exists into what is wanted.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::aws::names::Thumbprint;
use crate::oidc::issuer::IssuerUrl;

use crate::aws::owner::with_owner_tags;
pub use crate::aws::owner::Owner;
pub use crate::aws::owner::{is_managed, MANAGED_TAG};

/// The tags of `wanted` that `actual` lacks or has with another value. Tags irsa-issuer was not
/// asked for are never removed: other tools (cost allocation, ownership) set them.
pub fn tags_to_set(
    wanted: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    wanted
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// IAM's limits on an OIDC provider.
pub mod limits {
    /// Characters in the provider URL.
    pub const URL_MAX: usize = 255;
    /// Thumbprints per provider.
    pub const THUMBPRINTS_MAX: usize = 5;
    /// Client IDs per provider.
    pub const CLIENT_IDS_MAX: usize = 100;
    /// Characters in one client ID.
    pub const CLIENT_ID_MAX: usize = 255;
    /// Tags per resource.
    pub const TAGS_MAX: usize = 50;
}

/// Why a provider specification was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The URL breaks an IAM rule.
    #[error("IAM refuses the provider URL {url}: {reason}")]
    Url {
        /// The issuer.
        url: String,
        /// The rule.
        reason: &'static str,
    },
    /// Too many or malformed values.
    #[error("{0}")]
    Limit(String),
    /// Not this issuer's: changing or deleting it is refused.
    #[error("the provider {arn} is {}: irsa-issuer will not change or delete a provider that is not this issuer's. Take it over with --force if it really is", owner.describe())]
    NotOurs {
        /// The provider.
        arn: String,
        /// Whose it is.
        owner: Owner,
    },
}

/// What the provider should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderSpec {
    /// The issuer URL (IAM stores it without the scheme).
    pub url: String,
    /// Audiences allowed (`aud`).
    pub client_ids: BTreeSet<String>,
    /// TLS thumbprints.
    pub thumbprints: BTreeSet<Thumbprint>,
    /// Tags, including [`MANAGED_TAG`] and the owner tag.
    pub tags: BTreeMap<String, String>,
}

/// IAM's rules for a provider URL: https, no port, at most 255 characters (no query: the
/// [`IssuerUrl`] type already refuses one).
pub fn validate_url(issuer: &IssuerUrl) -> Result<(), ProviderError> {
    let url_err = |reason| ProviderError::Url {
        url: issuer.to_string(),
        reason,
    };
    if !issuer.is_https() {
        return Err(url_err("it must be https"));
    }
    if issuer.port().is_some() {
        return Err(url_err(
            "it may not have a port (IAM provider URLs never carry one); serve the issuer on 443",
        ));
    }
    if issuer.as_str().len() > limits::URL_MAX {
        return Err(url_err("it is longer than 255 characters"));
    }
    Ok(())
}

impl ProviderSpec {
    /// Checks everything IAM would check, before any call.
    pub fn new(
        issuer: &IssuerUrl,
        client_ids: impl IntoIterator<Item = String>,
        thumbprints: impl IntoIterator<Item = Thumbprint>,
        tags: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ProviderError> {
        Self::without_thumbprints(issuer, client_ids, tags)?.with_thumbprints(thumbprints)
    }

    /// Checks the URL, client IDs and tags: what is known before the thumbprint is fetched.
    /// The spec is complete only after [`ProviderSpec::with_thumbprints`].
    pub fn without_thumbprints(
        issuer: &IssuerUrl,
        client_ids: impl IntoIterator<Item = String>,
        tags: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ProviderError> {
        validate_url(issuer)?;
        let client_ids: BTreeSet<String> = client_ids.into_iter().collect();
        if client_ids.is_empty() || client_ids.len() > limits::CLIENT_IDS_MAX {
            return Err(ProviderError::Limit(format!(
                "a provider takes 1 to {} client IDs (audiences), not {}",
                limits::CLIENT_IDS_MAX,
                client_ids.len()
            )));
        }
        if let Some(bad) = client_ids
            .iter()
            .find(|c| c.is_empty() || c.chars().count() > limits::CLIENT_ID_MAX)
        {
            return Err(ProviderError::Limit(format!(
                "client ID `{bad}` must be 1 to {} characters: give the audience the tokens carry, e.g. sts.amazonaws.com",
                limits::CLIENT_ID_MAX
            )));
        }
        let tags: BTreeMap<String, String> = tags.into_iter().collect();
        crate::aws::owner::check_user_tags(&tags).map_err(ProviderError::Limit)?;
        let all_tags = with_owner_tags(tags, issuer.as_str());
        if all_tags.len() > limits::TAGS_MAX {
            return Err(ProviderError::Limit(format!(
                "{} tags (with irsa-issuer's own) is more than the {} IAM allows",
                all_tags.len(),
                limits::TAGS_MAX
            )));
        }
        for (k, v) in &all_tags {
            if k.is_empty()
                || k.chars().count() > 128
                || v.chars().count() > 256
                || k.starts_with("aws:")
            {
                return Err(ProviderError::Limit(format!("tag `{k}={v}`: keys are 1 to 128 characters and may not start with aws:, values at most 256")));
            }
        }
        Ok(Self {
            url: issuer.as_str().to_string(),
            client_ids,
            thumbprints: BTreeSet::new(),
            tags: all_tags,
        })
    }

    /// Sets the thumbprint list (0 to 5). None at all is allowed: IAM verifies an issuer whose
    /// chain ends in a CA of its own library (and every S3-hosted JWKS) without a thumbprint;
    /// an existing provider's list is then left as it is.
    pub fn with_thumbprints(
        mut self,
        thumbprints: impl IntoIterator<Item = Thumbprint>,
    ) -> Result<Self, ProviderError> {
        let thumbprints: BTreeSet<Thumbprint> = thumbprints.into_iter().collect();
        if thumbprints.len() > limits::THUMBPRINTS_MAX {
            return Err(ProviderError::Limit(format!(
                "a provider takes at most {} thumbprints, not {}: keep the one of the JWKS host's current chain (`irsa-issuer thumbprint URL`) and the ones you are rotating to",
                limits::THUMBPRINTS_MAX,
                thumbprints.len()
            )));
        }
        self.thumbprints = thumbprints;
        Ok(self)
    }
}

/// A provider as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderState {
    /// Its ARN.
    pub arn: String,
    /// Its URL, as IAM stores it (no scheme).
    pub url: String,
    /// Its client IDs.
    pub client_ids: BTreeSet<String>,
    /// Its thumbprints.
    pub thumbprints: BTreeSet<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

impl ProviderState {
    /// Whether irsa-issuer created it.
    pub fn is_managed(&self) -> bool {
        is_managed(&self.tags)
    }

    /// Whose it is, seen from `issuer`.
    pub fn owner(&self, issuer: &str) -> Owner {
        Owner::of(&self.tags, issuer)
    }

    /// Whether `issuer` may change or delete it: its own, or one an older irsa-issuer made at
    /// this issuer's ARN (the ARN is derived from the issuer, so the provider is for it).
    pub fn is_ours(&self, issuer: &str) -> bool {
        matches!(self.owner(issuer), Owner::This | Owner::Unclaimed)
    }
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ProviderChange {
    /// Create the provider.
    Create {
        /// As wanted.
        spec: ProviderSpec,
    },
    /// Replace the thumbprint list (IAM has no add/remove for thumbprints).
    SetThumbprints {
        /// The new list.
        thumbprints: Vec<Thumbprint>,
        /// The old list.
        was: Vec<String>,
    },
    /// Add an audience.
    AddClientId {
        /// The audience.
        client_id: String,
    },
    /// Remove an audience.
    RemoveClientId {
        /// The audience.
        client_id: String,
    },
    /// Add or change tags. Tags irsa-issuer was not asked for are left alone.
    Tag {
        /// Tags to set.
        tags: BTreeMap<String, String>,
    },
}

impl ProviderChange {
    /// One line for a plan, Terraform-style: `+` create, `~` update, `-` remove.
    pub fn describe(&self) -> String {
        match self {
            Self::Create { spec } => format!(
                "+ create provider {} (client IDs: {}; thumbprints: {})",
                spec.url,
                spec.client_ids
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                spec.thumbprints
                    .iter()
                    .map(Thumbprint::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::SetThumbprints { thumbprints, was } => format!(
                "~ thumbprints [{}] -> [{}]",
                was.join(", "),
                thumbprints
                    .iter()
                    .map(Thumbprint::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::AddClientId { client_id } => format!("+ client ID {client_id}"),
            Self::RemoveClientId { client_id } => format!("- client ID {client_id}"),
            Self::Tag { tags } => format!(
                "~ tags {}",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The changes that make `actual` match `spec` (empty: nothing to do). A provider that is not
/// this issuer's (untagged, or tagged for another issuer) is refused unless `force`.
pub fn plan(
    spec: &ProviderSpec,
    actual: Option<&ProviderState>,
    force: bool,
) -> Result<Vec<ProviderChange>, ProviderError> {
    let Some(actual) = actual else {
        return Ok(vec![ProviderChange::Create { spec: spec.clone() }]);
    };
    let issuer = &spec.url;
    if !actual.is_ours(issuer) && !force {
        return Err(ProviderError::NotOurs {
            arn: actual.arn.clone(),
            owner: actual.owner(issuer),
        });
    }
    let mut changes = Vec::new();
    let want_thumbs: BTreeSet<String> = spec.thumbprints.iter().map(|t| t.to_string()).collect();
    if !want_thumbs.is_empty() && want_thumbs != actual.thumbprints {
        changes.push(ProviderChange::SetThumbprints {
            thumbprints: spec.thumbprints.iter().cloned().collect(),
            was: actual.thumbprints.iter().cloned().collect(),
        });
    }
    for id in spec.client_ids.difference(&actual.client_ids) {
        changes.push(ProviderChange::AddClientId {
            client_id: id.clone(),
        });
    }
    for id in actual.client_ids.difference(&spec.client_ids) {
        changes.push(ProviderChange::RemoveClientId {
            client_id: id.clone(),
        });
    }
    let tags = tags_to_set(&spec.tags, &actual.tags);
    if !tags.is_empty() {
        changes.push(ProviderChange::Tag { tags });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> IssuerUrl {
        IssuerUrl::parse("https://s3.eu-west-1.amazonaws.com/b/c1", false).unwrap()
    }
    fn tp(c: char) -> Thumbprint {
        Thumbprint::parse(&c.to_string().repeat(40)).unwrap()
    }
    fn spec() -> ProviderSpec {
        ProviderSpec::new(
            &issuer(),
            ["sts.amazonaws.com".to_string()],
            [tp('a')],
            [("team".to_string(), "p".to_string())],
        )
        .unwrap()
    }
    fn state(spec: &ProviderSpec) -> ProviderState {
        ProviderState {
            arn: "arn".into(),
            url: spec.url.clone(),
            client_ids: spec.client_ids.clone(),
            thumbprints: spec.thumbprints.iter().map(|t| t.to_string()).collect(),
            tags: spec.tags.clone(),
        }
    }

    #[test]
    fn missing_provider_is_created_and_matching_one_is_left_alone() {
        let s = spec();
        assert!(matches!(
            plan(&s, None, false).unwrap().as_slice(),
            [ProviderChange::Create { .. }]
        ));
        assert_eq!(plan(&s, Some(&state(&s)), false).unwrap(), vec![]);
        assert!(state(&s).is_managed());
        assert_eq!(
            s.tags[crate::aws::owner::OWNER_TAG],
            "https://s3.eu-west-1.amazonaws.com/b/c1"
        );
    }

    #[test]
    fn drift_gives_exactly_the_changes_needed() {
        let s = spec();
        let mut st = state(&s);
        st.thumbprints = [tp('b').to_string()].into();
        st.client_ids = ["other".to_string()].into();
        st.tags.remove("team");
        st.tags.insert("foreign".into(), "kept".into());
        let changes = plan(&s, Some(&st), false).unwrap();
        assert_eq!(
            changes,
            vec![
                ProviderChange::SetThumbprints {
                    thumbprints: vec![tp('a')],
                    was: vec![tp('b').to_string()]
                },
                ProviderChange::AddClientId {
                    client_id: "sts.amazonaws.com".into()
                },
                ProviderChange::RemoveClientId {
                    client_id: "other".into()
                },
                ProviderChange::Tag {
                    tags: [("team".to_string(), "p".to_string())].into()
                },
            ]
        );
    }

    #[test]
    fn iam_limits_are_checked_before_any_call() {
        let i = issuer();
        let ids = |n: usize| (0..n).map(|i| format!("aud{i}")).collect::<Vec<_>>();
        assert!(ProviderSpec::new(&i, ids(100), [tp('a')], []).is_ok());
        assert!(ProviderSpec::new(&i, ids(101), [tp('a')], []).is_err());
        assert!(ProviderSpec::new(&i, ["x".repeat(256)], [tp('a')], []).is_err());
        assert!(ProviderSpec::new(&i, ids(1), ['a', 'b', 'c', 'd', 'e', 'f'].map(tp), []).is_err());
        assert!(
            ProviderSpec::new(&i, ids(1), [], []).is_ok(),
            "no thumbprint is allowed"
        );
        let tags = (0..50).map(|n| (format!("k{n}"), "v".to_string()));
        assert!(
            ProviderSpec::new(&i, ids(1), [tp('a')], tags).is_err(),
            "50 + managed tag is 51"
        );
        let port = IssuerUrl::parse("https://h.example.com:8443/x", false).unwrap();
        assert!(matches!(
            ProviderSpec::new(&port, ids(1), [tp('a')], []),
            Err(ProviderError::Url { .. })
        ));
        // An issuer over IAM's 255 characters cannot even be written down.
        assert!(
            IssuerUrl::parse(&format!("https://h.example.com/{}", "p".repeat(240)), false).is_err()
        );
    }

    #[test]
    fn a_provider_that_is_not_this_issuers_is_refused_unless_forced() {
        let s = spec();
        // Made by hand or another tool: no managed-by tag. Before, irsa-issuer removed its
        // extra client ID and tagged it as its own.
        let mut foreign = state(&s);
        foreign.tags.clear();
        foreign.client_ids.insert("their-audience".into());
        assert!(matches!(
            plan(&s, Some(&foreign), false),
            Err(ProviderError::NotOurs {
                owner: Owner::Foreign,
                ..
            })
        ));
        assert!(plan(&s, Some(&foreign), true).unwrap().len() >= 2);
        // Tagged for another issuer.
        let mut other = state(&s);
        other.tags.insert(
            crate::aws::owner::OWNER_TAG.into(),
            "https://elsewhere.example.com".into(),
        );
        assert!(plan(&s, Some(&other), false).is_err());
        // Made by an older irsa-issuer (managed-by only): at this issuer's ARN, so it is ours;
        // it gets the owner tag.
        let mut legacy = state(&s);
        legacy.tags.remove(crate::aws::owner::OWNER_TAG);
        assert!(legacy.is_ours(&s.url));
        assert!(matches!(
            plan(&s, Some(&legacy), false).unwrap().as_slice(),
            [ProviderChange::Tag { .. }]
        ));
    }
}
