//! The issuer URL and the paths below it.
//!
//! kube-apiserver copies `--service-account-issuer` byte for byte into every token's `iss`, and
//! AWS STS compares that string with the IAM provider's URL and with the `issuer` field of the
//! discovery document. So the URL is checked once, here, and everything downstream trusts the
//! [`IssuerUrl`] type instead of re-validating strings.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// Where the discovery document lives below the issuer (OIDC Discovery 1.0, section 4).
pub const DISCOVERY_PATH: &str = ".well-known/openid-configuration";

/// Why an issuer URL or a JWKS path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IssuerError {
    /// The text does not parse as a URL at all.
    #[error("the issuer `{input}` is not a URL ({reason}); give an absolute https URL such as https://oidc.example.com/cluster-a")]
    NotAUrl {
        /// What the user gave.
        input: String,
        /// The parser's complaint.
        reason: String,
    },
    /// Not https (and not an allowed loopback http URL).
    #[error("the issuer `{input}` uses `{scheme}`: AWS STS only fetches https issuers; use an https URL{hint}")]
    Scheme {
        /// What the user gave.
        input: String,
        /// The scheme found.
        scheme: String,
        /// An extra hint about loopback http.
        hint: &'static str,
    },
    /// Ends with a slash.
    #[error("the issuer `{input}` ends with '/': kube-apiserver writes the issuer into every token's `iss` exactly as given, and STS compares it byte for byte with the provider URL and the discovery document, so a trailing slash is the classic issuer mismatch; write it as `{suggestion}`")]
    TrailingSlash {
        /// What the user gave.
        input: String,
        /// The same URL without the trailing slash.
        suggestion: String,
    },
    /// Has a query string.
    #[error("the issuer `{0}` has a query string (`?...`): an OIDC issuer may not have one (OIDC Discovery 1.0 section 3); remove it")]
    Query(String),
    /// Has a fragment.
    #[error(
        "the issuer `{0}` has a fragment (`#...`): an OIDC issuer may not have one; remove it"
    )]
    Fragment(String),
    /// Has user:password@.
    #[error("the issuer `{0}` has user information (`user@` or `user:password@`): remove it, credentials never belong in an issuer URL")]
    Userinfo(String),
    /// No host.
    #[error("the issuer `{0}` has no host name")]
    NoHost(String),
    /// Longer than IAM accepts for a provider URL.
    #[error("the issuer `{input}` is {length} characters long: IAM refuses an OpenID Connect provider URL over {max} characters, so no provider could ever trust it; use a shorter host or path")]
    TooLong {
        /// What the user gave.
        input: String,
        /// Its length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A character that IAM policies read as a wildcard or variable.
    #[error("the issuer `{input}` contains `{found}`: the issuer's path reaches IAM policies (provider ARNs, condition keys), where `*` and `?` are wildcards and `$` starts a variable; remove it")]
    PolicyWildcard {
        /// What the user gave.
        input: String,
        /// The character.
        found: char,
    },
    /// The URL would be rewritten by normalisation, so tokens and documents could disagree.
    #[error("the issuer `{input}` is not in canonical form: it would be published as `{canonical}`, and tokens signed with the first spelling would not match; write it as `{canonical}`")]
    NotCanonical {
        /// What the user gave.
        input: String,
        /// The normalised spelling.
        canonical: String,
    },
    /// A bad JWKS path.
    #[error("the JWKS path `{path}` is not usable: {reason}; use a relative path such as `openid/v1/jwks` or `keys.json`")]
    JwksPath {
        /// What the user gave.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The longest provider URL IAM accepts (CreateOpenIDConnectProvider's `Url`).
pub const URL_MAX: usize = 255;

/// Characters that IAM and S3 policies read as wildcards (`*`, `?`) or variables (`${..}`):
/// refused in every path that reaches a policy.
pub const POLICY_SPECIAL: [char; 3] = ['*', '?', '$'];

/// A validated OIDC issuer URL: https (or http on a loopback host when explicitly allowed), no
/// query, fragment, userinfo or trailing slash, in the canonical spelling the URL parser would
/// produce. A path prefix (`https://host/cluster-a`) is kept when paths are joined below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuerUrl {
    text: String,
    url: Url,
}

impl IssuerUrl {
    /// Checks `input`. `allow_insecure_loopback` permits `http://` for 127.0.0.0/8, `::1` and
    /// `localhost` only (local tests); every other host must be https.
    pub fn parse(input: &str, allow_insecure_loopback: bool) -> Result<Self, IssuerError> {
        let url = Url::parse(input).map_err(|e| IssuerError::NotAUrl {
            input: input.to_string(),
            reason: e.to_string(),
        })?;
        let host = url
            .host_str()
            .ok_or_else(|| IssuerError::NoHost(input.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure_loopback && is_loopback_host(host) => {}
            "http" if is_loopback_host(host) => {
                return Err(IssuerError::Scheme {
                    input: input.to_string(),
                    scheme: "http".into(),
                    hint: " (plain http on a loopback host is allowed for local tests with --allow-insecure-http)",
                })
            }
            other => {
                return Err(IssuerError::Scheme {
                    input: input.to_string(),
                    scheme: other.to_string(),
                    hint: "",
                })
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(IssuerError::Userinfo(input.to_string()));
        }
        if url.query().is_some() {
            return Err(IssuerError::Query(input.to_string()));
        }
        if url.fragment().is_some() {
            return Err(IssuerError::Fragment(input.to_string()));
        }
        if let Some(found) = input.chars().find(|c| POLICY_SPECIAL.contains(c)) {
            return Err(IssuerError::PolicyWildcard {
                input: input.to_string(),
                found,
            });
        }
        if input.len() > URL_MAX {
            return Err(IssuerError::TooLong {
                input: input.to_string(),
                length: input.len(),
                max: URL_MAX,
            });
        }
        if input.ends_with('/') {
            return Err(IssuerError::TrailingSlash {
                input: input.to_string(),
                suggestion: input.trim_end_matches('/').to_string(),
            });
        }
        // The parser always serialises a bare host with a '/' path; the issuer never has one.
        let canonical = url.as_str().trim_end_matches('/').to_string();
        if canonical != input {
            return Err(IssuerError::NotCanonical {
                input: input.to_string(),
                canonical,
            });
        }
        Ok(Self {
            text: canonical,
            url,
        })
    }

    /// The issuer exactly as it appears in `iss` and in the discovery document.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host name (or IP literal) without port.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The explicit port, if the URL has one.
    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    /// The port to connect to (the explicit one, or the scheme's default).
    pub fn port_or_default(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }

    /// Whether the URL is https.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The path prefix with a leading slash, or "" for an issuer at the host root.
    pub fn path_prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    /// The absolute URL of `relative` below the issuer, keeping the issuer's path prefix.
    pub fn join(&self, relative: &str) -> String {
        format!("{}/{}", self.text, relative.trim_start_matches('/'))
    }

    /// The URL of the discovery document.
    pub fn discovery_url(&self) -> String {
        self.join(DISCOVERY_PATH)
    }

    /// The absolute path on the server (what an HTTP request line carries) of `relative`.
    pub fn server_path(&self, relative: &str) -> String {
        format!(
            "{}/{}",
            self.path_prefix(),
            relative.trim_start_matches('/')
        )
    }

    /// The issuer without its scheme: `HOST[:PORT]/PATH`, the form IAM uses in provider ARNs and
    /// in trust-policy condition keys.
    pub fn provider_id(&self) -> &str {
        self.text
            .strip_prefix("https://")
            .or_else(|| self.text.strip_prefix("http://"))
            .unwrap_or(&self.text)
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where the JWKS lives below the issuer, as a relative path.
///
/// `openid/v1/jwks` is kube-apiserver's own layout (and kops'); `keys.json` is the layout of the
/// pod-identity-webhook guide and Giant Swarm's irsa-operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JwksPath(String);

impl JwksPath {
    /// kube-apiserver's layout.
    pub const DEFAULT: &'static str = "openid/v1/jwks";

    /// Checks a relative path: not empty, no leading or trailing slash, no `.`/`..` segments,
    /// no query or fragment, and not the discovery document's own path.
    pub fn parse(path: &str) -> Result<Self, IssuerError> {
        let bad = |reason| IssuerError::JwksPath {
            path: path.to_string(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("it is empty"));
        }
        if path.starts_with('/') || path.ends_with('/') {
            return Err(bad("it must not start or end with '/'"));
        }
        if path.contains(['?', '#', '\\'])
            || path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("it may not contain '?', '#', '\\' or white space"));
        }
        if path.contains(POLICY_SPECIAL) {
            return Err(bad("it may not contain '*', '?' or '$': the path becomes a resource in the bucket policy and in IAM policies, where they are wildcards and variables"));
        }
        if path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(bad("it may not contain empty, '.' or '..' segments"));
        }
        if path == DISCOVERY_PATH {
            return Err(bad("it is the discovery document's own path"));
        }
        Ok(Self(path.to_string()))
    }

    /// The relative path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JwksPath {
    fn default() -> Self {
        Self(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for JwksPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_path_prefix_when_joining() {
        let i = IssuerUrl::parse("https://oidc.example.com/cluster-a", false).unwrap();
        assert_eq!(
            i.discovery_url(),
            "https://oidc.example.com/cluster-a/.well-known/openid-configuration"
        );
        assert_eq!(
            i.join("openid/v1/jwks"),
            "https://oidc.example.com/cluster-a/openid/v1/jwks"
        );
        assert_eq!(i.server_path("keys.json"), "/cluster-a/keys.json");
        assert_eq!(i.provider_id(), "oidc.example.com/cluster-a");
        assert_eq!(i.path_prefix(), "/cluster-a");
    }

    #[test]
    fn bare_host_has_empty_prefix() {
        let i = IssuerUrl::parse("https://oidc.example.com", false).unwrap();
        assert_eq!(i.as_str(), "https://oidc.example.com");
        assert_eq!(i.path_prefix(), "");
        assert_eq!(
            i.server_path(DISCOVERY_PATH),
            "/.well-known/openid-configuration"
        );
        assert_eq!(i.provider_id(), "oidc.example.com");
        assert_eq!(i.port_or_default(), 443);
    }

    #[test]
    fn trailing_slash_is_refused_with_the_fix() {
        let e = IssuerUrl::parse("https://oidc.example.com/a/", false).unwrap_err();
        assert_eq!(
            e,
            IssuerError::TrailingSlash {
                input: "https://oidc.example.com/a/".into(),
                suggestion: "https://oidc.example.com/a".into()
            }
        );
        assert!(e
            .to_string()
            .contains("write it as `https://oidc.example.com/a`"));
        assert!(matches!(
            IssuerUrl::parse("https://oidc.example.com/", false),
            Err(IssuerError::TrailingSlash { .. })
        ));
    }

    #[test]
    fn refuses_query_fragment_userinfo_and_other_schemes() {
        assert!(matches!(
            IssuerUrl::parse("https://h/a?x=1", false),
            Err(IssuerError::Query(_))
        ));
        assert!(matches!(
            IssuerUrl::parse("https://h/a#x", false),
            Err(IssuerError::Fragment(_))
        ));
        assert!(matches!(
            IssuerUrl::parse("https://u:p@h/a", false),
            Err(IssuerError::Userinfo(_))
        ));
        assert!(matches!(
            IssuerUrl::parse("ftp://h/a", false),
            Err(IssuerError::Scheme { .. })
        ));
        assert!(matches!(
            IssuerUrl::parse("h/a", false),
            Err(IssuerError::NotAUrl { .. })
        ));
    }

    #[test]
    fn policy_wildcards_and_overlong_issuers_are_refused() {
        for bad in [
            "https://h/c1/*",
            "https://h/a$b",
            "https://h/${aws:username}",
        ] {
            assert!(
                matches!(
                    IssuerUrl::parse(bad, false),
                    Err(IssuerError::PolicyWildcard { .. })
                ),
                "{bad}"
            );
        }
        // 255 characters is IAM's limit for a provider URL: accepted; one more is not.
        let base = "https://oidc.example.com/";
        let at_limit = format!("{base}{}", "a".repeat(URL_MAX - base.len()));
        assert_eq!(at_limit.len(), 255);
        assert!(IssuerUrl::parse(&at_limit, false).is_ok());
        let e = IssuerUrl::parse(&format!("{at_limit}b"), false).unwrap_err();
        assert!(e.to_string().contains("256 characters long"), "{e}");
        for bad in ["*", "keys*.json", "openid/$x/jwks", "a?b"] {
            assert!(JwksPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_only_for_loopback_and_only_when_allowed() {
        assert!(IssuerUrl::parse("http://127.0.0.1:8080", false).is_err());
        assert!(IssuerUrl::parse("http://127.0.0.1:8080", true).is_ok());
        assert!(IssuerUrl::parse("http://localhost:8080/x", true).is_ok());
        assert!(IssuerUrl::parse("http://[::1]:8080", true).is_ok());
        let e = IssuerUrl::parse("http://oidc.example.com", true).unwrap_err();
        assert!(matches!(e, IssuerError::Scheme { .. }), "{e}");
    }

    #[test]
    fn non_canonical_spellings_are_refused_with_the_canonical_one() {
        let e = IssuerUrl::parse("https://OIDC.example.com/a", false).unwrap_err();
        assert_eq!(
            e,
            IssuerError::NotCanonical {
                input: "https://OIDC.example.com/a".into(),
                canonical: "https://oidc.example.com/a".into()
            }
        );
        assert!(IssuerUrl::parse("https://h.example.com:443/a", false).is_err());
    }

    #[test]
    fn jwks_path_rules() {
        assert_eq!(JwksPath::default().as_str(), "openid/v1/jwks");
        assert!(JwksPath::parse("keys.json").is_ok());
        for bad in [
            "",
            "/keys.json",
            "keys/",
            "a//b",
            "../x",
            "a/./b",
            "k?x",
            DISCOVERY_PATH,
            "a b",
        ] {
            assert!(JwksPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
