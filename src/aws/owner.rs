//! Whose a resource is, pure. irsa-issuer tags what it creates `managed-by=irsa-issuer` and
//! `irsa-issuer/issuer=<issuer URL>`: the second tag names the owner, so two clusters whose
//! files name the same role never rewrite (or delete) each other's, and a resource another
//! tool made is never adopted without `--force`.

use std::collections::BTreeMap;

use serde::Serialize;

/// The tag on everything irsa-issuer creates.
pub const MANAGED_TAG: (&str, &str) = ("managed-by", "irsa-issuer");

/// The tag that names the issuer a resource belongs to.
pub const OWNER_TAG: &str = "irsa-issuer/issuer";

/// Whose a resource is, seen from one issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "owner", rename_all = "snake_case")]
pub enum Owner {
    /// Tagged for this issuer.
    This,
    /// Tagged `managed-by=irsa-issuer` without an owner (made by irsa-issuer before it named
    /// owners): this issuer's only where other evidence says so (a provider at this issuer's
    /// ARN, a role whose trust policy names this issuer's provider).
    Unclaimed,
    /// Tagged for another issuer.
    Other {
        /// That issuer.
        issuer: String,
    },
    /// Not tagged `managed-by=irsa-issuer`: made by hand or by another tool.
    Foreign,
}

impl Owner {
    /// Whose resource carries `tags`, seen from `issuer`.
    pub fn of(tags: &BTreeMap<String, String>, issuer: &str) -> Self {
        if !is_managed(tags) {
            return Self::Foreign;
        }
        match tags.get(OWNER_TAG) {
            None => Self::Unclaimed,
            Some(i) if i == issuer => Self::This,
            Some(i) => Self::Other { issuer: i.clone() },
        }
    }

    /// The owner, for a plan line or an error.
    pub fn describe(&self) -> String {
        match self {
            Self::This => "this issuer's".into(),
            Self::Unclaimed => format!(
                "tagged {}={} but for no issuer (made by an older irsa-issuer)",
                MANAGED_TAG.0, MANAGED_TAG.1
            ),
            Self::Other { issuer } => format!("owned by another issuer, {issuer}"),
            Self::Foreign => format!(
                "not tagged {}={} (made by hand or by another tool)",
                MANAGED_TAG.0, MANAGED_TAG.1
            ),
        }
    }
}

/// Whether a resource with these tags was created by irsa-issuer (for any issuer).
pub fn is_managed(tags: &BTreeMap<String, String>) -> bool {
    tags.get(MANAGED_TAG.0).map(String::as_str) == Some(MANAGED_TAG.1)
}

/// Checks tags given by the user against IAM's rules and irsa-issuer's own keys, naming the
/// tag and what is wrong with it.
pub fn check_user_tags(tags: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in tags {
        let why = if k.is_empty() {
            Some("the key is empty".to_string())
        } else if k.chars().count() > 128 {
            Some(format!(
                "the key is {} characters long, more than IAM's 128",
                k.chars().count()
            ))
        } else if k.to_ascii_lowercase().starts_with("aws:") {
            Some("keys starting with aws: are reserved by AWS".to_string())
        } else if k == MANAGED_TAG.0 || k.starts_with("irsa-issuer/") {
            Some(format!("{k} is irsa-issuer's own tag, set on everything it manages (it records whose a resource is)"))
        } else if v.chars().count() > 256 {
            Some(format!(
                "the value is {} characters long, more than IAM's 256",
                v.chars().count()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            let shown: String = format!("{k}={v}").chars().take(80).collect();
            return Err(format!(
                "tag `{shown}`: {why}; use a key of 1 to 128 characters not starting with aws:, managed-by or irsa-issuer/, and a value of at most 256"
            ));
        }
    }
    Ok(())
}

/// `tags` plus irsa-issuer's own: managed-by and the owning issuer.
pub fn with_owner_tags(
    mut tags: BTreeMap<String, String>,
    issuer: &str,
) -> BTreeMap<String, String> {
    tags.insert(MANAGED_TAG.0.into(), MANAGED_TAG.1.into());
    tags.insert(OWNER_TAG.into(), issuer.into());
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn owner_from_tags() {
        let me = "https://oidc.example.com/c1";
        assert_eq!(Owner::of(&tags(&[]), me), Owner::Foreign);
        assert_eq!(
            Owner::of(&tags(&[("managed-by", "terraform")]), me),
            Owner::Foreign
        );
        assert_eq!(
            Owner::of(&tags(&[("managed-by", "irsa-issuer")]), me),
            Owner::Unclaimed
        );
        assert_eq!(
            Owner::of(&tags(&[("managed-by", "irsa-issuer"), (OWNER_TAG, me)]), me),
            Owner::This
        );
        assert_eq!(
            Owner::of(
                &tags(&[
                    ("managed-by", "irsa-issuer"),
                    (OWNER_TAG, "https://oidc.example.com/c2")
                ]),
                me
            ),
            Owner::Other {
                issuer: "https://oidc.example.com/c2".into()
            }
        );
        let t = with_owner_tags(tags(&[("team", "a")]), me);
        assert_eq!(Owner::of(&t, me), Owner::This);
        assert_eq!(t["team"], "a");
    }
}
