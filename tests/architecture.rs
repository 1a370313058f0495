//! The layout rule, checked on the sources: each room's `mod.rs` (and `lib.rs` for the top
//! level) lists its files as `Pure:` or `I/O:`, every file is listed, and a pure file never
//! reaches an I/O module of the crate nor an I/O facility (network, filesystem, clock, OS
//! randomness, the async runtime, the AWS SDK). Test code (`#[cfg(test)]`) is not checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Pure or I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pure,
    Io,
}

/// One room: its classified children (files and sub-folders, `mod` for the room's own file).
#[derive(Debug, Default)]
struct Room {
    children: BTreeMap<String, Kind>,
}

/// What a pure file must not mention, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "the async runtime"),
    ("aws_sdk_", "the AWS SDK"),
    ("aws_config", "the AWS SDK"),
    ("aws_smithy", "the AWS SDK"),
    ("reqwest", "the network"),
    ("hyper", "the network"),
    ("axum", "the network"),
    ("tower", "the network"),
    ("rustls", "the network"),
    ("std::fs", "the filesystem"),
    ("std::net::Tcp", "the network"),
    ("std::process", "processes"),
    ("std::env", "the environment"),
    ("SystemTime::now", "the clock"),
    ("Instant::now", "the clock"),
    ("OsRng", "OS randomness"),
    ("thread_rng", "OS randomness"),
];

fn names_after(comment: &str, label: &str) -> Option<Vec<String>> {
    let line = comment
        .lines()
        .find_map(|l| l.trim_start_matches("//!").trim().strip_prefix(label))?;
    Some(
        line.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Reads the `Pure:` and `I/O:` lines of a room's opening comment.
fn parse_room(opening: &str) -> Result<Room, String> {
    let comment: String = opening
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let pure = names_after(&comment, "Pure:").ok_or("no `//! Pure:` line")?;
    let io = names_after(&comment, "I/O:").ok_or("no `//! I/O:` line")?;
    let mut room = Room::default();
    for (names, kind) in [(pure, Kind::Pure), (io, Kind::Io)] {
        for n in names {
            if room.children.insert(n.clone(), kind).is_some() {
                return Err(format!("`{n}` is listed twice"));
            }
        }
    }
    Ok(room)
}

/// The code of a file without its test module and comments (doc links are not imports).
fn without_tests(text: &str) -> String {
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Crate-internal module paths a file mentions, as segments after `crate::` (or after
/// `super::`, resolved against `room`).
fn crate_paths(code: &str, room: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", None), ("super::", Some(room))] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let token = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("");
            let grouped = rest[token.len()..].starts_with('{');
            let segs: Vec<String> = token
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut path: Vec<String> = base
                .filter(|b| !b.is_empty())
                .map(|b| b.split("::").map(str::to_string).collect())
                .unwrap_or_default();
            path.extend(segs);
            if grouped {
                // `prefix::{a, b::C, self}`: one path per member (its first segment).
                let group = &rest[token.len() + 1..];
                let mut depth = 1;
                let end = group
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '{' => 1,
                            '}' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map_or(group.len(), |(i, _)| i);
                for member in group[..end].split(',') {
                    let first = member.trim().split("::").next().unwrap_or("").trim();
                    let first = first.split_whitespace().next().unwrap_or("");
                    let mut p = path.clone();
                    if !first.is_empty() && first != "self" && !first.starts_with('{') {
                        p.push(first.to_string());
                    }
                    out.push(p);
                }
                continue;
            }
            out.push(path);
        }
    }
    out
}

/// The classification of a crate path: the deepest module it names, or the room's own file.
fn classify(rooms: &BTreeMap<String, Room>, path: &[String]) -> Option<(String, Kind)> {
    let mut room_key = String::new();
    let mut found = None;
    for seg in path {
        let room = rooms.get(&room_key)?;
        match room.children.get(seg.as_str()) {
            Some(&kind) => {
                let name = if room_key.is_empty() {
                    seg.clone()
                } else {
                    format!("{room_key}::{seg}")
                };
                found = Some((name.clone(), kind));
                if kind == Kind::Io || !rooms.contains_key(&name) {
                    return found;
                }
                room_key = name;
            }
            None => {
                return room
                    .children
                    .get("mod")
                    .map(|&k| (format!("{room_key}::mod"), k))
                    .or(found);
            }
        }
    }
    found
}

/// The violations of one pure file.
fn violations(rooms: &BTreeMap<String, Room>, room: &str, file: &str, text: &str) -> Vec<String> {
    let code = &without_tests(text);
    let mut out = Vec::new();
    for (needle, what) in FORBIDDEN {
        if code.contains(needle) {
            out.push(format!("{file} is pure but uses `{needle}` ({what})"));
        }
    }
    for path in crate_paths(code, room) {
        if let Some((name, Kind::Io)) = classify(rooms, &path) {
            out.push(format!(
                "{file} is pure but reaches `{name}`, which does I/O (via `{}`)",
                path.join("::")
            ));
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every room of the library (`""` is the top level), read from the sources.
fn load_rooms() -> Result<BTreeMap<String, Room>, String> {
    let mut rooms = BTreeMap::new();
    let lib = std::fs::read_to_string(src().join("lib.rs")).map_err(|e| e.to_string())?;
    let mut top = parse_room(&lib).map_err(|e| format!("src/lib.rs: {e}"))?;
    let mut stack = Vec::new();
    for entry in std::fs::read_dir(src()).map_err(|e| e.to_string())? {
        let p = entry.map_err(|e| e.to_string())?.path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() && name != "cli" {
            stack.push((name.clone(), p));
            top.children.entry(name).or_insert(Kind::Pure);
        }
    }
    rooms.insert(String::new(), top);
    while let Some((key, dir)) = stack.pop() {
        let text = std::fs::read_to_string(dir.join("mod.rs")).map_err(|e| e.to_string())?;
        let room = parse_room(&text).map_err(|e| format!("{}/mod.rs: {e}", dir.display()))?;
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let p = entry.map_err(|e| e.to_string())?.path();
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            if p.is_dir() && room.children.get(&name) == Some(&Kind::Pure) {
                stack.push((format!("{key}::{name}"), p));
            }
        }
        rooms.insert(key, room);
    }
    Ok(rooms)
}

#[test]
fn every_file_is_classified_and_pure_files_do_no_io() {
    let rooms = load_rooms().unwrap();
    let mut problems = Vec::new();
    for (key, room) in &rooms {
        let dir = if key.is_empty() {
            src()
        } else {
            src().join(key.replace("::", "/"))
        };
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let name = if stem == "mod" {
                "mod".to_string()
            } else {
                stem
            };
            if key.is_empty() && ["lib", "main", "cli"].contains(&name.as_str()) {
                continue;
            }
            if name == "mod" && !room.children.contains_key("mod") {
                continue;
            }
            let Some(&kind) = room.children.get(&name) else {
                problems.push(format!(
                    "{} is not listed as Pure or I/O in its room's opening comment",
                    p.display()
                ));
                continue;
            };
            if kind == Kind::Pure && p.is_file() {
                let text = std::fs::read_to_string(&p).unwrap();
                problems.extend(violations(&rooms, key, &p.display().to_string(), &text));
            }
        }
        for name in room.children.keys() {
            let exists =
                name == "mod" || dir.join(format!("{name}.rs")).exists() || dir.join(name).is_dir();
            if !exists {
                problems.push(format!(
                    "{}: lists `{name}`, which does not exist",
                    dir.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The rule must have something to check: the pure core is not empty.
    let pure_files = rooms
        .values()
        .flat_map(|r| r.children.values())
        .filter(|k| **k == Kind::Pure)
        .count();
    assert!(pure_files >= 15, "only {pure_files} pure modules found");
}

#[test]
fn a_planted_import_of_an_adapter_is_caught() {
    let rooms = load_rooms().unwrap();
    let cases = [
        ("use crate::aws::sdk::AwsContext;", "aws::sdk"),
        ("use crate::rotation::keydir::KeyDir;", "rotation::keydir"),
        (
            "let s = crate::publish::dir::DirStore::new(p);",
            "publish::dir",
        ),
        ("use crate::publish::Store;", "publish::mod"),
        ("use crate::verify::fetch::Fetcher;", "verify::fetch"),
        ("use crate::fsutil;", "fsutil"),
        ("let t = std::time::SystemTime::now();", "the clock"),
        (
            "let k = generate(spec, &mut rand::rngs::OsRng);",
            "OS randomness",
        ),
        ("use crate::reconcile::{plan, read};", "reconcile::read"),
        ("use crate::aws::{names, sdk::Caller};", "aws::sdk"),
    ];
    for (line, want) in cases {
        let text = format!("//! a pure module\n{line}\n");
        let found = violations(&rooms, "aws", "planted.rs", &text);
        assert!(
            found.iter().any(|v| v.contains(want)),
            "`{line}` was not caught: {found:?}"
        );
    }
    // What a pure module may use passes.
    let fine = "use crate::oidc::issuer::IssuerUrl;\nuse super::names::Partition;\nuse crate::publish::objects::DesiredObject;\nuse crate::reconcile::plan::Plan;\n#[cfg(test)]\nmod tests { use std::fs; }\n";
    assert_eq!(
        violations(&rooms, "aws", "fine.rs", fine),
        Vec::<String>::new()
    );
}
