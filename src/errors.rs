//! Rendering errors for people and logs.

use std::fmt::Write as _;

/// An error and its causes on one line, `outer: inner: innermost`, without causes that add
/// nothing (empty, or already said above).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    for c in causes(e) {
        let _ = write!(out, ": {c}");
    }
    out
}

/// The causes of `e` worth showing, outermost first: each source's message, except empty
/// ones and those already contained in what comes before.
pub fn causes(e: &dyn std::error::Error) -> Vec<String> {
    let mut said = e.to_string();
    let mut out = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.trim().is_empty() && !said.contains(&text) {
            said.push_str(&text);
            out.push(text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_skip_empty_and_repeated_messages() {
        let e = E(
            "account 1: x failed",
            Some(Box::new(E(
                "x failed",
                Some(Box::new(E("", Some(Box::new(E("reset", None)))))),
            ))),
        );
        assert_eq!(causes(&e), ["reset"]);
        assert_eq!(chain(&e), "account 1: x failed: reset");
    }
}
