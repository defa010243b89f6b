//! The writing subcommands: keygen, root init/rotate/sign, release new/sign, create. Each one
//! builds through `upgrade::builder` (which re-parses its output with the node's parser) and
//! writes one file.

use super::RoleArgs;
use super::files::{self, rejected};
use crate::failure::Failure;
use clap::Args;
use std::path::{Path, PathBuf};
use upgrade::builder::{ManifestSpec, OwnedKey, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Manifest, Root, Version};

pub fn keygen(alg: &str, out: &Path) -> Result<(), Failure> {
    let alg = match alg {
        "ed25519" => Algorithm::Ed25519,
        "p256" => Algorithm::P256,
        other => {
            return Err(Failure::Usage(format!(
                "unknown algorithm {other:?}: use ed25519 or p256"
            )));
        }
    };
    let key = SecretKey::generate(alg).map_err(|e| Failure::Usage(e.to_string()))?;
    let public = key.public();
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    files::write_secret(out, &key.to_file())?;
    files::write(&pub_path, &public.to_file())?;
    println!(
        "{} key {}: secret {} (mode 0600), public {}",
        alg.name(),
        public.id(),
        out.display(),
        pub_path.display()
    );
    Ok(())
}

fn keys(paths: &[PathBuf]) -> Result<Vec<OwnedKey>, Failure> {
    paths.iter().map(|p| files::public_key(p)).collect()
}

/// The roles of `args`, each falling back to `previous`'s when not given.
fn roles(args: &RoleArgs, version: u32, previous: Option<&RootSpec>) -> Result<RootSpec, Failure> {
    let pick = |paths: &[PathBuf],
                threshold: Option<u8>,
                old: Option<(u8, &Vec<OwnedKey>)>,
                role| {
        match (paths.is_empty(), threshold, old) {
            (false, Some(t), _) => Ok((t, keys(paths)?)),
            (true, None, Some((t, k))) => Ok((t, k.clone())),
            (true, Some(t), Some((_, k))) => Ok((t, k.clone())),
            _ => Err(Failure::Usage(format!(
                "give the {role} keys (--{role}-key FILE.pub, repeated) and --{role}-threshold N"
            ))),
        }
    };
    let (root_threshold, root_keys) = pick(
        &args.root_keys,
        args.root_threshold,
        previous.map(|p| (p.root_threshold, &p.root_keys)),
        "root",
    )?;
    let (release_threshold, release_keys) = pick(
        &args.release_keys,
        args.release_threshold,
        previous.map(|p| (p.release_threshold, &p.release_keys)),
        "release",
    )?;
    Ok(RootSpec {
        version,
        root_threshold,
        root_keys,
        release_threshold,
        release_keys,
    })
}

fn write_root(spec: &RootSpec, out: &Path) -> Result<(), Failure> {
    let body = spec.body().map_err(|e| rejected(out, e))?;
    files::write(out, &SignedDoc::new(body).encode())?;
    println!(
        "wrote root version {} to {} ({} of {} root keys, {} of {} release keys): now each root \
         key holder runs `spacenode bundle root sign --key KEY {}`",
        spec.version,
        out.display(),
        spec.root_threshold,
        spec.root_keys.len(),
        spec.release_threshold,
        spec.release_keys.len(),
        out.display()
    );
    Ok(())
}

pub fn root_init(args: &RoleArgs, out: &Path) -> Result<(), Failure> {
    write_root(&roles(args, 1, None)?, out)
}

pub fn root_rotate(from: &Path, args: &RoleArgs, out: &Path) -> Result<(), Failure> {
    let prev = files::signed_doc(from)?;
    let prev = RootSpec::from_body(&prev.body).map_err(|e| rejected(from, e))?;
    let next = roles(args, prev.version + 1, Some(&prev))?;
    for k in &prev.release_keys {
        if !next.release_keys.contains(k) {
            println!(
                "release key {} is revoked by root version {}",
                k.id(),
                next.version
            );
        }
    }
    write_root(&next, out)?;
    println!(
        "root version {} needs {} signature(s) of version {}'s root keys and {} of its own",
        next.version, prev.root_threshold, prev.version, next.root_threshold
    );
    Ok(())
}

pub fn sign(key: &Path, file: &Path) -> Result<(), Failure> {
    let secret = files::secret_key(key)?;
    let mut doc = files::signed_doc(file)?;
    doc.sign(&secret);
    files::write(file, &doc.encode())?;
    let id = secret.public().id();
    let what = match Root::parse(&doc.body) {
        Ok(r) => {
            let listed = r.root.key(&id).is_some();
            format!(
                "root version {} ({}listed among its root keys{})",
                r.version,
                if listed { "" } else { "not " },
                if listed {
                    ""
                } else {
                    "; it counts only as a previous root key"
                }
            )
        }
        Err(_) => match Manifest::parse(&doc.body) {
            Ok(m) => format!("the manifest of version {}", m.version),
            Err(e) => return Err(rejected(file, e)),
        },
    };
    println!(
        "{} signed {what}; {} now has {} signature(s)",
        id,
        file.display(),
        doc.signatures.len()
    );
    Ok(())
}

#[derive(Args)]
pub struct NewReleaseArgs {
    /// The image file
    #[arg(long, value_name = "FILE")]
    image: PathBuf,
    /// Target board id (e.g. sim)
    #[arg(long)]
    board: String,
    /// Target hardware id
    #[arg(long)]
    hardware: String,
    /// Image version, MAJOR.MINOR.PATCH
    #[arg(long)]
    version: String,
    /// Security counter (raise it only for security fixes; the verifier refuses one below the node's)
    #[arg(long)]
    security_counter: u32,
    /// The node monotonic counter value at which the manifest expires
    #[arg(long)]
    expires: u64,
    /// Chunk size in bytes (a power of two, 1024 .. 1048576)
    #[arg(long, default_value_t = 65536)]
    chunk_size: u32,
    /// The version the nodes run now (the release must be newer, within the step bound)
    #[arg(long)]
    node_version: String,
    /// The security counter of the nodes now (the release's must be within the step bound)
    #[arg(long)]
    node_counter: u32,
    /// The manifest file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn version(s: &str) -> Result<Version, Failure> {
    Version::parse(s).ok_or_else(|| {
        Failure::Usage(format!(
            "version {s:?} is not MAJOR.MINOR.PATCH (each 0..65535)"
        ))
    })
}

pub fn release_new(a: &NewReleaseArgs) -> Result<(), Failure> {
    if !a.chunk_size.is_power_of_two() {
        return Err(Failure::Usage(format!(
            "chunk size {} is not a power of two",
            a.chunk_size
        )));
    }
    let spec = ManifestSpec {
        board: a.board.as_bytes().to_vec(),
        hardware: a.hardware.as_bytes().to_vec(),
        version: version(&a.version)?,
        security_counter: a.security_counter,
        expires: a.expires,
        chunk_log2: a.chunk_size.trailing_zeros() as u8,
    };
    spec.check_step(version(&a.node_version)?, a.node_counter)
        .map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    let image = files::read(&a.image)?;
    let body = spec.body(&image).map_err(|e| rejected(&a.image, e))?;
    files::write(&a.out, &SignedDoc::new(body).encode())?;
    println!(
        "wrote the manifest of version {} ({} bytes, {} chunks) to {}: now each release key \
         holder runs `spacenode bundle release sign --key KEY {}`",
        spec.version,
        image.len(),
        image.len().div_ceil(a.chunk_size as usize),
        a.out.display(),
        a.out.display()
    );
    Ok(())
}

pub fn create(roots: &[PathBuf], manifest: &Path, image: &Path, out: &Path) -> Result<(), Failure> {
    let chain = roots
        .iter()
        .map(|p| files::signed_doc(p))
        .collect::<Result<Vec<_>, _>>()?;
    let m = files::signed_doc(manifest)?;
    let img = files::read(image)?;
    let bundle = assemble(&chain, &m, &img).map_err(|e| rejected(out, e))?;
    files::write(out, &bundle)?;
    println!(
        "wrote {} ({} bytes: header {}, image {}); check it with `spacenode bundle verify`",
        out.display(),
        bundle.len(),
        bundle.len() - img.len(),
        img.len()
    );
    Ok(())
}
