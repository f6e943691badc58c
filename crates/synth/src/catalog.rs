//! The demo product catalog written to `products.csv`: every product family, with realistic
//! eligibility incomes, rates and fees. Holdings and past offers reference these ids.

use crate::fmt::{push_field, push_i64, push_str};
use sextant_core::{ProductFamily, RiskProfile};

/// One catalog entry. Money is in minor units; `min_income` 0 means "no minimum".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    pub id: &'static str,
    pub name: &'static str,
    pub family: ProductFamily,
    pub risk: RiskProfile,
    /// Minimum gross annual income, minor units (0 = none).
    pub min_income: i64,
    /// Interest rate in basis points, if the product has one.
    pub rate_bps: Option<i32>,
    pub annual_fee: i64,
    pub description: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row constructor
const fn p(
    id: &'static str,
    name: &'static str,
    family: ProductFamily,
    risk: RiskProfile,
    min_income_major: i64,
    rate_bps: Option<i32>,
    annual_fee: i64,
    description: &'static str,
) -> Product {
    Product {
        id,
        name,
        family,
        risk,
        min_income: min_income_major * 100,
        rate_bps,
        annual_fee,
        description,
    }
}

use ProductFamily as F;
use RiskProfile as R;

/// The catalog, in file order.
pub(crate) const PRODUCTS: &[Product] = &[
    p(
        "P-CUR-BASIC",
        "Giro Basic",
        F::Current,
        R::Low,
        0,
        None,
        0,
        "Free current account with debit card and mobile banking",
    ),
    p(
        "P-CUR-PLUS",
        "Giro Plus",
        F::Current,
        R::Low,
        40_000,
        None,
        9_600,
        "Premium current account with travel insurance and free cash abroad",
    ),
    p(
        "P-CC-STUDENT",
        "Student Card",
        F::CreditCard,
        R::Low,
        0,
        Some(1_790),
        0,
        "No-fee credit card for students, limit up to 1,000 EUR",
    ),
    p(
        "P-CC-CLASSIC",
        "Classic Card",
        F::CreditCard,
        R::Low,
        15_000,
        Some(1_690),
        2_900,
        "Everyday credit card with 6 weeks interest-free",
    ),
    p(
        "P-CC-GOLD",
        "Gold Card",
        F::CreditCard,
        R::Low,
        45_000,
        Some(1_590),
        8_900,
        "Credit card with purchase protection and 1% cashback on travel",
    ),
    p(
        "P-CC-PLAT",
        "Platinum Travel Card",
        F::CreditCard,
        R::Low,
        90_000,
        Some(1_490),
        24_900,
        "Premium travel card with lounge access and no foreign fees",
    ),
    p(
        "P-PL-FLEX",
        "Flex Personal Loan",
        F::PersonalLoan,
        R::Medium,
        18_000,
        Some(690),
        0,
        "Personal loan 2,000-50,000 EUR over 12-84 months",
    ),
    p(
        "P-PL-CONSOL",
        "Debt Consolidation Loan",
        F::PersonalLoan,
        R::Medium,
        24_000,
        Some(590),
        0,
        "Combine cards and overdrafts into one lower monthly payment",
    ),
    p(
        "P-MTG-FIX10",
        "Fixed-Rate Mortgage 10y",
        F::Mortgage,
        R::Low,
        45_000,
        Some(365),
        0,
        "Home loan with the rate fixed for 10 years",
    ),
    p(
        "P-MTG-FIX20",
        "Fixed-Rate Mortgage 20y",
        F::Mortgage,
        R::Low,
        55_000,
        Some(395),
        0,
        "Home loan with the rate fixed for 20 years",
    ),
    p(
        "P-AUTO",
        "Auto Loan",
        F::AutoLoan,
        R::Low,
        20_000,
        Some(549),
        0,
        "Car financing for new and used cars, 24-84 months",
    ),
    p(
        "P-SAV-EASY",
        "Easy Access Savings",
        F::Savings,
        R::Low,
        0,
        Some(175),
        0,
        "Instant-access savings, interest paid monthly",
    ),
    p(
        "P-SAV-GOAL",
        "Goal Saver",
        F::Savings,
        R::Low,
        0,
        Some(225),
        0,
        "Savings pot with monthly standing order and a target",
    ),
    p(
        "P-TD-12",
        "Term Deposit 12 months",
        F::TermDeposit,
        R::Low,
        0,
        Some(300),
        0,
        "Fixed rate for 12 months, from 5,000 EUR",
    ),
    p(
        "P-TD-36",
        "Term Deposit 36 months",
        F::TermDeposit,
        R::Low,
        0,
        Some(325),
        0,
        "Fixed rate for 36 months, from 5,000 EUR",
    ),
    p(
        "P-INV-LOW",
        "Portfolio Defensive",
        F::Investment,
        R::Low,
        20_000,
        None,
        0,
        "Managed portfolio, 80% bonds, 20% equities",
    ),
    p(
        "P-INV-MED",
        "Portfolio Balanced",
        F::Investment,
        R::Medium,
        35_000,
        None,
        0,
        "Managed portfolio, 50% bonds, 50% equities",
    ),
    p(
        "P-INV-HIGH",
        "Portfolio Growth",
        F::Investment,
        R::High,
        50_000,
        None,
        0,
        "Managed portfolio, 90% global equities",
    ),
    p(
        "P-INS-HOME",
        "Home Contents Insurance",
        F::Insurance,
        R::Low,
        0,
        None,
        9_900,
        "Covers furniture, electronics and valuables at home",
    ),
    p(
        "P-INS-LIFE",
        "Term Life Insurance",
        F::Insurance,
        R::Low,
        25_000,
        None,
        21_600,
        "Protects your family and your mortgage",
    ),
];

/// Write `products.csv` (header included).
pub(crate) fn write_products(buf: &mut Vec<u8>, currency: &str) {
    push_str(buf, crate::schema::PRODUCTS_HEADER);
    buf.push(b'\n');
    for p in PRODUCTS {
        push_str(buf, p.id);
        buf.push(b',');
        push_field(buf, p.name);
        buf.push(b',');
        push_str(buf, p.family.as_str());
        buf.push(b',');
        push_str(buf, p.risk.as_str());
        buf.push(b',');
        push_str(buf, currency);
        buf.push(b',');
        if p.min_income > 0 {
            push_i64(buf, p.min_income);
        }
        buf.push(b',');
        if let Some(r) = p.rate_bps {
            push_i64(buf, i64::from(r));
        }
        buf.push(b',');
        push_i64(buf, p.annual_fee);
        buf.push(b',');
        push_field(buf, p.description);
        buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_family_with_unique_ids() {
        for f in ProductFamily::ALL {
            assert!(
                PRODUCTS.iter().any(|p| p.family == *f),
                "no product for {f}"
            );
        }
        let mut ids: Vec<_> = PRODUCTS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PRODUCTS.len());
    }
}
