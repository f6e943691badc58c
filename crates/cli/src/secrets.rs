//! Loading the master key: `SEXTANT_MASTER_KEY` (hex) or the key file from configuration,
//! created on first use with owner-only permissions. The key's bytes are never printed.

use crate::config::Config;
use anyhow::{Context, bail};
use sextant_core::secrets::{MasterKey, PiiCipher};
use std::path::Path;

pub const ENV: &str = "SEXTANT_MASTER_KEY";

/// The master key (pseudonyms in the audit log).
pub fn load(cfg: &Config) -> anyhow::Result<MasterKey> {
    load_or_create(ENV, Path::new(&cfg.security.master_key_file), "master key")
}

pub const ENCRYPTION_ENV: &str = "SEXTANT_ENCRYPTION_KEY";

/// The PII encryption key, plus the key of an interrupted rotation (`FILE.new`) if one exists.
pub fn load_cipher(cfg: &Config) -> anyhow::Result<PiiCipher> {
    let path = Path::new(&cfg.security.encryption_key_file);
    let key = load_or_create(ENCRYPTION_ENV, path, "encryption key")?;
    let mut cipher = key.cipher();
    let pending = rotation_path(path);
    if std::env::var(ENCRYPTION_ENV).is_err() && pending.exists() {
        cipher = cipher.with_previous(&read(&pending)?);
    }
    Ok(cipher)
}

/// Where a rotation keeps the new key until it has re-encrypted everything.
pub fn rotation_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".new");
    s.into()
}

fn load_or_create(env: &str, path: &Path, what: &str) -> anyhow::Result<MasterKey> {
    if let Ok(hex) = std::env::var(env) {
        return MasterKey::parse_hex(&hex).with_context(|| format!("{env} is not a valid {what}"));
    }
    if path.exists() {
        return read(path);
    }
    let key = random_key()?;
    write_new(path, &key.to_hex())?;
    eprintln!(
        "Created a new {what} in {} (fingerprint {}). Back it up: without it, data protected by it is lost.",
        path.display(),
        key.fingerprint()
    );
    Ok(key)
}

pub fn random_key() -> anyhow::Result<MasterKey> {
    let mut bytes = [0u8; 32];
    getrandom_fill(&mut bytes)?;
    Ok(MasterKey::from_bytes(bytes))
}

pub fn read(path: &Path) -> anyhow::Result<MasterKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "master key file is readable by others");
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading master key {}", path.display()))?;
    MasterKey::parse_hex(&text)
        .with_context(|| format!("{} does not hold a valid master key", path.display()))
}

/// Write a new key file that only the owner can read; never overwrites.
pub fn write_new(path: &Path, hex: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} already exists; not overwriting a key", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    writeln!(f, "{hex}")?;
    f.sync_all()?;
    Ok(())
}

fn getrandom_fill(b: &mut [u8]) -> anyhow::Result<()> {
    use rand::TryRngCore;
    rand::rngs::OsRng
        .try_fill_bytes(b)
        .map_err(|e| anyhow::anyhow!("the OS random number generator failed: {e}"))
}
