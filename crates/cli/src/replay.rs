//! `sextant recommend evaluate`: offline evaluation by replay. Everything the engine sees is as
//! it was at the cutoff — features computed as of the cutoff, holdings open at the cutoff,
//! feedback before it, collaborative filtering trained on holdings and acceptances known then —
//! and the truth is the set of products each customer accepted after it. The engine is compared
//! with two baselines on the same customers: popularity (most accepted before the cutoff,
//! excluding what the customer holds) and rules only (the same rules and guardrails, without
//! features, models or collaborative filtering). Consents are taken as granted: this measures
//! ranking, not consent. `sextant p` is the engine's own candidates and guardrails ordered by
//! acceptance probability alone (what hit-rate rewards) instead of probability × value.

use crate::config::Config;
use anyhow::{Context, bail};
use sextant_core::{
    Account, AccountStatus, ConsentState, CustomerId, EventKind, ProductFamily, ProductId,
};
use sextant_recommend::{Bandit, CfModel, CustomerContext, Engine, Request, Rules};
use sextant_store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// What was known at this instant is used; what was accepted after it is the truth
    /// (RFC 3339). Default: three months before the last event.
    #[arg(long)]
    cutoff: Option<String>,
    /// Cut-off rank.
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Evaluate at most this many customers (in id order).
    #[arg(long)]
    max_customers: Option<usize>,
    #[arg(long)]
    json: bool,
}

struct Snapshot {
    customer: sextant_core::Customer,
    accounts: Vec<Account>,
    history: Vec<sextant_core::CustomerEvent>,
    features: sextant_features::FeatureVector,
    held: Vec<ProductId>,
    truth: Vec<ProductId>,
}

pub async fn run(store: &dyn Store, cfg: &Config, args: &EvaluateArgs) -> anyhow::Result<()> {
    if !(1..=10).contains(&args.k) {
        bail!("--k: between 1 and 10");
    }
    let catalog = store.list_products().await?;
    let rules = Rules::from_toml(&crate::recommend::rules_text(cfg, None)?, &catalog)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Pass 1: load every customer as of the cutoff.
    let mut snaps = Vec::new();
    let mut after: Option<CustomerId> = None;
    let cutoff = match &args.cutoff {
        Some(c) => chrono::DateTime::parse_from_rfc3339(c)
            .with_context(|| format!("--cutoff: '{c}' is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => default_cutoff(store).await?,
    };
    let day = cutoff.date_naive();
    'outer: loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            if args.max_customers.is_some_and(|m| snaps.len() >= m) {
                break 'outer;
            }
            let all = store.list_accounts(&c.id).await?;
            let mut accounts: Vec<Account> = all
                .into_iter()
                .filter(|a| a.opened_on <= day && a.closed_on.is_none_or(|d| d > day))
                .collect();
            if accounts.is_empty() {
                continue; // not a customer at the cutoff
            }
            for a in &mut accounts {
                a.status = AccountStatus::Open;
                a.closed_on = None;
            }
            let events = store.list_events(&c.id).await?;
            let truth: Vec<ProductId> = events
                .iter()
                .filter(|e| e.kind == EventKind::Accept && e.timestamp > cutoff)
                .filter_map(|e| e.product_id.clone())
                .collect();
            let history: Vec<_> = events
                .into_iter()
                .filter(|e| e.timestamp <= cutoff)
                .collect();
            let transactions: Vec<_> = store
                .all_transactions(&c.id)
                .await?
                .into_iter()
                .filter(|t| t.timestamp <= cutoff)
                .collect();
            let features = sextant_features::compute(&sextant_features::CustomerData {
                customer: &c,
                accounts: &accounts,
                transactions: &transactions,
                as_of: cutoff,
            });
            let mut held: Vec<ProductId> = accounts
                .iter()
                .filter_map(|a| a.product_id.clone())
                .collect();
            held.extend(
                history
                    .iter()
                    .filter(|e| e.kind == EventKind::Accept)
                    .filter_map(|e| e.product_id.clone()),
            );
            held.sort();
            held.dedup();
            snaps.push(Snapshot {
                customer: c,
                accounts,
                history,
                features,
                held,
                truth,
            });
        }
    }
    let evaluated: Vec<&Snapshot> = snaps.iter().filter(|s| !s.truth.is_empty()).collect();
    if evaluated.is_empty() {
        bail!("no customer accepted an offer after {cutoff}: choose an earlier --cutoff");
    }
    // Collaborative filtering and popularity from what was known at the cutoff.
    let rows: Vec<(Vec<ProductId>, Option<String>)> = snaps
        .iter()
        .filter(|s| !s.held.is_empty())
        .map(|s| (s.held.clone(), None))
        .collect();
    let cf = CfModel::train(&rows);
    let mut accepted: HashMap<ProductId, u64> = HashMap::new();
    for s in &snaps {
        for e in s.history.iter().filter(|e| e.kind == EventKind::Accept) {
            if let Some(p) = &e.product_id {
                *accepted.entry(p.clone()).or_default() += 1;
            }
        }
    }
    let families: HashMap<ProductId, ProductFamily> =
        catalog.iter().map(|p| (p.id.clone(), p.family)).collect();
    let offerable: HashSet<ProductId> = catalog
        .iter()
        .filter(|p| rules.product(&p.id).is_some())
        .map(|p| p.id.clone())
        .collect();
    let mut popular: Vec<(ProductId, u64)> = offerable
        .iter()
        .map(|p| (p.clone(), accepted.get(p).copied().unwrap_or(0)))
        .collect();
    popular.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let engine = Engine::new(rules.clone(), catalog.clone(), cf);
    let rules_only = Engine::new(rules.clone(), catalog.clone(), CfModel::train(&[]));
    // The bandit learns from the feedback given before the cutoff, as the served system would
    // have: each past offer's signals (impression, click, accept, dismiss) in time order, with
    // the customer's context and the engine's prior for that product as of the cutoff.
    let mut bandit = Bandit::new(rules.bandit_config());
    let cold = Bandit::new(rules.bandit_config());
    let consents = ConsentState {
        personalization: true,
        marketing: true,
        profiling: true,
        automated_decisions: true,
        data_sharing: false,
        do_not_sell: false,
    };
    let empty_p = Propensities::new();
    let empty_r = ShapReasons::new();
    let req = Request {
        limit: args.k,
        channel: "app".into(),
        strategy: Default::default(),
    };
    let wide = Request {
        limit: 10,
        channel: "app".into(),
        strategy: Default::default(),
    };
    let (mut r_engine, mut r_rules, mut r_pop, mut truth) = (vec![], vec![], vec![], vec![]);
    let mut r_prop = vec![];
    // Everything as known at the cutoff; no segment or model scores in the replay.
    let context_of = |s| replay_context(s, &consents, &empty_p, &empty_r, cutoff);
    let mut warmed = 0u64;
    for s in &snaps {
        if s.history.is_empty() {
            continue;
        }
        let ctx = context_of(s);
        let (x, priors) = engine.priors(&ctx, &cold);
        let mut by_product: BTreeMap<&ProductId, Vec<EventKind>> = BTreeMap::new();
        for e in &s.history {
            if let Some(p) = &e.product_id {
                by_product.entry(p).or_default().push(e.kind);
            }
        }
        for (p, kinds) in by_product {
            let Some((_, prior)) = priors.iter().find(|(q, _)| q == p) else {
                continue;
            };
            for i in 0..kinds.len() {
                bandit.apply_feedback(p.as_str(), &x, *prior, &kinds[..i], kinds[i]);
            }
            warmed += 1;
        }
    }
    for s in &evaluated {
        let ctx = context_of(s);
        r_engine.push(ids(&engine.recommend(&ctx, &bandit, &req)));
        // The same engine and guardrails, ordered by acceptance probability alone (what
        // hit-rate measures) instead of probability × value (what the bank optimises).
        let mut all = engine.recommend(&ctx, &bandit, &wide).recommendations;
        all.sort_by(|a, b| b.propensity.total_cmp(&a.propensity));
        r_prop.push(all.into_iter().take(args.k).map(|r| r.product_id).collect());
        let bare = CustomerContext {
            features: None,
            ..ctx
        };
        r_rules.push(ids(&rules_only.recommend(&bare, &cold, &req)));
        let held_families: HashSet<ProductFamily> = s
            .held
            .iter()
            .filter_map(|p| families.get(p).copied())
            .collect();
        r_pop.push(
            popular
                .iter()
                .filter(|(p, _)| !families.get(p).is_some_and(|f| held_families.contains(f)))
                .take(args.k)
                .map(|(p, _)| p.clone())
                .collect(),
        );
        truth.push(s.truth.clone());
    }
    use sextant_recommend::eval::{hit_rate_at_k, ndcg_at_k};
    let k = args.k;
    let table = [
        ("sextant", &r_engine),
        ("sextant p", &r_prop),
        ("rules only", &r_rules),
        ("popularity", &r_pop),
    ]
    .map(|(name, ranked)| {
        (
            name,
            hit_rate_at_k(ranked, &truth, k),
            ndcg_at_k(ranked, &truth, k),
        )
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "cutoff": cutoff.to_rfc3339(),
                "k": k,
                "customers": snaps.len(),
                "evaluated": evaluated.len(),
                "offers_learned": warmed,
                "results": table.iter().map(|(n, h, g)| serde_json::json!({"ranker": n, "hit_rate": h, "ndcg": g})).collect::<Vec<_>>(),
            }))?
        );
    } else {
        println!(
            "replay at {}: {} customers known, {} accepted an offer afterwards (evaluated); \
             the bandit learned from {} earlier offers",
            cutoff.to_rfc3339(),
            snaps.len(),
            evaluated.len(),
            warmed
        );
        println!(
            "{:<12} {:>12} {:>10}",
            "ranker",
            format!("hit-rate@{k}"),
            format!("NDCG@{k}")
        );
        for (n, h, g) in table {
            println!("{n:<12} {h:>12.3} {g:>10.3}");
        }
    }
    Ok(())
}

type Propensities = BTreeMap<ProductFamily, (f64, String)>;
type ShapReasons = BTreeMap<ProductFamily, Vec<String>>;

fn replay_context<'a>(
    s: &'a Snapshot,
    consents: &'a ConsentState,
    propensity: &'a Propensities,
    shap_reasons: &'a ShapReasons,
    now: chrono::DateTime<chrono::Utc>,
) -> CustomerContext<'a> {
    CustomerContext {
        customer: &s.customer,
        features: Some(&s.features),
        segment: None,
        persona_tags: None,
        holdings: &s.accounts,
        consents,
        history: &s.history,
        propensity,
        shap_reasons,
        now,
        salt: 0,
    }
}

fn ids(o: &sextant_recommend::Outcome) -> Vec<ProductId> {
    o.recommendations
        .iter()
        .map(|r| r.product_id.clone())
        .collect()
}

/// Three months (91 days) before the newest feedback event in the store.
async fn default_cutoff(store: &dyn Store) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let mut newest = None;
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in &page {
            for e in store.list_events(&c.id).await? {
                newest = newest.max(Some(e.timestamp));
            }
        }
    }
    let newest = newest.context("no feedback events in the database: import events first")?;
    Ok(newest - chrono::Duration::days(91))
}
