//! Insights over a generated synthetic bank: parsed from the generator's CSVs into core types,
//! every customer yields insights without panics, budgets add up, the result does not depend on
//! transaction order, and most salaried customers get a detected payday.

use chrono::Datelike;
use sextant_core::{Category, TxStatus};
use sextant_insights::{InsightInput, compute};
use std::collections::BTreeSet;

#[test]
fn every_synthetic_customer_gets_insights() {
    // Generated, then parsed with the production importer's row parser.
    let generated = sextant_testkit::generate_bank(100, 6, 11);
    let sextant_testkit::SyntheticBank {
        customers,
        accounts,
        transactions: txs,
    } = generated.bank;
    let as_of = generated.end;
    assert_eq!(customers.len(), 100);

    let (mut salaried, mut with_payday, mut with_recurring, mut rises) = (0, 0, 0, 0);
    let (mut unusual, mut warnings, mut opportunities) = (0, 0, 0);
    for c in &customers {
        let accts = accounts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
        let own = txs.get(&c.id).cloned().unwrap_or_default();
        let input = InsightInput {
            customer: c,
            accounts: accts,
            transactions: &own,
            as_of,
        };
        let ins = compute(&input);
        let json = serde_json::to_string(&ins).unwrap();
        let mut rev = own.clone();
        rev.reverse();
        let reversed = compute(&InsightInput {
            transactions: &rev,
            ..input
        });
        assert_eq!(serde_json::to_string(&reversed).unwrap(), json, "{}", c.id);

        let b = &ins.budget;
        assert_eq!(
            b.fixed_costs + b.variable_total + b.savings_per_month - b.shortfall,
            b.monthly_income,
            "budget of {}",
            c.id
        );
        assert!(
            b.variable_limits
                .iter()
                .all(|l| l.limit >= 0 && l.limit <= l.average_monthly)
        );
        assert_eq!(ins.forecast.days.len(), 30);
        for s in &ins.breakdown {
            assert!(
                (0.0..=1.0).contains(&s.month_share) && (0.0..=1.0).contains(&s.trailing_90d_share)
            );
        }
        for o in &ins.savings_opportunities {
            assert!(o.monthly > 0 && o.yearly >= o.monthly, "{}: {o:?}", c.id);
        }
        assert!(ins.messages.iter().all(|m| !m.is_empty()));

        // Salaried: salary credits in at least two of the last months.
        let salary_months: BTreeSet<u32> = own
            .iter()
            .filter(|t| t.category == Category::Salary && t.amount.minor > 0)
            .filter(|t| t.status == TxStatus::Approved)
            .map(|t| t.timestamp.year() as u32 * 12 + t.timestamp.month0())
            .collect();
        if salary_months.len() >= 3 {
            salaried += 1;
            if ins.forecast.salary.is_some() {
                with_payday += 1;
            }
        }
        with_recurring += usize::from(!ins.recurring.is_empty());
        rises += ins
            .recurring
            .iter()
            .filter(|r| r.price_rise.is_some())
            .count();
        unusual += ins.unusual.len();
        warnings += usize::from(ins.forecast.low_balance_warning.is_some());
        opportunities += ins.savings_opportunities.len();
    }
    eprintln!(
        "salaried {salaried}, with payday {with_payday}, with recurring {with_recurring}, \
         price rises {rises}, unusual {unusual}, warnings {warnings}, opportunities {opportunities}"
    );
    assert!(salaried >= 50, "{salaried} salaried customers");
    assert!(
        with_payday * 10 >= salaried * 9,
        "{with_payday} of {salaried} salaried customers have a payday"
    );
    assert!(
        with_recurring >= 80,
        "{with_recurring} with recurring payments"
    );
}
