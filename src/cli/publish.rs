//! `irsa-issuer publish`: plan, then write the documents to a store.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::keycmd::required_keys;
use super::{print_json, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use crate::documents::{render, KeySet};
use crate::plan::{publish_objects, ObjectAction, PublishPlan};
use crate::store::{self, dir::DirStore, PublishReport};

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    issuer: IssuerArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Where to publish: a directory (served as the issuer's root by any web server).
    #[arg(long, value_name = "DIR")]
    to: String,
    /// Only print what would be written; exit 0 if nothing, 2 if something would change.
    #[arg(long)]
    plan: bool,
}

#[derive(Serialize)]
struct PublishOutput<'a> {
    issuer: &'a str,
    target: String,
    kids: Vec<String>,
    plan: &'a PublishPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<PublishReport>,
}

pub(super) fn print_plan(plan: &PublishPlan, target: &str) {
    println!("Publish plan for {target}:");
    for step in &plan.steps {
        let (sign, what) = match &step.action {
            ObjectAction::Create => ("+", "create".to_string()),
            ObjectAction::Update { reasons } => ("~", format!("update ({})", reasons.join(", "))),
            ObjectAction::Unchanged => ("=", "unchanged".to_string()),
        };
        println!("  {sign} {:<40} {what}", step.object.key);
    }
}

pub(super) async fn run(a: PublishArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (issuer, jwks_path) = a.issuer.parse()?;
    let set = KeySet::new(required_keys(&a.keys.keys)?)?;
    let docs = render(&set, &issuer, &jwks_path);
    if a.to.contains("://") {
        anyhow::bail!(
            "--to {}: only a local directory is supported as a publish target in this version",
            a.to
        );
    }
    let store = DirStore::new(PathBuf::from(&a.to));
    let target = store::Store::describe(&store);
    let plan = store::plan(&store, publish_objects(&docs, "", None)).await?;
    if out == OutputFormat::Text {
        print_plan(&plan, &target);
    }
    let result = if a.plan || !plan.has_changes() {
        None
    } else {
        Some(store::apply(&store, &plan).await?)
    };
    match out {
        OutputFormat::Json => print_json(&PublishOutput {
            issuer: issuer.as_str(),
            target,
            kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
            plan: &plan,
            result,
        })?,
        OutputFormat::Text => match (&result, plan.has_changes()) {
            (Some(r), _) => println!(
                "Published: {} written, {} unchanged.",
                r.written.len(),
                r.unchanged.len()
            ),
            (None, false) => println!("No changes: the published documents are up to date."),
            (None, true) => println!("Plan only: nothing was written."),
        },
    }
    Ok(if a.plan && plan.has_changes() {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}
