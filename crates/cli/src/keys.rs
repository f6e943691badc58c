//! `sextant keys`: create (the key is printed once), list, revoke.

use crate::config::Config;
use anyhow::bail;
use clap::Subcommand;
use sextant_core::{AuditRecord, CustomerId, Role};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// admin, analyst, reviewer, app or customer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The customer a `customer` key is limited to.
        #[arg(long)]
        customer: Option<String>,
        /// A note for whoever lists keys later (no secrets).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (ids, roles, scopes; never secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
    /// Re-encrypt every PII value under a new encryption key, then make it the current key
    /// (the old key file is kept as FILE.old.<fingerprint> until you destroy it). Run with the
    /// servers stopped; an interrupted rotation resumes when run again.
    RotateEncryption,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.reason)
}

pub async fn run(cfg: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    match cmd {
        KeysCommand::Create {
            role,
            customer,
            label,
        } => {
            let customer = match customer {
                Some(c) => {
                    Some(CustomerId::parse(&c).map_err(|e| anyhow::anyhow!("--customer: {e}"))?)
                }
                None => None,
            };
            if let Some(c) = &customer
                && store.get_customer(c).await?.is_none()
            {
                bail!(
                    "--customer: no customer '{c}' in {}",
                    crate::redact(&cfg.database)
                );
            }
            let key = create(store.as_ref(), role, customer, &label).await?;
            println!("{key}");
            eprintln!("Store this key now: it is not shown again.");
        }
        KeysCommand::List => {
            for k in store.list_api_keys().await? {
                let created =
                    chrono::DateTime::from_timestamp_micros(k.created_at).unwrap_or_default();
                println!(
                    "{}  {:<8}  {:<12}  {}  {}{}",
                    k.id,
                    k.role.as_str(),
                    k.customer_id.as_ref().map(|c| c.as_str()).unwrap_or("-"),
                    created.format("%Y-%m-%d %H:%M"),
                    k.label,
                    if k.revoked_at.is_some() {
                        "  (revoked)"
                    } else {
                        ""
                    }
                );
            }
        }
        KeysCommand::RotateEncryption => rotate_encryption(cfg).await?,
        KeysCommand::Revoke { id } => {
            if !store
                .revoke_api_key(&id, sextant_store::now_micros())
                .await?
            {
                bail!("no live key with id '{id}'");
            }
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "keys.revoke".into(),
                    subject: id.clone(),
                    details: serde_json::json!({}),
                })
                .await?;
            println!("revoked {id} (servers stop accepting it within server.key_cache_ttl_secs)");
        }
    }
    Ok(())
}

/// Create and store a key, audited; returns the plaintext.
pub async fn create(
    store: &dyn sextant_store::Store,
    role: Role,
    customer: Option<CustomerId>,
    label: &str,
) -> anyhow::Result<String> {
    let key = sextant_server::generate_key(role, customer, label)?;
    store.insert_api_key(&key.record).await?;
    store
        .append_audit(AuditRecord {
            actor: "cli".into(),
            action: "keys.create".into(),
            subject: key.record.id.clone(),
            details: serde_json::json!({ "role": role.as_str(), "customer_scoped": key.record.customer_id.is_some() }),
        })
        .await?;
    Ok(key.plaintext)
}

async fn rotate_encryption(cfg: &Config) -> anyhow::Result<()> {
    use crate::secrets;
    use std::path::Path;
    if std::env::var(secrets::ENCRYPTION_ENV).is_ok() {
        bail!(
            "the encryption key comes from {}: rotate it by changing that variable's source; this command rotates key files",
            secrets::ENCRYPTION_ENV
        );
    }
    let path = Path::new(&cfg.security.encryption_key_file);
    if !path.exists() {
        bail!("no encryption key at {}: nothing to rotate", path.display());
    }
    let old = secrets::read(path)?;
    let pending = secrets::rotation_path(path);
    let new = if pending.exists() {
        eprintln!("resuming the interrupted rotation to {}", pending.display());
        secrets::read(&pending)?
    } else {
        let k = secrets::random_key()?;
        secrets::write_new(&pending, &k.to_hex())?;
        k
    };
    let store = crate::open_raw(cfg).await?;
    let from = old.cipher().with_previous(&new);
    let (customers, messages) =
        sextant_store::crypt::rotate(store.as_ref(), &from, &new.cipher()).await?;
    let retired = format!("{}.old.{}", path.display(), old.fingerprint());
    std::fs::rename(path, &retired)?;
    std::fs::rename(&pending, path)?;
    store
        .append_audit(AuditRecord {
            actor: "cli".into(),
            action: "keys.rotate_encryption".into(),
            subject: new.fingerprint(),
            details: serde_json::json!({ "from": old.fingerprint(), "customers": customers, "messages": messages }),
        })
        .await?;
    println!(
        "re-encrypted {customers} customers and {messages} other sealed values (messages, conversation turns and states, review notes, streamed messages, dead letters): key {} replaces {} (kept in {retired}; destroy it once backups no longer need it)",
        new.fingerprint(),
        old.fingerprint()
    );
    Ok(())
}
