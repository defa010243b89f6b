//! `spacenode bundle`: the ground operator's tool for signed upgrade bundles, a thin layer over
//! the `upgrade` crate's builder and verifier. Key holders work apart: each `root sign` or
//! `release sign` adds one signature to the same file, so secret keys never meet on one machine.
//!
//! Avoids: any format or check of its own; everything is the `upgrade` crate's.

mod check;
mod files;
mod make;

use crate::failure::Failure;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Make a key pair: the secret file (mode 0600) and FILE.pub.
    Keygen {
        /// Algorithm: ed25519 or p256
        #[arg(long, default_value = "ed25519")]
        alg: String,
        /// The secret key file to create (the public key goes to FILE.pub)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Root metadata: create version 1, rotate to the next version, add a signature.
    #[command(subcommand)]
    Root(RootCommand),
    /// Release manifests: describe an image, add a release key's signature.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Assemble a bundle: the root chain from version 1, the signed manifest and the image.
    Create {
        /// Root files, version 1 first, each rotation after it
        #[arg(long = "root", value_name = "FILE", required = true)]
        roots: Vec<PathBuf>,
        /// The signed manifest (from `release new` and `release sign`)
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// The image the manifest describes
        #[arg(long, value_name = "FILE")]
        image: PathBuf,
        /// The bundle file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify a bundle with the node-side checks of the `upgrade` crate, printing every check.
    Verify(check::VerifyArgs),
    /// Describe a key, root, manifest or bundle file.
    Inspect {
        /// The file
        file: PathBuf,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RootCommand {
    /// Write root version 1 (unsigned; then each root key holder runs `root sign`).
    Init {
        #[command(flatten)]
        roles: RoleArgs,
        /// The root file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write the next root version: the given roles replace the previous one's (a release key
    /// left out is revoked). It needs the signatures of the previous and of the new root keys.
    Rotate {
        /// The current root file
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        #[command(flatten)]
        roles: RoleArgs,
        /// The root file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add this root key's signature to a root file (in place).
    Sign {
        /// The secret key file
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The root file
        file: PathBuf,
    },
}

/// The keys and thresholds of a root. On `rotate`, a role given none keeps the previous one.
#[derive(Args)]
pub struct RoleArgs {
    /// A root public key (repeat for each)
    #[arg(long = "root-key", value_name = "FILE.pub")]
    root_keys: Vec<PathBuf>,
    /// How many distinct root keys must sign the next root
    #[arg(long)]
    root_threshold: Option<u8>,
    /// A release public key (repeat for each)
    #[arg(long = "release-key", value_name = "FILE.pub")]
    release_keys: Vec<PathBuf>,
    /// How many distinct release keys must sign a manifest
    #[arg(long)]
    release_threshold: Option<u8>,
}

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Write the (unsigned) manifest of an image; each release key holder then runs `release sign`.
    New(make::NewReleaseArgs),
    /// Add this release key's signature to a manifest file (in place).
    Sign {
        /// The secret key file
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The manifest file
        file: PathBuf,
    },
}

pub fn run(command: BundleCommand) -> Result<(), Failure> {
    match command {
        BundleCommand::Keygen { alg, out } => make::keygen(&alg, &out),
        BundleCommand::Root(RootCommand::Init { roles, out }) => make::root_init(&roles, &out),
        BundleCommand::Root(RootCommand::Rotate { from, roles, out }) => {
            make::root_rotate(&from, &roles, &out)
        }
        BundleCommand::Root(RootCommand::Sign { key, file })
        | BundleCommand::Release(ReleaseCommand::Sign { key, file }) => make::sign(&key, &file),
        BundleCommand::Release(ReleaseCommand::New(args)) => make::release_new(&args),
        BundleCommand::Create {
            roots,
            manifest,
            image,
            out,
        } => make::create(&roots, &manifest, &image, &out),
        BundleCommand::Verify(args) => check::verify(&args),
        BundleCommand::Inspect { file, json } => check::inspect(&file, json),
    }
}
