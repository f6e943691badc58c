//! Embedded, forward-only migrations, one SQL file per version per backend. Applied versions are
//! recorded in `schema_migrations`; each version runs in its own transaction.

pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "trust",
        sqlite: include_str!("../migrations/sqlite/0002_trust.sql"),
        postgres: include_str!("../migrations/postgres/0002_trust.sql"),
    },
    Migration {
        version: 3,
        name: "intelligence",
        sqlite: include_str!("../migrations/sqlite/0003_intelligence.sql"),
        postgres: include_str!("../migrations/postgres/0003_intelligence.sql"),
    },
    Migration {
        version: 4,
        name: "models",
        sqlite: include_str!("../migrations/sqlite/0004_models.sql"),
        postgres: include_str!("../migrations/postgres/0004_models.sql"),
    },
    Migration {
        version: 5,
        name: "nba",
        sqlite: include_str!("../migrations/sqlite/0005_nba.sql"),
        postgres: include_str!("../migrations/postgres/0005_nba.sql"),
    },
    Migration {
        version: 6,
        name: "pending",
        sqlite: include_str!("../migrations/sqlite/0006_pending.sql"),
        postgres: include_str!("../migrations/postgres/0006_pending.sql"),
    },
    Migration {
        version: 7,
        name: "stream",
        sqlite: include_str!("../migrations/sqlite/0007_stream.sql"),
        postgres: include_str!("../migrations/postgres/0007_stream.sql"),
    },
    Migration {
        version: 8,
        name: "assistant",
        sqlite: include_str!("../migrations/sqlite/0008_assistant.sql"),
        postgres: include_str!("../migrations/postgres/0008_assistant.sql"),
    },
    Migration {
        version: 9,
        name: "embeddings",
        sqlite: include_str!("../migrations/sqlite/0009_embeddings.sql"),
        postgres: include_str!("../migrations/postgres/0009_embeddings.sql"),
    },
    Migration {
        version: 10,
        name: "outcomes",
        sqlite: include_str!("../migrations/sqlite/0010_outcomes.sql"),
        postgres: include_str!("../migrations/postgres/0010_outcomes.sql"),
    },
    Migration {
        version: 11,
        name: "serving",
        sqlite: include_str!("../migrations/sqlite/0011_serving.sql"),
        postgres: include_str!("../migrations/postgres/0011_serving.sql"),
    },
    Migration {
        version: 12,
        name: "event_log_blocks",
        sqlite: include_str!("../migrations/sqlite/0012_event_log_blocks.sql"),
        postgres: include_str!("../migrations/postgres/0012_event_log_blocks.sql"),
    },
    Migration {
        version: 13,
        name: "balance_at",
        sqlite: include_str!("../migrations/sqlite/0013_balance_at.sql"),
        postgres: include_str!("../migrations/postgres/0013_balance_at.sql"),
    },
];

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
