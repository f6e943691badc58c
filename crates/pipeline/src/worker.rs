//! NATS JetStream workers: several `sextant` processes share PostgreSQL and the stream's
//! partitions. Each worker heartbeats, takes `ceil(partitions / live workers)` partitions by
//! PostgreSQL advisory locks (held on one dedicated connection: if the process dies, the
//! connection closes and the locks go with it), and runs one task per partition. A partition task
//! restores its engine from the partition's checkpoint, consumes from the checkpoint's sequence,
//! re-applies without emitting up to the committed offset, then commits each batch's alerts with
//! the offset (compare-and-swap: a worker that lost the partition cannot commit) and only then
//! acknowledges to JetStream. Per-customer order holds because a customer's events share one
//! subject and one partition has one owner.

use crate::Result;
use crate::processor::{
    Body, Checkpointer, Inner, Item, alert_rows, apply_batch, commit, fraud_holds, published,
    restore, retrying, settle,
};
use sextant_store::{LeaseSession, ProcessedBatch};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Owned {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

pub(crate) async fn run_worker(
    inner: Arc<Inner>,
    worker_id: String,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let bus = inner.bus.clone().expect("a worker needs the bus");
    let partitions = bus.partitions();
    let ttl = inner.cfg.worker_ttl;
    let mut session: Option<Box<dyn LeaseSession>> = None;
    let mut owned: BTreeMap<u32, Owned> = BTreeMap::new();
    // Start the scan at a place that differs per worker, so two workers starting together do
    // not contend for the same partitions first.
    let first = sextant_stream::partition_of(&worker_id, partitions);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(worker = %worker_id, partitions, "stream worker started");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        // Reap partition tasks that ended (fenced, or an error): release their lock.
        let ended: Vec<u32> = owned
            .iter()
            .filter(|(_, o)| o.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in ended {
            let o = owned.remove(&p).expect("listed");
            match o.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(partition = p, error = %e, "partition task ended"),
                Err(e) => tracing::error!(partition = p, error = %e, "partition task panicked"),
            }
            inner
                .counters
                .partitions
                .lock()
                .expect("poisoned")
                .remove(&p);
            if let Some(s) = session.as_mut() {
                let _ = s.release(p).await;
            }
        }
        // The lease session: if it is lost, so are our locks — stop everything and start over.
        let healthy = match session.as_mut() {
            Some(s) => s.check().await.is_ok(),
            None => false,
        };
        if !healthy {
            if session.is_some() {
                tracing::warn!(worker = %worker_id, "lease session lost; stopping partitions");
                stop_all(&inner, &mut owned).await;
                session = None;
            }
            match inner.store.stream().lease_session().await {
                Ok(s) => session = Some(s),
                Err(e) => {
                    inner
                        .counters
                        .set_error(Some(format!("lease session: {e}")));
                    continue;
                }
            }
        }
        let s = session.as_mut().expect("set above");
        let now = sextant_store::now_micros();
        let live = match inner
            .store
            .stream()
            .heartbeat(&worker_id, now, ttl.as_micros() as i64)
            .await
        {
            Ok(n) => n.max(1),
            Err(e) => {
                inner.counters.set_error(Some(format!("heartbeat: {e}")));
                continue;
            }
        };
        let target = partitions.div_ceil(live) as usize;
        if owned.len() > target {
            // Hand one partition back per tick, after its task's last commit and checkpoint.
            let p = *owned.keys().next_back().expect("non-empty");
            let o = owned.remove(&p).expect("present");
            let _ = o.stop.send(true);
            let _ = o.task.await;
            inner
                .counters
                .partitions
                .lock()
                .expect("poisoned")
                .remove(&p);
            let _ = s.release(p).await;
            tracing::info!(worker = %worker_id, partition = p, live, "partition released");
        } else if owned.len() < target {
            for k in 0..partitions {
                let p = (first + k) % partitions;
                if owned.contains_key(&p) {
                    continue;
                }
                match s.try_acquire(p).await {
                    Ok(true) => {
                        let (tx, rx) = watch::channel(false);
                        let task = tokio::spawn(run_partition(inner.clone(), p, rx));
                        owned.insert(p, Owned { stop: tx, task });
                        tracing::info!(worker = %worker_id, partition = p, live, "partition acquired");
                        if owned.len() >= target {
                            break;
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        inner.counters.set_error(Some(format!("lease: {e}")));
                        break;
                    }
                }
            }
        }
    }
    stop_all(&inner, &mut owned).await;
    tracing::info!(worker = %worker_id, "stream worker stopped");
    Ok(())
}

async fn stop_all(inner: &Inner, owned: &mut BTreeMap<u32, Owned>) {
    for o in owned.values() {
        let _ = o.stop.send(true);
    }
    for (p, o) in std::mem::take(owned) {
        let _ = o.task.await;
        inner
            .counters
            .partitions
            .lock()
            .expect("poisoned")
            .remove(&p);
    }
}

async fn run_partition(inner: Arc<Inner>, p: u32, stop: watch::Receiver<bool>) -> Result<()> {
    let result = partition_loop(&inner, p, stop).await;
    inner
        .engines
        .lock()
        .expect("poisoned")
        .remove(&format!("nats.p{p}"));
    result
}

async fn partition_loop(inner: &Arc<Inner>, p: u32, stop: watch::Receiver<bool>) -> Result<()> {
    let bus = inner.bus.clone().expect("bus");
    let st = inner.store.stream();
    let source = format!("nats.p{p}");
    let (engine, cp) = retrying(inner, &stop, "restore", || restore(inner, &source)).await?;
    let mut offset = retrying(inner, &stop, "read offset", || async {
        Ok(st.stream_offset(&source).await?)
    })
    .await?;
    let mut consumer = retrying(inner, &stop, "open consumer", || async {
        Ok(bus.consumer(p, (cp + 1) as u64).await?)
    })
    .await?;
    inner
        .counters
        .partitions
        .lock()
        .expect("poisoned")
        .insert(p, offset);
    let mut ckpt = Checkpointer::new(inner, &source, engine.clone(), cp);
    // Unlike the embedded processor, every batch is committed and then acknowledged: deferring
    // offset-only commits (and with them the acknowledgements) made nats-server 2.9 deliver
    // pulls far more slowly (measured with `sextant bench stream --modes nats --events 200000`:
    // 1.4 k events/s deferred vs 45 k events/s per batch).
    loop {
        if *stop.borrow() {
            break;
        }
        // The wait only applies when nothing is available. It is long on purpose: on
        // nats-server 2.9 a pull that expires while its batch is being delivered can be dropped
        // silently, stalling the consumer for the wait plus 5 s (see crates/bus); short waits
        // made that frequent.
        let msgs = match consumer
            .fetch(inner.cfg.batch as usize, Duration::from_secs(1))
            .await
        {
            Ok(m) => m,
            Err(e) => {
                inner.counters.set_error(Some(format!("fetch: {e}")));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if msgs.is_empty() {
            ckpt.maybe(inner, offset, 0).await;
            continue;
        }
        // Which events were applied before, and where: a different (source, seq) means this
        // message is a re-publication of an event already applied — skip it.
        let ids: Vec<String> = msgs
            .iter()
            .filter_map(|m| m.msg_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let seen = retrying(inner, &stop, "dedupe lookup", || async {
            Ok(st.applied_events(&ids).await?)
        })
        .await?;
        let mut fresh: HashSet<&str> = HashSet::new();
        let mut duplicates = 0u64;
        let items: Vec<Item> = msgs
            .iter()
            .map(|m| {
                let seq = m.stream_seq as i64;
                let duplicate = match &m.msg_id {
                    Some(id) => match seen.get(id) {
                        Some((src, s)) => !(src == &source && *s == seq),
                        None => !fresh.insert(id),
                    },
                    None => false,
                };
                if duplicate && seq > offset {
                    duplicates += 1;
                }
                Item {
                    seq,
                    body: Body::Raw(m.payload.to_vec()),
                    replay: seq <= offset,
                    duplicate,
                }
            })
            .collect();
        let last_seq = items.last().expect("non-empty").seq;
        let mut out = apply_batch(&source, &engine, &items, inner.cfg.ledger);
        if last_seq > offset {
            let alerts = settle(inner, &out, &stop).await?;
            let mut pb = ProcessedBatch {
                source: source.clone(),
                expected_offset: offset,
                new_offset: last_seq,
                alerts: alert_rows(&source, &alerts),
                webhooks: inner.cfg.webhooks.iter().map(|w| w.name.clone()).collect(),
                applied: out.applied.clone(),
                holds: fraud_holds(inner, &alerts),
                ..ProcessedBatch::default()
            };
            std::mem::take(&mut out.ledger).into_batch(&mut pb);
            // Fenced (another worker owns the partition now) or stopping: end this task.
            commit(inner, &pb, &stop).await?;
            offset = last_seq;
            inner
                .counters
                .duplicates
                .fetch_add(duplicates, Ordering::Relaxed);
            published(inner, out.count, alerts);
            inner
                .counters
                .partitions
                .lock()
                .expect("poisoned")
                .insert(p, offset);
        }
        // Acknowledge only now that the batch is committed (AckPolicy::All: one ack covers the
        // batch). A failed ack only means redelivery, which the offset turns into a replay.
        if let Err(e) = consumer.ack_through(last_seq as u64).await {
            tracing::warn!(partition = p, error = %e, "ack failed; messages will be redelivered");
        }
        ckpt.maybe(inner, offset, out.count).await;
    }
    ckpt.finish(inner, offset).await?;
    Ok(())
}
