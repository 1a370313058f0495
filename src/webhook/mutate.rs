//! The mutation, as AWS's amazon-eks-pod-identity-webhook makes it (where its README and its
//! code disagree, this follows the code): a pod whose ServiceAccount names a role gets the
//! projected token volume and, in every container and init container not skipped, the AWS
//! variables and the token mount. Values in, values out: the pod as JSON, the ServiceAccount's
//! [`Identity`], the [`Settings`] of the flags; a JSONPatch and the mutated pod out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

/// `--annotation-prefix` default.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// `--token-audience` default.
pub const DEFAULT_AUDIENCE: &str = crate::aws::names::DEFAULT_AUDIENCE;
/// `--token-mount-path` default.
pub const DEFAULT_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// `--token-expiration` default (seconds).
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86400;
/// The shortest token kube-apiserver issues; shorter requests are raised to it.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// The projected volume and its mounts.
pub const VOLUME_NAME: &str = "aws-iam-token";
/// The token's file name inside the volume.
pub const TOKEN_PATH: &str = "token";
/// The pod label that makes the MutatingWebhookConfiguration skip a pod (fixed upstream, not
/// under the annotation prefix).
pub const SKIP_LABEL: &str = "eks.amazonaws.com/skip-pod-identity-webhook";

/// ServiceAccount annotation naming the role (under the prefix).
pub const ROLE_ARN: &str = "role-arn";
/// ServiceAccount annotation: the token's audience.
pub const AUDIENCE: &str = "audience";
/// ServiceAccount annotation: add `AWS_STS_REGIONAL_ENDPOINTS=regional` (bool).
pub const STS_REGIONAL_ENDPOINTS: &str = "sts-regional-endpoints";
/// ServiceAccount and pod annotation: the token's lifetime in seconds.
pub const TOKEN_EXPIRATION: &str = "token-expiration";
/// Pod annotation: containers to leave alone (comma-separated).
pub const SKIP_CONTAINERS: &str = "skip-containers";

const ENV_ROLE_ARN: &str = "AWS_ROLE_ARN";
const ENV_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
const ENV_REGION: &str = "AWS_REGION";
const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
const ENV_STS: &str = "AWS_STS_REGIONAL_ENDPOINTS";

/// What the webhook's flags set (the upstream webhook's flags, same names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--annotation-prefix`: annotations are `<prefix>/role-arn` and so on.
    pub annotation_prefix: String,
    /// `--token-audience`: the audience when the ServiceAccount names none.
    pub token_audience: String,
    /// `--token-mount-path`: where the token volume is mounted.
    pub token_mount_path: String,
    /// `--token-expiration`: seconds, already raised to [`MIN_TOKEN_EXPIRATION`].
    pub token_expiration: i64,
    /// `--aws-default-region`: empty for none.
    pub aws_default_region: String,
    /// `--sts-regional-endpoint`: the default when the ServiceAccount does not say.
    pub sts_regional_endpoint: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.into(),
            token_audience: DEFAULT_AUDIENCE.into(),
            token_mount_path: DEFAULT_MOUNT_PATH.into(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            aws_default_region: String::new(),
            sts_regional_endpoint: false,
        }
    }
}

impl Settings {
    /// The full name of annotation `name` under the prefix.
    pub fn annotation(&self, name: &str) -> String {
        format!("{}/{name}", self.annotation_prefix)
    }
}

/// A token lifetime raised to the floor kube-apiserver enforces.
pub fn floor_expiration(secs: i64) -> i64 {
    secs.max(MIN_TOKEN_EXPIRATION)
}

/// Go's `strconv.ParseBool`, which the upstream webhook uses for `sts-regional-endpoints`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, nothing else.
fn parse_int(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// What a ServiceAccount's annotations ask for, with the flags' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The role the pod's SDKs assume.
    pub role_arn: String,
    /// The projected token's audience.
    pub audience: String,
    /// Whether to add `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub regional_sts: bool,
    /// The projected token's lifetime, seconds.
    pub token_expiration: i64,
}

impl Identity {
    /// The identity of a ServiceAccount with these annotations, or `None` when it names no
    /// role (no `role-arn`, or an empty one): its pods are not mutated. Unparsable `audience`
    /// siblings fall back to the flags, as upstream does.
    pub fn from_annotations(annotations: &BTreeMap<String, String>, s: &Settings) -> Option<Self> {
        let get = |name: &str| annotations.get(&s.annotation(name));
        let role_arn = get(ROLE_ARN).filter(|a| !a.is_empty())?.clone();
        let audience = get(AUDIENCE)
            .cloned()
            .unwrap_or_else(|| s.token_audience.clone());
        let regional_sts = get(STS_REGIONAL_ENDPOINTS)
            .and_then(|v| parse_bool(v))
            .unwrap_or(s.sts_regional_endpoint);
        let token_expiration = get(TOKEN_EXPIRATION)
            .and_then(|v| parse_int(v))
            .map(floor_expiration)
            .unwrap_or(s.token_expiration);
        Some(Self {
            role_arn,
            audience,
            regional_sts,
            token_expiration,
        })
    }

    /// Whether the role ARN has the shape upstream checks (it only warns, and so do we).
    pub fn role_arn_looks_valid(&self) -> bool {
        let Some(rest) = self.role_arn.strip_prefix("arn:aws") else {
            return false;
        };
        let Some((partition_tail, rest)) = rest.split_once(":iam::") else {
            return false;
        };
        let Some((account, role)) = rest.split_once(":role/") else {
            return false;
        };
        partition_tail
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !role.is_empty()
            && role
                .chars()
                .all(|c| c.is_alphanumeric() || "_-/.@+=,".contains(c))
    }
}

/// One JSONPatch operation (only `add` is ever needed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    /// Always `add`.
    pub op: &'static str,
    /// JSON pointer.
    pub path: String,
    /// The value added.
    pub value: Value,
}

fn add(path: String, value: Value) -> PatchOp {
    PatchOp {
        op: "add",
        path,
        value,
    }
}

/// The patch and the pod it makes. An empty patch means the pod is left as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// The operations, in order.
    pub patch: Vec<PatchOp>,
    /// The pod with the patch applied.
    pub pod: Value,
}

/// Why a pod cannot be read. The webhook then admits it unchanged (the API server validates
/// pods itself); `webhook mutate` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodError {
    /// Not an object.
    #[error("the pod is not a JSON object")]
    NotObject,
    /// A field has the wrong type.
    #[error("the pod's {field} is not {expected}")]
    Shape {
        /// JSON pointer of the field.
        field: String,
        /// What it should be.
        expected: &'static str,
    },
}

fn shape(field: impl Into<String>, expected: &'static str) -> PodError {
    PodError::Shape {
        field: field.into(),
        expected,
    }
}

/// The first record of a CSV line, as Go's `encoding/csv` reads the `skip-containers`
/// annotation upstream: quotes allowed, spaces kept; `None` (skip nothing) when malformed.
pub fn csv_first_record(s: &str) -> Option<Vec<String>> {
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix("\r\n") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        } else {
            break;
        }
    }
    if rest.is_empty() {
        return None;
    }
    let mut fields = Vec::new();
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut q = quoted;
            loop {
                let end = q.find('"')?;
                field.push_str(&q[..end]);
                let after = &q[end + 1..];
                if let Some(a) = after.strip_prefix('"') {
                    field.push('"');
                    q = a;
                } else if let Some(a) = after.strip_prefix(',') {
                    fields.push(field);
                    rest = a;
                    break;
                } else if after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n") {
                    fields.push(field);
                    return Some(fields);
                } else {
                    return None;
                }
            }
        } else {
            let end = rest.find([',', '\n']).unwrap_or(rest.len());
            let field = &rest[..end];
            let at_comma = rest[end..].starts_with(',');
            let field = if at_comma {
                field
            } else {
                field.strip_suffix('\r').unwrap_or(field)
            };
            if field.contains('"') {
                return None;
            }
            fields.push(field.to_string());
            if !at_comma {
                return Some(fields);
            }
            rest = &rest[end + 1..];
        }
    }
}

/// Go's `path.Clean`, which `filepath.Join` applies to the token file's path upstream.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The token file's path as containers see it: `<mount path>/token`, in Windows form
/// (`C:\var\run\...`) on a Windows pod.
pub fn token_file_path(mount_path: &str, windows: bool) -> String {
    let unix = if mount_path.is_empty() {
        TOKEN_PATH.to_string()
    } else {
        clean_path(&format!("{mount_path}/{TOKEN_PATH}"))
    };
    if windows {
        format!("C:{}", unix.replace('/', "\\"))
    } else {
        unix
    }
}

/// Reads a pod from `kubectl get pod -o json` or `-o yaml` output (or a manifest). `file`
/// names it in errors.
pub fn parse_pod(text: &str, file: &str) -> Result<Value, String> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json) => serde_saphyr::from_str(text).map_err(|yaml| {
            if text.trim_start().starts_with('{') {
                format!("{file}: not JSON: {json}")
            } else {
                format!("{file}: not YAML: {yaml}")
            }
        })?,
    };
    match v["kind"].as_str() {
        Some("Pod") if v["spec"].is_object() => Ok(v),
        Some("Pod") => Err(format!("{file}: the Pod has no spec")),
        Some(k) => Err(format!(
            "{file}: a {k}, not a Pod: give one pod (kubectl get pod NAME -o json)"
        )),
        None => Err(format!(
            "{file}: no kind: give one pod (kubectl get pod NAME -o json)"
        )),
    }
}

/// The pod's ServiceAccount name: `spec.serviceAccountName`, else the deprecated
/// `spec.serviceAccount`, else `default` (what the ServiceAccount admission plugin sets).
pub fn service_account_name(pod: &Value) -> &str {
    let spec = &pod["spec"];
    [&spec["serviceAccountName"], &spec["serviceAccount"]]
        .into_iter()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// The pod's name for logs: `metadata.name`, else `metadata.generateName`.
pub fn pod_name(pod: &Value) -> &str {
    let m = &pod["metadata"];
    m["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| m["generateName"].as_str())
        .unwrap_or("")
}

/// Whether a pod runs on Windows nodes: its nodeSelector says `kubernetes.io/os: windows` (or
/// the older `beta.kubernetes.io/os`, which upstream's code also honours).
pub fn is_windows(pod: &Value) -> bool {
    let sel = &pod["spec"]["nodeSelector"];
    ["kubernetes.io/os", "beta.kubernetes.io/os"]
        .iter()
        .any(|k| sel[*k].as_str() == Some("windows"))
}

/// The pod's annotation `key`, checking that annotations are strings.
fn pod_annotation<'a>(pod: &'a Value, key: &str) -> Result<Option<&'a str>, PodError> {
    match &pod["metadata"]["annotations"] {
        Value::Null => Ok(None),
        Value::Object(m) => {
            if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                return Err(shape(format!("/metadata/annotations/{k}"), "a string"));
            }
            Ok(m.get(key).and_then(Value::as_str))
        }
        _ => Err(shape("/metadata/annotations", "an object")),
    }
}

/// What a pod's own annotations change: the token lifetime and the containers to skip.
struct PodOptions {
    token_expiration: i64,
    skip: BTreeSet<String>,
}

fn pod_options(pod: &Value, id: &Identity, s: &Settings) -> Result<PodOptions, PodError> {
    let token_expiration = pod_annotation(pod, &s.annotation(TOKEN_EXPIRATION))?
        .and_then(parse_int)
        .map(floor_expiration)
        .unwrap_or(id.token_expiration);
    let skip = pod_annotation(pod, &s.annotation(SKIP_CONTAINERS))?
        .and_then(csv_first_record)
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(PodOptions {
        token_expiration,
        skip,
    })
}

/// The projected volume upstream adds.
fn token_volume(audience: &str, expiration: i64) -> Value {
    let mut token = Map::new();
    if !audience.is_empty() {
        token.insert("audience".into(), audience.into());
    }
    token.insert("expirationSeconds".into(), expiration.into());
    token.insert("path".into(), TOKEN_PATH.into());
    serde_json::json!({
        "name": VOLUME_NAME,
        "projected": {"sources": [{"serviceAccountToken": token}]},
    })
}

fn env_var(name: &str, value: &str) -> Value {
    serde_json::json!({"name": name, "value": value})
}

/// Whether a list of objects with a `name` (env, volumes, volumeMounts) has one named `name`;
/// an element that is not an object is an error (named lazily: this runs on every admission).
fn has_name(list: &[Value], name: &str, field: impl Fn() -> String) -> Result<bool, PodError> {
    let mut found = false;
    for (i, v) in list.iter().enumerate() {
        match v {
            Value::Object(o) => found |= o.get("name").and_then(Value::as_str) == Some(name),
            _ => return Err(shape(format!("{}/{i}", field()), "an object")),
        }
    }
    Ok(found)
}

/// Appends `items` to the array at `key` of `obj` (creating it), as patch operations.
fn append(obj: &mut Map<String, Value>, key: &str, path: &str, items: Vec<Value>) -> Vec<PatchOp> {
    match obj.get_mut(key) {
        Some(Value::Array(list)) => {
            let pointer = format!("{path}/{key}/-");
            items
                .into_iter()
                .map(|v| {
                    list.push(v.clone());
                    add(pointer.clone(), v)
                })
                .collect()
        }
        _ => {
            obj.insert(key.into(), Value::Array(items.clone()));
            vec![add(format!("{path}/{key}"), Value::Array(items))]
        }
    }
}

/// The AWS variables a container sets already.
#[derive(Default)]
struct Present {
    web_identity: bool,
    region: bool,
    sts: bool,
}

fn present(c: &Map<String, Value>, path: &str) -> Result<Present, PodError> {
    let mut p = Present::default();
    let env = match c.get("env") {
        None | Some(Value::Null) => return Ok(p),
        Some(Value::Array(env)) => env,
        Some(_) => return Err(shape(format!("{path}/env"), "a list")),
    };
    for (i, v) in env.iter().enumerate() {
        let Value::Object(o) = v else {
            return Err(shape(format!("{path}/env/{i}"), "an object"));
        };
        match o.get("name").and_then(Value::as_str) {
            Some(ENV_ROLE_ARN | ENV_TOKEN_FILE) => p.web_identity = true,
            Some(ENV_REGION | ENV_DEFAULT_REGION) => p.region = true,
            Some(ENV_STS) => p.sts = true,
            _ => {}
        }
    }
    Ok(p)
}

/// The operations for one container at `path`. A container that already has the role (or
/// token file), region and STS variables is left alone, mount included, as upstream does.
fn container_ops(
    c: &mut Map<String, Value>,
    path: &str,
    id: &Identity,
    s: &Settings,
    token_file: &str,
) -> Result<Vec<PatchOp>, PodError> {
    let p = present(c, path)?;
    if p.web_identity && p.region && p.sts {
        return Ok(Vec::new());
    }
    let mut env = Vec::new();
    if !p.sts && id.regional_sts {
        env.push(env_var(ENV_STS, "regional"));
    }
    if !p.region && !s.aws_default_region.is_empty() {
        env.push(env_var(ENV_DEFAULT_REGION, &s.aws_default_region));
        env.push(env_var(ENV_REGION, &s.aws_default_region));
    }
    if !p.web_identity {
        env.push(env_var(ENV_ROLE_ARN, &id.role_arn));
        env.push(env_var(ENV_TOKEN_FILE, token_file));
    }
    let mut ops = if env.is_empty() {
        Vec::new()
    } else {
        append(c, "env", path, env)
    };
    let mounted = match c.get("volumeMounts") {
        None | Some(Value::Null) => false,
        Some(Value::Array(m)) => has_name(m, VOLUME_NAME, || format!("{path}/volumeMounts"))?,
        Some(_) => return Err(shape(format!("{path}/volumeMounts"), "a list")),
    };
    if !mounted {
        let mount = serde_json::json!({
            "name": VOLUME_NAME,
            "readOnly": true,
            "mountPath": s.token_mount_path,
        });
        ops.extend(append(c, "volumeMounts", path, vec![mount]));
    }
    Ok(ops)
}

/// Mutates `pod` for a ServiceAccount with identity `id`: the projected token volume (first in
/// the list, as upstream puts it, unless a volume named `aws-iam-token` exists), then each
/// container, then each init container (native sidecars included) not named in
/// `skip-containers`.
pub fn mutate(pod: &Value, id: &Identity, s: &Settings) -> Result<Mutation, PodError> {
    let mut out = pod.clone();
    let patch = mutate_in_place(&mut out, id, s)?;
    Ok(Mutation { patch, pod: out })
}

/// [`mutate`] without a copy: `pod` becomes the mutated pod; returns the patch.
pub fn mutate_in_place(
    pod: &mut Value,
    id: &Identity,
    s: &Settings,
) -> Result<Vec<PatchOp>, PodError> {
    if !pod.is_object() {
        return Err(PodError::NotObject);
    }
    let options = pod_options(pod, id, s)?;
    let token_file = token_file_path(&s.token_mount_path, is_windows(pod));
    let spec = match pod.get_mut("spec") {
        Some(Value::Object(spec)) => spec,
        _ => return Err(shape("/spec", "an object")),
    };
    let mut patch = Vec::new();
    let volume = token_volume(&id.audience, options.token_expiration);
    match spec.get_mut("volumes") {
        None | Some(Value::Null) => {
            spec.insert("volumes".into(), Value::Array(vec![volume.clone()]));
            patch.push(add("/spec/volumes".into(), Value::Array(vec![volume])));
        }
        Some(Value::Array(vols)) => {
            if !has_name(vols, VOLUME_NAME, || "/spec/volumes".into())? {
                vols.insert(0, volume.clone());
                patch.push(add("/spec/volumes/0".into(), volume));
            }
        }
        Some(_) => return Err(shape("/spec/volumes", "a list")),
    }
    for key in ["containers", "initContainers"] {
        let list = match spec.get_mut(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(list)) => list,
            Some(_) => return Err(shape(format!("/spec/{key}"), "a list")),
        };
        for (i, c) in list.iter_mut().enumerate() {
            let path = format!("/spec/{key}/{i}");
            let Value::Object(c) = c else {
                return Err(shape(path, "an object"));
            };
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            if options.skip.contains(name) {
                continue;
            }
            patch.extend(container_ops(c, &path, id, s, &token_file)?);
        }
    }
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> Identity {
        Identity {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            audience: "sts.amazonaws.com".into(),
            regional_sts: false,
            token_expiration: 86400,
        }
    }

    #[test]
    fn csv_like_go() {
        let r = |s: &str| csv_first_record(s);
        assert_eq!(r("a,b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(r("a, b"), Some(vec!["a".into(), " b".into()]));
        assert_eq!(r("\"a,b\",c"), Some(vec!["a,b".into(), "c".into()]));
        assert_eq!(r("\"a\"\"b\""), Some(vec!["a\"b".into()]));
        assert_eq!(r("a,"), Some(vec!["a".into(), "".into()]));
        assert_eq!(r("\n\na\r\nb"), Some(vec!["a".into()]));
        assert_eq!(r(""), None);
        assert_eq!(r("a\"b"), None);
        assert_eq!(r("\"a\"b"), None);
        assert_eq!(r("\"open"), None);
    }

    #[test]
    fn paths_like_go_filepath_join() {
        assert_eq!(token_file_path("/var/run/x", false), "/var/run/x/token");
        assert_eq!(token_file_path("/var/run/x/", false), "/var/run/x/token");
        assert_eq!(
            token_file_path("/var//run/./y/../x", false),
            "/var/run/x/token"
        );
        assert_eq!(token_file_path("", false), "token");
        assert_eq!(token_file_path("/..", false), "/token");
        assert_eq!(token_file_path("rel/..", false), "token");
        assert_eq!(
            token_file_path(DEFAULT_MOUNT_PATH, true),
            r"C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token"
        );
    }

    #[test]
    fn identity_from_annotations() {
        let s = Settings {
            sts_regional_endpoint: true,
            ..Settings::default()
        };
        let a = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (format!("eks.amazonaws.com/{k}"), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(Identity::from_annotations(&a(&[]), &s), None);
        assert_eq!(
            Identity::from_annotations(&a(&[("role-arn", "")]), &s),
            None
        );
        let i = Identity::from_annotations(&a(&[("role-arn", "arn:x")]), &s).unwrap();
        assert_eq!(
            (i.audience.as_str(), i.regional_sts, i.token_expiration),
            ("sts.amazonaws.com", true, 86400)
        );
        let i = Identity::from_annotations(
            &a(&[
                ("role-arn", "arn:x"),
                ("audience", "other"),
                ("sts-regional-endpoints", "F"),
                ("token-expiration", "5"),
            ]),
            &s,
        )
        .unwrap();
        assert_eq!(
            (i.audience.as_str(), i.regional_sts, i.token_expiration),
            ("other", false, 600)
        );
        // Unparsable values fall back to the flags.
        let i = Identity::from_annotations(
            &a(&[
                ("role-arn", "arn:x"),
                ("sts-regional-endpoints", "yes"),
                ("token-expiration", "1h"),
            ]),
            &s,
        )
        .unwrap();
        assert_eq!((i.regional_sts, i.token_expiration), (true, 86400));
        // Another prefix is another set of annotations.
        let other = Settings {
            annotation_prefix: "example.com".into(),
            ..Settings::default()
        };
        assert_eq!(
            Identity::from_annotations(&a(&[("role-arn", "arn:x")]), &other),
            None
        );
    }

    #[test]
    fn arn_shape_warning() {
        let mut i = id();
        assert!(i.role_arn_looks_valid());
        i.role_arn = "arn:aws-cn:iam::111122223333:role/path/r@x".into();
        assert!(i.role_arn_looks_valid());
        for bad in [
            "r",
            "arn:aws:iam::1111:role/r",
            "arn:aws:iam::111122223333:user/r",
            "arn:aws:iam::111122223333:role/",
        ] {
            i.role_arn = bad.into();
            assert!(!i.role_arn_looks_valid(), "{bad}");
        }
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let s = Settings::default();
        for (pod, field) in [
            (json!({"spec": {"containers": {}}}), "/spec/containers"),
            (json!({"spec": {"containers": [1]}}), "/spec/containers/0"),
            (
                json!({"spec": {"containers": [{"env": "x"}]}}),
                "/spec/containers/0/env",
            ),
            (
                json!({"spec": {"containers": [{"env": [3]}]}}),
                "/spec/containers/0/env/0",
            ),
            (json!({"spec": {"volumes": 3}}), "/spec/volumes"),
            (json!({"spec": 3}), "/spec"),
            (json!({}), "/spec"),
            (
                json!({"metadata": {"annotations": {"a": 1}}, "spec": {}}),
                "/metadata/annotations/a",
            ),
        ] {
            match mutate(&pod, &id(), &s) {
                Err(PodError::Shape { field: f, .. }) => assert_eq!(f, field, "{pod}"),
                other => panic!("{pod}: {other:?}"),
            }
        }
        assert_eq!(mutate(&json!([]), &id(), &s), Err(PodError::NotObject));
    }

    #[test]
    fn a_mutated_pod_is_not_mutated_again() {
        let s = Settings {
            aws_default_region: "eu-west-1".into(),
            ..Settings::default()
        };
        let mut i = id();
        i.regional_sts = true;
        let pod =
            json!({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "b"}]}});
        let once = mutate(&pod, &i, &s).unwrap();
        assert!(!once.patch.is_empty());
        let twice = mutate(&once.pod, &i, &s).unwrap();
        assert_eq!(twice.patch, vec![]);
        assert_eq!(twice.pod, once.pod);
    }
}
