//! The whole-cluster plan of `apply` and `destroy`, pure: one item per resource, what would
//! happen to it, and the Terraform-style rendering (`+` create, `~` update, `-` delete,
//! unchanged resources counted, not listed).

use std::fmt::Write as _;

use serde::Serialize;

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It will be created.
    Create,
    /// It will be changed in place.
    Update,
    /// It will be deleted.
    Delete,
    /// Nothing to do.
    Unchanged,
    /// Left alone on purpose (e.g. not irsa-issuer's to delete); listed with the reason.
    Skip,
    /// The file asks for it, but irsa-issuer refuses (not its own, or a live key would be
    /// lost); listed with the reason and the fix. A plan with refusals changes nothing.
    Refuse,
}

impl Action {
    fn sign(self) -> &'static str {
        match self {
            Self::Create => "+",
            Self::Update => "~",
            Self::Delete => "-",
            Self::Unchanged => "=",
            Self::Skip | Self::Refuse => "!",
        }
    }
}

/// One resource in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The step it belongs to: keys, bucket, documents, provider, role.
    pub step: &'static str,
    /// The account, for IAM resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// What it is (a path, an object key, an ARN).
    pub resource: String,
    /// What happens to it.
    pub action: Action,
    /// The individual changes, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Policy documents it changes, before and after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentChange>,
}

/// A policy document a change replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentChange {
    /// Which document (`trust policy`, `inline policy NAME`, `bucket policy`).
    pub what: String,
    /// As it is (`null` when there is none).
    pub before: serde_json::Value,
    /// As it will be.
    pub after: serde_json::Value,
}

/// The counts of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub add: usize,
    /// Resources to change.
    pub change: usize,
    /// Resources to delete.
    pub destroy: usize,
    /// Resources already as wanted (or left alone).
    pub unchanged: usize,
    /// Resources irsa-issuer refuses to touch as the file asks.
    #[serde(skip_serializing_if = "is_zero")]
    pub refused: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Whether anything would change.
    pub fn pending(&self) -> bool {
        self.add + self.change + self.destroy > 0
    }
}

/// Counts the items by action.
pub fn summary(items: &[Item]) -> Summary {
    let mut s = Summary::default();
    for i in items {
        match i.action {
            Action::Create => s.add += 1,
            Action::Update => s.change += 1,
            Action::Delete => s.destroy += 1,
            Action::Unchanged | Action::Skip => s.unchanged += 1,
            Action::Refuse => s.refused += 1,
        }
    }
    s
}

/// The plan of a teardown for people: as [`render`], but an empty one says there is nothing to
/// destroy rather than that everything is as configured.
pub fn render_destroy(items: &[Item]) -> String {
    let s = summary(items);
    if s.pending() || s.refused > 0 {
        return render(items);
    }
    let mut out = render_items(items);
    let _ = match s.unchanged {
        0 => writeln!(
            out,
            "Nothing to destroy: none of the file's resources exist."
        ),
        n => writeln!(
            out,
            "Nothing to destroy: {n} resource(s) left alone, as marked above."
        ),
    };
    out
}

/// The plan for people: changed and skipped resources with their details, then the counts.
pub fn render(items: &[Item]) -> String {
    let mut out = render_items(items);
    let s = summary(items);
    if s.refused > 0 {
        let _ = writeln!(
            out,
            "\nRefused: {} resource(s) marked `!` above; nothing will be changed until each is resolved as its `fix` says.",
            s.refused
        );
    }
    if s.pending() {
        let _ = writeln!(
            out,
            "\nPlan: {} to add, {} to change, {} to destroy, {} unchanged.",
            s.add, s.change, s.destroy, s.unchanged
        );
    } else {
        let _ = writeln!(
            out,
            "No changes: {} resource(s) already as configured.",
            s.unchanged
        );
    }
    out
}

fn render_items(items: &[Item]) -> String {
    let mut out = String::new();
    for i in items.iter().filter(|i| i.action != Action::Unchanged) {
        let account = i
            .account
            .as_deref()
            .map(|a| format!(" (account {a})"))
            .unwrap_or_default();
        let refused = if i.action == Action::Refuse {
            "refused: "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} {refused}{} {}{account}",
            i.action.sign(),
            i.step,
            i.resource
        );
        for d in &i.details {
            let _ = writeln!(out, "      {d}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(step: &'static str, resource: &str, action: Action) -> Item {
        Item {
            step,
            account: None,
            resource: resource.into(),
            action,
            details: vec![],
            documents: Vec::new(),
        }
    }

    #[test]
    fn an_empty_teardown_says_nothing_to_destroy() {
        assert_eq!(
            render_destroy(&[]),
            "Nothing to destroy: none of the file's resources exist.\n"
        );
        let kept = item("provider", "p", Action::Skip);
        let text = render_destroy(std::slice::from_ref(&kept));
        assert!(
            text.ends_with("Nothing to destroy: 1 resource(s) left alone, as marked above.\n"),
            "{text}"
        );
        assert!(!text.contains("already as configured"), "{text}");
        let gone = item("role", "r", Action::Delete);
        assert!(render_destroy(&[gone]).contains("Plan: 0 to add, 0 to change, 1 to destroy"));
    }

    #[test]
    fn counts_and_renders_terraform_style() {
        let mut role = item("role", "r", Action::Update);
        role.account = Some("111122223333".into());
        role.details = vec!["+ attach policy P".into()];
        let items = vec![
            item("keys", "k", Action::Create),
            item("documents", "jwks", Action::Unchanged),
            role,
            item("provider", "p", Action::Delete),
            item("provider", "q", Action::Skip),
        ];
        let s = summary(&items);
        assert_eq!((s.add, s.change, s.destroy, s.unchanged), (1, 1, 1, 2));
        let text = render(&items);
        assert!(text.contains("  + keys k\n"), "{text}");
        assert!(
            text.contains("  ~ role r (account 111122223333)\n      + attach policy P\n"),
            "{text}"
        );
        assert!(text.contains("  - provider p\n"), "{text}");
        assert!(text.contains("  ! provider q\n"), "{text}");
        assert!(
            !text.contains("jwks"),
            "unchanged items are only counted: {text}"
        );
        assert!(
            text.ends_with("Plan: 1 to add, 1 to change, 1 to destroy, 2 unchanged.\n"),
            "{text}"
        );
    }

    #[test]
    fn no_changes() {
        let items = vec![item("documents", "jwks", Action::Unchanged)];
        assert!(!summary(&items).pending());
        assert_eq!(
            render(&items),
            "No changes: 1 resource(s) already as configured.\n"
        );
    }
}
