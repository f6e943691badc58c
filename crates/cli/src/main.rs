//! The `sextant` binary: parses the command line and configuration, sets up logging, and wires
//! the library crates together. The only place `anyhow` is used.

mod assistant;
mod bench;
mod bench_stream;
mod config;
mod customer;
mod demo;
mod fairness;
mod import;
mod intel;
mod keys;
mod model;
mod outcomes;
mod recommend;
mod replay;
mod secrets;
mod stream;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use std::path::PathBuf;
use std::sync::Arc;

// Imports allocate rows on the parsing thread and free them on the writing thread; glibc's
// allocator handles that cross-thread pattern poorly (measured with `sextant bench import`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Personal, explainable, fair and consented next best actions for retail banking"
)]
struct Cli {
    /// Configuration file (default: ./sextant.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database: a SQLite file path or a postgres:// URL (default: sextant.db).
    #[arg(long, global = true, env = "SEXTANT_DATABASE")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic bank (customers, accounts, transactions, outcomes).
    Generate(demo::GenerateArgs),
    /// Import a file (customers, accounts, transactions, products, messages, events) or a whole
    /// generated bank directory (`bank DIR`).
    Import(import::ImportArgs),
    /// Serve the HTTP API and docs.
    Serve {
        /// Address to listen on (overrides server.bind).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Apply pending database migrations.
    Migrate,
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The feature table.
    #[command(subcommand)]
    Features(intel::FeaturesCommand),
    /// Segments and personas: train, list, promote, show, assign.
    #[command(subcommand)]
    Segment(intel::SegmentCommand),
    /// Predictive models on any CSV: evaluate, train, explain, list, promote (fairness-gated).
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Next best actions: check rules, train collaborative filtering, recommend, bandit arms,
    /// offline evaluation, bandit simulation.
    #[command(subcommand)]
    Recommend(recommend::RecommendCommand),
    /// Data-subject requests: export or erase one customer.
    #[command(subcommand)]
    Customer(customer::CustomerCommand),
    /// Benchmarks (import throughput and memory).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The demo: generate a synthetic bank, import it, create an admin key, serve.
    Demo(demo::DemoArgs),
    /// A NATS JetStream stream worker (no HTTP API): leases its share of the partitions.
    Worker,
    /// Replay the database's transactions as a live event stream to a running server, printing
    /// alerts as they are raised.
    Replay(stream::ReplayArgs),
    /// The event stream: check the complex-event rules.
    #[command(subcommand)]
    Stream(stream::StreamCommand),
    /// The assistant: ask as a customer, evaluate intents and retrieval, score message sentiment.
    #[command(subcommand)]
    Assistant(assistant::AssistantCommand),
    /// The knowledge base: list, get, put, delete, search.
    #[command(subcommand)]
    Kb(assistant::KbCommand),
    /// Experiments over recommendations: create, list, stop, analyze, replay synthetic traffic.
    #[command(subcommand)]
    Experiment(outcomes::ExperimentCommand),
    /// Causal uplift of a campaign that was not randomised (IPW and matching, with balance and
    /// overlap diagnostics).
    Uplift(outcomes::UpliftArgs),
    /// Engagement KPIs overall, by segment or by experiment arm.
    Kpis(outcomes::KpiArgs),
    /// Model and data drift: PSI per feature and score against training, AUC decay.
    Monitor(outcomes::MonitorArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain: any altered, removed or reordered entry is reported.
    Verify,
    /// Fairness metrics by protected attribute, over a CSV or the offers in the database.
    Fairness(fairness::FairnessArgs),
    /// Write entries in a time range as JSON Lines, for a regulator.
    Export {
        /// Start, inclusive (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn init_logging(cfg: &config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> std::process::ExitCode {
    // reqwest is built with rustls and no default crypto provider: every HTTP client (webhooks,
    // the LLM backend, `replay`, the demo) needs this before it is built.
    sextant_outbound::install_tls_provider();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(db) = cli.database {
        cfg.database = db;
    }
    init_logging(&cfg.log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Generate(args) => demo::generate(&args),
            Command::Import(args) => import::run(&cfg, &args).await,
            Command::Serve { bind } => {
                if let Some(b) = bind {
                    cfg.server.bind = b;
                    cfg.validate()?;
                }
                serve(&cfg).await
            }
            Command::Keys(cmd) => keys::run(&cfg, cmd).await,
            Command::Migrate => {
                open(&cfg).await?;
                println!("database {} is up to date", redact(&cfg.database));
                Ok(())
            }
            Command::Audit(AuditCommand::Verify) => audit_verify(&cfg).await,
            Command::Audit(AuditCommand::Export { from, to, out }) => {
                audit_export(&cfg, from.as_deref(), to.as_deref(), out.as_deref()).await
            }
            Command::Audit(AuditCommand::Fairness(args)) => fairness::run(&cfg, &args).await,
            Command::Customer(cmd) => customer::run(&cfg, cmd).await,
            Command::Features(cmd) => intel::features(&cfg, cmd).await,
            Command::Model(cmd) => model::run(&cfg, cmd).await,
            Command::Segment(cmd) => intel::segment(&cfg, cmd).await,
            Command::Recommend(cmd) => recommend::run(&cfg, cmd).await,
            Command::Bench(cmd) => bench::run(&cfg, cmd).await,
            Command::Demo(args) => demo::run(cfg, &args).await,
            Command::Worker => stream::worker(&cfg).await,
            Command::Replay(args) => stream::replay(&cfg, &args).await,
            Command::Stream(cmd) => stream::run(&cfg, cmd).await,
            Command::Assistant(cmd) => assistant::run(&cfg, cmd).await,
            Command::Kb(cmd) => assistant::kb(&cfg, cmd).await,
            Command::Experiment(cmd) => outcomes::experiment(&cfg, cmd).await,
            Command::Uplift(args) => outcomes::uplift(&args),
            Command::Kpis(args) => outcomes::kpis(&cfg, &args).await,
            Command::Monitor(args) => outcomes::monitor(&cfg, &args).await,
        }
    })
}

/// Open the configured store (running migrations), with PII columns encrypted at rest.
pub(crate) async fn open(cfg: &Config) -> anyhow::Result<Arc<dyn sextant_store::Store>> {
    let raw = open_raw(cfg).await?;
    let cipher = secrets::load_cipher(cfg)?;
    Ok(Arc::new(sextant_store::crypt::EncryptedStore::new(
        raw, cipher,
    )))
}

/// The store without the encryption layer (key rotation works on the stored ciphertext).
pub(crate) async fn open_raw(cfg: &Config) -> anyhow::Result<Arc<dyn sextant_store::Store>> {
    sextant_store::open(&cfg.database)
        .await
        .with_context(|| format!("opening database {}", redact(&cfg.database)))
}

/// A database URL fit for logs and messages: the password, if any, replaced.
pub(crate) fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.split_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

pub(crate) async fn serve(cfg: &Config) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.server.bind)
        .await
        .with_context(|| format!("binding {}", cfg.server.bind))?;
    let addr = listener.local_addr()?;
    let backend = store.backend().as_str();
    let master = secrets::load(cfg)?;
    let rules = recommend::rules_text(cfg, None)?;
    // Check the rules against the catalog now, so a bad file stops the start with every error
    // (an empty database is fine: the recommender is built on first use once products exist).
    if store.count(sextant_store::Table::Products).await? > 0 {
        sextant_intelligence::recommend::Recommender::load(store.as_ref(), &rules)
            .await
            .context("next-best-action rules")?;
    }
    let mut state =
        sextant_server::AppState::new(store.clone(), cfg.server.clone(), &master).with_rules(rules);
    if cfg.assistant.enabled {
        state = assistant::attach(cfg, state).await?;
    }
    let running = if cfg.stream.enabled {
        let s = stream::build(cfg, store).await?;
        // First: the state registers its recommender for streamed feedback.
        state = state.with_stream(s.clone());
        let running = stream::Running::start(&s, cfg.stream.worker);
        tracing::info!(
            mode = s.mode(),
            "event stream running (POST /v1/events, GET /v1/alerts/stream)"
        );
        Some(running)
    } else {
        None
    };
    // Announced once everything started (the assistant's model and index take seconds).
    tracing::info!(%addr, backend, "serving");
    println!(
        "Sextant API on http://{addr}  (docs: http://{addr}/docs/, health: http://{addr}/healthz)"
    );
    sextant_server::serve(listener, state, shutdown_signal()).await?;
    if let Some(r) = running {
        r.stop().await;
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

async fn audit_verify(cfg: &Config) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let check = sextant_store::verify_audit_log(store.as_ref()).await?;
    match check.broken {
        None => {
            println!("audit log intact: {} entries", check.entries);
            Ok(())
        }
        Some((seq, why)) => anyhow::bail!("audit log broken at entry {seq}: {why}"),
    }
}

async fn audit_export(
    cfg: &Config,
    from: Option<&str>,
    to: Option<&str>,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let time = |flag: &str, v: Option<&str>, default: i64| -> anyhow::Result<i64> {
        match v {
            None => Ok(default),
            Some(s) => sextant_core::transaction::parse_timestamp(s)
                .map(|t| t.timestamp_micros())
                .map_err(|e| anyhow::anyhow!("--{flag}: {e}")),
        }
    };
    let (from, to) = (time("from", from, i64::MIN)?, time("to", to, i64::MAX)?);
    let store = open(cfg).await?;
    let mut w: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut after = 0;
    let mut n = 0u64;
    loop {
        let page = store.audit_range(from, to, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            serde_json::to_writer(&mut w, e)?;
            writeln!(w)?;
            n += 1;
        }
    }
    w.flush()?;
    eprintln!("exported {n} audit entries");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sextant.db"), "sextant.db");
    }
}
