//! ServiceAccounts as the webhook needs them: namespace, name and the annotations under the
//! prefix (the upstream webhook strips the rest too), read from YAML (`kubectl get sa -A -o
//! yaml`, `irsa-issuer role manifest`, several documents or a List) or from API objects, and the
//! [`Directory`] pods are looked up in, each entry already turned into its [`Identity`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

use super::mutate::{Identity, Settings};

/// A ServiceAccount reduced to what the webhook reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Annotations (all of them; [`Directory`] reads those under the prefix).
    pub annotations: BTreeMap<String, String>,
}

/// Why a ServiceAccount file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// Not YAML.
    #[error("{file}: not YAML/JSON: {reason}")]
    Yaml {
        /// The file.
        file: String,
        /// The parser's message, with the position.
        reason: String,
    },
    /// An object is incomplete or malformed.
    #[error("{file}: document {document}: {problem}")]
    Object {
        /// The file.
        file: String,
        /// 1-based document number (items of a List count as their List's).
        document: usize,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The same ServiceAccount twice.
    #[error("{file}: ServiceAccount {namespace}/{name} appears twice (documents {first} and {second}): keep one")]
    Duplicate {
        /// The file.
        file: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// First document.
        first: usize,
        /// Second document.
        second: usize,
    },
}

#[derive(Deserialize)]
struct RawObject {
    kind: Option<String>,
    metadata: Option<RawMeta>,
    items: Option<Vec<RawObject>>,
}

#[derive(Deserialize)]
struct RawMeta {
    name: Option<String>,
    namespace: Option<String>,
    annotations: Option<BTreeMap<String, Value>>,
}

/// What a file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The ServiceAccounts.
    pub accounts: Vec<ServiceAccount>,
    /// Objects of other kinds, skipped.
    pub skipped: usize,
}

/// Reads every ServiceAccount in `text` (YAML or JSON; several documents, `List`s, other kinds
/// skipped). `file` names it in errors.
pub fn parse_file(text: &str, file: &str) -> Result<Parsed, AccountsError> {
    let docs: Vec<RawObject> =
        serde_saphyr::from_multiple(text).map_err(|e| AccountsError::Yaml {
            file: file.into(),
            reason: e.to_string(),
        })?;
    let mut out = Parsed::default();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let document = i + 1;
        let err = |problem: String| AccountsError::Object {
            file: file.into(),
            document,
            problem,
        };
        let mut found = Vec::new();
        collect(doc, &mut found, &mut out.skipped).map_err(err)?;
        for sa in found {
            let key = (sa.namespace.clone(), sa.name.clone());
            if let Some(first) = seen.insert(key, document) {
                return Err(AccountsError::Duplicate {
                    file: file.into(),
                    namespace: sa.namespace,
                    name: sa.name,
                    first,
                    second: document,
                });
            }
            out.accounts.push(sa);
        }
    }
    Ok(out)
}

fn collect(o: RawObject, out: &mut Vec<ServiceAccount>, skipped: &mut usize) -> Result<(), String> {
    let kind = o.kind.unwrap_or_default();
    if kind == "List" || kind.ends_with("List") {
        for item in o.items.unwrap_or_default() {
            collect(item, out, skipped)?;
        }
        return Ok(());
    }
    if kind.is_empty() {
        return Err("an object without kind: give each document `kind: ServiceAccount` (or a `kind: List` with items)".into());
    }
    if kind != "ServiceAccount" {
        *skipped += 1;
        return Ok(());
    }
    let meta = o.metadata.ok_or("a ServiceAccount without metadata")?;
    let name = meta
        .name
        .filter(|n| !n.is_empty())
        .ok_or("a ServiceAccount without metadata.name")?;
    let namespace = meta.namespace.filter(|n| !n.is_empty()).ok_or_else(|| {
        format!("ServiceAccount {name} has no metadata.namespace: pods are matched by namespace, so give it one")
    })?;
    let mut annotations = BTreeMap::new();
    for (k, v) in meta.annotations.unwrap_or_default() {
        match v {
            Value::String(s) => {
                annotations.insert(k, s);
            }
            other => {
                return Err(format!(
                    "ServiceAccount {namespace}/{name}: annotation {k} is {other}, not a string: quote it (Kubernetes annotations are strings)"
                ))
            }
        }
    }
    out.push(ServiceAccount {
        namespace,
        name,
        annotations,
    });
    Ok(())
}

impl ServiceAccount {
    /// A ServiceAccount from an API object (`kubectl get sa -o json` shape); `None` without a
    /// name or namespace. Annotations that are not strings are dropped (the API never has them).
    pub fn from_object(o: &Value) -> Option<Self> {
        let m = &o["metadata"];
        let name = m["name"].as_str().filter(|s| !s.is_empty())?;
        let namespace = m["namespace"].as_str().filter(|s| !s.is_empty())?;
        let annotations = m["annotations"]
            .as_object()
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            namespace: namespace.into(),
            name: name.into(),
            annotations,
        })
    }
}

/// One entry: the ServiceAccount exists; `identity` is `None` when it names no role.
pub type Entry = Option<Arc<Identity>>;

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The ServiceAccounts the webhook knows, each already turned into its identity under the
/// flags' [`Settings`]. Shared by the admission handler (reads) and the source that fills it.
#[derive(Debug)]
pub struct Directory {
    settings: Arc<Settings>,
    entries: RwLock<HashMap<String, Entry>>,
    ready: AtomicBool,
}

impl Directory {
    /// An empty directory, not ready.
    pub fn new(settings: Arc<Settings>) -> Self {
        Self {
            settings,
            entries: RwLock::new(HashMap::new()),
            ready: AtomicBool::new(false),
        }
    }

    /// The settings identities are computed with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn entry(&self, sa: &ServiceAccount) -> Entry {
        Identity::from_annotations(&sa.annotations, &self.settings).map(Arc::new)
    }

    /// The entry of `namespace/name`, or `None` when the ServiceAccount is not known.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Entry> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(&key(namespace, name)).cloned()
    }

    /// Adds or replaces one ServiceAccount; returns its entry.
    pub fn insert(&self, sa: &ServiceAccount) -> Entry {
        let e = self.entry(sa);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.insert(key(&sa.namespace, &sa.name), e.clone());
        e
    }

    /// Forgets one ServiceAccount.
    pub fn remove(&self, namespace: &str, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.remove(&key(namespace, name));
    }

    /// Replaces everything with `accounts` in one step (a reloaded file, a relist) and marks
    /// the directory ready.
    pub fn replace_all<'a>(&self, accounts: impl IntoIterator<Item = &'a ServiceAccount>) {
        let fresh: HashMap<String, Entry> = accounts
            .into_iter()
            .map(|sa| (key(&sa.namespace, &sa.name), self.entry(sa)))
            .collect();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        *entries = fresh;
        drop(entries);
        self.ready.store(true, Ordering::Release);
    }

    /// Whether the source has loaded once (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// How many ServiceAccounts are known, and how many of them name a role.
    pub fn counts(&self) -> (usize, usize) {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        (
            entries.len(),
            entries.values().filter(|e| e.is_some()).count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_list_and_role_manifest_documents() {
        let list = r#"apiVersion: v1
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    annotations:
      eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/a
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1"}
    name: a
    namespace: ns
  secrets: []
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: default
    namespace: ns
kind: List
metadata:
  resourceVersion: ""
"#;
        let p = parse_file(list, "f").unwrap();
        assert_eq!(p.accounts.len(), 2);
        assert_eq!(
            p.accounts[0].annotations["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::111122223333:role/a"
        );
        let docs = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: \"api\"\n  namespace: \"payments\"\n  annotations:\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::111122223333:role/r\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        let p = parse_file(docs, "f").unwrap();
        assert_eq!((p.accounts.len(), p.skipped), (1, 1));
        assert_eq!(parse_file("", "f").unwrap(), Parsed::default());
        let json = r#"{"kind":"ServiceAccount","metadata":{"name":"a","namespace":"b"}}"#;
        assert_eq!(parse_file(json, "f").unwrap().accounts.len(), 1);
    }

    #[test]
    fn bad_files_say_where() {
        let e = parse_file("kind: ServiceAccount\nmetadata: {name: a}\n", "sa.yaml").unwrap_err();
        assert!(
            e.to_string().contains("sa.yaml: document 1") && e.to_string().contains("namespace"),
            "{e}"
        );
        let e = parse_file("kind: ServiceAccount\nmetadata: {name: a, namespace: b, annotations: {eks.amazonaws.com/sts-regional-endpoints: true}}\n", "f").unwrap_err();
        assert!(e.to_string().contains("quote it"), "{e}");
        let e = parse_file("metadata: {name: a}\n", "f").unwrap_err();
        assert!(e.to_string().contains("without kind"), "{e}");
        let two = "kind: ServiceAccount\nmetadata: {name: a, namespace: b}\n---\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\n";
        assert!(matches!(
            parse_file(two, "f"),
            Err(AccountsError::Duplicate {
                first: 1,
                second: 2,
                ..
            })
        ));
        assert!(matches!(
            parse_file("a: [", "f"),
            Err(AccountsError::Yaml { .. })
        ));
    }

    #[test]
    fn directory_lookups() {
        let d = Directory::new(Arc::new(Settings::default()));
        assert!(!d.is_ready());
        let sa = |name: &str, role: Option<&str>| ServiceAccount {
            namespace: "ns".into(),
            name: name.into(),
            annotations: role
                .map(|r| [("eks.amazonaws.com/role-arn".to_string(), r.to_string())].into())
                .unwrap_or_default(),
        };
        d.replace_all(&[sa("a", Some("arn:r")), sa("b", None)]);
        assert!(d.is_ready());
        assert_eq!(d.get("ns", "a").unwrap().unwrap().role_arn, "arn:r");
        assert_eq!(d.get("ns", "b"), Some(None));
        assert_eq!(d.get("ns", "c"), None);
        assert_eq!(d.counts(), (2, 1));
        d.insert(&sa("b", Some("arn:b")));
        assert_eq!(d.get("ns", "b").unwrap().unwrap().role_arn, "arn:b");
        d.remove("ns", "a");
        assert_eq!(d.get("ns", "a"), None);
    }
}
