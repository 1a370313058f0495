//! What `irsa-issuer webhook install` prints for `kubectl apply -f -`: the serving certificate's
//! Secret and the MutatingWebhookConfiguration that trusts its CA, from serde structs. The
//! certificates are made elsewhere (`certs`); this only lays them out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::mutate::SKIP_LABEL;

/// Defaults matching `deploy/webhook/`.
pub const DEFAULT_SERVICE: &str = "irsa-issuer-webhook";
/// The Secret `deploy/webhook/deployment.yaml` mounts.
pub const DEFAULT_SECRET: &str = "irsa-issuer-webhook-tls";
/// The MutatingWebhookConfiguration's name.
pub const DEFAULT_CONFIGURATION: &str = "irsa-issuer-webhook";
/// The webhook's name inside it (must be a qualified name).
pub const WEBHOOK_NAME: &str = "pod-identity-webhook.irsa-issuer.io";
/// How long the API server waits for an answer before admitting the pod unchanged.
pub const DEFAULT_TIMEOUT_SECONDS: u8 = 3;
/// Namespaces whose pods are never sent to the webhook, besides its own.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Where the webhook runs and how the API server reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// The webhook's namespace.
    pub namespace: String,
    /// Its Service.
    pub service: String,
    /// The Secret holding the serving certificate.
    pub secret: String,
    /// The MutatingWebhookConfiguration's name.
    pub configuration: String,
    /// `timeoutSeconds` (1 to 30).
    pub timeout_seconds: u8,
}

impl InstallOptions {
    /// Options for `namespace` with the defaults.
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.into(),
            service: DEFAULT_SERVICE.into(),
            secret: DEFAULT_SECRET.into(),
            configuration: DEFAULT_CONFIGURATION.into(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
        }
    }

    /// The names the serving certificate must cover, the API server's `SERVICE.NS.svc` first.
    pub fn dns_names(&self) -> Vec<String> {
        let (s, n) = (&self.service, &self.namespace);
        vec![
            format!("{s}.{n}.svc"),
            format!("{s}.{n}.svc.cluster.local"),
            format!("{s}.{n}"),
            s.clone(),
        ]
    }
}

/// The certificates, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The CA that signed the serving certificate (the `caBundle`).
    pub ca_cert_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: zeroize::Zeroizing<String>,
}

#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    labels: BTreeMap<&'static str, &'static str>,
}

fn meta<'a>(name: &'a str, namespace: Option<&'a str>) -> Meta<'a> {
    Meta {
        name,
        namespace,
        labels: [
            ("app.kubernetes.io/name", "irsa-issuer-webhook"),
            ("app.kubernetes.io/part-of", "irsa-issuer"),
        ]
        .into(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Secret<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta<'a>,
    #[serde(rename = "type")]
    type_: &'static str,
    string_data: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Configuration<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta<'a>,
    webhooks: Vec<Webhook<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Webhook<'a> {
    name: &'static str,
    admission_review_versions: Vec<&'static str>,
    client_config: ClientConfig<'a>,
    rules: Vec<Rule>,
    failure_policy: &'static str,
    side_effects: &'static str,
    timeout_seconds: u8,
    reinvocation_policy: &'static str,
    match_policy: &'static str,
    namespace_selector: Selector,
    object_selector: Selector,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientConfig<'a> {
    service: ServiceRef<'a>,
    ca_bundle: String,
}

#[derive(Serialize)]
struct ServiceRef<'a> {
    name: &'a str,
    namespace: &'a str,
    path: &'static str,
    port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    operations: Vec<&'static str>,
    api_groups: Vec<&'static str>,
    api_versions: Vec<&'static str>,
    resources: Vec<&'static str>,
    scope: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_expressions: Vec<Expression>,
}

#[derive(Serialize)]
struct Expression {
    key: &'static str,
    operator: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
}

fn to_yaml<T: Serialize>(v: &T) -> String {
    // Serialising plain structs of strings, numbers and lists cannot fail; an empty document
    // would make `kubectl apply` fail loudly rather than apply something else.
    serde_saphyr::to_string(v).unwrap_or_default()
}

/// The Secret and the MutatingWebhookConfiguration, as YAML documents.
pub fn manifests(o: &InstallOptions, certs: &Issued) -> String {
    use base64::Engine as _;
    let secret = Secret {
        api_version: "v1",
        kind: "Secret",
        metadata: meta(&o.secret, Some(&o.namespace)),
        type_: "kubernetes.io/tls",
        string_data: [
            ("ca.crt", certs.ca_cert_pem.as_str()),
            ("tls.crt", certs.cert_pem.as_str()),
            ("tls.key", certs.key_pem.as_str()),
        ]
        .into(),
    };
    let mut excluded: Vec<String> = vec![o.namespace.clone()];
    excluded.extend(
        SYSTEM_NAMESPACES
            .iter()
            .filter(|n| **n != o.namespace)
            .map(|n| n.to_string()),
    );
    let config = Configuration {
        api_version: "admissionregistration.k8s.io/v1",
        kind: "MutatingWebhookConfiguration",
        metadata: meta(&o.configuration, None),
        webhooks: vec![Webhook {
            name: WEBHOOK_NAME,
            admission_review_versions: vec!["v1"],
            client_config: ClientConfig {
                service: ServiceRef {
                    name: &o.service,
                    namespace: &o.namespace,
                    path: "/mutate",
                    port: 443,
                },
                ca_bundle: base64::engine::general_purpose::STANDARD.encode(&certs.ca_cert_pem),
            },
            rules: vec![Rule {
                operations: vec!["CREATE"],
                api_groups: vec![""],
                api_versions: vec!["v1"],
                resources: vec!["pods"],
                scope: "Namespaced",
            }],
            failure_policy: "Ignore",
            side_effects: "None",
            timeout_seconds: o.timeout_seconds,
            reinvocation_policy: "IfNeeded",
            match_policy: "Equivalent",
            namespace_selector: Selector {
                match_expressions: vec![Expression {
                    key: "kubernetes.io/metadata.name",
                    operator: "NotIn",
                    values: excluded,
                }],
            },
            object_selector: Selector {
                match_expressions: vec![Expression {
                    key: SKIP_LABEL,
                    operator: "DoesNotExist",
                    values: Vec::new(),
                }],
            },
        }],
    };
    format!(
        "# irsa-issuer webhook install: the serving certificate for {}, signed by a CA\n# made for it whose key was not kept, and the MutatingWebhookConfiguration trusting that CA.\n---\n{}---\n{}",
        o.dns_names()[0],
        to_yaml(&secret),
        to_yaml(&config)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_back_with_the_right_fields() {
        let o = InstallOptions::new("irsa-issuer");
        let certs = Issued {
            ca_cert_pem: "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n".into(),
            cert_pem: "-----BEGIN CERTIFICATE-----\nTEVBRg==\n-----END CERTIFICATE-----\n".into(),
            // A stand-in: the manifests carry the key's text as given, whatever it is.
            key_pem: "tls-key-stand-in\n".to_string().into(),
        };
        let text = manifests(&o, &certs);
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        assert_eq!(docs.len(), 2, "{text}");
        assert_eq!(docs[0]["stringData"]["tls.key"], certs.key_pem.as_str());
        assert_eq!(docs[0]["stringData"]["ca.crt"], certs.ca_cert_pem.as_str());
        assert_eq!(docs[0]["metadata"]["namespace"], "irsa-issuer");
        let w = &docs[1]["webhooks"][0];
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(w["clientConfig"]["caBundle"].as_str().unwrap())
            .unwrap();
        assert_eq!(ca, certs.ca_cert_pem.as_bytes());
        assert_eq!(w["clientConfig"]["service"]["name"], "irsa-issuer-webhook");
        assert_eq!(w["failurePolicy"], "Ignore");
        assert_eq!(w["sideEffects"], "None");
        assert_eq!(w["timeoutSeconds"], 3);
        assert_eq!(w["rules"][0]["operations"][0], "CREATE");
        assert_eq!(
            w["namespaceSelector"]["matchExpressions"][0]["values"],
            serde_json::json!([
                "irsa-issuer",
                "kube-system",
                "kube-public",
                "kube-node-lease"
            ])
        );
        assert_eq!(
            w["objectSelector"]["matchExpressions"][0]["key"],
            "eks.amazonaws.com/skip-pod-identity-webhook"
        );
        assert_eq!(o.dns_names()[0], "irsa-issuer-webhook.irsa-issuer.svc");
    }
}
