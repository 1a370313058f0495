//! The two documents an OIDC issuer publishes, rendered exactly as kube-apiserver renders them
//! for the same keys (its `/openid/v1/jwks` and `/.well-known/openid-configuration`), so that
//! an S3 bucket or a directory can stand in for the API server's own endpoints.
//!
//! JSON comes from serde structs whose field order is go-jose's (`use, kty, kid, crv, alg, x, y,
//! n, e`), never from templates. Keys are sorted by kid, so the bytes depend only on the set of
//! keys and not on the order of the command line; that keeps a no-change publish a no-op.

use serde::Serialize;

use crate::oidc::issuer::{IssuerUrl, JwksPath};
use crate::oidc::keys::{Algorithm, JwkParams, KeyId, PublicKey};

/// The most keys a published JWKS may hold. Relying parties cap the size of what they fetch
/// (STS among them); 100 keys of RSA-4096 stay well under 100 KiB.
pub const MAX_KEYS: usize = 100;

/// Why the documents could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    /// No key at all.
    #[error("no signing key given: pass at least one --key FILE (or --key-dir DIR)")]
    NoKeys,
    /// Too many keys.
    #[error("{count} keys is more than the {max} a JWKS may hold for relying parties such as AWS STS; retire old keys first (`irsa-issuer rotate retire`)")]
    TooManyKeys {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// One JSON Web Key, public parameters only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    #[serde(rename = "use")]
    use_: &'static str,
    kty: &'static str,
    kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'static str>,
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
}

impl Jwk {
    /// The JWK of a public key. There is no field for private parameters, so none can leak.
    pub fn from_key(key: &PublicKey) -> Self {
        let (kty, crv, x, y, n, e) = match key.params() {
            JwkParams::Rsa { n, e } => ("RSA", None, None, None, Some(n.clone()), Some(e.clone())),
            JwkParams::Ec { crv, x, y } => (
                "EC",
                Some(*crv),
                Some(x.clone()),
                Some(y.clone()),
                None,
                None,
            ),
        };
        Self {
            use_: "sig",
            kty,
            kid: key.kid().as_str().to_string(),
            crv,
            alg: key.alg().as_str(),
            x,
            y,
            n,
            e,
        }
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwks {
    /// The keys, sorted by kid.
    pub keys: Vec<Jwk>,
}

/// The OIDC discovery document, with kube-apiserver's fields in kube-apiserver's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// The issuer, byte for byte what tokens carry in `iss`.
    pub issuer: String,
    /// Where the JWKS is.
    pub jwks_uri: String,
    /// Always `["id_token"]`.
    pub response_types_supported: Vec<&'static str>,
    /// Always `["public"]`.
    pub subject_types_supported: Vec<&'static str>,
    /// The keys' algorithms, unique and sorted.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
}

/// A checked, ordered, de-duplicated set of public keys: what gets published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet(Vec<PublicKey>);

impl KeySet {
    /// Sorts by kid, drops repeats, and checks the count (1 to [`MAX_KEYS`]).
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Result<Self, DocumentError> {
        let mut keys: Vec<PublicKey> = keys.into_iter().collect();
        keys.sort_by(|a, b| a.kid().cmp(b.kid()));
        keys.dedup_by(|a, b| a.kid() == b.kid());
        match keys.len() {
            0 => Err(DocumentError::NoKeys),
            n if n > MAX_KEYS => Err(DocumentError::TooManyKeys {
                count: n,
                max: MAX_KEYS,
            }),
            _ => Ok(Self(keys)),
        }
    }

    /// The keys in publication order.
    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }

    /// The kids and algorithms, in order.
    pub fn kids(&self) -> Vec<(KeyId, Algorithm)> {
        self.0.iter().map(|k| (k.kid().clone(), k.alg())).collect()
    }

    /// The JWKS.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.0.iter().map(Jwk::from_key).collect(),
        }
    }

    /// The discovery document for `issuer` with the JWKS at `jwks_path` below it.
    pub fn discovery(&self, issuer: &IssuerUrl, jwks_path: &JwksPath) -> Discovery {
        let mut algs: Vec<&'static str> = self.0.iter().map(|k| k.alg().as_str()).collect();
        algs.sort_unstable();
        algs.dedup();
        Discovery {
            issuer: issuer.as_str().to_string(),
            jwks_uri: issuer.join(jwks_path.as_str()),
            response_types_supported: vec!["id_token"],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: algs,
        }
    }
}

/// Both documents as the exact bytes that get published and served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    /// Where the JWKS goes, relative to the issuer.
    pub jwks_path: JwksPath,
    /// The JWKS, compact JSON.
    pub jwks: Vec<u8>,
    /// The discovery document, compact JSON.
    pub discovery: Vec<u8>,
    /// The kids published, in order.
    pub kids: Vec<(KeyId, Algorithm)>,
}

/// Renders both documents as compact JSON (what kube-apiserver serves).
pub fn render(keys: &KeySet, issuer: &IssuerUrl, jwks_path: &JwksPath) -> Documents {
    Documents {
        jwks_path: jwks_path.clone(),
        jwks: to_json(&keys.jwks(), false),
        discovery: to_json(&keys.discovery(issuer, jwks_path), false),
        kids: keys.kids(),
    }
}

/// Serialises one of our document structs. These hold only strings and lists of strings, for
/// which serde_json cannot fail, so an error here is a bug and would surface as an empty body.
pub fn to_json<T: Serialize>(value: &T, pretty: bool) -> Vec<u8> {
    let r = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    r.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::keys::{generate, parse_pem, KeySpec};
    use rand::SeedableRng;

    fn key(alg: Algorithm, seed: u64) -> PublicKey {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        generate(
            KeySpec {
                alg,
                rsa_bits: 2048,
            },
            &mut rng,
        )
        .unwrap()
        .public
    }

    #[test]
    fn discovery_has_kube_fields_in_kube_order() {
        let set = KeySet::new([
            key(Algorithm::ES256, 1),
            key(Algorithm::RS256, 2),
            key(Algorithm::ES256, 3),
        ])
        .unwrap();
        let issuer = IssuerUrl::parse("https://oidc.example.com/c1", false).unwrap();
        let doc = render(&set, &issuer, &JwksPath::default());
        assert_eq!(
            String::from_utf8(doc.discovery).unwrap(),
            r#"{"issuer":"https://oidc.example.com/c1","jwks_uri":"https://oidc.example.com/c1/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["ES256","RS256"]}"#
        );
    }

    #[test]
    fn jwks_field_order_and_no_private_parameters() {
        let ec = key(Algorithm::ES384, 4);
        let rsa = key(Algorithm::RS256, 5);
        let set = KeySet::new([rsa.clone(), ec.clone()]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&to_json(&set.jwks(), false)).unwrap();
        for jwk in v["keys"].as_array().unwrap() {
            let names: Vec<&str> = jwk
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            // serde_json's map is sorted unless preserve_order: compare sets, then check the raw order below.
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(!names.contains(&private));
            }
        }
        let raw = String::from_utf8(to_json(&Jwk::from_key(&rsa), false)).unwrap();
        let order: Vec<usize> = ["\"use\"", "\"kty\"", "\"kid\"", "\"alg\"", "\"n\"", "\"e\""]
            .iter()
            .map(|f| raw.find(f).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");
        let raw = String::from_utf8(to_json(&Jwk::from_key(&ec), false)).unwrap();
        let order: Vec<usize> = [
            "\"use\"", "\"kty\"", "\"kid\"", "\"crv\"", "\"alg\"", "\"x\"", "\"y\"",
        ]
        .iter()
        .map(|f| raw.find(f).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");
        assert!(
            raw.contains("\"crv\":\"P-384\"")
                && raw.contains("\"alg\":\"ES384\"")
                && raw.contains("\"use\":\"sig\"")
        );
    }

    #[test]
    fn order_is_by_kid_and_independent_of_input_order() {
        let (a, b, c) = (
            key(Algorithm::ES256, 6),
            key(Algorithm::ES256, 7),
            key(Algorithm::ES256, 8),
        );
        let one = KeySet::new([a.clone(), b.clone(), c.clone()]).unwrap();
        let two = KeySet::new([c, a.clone(), b, a]).unwrap();
        assert_eq!(one, two);
        assert_eq!(one.keys().len(), 3);
        let kids: Vec<_> = one.kids().into_iter().map(|(k, _)| k).collect();
        let mut sorted = kids.clone();
        sorted.sort();
        assert_eq!(kids, sorted);
    }

    #[test]
    fn key_count_limits() {
        assert_eq!(KeySet::new([]).unwrap_err(), DocumentError::NoKeys);
        let many: Vec<PublicKey> = (0..=MAX_KEYS as u64)
            .map(|s| key(Algorithm::ES256, 100 + s))
            .collect();
        assert_eq!(
            KeySet::new(many.clone()).unwrap_err(),
            DocumentError::TooManyKeys {
                count: 101,
                max: 100
            }
        );
        assert!(KeySet::new(many.into_iter().take(MAX_KEYS)).is_ok());
    }

    #[test]
    fn private_key_input_gives_the_same_jwks_as_public() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let g = generate(KeySpec::default(), &mut rng).unwrap();
        let private = parse_pem(g.private_pem.as_bytes(), "k")
            .unwrap()
            .remove(0)
            .key;
        let a = to_json(&KeySet::new([private]).unwrap().jwks(), false);
        let b = to_json(&KeySet::new([g.public]).unwrap().jwks(), false);
        assert_eq!(a, b);
    }
}
