//! Configuration: built-in defaults, then `sextant.toml` (or `--config FILE`), then
//! `SEXTANT__*` environment variables (`SEXTANT__SERVER__BIND=0.0.0.0:8080`), then command-line
//! flags. Validated once at start; a bad value names its setting.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use sextant_server::ServerConfig;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A SQLite file path or a `postgres://` URL.
    pub database: String,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub security: SecurityConfig,
    pub recommend: RecommendConfig,
    pub stream: StreamSettings,
    /// `[assistant]`: conversations, knowledge base, goal plans, the optional language model.
    pub assistant: sextant_conversation::AssistantConfig,
}

/// `[stream]`: the real-time event stream (see docs/events.md).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// Run the event stream in `serve` (ingestion, processing, alerts).
    pub enabled: bool,
    /// The complex-event rules file (TOML; see `config/stream-rules.toml`). Unset: the demo rules
    /// built into the binary.
    pub rules_file: Option<String>,
    /// Set to use NATS JetStream (`nats://host:port`) instead of the embedded log; needs a
    /// PostgreSQL database, which the workers share.
    pub nats_url: Option<String>,
    /// JetStream partitions (subjects `sextant.events.<n>`). Fixed once events have been sent.
    pub partitions: u32,
    /// JetStream stream name.
    pub nats_stream: String,
    /// Subjects are `<prefix>.<partition>`.
    pub nats_subject_prefix: String,
    /// In NATS mode, whether `serve` also runs a worker (`sextant worker` runs one alone).
    pub worker: bool,
    /// Events per processing step.
    pub batch: u32,
    /// Seconds between engine checkpoints.
    pub checkpoint_secs: u64,
    /// Events the processor may fall behind before ingestion answers 503 (back-pressure).
    pub max_lag: i64,
    /// Webhook receivers of every alert.
    pub webhooks: Vec<sextant_pipeline::Webhook>,
    /// Write streamed transactions into the `transactions` table (idempotent by transaction
    /// id) and streamed balances into their accounts. Turn off when the ledger arrives by import
    /// only and events are a copy of it.
    pub ledger: bool,
}

impl Default for StreamSettings {
    fn default() -> Self {
        let d = sextant_pipeline::StreamConfig::default();
        Self {
            enabled: true,
            rules_file: None,
            nats_url: None,
            partitions: d.partitions,
            nats_stream: "SEXTANT_EVENTS".into(),
            nats_subject_prefix: "sextant.events".into(),
            worker: true,
            batch: d.batch,
            checkpoint_secs: d.checkpoint_every.as_secs(),
            max_lag: d.max_lag,
            webhooks: Vec::new(),
            ledger: d.ledger,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendConfig {
    /// The next-best-action rules file (TOML; see `config/rules.toml`). Unset: the demo rules
    /// built into the binary, which fit the synthetic bank's catalog.
    pub rules_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// File holding the 256-bit master key (64 hex characters), created with mode 0600 on
    /// first use if missing. `SEXTANT_MASTER_KEY` (hex) takes precedence over the file.
    pub master_key_file: String,
    /// File holding the key that encrypts PII columns (names, contact details, messages) with
    /// AES-256-GCM; created on first use if missing. `SEXTANT_ENCRYPTION_KEY` takes precedence.
    /// Rotate with `sextant keys rotate-encryption`.
    pub encryption_key_file: String,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            master_key_file: "sextant.key".into(),
            encryption_key_file: "sextant.enc.key".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `sextant=debug,info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: "sextant.db".into(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            security: SecurityConfig::default(),
            recommend: RecommendConfig::default(),
            stream: StreamSettings::default(),
            assistant: Default::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Load from the layers; `file` is `--config`, else `sextant.toml` if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    bail!("configuration file {} does not exist", f.display());
                }
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("sextant.toml")),
        }
        let cfg: Config = fig
            .merge(Env::prefixed("SEXTANT__").split("__"))
            .extract()
            .context("invalid configuration")?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.database.trim().is_empty() {
            bail!("database: must be a SQLite path or a postgres:// URL");
        }
        self.server.validate().map_err(anyhow::Error::msg)?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format: '{}' is not 'text' or 'json'", self.log.format);
        }
        if let Some(f) = &self.recommend.rules_file
            && !std::path::Path::new(f).is_file()
        {
            bail!("recommend.rules_file: '{f}' is not a file");
        }
        let st = &self.stream;
        if let Some(f) = &st.rules_file
            && !std::path::Path::new(f).is_file()
        {
            bail!("stream.rules_file: '{f}' is not a file");
        }
        if let Some(u) = &st.nats_url {
            if !u.starts_with("nats://") {
                bail!("stream.nats_url: '{u}' is not a nats:// URL");
            }
            if !self.database.starts_with("postgres://")
                && !self.database.starts_with("postgresql://")
            {
                bail!(
                    "stream.nats_url: NATS mode needs a postgres:// database (workers share it); database is a SQLite file"
                );
            }
        }
        if !(1..=1024).contains(&st.partitions) {
            bail!(
                "stream.partitions: {} is not between 1 and 1024",
                st.partitions
            );
        }
        if !(1..=100_000).contains(&st.batch) {
            bail!("stream.batch: {} is not between 1 and 100000", st.batch);
        }
        if st.checkpoint_secs == 0 {
            bail!("stream.checkpoint_secs: must be at least 1");
        }
        if st.max_lag < 1 {
            bail!("stream.max_lag: must be at least 1");
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in st.webhooks.iter().enumerate() {
            if w.name.is_empty() || !names.insert(w.name.clone()) {
                bail!("stream.webhooks[{i}].name: empty or used twice");
            }
            if w.secret.len() < 16 {
                bail!("stream.webhooks[{i}].secret: at least 16 characters");
            }
            // Builds the receiver's client: checks the URL and reads the CA file now.
            if let Err(e) = sextant_pipeline::webhook_client(w) {
                bail!("stream.webhooks[{i}]: {e}");
            }
        }
        self.assistant.validate().map_err(anyhow::Error::msg)?;
        if let Some(d) = &self.assistant.kb_dir
            && !d.is_dir()
        {
            bail!("assistant.kb_dir: '{}' is not a folder", d.display());
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .with_context(|| format!("log.level: '{}' is not a valid filter", self.log.level))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_loads_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "database = \"x.db\"\n[server]\nbind = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&path)).unwrap();
        assert_eq!(cfg.database, "x.db");
        assert_eq!(cfg.server.bind, "127.0.0.1:9999");
        assert_eq!(cfg.server.max_batch, ServerConfig::default().max_batch);
        Config::default().validate().unwrap();
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[server]\nbindd = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("bindd"), "{err}");
        std::fs::write(&path, "[log]\nformat = \"xml\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("log.format"), "{err}");
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
        let bad_stream = [
            (
                "[stream]\nnats_url = \"nats://x:4222\"\n",
                "needs a postgres",
            ),
            ("[stream]\npartitions = 0\n", "stream.partitions"),
            (
                "[[stream.webhooks]]\nname = \"a\"\nurl = \"ftp://x\"\nsecret = \"0123456789abcdef\"\n",
                "stream.webhooks[0]: webhook 'a': url: 'ftp://x' is not an http:// or https:// URL",
            ),
            (
                "[[stream.webhooks]]\nname = \"a\"\nurl = \"https://x\"\nsecret = \"0123456789abcdef\"\nca_file = \"/nonexistent/ca.pem\"\n",
                "stream.webhooks[0]: webhook 'a': CA file '/nonexistent/ca.pem'",
            ),
            (
                "[[stream.webhooks]]\nname = \"a\"\nurl = \"http://x\"\nsecret = \"0123456789abcdef\"\nca_file = \"/nonexistent/ca.pem\"\n",
                "ca_file is set but the url is not https://",
            ),
            (
                "[[stream.webhooks]]\nname = \"a\"\nurl = \"http://x\"\nsecret = \"short\"\n",
                "secret",
            ),
        ];
        for (toml, want) in bad_stream {
            std::fs::write(&path, toml).unwrap();
            let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
            assert!(err.contains(want), "{toml}: {err}");
        }
    }
}
