//! Service-account tokens, checked the way STS checks them, pure: decode the JWT, verify its
//! signature with a JWK from the issuer's JWKS, and check `iss`, `aud`, `exp`/`nbf` (with skew)
//! and the shape of `sub`. Time is a parameter. Written from RFC 7515/7518 on the RustCrypto
//! primitives, independently of the crates the tests sign tokens with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

/// The skew STS and most verifiers allow on `exp` and `nbf`, in seconds.
pub const SKEW_SECS: i64 = 300;

/// Why a token could not be read or verified.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or not JSON.
    #[error("not a JWT: {0}")]
    Malformed(String),
    /// The JWK cannot be used.
    #[error(transparent)]
    Key(#[from] crate::oidc::keys::KeyError),
    /// The token's algorithm is not the one of the key its kid names.
    #[error("the token says {token}, but key {kid} is a {key} key")]
    AlgorithmMismatch {
        /// The token's `alg`.
        token: String,
        /// The key.
        kid: String,
        /// The key's algorithm.
        key: &'static str,
    },
    /// The signature does not verify.
    #[error("the signature does not verify with key {kid}")]
    Signature {
        /// The key tried.
        kid: String,
    },
    /// The algorithm is not one kube-apiserver signs with.
    #[error("algorithm {0} is not accepted (RS256, ES256, ES384, ES512)")]
    Algorithm(String),
}

/// A decoded (not yet verified) JWT.
#[derive(Debug, Clone)]
pub struct Token {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Token {
    /// Splits and decodes a compact JWS.
    pub fn decode(text: &str) -> Result<Self, TokenError> {
        let text = text.trim();
        let parts: Vec<&str> = text.split('.').collect();
        let [h, c, s] = parts.as_slice() else {
            return Err(TokenError::Malformed(format!(
                "{} dot-separated parts, not 3",
                parts.len()
            )));
        };
        let b64 = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| TokenError::Malformed(format!("{what} is not base64url: {e}")))
        };
        let json = |bytes: Vec<u8>, what: &str| {
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| TokenError::Malformed(format!("{what} is not JSON: {e}")))
        };
        Ok(Self {
            header: json(b64(h, "the header")?, "the header")?,
            claims: json(b64(c, "the claims")?, "the claims")?,
            signing_input: format!("{h}.{c}").into_bytes(),
            signature: b64(s, "the signature")?,
        })
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header["alg"].as_str()
    }

    /// The `aud` claim as a list (a string or an array).
    pub fn audiences(&self) -> Vec<String> {
        match &self.claims["aud"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Verifies the signature with `jwk`, which must be a key of the token's algorithm.
    pub fn verify(&self, jwk: &Value) -> Result<(), TokenError> {
        use crate::oidc::keys::{Algorithm, PublicKey};
        let alg = self.alg().unwrap_or("none");
        let kid = jwk["kid"].as_str().unwrap_or("?").to_string();
        let wanted = match alg {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "ES512" => Algorithm::ES512,
            other => return Err(TokenError::Algorithm(other.to_string())),
        };
        let key = PublicKey::from_jwk(jwk)?;
        if key.alg() != wanted {
            return Err(TokenError::AlgorithmMismatch {
                token: alg.to_string(),
                kid,
                key: key.alg().as_str(),
            });
        }
        let (spki, sig, input) = (key.spki_der(), &self.signature, &self.signing_input);
        let ok = match wanted {
            Algorithm::RS256 => verify_rs256(spki, sig, input),
            Algorithm::ES256 => verify_ec::<p256::NistP256>(spki, sig, input),
            Algorithm::ES384 => verify_ec::<p384::NistP384>(spki, sig, input),
            Algorithm::ES512 => verify_es512(spki, sig, input),
        };
        if ok {
            Ok(())
        } else {
            Err(TokenError::Signature { kid })
        }
    }
}

/// An RS256 (PKCS#1 v1.5, SHA-256) signature over `input` by the RSA key `spki`.
fn verify_rs256(spki: &[u8], sig: &[u8], input: &[u8]) -> bool {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) else {
        return false;
    };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
        .verify(input, &sig)
        .is_ok()
}

/// An ES512 signature: P-521's verifier is a type of its own in the p521 crate (its curve's
/// hash is not wired into the generic one), so it has its own three lines.
fn verify_es512(spki: &[u8], sig: &[u8], input: &[u8]) -> bool {
    use p521::ecdsa::signature::Verifier as _;
    let Ok(key) = <p521::PublicKey as spki::DecodePublicKey>::from_public_key_der(spki) else {
        return false;
    };
    let (Ok(vk), Ok(sig)) = (
        p521::ecdsa::VerifyingKey::from_sec1_bytes(key.to_sec1_bytes().as_ref()),
        p521::ecdsa::Signature::from_slice(sig),
    ) else {
        return false;
    };
    vk.verify(input, &sig).is_ok()
}

/// An ECDSA signature (JWS form: r || s) over `input` by the key `spki` on curve `C` (P-256,
/// P-384), with the curve's hash (SHA-256, SHA-384).
// generic-array 0.14 (what the RustCrypto 0.13 curves use) marks ArrayLength deprecated.
#[allow(deprecated)]
fn verify_ec<C>(spki: &[u8], sig: &[u8], input: &[u8]) -> bool
where
    C: ecdsa::PrimeCurve + elliptic_curve::CurveArithmetic,
    ecdsa::SignatureSize<C>: elliptic_curve::generic_array::ArrayLength<u8>,
    ecdsa::VerifyingKey<C>: ecdsa::signature::Verifier<ecdsa::Signature<C>> + spki::DecodePublicKey,
{
    use ecdsa::signature::Verifier as _;
    use spki::DecodePublicKey as _;
    let Ok(vk) = ecdsa::VerifyingKey::<C>::from_public_key_der(spki) else {
        return false;
    };
    let Ok(sig) = ecdsa::Signature::<C>::from_slice(sig) else {
        return false;
    };
    vk.verify(input, &sig).is_ok()
}

/// Whether `value` matches the IAM `StringLike` pattern (`*` any run, `?` one character).
pub fn string_like(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `sub` has kube-apiserver's service-account shape, `system:serviceaccount:NS:NAME`.
pub fn service_account_of(sub: &str) -> Option<(&str, &str)> {
    let rest = sub.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    (ok(ns) && ok(name)).then_some((ns, name))
}

/// Where a time claim stands against `now` with [`SKEW_SECS`] of skew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifetime {
    /// Valid now.
    Valid {
        /// Seconds left.
        remaining: i64,
    },
    /// `exp` is more than the skew in the past.
    Expired {
        /// Seconds since `exp`.
        ago: i64,
    },
    /// `nbf` is more than the skew in the future.
    NotYetValid {
        /// Seconds until `nbf`.
        in_secs: i64,
    },
    /// No numeric `exp`.
    NoExpiry,
}

/// Checks `exp` and `nbf` at `now` (Unix seconds). The claims come from the token, so any i64
/// is possible: the arithmetic is done in i128 and the seconds reported saturate at i64's range
/// (found by the `token` fuzz target: `now - exp` overflowed).
pub fn lifetime(claims: &Value, now: i64) -> Lifetime {
    let Some(exp) = claims["exp"].as_i64() else {
        return Lifetime::NoExpiry;
    };
    let (now, exp, skew) = (i128::from(now), i128::from(exp), i128::from(SKEW_SECS));
    let secs = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    if let Some(nbf) = claims["nbf"].as_i64().map(i128::from) {
        if nbf > now + skew {
            return Lifetime::NotYetValid {
                in_secs: secs(nbf - now),
            };
        }
    }
    if exp + skew < now {
        return Lifetime::Expired {
            ago: secs(now - exp),
        };
    }
    Lifetime::Valid {
        remaining: secs(exp - now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_of_extreme_claims_does_not_overflow() {
        let c = serde_json::json!({"exp": 1_700_003_600_i64, "nbf": i64::MIN});
        assert_eq!(
            lifetime(&c, i64::MIN),
            Lifetime::Valid {
                remaining: i64::MAX
            }
        );
        let c = serde_json::json!({"exp": i64::MIN, "nbf": i64::MAX});
        assert_eq!(lifetime(&c, i64::MAX), Lifetime::Expired { ago: i64::MAX });
        assert_eq!(lifetime(&c, 0), Lifetime::NotYetValid { in_secs: i64::MAX });
    }

    #[test]
    fn string_like_matches_iam_wildcards() {
        assert!(string_like(
            "system:serviceaccount:payments:*",
            "system:serviceaccount:payments:api"
        ));
        assert!(!string_like(
            "system:serviceaccount:payments:*",
            "system:serviceaccount:other:api"
        ));
        assert!(string_like("a?c", "abc"));
        assert!(!string_like("a?c", "abbc"));
        assert!(string_like("*", ""));
        assert!(string_like("exact", "exact"));
        assert!(!string_like("exact", "exactly"));
        assert!(string_like("*-web-*", "prod-web-1"));
    }

    #[test]
    fn sub_shape() {
        assert_eq!(
            service_account_of("system:serviceaccount:default:app"),
            Some(("default", "app"))
        );
        assert_eq!(service_account_of("system:serviceaccount:default"), None);
        assert_eq!(service_account_of("system:node:worker-1"), None);
        assert_eq!(
            service_account_of("system:serviceaccount:Default:app"),
            None
        );
    }

    #[test]
    fn lifetime_allows_five_minutes_of_skew() {
        let c = |exp: i64, nbf: Option<i64>| {
            let mut v = serde_json::json!({ "exp": exp });
            if let Some(n) = nbf {
                v["nbf"] = n.into();
            }
            v
        };
        assert_eq!(
            lifetime(&c(1000, None), 900),
            Lifetime::Valid { remaining: 100 }
        );
        assert_eq!(
            lifetime(&c(1000, None), 1300),
            Lifetime::Valid { remaining: -300 }
        );
        assert_eq!(
            lifetime(&c(1000, None), 1301),
            Lifetime::Expired { ago: 301 }
        );
        assert_eq!(
            lifetime(&c(2000, Some(1300)), 1000),
            Lifetime::Valid { remaining: 1000 }
        );
        assert_eq!(
            lifetime(&c(2000, Some(1301)), 1000),
            Lifetime::NotYetValid { in_secs: 301 }
        );
        assert_eq!(lifetime(&serde_json::json!({}), 1), Lifetime::NoExpiry);
    }

    #[test]
    fn malformed_tokens_are_refused_with_the_reason() {
        assert!(
            matches!(Token::decode("a.b"), Err(TokenError::Malformed(m)) if m.contains("2 dot-separated"))
        );
        assert!(
            matches!(Token::decode("!!.e30.AA"), Err(TokenError::Malformed(m)) if m.contains("header"))
        );
    }

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        // Signed here with the RustCrypto signer, verified through the JWK path.
        use rand_chacha::rand_core::SeedableRng as _;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for alg in [
            crate::oidc::keys::Algorithm::RS256,
            crate::oidc::keys::Algorithm::ES256,
            crate::oidc::keys::Algorithm::ES384,
            crate::oidc::keys::Algorithm::ES512,
        ] {
            let g = crate::oidc::keys::generate(
                crate::oidc::keys::KeySpec {
                    alg,
                    rsa_bits: 2048,
                },
                &mut rng,
            )
            .unwrap();
            let jwk =
                serde_json::to_value(crate::oidc::documents::Jwk::from_key(&g.public)).unwrap();
            let h = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"alg":"{}","kid":"{}"}}"#,
                alg.as_str(),
                g.public.kid()
            ));
            let c = URL_SAFE_NO_PAD.encode(r#"{"sub":"system:serviceaccount:a:b"}"#);
            let input = format!("{h}.{c}");
            let sig = sign(&g.private_pem, alg, input.as_bytes());
            let token =
                Token::decode(&format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig))).unwrap();
            token
                .verify(&jwk)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let c2 = URL_SAFE_NO_PAD.encode(r#"{"sub":"system:serviceaccount:a:c"}"#);
            let forged =
                Token::decode(&format!("{h}.{c2}.{}", URL_SAFE_NO_PAD.encode(&sig))).unwrap();
            assert!(
                matches!(forged.verify(&jwk), Err(TokenError::Signature { .. })),
                "{alg:?}"
            );
        }
    }

    fn sign(private_pem: &str, alg: crate::oidc::keys::Algorithm, msg: &[u8]) -> Vec<u8> {
        use crate::oidc::keys::Algorithm::*;
        use pkcs8::DecodePrivateKey as _;
        match alg {
            RS256 => {
                use rsa::signature::{SignatureEncoding as _, Signer as _};
                let k = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem)
                    .or_else(|_| {
                        use rsa::pkcs1::DecodeRsaPrivateKey as _;
                        rsa::RsaPrivateKey::from_pkcs1_pem(private_pem)
                    })
                    .unwrap();
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k)
                    .sign(msg)
                    .to_vec()
            }
            ES256 => {
                use p256::ecdsa::signature::Signer as _;
                let k = p256::ecdsa::SigningKey::from_pkcs8_pem(private_pem).unwrap();
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_vec()
            }
            ES384 => {
                use p384::ecdsa::signature::Signer as _;
                let k = p384::ecdsa::SigningKey::from_pkcs8_pem(private_pem).unwrap();
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_vec()
            }
            ES512 => {
                use p521::ecdsa::signature::Signer as _;
                let sk = p521::SecretKey::from_pkcs8_pem(private_pem).unwrap();
                let k = p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes()).unwrap();
                let s: p521::ecdsa::Signature = k.sign(msg);
                s.to_vec()
            }
        }
    }
}
