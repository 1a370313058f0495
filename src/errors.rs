//! Rendering errors for people and logs.

use std::fmt::Write as _;

/// An error and its causes on one line, `outer: inner: innermost`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}
