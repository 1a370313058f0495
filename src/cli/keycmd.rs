//! `irsa-issuer keys ...`: generate a signing key, show key IDs.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde::Serialize;

use super::{print_json, Outcome, OutputFormat};
use irsa_issuer::oidc::keys::{self, Algorithm, KeySpec};
use irsa_issuer::rotation::keydir::write_pair;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a signing key pair: DIR/sa.key (private, 0600) and DIR/sa.pub (public).
    Generate {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The signing algorithm.
        #[arg(long, default_value = "RS256", value_parser = ["RS256", "ES256", "ES384", "ES512"])]
        alg: String,
        /// RSA modulus size.
        #[arg(long, default_value_t = 2048, value_name = "2048|3072|4096")]
        bits: usize,
        /// Replace existing key files. Tokens signed with the old key stop verifying once its
        /// public key is no longer published.
        #[arg(long)]
        force: bool,
    },
    /// Print the key ID kube-apiserver puts in tokens for each key in the files.
    Kid {
        /// PEM files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Serialize)]
struct Generated {
    kid: String,
    alg: Algorithm,
    private_key: String,
    public_key: String,
}

#[derive(Serialize)]
struct KidLine {
    kid: String,
    alg: Algorithm,
    file: String,
    block: usize,
    label: String,
    private: bool,
}

pub(super) fn run(cmd: KeysCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        KeysCommand::Generate {
            out: dir,
            alg,
            bits,
            force,
        } => {
            let alg: Algorithm = alg.parse()?;
            let key = keys::generate(
                KeySpec {
                    alg,
                    rsa_bits: bits,
                },
                &mut rand::rngs::OsRng,
            )?;
            let (private, public) = write_pair(&dir, &key, force)?;
            let g = Generated {
                kid: key.public.kid().to_string(),
                alg,
                private_key: private.display().to_string(),
                public_key: public.display().to_string(),
            };
            match out {
                OutputFormat::Json => print_json(&g)?,
                OutputFormat::Text => {
                    println!("{}", g.kid);
                    eprintln!(
                        "wrote {} (private, 0600) and {} ({alg})",
                        g.private_key, g.public_key
                    );
                }
            }
        }
        KeysCommand::Kid { files } => {
            let mut lines = Vec::new();
            for file in &files {
                let data = std::fs::read(file)
                    .with_context(|| format!("cannot read key file {}", file.display()))?;
                for k in keys::parse_pem(&data, &file.display().to_string())? {
                    lines.push(KidLine {
                        kid: k.key.kid().to_string(),
                        alg: k.key.alg(),
                        file: k.source.file,
                        block: k.source.block,
                        label: k.source.label,
                        private: k.from_private,
                    });
                }
            }
            match out {
                OutputFormat::Json => print_json(&lines)?,
                OutputFormat::Text => {
                    for l in &lines {
                        println!("{}  {}  {}#{} ({})", l.kid, l.alg, l.file, l.block, l.label);
                    }
                }
            }
        }
    }
    Ok(Outcome::Done)
}
