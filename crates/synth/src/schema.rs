//! The exact headers of every file `sextant generate` writes, in the column order of
//! `docs/data-formats.md`.

pub const CUSTOMERS_HEADER: &str = "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level";
pub const CUSTOMERS_FULL_HEADER: &str = "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level,Currency,Email,Phone,Occupation,Joined_On,Gender,Age_Band,Region";
pub const PRODUCTS_HEADER: &str = "product_id,name,family,risk_level,currency,min_income_minor,rate_bps,annual_fee_minor,description";
pub const ACCOUNTS_HEADER: &str = "account_id,customer_id,kind,product_id,currency,opened_on,closed_on,status,limit_minor,balance_minor";
pub const TRANSACTIONS_HEADER: &str = "transaction_id,customer_id,account_id,timestamp,amount_minor,currency,merchant,category,mcc,channel,country,balance_after_minor,status";
pub const MESSAGES_HEADER: &str = "message_id,customer_id,timestamp,channel,body";
pub const EVENTS_HEADER: &str = "event_id,customer_id,timestamp,kind,product_id,decision_id,value";
pub const FRAUD_HEADER: &str = "transaction_id,customer_id,pattern";
pub const LIFE_EVENTS_HEADER: &str = "customer_id,date,event";
pub const OUTCOMES_HEADER: &str = "customer_id,defaulted,churned,churn_date";
pub const CONSENTS_HEADER: &str = "consent_id,customer_id,purpose,granted,at,source";

/// Files written row by row, in the order of the generator's per-file buffers, with headers.
pub const ROW_FILES: [(&str, &str); 10] = [
    ("customers.csv", CUSTOMERS_HEADER),
    ("customers_full.csv", CUSTOMERS_FULL_HEADER),
    ("accounts.csv", ACCOUNTS_HEADER),
    ("transactions.csv", TRANSACTIONS_HEADER),
    ("messages.csv", MESSAGES_HEADER),
    ("events.csv", EVENTS_HEADER),
    ("labels/fraud.csv", FRAUD_HEADER),
    ("labels/life_events.csv", LIFE_EVENTS_HEADER),
    ("labels/outcomes.csv", OUTCOMES_HEADER),
    ("consents.csv", CONSENTS_HEADER),
];

/// Every file with its header, `products.csv` included.
pub const ALL_FILES: [(&str, &str); 11] = [
    ("customers.csv", CUSTOMERS_HEADER),
    ("customers_full.csv", CUSTOMERS_FULL_HEADER),
    ("products.csv", PRODUCTS_HEADER),
    ("accounts.csv", ACCOUNTS_HEADER),
    ("transactions.csv", TRANSACTIONS_HEADER),
    ("messages.csv", MESSAGES_HEADER),
    ("events.csv", EVENTS_HEADER),
    ("labels/fraud.csv", FRAUD_HEADER),
    ("labels/life_events.csv", LIFE_EVENTS_HEADER),
    ("labels/outcomes.csv", OUTCOMES_HEADER),
    ("consents.csv", CONSENTS_HEADER),
];
