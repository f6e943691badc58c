//! The embedded log's in-memory tail: the events ingestion has just made durable, already parsed,
//! so the processor need not read them back from the store and parse their JSON again.
//!
//! The log stays the source of truth. The SQLite appender reports, in commit order, the seq range
//! each append covered ([`SeqRange`]: every existing event in `(after, upto]` is one of the
//! append's new events). The tail keeps those segments; the processor takes events from the
//! front segment only when that segment starts at or before its offset, so no event of the log
//! can be skipped. Anything else — a gap (a segment not kept because the tail was full), a
//! backend that does not report ranges, a restart — sends the processor back to the log.

use sextant_core::CustomerId;
use sextant_store::{Appended, SeqRange};
use sextant_stream::StreamEvent;
use std::collections::VecDeque;
use std::sync::Arc;

/// Most events held in memory; appends beyond it are read back from the log instead (the
/// processor is far behind then, and back-pressure is near).
pub(crate) const TAIL_CAPACITY: usize = 262_144;

/// An event of the log with its seq.
pub(crate) type Sequenced = (i64, Arc<StreamEvent>);

struct Segment {
    after: i64,
    upto: i64,
    /// (seq, event), seq ascending, all in `(after, upto]`.
    events: VecDeque<(i64, Arc<StreamEvent>)>,
}

/// Segments in commit order.
#[derive(Default)]
pub(crate) struct Tail {
    segments: VecDeque<Segment>,
    events: usize,
}

impl Tail {
    /// Keep one append's new events (in input order, matched with their results). Returns false
    /// when the tail is full and the segment was not kept.
    pub(crate) fn push(
        &mut self,
        range: SeqRange,
        results: &[Appended],
        events: Vec<Arc<StreamEvent>>,
    ) -> bool {
        if self.events + events.len() > TAIL_CAPACITY {
            return false;
        }
        let kept: VecDeque<(i64, Arc<StreamEvent>)> = results
            .iter()
            .zip(events)
            .filter_map(|(r, ev)| match r {
                Appended::New(seq) => Some((*seq, ev)),
                Appended::Duplicate(_) => None,
            })
            .collect();
        debug_assert!(
            kept.iter()
                .all(|(s, _)| *s > range.after && *s <= range.upto)
        );
        self.events += kept.len();
        self.segments.push_back(Segment {
            after: range.after,
            upto: range.upto,
            events: kept,
        });
        true
    }

    /// Up to `limit` events that follow `offset` with nothing of the log in between, and the
    /// offset after them. `None` when the front of the tail does not reach back to `offset`
    /// (read the log instead). Segments wholly at or below `offset` are dropped.
    pub(crate) fn take(&mut self, offset: i64, limit: usize) -> Option<(Vec<Sequenced>, i64)> {
        while self.segments.front().is_some_and(|s| s.upto <= offset) {
            let s = self.segments.pop_front().expect("checked");
            self.events -= s.events.len();
        }
        let mut out = Vec::new();
        let mut at = offset;
        while out.len() < limit {
            let Some(front) = self.segments.front_mut() else {
                break;
            };
            if front.after > at {
                break;
            }
            while let Some((seq, _)) = front.events.front() {
                if *seq > at {
                    break;
                }
                front.events.pop_front();
                self.events -= 1;
            }
            while out.len() < limit {
                let Some(e) = front.events.pop_front() else {
                    break;
                };
                self.events -= 1;
                at = e.0;
                out.push(e);
            }
            if front.events.is_empty() {
                at = at.max(front.upto);
                self.segments.pop_front();
            }
        }
        (at > offset).then_some((out, at))
    }

    /// Drop a customer's events (erasure).
    pub(crate) fn forget(&mut self, id: &CustomerId) {
        for s in &mut self.segments {
            let before = s.events.len();
            s.events.retain(|(_, e)| &e.customer_id != id);
            self.events -= before - s.events.len();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, customer: &str) -> Arc<StreamEvent> {
        let v = serde_json::json!({
            "event_id": id, "type": "login", "customer_id": customer,
            "timestamp": "2026-01-01T00:00:00Z", "channel": "app",
        });
        Arc::new(sextant_stream::parse_event(&v).expect("valid"))
    }

    fn seqs(t: Option<(Vec<Sequenced>, i64)>) -> Option<(Vec<i64>, i64)> {
        t.map(|(v, at)| (v.into_iter().map(|(s, _)| s).collect(), at))
    }

    #[test]
    fn takes_across_segments_and_skips_numbers_duplicates_consumed() {
        let mut t = Tail::default();
        // seqs 1, 2 new; 3 consumed by a duplicate.
        t.push(
            SeqRange { after: 0, upto: 3 },
            &[Appended::New(1), Appended::New(2), Appended::Duplicate(1)],
            vec![ev("a", "c1"), ev("b", "c2"), ev("a", "c1")],
        );
        // An append of duplicates only still moves the range.
        t.push(
            SeqRange { after: 3, upto: 4 },
            &[Appended::Duplicate(2)],
            vec![ev("b", "c2")],
        );
        t.push(
            SeqRange { after: 4, upto: 6 },
            &[Appended::New(5), Appended::New(6)],
            vec![ev("c", "c1"), ev("d", "c3")],
        );
        assert_eq!(t.len(), 4);
        assert_eq!(seqs(t.take(0, 3)), Some((vec![1, 2, 5], 5)));
        assert_eq!(seqs(t.take(5, 10)), Some((vec![6], 6)));
        assert_eq!(t.len(), 0);
        assert_eq!(seqs(t.take(6, 10)), None);
    }

    #[test]
    fn a_gap_sends_the_reader_back_to_the_log() {
        let mut t = Tail::default();
        t.push(
            SeqRange {
                after: 10,
                upto: 12,
            },
            &[Appended::New(11), Appended::New(12)],
            vec![ev("a", "c1"), ev("b", "c2")],
        );
        // The processor is at 8: events 9 and 10 are not in memory.
        assert_eq!(seqs(t.take(8, 10)), None);
        // Having read up to 11 from the log, it takes the rest from memory.
        assert_eq!(seqs(t.take(11, 10)), Some((vec![12], 12)));
        // Segments already passed are dropped.
        t.push(
            SeqRange {
                after: 12,
                upto: 13,
            },
            &[Appended::New(13)],
            vec![ev("c", "c1")],
        );
        assert_eq!(seqs(t.take(20, 10)), None);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn forgetting_a_customer_removes_their_events_and_keeps_the_range() {
        let mut t = Tail::default();
        t.push(
            SeqRange { after: 0, upto: 3 },
            &[Appended::New(1), Appended::New(2), Appended::New(3)],
            vec![ev("a", "c1"), ev("b", "c2"), ev("c", "c1")],
        );
        t.forget(&CustomerId::parse("c1").expect("valid"));
        assert_eq!(t.len(), 1);
        assert_eq!(seqs(t.take(0, 10)), Some((vec![2], 3)));
    }

    #[test]
    fn a_full_tail_keeps_nothing_more() {
        let mut t = Tail {
            events: TAIL_CAPACITY,
            ..Tail::default()
        };
        assert!(!t.push(
            SeqRange { after: 0, upto: 1 },
            &[Appended::New(1)],
            vec![ev("a", "c1")]
        ));
    }
}
