//! `irsa-issuer jwks` and `irsa-issuer discovery`: print the documents.

use clap::Args;

use super::{IssuerArgs, KeyArgs, Outcome};
use irsa_issuer::oidc::documents::{to_json, KeySet};

/// Arguments of `jwks`.
#[derive(Debug, Args)]
pub struct JwksArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

/// Arguments of `discovery`.
#[derive(Debug, Args)]
pub struct DiscoveryArgs {
    #[command(flatten)]
    issuer: IssuerArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

pub(super) fn jwks(a: JwksArgs) -> anyhow::Result<Outcome> {
    let set = KeySet::new(a.keys.load()?)?;
    println!(
        "{}",
        String::from_utf8_lossy(&to_json(&set.jwks(), a.pretty))
    );
    Ok(Outcome::Done)
}

pub(super) fn discovery(a: DiscoveryArgs) -> anyhow::Result<Outcome> {
    let (issuer, jwks_path) = a.issuer.parse()?;
    let set = KeySet::new(a.keys.load()?)?;
    println!(
        "{}",
        String::from_utf8_lossy(&to_json(&set.discovery(&issuer, &jwks_path), a.pretty))
    );
    Ok(Outcome::Done)
}
