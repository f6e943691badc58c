//! One customer's life over the window, from latent state to rows in every output file.
//!
//! Order of play for a customer: draw the latent [`Profile`], the holdings at the start of the
//! window, the things that will happen (churn, an income shock, fraud, life events), the messages
//! and offer responses (accepted offers open accounts), then schedule every transaction month by
//! month. The transactions are sorted by time and replayed against running balances: a debit that
//! would break the overdraft or card limit is declined, loan repayments that bounce are counted as
//! missed, and those misses decide which loans end `delinquent` or `defaulted`. Outcomes are
//! therefore consequences of the customer's own data, not coin flips beside it.
//!
//! Everything is drawn from one ChaCha8 stream seeded from (seed, customer index), so customers
//! can be generated on any thread in any order and the output is still byte-identical.

use crate::Summary;
use crate::catalog::{PRODUCTS, Product};
use crate::fmt::{push_date, push_field, push_fixed2, push_i64, push_str, push_ts, push_u64};
use crate::merchants::{self as mm, Merchant};
use crate::profile::{
    self, GENDERS, Household, Housing, OCCUPATIONS, Profile, REGIONS, logistic, normal,
};
use crate::text;
use crate::window::{Month, Window};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sextant_core::{
    AccountKind, AccountStatus, Category, Channel, EngagementLevel, EventKind, ProductFamily,
    RiskProfile, SpendingHabit,
};

pub(crate) const F_CUSTOMERS: usize = 0;
pub(crate) const F_FULL: usize = 1;
pub(crate) const F_ACCOUNTS: usize = 2;
pub(crate) const F_TX: usize = 3;
pub(crate) const F_MESSAGES: usize = 4;
pub(crate) const F_EVENTS: usize = 5;
pub(crate) const F_FRAUD: usize = 6;
pub(crate) const F_LIFE: usize = 7;
pub(crate) const F_OUTCOMES: usize = 8;
pub(crate) const F_CONSENTS: usize = 9;
pub(crate) const N_FILES: usize = 10;

/// The rows of a run of consecutive customers, one buffer per file, plus their counts.
#[derive(Default)]
pub(crate) struct ChunkOut {
    pub bufs: [Vec<u8>; N_FILES],
    pub counts: Summary,
}

/// Run-wide parameters shared by every customer.
pub(crate) struct Ctx<'a> {
    pub seed: u64,
    pub currency: &'static str,
    pub win: &'a Window,
}

const HOME: &str = "DE";
const FRAUD_PATTERNS: [&str; 3] = ["card_testing", "foreign_spike", "account_takeover"];
const LIFE_EVENTS: [&str; 4] = ["new_job", "move", "new_baby", "car_purchase"];
const DAY: i64 = 86_400;

/// SplitMix64: decorrelates consecutive customer indexes before seeding.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Fraud { pattern: u8, declined: bool },
    LoanRepay(u8),
    CcPayoff,
    SaveIn(u8),
    Sweep,
    Fund(u8),
    Closure,
}

#[derive(Clone, Copy)]
struct Tx {
    ts: i64,
    amount: i64,
    merchant: &'static str,
    country: &'static str,
    mcc: u16,
    acct: u8,
    cat: Category,
    ch: Channel,
    kind: Kind,
}

#[derive(Clone, Copy)]
struct Msg {
    ts: i64,
    channel: &'static str,
    body: &'static str,
    sentiment: f64,
}

#[derive(Clone, Copy)]
struct Ev {
    ts: i64,
    kind: EventKind,
    product: &'static str,
    value: i8,
}

/// Per-worker buffers reused across customers.
#[derive(Default)]
pub(crate) struct Scratch {
    txs: Vec<Tx>,
    msgs: Vec<Msg>,
    evs: Vec<Ev>,
}

struct Acct {
    kind: AccountKind,
    product: &'static str,
    opened: i64,
    closed: Option<i64>,
    status: AccountStatus,
    limit: i64,
    /// Signed, minor units: negative when money is owed.
    balance: i64,
    rate_m: f64,
    payment: i64,
    payments_left: u32,
    pay_day: u32,
    last_paid: i64,
    missed_total: u32,
    missed_recent: u32,
}

impl Acct {
    fn new(kind: AccountKind, product: &'static str, opened: i64, balance: i64) -> Self {
        Self {
            kind,
            product,
            opened,
            closed: None,
            status: AccountStatus::Open,
            limit: 0,
            balance,
            rate_m: 0.0,
            payment: 0,
            payments_left: 0,
            pay_day: 1,
            last_paid: opened,
            missed_total: 0,
            missed_recent: 0,
        }
    }

    /// An amortising loan with `elapsed` of its `term` monthly payments already made.
    #[allow(clippy::too_many_arguments)]
    fn loan(
        kind: AccountKind,
        product: &'static str,
        opened: i64,
        principal: f64,
        annual_rate: f64,
        term: u32,
        elapsed: u32,
        pay_day: u32,
    ) -> Self {
        let r = annual_rate / 12.0;
        let n = f64::from(term);
        let pay = principal * r / (1.0 - (1.0 + r).powf(-n));
        let k = f64::from(elapsed.min(term));
        let g = (1.0 + r).powf(k);
        let remaining = (principal * g - pay * (g - 1.0) / r).max(0.0);
        let mut a = Acct::new(kind, product, opened, -(remaining * 100.0).round() as i64);
        a.limit = (principal * 100.0).round() as i64;
        a.rate_m = r;
        a.payment = (pay * 100.0).round() as i64;
        a.payments_left = term - elapsed.min(term);
        a.pay_day = pay_day;
        a
    }

    fn suffix(&self) -> &'static str {
        match self.kind {
            AccountKind::Current => "cur",
            AccountKind::Savings => "sav",
            AccountKind::CreditCard => "cc",
            AccountKind::PersonalLoan => "pl",
            AccountKind::Mortgage => "mtg",
            AccountKind::AutoLoan => "auto",
            AccountKind::TermDeposit => "td",
            AccountKind::Investment => "inv",
        }
    }
}

#[derive(Clone, Copy)]
struct IncomePlan {
    merchant: &'static str,
    cat: Category,
    amount: i64,
    payday: u32,
    bonus: bool,
}

#[derive(Clone, Copy)]
struct Sub {
    merchant: Merchant,
    price: i64,
    day: u32,
    rise_month: usize,
    rise_price: i64,
    on_card: bool,
}

/// The recurring flows, with the day each version takes effect.
struct Plans {
    incomes: Vec<(i64, IncomePlan)>,
    rents: Vec<(i64, Option<(Merchant, i64)>)>,
    rent_day: u32,
    grocers: Vec<(i64, [usize; 2])>,
    subs: Vec<Sub>,
    elec: (Merchant, i64, u32),
    tel: (Merchant, i64, u32),
    insurance: Vec<(i64, Merchant, i64, u32)>,
    childcare: Vec<(i64, Merchant, i64)>,
    car_from: Option<i64>,
    baby_day: Option<i64>,
    move_day: Option<i64>,
    save_in: Vec<(i64, u8, i64, u32)>,
    loans: Vec<u8>,
    cc: Option<(u8, i64)>,
    savings: Option<u8>,
    cc_share: f64,
    wallet_share: f64,
    shock_month: Option<usize>,
    benefit: i64,
    /// State benefits paid monthly: payer, amount, day.
    benefits: Vec<(&'static str, i64, u32)>,
    churn_month: Option<usize>,
    disc_base: f64,
    countries: [&'static str; 3],
}

fn latest<T: Copy>(v: &[(i64, T)], day: i64) -> T {
    let mut cur = v[0].1;
    for (from, x) in v {
        if *from <= day {
            cur = *x;
        }
    }
    cur
}

impl Plans {
    fn activity(&self, mi: usize) -> f64 {
        match self.churn_month {
            Some(cm) if mi > cm => 0.0,
            Some(cm) => match cm - mi {
                0 => 0.25,
                1 => 0.4,
                2 => 0.65,
                3 => 0.85,
                _ => 1.0,
            },
            None => 1.0,
        }
    }
}

struct Sim<'a> {
    rng: ChaCha8Rng,
    txs: &'a mut Vec<Tx>,
    win: &'a Window,
}

impl Sim<'_> {
    fn f(&mut self) -> f64 {
        self.rng.random::<f64>()
    }
    fn n(&mut self) -> f64 {
        normal(&mut self.rng)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.random_range(0..xs.len())]
    }
    /// A timestamp on day `day0` (0-based) of month `m`, between hours `h0` and `h1`.
    fn ts(&mut self, m: &Month, day0: u32, h0: u32, h1: u32) -> i64 {
        let s = self.range(h0 * 3600, h1 * 3600);
        (m.start_day + i64::from(day0)) * DAY + i64::from(s)
    }
    /// A random time between two instants.
    fn between(&mut self, a: i64, b: i64) -> i64 {
        if b <= a {
            a
        } else {
            self.rng.random_range(a..b)
        }
    }
    /// A count with mean `mean`, a little over-dispersed.
    fn count(&mut self, mean: f64) -> u32 {
        let u = self.f();
        let v = self.f();
        (mean * (0.6 + 0.8 * u) + v).floor().max(0.0) as u32
    }
    fn eur(&mut self, mean: f64, sigma: f64) -> i64 {
        let z = self.n();
        ((mean * (sigma * z - sigma * sigma / 2.0).exp()) * 100.0)
            .round()
            .max(50.0) as i64
    }
    #[allow(clippy::too_many_arguments)] // a row of a transaction
    fn push(
        &mut self,
        ts: i64,
        amount: i64,
        m: &Merchant,
        acct: u8,
        cat: Category,
        ch: Channel,
        kind: Kind,
    ) {
        self.txs.push(Tx {
            ts,
            amount,
            merchant: m.name,
            country: HOME,
            mcc: m.mcc,
            acct,
            cat,
            ch,
            kind,
        });
    }
    fn card_acct(&mut self, pl: &Plans, day: i64) -> u8 {
        match pl.cc {
            Some((i, from)) if day >= from && self.chance(pl.cc_share) => i,
            _ => 0,
        }
    }
    fn card_channel(&mut self, pl: &Plans, m: &Merchant) -> Channel {
        if m.online {
            Channel::CardOnline
        } else if self.chance(pl.wallet_share) {
            Channel::MobileWallet
        } else {
            Channel::CardPresent
        }
    }
    /// `n` card purchases this month at merchants from `table`, `budget` EUR in total.
    #[allow(clippy::too_many_arguments)]
    fn spend(
        &mut self,
        pl: &Plans,
        m: &Month,
        n: u32,
        budget: f64,
        table: &[Merchant],
        cat: Category,
        hours: (u32, u32),
    ) {
        if n == 0 {
            return;
        }
        let mean = budget / f64::from(n);
        for _ in 0..n {
            let mer = self.pick(table);
            let d = self.range(0, m.days);
            let ts = self.ts(m, d, hours.0, hours.1);
            let acct = self.card_acct(pl, m.start_day + i64::from(d));
            let ch = self.card_channel(pl, &mer);
            let amt = self.eur(mean, 0.55);
            self.push(ts, -amt, &mer, acct, cat, ch, Kind::Normal);
        }
    }

    /// Schedule one month of this customer's transactions.
    fn month(&mut self, pl: &Plans, accts: &[Acct], p: &Profile, mi: usize) {
        let m = self.win.months[mi];
        let act = pl.activity(mi);
        if act <= 0.0 {
            return;
        }
        let salary_moved = pl.churn_month.is_some_and(|cm| mi + 1 >= cm);
        let shocked = pl.shock_month.is_some_and(|sm| mi >= sm);
        // Direct debits move to the new bank with the salary.
        let dd_keep = if salary_moved { 0.4 } else { 1.0 };
        let day_ok = |d: u32| d >= 1 && d <= m.days;
        let abs = |d: u32| m.start_day + i64::from(d) - 1;

        // Income.
        if shocked {
            if pl.shock_month.is_some_and(|sm| mi > sm) && day_ok(2) {
                let ts = self.ts(&m, 1, 1, 6);
                let amt = (pl.benefit as f64 * (1.0 + 0.005 * self.n())) as i64;
                let mer = Merchant {
                    name: "Bundesagentur fuer Arbeit",
                    mcc: 0,
                    online: false,
                };
                self.push(
                    ts,
                    amt,
                    &mer,
                    0,
                    Category::OtherIncome,
                    Channel::Transfer,
                    Kind::Normal,
                );
            }
        } else if !salary_moved {
            let first = latest(&pl.incomes, m.start_day);
            let payday = first.payday.min(m.full_days);
            let ip = latest(&pl.incomes, abs(payday));
            let payday = ip.payday.min(m.full_days);
            let jitter = self.pick(&[-1i32, 0, 0, 0, 1]);
            let d = (payday as i32 + jitter).clamp(1, m.full_days as i32) as u32;
            if day_ok(d) {
                let mut amt = ip.amount as f64 * (1.0 + 0.01 * self.n());
                if ip.bonus && m.month == 11 {
                    amt *= 1.6;
                }
                let ts = self.ts(&m, d - 1, 1, 6);
                let mer = Merchant {
                    name: ip.merchant,
                    mcc: 0,
                    online: false,
                };
                self.push(
                    ts,
                    amt.round() as i64,
                    &mer,
                    0,
                    ip.cat,
                    Channel::Transfer,
                    Kind::Normal,
                );
            }
        }

        for &(payer, amt, d) in &pl.benefits {
            if day_ok(d) && !salary_moved {
                let ts = self.ts(&m, d - 1, 1, 6);
                let mer = Merchant {
                    name: payer,
                    mcc: 0,
                    online: false,
                };
                self.push(
                    ts,
                    amt,
                    &mer,
                    0,
                    Category::OtherIncome,
                    Channel::Transfer,
                    Kind::Normal,
                );
            }
        }

        // Housing.
        if day_ok(pl.rent_day)
            && let Some((landlord, amt)) = latest(&pl.rents, abs(pl.rent_day))
            && self.chance(dd_keep)
        {
            let ts = self.ts(&m, pl.rent_day - 1, 0, 6);
            self.push(
                ts,
                -amt,
                &landlord,
                0,
                Category::Housing,
                Channel::DirectDebit,
                Kind::Normal,
            );
        }

        // Utilities: electricity with the seasons, telecoms flat.
        let season = 1.0 + 0.3 * (2.0 * std::f64::consts::PI * f64::from(m.month - 1) / 12.0).cos();
        let (mer, base, d) = pl.elec;
        if day_ok(d) && self.chance(dd_keep) {
            let amt = (base as f64 * season * (1.0 + 0.04 * self.n())).round() as i64;
            let ts = self.ts(&m, d - 1, 0, 6);
            self.push(
                ts,
                -amt,
                &mer,
                0,
                Category::Utilities,
                Channel::DirectDebit,
                Kind::Normal,
            );
        }
        let (mer, amt, d) = pl.tel;
        if day_ok(d) && self.chance(dd_keep) {
            let ts = self.ts(&m, d - 1, 0, 6);
            self.push(
                ts,
                -amt,
                &mer,
                0,
                Category::Utilities,
                Channel::DirectDebit,
                Kind::Normal,
            );
        }
        for &(from, mer, amt, d) in &pl.insurance {
            if day_ok(d) && abs(d) >= from && self.chance(dd_keep) {
                let ts = self.ts(&m, d - 1, 0, 6);
                self.push(
                    ts,
                    -amt,
                    &mer,
                    0,
                    Category::Insurance,
                    Channel::DirectDebit,
                    Kind::Normal,
                );
            }
        }
        let care: i64 = pl
            .childcare
            .iter()
            .filter(|c| c.0 <= abs(3))
            .map(|c| c.2)
            .sum();
        if care > 0 && day_ok(3) && self.chance(dd_keep) {
            let mer = pl.childcare[0].1;
            let ts = self.ts(&m, 2, 0, 6);
            self.push(
                ts,
                -care,
                &mer,
                0,
                Category::Childcare,
                Channel::DirectDebit,
                Kind::Normal,
            );
        }

        // Subscriptions: fixed day, fixed price, some with a price rise.
        for s in &pl.subs {
            if day_ok(s.day) && self.chance(dd_keep.max(act)) {
                let price = if mi >= s.rise_month {
                    s.rise_price
                } else {
                    s.price
                };
                let acct = match pl.cc {
                    Some((i, from)) if s.on_card && abs(s.day) >= from => i,
                    _ => 0,
                };
                let ts = self.ts(&m, s.day - 1, 3, 9);
                self.push(
                    ts,
                    -price,
                    &s.merchant,
                    acct,
                    Category::Subscriptions,
                    Channel::CardOnline,
                    Kind::Normal,
                );
            }
        }

        // Loans, card statement, savings.
        for &li in &pl.loans {
            let a = &accts[li as usize];
            let d = a.pay_day;
            if a.payment > 0 && day_ok(d) && abs(d) >= a.opened + 20 {
                let (name, cat) = match a.kind {
                    AccountKind::Mortgage => ("Sextant Bank Mortgage", Category::Housing),
                    AccountKind::AutoLoan => ("Sextant Bank Auto Loan", Category::LoanRepayment),
                    _ => ("Sextant Bank Loan", Category::LoanRepayment),
                };
                let ts = self.ts(&m, d - 1, 0, 5);
                let mer = Merchant {
                    name,
                    mcc: 0,
                    online: false,
                };
                self.push(
                    ts,
                    -a.payment,
                    &mer,
                    0,
                    cat,
                    Channel::DirectDebit,
                    Kind::LoanRepay(li),
                );
            }
        }
        if let Some((_, from)) = pl.cc
            && day_ok(20)
            && abs(20) > from
        {
            let ts = self.ts(&m, 19, 0, 5);
            let mer = Merchant {
                name: "Sextant Bank Credit Card",
                mcc: 0,
                online: false,
            };
            self.push(
                ts,
                0,
                &mer,
                0,
                Category::Transfer,
                Channel::DirectDebit,
                Kind::CcPayoff,
            );
        }
        let own = Merchant {
            name: "Own savings account",
            mcc: 0,
            online: false,
        };
        for &(from, acct, amt, d) in &pl.save_in {
            if day_ok(d) && abs(d) >= from && !salary_moved {
                let ts = self.ts(&m, d - 1, 6, 9);
                self.push(
                    ts,
                    -amt,
                    &own,
                    0,
                    Category::Savings,
                    Channel::StandingOrder,
                    Kind::SaveIn(acct),
                );
            }
        }
        if pl.savings.is_some() && day_ok(12) {
            let ts = self.ts(&m, 11, 7, 22);
            self.push(
                ts,
                0,
                &own,
                0,
                Category::Savings,
                Channel::Transfer,
                Kind::Sweep,
            );
        }

        // Discretionary spending.
        let mut budget = pl.disc_base * act * (1.0 + 0.08 * self.n()).max(0.5);
        if shocked {
            budget *= 0.85; // spending is sticky
        }
        let hh = match p.household {
            Household::Single => 0.0,
            Household::Couple => 1.0,
            Household::Family => 1.5 + 0.3 * f64::from(p.kids),
        };
        let lav = ((p.spend_ratio - 0.7) * 2.0).clamp(0.0, 1.0);
        let car = pl
            .car_from
            .is_some_and(|d| d < m.start_day + i64::from(m.days));
        let grocers = latest(&pl.grocers, m.start_day);
        let n = self.count((4.5 + hh) * act);
        let mean = budget * 0.34 / (4.5 + hh);
        for _ in 0..n {
            let u = self.f();
            let g = if u < 0.72 {
                mm::GROCERS[grocers[0]]
            } else if u < 0.93 {
                mm::GROCERS[grocers[1]]
            } else {
                self.pick(mm::GROCERS)
            };
            let d = self.range(0, m.days);
            let ts = self.ts(&m, d, 8, 21);
            let acct = self.card_acct(pl, m.start_day + i64::from(d));
            let ch = self.card_channel(pl, &g);
            let amt = self.eur(mean, 0.5);
            self.push(ts, -amt, &g, acct, Category::Groceries, ch, Kind::Normal);
        }
        let n_rest = self.count((1.0 + 4.0 * lav + 1.5 * p.engagement) * act);
        self.spend(
            pl,
            &m,
            n_rest,
            budget * 0.12 * f64::from(n_rest) / (1.0 + 4.0 * lav + 1.5 * p.engagement).max(0.5),
            mm::RESTAURANTS,
            Category::Restaurants,
            (11, 23),
        );
        let transit = Merchant {
            name: REGIONS[p.region].transit,
            mcc: 4111,
            online: false,
        };
        let n_tr = self.count(if car { 1.5 } else { 4.5 } * act);
        for _ in 0..n_tr {
            let mer = if self.chance(0.55) {
                transit
            } else {
                self.pick(mm::TRANSPORT)
            };
            let d = self.range(0, m.days);
            let ts = self.ts(&m, d, 6, 23);
            let acct = self.card_acct(pl, m.start_day + i64::from(d));
            let ch = self.card_channel(pl, &mer);
            let amt = self.eur(budget * 0.08 / if car { 1.5 } else { 4.5 }, 0.6);
            self.push(ts, -amt, &mer, acct, Category::Transport, ch, Kind::Normal);
        }
        if car {
            let n = self.count(3.0 * act.max(0.5));
            self.spend(
                pl,
                &m,
                n,
                (60.0 + budget * 0.10) * f64::from(n) / 3.0,
                mm::FUEL,
                Category::Fuel,
                (6, 22),
            );
        }
        let xmas = if m.month == 12 { 1.4 } else { 1.0 };
        let n = self.count(3.5 * act * xmas);
        self.spend(
            pl,
            &m,
            n,
            budget * 0.20 * xmas * f64::from(n) / (3.5 * xmas),
            mm::SHOPPING,
            Category::Shopping,
            (9, 22),
        );
        let n = self.count(1.2 * act);
        self.spend(
            pl,
            &m,
            n,
            budget * 0.05 * f64::from(n) / 1.2,
            mm::ENTERTAINMENT,
            Category::Entertainment,
            (14, 23),
        );
        let n = self.count(0.6 * act + 0.01 * f64::from(p.age.saturating_sub(40)));
        self.spend(
            pl,
            &m,
            n,
            budget * 0.03 * f64::from(n) / 0.6,
            mm::HEALTH,
            Category::Health,
            (8, 18),
        );
        let n_cash = self.count((0.5 + 2.0 * (1.0 - p.engagement)) * act);
        for _ in 0..n_cash {
            let mer = self.pick(mm::ATMS);
            let d = self.range(0, m.days);
            let ts = self.ts(&m, d, 7, 23);
            let raw = budget * 0.09 / (0.5 + 2.0 * (1.0 - p.engagement)) * (0.4 * self.n()).exp();
            let amt = ((raw / 20.0).round().max(1.0) * 2000.0) as i64;
            self.push(
                ts,
                -amt,
                &mer,
                0,
                Category::Cash,
                Channel::Atm,
                Kind::Normal,
            );
        }

        // Travel: more in summer and at Christmas, sometimes abroad.
        let season = match m.month {
            7 | 8 => 2.2,
            6 | 9 | 12 => 1.2,
            _ => 0.7,
        };
        if act >= 0.6 && !shocked && self.chance(p.travel_rate / 12.0 * season) {
            self.trip(pl, p, &m);
        }
    }

    fn trip(&mut self, pl: &Plans, p: &Profile, m: &Month) {
        let d = self.range(0, m.days);
        let start = m.start_day + i64::from(d);
        let nights = self.range(3, 11);
        let travellers = match p.household {
            Household::Single => 1.0,
            Household::Couple => 2.0,
            Household::Family => 2.0 + f64::from(p.kids),
        };
        let abroad = self.chance(0.75);
        let country = if abroad {
            self.pick(&pl.countries)
        } else {
            HOME
        };
        let wealth = (p.gross / 45_000.0).sqrt();
        let book = start - i64::from(self.range(7, 60));
        if book >= self.win.start_day {
            let mer = self.pick(mm::AIRLINES);
            let ts = book * DAY + i64::from(self.range(8 * 3600, 23 * 3600));
            let amt = self.eur(180.0 * travellers * wealth, 0.4);
            let acct = self.card_acct(pl, book);
            self.push(
                ts,
                -amt,
                &mer,
                acct,
                Category::Travel,
                Channel::CardOnline,
                Kind::Normal,
            );
        }
        let country_push = |s: &mut Self,
                            ts: i64,
                            amt: i64,
                            mer: &Merchant,
                            acct: u8,
                            cat: Category,
                            ch: Channel| {
            s.push(ts, amt, mer, acct, cat, ch, Kind::Normal);
            if let Some(t) = s.txs.last_mut() {
                t.country = country;
            }
        };
        let end = start + i64::from(nights);
        let hotel = self.pick(mm::HOTELS);
        let ts = end * DAY + i64::from(self.range(8 * 3600, 11 * 3600));
        let amt = self.eur(90.0 * f64::from(nights) * wealth * travellers.sqrt(), 0.35);
        let acct = self.card_acct(pl, end);
        country_push(
            self,
            ts,
            -amt,
            &hotel,
            acct,
            Category::Travel,
            Channel::CardPresent,
        );
        let meals = self.range(2, 6);
        for _ in 0..meals {
            let day = start + i64::from(self.range(0, nights));
            let ts = day * DAY + i64::from(self.range(12 * 3600, 23 * 3600));
            let mer = self.pick(mm::RESTAURANTS);
            let amt = self.eur(25.0 * travellers * wealth, 0.5);
            let acct = self.card_acct(pl, day);
            country_push(
                self,
                ts,
                -amt,
                &mer,
                acct,
                Category::Restaurants,
                Channel::CardPresent,
            );
        }
        if abroad && self.chance(0.5) {
            let day = start + i64::from(self.range(0, nights));
            let ts = day * DAY + i64::from(self.range(9 * 3600, 22 * 3600));
            let amt = i64::from(self.range(2, 11)) * 2000;
            let atm = Merchant {
                name: "ATM",
                mcc: 6011,
                online: false,
            };
            country_push(self, ts, -amt, &atm, 0, Category::Cash, Channel::Atm);
        }
    }

    /// Inject one fraud pattern at a random moment before `limit` (Unix seconds).
    fn fraud(&mut self, pl: &Plans, pattern: u8, limit: i64) {
        let t0 = self.between(self.win.start_day * DAY + 7 * DAY, limit - DAY);
        let pat = |declined| Kind::Fraud { pattern, declined };
        let acct = match pl.cc {
            Some((i, from)) if from * DAY <= t0 => i,
            _ => 0,
        };
        match pattern {
            0 => {
                let (mer, country) = self.pick(mm::CARD_TEST);
                let mut t = t0;
                for _ in 0..self.range(6, 17) {
                    t += i64::from(self.range(15, 140));
                    let amt = i64::from(self.range(50, 300));
                    self.push(
                        t,
                        -amt,
                        &mer,
                        acct,
                        Category::Shopping,
                        Channel::CardOnline,
                        pat(true),
                    );
                    self.txs.last_mut().expect("just pushed").country = country;
                }
                t += i64::from(self.range(60, 900));
                let amt = self.eur(600.0, 0.4);
                self.push(
                    t,
                    -amt,
                    &mm::CARD_TEST_BIG,
                    acct,
                    Category::Shopping,
                    Channel::CardOnline,
                    pat(false),
                );
                self.txs.last_mut().expect("just pushed").country = country;
            }
            1 => {
                let country = self.pick(mm::SPIKE_COUNTRIES);
                let mut t = t0;
                for _ in 0..self.range(3, 8) {
                    t += i64::from(self.range(300, 3000));
                    let mer = self.pick(mm::SPIKE_MERCHANTS);
                    let (cat, ch) = if mer.mcc == 6011 {
                        (Category::Cash, Channel::Atm)
                    } else {
                        (Category::Shopping, Channel::CardPresent)
                    };
                    let amt = self.eur(900.0, 0.5);
                    self.push(
                        t,
                        -amt,
                        &mer,
                        if mer.mcc == 6011 { 0 } else { acct },
                        cat,
                        ch,
                        pat(false),
                    );
                    self.txs.last_mut().expect("just pushed").country = country;
                }
            }
            _ => {
                let country = self.pick(mm::ATO_COUNTRIES);
                let payee = Merchant {
                    name: "New payee",
                    mcc: 0,
                    online: true,
                };
                let mut t = t0;
                for _ in 0..self.range(2, 6) {
                    t += i64::from(self.range(60, 1500));
                    let amt = i64::from(self.range(10, 60)) * 10_000;
                    self.push(
                        t,
                        -amt,
                        &payee,
                        0,
                        Category::Transfer,
                        Channel::Transfer,
                        pat(false),
                    );
                    self.txs.last_mut().expect("just pushed").country = country;
                }
            }
        }
    }
}

/// Generate customers `first..end` (0-based indexes) into one chunk.
pub(crate) fn gen_chunk(ctx: &Ctx, first: u64, end: u64) -> ChunkOut {
    let mut out = ChunkOut::default();
    let n = (end - first) as usize;
    out.bufs[F_TX].reserve(n * ctx.win.months.len() * 34 * 112);
    out.bufs[F_CUSTOMERS].reserve(n * 80);
    out.bufs[F_FULL].reserve(n * 200);
    out.bufs[F_ACCOUNTS].reserve(n * 170);
    let mut scratch = Scratch::default();
    for idx in first..end {
        customer(ctx, idx, &mut out, &mut scratch);
    }
    out
}

fn risk_profile(p: &Profile) -> RiskProfile {
    if p.risk < 0.35 {
        RiskProfile::Low
    } else if p.risk < 0.65 {
        RiskProfile::Medium
    } else {
        RiskProfile::High
    }
}

fn risk_rank(r: RiskProfile) -> u8 {
    match r {
        RiskProfile::Low => 0,
        RiskProfile::Medium => 1,
        RiskProfile::High => 2,
    }
}

/// Probability that this customer accepts an offer of `prod`: fit, not chance.
pub(crate) fn accept_probability(p: &Profile, prod: &Product) -> f64 {
    let inc = (p.gross / 45_000.0).ln();
    let a = f64::from(p.age) - 40.0;
    let mut z = -3.0 + 1.2 * p.engagement;
    if prod.min_income > 0 {
        z += if p.gross * 100.0 >= prod.min_income as f64 {
            0.5
        } else {
            -2.5
        };
    }
    if risk_rank(prod.risk) > risk_rank(risk_profile(p)) {
        z -= 2.0;
    }
    z += match prod.family {
        ProductFamily::Investment => 0.8 * inc + 2.0 * (p.risk - 0.5) - 2.0 * p.stress,
        ProductFamily::CreditCard => 0.6 * (p.engagement - 0.5) - 0.02 * a + 0.3 * inc,
        ProductFamily::PersonalLoan => 3.0 * (p.stress - 0.35),
        ProductFamily::Savings => 1.5 * (0.4 - p.stress) + 0.01 * a,
        ProductFamily::TermDeposit => 0.04 * a + 0.6 * inc - 2.0 * p.stress,
        ProductFamily::Insurance => {
            (if p.household == Household::Single {
                -0.4
            } else {
                0.4
            }) + 0.2 * f64::from(p.kids)
        }
        _ => -1.0,
    };
    logistic(z)
}

fn customer(ctx: &Ctx, idx: u64, out: &mut ChunkOut, scratch: &mut Scratch) {
    let win = ctx.win;
    let id = idx + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(ctx.seed ^ splitmix64(idx)));
    let p = profile::draw(&mut rng);
    scratch.txs.clear();
    scratch.msgs.clear();
    scratch.evs.clear();
    let mut sim = Sim {
        rng,
        txs: &mut scratch.txs,
        win,
    };
    let n_months = win.months.len();
    let start = win.start_day;
    let start_ts = start * DAY;
    let end_ts = win.end_day * DAY;
    let inc = (p.gross / 45_000.0).ln();
    let net = p.net_monthly;
    let cents = |eur: f64| (eur * 100.0).round() as i64;

    // Tenure and holdings at the start of the window.
    let max_tenure = (f64::from(p.age - 18) * 365.0).clamp(30.0, 30.0 * 365.0) as u32;
    let joined = start - i64::from(sim.range(14, max_tenure.max(15)));
    let before = |s: &mut Sim| s.between(joined, start);
    let mut accts: Vec<Acct> = Vec::with_capacity(8);
    let cur_product = if p.gross >= 60_000.0 && sim.chance(0.4) {
        "P-CUR-PLUS"
    } else {
        "P-CUR-BASIC"
    };
    let buffer = (1.3 * (1.0 - 0.75 * p.stress)).max(0.1);
    let z = sim.n();
    accts.push(Acct::new(
        AccountKind::Current,
        cur_product,
        joined,
        cents(net * buffer * (0.6 * z).exp()),
    ));
    let mut pl = Plans {
        incomes: Vec::new(),
        rents: Vec::new(),
        rent_day: sim.range(1, 4),
        grocers: Vec::new(),
        subs: Vec::new(),
        elec: (sim.pick(mm::ELECTRICITY), 0, sim.range(5, 16)),
        tel: (sim.pick(mm::TELECOM), 0, sim.range(8, 20)),
        insurance: Vec::new(),
        childcare: Vec::new(),
        car_from: p.has_car.then_some(i64::MIN),
        baby_day: None,
        move_day: None,
        save_in: Vec::new(),
        loans: Vec::new(),
        cc: None,
        savings: None,
        cc_share: 0.0,
        wallet_share: 0.1 + 0.5 * p.engagement,
        shock_month: None,
        benefit: 0,
        benefits: Vec::new(),
        churn_month: None,
        disc_base: 0.0,
        countries: ["ES", "IT", "AT"],
    };
    for c in pl.countries.iter_mut() {
        *c = sim.pick(mm::TRAVEL_COUNTRIES);
    }

    let working = p.occupation != profile::STUDENT
        && p.occupation != profile::RETIREE
        && p.occupation != profile::JOB_SEEKER;
    if working || p.occupation == profile::STUDENT {
        if sim.chance(logistic(
            -0.3 + 0.8 * inc + 0.02 * (f64::from(p.age) - 40.0) - 2.5 * (p.stress - 0.35),
        )) {
            let prod = if sim.chance(0.7) {
                "P-SAV-EASY"
            } else {
                "P-SAV-GOAL"
            };
            let z = sim.n();
            let bal = net * ((4.0 * (1.0 - p.stress) + 0.3).ln() + 0.9 * z).exp();
            let o = before(&mut sim);
            accts.push(Acct::new(AccountKind::Savings, prod, o, cents(bal)));
        }
    } else if sim.chance(0.45 * (1.0 - p.stress)) {
        let z = sim.n();
        let o = before(&mut sim);
        accts.push(Acct::new(
            AccountKind::Savings,
            "P-SAV-EASY",
            o,
            cents(net * (1.5 + 0.9 * z).exp()),
        ));
    }
    let cc_p = if p.occupation == profile::STUDENT {
        0.3
    } else {
        logistic(-0.5 + 1.0 * inc + 1.2 * (p.engagement - 0.5))
    };
    if sim.chance(cc_p) {
        let prod = if p.gross >= 90_000.0 && sim.chance(0.5) {
            "P-CC-PLAT"
        } else if p.gross >= 45_000.0 && sim.chance(0.6) {
            "P-CC-GOLD"
        } else if p.gross >= 15_000.0 {
            "P-CC-CLASSIC"
        } else {
            "P-CC-STUDENT"
        };
        let limit = if prod == "P-CC-STUDENT" {
            1_000.0
        } else {
            ((p.gross * 0.08 / 500.0).round() * 500.0).clamp(1_000.0, 20_000.0)
        };
        let o = before(&mut sim);
        let mut a = Acct::new(AccountKind::CreditCard, prod, o, 0);
        a.limit = cents(limit);
        accts.push(a);
    }
    if p.housing == Housing::Mortgage {
        let principal = (p.gross * (3.0 + 2.5 * sim.f())).min(1_500_000.0);
        let term = sim.range(240, 361);
        let max_elapsed = ((p.age.saturating_sub(27)) * 12).min(term - 1);
        let elapsed = sim.range(0, max_elapsed.max(1));
        let rate = 0.022 + 0.02 * sim.f();
        let pay_day = sim.range(1, 4);
        let opened = (start - i64::from(elapsed) * 30).max(joined);
        let prod = if sim.chance(0.6) {
            "P-MTG-FIX10"
        } else {
            "P-MTG-FIX20"
        };
        accts.push(Acct::loan(
            AccountKind::Mortgage,
            prod,
            opened,
            principal,
            rate,
            term,
            elapsed,
            pay_day,
        ));
    }
    if (working || p.occupation == profile::JOB_SEEKER)
        && sim.chance(logistic(
            -2.4 + 2.2 * (p.stress - 0.3)
                + if p.household == Household::Family {
                    0.4
                } else {
                    0.0
                },
        ))
    {
        let principal = (p.gross * (0.08 + 0.3 * sim.f()))
            .clamp(2_000.0, 50_000.0)
            .round();
        let term = sim.range(24, 85);
        let elapsed = sim.range(0, term - 3);
        let rate = 0.059 + 0.04 * sim.f();
        let pay_day = sim.range(1, 29);
        let opened = (start - i64::from(elapsed) * 30).max(joined);
        let prod = if sim.chance(0.7) {
            "P-PL-FLEX"
        } else {
            "P-PL-CONSOL"
        };
        accts.push(Acct::loan(
            AccountKind::PersonalLoan,
            prod,
            opened,
            principal,
            rate,
            term,
            elapsed,
            pay_day,
        ));
    }
    if p.has_car && working && sim.chance(0.22) {
        let principal = (12_000.0 * (p.gross / 45_000.0).powf(0.6) * (0.3 * sim.n()).exp())
            .clamp(6_000.0, 80_000.0)
            .round();
        let term = sim.range(36, 73);
        let elapsed = sim.range(0, term - 3);
        let pay_day = sim.range(1, 29);
        let opened = (start - i64::from(elapsed) * 30).max(joined);
        accts.push(Acct::loan(
            AccountKind::AutoLoan,
            "P-AUTO",
            opened,
            principal,
            0.045 + 0.02 * sim.f(),
            term,
            elapsed,
            pay_day,
        ));
    }
    if sim.chance(logistic(
        -3.2 + 0.05 * (f64::from(p.age) - 40.0) + 0.9 * inc - 2.5 * p.stress,
    )) {
        let amt = (5_000.0 * (0.8 * sim.n() + 0.5 * inc.max(0.0)).exp()).clamp(5_000.0, 250_000.0);
        let prod = if sim.chance(0.6) {
            "P-TD-12"
        } else {
            "P-TD-36"
        };
        let o = before(&mut sim);
        accts.push(Acct::new(
            AccountKind::TermDeposit,
            prod,
            o,
            cents((amt / 100.0).round() * 100.0),
        ));
    }
    if sim.chance(logistic(
        -2.6 + 1.3 * inc + 2.5 * (p.risk - 0.5) - 2.0 * p.stress,
    )) {
        let want = risk_profile(&p);
        let prod = PRODUCTS
            .iter()
            .rfind(|x| {
                x.family == ProductFamily::Investment
                    && risk_rank(x.risk) <= risk_rank(want)
                    && x.min_income <= cents(p.gross)
            })
            .map_or("P-INV-LOW", |x| x.id);
        let v = (p.gross * 0.3 * (0.9 * sim.n()).exp()).clamp(1_000.0, 2_000_000.0);
        let o = before(&mut sim);
        accts.push(Acct::new(AccountKind::Investment, prod, o, cents(v)));
    }

    // Income and fixed costs.
    let employer = match p.occupation {
        profile::RETIREE => "Deutsche Rentenversicherung",
        profile::JOB_SEEKER => "Bundesagentur fuer Arbeit",
        profile::STUDENT => "Studentenwerk Minijob",
        _ => sim.pick(mm::EMPLOYERS),
    };
    let income_cat = if working || p.occupation == profile::STUDENT {
        Category::Salary
    } else {
        Category::OtherIncome
    };
    let payday = if working {
        sim.pick(&[1u32, 15, 25, 27, 28, 28, 30, 31])
    } else {
        sim.range(1, 4)
    };
    let bonus = working && sim.chance(0.4);
    let monthly = if bonus { net * 12.0 / 12.6 } else { net };
    pl.incomes.push((
        i64::MIN,
        IncomePlan {
            merchant: employer,
            cat: income_cat,
            amount: cents(monthly),
            payday,
            bonus,
        },
    ));
    pl.benefit = cents(net * 0.6);
    let reg = &REGIONS[p.region];
    let rent_of = |s: &mut Sim| -> i64 {
        let size = match p.household {
            Household::Single => 650.0,
            Household::Couple => 950.0,
            Household::Family => 1_200.0 + 150.0 * f64::from(p.kids),
        };
        let z = s.n();
        let r = size * reg.rent * (p.gross / 45_000.0).powf(0.3) * (0.2 * z).exp();
        cents(r.min(net * 0.5).round())
    };
    let first_rent = if p.housing == Housing::Rent {
        let l = sim.pick(mm::LANDLORDS);
        Some((l, rent_of(&mut sim)))
    } else {
        None
    };
    pl.rents.push((i64::MIN, first_rent));
    if p.kids > 0 {
        pl.benefits
            .push(("Familienkasse Kindergeld", 25_500 * i64::from(p.kids), 10));
    }
    if let Some((_, rent)) = first_rent
        && net < 1_500.0
    {
        let help = ((rent as f64 / 100.0 - 0.3 * net).max(0.0) * 0.6).round();
        if help >= 20.0 {
            pl.benefits.push(("Wohngeldstelle", cents(help), 15));
        }
    }
    let g0 = sim.range(0, mm::GROCERS.len() as u32) as usize;
    let g1 = sim.range(0, mm::GROCERS.len() as u32) as usize;
    pl.grocers.push((i64::MIN, [g0, g1]));
    let hh_size = match p.household {
        Household::Single => 1.0,
        Household::Couple => 1.6,
        Household::Family => 1.8 + 0.3 * f64::from(p.kids),
    };
    let e = sim.eur(55.0 * hh_size, 0.25);
    pl.elec.1 = e;
    pl.tel.1 = sim.eur(35.0, 0.3);
    let n_ins = if sim.chance(0.65) { 1 } else { 0 } + if sim.chance(0.3) { 1 } else { 0 };
    for _ in 0..n_ins {
        let mer = sim.pick(mm::INSURERS);
        let amt = sim.eur(45.0 * hh_size.sqrt(), 0.5);
        let d = sim.range(1, 29);
        pl.insurance.push((i64::MIN, mer, amt, d));
    }
    if p.kids > 0 && p.age < 46 && sim.chance(0.7) {
        let mer = sim.pick(mm::CHILDCARE);
        let amt = sim.eur(220.0 * f64::from(p.kids.min(2)), 0.35);
        pl.childcare.push((i64::MIN, mer, amt));
    }
    let n_subs = (2.0 + 4.0 * sim.f() * (0.4 + p.engagement)).min(6.0) as usize;
    let mut used = 0u32;
    for _ in 0..n_subs {
        let mut j = sim.range(0, mm::SUBSCRIPTIONS.len() as u32) as usize;
        while used & (1 << j) != 0 {
            j = (j + 1) % mm::SUBSCRIPTIONS.len();
        }
        used |= 1 << j;
        let (merchant, price) = mm::SUBSCRIPTIONS[j];
        let rise_month = if n_months > 1 && sim.chance(0.25) {
            sim.range(1, n_months as u32) as usize
        } else {
            usize::MAX
        };
        let rise_price =
            ((price as f64 * (1.12 + 0.15 * sim.f())) / 100.0).floor() as i64 * 100 + 99;
        let day = sim.range(1, 29);
        let on_card = sim.chance(0.6);
        pl.subs.push(Sub {
            merchant,
            price,
            day,
            rise_month,
            rise_price,
            on_card,
        });
    }
    for (i, a) in accts.iter().enumerate() {
        match a.kind {
            AccountKind::Mortgage | AccountKind::PersonalLoan | AccountKind::AutoLoan => {
                pl.loans.push(i as u8)
            }
            AccountKind::CreditCard => pl.cc = Some((i as u8, a.opened)),
            AccountKind::Savings => pl.savings = Some(i as u8),
            _ => {}
        }
    }
    if pl.cc.is_some() {
        pl.cc_share = 0.3 + 0.5 * sim.f();
    }

    // What will happen: churn, an income shock, fraud, life events.
    let tenure_y = (start - joined) as f64 / 365.0;
    let churn_z = -2.15 + 2.6 * (p.dissat - 0.3) - 1.4 * (p.engagement - 0.5)
        + if p.age < 30 { 0.4 } else { 0.0 }
        - 0.3 * (accts.len() as f64 - 1.0)
        - if p.housing == Housing::Mortgage {
            0.8
        } else {
            0.0
        }
        + if tenure_y < 2.0 { 0.4 } else { 0.0 };
    let years = n_months as f64 / 12.0;
    let p_churn = 1.0 - (1.0 - logistic(churn_z)).powf(years);
    let p_shock = 1.0 - (1.0 - (0.015 + 0.9 * p.stress * p.stress)).powf(years);
    let u = sim.f();
    let mut churn_day = None;
    // An income shock (job loss) and churn exclude each other; shocks hit the stressed.
    if working && n_months >= 2 && u < p_shock {
        pl.shock_month = Some(sim.range((n_months / 4) as u32, n_months as u32 - 1) as usize);
    } else if sim.f() < p_churn {
        let d = sim.between(start + 20, win.end_day);
        pl.churn_month = Some(win.month_of_day(d));
        churn_day = Some(d);
    }
    let limit_ts = churn_day.map_or(end_ts, |d| d * DAY);
    let fraud = sim.chance(0.008 + 0.012 * p.engagement).then(|| {
        let u = sim.f();
        if u < 0.4 {
            0u8
        } else if u < 0.75 {
            1
        } else {
            2
        }
    });

    let mut life: Vec<(i64, u8)> = Vec::new();
    if sim.chance((0.17 * years).min(0.6)) {
        let lo = start + 7;
        let hi = (churn_day.unwrap_or(win.end_day) - 14).max(lo + 1);
        let d = sim.between(lo, hi);
        let mut options: Vec<u8> = Vec::with_capacity(4);
        if working && p.age < 60 {
            options.push(0);
        }
        if p.housing == Housing::Rent {
            options.push(1);
        }
        if (22..=44).contains(&p.age) && p.household != Household::Single {
            options.push(2);
        }
        if working && !accts.iter().any(|a| a.kind == AccountKind::AutoLoan) {
            options.push(3);
        }
        if !options.is_empty() && d < win.end_day {
            life.push((d, sim.pick(&options)));
        }
    }

    // Messages: more and angrier when stressed, dissatisfied or leaving.
    let n_msgs = sim.count(0.4 + 1.6 * p.dissat + 0.8 * p.engagement).min(5);
    for _ in 0..n_msgs {
        let ts = sim.between(start_ts, limit_ts);
        let near_churn = churn_day.is_some_and(|d| ts > (d - 60) * DAY);
        let after_shock = pl
            .shock_month
            .is_some_and(|sm| ts >= win.months[sm].start_day * DAY);
        let (body, base) = if near_churn && sim.chance(0.6) {
            sim.pick(text::LEAVING)
        } else if after_shock && sim.chance(0.6) {
            sim.pick(text::HARDSHIP)
        } else if sim.chance(0.08 + 0.75 * p.dissat) {
            sim.pick(text::NEGATIVE)
        } else if sim.chance(0.6) {
            sim.pick(text::POSITIVE)
        } else {
            sim.pick(text::NEUTRAL)
        };
        let sentiment = (base + 0.08 * sim.n()).clamp(-1.0, 1.0);
        let ch = if sim.chance(p.engagement) {
            sim.pick(&text::CHANNELS[..3])
        } else {
            sim.pick(&text::CHANNELS[2..])
        };
        scratch.msgs.push(Msg {
            ts,
            channel: ch,
            body,
            sentiment,
        });
    }
    scratch.msgs.sort_by_key(|m| m.ts);
    let sentiment = if scratch.msgs.is_empty() {
        0.0
    } else {
        scratch.msgs.iter().map(|m| m.sentiment).sum::<f64>() / scratch.msgs.len() as f64
    };

    // Past offers: impression, then accept or dismiss depending on fit.
    let n_imp = sim
        .count((0.5 + 3.0 * p.engagement) * years.min(2.0))
        .min(8);
    let mut accepted_families: Vec<ProductFamily> = Vec::new();
    for _ in 0..n_imp {
        let held =
            |f: ProductFamily, accts: &[Acct]| accts.iter().any(|a| a.kind.as_str() == f.as_str());
        let offerable: Vec<&Product> = PRODUCTS
            .iter()
            .filter(|x| {
                matches!(
                    x.family,
                    ProductFamily::CreditCard
                        | ProductFamily::PersonalLoan
                        | ProductFamily::Savings
                        | ProductFamily::TermDeposit
                        | ProductFamily::Investment
                        | ProductFamily::Insurance
                ) && !held(x.family, &accts)
                    && !accepted_families.contains(&x.family)
            })
            .collect();
        if offerable.is_empty() {
            break;
        }
        let prod = offerable[sim.range(0, offerable.len() as u32) as usize];
        let ts = sim.between(start_ts, limit_ts - 3 * DAY);
        scratch.evs.push(Ev {
            ts,
            kind: EventKind::Impression,
            product: prod.id,
            value: -1,
        });
        let t2 = ts + i64::from(sim.range(30, 2 * 86_400));
        if sim.chance(accept_probability(&p, prod)) {
            if sim.chance(0.5) {
                scratch.evs.push(Ev {
                    ts: ts + 20,
                    kind: EventKind::Click,
                    product: prod.id,
                    value: -1,
                });
            }
            scratch.evs.push(Ev {
                ts: t2,
                kind: EventKind::Accept,
                product: prod.id,
                value: -1,
            });
            accepted_families.push(prod.family);
            let day = t2.div_euclid(DAY) + 1;
            let idx = accts.len() as u8;
            let kind = match prod.family {
                ProductFamily::CreditCard => Some(AccountKind::CreditCard),
                ProductFamily::Savings => Some(AccountKind::Savings),
                ProductFamily::TermDeposit => Some(AccountKind::TermDeposit),
                ProductFamily::Investment => Some(AccountKind::Investment),
                ProductFamily::PersonalLoan => Some(AccountKind::PersonalLoan),
                _ => None,
            };
            match kind {
                Some(AccountKind::CreditCard) => {
                    let mut a = Acct::new(AccountKind::CreditCard, prod.id, day, 0);
                    a.limit =
                        cents(((p.gross * 0.06 / 500.0).round() * 500.0).clamp(1_000.0, 15_000.0));
                    accts.push(a);
                    pl.cc = Some((idx, day));
                    pl.cc_share = 0.3 + 0.5 * sim.f();
                }
                Some(AccountKind::Savings) => {
                    accts.push(Acct::new(AccountKind::Savings, prod.id, day, 0));
                    pl.savings = Some(idx);
                    let amt = cents((net * (0.03 + 0.07 * sim.f()) / 10.0).round() * 10.0);
                    pl.save_in
                        .push((day + 3, idx, amt.max(2_500), sim.range(1, 29)));
                }
                Some(k @ (AccountKind::TermDeposit | AccountKind::Investment)) => {
                    accts.push(Acct::new(k, prod.id, day, 0));
                    let ts = (day + 1) * DAY + i64::from(sim.range(8 * 3600, 20 * 3600));
                    let mer = Merchant {
                        name: prod.name,
                        mcc: 0,
                        online: false,
                    };
                    sim.push(
                        ts,
                        0,
                        &mer,
                        0,
                        Category::Savings,
                        Channel::Transfer,
                        Kind::Fund(idx),
                    );
                }
                Some(AccountKind::PersonalLoan) => {
                    let principal = (p.gross * (0.05 + 0.2 * sim.f()))
                        .clamp(2_000.0, 50_000.0)
                        .round();
                    let term = sim.range(24, 85);
                    let rate = f64::from(prod.rate_bps.unwrap_or(690)) / 10_000.0;
                    accts.push(Acct::loan(
                        AccountKind::PersonalLoan,
                        prod.id,
                        day,
                        principal,
                        rate,
                        term,
                        0,
                        sim.range(1, 29),
                    ));
                    pl.loans.push(idx);
                    let ts = day * DAY + i64::from(sim.range(8 * 3600, 18 * 3600));
                    let mer = Merchant {
                        name: "Sextant Bank Loan Disbursement",
                        mcc: 0,
                        online: false,
                    };
                    sim.push(
                        ts,
                        cents(principal),
                        &mer,
                        0,
                        Category::Transfer,
                        Channel::Transfer,
                        Kind::Normal,
                    );
                }
                _ => {
                    if prod.family == ProductFamily::Insurance {
                        let mer = Merchant {
                            name: prod.name,
                            mcc: 6300,
                            online: false,
                        };
                        let amt = prod.annual_fee / 12;
                        pl.insurance.push((day + 5, mer, amt, sim.range(1, 29)));
                    }
                }
            }
        } else if sim.chance(0.75) {
            scratch.evs.push(Ev {
                ts: t2,
                kind: EventKind::Dismiss,
                product: prod.id,
                value: -1,
            });
        }
    }
    if sim.chance(0.25) {
        let nps = (7.0 + 3.5 * sentiment - 4.0 * (p.dissat - 0.3) + 1.2 * sim.n())
            .round()
            .clamp(0.0, 10.0) as i8;
        let ts = sim.between(start_ts, limit_ts);
        scratch.evs.push(Ev {
            ts,
            kind: EventKind::Survey,
            product: "",
            value: nps,
        });
    }
    scratch.evs.sort_by_key(|e| e.ts);

    // Savers put money aside every month.
    if let Some(si) = pl.savings
        && pl.save_in.is_empty()
        && p.spend_ratio < 0.9
    {
        let amt = cents((net * (0.9 - p.spend_ratio) * 0.8 / 10.0).round() * 10.0).max(2_500);
        pl.save_in.push((i64::MIN, si, amt, payday.clamp(1, 28)));
    }

    // Life events change the recurring flows.
    for &(d, ev) in &life {
        match ev {
            0 => {
                let old = latest(&pl.incomes, d);
                let amt = (old.amount as f64 * (0.95 + 0.35 * sim.f())).round() as i64;
                let plan = IncomePlan {
                    merchant: sim.pick(mm::EMPLOYERS),
                    cat: Category::Salary,
                    amount: amt,
                    payday: sim.pick(&[1u32, 15, 25, 28, 30]),
                    bonus: sim.chance(0.4),
                };
                pl.incomes.push((d, plan));
            }
            1 => {
                pl.move_day = Some(d);
                let l = sim.pick(mm::LANDLORDS);
                let r = (rent_of(&mut sim) as f64 * (1.0 + 0.15 * sim.f())) as i64;
                pl.rents.push((d, Some((l, r))));
                let g0 = sim.range(0, mm::GROCERS.len() as u32) as usize;
                let g1 = sim.range(0, mm::GROCERS.len() as u32) as usize;
                pl.grocers.push((d, [g0, g1]));
                let ts = d * DAY + i64::from(sim.range(8 * 3600, 17 * 3600));
                let amt = sim.eur(900.0, 0.3);
                sim.push(
                    ts,
                    -amt,
                    &mm::MOVING,
                    0,
                    Category::Other,
                    Channel::CardPresent,
                    Kind::Normal,
                );
                for k in 0..sim.range(1, 4) {
                    let ts = (d + 2 + i64::from(k) * 5) * DAY
                        + i64::from(sim.range(10 * 3600, 20 * 3600));
                    let amt = sim.eur(350.0, 0.5);
                    sim.push(
                        ts,
                        -amt,
                        &mm::FURNITURE,
                        0,
                        Category::Shopping,
                        Channel::CardPresent,
                        Kind::Normal,
                    );
                }
            }
            2 => {
                pl.baby_day = Some(d);
                let mer = pl
                    .childcare
                    .first()
                    .map_or_else(|| sim.pick(mm::CHILDCARE), |c| c.1);
                let amt = sim.eur(250.0, 0.3);
                pl.childcare.push((d + 60, mer, amt));
                for _ in 0..sim.range(5, 10) {
                    let day = d - 20 + i64::from(sim.range(0, 60));
                    let ts = day * DAY + i64::from(sim.range(9 * 3600, 20 * 3600));
                    let mer = sim.pick(mm::BABY);
                    let amt = sim.eur(120.0, 0.6);
                    let acct = sim.card_acct(&pl, day);
                    let ch = sim.card_channel(&pl, &mer);
                    sim.push(ts, -amt, &mer, acct, Category::Shopping, ch, Kind::Normal);
                }
            }
            _ => {
                pl.car_from = Some(d);
                let price = (p.gross * (0.4 + 0.4 * sim.f()))
                    .clamp(8_000.0, 90_000.0)
                    .round();
                let down = (price * 0.2 / 100.0).round() * 100.0;
                let idx = accts.len() as u8;
                accts.push(Acct::loan(
                    AccountKind::AutoLoan,
                    "P-AUTO",
                    d,
                    price - down,
                    0.0549,
                    sim.range(36, 73),
                    0,
                    sim.range(1, 29),
                ));
                pl.loans.push(idx);
                let dealer = sim.pick(mm::CAR_DEALERS);
                let ts = d * DAY + i64::from(sim.range(9 * 3600, 18 * 3600));
                sim.push(
                    ts,
                    -cents(down),
                    &dealer,
                    0,
                    Category::Transport,
                    Channel::CardPresent,
                    Kind::Normal,
                );
            }
        }
    }

    // Discretionary budget: what is left of the spend ratio after fixed costs.
    let fixed = latest(&pl.rents, i64::MIN).map_or(0, |r| r.1)
        + pl.elec.1
        + pl.tel.1
        + pl.insurance
            .iter()
            .filter(|x| x.0 == i64::MIN)
            .map(|x| x.2)
            .sum::<i64>()
        + pl.childcare
            .iter()
            .filter(|x| x.0 == i64::MIN)
            .map(|x| x.2)
            .sum::<i64>()
        + pl.subs.iter().map(|s| s.price).sum::<i64>()
        + pl.loans
            .iter()
            .map(|&i| accts[i as usize].payment)
            .sum::<i64>()
        + pl.save_in.iter().map(|x| x.2).sum::<i64>();
    let benefits: i64 = pl.benefits.iter().map(|b| b.1).sum();
    pl.disc_base = (p.spend_ratio * (net + benefits as f64 / 100.0) - fixed as f64 / 100.0)
        .max(0.22 * net)
        .max(220.0 * hh_size.sqrt());

    for mi in 0..n_months {
        sim.month(&pl, &accts, &p, mi);
    }
    if let Some(pat) = fraud {
        sim.fraud(&pl, pat, limit_ts);
    }
    if let Some(d) = churn_day {
        let ts = d * DAY + i64::from(sim.range(9 * 3600, 17 * 3600));
        let mer = Merchant {
            name: "Account closure",
            mcc: 0,
            online: false,
        };
        sim.push(
            ts,
            0,
            &mer,
            0,
            Category::Transfer,
            Channel::Transfer,
            Kind::Closure,
        );
    }
    let mut rng = sim.rng;
    let txs = &mut scratch.txs;
    txs.retain(|t| {
        t.ts >= start_ts && t.ts < end_ts && (t.ts < limit_ts || t.kind == Kind::Closure)
    });
    txs.sort_by_key(|t| t.ts);

    // Replay against running balances and write the rows.
    let idb = {
        let mut b = Vec::with_capacity(20);
        push_u64(&mut b, id);
        b
    };
    let mut tx_buf = std::mem::take(&mut out.bufs[F_TX]);
    let mut fraud_buf = std::mem::take(&mut out.bufs[F_FRAUD]);
    let buf = &mut tx_buf;
    let fraud_buf = &mut fraud_buf;
    // The bank sets the overdraft by risk: less room for stressed customers.
    let overdraft = cents((net * (1.2 - p.stress)).clamp(200.0, 3_000.0));
    let mut n_tx: u64 = 0;
    let mut n_fraud: u64 = 0;
    let mut income_sum: i64 = 0;
    let mut spend_sum: i64 = 0;
    let mut mi = 0usize;
    for t in txs.iter() {
        let day = t.ts.div_euclid(DAY);
        while mi + 1 < n_months && win.months[mi + 1].start_day <= day {
            mi += 1;
        }
        let recent = mi + 3 >= n_months;
        let ai = t.acct as usize;
        let mut amount = t.amount;
        let mut declined = false;
        let cur_bal = accts[0].balance;
        match t.kind {
            Kind::Normal => {
                let a = &accts[ai];
                let floor = if a.kind == AccountKind::CreditCard {
                    -a.limit
                } else {
                    -overdraft
                };
                if amount < 0 && a.balance + amount < floor {
                    declined = true;
                }
            }
            Kind::Fraud { declined: d, .. } => declined = d,
            Kind::LoanRepay(li) => {
                let l = &mut accts[li as usize];
                if l.payments_left == 0 || l.status == AccountStatus::Closed {
                    continue;
                }
                if cur_bal + amount < -overdraft {
                    declined = true;
                    l.missed_total += 1;
                    if recent {
                        l.missed_recent += 1;
                    }
                } else {
                    let interest = (-l.balance) as f64 * l.rate_m;
                    let principal = (-amount) as f64 - interest;
                    l.balance = (l.balance + principal.round() as i64).min(0);
                    l.payments_left -= 1;
                    l.last_paid = day;
                    if l.payments_left == 0 || l.balance == 0 {
                        l.balance = 0;
                        l.payments_left = 0;
                        l.status = AccountStatus::Closed;
                        l.closed = Some(day);
                    }
                }
            }
            Kind::CcPayoff => {
                let Some((ci, _)) = pl.cc else { continue };
                let owed = accts[ci as usize].balance;
                if owed >= 0 {
                    continue;
                }
                // The full statement if affordable, else the minimum payment, else a miss.
                let minimum = owed.max(-(owed.abs() / 20).max(2_500));
                amount = if cur_bal + owed >= -overdraft {
                    owed
                } else {
                    minimum
                };
                if cur_bal + amount < -overdraft {
                    declined = true;
                    let c = &mut accts[ci as usize];
                    c.missed_total += 1;
                    if recent {
                        c.missed_recent += 1;
                    }
                } else {
                    accts[ci as usize].balance -= amount;
                }
            }
            Kind::SaveIn(si) => {
                if cur_bal + amount < 0 {
                    continue;
                }
                accts[si as usize].balance -= amount;
            }
            Kind::Sweep => {
                let Some(si) = pl.savings else { continue };
                let have = accts[si as usize].balance;
                if cur_bal >= 0 || have <= 0 {
                    continue;
                }
                amount = have.min(-cur_bal + cents(net / 4.0));
                accts[si as usize].balance -= amount;
            }
            Kind::Fund(fi) => {
                if cur_bal < 300_000 {
                    continue;
                }
                amount = -((cur_bal as f64 * 0.4 / 10_000.0).floor() as i64 * 10_000);
                accts[fi as usize].balance -= amount;
            }
            Kind::Closure => {
                amount = -cur_bal;
                if amount == 0 {
                    continue;
                }
            }
        }
        // Internal movements between own accounts only touch the current account here.
        let target = if matches!(
            t.kind,
            Kind::CcPayoff
                | Kind::SaveIn(_)
                | Kind::Sweep
                | Kind::Fund(_)
                | Kind::Closure
                | Kind::LoanRepay(_)
        ) {
            0
        } else {
            ai
        };
        if !declined {
            accts[target].balance += amount;
            if amount > 0 && matches!(t.cat, Category::Salary | Category::OtherIncome) {
                income_sum += amount;
            } else if amount < 0
                && t.kind == Kind::Normal
                && matches!(
                    t.cat,
                    Category::Groceries
                        | Category::Restaurants
                        | Category::Shopping
                        | Category::Entertainment
                        | Category::Travel
                        | Category::Transport
                        | Category::Fuel
                        | Category::Cash
                        | Category::Health
                        | Category::Subscriptions
                )
            {
                spend_sum -= amount;
            }
        }
        n_tx += 1;
        // transaction_id,customer_id,account_id,timestamp,amount_minor,currency,merchant,category,mcc,channel,country,balance_after_minor,status
        buf.push(b't');
        buf.extend_from_slice(&idb);
        buf.push(b'-');
        push_u64(buf, n_tx);
        buf.push(b',');
        buf.extend_from_slice(&idb);
        buf.extend_from_slice(b",a");
        buf.extend_from_slice(&idb);
        buf.push(b'-');
        push_str(buf, accts[target].suffix());
        buf.push(b',');
        push_ts(buf, t.ts);
        buf.push(b',');
        push_i64(buf, amount);
        buf.push(b',');
        push_str(buf, ctx.currency);
        buf.push(b',');
        push_field(buf, t.merchant);
        buf.push(b',');
        push_str(buf, t.cat.as_str());
        buf.push(b',');
        if t.mcc > 0 {
            let m = t.mcc;
            buf.extend_from_slice(&[
                b'0' + (m / 1000) as u8,
                b'0' + (m / 100 % 10) as u8,
                b'0' + (m / 10 % 10) as u8,
                b'0' + (m % 10) as u8,
            ]);
        }
        buf.push(b',');
        push_str(buf, t.ch.as_str());
        buf.push(b',');
        push_str(buf, t.country);
        buf.push(b',');
        push_i64(buf, accts[target].balance);
        buf.extend_from_slice(if declined {
            b",declined\n"
        } else {
            b",approved\n"
        });
        if let Kind::Fraud { pattern, .. } = t.kind {
            n_fraud += 1;
            fraud_buf.push(b't');
            fraud_buf.extend_from_slice(&idb);
            fraud_buf.push(b'-');
            push_u64(fraud_buf, n_tx);
            fraud_buf.push(b',');
            fraud_buf.extend_from_slice(&idb);
            fraud_buf.push(b',');
            push_str(fraud_buf, FRAUD_PATTERNS[pattern as usize]);
            fraud_buf.push(b'\n');
        }
    }
    out.bufs[F_TX] = tx_buf;
    out.bufs[F_FRAUD] = std::mem::take(fraud_buf);

    // Account outcomes.
    let mut defaulted = false;
    for a in accts.iter_mut() {
        if a.kind.is_credit() && a.status != AccountStatus::Closed {
            if a.missed_recent >= 2 || a.missed_total >= 3 {
                a.status = AccountStatus::Defaulted;
                defaulted = true;
            } else if a.missed_recent >= 1 {
                a.status = AccountStatus::Delinquent;
            }
        }
        if a.kind == AccountKind::Investment {
            let drift = 1.0
                + (0.02 + 0.08 * (p.risk - 0.3)) * years
                + 0.1 * normal(&mut rng) * years.sqrt();
            a.balance = (a.balance as f64 * drift.max(0.3)).round() as i64;
        }
        if let Some(d) = churn_day
            && a.status != AccountStatus::Defaulted
        {
            a.status = AccountStatus::Closed;
            a.closed = Some(a.closed.map_or(d, |c| c.min(d)));
            a.balance = 0;
        }
    }
    let buf = &mut out.bufs[F_ACCOUNTS];
    for a in &accts {
        // account_id,customer_id,kind,product_id,currency,opened_on,closed_on,status,limit_minor,balance_minor
        buf.push(b'a');
        buf.extend_from_slice(&idb);
        buf.push(b'-');
        push_str(buf, a.suffix());
        buf.push(b',');
        buf.extend_from_slice(&idb);
        buf.push(b',');
        push_str(buf, a.kind.as_str());
        buf.push(b',');
        push_str(buf, a.product);
        buf.push(b',');
        push_str(buf, ctx.currency);
        buf.push(b',');
        push_date(buf, a.opened);
        buf.push(b',');
        if let Some(c) = a.closed {
            push_date(buf, c);
        }
        buf.push(b',');
        push_str(buf, a.status.as_str());
        buf.push(b',');
        if a.limit > 0 {
            push_i64(buf, a.limit);
        }
        buf.push(b',');
        push_i64(buf, a.balance);
        buf.push(b'\n');
    }

    // Messages and events.
    let buf = &mut out.bufs[F_MESSAGES];
    for (k, m) in scratch.msgs.iter().enumerate() {
        buf.push(b'm');
        buf.extend_from_slice(&idb);
        buf.push(b'-');
        push_u64(buf, k as u64 + 1);
        buf.push(b',');
        buf.extend_from_slice(&idb);
        buf.push(b',');
        push_ts(buf, m.ts);
        buf.push(b',');
        push_str(buf, m.channel);
        buf.push(b',');
        push_field(buf, m.body);
        buf.push(b'\n');
    }
    let buf = &mut out.bufs[F_EVENTS];
    for (k, e) in scratch.evs.iter().enumerate() {
        buf.push(b'e');
        buf.extend_from_slice(&idb);
        buf.push(b'-');
        push_u64(buf, k as u64 + 1);
        buf.push(b',');
        buf.extend_from_slice(&idb);
        buf.push(b',');
        push_ts(buf, e.ts);
        buf.push(b',');
        push_str(buf, e.kind.as_str());
        buf.push(b',');
        push_str(buf, e.product);
        buf.extend_from_slice(b",,");
        if e.value >= 0 {
            push_u64(buf, e.value as u64);
        }
        buf.push(b'\n');
    }

    // Consents recorded when the customer joined (or at the start of the data), and sometimes
    // changed later. Drawn from their own stream so adding them changed no other output.
    // Engaged customers opt in more; data sharing is rare.
    let mut crng = ChaCha8Rng::seed_from_u64(splitmix64(ctx.seed ^ splitmix64(idx) ^ 0xC0_5E_47));
    let given = joined.max(start - 365) * DAY + 12 * 3600;
    let buf = &mut out.bufs[F_CONSENTS];
    let mut k = 0u64;
    for (purpose, base) in [
        ("personalization", 0.70),
        ("marketing", 0.40),
        ("profiling", 0.65),
        ("automated_decisions", 0.55),
        ("data_sharing", 0.10),
    ] {
        let granted = crng.random::<f64>() < (base + 0.3 * p.engagement).min(0.97);
        let mut changes = vec![(given, granted)];
        if crng.random::<f64>() < 0.08 {
            let at = start_ts + (crng.random::<f64>() * (end_ts - start_ts) as f64) as i64;
            changes.push((at, !granted));
        }
        for (at, g) in changes {
            k += 1;
            buf.push(b'k');
            buf.extend_from_slice(&idb);
            buf.push(b'-');
            push_u64(buf, k);
            buf.push(b',');
            buf.extend_from_slice(&idb);
            buf.push(b',');
            push_str(buf, purpose);
            buf.push(b',');
            push_str(buf, if g { "true" } else { "false" });
            buf.push(b',');
            push_ts(buf, at);
            buf.extend_from_slice(b",customer\n");
        }
    }

    // Life events and outcomes.
    let buf = &mut out.bufs[F_LIFE];
    for &(d, ev) in &life {
        buf.extend_from_slice(&idb);
        buf.push(b',');
        push_date(buf, d);
        buf.push(b',');
        push_str(buf, LIFE_EVENTS[ev as usize]);
        buf.push(b'\n');
    }
    let buf = &mut out.bufs[F_OUTCOMES];
    buf.extend_from_slice(&idb);
    buf.extend_from_slice(if defaulted { b",true" } else { b",false" });
    buf.extend_from_slice(if churn_day.is_some() {
        b",true,"
    } else {
        b",false,"
    });
    if let Some(d) = churn_day {
        push_date(buf, d);
    }
    buf.push(b'\n');

    // The seed-002 profile, derived from what was generated.
    let ratio = if income_sum > 0 {
        spend_sum as f64 / income_sum as f64
    } else {
        2.0
    };
    let habit = if ratio < 0.36 {
        SpendingHabit::Budget
    } else if ratio < 0.58 {
        SpendingHabit::Moderate
    } else {
        SpendingHabit::Lavish
    };
    let active_months = pl.churn_month.map_or(n_months, |cm| cm + 1) as f64;
    let freq = (n_tx as f64 / active_months / 35.0).min(1.0);
    let eng_score = 0.6 * p.engagement + 0.4 * freq - if churn_day.is_some() { 0.15 } else { 0.0 };
    let engagement = if eng_score < 0.58 {
        EngagementLevel::Low
    } else if eng_score < 0.76 {
        EngagementLevel::Medium
    } else {
        EngagementLevel::High
    };
    for (fi, full) in [(F_CUSTOMERS, false), (F_FULL, true)] {
        let buf = &mut out.bufs[fi];
        buf.extend_from_slice(&idb);
        buf.extend_from_slice(b",Customer_");
        buf.extend_from_slice(&idb);
        buf.push(b',');
        push_u64(buf, u64::from(p.age));
        buf.push(b',');
        push_u64(buf, p.gross as u64);
        buf.push(b',');
        push_str(buf, habit.as_str());
        buf.push(b',');
        push_str(buf, risk_profile(&p).as_str());
        buf.push(b',');
        push_u64(buf, n_tx);
        buf.push(b',');
        push_fixed2(buf, sentiment);
        buf.push(b',');
        push_str(buf, engagement.as_str());
        if full {
            // Currency,Email,Phone,Occupation,Joined_On,Gender,Age_Band,Region
            buf.push(b',');
            push_str(buf, ctx.currency);
            buf.extend_from_slice(b",c");
            buf.extend_from_slice(&idb);
            buf.extend_from_slice(b"@example.com,+49 ");
            push_str(buf, reg.area_code);
            buf.push(b' ');
            push_u64(buf, rng.random_range(1_000_000..10_000_000u64));
            buf.push(b',');
            push_field(buf, OCCUPATIONS[p.occupation].name);
            buf.push(b',');
            push_date(buf, joined);
            buf.push(b',');
            push_str(buf, GENDERS[p.gender]);
            buf.push(b',');
            push_str(buf, p.age_band());
            buf.push(b',');
            push_field(buf, reg.name);
        }
        buf.push(b'\n');
    }

    let c = &mut out.counts;
    c.customers += 1;
    c.accounts += accts.len() as u64;
    c.transactions += n_tx;
    c.messages += scratch.msgs.len() as u64;
    c.events += scratch.evs.len() as u64;
    c.fraud_transactions += n_fraud;
    c.defaults += u64::from(defaulted);
    c.churned += u64::from(churn_day.is_some());
}
