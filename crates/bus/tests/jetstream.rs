//! Integration tests against the real NATS JetStream server at 127.0.0.1:4222 (`scripts/services.sh`
//! starts it). Each test uses its own stream name and subject prefix and deletes the stream at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sextant_bus::{Bus, BusConfig, BusError, Delivered, Outgoing};

const URL: &str = "nats://127.0.0.1:4222";

/// A configuration with a stream name and prefix no other test (or test run) uses.
fn unique_config(partitions: u32) -> BusConfig {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!(
        "{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    BusConfig {
        url: URL.to_owned(),
        stream: format!("SXT_TEST_{tag}"),
        subject_prefix: format!("sxtest.{tag}"),
        partitions,
        max_age: Duration::from_secs(600),
        duplicate_window: Duration::from_secs(120),
    }
}

async fn delete_stream(cfg: &BusConfig) {
    let client = async_nats::connect(URL).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_stream(&cfg.stream)
        .await
        .unwrap();
}

fn msg(partition: u32, id: &str, payload: &str) -> Outgoing {
    Outgoing {
        partition,
        msg_id: id.to_owned(),
        payload: Bytes::from(payload.to_owned()),
    }
}

/// Fetches until `n` messages arrived (or a fetch comes back empty).
async fn fetch_n(c: &mut sextant_bus::PartitionConsumer, n: usize) -> Vec<Delivered> {
    let mut out = Vec::new();
    while out.len() < n {
        let got = c
            .fetch(n - out.len(), Duration::from_millis(500))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        out.extend(got);
    }
    out
}

fn payloads(d: &[Delivered]) -> Vec<String> {
    d.iter()
        .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn publish_then_consume_keeps_per_partition_order() {
    let cfg = unique_config(3);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    assert_eq!(bus.partitions(), 3);
    // Partitions 0 and 1 interleaved; partition 2 stays empty.
    let msgs: Vec<_> = (0..100)
        .map(|i| msg(i % 2, &format!("e-{i}"), &format!("p{}-{}", i % 2, i / 2)))
        .collect();
    let acks = bus.publish_batch(&msgs).await.unwrap();
    assert_eq!(acks.len(), 100);
    assert!(acks.iter().all(|a| !a.duplicate));
    assert!(acks.windows(2).all(|w| w[0].seq < w[1].seq), "{acks:?}");

    for p in 0..2u32 {
        let mut c = bus.consumer(p, 0).await.unwrap();
        let got = fetch_n(&mut c, 60).await;
        let want: Vec<_> = (0..50).map(|k| format!("p{p}-{k}")).collect();
        assert_eq!(payloads(&got), want);
        let want_seqs: Vec<_> = (0..100)
            .filter(|i| i % 2 == p as usize)
            .map(|i| acks[i].seq)
            .collect();
        let seqs: Vec<_> = got.iter().map(|d| d.stream_seq).collect();
        assert_eq!(seqs, want_seqs);
        let ids: Vec<_> = got.iter().map(|d| d.msg_id.clone().unwrap()).collect();
        let want_ids: Vec<_> = (0..100)
            .filter(|i| i % 2 == p as usize)
            .map(|i| format!("e-{i}"))
            .collect();
        assert_eq!(ids, want_ids);
        assert_eq!(bus.last_seq(p).await.unwrap(), *want_seqs.last().unwrap());
        c.ack_through(*seqs.last().unwrap()).await.unwrap();
    }
    assert_eq!(bus.last_seq(2).await.unwrap(), 0);
    let mut empty = bus.consumer(2, 0).await.unwrap();
    let t = Instant::now();
    assert!(
        empty
            .fetch(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    assert!(matches!(
        bus.last_seq(3).await,
        Err(BusError::Partition {
            partition: 3,
            partitions: 3
        })
    ));
    assert!(matches!(
        bus.publish_batch(&[msg(7, "x", "x")]).await,
        Err(BusError::Partition { partition: 7, .. })
    ));
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn duplicate_msg_id_within_window_is_reported() {
    let cfg = unique_config(2);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    let first = bus
        .publish_batch(&[msg(0, "a", "1"), msg(1, "b", "2")])
        .await
        .unwrap();
    assert!(!first[0].duplicate && !first[1].duplicate);
    let second = bus
        .publish_batch(&[msg(0, "a", "1 again"), msg(0, "c", "3"), msg(0, "c", "3")])
        .await
        .unwrap();
    assert!(second[0].duplicate);
    assert_eq!(second[0].seq, first[0].seq);
    assert!(!second[1].duplicate);
    assert!(second[2].duplicate);
    assert_eq!(second[2].seq, second[1].seq);

    let mut c = bus.consumer(0, 0).await.unwrap();
    assert_eq!(payloads(&fetch_n(&mut c, 10).await), ["1", "3"]);
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn consumer_restarts_exactly_at_the_start_sequence() {
    let cfg = unique_config(2);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    let msgs: Vec<_> = (0..20)
        .map(|i| msg(i % 2, &format!("e-{i}"), &format!("m{i}")))
        .collect();
    let acks = bus.publish_batch(&msgs).await.unwrap();

    let mut c = bus.consumer(0, 0).await.unwrap();
    assert_eq!(fetch_n(&mut c, 10).await.len(), 10);
    drop(c);

    // Restart at the 4th message of partition 0 (m6): everything from there, once, in order.
    let start = acks[6].seq;
    let mut c = bus.consumer(0, start).await.unwrap();
    let got = fetch_n(&mut c, 10).await;
    assert_eq!(
        payloads(&got),
        ["m6", "m8", "m10", "m12", "m14", "m16", "m18"]
    );
    assert!(c.fetch(10, Duration::ZERO).await.unwrap().is_empty());
    drop(c);

    // The same start again after delivery: recreated, so it re-delivers from there.
    let mut c = bus.consumer(0, start).await.unwrap();
    assert_eq!(fetch_n(&mut c, 10).await.len(), 7);
    drop(c);

    // A start that is another partition's sequence begins at the next message of this partition.
    let mut c = bus.consumer(0, acks[7].seq).await.unwrap();
    assert_eq!(payloads(&fetch_n(&mut c, 2).await), ["m8", "m10"]);
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn ack_through_then_a_new_consumer_sees_only_the_rest() {
    let cfg = unique_config(1);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    let msgs: Vec<_> = (0..10)
        .map(|i| msg(0, &format!("e-{i}"), &format!("m{i}")))
        .collect();
    bus.publish_batch(&msgs).await.unwrap();

    let mut c = bus.consumer(0, 0).await.unwrap();
    let got = fetch_n(&mut c, 10).await;
    assert_eq!(got.len(), 10);
    let acked = got[5].stream_seq;
    c.ack_through(acked).await.unwrap();
    // Acking an older or the same sequence again is a no-op.
    c.ack_through(got[2].stream_seq).await.unwrap();
    c.ack_through(acked).await.unwrap();

    // The server's ack floor moved to exactly that message.
    let client = async_nats::connect(URL).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(&cfg.stream)
        .await
        .unwrap();
    let info = stream.consumer_info(c.name()).await.unwrap();
    assert_eq!(info.ack_floor.stream_sequence, acked);
    assert_eq!(info.num_ack_pending, 4);
    drop(c);

    let mut c = bus.consumer(0, acked + 1).await.unwrap();
    assert_eq!(
        payloads(&fetch_n(&mut c, 10).await),
        ["m6", "m7", "m8", "m9"]
    );
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn dead_letters_are_stored_with_their_reason_and_skip_partitions() {
    let cfg = unique_config(1);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    bus.publish_dead_letter("bad json:\nline 1", Bytes::from_static(b"{oops"))
        .await
        .unwrap();
    let client = async_nats::connect(URL).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(&cfg.stream)
        .await
        .unwrap();
    let m = stream
        .get_last_raw_message_by_subject(&cfg.dead_letter_subject())
        .await
        .unwrap();
    assert_eq!(&m.payload[..], b"{oops");
    assert_eq!(
        m.headers.get("Sextant-Reason").unwrap().as_str(),
        "bad json: line 1"
    );
    let mut c = bus.consumer(0, 0).await.unwrap();
    assert!(c.fetch(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(bus.last_seq(0).await.unwrap(), 0);
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn unreachable_server_gives_a_clear_error() {
    let cfg = BusConfig {
        url: "nats://127.0.0.1:1".to_owned(),
        ..unique_config(1)
    };
    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), Bus::connect(cfg))
        .await
        .expect("connect must fail, not hang")
        .unwrap_err();
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot reach NATS at nats://127.0.0.1:1: "),
        "{text}"
    );
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());

    let bad = BusConfig {
        partitions: 0,
        ..BusConfig::default()
    };
    assert!(matches!(
        Bus::connect(bad).await,
        Err(BusError::Config {
            field: "partitions",
            ..
        })
    ));
}

/// 20,000 messages over 4 partitions, consumed by 4 concurrent consumers in large batches with one
/// ack per batch: every message arrives exactly once, in per-partition order. Measures nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_messages_over_four_partitions_arrive_in_order() {
    const N: usize = 20_000;
    const P: u32 = 4;
    let cfg = unique_config(P);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    // Customer c goes to partition c % P; payload "c:k" is customer c's k-th event.
    let msgs: Vec<_> = (0..N)
        .map(|i| {
            let (c, k) = (i % 7, i / 7);
            msg(c as u32 % P, &format!("e-{i}"), &format!("{c}:{k}"))
        })
        .collect();
    let acks = bus.publish_batch(&msgs).await.unwrap();
    assert_eq!(acks.len(), N);
    assert!(acks.iter().all(|a| !a.duplicate));

    let mut tasks = Vec::new();
    for p in 0..P {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = bus.consumer(p, 0).await.unwrap();
            let mut got = Vec::new();
            loop {
                let batch = c.fetch(4096, Duration::from_millis(300)).await.unwrap();
                let Some(last) = batch.last() else { break };
                c.ack_through(last.stream_seq).await.unwrap();
                got.extend(batch);
            }
            (p, got)
        }));
    }
    let mut total = 0;
    for t in tasks {
        let (p, got) = t.await.unwrap();
        total += got.len();
        assert!(got.windows(2).all(|w| w[0].stream_seq < w[1].stream_seq));
        let mut next_k = [0usize; 7];
        for d in &got {
            let text = std::str::from_utf8(&d.payload).unwrap();
            let (c, k) = text.split_once(':').unwrap();
            let (c, k): (usize, usize) = (c.parse().unwrap(), k.parse().unwrap());
            assert_eq!(c as u32 % P, p, "customer {c} delivered on partition {p}");
            assert_eq!(k, next_k[c], "customer {c} out of order on partition {p}");
            next_k[c] += 1;
        }
    }
    assert_eq!(total, N);
    delete_stream(&cfg).await;
}

/// Throughput probe (not a test of correctness): `cargo test -p sextant-bus -- --ignored --nocapture
/// throughput`. Publishes 200,000 small events over 16 partitions (`PROBE_PARTITIONS`), then drains
/// them with one consumer task per partition, `PROBE_FETCH` (4096) messages per fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput probe; run by hand"]
async fn throughput() {
    const N: usize = 200_000;
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let p_count = env("PROBE_PARTITIONS", 16) as u32;
    let fetch_max = env("PROBE_FETCH", 4096);
    let cfg = unique_config(p_count);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    let payload = Bytes::from(
        r#"{"event_id":"e-123456","type":"transaction","customer_id":"4242","timestamp":"2026-03-01T10:00:00Z","transaction_id":"t-1","account_id":"a-1","amount_minor":-1250,"category":"groceries","channel":"card","country":"DE"}"#,
    );
    let msgs: Vec<_> = (0..N)
        .map(|i| Outgoing {
            partition: (i % p_count as usize) as u32,
            msg_id: format!("e-{i}"),
            payload: payload.clone(),
        })
        .collect();
    let t = Instant::now();
    for chunk in msgs.chunks(10_000) {
        bus.publish_batch(chunk).await.unwrap();
    }
    let publish = t.elapsed();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..p_count {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = bus.consumer(p, 0).await.unwrap();
            let mut n = 0;
            loop {
                let batch = c
                    .fetch(fetch_max, Duration::from_millis(200))
                    .await
                    .unwrap();
                let Some(last) = batch.last() else { break };
                c.ack_through(last.stream_seq).await.unwrap();
                n += batch.len();
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let consume = t.elapsed().saturating_sub(Duration::from_millis(200));
    assert_eq!(total, N);
    eprintln!(
        "publish: {N} in {publish:?} = {:.0}/s; consume: {total} in {consume:?} = {:.0}/s",
        N as f64 / publish.as_secs_f64(),
        total as f64 / consume.as_secs_f64()
    );
    delete_stream(&cfg).await;
}

#[tokio::test]
async fn a_waiting_fetch_returns_as_soon_as_a_message_arrives() {
    let cfg = unique_config(1);
    let bus = Bus::connect(cfg.clone()).await.unwrap();
    let mut c = bus.consumer(0, 0).await.unwrap();
    let publisher = bus.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let burst: Vec<_> = (0..3)
            .map(|i| msg(0, &format!("e-{i}"), &format!("m{i}")))
            .collect();
        publisher.publish_batch(&burst).await.unwrap();
    });
    let t = Instant::now();
    let mut got = c.fetch(100, Duration::from_secs(5)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!got.is_empty());
    got.extend(fetch_n(&mut c, 3 - got.len()).await);
    assert_eq!(payloads(&got), ["m0", "m1", "m2"]);
    delete_stream(&cfg).await;
}
