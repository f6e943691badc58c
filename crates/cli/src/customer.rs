//! `sextant customer`: data-subject requests from the command line (export, erase).

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sextant_core::{AuditRecord, CustomerId};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CustomerCommand {
    /// Write everything held about a customer as JSON.
    Export {
        id: String,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Spending insights for a customer, now (needs personalization consent).
    Insights {
        id: String,
        /// The full JSON instead of the customer-facing messages.
        #[arg(long)]
        json: bool,
    },
    /// Erase a customer and everything derived from them; the audit log keeps a pseudonym.
    Erase {
        id: String,
        /// Confirm: erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(cfg: &Config, cmd: CustomerCommand) -> anyhow::Result<()> {
    let store = crate::open(cfg).await?;
    let pseudonyms = crate::secrets::load(cfg)?.pseudonymizer();
    let parse = |id: &str| CustomerId::parse(id).map_err(|e| anyhow::anyhow!("customer id: {e}"));
    match cmd {
        CustomerCommand::Export { id, out } => {
            let id = parse(&id)?;
            let Some(data) = sextant_store::dsr::export_customer(
                store.as_ref(),
                &id,
                &cfg.server.consent_defaults,
            )
            .await?
            else {
                bail!("no customer '{id}'");
            };
            let json = serde_json::to_string_pretty(&data)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{json}"),
            }
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "dsr.export".into(),
                    subject: pseudonyms.customer(&id),
                    details: serde_json::json!({ "transactions": data.transactions.len() }),
                })
                .await?;
        }
        CustomerCommand::Insights { id, json } => {
            let id = parse(&id)?;
            let policy = sextant_intelligence::Policy {
                consent_defaults: cfg.server.consent_defaults.clone(),
            };
            let insights = sextant_intelligence::customer_insights(
                store.as_ref(),
                &id,
                &policy,
                chrono::Utc::now(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&insights)?);
            } else {
                for m in &insights.messages {
                    println!("- {m}");
                }
            }
        }
        CustomerCommand::Erase { id, yes } => {
            let id = parse(&id)?;
            if !yes {
                bail!("erasing customer '{id}' cannot be undone: add --yes to confirm");
            }
            let erased = sextant_intelligence::unlearn::erase_customer(store.as_ref(), &id).await?;
            // NATS mode: the customer's raw events retained by the JetStream stream go too (also
            // when the store no longer knows the customer: a retry finishes an interrupted erasure).
            let mut stream_deleted = None;
            if cfg.stream.nats_url.is_some() {
                let stream = crate::stream::build(cfg, store.clone()).await?;
                stream_deleted = stream.erase(&id).await?;
            }
            if erased.is_none() && stream_deleted.unwrap_or(0) == 0 {
                bail!("no customer '{id}'")
            }
            let erased = erased.unwrap_or_default();
            let mut deleted = erased.deleted;
            if let Some(n) = stream_deleted {
                deleted.insert("stream_messages".into(), n);
            }
            let tombstone = pseudonyms.customer(&id);
            store
                .append_audit(AuditRecord {
                    actor: "cli".into(),
                    action: "dsr.erase".into(),
                    subject: tombstone.clone(),
                    details: serde_json::json!({
                        "deleted": deleted,
                        "unlearned_decisions": erased.unlearned_decisions,
                        "unlearned_assignments": erased.unlearned_assignments,
                        "not_unlearned": erased.not_unlearned,
                    }),
                })
                .await?;
            let total: u64 = deleted.values().sum();
            println!(
                "erased customer {id}: {total} rows deleted; {} decisions and {} experiment assignments unlearned from the bandits ({} could not be); the audit log keeps {tombstone}",
                erased.unlearned_decisions, erased.unlearned_assignments, erased.not_unlearned
            );
        }
    }
    Ok(())
}
