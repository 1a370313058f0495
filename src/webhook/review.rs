//! AdmissionReview in, AdmissionReview out. [`parse`] reads the bytes the API server posts and
//! says precisely what is wrong with a body that is not a usable review; [`respond`] renders the
//! answer, which echoes the request's `uid` and `apiVersion` and is always `allowed: true`: the
//! webhook never blocks a pod. Pure, and the target of the fuzzer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mutate::PatchOp;

/// `admission.k8s.io/v1`, what `webhook install` asks the API server to send.
pub const API_VERSION_V1: &str = "admission.k8s.io/v1";
/// `admission.k8s.io/v1beta1`, which the upstream webhook's own manifests still ask for; the
/// shape is the same and the response echoes it.
pub const API_VERSION_V1BETA1: &str = "admission.k8s.io/v1beta1";
/// The largest body accepted. kube-apiserver refuses objects over 3 MiB itself, so a review
/// (one pod and the request's metadata) never comes near it.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Why a body is not a usable AdmissionReview. Each is answered with HTTP 400 and this text:
/// with `failurePolicy: Ignore` the API server then admits the pod unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON at all.
    #[error("the body is not JSON ({0}): the webhook takes an AdmissionReview (admission.k8s.io/v1) as JSON")]
    NotJson(String),
    /// JSON of the wrong shape.
    #[error("the body is not an AdmissionReview ({0}): send apiVersion admission.k8s.io/v1, kind AdmissionReview, and a request")]
    NotAReview(String),
    /// Another apiVersion or kind.
    #[error("the body is a {api_version}/{kind}, not an admission.k8s.io/v1 AdmissionReview: point the MutatingWebhookConfiguration's admissionReviewVersions at v1")]
    WrongType {
        /// What it says.
        api_version: String,
        /// What it says.
        kind: String,
    },
    /// No `request`.
    #[error("the AdmissionReview has no request: the API server sends one in every review")]
    NoRequest,
    /// No `request.uid`.
    #[error("the AdmissionReview's request has no uid: the response must echo it, so this review cannot be answered")]
    NoUid,
}

/// `request.kind` and `request.resource` style group/version/kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupVersionKind {
    /// API group (`""` for core).
    #[serde(default)]
    pub group: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

/// The part of an AdmissionRequest the webhook reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Echoed in the response.
    pub uid: String,
    /// The object's kind.
    pub kind: GroupVersionKind,
    /// CREATE, UPDATE, ...
    pub operation: String,
    /// The namespace of the object (a pod being created may not carry one itself).
    pub namespace: String,
    /// The object.
    pub object: Option<Value>,
}

/// A parsed review.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// `admission.k8s.io/v1` or `v1beta1`, echoed.
    pub api_version: String,
    /// The request.
    pub request: Request,
}

#[derive(Deserialize)]
struct RawReview {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    request: Option<RawRequest>,
}

#[derive(Deserialize)]
struct RawRequest {
    uid: Option<String>,
    kind: Option<GroupVersionKind>,
    operation: Option<String>,
    namespace: Option<String>,
    object: Option<Value>,
}

/// The most characters of what the client sent that an error message quotes (a parser's
/// message quotes field names and values, which a client can make as long as its body).
const QUOTE_MAX: usize = 120;

/// `text`, cut to [`QUOTE_MAX`] characters (with `…` when cut).
fn excerpt(text: String) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Reads an AdmissionReview.
pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
    let raw: RawReview = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ReviewError::NotAReview(excerpt(e.to_string()))
        } else {
            ReviewError::NotJson(excerpt(e.to_string()))
        }
    })?;
    let api_version = raw.api_version.unwrap_or_default();
    let kind = raw.kind.unwrap_or_default();
    if kind != "AdmissionReview"
        || ![API_VERSION_V1, API_VERSION_V1BETA1].contains(&api_version.as_str())
    {
        return Err(ReviewError::WrongType {
            api_version: if api_version.is_empty() {
                "(no apiVersion)".into()
            } else {
                excerpt(api_version)
            },
            kind: if kind.is_empty() {
                "(no kind)".into()
            } else {
                excerpt(kind)
            },
        });
    }
    let r = raw.request.ok_or(ReviewError::NoRequest)?;
    let uid = r.uid.filter(|u| !u.is_empty()).ok_or(ReviewError::NoUid)?;
    Ok(Review {
        api_version,
        request: Request {
            uid,
            kind: r.kind.unwrap_or_default(),
            operation: r.operation.unwrap_or_default(),
            namespace: r.namespace.unwrap_or_default(),
            object: r.object,
        },
    })
}

/// What the webhook does with a request, before looking the ServiceAccount up.
#[derive(Debug, Clone, PartialEq)]
pub enum Target<'a> {
    /// A pod being created: look its ServiceAccount up and mutate it.
    Pod {
        /// The pod.
        pod: &'a Value,
        /// Its namespace.
        namespace: &'a str,
        /// Its ServiceAccount.
        service_account: &'a str,
    },
    /// Anything else is admitted as it is, with the reason.
    Ignore(String),
}

impl Request {
    /// Whether this is a pod CREATE the webhook mutates.
    pub fn target(&self) -> Target<'_> {
        let k = &self.kind;
        if !(k.group.is_empty() && k.version == "v1" && k.kind == "Pod") {
            return Target::Ignore(format!(
                "the webhook mutates v1 Pods only, not {}/{} {}",
                excerpt(k.group.clone()),
                excerpt(k.version.clone()),
                excerpt(k.kind.clone())
            ));
        }
        if self.operation != "CREATE" {
            return Target::Ignore(format!(
                "the webhook mutates pods on CREATE only, not {}",
                excerpt(self.operation.clone())
            ));
        }
        let Some(pod) = self.object.as_ref().filter(|o| o.is_object()) else {
            return Target::Ignore("the request carries no pod object".into());
        };
        let namespace = if self.namespace.is_empty() {
            pod["metadata"]["namespace"].as_str().unwrap_or("default")
        } else {
            &self.namespace
        };
        Target::Pod {
            pod,
            namespace,
            service_account: super::mutate::service_account_name(pod),
        }
    }
}

#[derive(Serialize)]
struct ReviewOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut<'a>>,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    message: &'a str,
}

/// The patch as the JSON text the response carries (base64-encoded).
pub fn patch_json(patch: &[PatchOp]) -> String {
    serde_json::to_string(patch).unwrap_or_else(|_| "[]".into())
}

/// The response to `review`: allowed, with `patch` when it is not empty, and `message` (why it
/// was left alone) when given.
pub fn respond(review: &Review, patch: &[PatchOp], message: Option<&str>) -> Vec<u8> {
    let (patch_type, patch) = if patch.is_empty() {
        (None, None)
    } else {
        (Some("JSONPatch"), Some(STANDARD.encode(patch_json(patch))))
    };
    let out = ReviewOut {
        api_version: &review.api_version,
        kind: "AdmissionReview",
        response: ResponseOut {
            uid: &review.request.uid,
            allowed: true,
            patch_type,
            patch,
            status: message.map(|message| StatusOut { message }),
        },
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review(request: Value) -> Vec<u8> {
        json!({"apiVersion": API_VERSION_V1, "kind": "AdmissionReview", "request": request})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert!(matches!(parse(b"{not json"), Err(ReviewError::NotJson(_))));
        assert!(matches!(parse(b""), Err(ReviewError::NotJson(_))));
        assert!(matches!(parse(b"[1]"), Err(ReviewError::NotAReview(_))));
        assert!(matches!(
            parse(br#"{"apiVersion": 3}"#),
            Err(ReviewError::NotAReview(_))
        ));
        let e = parse(br#"{"apiVersion":"v1","kind":"Pod"}"#).unwrap_err();
        assert_eq!(
            e,
            ReviewError::WrongType {
                api_version: "v1".into(),
                kind: "Pod".into()
            }
        );
        assert!(e.to_string().contains("v1/Pod"), "{e}");
        assert_eq!(
            parse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#),
            Err(ReviewError::NoRequest)
        );
        assert_eq!(parse(&review(json!({}))), Err(ReviewError::NoUid));
        assert_eq!(parse(&review(json!({"uid": ""}))), Err(ReviewError::NoUid));
        assert!(matches!(
            parse(&review(json!({"uid": 7}))),
            Err(ReviewError::NotAReview(_))
        ));
    }

    #[test]
    fn targets() {
        let pod_kind = json!({"group": "", "version": "v1", "kind": "Pod"});
        let r = parse(&review(json!({"uid": "u", "kind": pod_kind, "operation": "CREATE", "namespace": "ns", "object": {"spec": {"serviceAccountName": "sa"}}}))).unwrap();
        match r.request.target() {
            Target::Pod {
                namespace,
                service_account,
                ..
            } => assert_eq!((namespace, service_account), ("ns", "sa")),
            t => panic!("{t:?}"),
        }
        let r = parse(&review(
            json!({"uid": "u", "kind": pod_kind, "operation": "UPDATE", "object": {}}),
        ))
        .unwrap();
        assert!(matches!(r.request.target(), Target::Ignore(m) if m.contains("UPDATE")));
        let r = parse(&review(json!({"uid": "u", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "operation": "CREATE", "object": {}}))).unwrap();
        assert!(
            matches!(r.request.target(), Target::Ignore(m) if m.contains("apps/v1 Deployment"))
        );
        let r = parse(&review(
            json!({"uid": "u", "kind": pod_kind, "operation": "CREATE"}),
        ))
        .unwrap();
        assert!(matches!(r.request.target(), Target::Ignore(_)));
    }

    /// A poor man's fuzzer until the cargo-fuzz target exists: bytes flipped and JSON values
    /// swapped for values of other types, through parse, target and mutate. None may panic.
    #[test]
    fn mangled_reviews_never_panic() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let pod = json!({"metadata": {"annotations": {"eks.amazonaws.com/skip-containers": "\"a\",b", "eks.amazonaws.com/token-expiration": "-9"}},
            "spec": {"serviceAccountName": "sa", "nodeSelector": {"kubernetes.io/os": "windows"}, "volumes": [{"name": "v"}],
            "initContainers": [{"name": "i", "restartPolicy": "Always"}], "containers": [{"name": "a", "env": [{"name": "AWS_REGION", "value": "x"}], "volumeMounts": [{"name": "m", "mountPath": "/m"}]}]}});
        let base = json!({"apiVersion": API_VERSION_V1, "kind": "AdmissionReview", "request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "n", "object": pod}});
        let id = crate::webhook::mutate::Identity {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            audience: "a".into(),
            regional_sts: true,
            token_expiration: 600,
        };
        let settings = crate::webhook::mutate::Settings {
            aws_default_region: "eu-west-1".into(),
            ..Default::default()
        };
        let others = [
            json!(null),
            json!(1),
            json!("s"),
            json!([]),
            json!({}),
            json!([1, "x", null]),
            json!(true),
        ];
        fn count(v: &Value) -> usize {
            1 + match v {
                Value::Object(m) => m.values().map(count).sum(),
                Value::Array(a) => a.iter().map(count).sum(),
                _ => 0,
            }
        }
        let run = |bytes: &[u8]| {
            if let Ok(r) = parse(bytes) {
                if let Target::Pod { pod, .. } = r.request.target() {
                    let _ = crate::webhook::mutate::mutate(pod, &id, &settings);
                }
                let _ = respond(&r, &[], Some("m"));
            }
        };
        for _ in 0..3000 {
            let mut v = base.clone();
            let k = rng.gen_range(0..count(&v));
            let mut n = 0;
            fn replace(v: &mut Value, k: usize, n: &mut usize, with: &Value) -> bool {
                if *n == k {
                    *v = with.clone();
                    return true;
                }
                *n += 1;
                match v {
                    Value::Object(m) => m.values_mut().any(|c| replace(c, k, n, with)),
                    Value::Array(a) => a.iter_mut().any(|c| replace(c, k, n, with)),
                    _ => false,
                }
            }
            replace(&mut v, k, &mut n, &others[rng.gen_range(0..others.len())]);
            run(v.to_string().as_bytes());
            let mut bytes = base.to_string().into_bytes();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] = rng.gen();
            }
            run(&bytes);
        }
    }

    #[test]
    fn response_golden() {
        let r = Review {
            api_version: API_VERSION_V1BETA1.into(),
            request: Request {
                uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
                kind: GroupVersionKind::default(),
                operation: "CREATE".into(),
                namespace: "ns".into(),
                object: None,
            },
        };
        assert_eq!(
            String::from_utf8(respond(&r, &[], None)).unwrap(),
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}"#
        );
        let patch = vec![PatchOp {
            op: "add",
            path: "/spec/volumes".into(),
            value: json!([]),
        }];
        // base64 of [{"op":"add","path":"/spec/volumes","value":[]}]
        assert_eq!(
            String::from_utf8(respond(&r, &patch, Some("why"))).unwrap(),
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true,"patchType":"JSONPatch","patch":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL3NwZWMvdm9sdW1lcyIsInZhbHVlIjpbXX1d","status":{"message":"why"}}}"#
        );
    }
    #[test]
    fn errors_quote_at_most_an_excerpt_of_the_body() {
        let long = "x".repeat(5000);
        for body in [
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","{long}":1,"request":7}}"#
            ),
            format!(r#"{{"apiVersion":"{long}","kind":"AdmissionReview"}}"#),
            format!(r#"{{"apiVersion":"admission.k8s.io/v1","kind":"{long}é"}}"#),
            format!(r#"{{"request":{{"uid":"{long}","kind":5}}}}"#),
        ] {
            let m = parse(body.as_bytes()).unwrap_err().to_string();
            assert!(m.len() < 512, "{} bytes: {m}", m.len());
            assert!(m.contains("AdmissionReview"), "{m}");
        }
        // What a review that parses is told when it is not a pod CREATE.
        for request in [
            format!(
                r#"{{"uid":"u","kind":{{"group":"{long}","version":"{long}","kind":"{long}"}},"operation":"CREATE"}}"#
            ),
            format!(
                r#"{{"uid":"u","kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"{long}"}}"#
            ),
        ] {
            let body = format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request}}}"#
            );
            let r = parse(body.as_bytes()).unwrap();
            let Target::Ignore(m) = r.request.target() else {
                panic!("not ignored: {request}");
            };
            assert!(m.len() < 512, "{} bytes: {m}", m.len());
        }
    }
}
