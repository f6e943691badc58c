//! Message templates customers write to the bank, each with the sentiment it carries. Stressed,
//! dissatisfied and churning customers draw from the negative templates far more often.

/// (body, sentiment in [-1, 1])
pub(crate) const POSITIVE: &[(&str, f64)] = &[
    ("Thanks for the quick help with my card.", 0.80),
    (
        "The new app update is great, transfers are much faster now.",
        0.70,
    ),
    (
        "Thank you for sorting out the standing order so quickly!",
        0.80,
    ),
    ("Very happy with the savings account, keep it up.", 0.75),
    ("Your branch staff were friendly and helpful today.", 0.70),
    (
        "Great service, the replacement card arrived in two days.",
        0.80,
    ),
    (
        "I love the spending overview in the app, it helps me budget.",
        0.65,
    ),
    ("Thanks, the advisor explained everything clearly.", 0.70),
];

pub(crate) const NEUTRAL: &[(&str, f64)] = &[
    ("How do I change the PIN of my debit card?", 0.0),
    (
        "Can you send me the statement for last month, please?",
        0.05,
    ),
    ("I moved, please update my address.", 0.0),
    ("What are the fees for using my card abroad?", -0.05),
    ("Is it possible to raise my card limit?", 0.05),
    (
        "Please confirm that my direct debit to the landlord is set up.",
        0.0,
    ),
];

pub(crate) const NEGATIVE: &[(&str, f64)] = &[
    (
        "I was charged twice and nobody answers, I'm thinking of leaving.",
        -0.85,
    ),
    (
        "The app keeps crashing when I try to log in. Very frustrating.",
        -0.60,
    ),
    (
        "Why was my card declined? This is embarrassing, please fix it.",
        -0.70,
    ),
    (
        "Your fees are far too high, other banks are cheaper.",
        -0.55,
    ),
    (
        "I've been waiting two weeks for a refund. Unacceptable.",
        -0.75,
    ),
    (
        "Nobody called me back as promised, terrible service.",
        -0.80,
    ),
];

/// Written by customers in financial difficulty.
pub(crate) const HARDSHIP: &[(&str, f64)] = &[
    (
        "I can't pay my bills this month, can we talk about my loan payments?",
        -0.50,
    ),
    (
        "My salary stopped and the overdraft fees are killing me. \"Help\" would be nice.",
        -0.70,
    ),
    (
        "Please stop charging me fees, I simply don't have the money right now.",
        -0.65,
    ),
];

/// Written by customers about to leave.
pub(crate) const LEAVING: &[(&str, f64)] = &[
    (
        "I want to close my account and move to another bank.",
        -0.65,
    ),
    (
        "How do I transfer everything out? I've opened an account elsewhere.",
        -0.40,
    ),
    (
        "Fed up with the service, I'm switching banks next month.",
        -0.80,
    ),
];

pub(crate) const CHANNELS: &[&str] = &["chat", "email", "app", "phone", "branch"];
