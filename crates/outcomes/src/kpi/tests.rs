//! Tests of the engagement KPIs against values computed by hand (the arithmetic is in comments).

use super::*;
use chrono::TimeZone;
use sextant_core::{CustomerId, EventId};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn engagement_score_matches_hand_computation() {
    let now = at(2024, 6, 15);
    let mut a = CustomerActivity::new("c1", at(2024, 1, 1));
    a.active_days = vec![
        day(2024, 6, 10),
        day(2024, 6, 12),
        day(2024, 6, 12), // duplicate: counts once
        day(2024, 5, 1),  // outside the 30-day window (05-17 ..= 06-15)
        day(2024, 6, 20), // after today: ignored
    ];
    a.feature_uses = BTreeMap::from([
        (Feature::Recommendations, 3),
        (Feature::Insights, 0), // a zero count is not use
        (Feature::Goals, 1),
    ]);
    let s = engagement_score(&a, now);
    // F = ln(1 + 2)/ln 31 = 1.0986123/3.4339872
    close(s.frequency, 0.319_923_233_037_446_2);
    // R = exp(−3/14): last active 06-12, three days before 06-15
    close(s.recency, 0.807_117_747_005_389_3);
    // D = 2 features / 5
    close(s.depth, 0.4);
    // 100 × (0.4·0.3199232 + 0.3·0.8071177 + 0.3·0.4)
    close(s.score, 49.010_461_731_659_525);
    assert_eq!(s.active_days_30d, 2);
    assert_eq!(s.days_since_active, Some(3));
}

#[test]
fn engagement_score_bounds() {
    let now = at(2024, 6, 15);
    let never = CustomerActivity::new("c0", at(2024, 1, 1));
    let s = engagement_score(&never, now);
    assert_eq!(
        (s.score, s.frequency, s.recency, s.depth),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(s.days_since_active, None);

    let mut max = CustomerActivity::new("c9", at(2024, 1, 1));
    max.active_days = (0..30)
        .map(|k| day(2024, 6, 15) - Duration::days(k))
        .collect();
    max.feature_uses = Feature::ALL.iter().map(|f| (*f, 1)).collect();
    let s = engagement_score(&max, now);
    // F = ln 31 / ln 31 = 1, R = exp(0) = 1, D = 5/5 = 1
    close(s.frequency, 1.0);
    close(s.recency, 1.0);
    close(s.score, 100.0);
}

#[test]
fn retention_by_cohort_matches_hand_computation() {
    let now = at(2024, 3, 10);
    let mut a = CustomerActivity::new("a", at(2024, 1, 5));
    a.active_days = vec![day(2024, 1, 5), day(2024, 2, 3), day(2024, 3, 1)];
    let mut b = CustomerActivity::new("b", at(2024, 1, 20));
    b.active_days = vec![day(2024, 1, 20)];
    let mut c = CustomerActivity::new("c", at(2024, 2, 2));
    c.active_days = vec![day(2024, 3, 9), day(2024, 3, 20) /* future */];
    let mut d = CustomerActivity::new("d", at(2023, 12, 31));
    d.active_days = vec![day(2024, 1, 2)];

    let rows = retention_by_cohort(&[a, b, c, d], now, 4);
    let got: Vec<(&str, usize, &[Option<f64>])> = rows
        .iter()
        .map(|r| (r.cohort.as_str(), r.size, r.retained.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![
            // December cohort: Dec 0/1, Jan 1/1, Feb 0/1, Mar 0/1 (across the year boundary)
            (
                "2023-12",
                1,
                &[Some(0.0), Some(1.0), Some(0.0), Some(0.0)][..]
            ),
            // January: Jan 2/2, Feb 1/2 (a), Mar 1/2 (a), Apr not yet
            ("2024-01", 2, &[Some(1.0), Some(0.5), Some(0.5), None][..]),
            // February: Feb 0/1, Mar 1/1 (03-20 is after today but 03-09 counts), Apr, May future
            ("2024-02", 1, &[Some(0.0), Some(1.0), None, None][..]),
        ]
    );
    assert!(retention_by_cohort(&[], now, 4).is_empty());
    assert_eq!(
        retention_by_cohort(&[CustomerActivity::new("x", at(2024, 1, 1))], now, u32::MAX)[0]
            .retained
            .len(),
        MAX_RETENTION_MONTHS as usize
    );
}

#[test]
fn nps_matches_hand_computation() {
    let t = at(2024, 1, 1);
    let answers: Vec<_> = [10, 9, 9, 8, 7, 6, 3, 0, 10, 5]
        .iter()
        .map(|s| (t, *s))
        .collect();
    let n = nps(&answers).unwrap();
    assert_eq!(
        (n.responses, n.promoters, n.passives, n.detractors),
        (10, 4, 2, 4)
    );
    close(n.score, 0.0);
    // var = (0.4 + 0.4 − 0²)/10 = 0.08; 100 × 1.959964 × √0.08 = 55.436153
    close(n.ci95.0, -55.436_152_973_987_106);
    close(n.ci95.1, 55.436_152_973_987_106);

    let skewed: Vec<_> = [10, 10, 9, 6].iter().map(|s| (t, *s)).collect();
    let n = nps(&skewed).unwrap();
    // p_P = 0.75, p_D = 0.25: NPS 50; var = (1 − 0.25)/4 = 0.1875, half-width 0.8486830
    close(n.score, 50.0);
    close(n.ci95.0, -34.868_930_055_712_88);
    close(n.ci95.1, 100.0); // 134.87 clamped

    let all_promoters: Vec<_> = [9, 10].iter().map(|s| (t, *s)).collect();
    let n = nps(&all_promoters).unwrap();
    assert_eq!((n.score, n.ci95), (100.0, (100.0, 100.0)));
}

#[test]
fn nps_rejects_scores_above_ten_and_empty_input() {
    let t = at(2024, 1, 1);
    let err = nps(&[(t, 7), (t, 11)]).unwrap_err();
    assert_eq!(
        err,
        KpiError::NpsOutOfRange {
            index: 1,
            score: 11
        }
    );
    assert_eq!(
        err.to_string(),
        "nps[1]: score 11 is out of range (NPS answers are 0 to 10)"
    );
    assert_eq!(nps(&[]).unwrap_err(), KpiError::NoResponses);
}

#[test]
fn lifetime_value_matches_hand_computation_and_the_series() {
    let l = lifetime_value(1000, 0.2, 0.08).unwrap();
    // c = 1 − 0.8^(1/12) = 0.01842347, d = 1.08^(1/12) − 1 = 0.00643403
    close(l.monthly_churn, 0.018_423_470_126_248_342);
    close(l.monthly_discount, 0.006_434_030_110_003_43);
    // 1000 × 1.00643403 / 0.02485750 = 40488.14
    close(l.multiplier * 1000.0, 40_488.143_238_242_29);
    assert_eq!(l.value_minor, 40_488);
    // The closed form is the sum of the discounted, survival-weighted monthly margins.
    let series: f64 = (0..20_000)
        .map(|t| 1000.0 * ((1.0 - l.monthly_churn) / (1.0 + l.monthly_discount)).powi(t))
        .sum();
    assert!((series - 40_488.143_238_242_29).abs() < 1e-6);

    // p is clamped to 0.01; r = 0 → LTV = m / c with c = 1 − 0.99^(1/12) = 0.000837177
    let l = lifetime_value(1000, 0.0, 0.0).unwrap();
    close(l.annual_churn, 0.01);
    assert_eq!(l.value_minor, 1_194_490);
    close(lifetime_value(10, 1.5, 0.08).unwrap().annual_churn, 0.99);

    assert!(matches!(
        lifetime_value(1000, f64::NAN, 0.08),
        Err(KpiError::InvalidArgument {
            field: "churn_probability_per_year",
            ..
        })
    ));
    let err = lifetime_value(1000, 0.2, -0.1).unwrap_err();
    assert!(
        err.to_string().starts_with("annual_discount_rate: "),
        "{err}"
    );
}

fn grouped_customers(now: DateTime<Utc>) -> Vec<CustomerActivity> {
    let mut x = CustomerActivity::new("x", at(2024, 1, 1));
    x.segment = Some("a".into());
    x.arm = Some("control".into());
    x.active_days = vec![now.date_naive()];
    (x.impressions, x.clicks, x.accepts, x.dismisses) = (10, 2, 1, 3);
    x.nps = vec![(now, 10)];
    x.monthly_margin_minor = 1000;
    x.churn_probability = Some(0.2);

    let mut y = CustomerActivity::new("y", at(2024, 1, 1));
    y.segment = Some("a".into());
    y.arm = Some("treatment".into());
    y.active_days = vec![day(2024, 1, 2)]; // long ago: not active in 30 days
    (y.impressions, y.clicks, y.accepts, y.dismisses) = (30, 3, 3, 0);
    y.nps = vec![(now, 5)];

    let mut z = CustomerActivity::new("z", at(2024, 1, 1));
    z.arm = Some("treatment".into());
    z.monthly_margin_minor = 2500;
    z.churn_probability = Some(0.5);
    vec![x, y, z]
}

#[test]
fn summarize_groups_and_pools_rates() {
    let now = at(2024, 6, 15);
    let people = grouped_customers(now);
    let engagement: Vec<f64> = people
        .iter()
        .map(|a| engagement_score(a, now).score)
        .collect();

    let overall = summarize(&people, now, GroupBy::Overall).unwrap();
    assert_eq!(overall.len(), 1);
    let o = &overall[0];
    assert_eq!((o.group.as_str(), o.customers), ("all", 3));
    close(o.engagement_mean, engagement.iter().sum::<f64>() / 3.0);
    close(o.active_30d_share, 1.0 / 3.0);
    close(o.ctr.unwrap(), 5.0 / 40.0);
    close(o.acceptance_rate.unwrap(), 4.0 / 40.0);
    close(o.dismiss_rate.unwrap(), 3.0 / 40.0);
    // answers 10 and 5: one promoter, one detractor
    assert_eq!(o.nps.unwrap().score, 0.0);
    // (40488.14 → 40488, 2500 × 16.0876 = 40218.93 → 40219) mean 40353.5 → 40354
    assert_eq!(o.ltv_mean_minor, Some(40_354));

    let by_segment = summarize(&people, now, GroupBy::Segment).unwrap();
    let names: Vec<&str> = by_segment.iter().map(|r| r.group.as_str()).collect();
    assert_eq!(names, ["(none)", "a"]);
    let none = &by_segment[0];
    assert_eq!((none.customers, none.ctr, none.nps), (1, None, None));
    assert_eq!(none.ltv_mean_minor, Some(40_219));
    let a = &by_segment[1];
    assert_eq!(a.customers, 2);
    close(a.engagement_mean, (engagement[0] + engagement[1]) / 2.0);
    close(a.ctr.unwrap(), 0.125);
    assert_eq!(a.ltv_mean_minor, Some(40_488)); // y has no churn probability

    let by_arm = summarize(&people, now, GroupBy::Arm).unwrap();
    let names: Vec<(&str, usize)> = by_arm
        .iter()
        .map(|r| (r.group.as_str(), r.customers))
        .collect();
    assert_eq!(names, [("control", 1), ("treatment", 2)]);
    close(by_arm[1].ctr.unwrap(), 0.1); // 3 / 30

    assert!(summarize(&[], now, GroupBy::Overall).unwrap().is_empty());
    let mut bad = people.clone();
    bad[2].nps = vec![(now, 12)];
    assert!(matches!(
        summarize(&bad, now, GroupBy::Overall),
        Err(KpiError::NpsOutOfRange { score: 12, .. })
    ));
}

#[test]
fn engagement_series_counts_weeks_from_monday() {
    let now = at(2024, 6, 12); // a Wednesday
    let mut p = CustomerActivity::new("p", at(2024, 5, 1));
    p.active_days = vec![day(2024, 5, 28), day(2024, 6, 11)];
    let mut q = CustomerActivity::new("q", at(2024, 6, 5));
    q.active_days = vec![day(2024, 6, 5), day(2024, 6, 14) /* after today */];
    let series = engagement_series(&[p, q], now, 3);
    assert_eq!(
        series,
        vec![
            (day(2024, 5, 27), 1.0), // only p existed; active 05-28
            (day(2024, 6, 3), 0.5),  // q active 06-05, p not
            (day(2024, 6, 10), 0.5), // p active 06-11; q's 06-14 has not happened
        ]
    );
    assert_eq!(
        engagement_series(&[], now, 2),
        vec![(day(2024, 6, 3), 0.0), (day(2024, 6, 10), 0.0)]
    );
    assert!(engagement_series(&[], now, 0).is_empty());
}

fn event(
    id: &str,
    customer: &str,
    kind: EventKind,
    ts: DateTime<Utc>,
    value: Option<i32>,
) -> CustomerEvent {
    CustomerEvent {
        id: EventId::parse(id).unwrap(),
        customer_id: CustomerId::parse(customer).unwrap(),
        timestamp: ts,
        kind,
        product_id: None,
        decision_id: None,
        value,
    }
}

#[test]
fn record_events_counts_feedback_and_is_all_or_nothing() {
    let t = at(2024, 6, 1);
    let mut a = CustomerActivity::new("c1", at(2024, 1, 1));
    a.record_events(&[
        event("e1", "c1", EventKind::Impression, at(2024, 5, 30), None),
        event("e2", "c1", EventKind::Impression, t, None),
        event("e3", "c1", EventKind::Click, t, None),
        event("e4", "c1", EventKind::Accept, t, None),
        event("e5", "c1", EventKind::Dismiss, t, None),
        event("e6", "c1", EventKind::Survey, t, Some(9)),
    ])
    .unwrap();
    assert_eq!(
        (a.impressions, a.clicks, a.accepts, a.dismisses),
        (2, 1, 1, 1)
    );
    assert_eq!(a.nps, vec![(t, 9)]);
    // impressions are not the customer's activity; the other events mark 06-01 once
    assert_eq!(a.active_days, vec![day(2024, 6, 1)]);

    let before = a.clone();
    let err = a
        .record_events(&[
            event("e7", "c1", EventKind::Click, t, None),
            event("e8", "c1", EventKind::Survey, t, Some(11)),
        ])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "event e8: survey value 11 is out of range (0 to 10)"
    );
    assert_eq!(a, before, "nothing recorded");
    let err = a
        .record_events(&[event("e9", "c2", EventKind::Click, t, None)])
        .unwrap_err();
    assert_eq!(err.to_string(), "event e9: belongs to customer c2, not c1");
}

#[test]
fn outputs_serialise_for_the_api() {
    let now = at(2024, 6, 15);
    let rows = summarize(&grouped_customers(now), now, GroupBy::Segment).unwrap();
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json[0]["group"], "(none)");
    assert_eq!(json[0]["ctr"], serde_json::Value::Null);
    assert_eq!(json[1]["nps"]["ci95"].as_array().unwrap().len(), 2);
    assert_eq!(
        serde_json::to_value(Feature::Recommendations).unwrap(),
        "recommendations"
    );
    assert_eq!(serde_json::to_value(GroupBy::Arm).unwrap(), "arm");
    let f: Feature = serde_json::from_str("\"goals\"").unwrap();
    assert_eq!(f.as_str(), "goals");
    let a = grouped_customers(now).remove(0);
    let back: CustomerActivity = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
    assert_eq!(back, a);
}
