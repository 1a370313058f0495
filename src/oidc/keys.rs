//! Service-account signing keys: PEM import, generation, and the key ID.
//!
//! Import reads what kube-apiserver's `--service-account-key-file` reads (RSA and EC public and
//! private keys in their usual PEM encodings, and X.509 certificates), so that the JWKS we publish
//! holds exactly the keys the API server verifies with. The key ID is kube-apiserver's:
//! base64url (no padding) of SHA-256 over the DER SubjectPublicKeyInfo, computed over a canonical
//! re-encoding of the public key (as Go's `x509.MarshalPKIXPublicKey` does), never over the bytes
//! of the file, so a PKCS#1 file and its SPKI twin get the same kid.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use elliptic_curve::sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint};
use elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytesSize};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AssociatedOid, DecodePrivateKey, DecodePublicKey, EncodePublicKey, ObjectIdentifier};
use rand::{CryptoRng, RngCore};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The smallest RSA modulus accepted (AWS STS and NIST both refuse less).
pub const MIN_RSA_BITS: usize = 2048;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const OID_X448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// A JWS signing algorithm kube-apiserver can sign service-account tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            "ES384" => Ok(Self::ES384),
            "ES512" => Ok(Self::ES512),
            _ => Err(KeyError::UnknownAlgorithm(s.to_string())),
        }
    }
}

/// A key ID as kube-apiserver computes it: base64url(SHA-256(DER SubjectPublicKeyInfo)).
/// Read back from text (a key-set file) only when it has that shape, 43 base64url characters:
/// a kid also names files, so `../x` must never be one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl TryFrom<String> for KeyId {
    type Error = KeyError;

    fn try_from(s: String) -> Result<Self, KeyError> {
        Self::parse(&s)
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl KeyId {
    /// The length of a kid: base64url of 32 bytes, unpadded.
    pub const LEN: usize = 43;

    /// A kid given as text: exactly 43 base64url characters.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if s.len() == Self::LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Self(s.to_string()))
        } else {
            Err(KeyError::BadKid(s.chars().take(80).collect()))
        }
    }

    /// The kid of a DER-encoded SubjectPublicKeyInfo.
    pub fn from_spki_der(spki_der: &[u8]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(spki_der)))
    }

    /// The kid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The public parameters of a key as they appear in a JWK (base64url, no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkParams {
    /// RSA modulus and exponent.
    Rsa {
        /// Modulus.
        n: String,
        /// Public exponent.
        e: String,
    },
    /// EC curve and fixed-length affine coordinates.
    Ec {
        /// JOSE curve name (`P-256`, `P-384`, `P-521`).
        crv: &'static str,
        /// X coordinate.
        x: String,
        /// Y coordinate.
        y: String,
    },
}

/// The public half of a signing key, with everything the documents need. Holds no private
/// material whatever it was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    alg: Algorithm,
    kid: KeyId,
    spki_der: Vec<u8>,
    params: JwkParams,
}

impl PublicKey {
    /// The algorithm kube-apiserver signs with for this key.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
    /// The key ID.
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }
    /// The canonical DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// The JWK parameters.
    pub fn params(&self) -> &JwkParams {
        &self.params
    }
    /// The key as a PEM `PUBLIC KEY` block (what `sa.pub` holds).
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("PUBLIC KEY", self.spki_der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The key a JWK holds (RSA `n`/`e`, or EC `crv`/`x`/`y` on P-256, P-384 or P-521),
    /// checked as a key (an EC point must be on its curve): what a relying party would verify
    /// with, and so the kid kube-apiserver would give it.
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self, KeyError> {
        let field = |name: &'static str| -> Result<Vec<u8>, KeyError> {
            let text = jwk[name].as_str().ok_or(KeyError::Jwk {
                what: format!("it has no `{name}`"),
                source: None,
            })?;
            URL_SAFE_NO_PAD.decode(text).map_err(|e| KeyError::Jwk {
                what: format!("its `{name}` is not base64url"),
                source: Some(Cause::of(e)),
            })
        };
        match jwk["kty"].as_str() {
            Some("RSA") => {
                let key = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&field("n")?),
                    rsa::BigUint::from_bytes_be(&field("e")?),
                )
                .map_err(|e| KeyError::Jwk {
                    what: "its `n` and `e` are not an RSA key".into(),
                    source: Some(Cause::of(e)),
                })?;
                Self::from_rsa(&key)
            }
            Some("EC") => {
                let mut point = vec![4u8];
                point.extend(field("x")?);
                point.extend(field("y")?);
                let on_curve = |e: elliptic_curve::Error| KeyError::Jwk {
                    what: "its `x` and `y` are not a point on its curve".into(),
                    source: Some(Cause::of(e)),
                };
                match jwk["crv"].as_str() {
                    Some("P-256") => Self::from_ec(
                        &elliptic_curve::PublicKey::<p256::NistP256>::from_sec1_bytes(&point)
                            .map_err(on_curve)?,
                        Algorithm::ES256,
                        "P-256",
                    ),
                    Some("P-384") => Self::from_ec(
                        &elliptic_curve::PublicKey::<p384::NistP384>::from_sec1_bytes(&point)
                            .map_err(on_curve)?,
                        Algorithm::ES384,
                        "P-384",
                    ),
                    Some("P-521") => Self::from_ec(
                        &elliptic_curve::PublicKey::<p521::NistP521>::from_sec1_bytes(&point)
                            .map_err(on_curve)?,
                        Algorithm::ES512,
                        "P-521",
                    ),
                    other => Err(KeyError::Jwk {
                        what: format!(
                            "its curve {} is not P-256, P-384 or P-521",
                            other.unwrap_or("(none)")
                        ),
                        source: None,
                    }),
                }
            }
            other => Err(KeyError::Jwk {
                what: format!("its kty {} is not RSA or EC", other.unwrap_or("(none)")),
                source: None,
            }),
        }
    }

    fn from_rsa(key: &rsa::RsaPublicKey) -> Result<Self, KeyError> {
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall { bits });
        }
        let spki_der = key
            .to_public_key_der()
            .map_err(|e| encode("encode the RSA public key", e))?
            .into_vec();
        Ok(Self {
            alg: Algorithm::RS256,
            kid: KeyId::from_spki_der(&spki_der),
            params: JwkParams::Rsa {
                n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            },
            spki_der,
        })
    }

    fn from_ec<C>(
        key: &elliptic_curve::PublicKey<C>,
        alg: Algorithm,
        crv: &'static str,
    ) -> Result<Self, KeyError>
    where
        C: CurveArithmetic + AssociatedOid,
        AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
        FieldBytesSize<C>: ModulusSize,
    {
        let point = key.to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(KeyError::Encode {
                what: "use an EC key at the point at infinity",
                source: None,
            });
        };
        let spki_der = key
            .to_public_key_der()
            .map_err(|e| encode("encode the EC public key", e))?
            .into_vec();
        Ok(Self {
            alg,
            kid: KeyId::from_spki_der(&spki_der),
            params: JwkParams::Ec {
                crv,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            },
            spki_der,
        })
    }
}

/// Where a key was read from: the file and the 1-based PEM block within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySource {
    /// The file name as given.
    pub file: String,
    /// The PEM block, counting from 1.
    pub block: usize,
    /// The PEM label (`RSA PRIVATE KEY`, `PUBLIC KEY`, `CERTIFICATE`, ...).
    pub label: String,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (PEM block {}, {})",
            self.file, self.block, self.label
        )
    }
}

/// A public key together with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedKey {
    /// The public key.
    pub key: PublicKey,
    /// Its origin.
    pub source: KeySource,
    /// Whether the block held a private key (only its public half is kept).
    pub from_private: bool,
}

/// Why a key could not be read or made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The file is empty.
    #[error("{file} is empty: expected a PEM key such as the sa.pub or sa.key kubeadm writes (create one with `irsa-issuer keys generate --out DIR`)")]
    Empty {
        /// The file.
        file: String,
    },
    /// No PEM block at all.
    #[error("{file} is not PEM{hint}: expected `-----BEGIN ...-----` blocks (RSA or EC keys, or certificates)")]
    NotPem {
        /// The file.
        file: String,
        /// A hint about what it looks like.
        hint: &'static str,
    },
    /// A PEM block could not be decoded.
    #[error("{file}: the PEM data is damaged ({source}); check that the file was copied whole")]
    BadPem {
        /// The file.
        file: String,
        /// The decoder's complaint.
        #[source]
        source: Cause,
    },
    /// Encrypted private key.
    #[error("{at}: the private key is encrypted; kube-apiserver cannot read encrypted keys either. Give the public key instead (`openssl pkey -in KEY -pubout -out sa.pub`), or decrypt it (`openssl pkey -in KEY -out sa.key`)")]
    Encrypted {
        /// Where.
        at: KeySource,
    },
    /// EdDSA keys.
    #[error("{at}: {kind} keys are not supported: kube-apiserver cannot sign service-account tokens with them and AWS STS does not accept EdDSA; use RSA (2048 bits or more) or ECDSA P-256/P-384/P-521")]
    EdDsa {
        /// Where.
        at: KeySource,
        /// Ed25519 or Ed448 (or X25519/X448).
        kind: &'static str,
    },
    /// DSA keys.
    #[error("{at}: DSA keys are not supported by kube-apiserver or AWS STS; use RSA (2048 bits or more) or ECDSA P-256/P-384/P-521")]
    Dsa {
        /// Where.
        at: KeySource,
    },
    /// A kid that is not 43 base64url characters.
    #[error("`{0}` is not a key ID: kube-apiserver's kids are 43 base64url characters (SHA-256 of the public key)")]
    BadKid(String),
    /// RSA below 2048 bits.
    #[error("RSA key of {bits} bits is too small: AWS STS requires at least 2048 bits; generate a new key with `irsa-issuer keys generate`")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// A block that is not what its label says, or holds a key of a kind not supported.
    #[error("{at}: {what}{}{fix}", colon(.source))]
    InBlock {
        /// Where.
        at: KeySource,
        /// What is wrong.
        what: String,
        /// The decoder's complaint, when a decoder complained.
        #[source]
        source: Option<Cause>,
        /// What to do (empty when `what` says it).
        fix: &'static str,
    },
    /// A PEM block that begins but never ends.
    #[error("{file}: a -----BEGIN line without its matching -----END line: the file was cut short; check that it was copied whole")]
    Truncated {
        /// The file.
        file: String,
    },
    /// EC curve other than P-256/384/521.
    #[error("{at}: EC curve {curve} is not supported; JWT signing (and AWS STS) accepts P-256 (ES256), P-384 (ES384) and P-521 (ES512) only")]
    UnsupportedCurve {
        /// Where.
        at: KeySource,
        /// The curve's name or OID.
        curve: String,
    },
    /// A PEM label this tool does not read.
    #[error("{at}: a `{label}` block is not a key kube-apiserver reads; expected PUBLIC KEY, RSA PUBLIC KEY, RSA PRIVATE KEY, EC PRIVATE KEY, PRIVATE KEY or CERTIFICATE{hint}")]
    UnsupportedLabel {
        /// Where.
        at: KeySource,
        /// The label.
        label: String,
        /// A hint for well-known labels.
        hint: &'static str,
    },
    /// The file had blocks, but none was a key.
    #[error("{file} holds no key (only parameter blocks); add the key itself")]
    NoKey {
        /// The file.
        file: String,
    },
    /// An algorithm name not known.
    #[error("unknown algorithm `{0}`: use RS256, ES256, ES384 or ES512")]
    UnknownAlgorithm(String),
    /// An RSA size the generator does not offer.
    #[error("RSA keys are generated with 2048, 3072 or 4096 bits, not {0}")]
    UnsupportedBits(usize),
    /// A JWK that is not a usable key.
    #[error("the JWK is not a usable key: {what}{}", colon(.source))]
    Jwk {
        /// What is wrong.
        what: String,
        /// The decoder's complaint.
        #[source]
        source: Option<Cause>,
    },
    /// Key generation or encoding failed.
    #[error("could not {what}{}", colon(.source))]
    Encode {
        /// What was being done (`encode the public key`).
        what: &'static str,
        /// The library's complaint.
        #[source]
        source: Option<Cause>,
    },
}

/// A library's error under a [`KeyError`], kept as its source; compared by its message (so
/// that key errors stay comparable in tests).
#[derive(Debug)]
pub struct Cause(Box<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    fn of(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(e))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

fn colon(source: &Option<Cause>) -> String {
    source
        .as_ref()
        .map(|s| format!(": {s}"))
        .unwrap_or_default()
}

fn encode(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> KeyError {
    KeyError::Encode {
        what,
        source: Some(Cause::of(e)),
    }
}

fn source(file: &str, block: usize, label: &str) -> KeySource {
    KeySource {
        file: file.to_string(),
        block,
        label: label.to_string(),
    }
}

/// Reads every key in a PEM file's contents. Private keys yield their public half. `EC
/// PARAMETERS` blocks (which `openssl ecparam -genkey` writes) are skipped, as kube-apiserver
/// skips them. `file` is only used in messages.
pub fn parse_pem(data: &[u8], file: &str) -> Result<Vec<LoadedKey>, KeyError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(KeyError::Empty { file: file.into() });
    }
    let blocks = pem::parse_many(data).map_err(|e| KeyError::BadPem {
        file: file.into(),
        source: Cause::of(e),
    })?;
    if blocks.is_empty() {
        if data.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(KeyError::Truncated { file: file.into() });
        }
        let hint = if data.first() == Some(&0x30) {
            " (it looks like DER; convert it with `openssl pkey -inform DER -in FILE -pubout`)"
        } else if data.starts_with(b"ssh-") {
            " (it looks like an OpenSSH public key; convert it with `ssh-keygen -e -m PKCS8 -f FILE`)"
        } else {
            ""
        };
        return Err(KeyError::NotPem {
            file: file.into(),
            hint,
        });
    }
    let mut keys = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let src = source(file, i + 1, block.tag());
        if let Some(key) = parse_block(block, &src)? {
            keys.push(LoadedKey {
                from_private: block.tag().contains("PRIVATE"),
                key,
                source: src,
            });
        }
    }
    if keys.is_empty() {
        return Err(KeyError::NoKey { file: file.into() });
    }
    Ok(keys)
}

/// The fix for a block whose DER does not match its label.
const DAMAGED: &str = "; the block is damaged or is not what its label says: check it with `openssl pkey -in FILE -noout -text` (`openssl x509` for a certificate), or export the key again";

fn in_block(src: &KeySource, what: impl fmt::Display) -> KeyError {
    KeyError::InBlock {
        at: src.clone(),
        what: what.to_string(),
        source: None,
        fix: "",
    }
}

/// `what` is wrong with the block, as the decoder's error `e` says.
fn decoding<'a>(
    src: &'a KeySource,
    what: &'a str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync + 'static>) -> KeyError + 'a {
    move |e| KeyError::InBlock {
        at: src.clone(),
        what: what.to_string(),
        source: Some(Cause(e)),
        fix: DAMAGED,
    }
}

/// `e` from decoding a key, placed in its block: too small an RSA key names the block, an
/// EC key that does not decode says what it is and why.
fn with_source(src: &KeySource, what: &str, e: KeyError) -> KeyError {
    match e {
        KeyError::RsaTooSmall { .. } => in_block(src, e),
        KeyError::Encode { source, .. } => KeyError::InBlock {
            at: src.clone(),
            what: what.to_string(),
            source,
            fix: DAMAGED,
        },
        other => other,
    }
}

fn parse_block(block: &pem::Pem, src: &KeySource) -> Result<Option<PublicKey>, KeyError> {
    let der = block.contents();
    let encrypted = block
        .headers()
        .get("Proc-Type")
        .is_some_and(|v| v.contains("ENCRYPTED"));
    if encrypted {
        return Err(KeyError::Encrypted { at: src.clone() });
    }
    let key = match block.tag() {
        "EC PARAMETERS" => return Ok(None),
        "PUBLIC KEY" => from_spki(der, src)?,
        "RSA PUBLIC KEY" => {
            let k = rsa::RsaPublicKey::from_pkcs1_der(der)
                .map_err(|e| decoding(src, "not a PKCS#1 RSA public key")(Box::new(e)))?;
            PublicKey::from_rsa(&k).map_err(|e| with_source(src, "not a usable RSA key", e))?
        }
        "RSA PRIVATE KEY" => {
            let k = rsa::RsaPrivateKey::from_pkcs1_der(der)
                .map_err(|e| decoding(src, "not a PKCS#1 RSA private key")(Box::new(e)))?;
            PublicKey::from_rsa(&k.to_public_key())
                .map_err(|e| with_source(src, "not a usable RSA key", e))?
        }
        "EC PRIVATE KEY" => from_sec1(der, src)?,
        "PRIVATE KEY" => from_pkcs8(der, src)?,
        "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted { at: src.clone() }),
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(der)
                .map_err(|e| decoding(src, "not an X.509 certificate")(Box::new(e)))?;
            let spki = cert
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| decoding(src, "its public key cannot be re-encoded")(Box::new(e)))?;
            from_spki(&spki, src)?
        }
        "DSA PRIVATE KEY" | "DSA PUBLIC KEY" => return Err(KeyError::Dsa { at: src.clone() }),
        other => {
            let hint = match other {
                "OPENSSH PRIVATE KEY" => {
                    " (convert an OpenSSH key with `ssh-keygen -p -m PEM -f FILE`)"
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
                    " (a CSR is not a key; give the key or the signed certificate)"
                }
                _ => "",
            };
            return Err(KeyError::UnsupportedLabel {
                at: src.clone(),
                label: other.to_string(),
                hint,
            });
        }
    };
    Ok(Some(key))
}

/// Refuses the algorithm families we know and do not support, by OID.
fn refuse_oid(oid: ObjectIdentifier, src: &KeySource) -> KeyError {
    match oid {
        OID_ED25519 => KeyError::EdDsa { at: src.clone(), kind: "Ed25519" },
        OID_ED448 => KeyError::EdDsa { at: src.clone(), kind: "Ed448" },
        OID_X25519 => KeyError::EdDsa { at: src.clone(), kind: "X25519" },
        OID_X448 => KeyError::EdDsa { at: src.clone(), kind: "X448" },
        OID_DSA => KeyError::Dsa { at: src.clone() },
        OID_RSA_PSS => in_block(src, "RSASSA-PSS keys are not supported by kube-apiserver; use a plain rsaEncryption RSA key"),
        other => in_block(src, format!("unsupported key algorithm (OID {other}); use RSA or ECDSA P-256/P-384/P-521")),
    }
}

#[derive(Clone, Copy)]
enum Curve {
    P256,
    P384,
    P521,
}

fn curve(oid: Option<ObjectIdentifier>, src: &KeySource) -> Result<Curve, KeyError> {
    match oid {
        Some(OID_P256) => Ok(Curve::P256),
        Some(OID_P384) => Ok(Curve::P384),
        Some(OID_P521) => Ok(Curve::P521),
        Some(OID_SECP256K1) => Err(KeyError::UnsupportedCurve { at: src.clone(), curve: "secp256k1".into() }),
        Some(other) => Err(KeyError::UnsupportedCurve { at: src.clone(), curve: format!("OID {other}") }),
        None => Err(in_block(src, "the EC key names no curve (explicit curve parameters are not supported); re-encode it with `openssl ec -param_enc named_curve`")),
    }
}

fn from_spki(der: &[u8], src: &KeySource) -> Result<PublicKey, KeyError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| decoding(src, "not a SubjectPublicKeyInfo")(Box::new(e)))?;
    match spki.algorithm.oid {
        OID_RSA => {
            let k = rsa::RsaPublicKey::from_public_key_der(der)
                .map_err(|e| decoding(src, "not a usable RSA public key")(Box::new(e)))?;
            PublicKey::from_rsa(&k).map_err(|e| with_source(src, "not a usable RSA key", e))
        }
        OID_EC => ec_key(
            curve(spki.algorithm.parameters_oid().ok(), src)?,
            EcDer::Spki(der),
        )
        .map_err(|e| decoding(src, "invalid EC public key")(Box::new(e))),
        other => Err(refuse_oid(other, src)),
    }
}

fn from_pkcs8(der: &[u8], src: &KeySource) -> Result<PublicKey, KeyError> {
    let info = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|e| decoding(src, "not a PKCS#8 private key")(Box::new(e)))?;
    match info.algorithm.oid {
        OID_RSA => {
            let k = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| decoding(src, "not a usable RSA private key")(Box::new(e)))?;
            PublicKey::from_rsa(&k.to_public_key())
                .map_err(|e| with_source(src, "not a usable RSA key", e))
        }
        OID_EC => ec_key(
            curve(info.algorithm.parameters_oid().ok(), src)?,
            EcDer::Pkcs8(der),
        )
        .map_err(|e| decoding(src, "invalid EC private key")(Box::new(e))),
        other => Err(refuse_oid(other, src)),
    }
}

fn from_sec1(der: &[u8], src: &KeySource) -> Result<PublicKey, KeyError> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| decoding(src, "not a SEC1 EC private key")(Box::new(e)))?;
    let oid = ec.parameters.and_then(|p| p.named_curve());
    ec_key(curve(oid, src)?, EcDer::Sec1(der))
        .map_err(|e| decoding(src, "invalid EC private key")(Box::new(e)))
}

/// An EC key in one of the DER encodings kube-apiserver reads.
#[derive(Clone, Copy)]
enum EcDer<'a> {
    Spki(&'a [u8]),
    Pkcs8(&'a [u8]),
    Sec1(&'a [u8]),
}

impl Curve {
    fn alg(self) -> (Algorithm, &'static str) {
        match self {
            Curve::P256 => (Algorithm::ES256, "P-256"),
            Curve::P384 => (Algorithm::ES384, "P-384"),
            Curve::P521 => (Algorithm::ES512, "P-521"),
        }
    }
}

/// The public key of an EC key on `curve`, from any of its encodings.
fn ec_key(curve: Curve, der: EcDer<'_>) -> Result<PublicKey, KeyError> {
    match curve {
        Curve::P256 => ec_key_on::<p256::NistP256>(der, curve),
        Curve::P384 => ec_key_on::<p384::NistP384>(der, curve),
        Curve::P521 => ec_key_on::<p521::NistP521>(der, curve),
    }
}

fn ec_key_on<C>(der: EcDer<'_>, curve: Curve) -> Result<PublicKey, KeyError>
where
    C: CurveArithmetic + AssociatedOid,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    fn bad(e: impl std::error::Error + Send + Sync + 'static) -> KeyError {
        encode("decode the EC key", e)
    }
    let public = match der {
        EcDer::Spki(d) => elliptic_curve::PublicKey::<C>::from_public_key_der(d).map_err(bad)?,
        EcDer::Pkcs8(d) => elliptic_curve::SecretKey::<C>::from_pkcs8_der(d)
            .map_err(bad)?
            .public_key(),
        EcDer::Sec1(d) => elliptic_curve::SecretKey::<C>::from_sec1_der(d)
            .map_err(bad)?
            .public_key(),
    };
    let (alg, crv) = curve.alg();
    PublicKey::from_ec(&public, alg, crv)
}

/// A new EC key on `C`: the private key as PKCS#8 PEM and its public half.
fn generate_ec<C, R>(rng: &mut R, curve: Curve) -> Result<GeneratedKey, KeyError>
where
    C: CurveArithmetic + AssociatedOid,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
    R: RngCore + CryptoRng,
{
    use elliptic_curve::pkcs8::{EncodePrivateKey, LineEnding};
    let k = elliptic_curve::SecretKey::<C>::random(rng);
    let (alg, crv) = curve.alg();
    Ok(GeneratedKey {
        private_pem: k
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| encode("encode the EC private key", e))?,
        public: PublicKey::from_ec(&k.public_key(), alg, crv)?,
    })
}

/// Drops keys whose kid was already seen (the same key given twice, or a private key and its
/// public half), keeping the first occurrence.
pub fn dedup(keys: Vec<LoadedKey>) -> Vec<LoadedKey> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.key.kid().clone()))
        .collect()
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The algorithm.
    pub alg: Algorithm,
    /// RSA modulus size (ignored for EC).
    pub rsa_bits: usize,
}

impl Default for KeySpec {
    /// RS256 with 2048 bits: what kubeadm generates for `sa.key`.
    fn default() -> Self {
        Self {
            alg: Algorithm::RS256,
            rsa_bits: 2048,
        }
    }
}

/// A freshly generated key pair.
pub struct GeneratedKey {
    /// The private key as PEM: PKCS#1 for RSA, as kubeadm writes; PKCS#8 for EC, because the
    /// SEC1 encoder here leaves out the curve OID, which Go's parser (kube-apiserver's) needs.
    /// Zeroed on drop. Never log it.
    pub private_pem: Zeroizing<String>,
    /// The public half.
    pub public: PublicKey,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("private_pem", &"<redacted>")
            .field("public", &self.public)
            .finish()
    }
}

/// Generates a key with randomness from `rng` (the OS CSPRNG in the CLI, a seeded one in tests).
pub fn generate<R: RngCore + CryptoRng>(
    spec: KeySpec,
    rng: &mut R,
) -> Result<GeneratedKey, KeyError> {
    use elliptic_curve::pkcs8::LineEnding;
    match spec.alg {
        Algorithm::RS256 => {
            if ![2048, 3072, 4096].contains(&spec.rsa_bits) {
                return Err(KeyError::UnsupportedBits(spec.rsa_bits));
            }
            let k = rsa::RsaPrivateKey::new(rng, spec.rsa_bits)
                .map_err(|e| encode("generate the RSA key", e))?;
            Ok(GeneratedKey {
                private_pem: k
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(|e| encode("encode the RSA private key", e))?,
                public: PublicKey::from_rsa(&k.to_public_key())?,
            })
        }
        Algorithm::ES256 => generate_ec::<p256::NistP256, R>(rng, Curve::P256),
        Algorithm::ES384 => generate_ec::<p384::NistP384, R>(rng, Curve::P384),
        Algorithm::ES512 => generate_ec::<p521::NistP521, R>(rng, Curve::P521),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn a_jwk_reads_back_as_its_key_and_a_bad_one_says_why() {
        for alg in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
        ] {
            let g = generate(
                KeySpec {
                    alg,
                    rsa_bits: 2048,
                },
                &mut rng(),
            )
            .unwrap();
            let jwk =
                serde_json::to_value(crate::oidc::documents::Jwk::from_key(&g.public)).unwrap();
            let back = PublicKey::from_jwk(&jwk).unwrap();
            assert_eq!(back.kid(), g.public.kid(), "{alg:?}");
            assert_eq!(back.alg(), alg);
        }
        let g = generate(
            KeySpec {
                alg: Algorithm::ES256,
                rsa_bits: 2048,
            },
            &mut rng(),
        )
        .unwrap();
        let mut jwk =
            serde_json::to_value(crate::oidc::documents::Jwk::from_key(&g.public)).unwrap();
        jwk["y"] = jwk["x"].clone();
        let e = PublicKey::from_jwk(&jwk).unwrap_err();
        assert!(e.to_string().contains("not a point on its curve"), "{e}");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the curve library's error is kept"
        );
        jwk["crv"] = "secp256k1".into();
        assert!(PublicKey::from_jwk(&jwk)
            .unwrap_err()
            .to_string()
            .contains("secp256k1"));
        let e = PublicKey::from_jwk(&serde_json::json!({"kty": "RSA", "n": "!!"})).unwrap_err();
        assert!(e.to_string().contains("`n` is not base64url"), "{e}");
    }

    #[test]
    fn generated_private_key_reads_back_as_the_same_public_key() {
        for alg in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
        ] {
            let g = generate(
                KeySpec {
                    alg,
                    rsa_bits: 2048,
                },
                &mut rng(),
            )
            .unwrap();
            let from_private = parse_pem(g.private_pem.as_bytes(), "sa.key").unwrap();
            let from_public = parse_pem(g.public.to_pem().as_bytes(), "sa.pub").unwrap();
            assert_eq!(from_private.len(), 1);
            assert_eq!(from_private[0].key, g.public, "{alg}");
            assert_eq!(from_public[0].key, g.public, "{alg}");
            assert!(from_private[0].from_private && !from_public[0].from_private);
            assert_eq!(g.public.alg(), alg);
        }
    }

    #[test]
    fn kid_is_base64url_sha256_of_spki() {
        let g = generate(
            KeySpec {
                alg: Algorithm::ES256,
                rsa_bits: 0,
            },
            &mut rng(),
        )
        .unwrap();
        let kid = g.public.kid().as_str();
        assert_eq!(kid.len(), 43, "32 bytes base64url without padding");
        assert!(!kid.contains(['=', '+', '/']));
        let digest = URL_SAFE_NO_PAD.decode(kid).unwrap();
        assert_eq!(digest, Sha256::digest(g.public.spki_der()).to_vec());
    }

    #[test]
    fn ec_coordinates_have_fixed_length() {
        for (alg, len) in [
            (Algorithm::ES256, 32),
            (Algorithm::ES384, 48),
            (Algorithm::ES512, 66),
        ] {
            // Several seeds, so that a coordinate with leading zero bytes turns up eventually.
            for seed in 0..16 {
                let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
                let g = generate(KeySpec { alg, rsa_bits: 0 }, &mut r).unwrap();
                let JwkParams::Ec { x, y, .. } = g.public.params() else {
                    panic!("not EC")
                };
                assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), len);
                assert_eq!(URL_SAFE_NO_PAD.decode(y).unwrap().len(), len);
            }
        }
    }

    #[test]
    fn refuses_small_rsa_and_odd_sizes_at_generation() {
        let e = generate(
            KeySpec {
                alg: Algorithm::RS256,
                rsa_bits: 1024,
            },
            &mut rng(),
        )
        .unwrap_err();
        assert_eq!(e, KeyError::UnsupportedBits(1024));
    }

    #[test]
    fn dedup_keeps_first_of_each_kid() {
        let g = generate(
            KeySpec {
                alg: Algorithm::ES256,
                rsa_bits: 0,
            },
            &mut rng(),
        )
        .unwrap();
        let mut keys = parse_pem(g.private_pem.as_bytes(), "a").unwrap();
        keys.extend(parse_pem(g.public.to_pem().as_bytes(), "b").unwrap());
        let d = dedup(keys);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].source.file, "a");
    }

    #[test]
    fn empty_and_not_pem() {
        assert_eq!(
            parse_pem(b" \n", "f").unwrap_err(),
            KeyError::Empty { file: "f".into() }
        );
        assert!(matches!(
            parse_pem(b"hello", "f").unwrap_err(),
            KeyError::NotPem { .. }
        ));
        assert!(
            matches!(parse_pem(&[0x30, 0x82, 1, 2], "f").unwrap_err(), KeyError::NotPem { hint, .. } if hint.contains("DER"))
        );
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
        ] {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
        }
        assert!("EdDSA".parse::<Algorithm>().is_err());
    }
}
