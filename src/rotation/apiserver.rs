//! kube-apiserver's service-account flags for a key set, as text to paste.

use serde::Serialize;

use crate::oidc::issuer::IssuerUrl;

/// The flags that make kube-apiserver sign with one key, verify with all published keys, and
/// put `issuer` in `iss`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiServerFlags {
    /// `--service-account-issuer`.
    pub service_account_issuer: String,
    /// `--service-account-signing-key-file`.
    pub service_account_signing_key_file: String,
    /// One `--service-account-key-file` per public key kube-apiserver must accept.
    pub service_account_key_files: Vec<String>,
    /// Earlier issuers kube-apiserver keeps accepting tokens of (a migration): more
    /// `--service-account-issuer` flags after the first, which alone signs.
    pub previous_issuers: Vec<String>,
    /// `--api-audiences`, only when asked for: left out, kube-apiserver accepts every
    /// `--service-account-issuer` as an audience of its own API (its default), which keeps
    /// in-cluster tokens of an earlier issuer working during a migration. `sts.amazonaws.com`
    /// never belongs here: the pod-identity webhook asks for it in each projected token.
    pub api_audiences: Vec<String>,
}

impl ApiServerFlags {
    /// Flags for `issuer`, signing with `signing_key_file`, verifying with `key_files`.
    pub fn new(issuer: &IssuerUrl, signing_key_file: &str, key_files: &[String]) -> Self {
        Self {
            service_account_issuer: issuer.as_str().to_string(),
            service_account_signing_key_file: signing_key_file.to_string(),
            service_account_key_files: key_files.to_vec(),
            previous_issuers: Vec::new(),
            api_audiences: Vec::new(),
        }
    }

    /// Also accept tokens of `issuers` (after the first issuer, which signs).
    pub fn with_previous_issuers(mut self, issuers: &[IssuerUrl]) -> Self {
        for i in issuers {
            if i.as_str() != self.service_account_issuer
                && !self.previous_issuers.iter().any(|p| p == i.as_str())
            {
                self.previous_issuers.push(i.as_str().to_string());
            }
        }
        self
    }

    /// Spell out `--api-audiences` as kube-apiserver's default would be: every issuer.
    pub fn with_api_audiences(mut self) -> Self {
        self.api_audiences = std::iter::once(self.service_account_issuer.clone())
            .chain(self.previous_issuers.iter().cloned())
            .collect();
        self
    }

    /// The same as a kubeadm `ClusterConfiguration` (v1beta4, whose `extraArgs` is a list, so
    /// `service-account-key-file` can repeat; v1beta3's map cannot express that). Values are
    /// JSON-quoted, which YAML reads as double-quoted scalars.
    pub fn kubeadm_snippet(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut out = String::from("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n");
        for arg in self.args() {
            let (name, value) = arg
                .trim_start_matches("--")
                .split_once('=')
                .unwrap_or((&arg, ""));
            out.push_str(&format!("  - name: {name}\n    value: {}\n", q(value)));
        }
        out
    }

    /// The same for k3s: `kube-apiserver-arg` entries for /etc/rancher/k3s/config.yaml (k3s
    /// replaces its own default of a flag given there).
    pub fn k3s_snippet(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut out = String::from("kube-apiserver-arg:\n");
        for arg in self.args() {
            out.push_str(&format!("  - {}\n", q(arg.trim_start_matches("--"))));
        }
        out
    }

    /// Adds verification keys that are not in the key directory (e.g. the distribution's own
    /// `sa.pub`, which kube-controller-manager still signs legacy token Secrets with).
    pub fn with_extra_key_files(mut self, files: &[String]) -> Self {
        for f in files {
            if !self.service_account_key_files.contains(f) {
                self.service_account_key_files.push(f.clone());
            }
        }
        self
    }

    /// As command-line arguments, one per element.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec![format!(
            "--service-account-issuer={}",
            self.service_account_issuer
        )];
        v.extend(
            self.previous_issuers
                .iter()
                .map(|i| format!("--service-account-issuer={i}")),
        );
        v.extend(
            self.service_account_key_files
                .iter()
                .map(|f| format!("--service-account-key-file={f}")),
        );
        v.push(format!(
            "--service-account-signing-key-file={}",
            self.service_account_signing_key_file
        ));
        if !self.api_audiences.is_empty() {
            v.push(format!("--api-audiences={}", self.api_audiences.join(",")));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_file_flag_per_key() {
        let i = IssuerUrl::parse("https://oidc.example.com/c", false).unwrap();
        let f = ApiServerFlags::new(
            &i,
            "/pki/sa.key",
            &["/pki/a.pub".into(), "/pki/b.pub".into()],
        );
        assert_eq!(
            f.args(),
            vec![
                "--service-account-issuer=https://oidc.example.com/c",
                "--service-account-key-file=/pki/a.pub",
                "--service-account-key-file=/pki/b.pub",
                "--service-account-signing-key-file=/pki/sa.key",
            ]
        );
        let k = f.kubeadm_snippet();
        assert!(k.starts_with("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n"));
        assert_eq!(k.matches("  - name: service-account-key-file\n").count(), 2);
        assert!(
            k.contains("  - name: service-account-signing-key-file\n    value: \"/pki/sa.key\"\n")
        );
        let k3s = f
            .with_extra_key_files(&["/k3s/service.key".into(), "/pki/a.pub".into()])
            .k3s_snippet();
        assert_eq!(
            k3s,
            "kube-apiserver-arg:\n  - \"service-account-issuer=https://oidc.example.com/c\"\n  - \"service-account-key-file=/pki/a.pub\"\n  - \"service-account-key-file=/pki/b.pub\"\n  - \"service-account-key-file=/k3s/service.key\"\n  - \"service-account-signing-key-file=/pki/sa.key\"\n"
        );
    }

    /// `--api-audiences` pinned to the new issuer alone rejected in-cluster API tokens with the
    /// old issuer's audience during a migration: it is left out (kube-apiserver then accepts
    /// every issuer), or lists every issuer when asked for.
    #[test]
    fn api_audiences_are_left_out_or_list_every_issuer() {
        let new = IssuerUrl::parse("https://new.example.com/c", false).unwrap();
        let old = IssuerUrl::parse("https://old.example.com/c", false).unwrap();
        let f = ApiServerFlags::new(&new, "/k", &["/p".into()]).with_previous_issuers(&[old]);
        assert!(!f.args().iter().any(|a| a.starts_with("--api-audiences")));
        assert_eq!(
            &f.args()[..2],
            [
                "--service-account-issuer=https://new.example.com/c",
                "--service-account-issuer=https://old.example.com/c"
            ]
        );
        assert_eq!(
            f.with_api_audiences().args().last().unwrap(),
            "--api-audiences=https://new.example.com/c,https://old.example.com/c"
        );
    }
}
