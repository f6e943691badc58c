//! Tests of channel choice: each eligibility rule, the score's factors, ties and determinism.

use super::*;
use ContactChannel::*;
use chrono::NaiveDate;

fn time(h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 6, 11)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// An afternoon offer to a consenting customer reachable everywhere, with no history.
fn ctx() -> ChannelContext {
    ChannelContext {
        now_local: time(14, 0),
        reachable: BTreeSet::from([AppPush, Email, Sms, AdvisorCall]),
        marketing_consent: true,
        is_marketing: true,
        preferred: vec![],
        opted_out: BTreeSet::new(),
        history: BTreeMap::new(),
        urgency: Urgency::Normal,
        high_value: false,
    }
}

fn verdict(c: &ChannelChoice, ch: ContactChannel) -> &ChannelVerdict {
    c.considered.iter().find(|v| v.channel == ch).unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

fn stats(sent_7d: u32, sent_30d: u32, acted_30d: u32) -> ChannelStats {
    ChannelStats {
        sent_7d,
        sent_30d,
        opened_30d: acted_30d,
        acted_30d,
    }
}

#[test]
fn priors_decide_without_history() {
    let c = choose(&ctx(), &ChannelPolicy::default());
    // in-app 0.08 > push 0.05 > SMS 0.04 > email 0.03; the call is not a high-value matter
    assert_eq!(c.channel, Some(InApp));
    close(c.score, 0.08);
    close(verdict(&c, AppPush).score.unwrap(), 0.05);
    close(verdict(&c, Email).score.unwrap(), 0.03);
    close(verdict(&c, Sms).score.unwrap(), 0.04);
    assert!(!verdict(&c, AdvisorCall).eligible);
    assert_eq!(
        c.reason,
        "in-app message: little recent history (0 sent in 30 days), typical response rate 8%; \
         advisor call skipped: advisor calls are only for high-value or urgent matters"
    );
    let order: Vec<ContactChannel> = c.considered.iter().map(|v| v.channel).collect();
    assert_eq!(order, ContactChannel::ALL);
}

#[test]
fn unreachable_channels_are_skipped() {
    let mut x = ctx();
    x.reachable = BTreeSet::from([Email]);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, Some(Email));
    assert_eq!(
        verdict(&c, AppPush).reason,
        "not reachable (the app is not installed)"
    );
    assert_eq!(
        verdict(&c, InApp).reason,
        "not reachable (the app is not installed)"
    );
    assert_eq!(
        verdict(&c, Sms).reason,
        "not reachable (no phone number on file)"
    );

    // having the app for push means in-app works too
    x.reachable = BTreeSet::from([AppPush]);
    assert!(verdict(&choose(&x, &ChannelPolicy::default()), InApp).eligible);
    x.reachable = BTreeSet::from([InApp]);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(
        (verdict(&c, InApp).eligible, verdict(&c, AppPush).eligible),
        (true, false)
    );
}

#[test]
fn opted_out_channels_are_skipped() {
    let mut x = ctx();
    x.opted_out = BTreeSet::from([InApp]);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, Some(AppPush));
    assert_eq!(verdict(&c, InApp).reason, "the customer opted out of it");
}

#[test]
fn offers_need_marketing_consent_except_in_app() {
    let mut x = ctx();
    x.marketing_consent = false;
    let c = choose(&x, &ChannelPolicy::default());
    for ch in [AppPush, Email, Sms, AdvisorCall] {
        assert_eq!(
            verdict(&c, ch).reason,
            "an offer needs marketing consent, which the customer has not given"
        );
    }
    assert_eq!(c.channel, Some(InApp));

    // a service message needs no marketing consent
    x.is_marketing = false;
    x.opted_out = BTreeSet::from([InApp]);
    assert_eq!(choose(&x, &ChannelPolicy::default()).channel, Some(AppPush));
}

#[test]
fn quiet_hours_hold_interruptive_channels() {
    let mut x = ctx();
    x.now_local = time(22, 10);
    x.opted_out = BTreeSet::from([InApp]);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(verdict(&c, AppPush).reason, "quiet hours (22:10)");
    assert_eq!(verdict(&c, Sms).reason, "quiet hours (22:10)");
    assert!(verdict(&c, Email).eligible, "email does not interrupt");
    assert_eq!(c.channel, Some(Email));

    // an urgent service message (a fraud alert) goes out at night …
    x.is_marketing = false;
    x.urgency = Urgency::High;
    x.reachable.remove(&AdvisorCall);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, Some(AppPush));
    // … an urgent offer does not
    x.is_marketing = true;
    assert!(!verdict(&choose(&x, &ChannelPolicy::default()), AppPush).eligible);

    let p = ChannelPolicy::default();
    assert!(p.is_quiet(time(21, 0)) && p.is_quiet(time(0, 30)) && p.is_quiet(time(7, 59)));
    assert!(!p.is_quiet(time(8, 0)) && !p.is_quiet(time(20, 59)));
    let same = ChannelPolicy {
        quiet_start_hour: 5,
        quiet_end_hour: 5,
        ..p.clone()
    };
    assert!(!same.is_quiet(time(5, 0)));
    let day = ChannelPolicy {
        quiet_start_hour: 1,
        quiet_end_hour: 6,
        ..p
    };
    assert!(day.is_quiet(time(1, 0)) && !day.is_quiet(time(6, 0)) && !day.is_quiet(time(23, 0)));
}

#[test]
fn frequency_caps_hold_a_channel() {
    let mut x = ctx();
    x.opted_out = BTreeSet::from([InApp]);
    x.history.insert(AppPush, stats(3, 3, 0));
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(
        verdict(&c, AppPush).reason,
        "frequency cap reached (3 sent in 7 days, at most 3)"
    );
    assert_eq!(c.channel, Some(Sms));
    x.history.insert(AppPush, stats(2, 3, 0));
    assert!(verdict(&choose(&x, &ChannelPolicy::default()), AppPush).eligible);

    // a cap of 0 from configuration turns a channel off; unlisted channels keep their default
    let p: ChannelPolicy = serde_json::from_str(r#"{"max_per_7d": {"sms": 0}}"#).unwrap();
    assert_eq!(
        (p.cap_7d(Sms), p.cap_7d(Email), p.cap_7d(InApp)),
        (0, 2, 20)
    );
    let c = choose(&ctx(), &p);
    assert_eq!(
        verdict(&c, Sms).reason,
        "frequency cap reached (0 sent in 7 days, at most 0)"
    );
}

#[test]
fn advisor_calls_only_for_high_value_or_urgent_matters() {
    let mut x = ctx();
    let c = choose(&x, &ChannelPolicy::default());
    assert!(!verdict(&c, AdvisorCall).eligible);
    x.high_value = true;
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, Some(AdvisorCall)); // prior 0.15
    assert!(c.reason.starts_with("advisor call: little recent history"));
    assert!(c.reason.contains("a high-value matter"), "{}", c.reason);
    x.high_value = false;
    x.urgency = Urgency::High;
    assert!(verdict(&choose(&x, &ChannelPolicy::default()), AdvisorCall).eligible);
}

#[test]
fn the_first_broken_rule_is_the_reason() {
    let mut x = ctx();
    x.reachable.remove(&Sms);
    x.opted_out = BTreeSet::from([Sms, Email]);
    x.marketing_consent = false;
    x.now_local = time(23, 5);
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(
        verdict(&c, Sms).reason,
        "not reachable (no phone number on file)"
    );
    assert_eq!(verdict(&c, Email).reason, "the customer opted out of it");
    assert_eq!(
        verdict(&c, AppPush).reason,
        "an offer needs marketing consent, which the customer has not given"
    );
}

#[test]
fn history_preference_and_the_reason_sentence() {
    let mut x = ctx();
    x.reachable = BTreeSet::from([AppPush, Email, Sms]);
    x.preferred = vec![AppPush, Email];
    x.history.insert(AppPush, stats(1, 25, 3));
    x.history.insert(Email, stats(2, 9, 4));
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, Some(AppPush));
    // (3 + 1)/(25 + 2) × 1.5 (first preferred)
    close(c.score, 4.0 / 27.0 * 1.5);
    assert_eq!(
        c.reason,
        "app push: preferred channel, 12% of recent pushes acted on (3 of 25 in 30 days); \
         email skipped: frequency cap reached (2 sent in 7 days, at most 2); \
         advisor call skipped: not reachable (no phone number on file)"
    );
    assert_eq!(
        verdict(&c, AppPush).reason,
        "score 0.2222 = rate 0.148 (history) × preference 1.5 × urgency 1"
    );
    close(verdict(&c, InApp).score.unwrap(), 0.08);
    close(verdict(&c, Sms).score.unwrap(), 0.04);

    // the second preferred channel weighs 1.25; the email cap freed
    x.history.insert(Email, stats(0, 9, 4));
    let c = choose(&x, &ChannelPolicy::default());
    close(verdict(&c, Email).score.unwrap(), 5.0 / 11.0 * 1.25);
    assert_eq!(c.channel, Some(Email));
    assert!(
        c.reason
            .starts_with("email: second preferred channel, 44% of recent emails")
    );
}

#[test]
fn too_little_history_uses_the_prior() {
    let mut x = ctx();
    x.history.insert(Sms, stats(0, 4, 4)); // 4 sends < 5: prior 0.04, not 5/6
    let c = choose(&x, &ChannelPolicy::default());
    close(verdict(&c, Sms).score.unwrap(), 0.04);
    x.history.insert(Sms, stats(0, 5, 4)); // 5 sends: (4 + 1)/(5 + 2)
    let c = choose(&x, &ChannelPolicy::default());
    close(verdict(&c, Sms).score.unwrap(), 5.0 / 7.0);
    assert_eq!(c.channel, Some(Sms));
    let p = ChannelPolicy {
        min_sends_for_history: 10,
        ..ChannelPolicy::default()
    };
    close(verdict(&choose(&x, &p), Sms).score.unwrap(), 0.04);
}

#[test]
fn urgency_changes_the_fit() {
    let mut x = ctx();
    x.is_marketing = false;
    x.urgency = Urgency::High;
    x.reachable.remove(&AdvisorCall);
    let c = choose(&x, &ChannelPolicy::default());
    // push 0.05 × 1.5, SMS 0.04 × 1.5, in-app 0.08 × 0.5, email 0.03
    close(verdict(&c, AppPush).score.unwrap(), 0.075);
    close(verdict(&c, Sms).score.unwrap(), 0.06);
    close(verdict(&c, InApp).score.unwrap(), 0.04);
    close(verdict(&c, Email).score.unwrap(), 0.03);
    assert_eq!(c.channel, Some(AppPush));
    assert!(c.reason.contains("fast enough for an urgent message"));

    x.urgency = Urgency::Low;
    let c = choose(&x, &ChannelPolicy::default());
    close(verdict(&c, InApp).score.unwrap(), 0.096);
    close(verdict(&c, Email).score.unwrap(), 0.036);
    close(verdict(&c, AppPush).score.unwrap(), 0.05);
    assert_eq!(c.channel, Some(InApp));
}

#[test]
fn ties_go_to_the_earlier_channel() {
    let mut x = ctx();
    x.opted_out = BTreeSet::from([InApp]);
    x.history.insert(Sms, stats(0, 8, 2));
    x.history.insert(AppPush, stats(0, 8, 2));
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(verdict(&c, AppPush).score, verdict(&c, Sms).score);
    assert_eq!(c.channel, Some(AppPush));
}

#[test]
fn nothing_eligible_says_why() {
    let mut x = ctx();
    x.reachable = BTreeSet::from([Email]);
    x.marketing_consent = false;
    let c = choose(&x, &ChannelPolicy::default());
    assert_eq!(c.channel, None);
    assert_eq!(c.score, 0.0);
    assert_eq!(
        c.reason,
        "no channel is eligible: app push skipped: not reachable (the app is not installed); \
         in-app message skipped: not reachable (the app is not installed); \
         email skipped: an offer needs marketing consent, which the customer has not given; \
         SMS skipped: not reachable (no phone number on file); \
         advisor call skipped: not reachable (no phone number on file)"
    );
    assert!(
        c.considered
            .iter()
            .all(|v| !v.eligible && v.score.is_none())
    );
}

#[test]
fn choice_is_deterministic_and_serialises() {
    let mut x = ctx();
    x.preferred = vec![Sms, Sms, Email]; // a repeated entry counts once
    x.history.insert(Email, stats(0, 30, 6));
    let a = choose(&x, &ChannelPolicy::default());
    let b = choose(&x.clone(), &ChannelPolicy::default());
    assert_eq!(a, b);
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, serde_json::to_string(&b).unwrap());
    close(verdict(&a, Email).score.unwrap(), 7.0 / 32.0 * 1.25);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["channel"], "email");
    assert_eq!(v["considered"][4]["channel"], "advisor_call");
    let back: ChannelContext = serde_json::from_value(serde_json::to_value(&x).unwrap()).unwrap();
    assert_eq!(back, x);
    for ch in ContactChannel::ALL {
        assert_eq!(serde_json::to_value(ch).unwrap(), ch.as_str());
    }
}

#[test]
fn policy_defaults_and_validation() {
    let p = ChannelPolicy::default();
    assert_eq!(
        (
            p.quiet_start_hour,
            p.quiet_end_hour,
            p.min_sends_for_history
        ),
        (21, 8, 5)
    );
    let caps: Vec<u32> = ContactChannel::ALL.iter().map(|c| p.cap_7d(*c)).collect();
    assert_eq!(caps, [3, 20, 2, 1, 1]);
    assert!(p.validate().is_ok());
    let loaded: ChannelPolicy = serde_json::from_str(r#"{"quiet_start_hour": 22}"#).unwrap();
    assert_eq!(
        loaded,
        ChannelPolicy {
            quiet_start_hour: 22,
            ..ChannelPolicy::default()
        }
    );
    let bad = ChannelPolicy {
        quiet_end_hour: 24,
        ..ChannelPolicy::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "quiet_end_hour: 24 is not an hour of the day (0 to 23)"
    );
    assert!(serde_json::from_str::<ChannelPolicy>(r#"{"quiet_hours": 1}"#).is_err());
}
