//! [`OutcomeStore`] on SQLite: writes on the store's one writer connection (exposures in one
//! transaction), reads on the pooled readers.

use crate::outcomes::{
    self, ActivityRow, ExperimentRow, ExposureRow, KpiCustomer, OutcomeRow, sql,
};
use crate::rows::sql::sqlite as lite;
use crate::sqlite::{SqliteStore, collect};
use crate::{OutcomeStore, Result};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl OutcomeStore for SqliteStore {
    async fn experiment_insert(&self, e: &ExperimentRow) -> Result<bool> {
        outcomes::validate_experiment(e)?;
        let e = e.clone();
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::EXP_INSERT))?.execute(params![
                e.id,
                e.name,
                e.kind,
                e.spec,
                e.status,
                e.created_at,
                e.updated_at,
                e.created_by,
                e.monitor,
            ])? == 1)
        })
        .await
    }

    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRow>> {
        let sql = lite(&format!(
            "SELECT {} FROM experiments WHERE id = $1",
            sql::EXP_COLS
        ));
        let id = id.to_string();
        self.read(move |c| Ok(collect(c, &sql, [id], outcomes::experiment_row)?.pop()))
            .await
    }

    async fn experiments(&self) -> Result<Vec<ExperimentRow>> {
        let sql = format!(
            "SELECT {} FROM experiments ORDER BY created_at DESC, id",
            sql::EXP_COLS
        );
        self.read(move |c| collect(c, &sql, [], outcomes::experiment_row))
            .await
    }

    async fn experiment_status(&self, id: &str, status: &str, at: i64) -> Result<bool> {
        outcomes::validate_status(id, status)?;
        let (id, status) = (id.to_string(), status.to_string());
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::EXP_STATUS))?
                .execute(params![id, status, at])?
                == 1)
        })
        .await
    }

    async fn experiment_monitor(&self, id: &str, monitor: &str, at: i64) -> Result<bool> {
        let (id, monitor) = (id.to_string(), monitor.to_string());
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::EXP_MONITOR))?
                .execute(params![id, monitor, at])?
                == 1)
        })
        .await
    }

    async fn expose(&self, rows: &[ExposureRow]) -> Result<u64> {
        for r in rows {
            outcomes::validate_exposure(r)?;
        }
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached(&lite(sql::EXPOSE))?;
                for r in &rows {
                    n += stmt.execute(params![
                        r.experiment_id,
                        r.customer_id,
                        r.arm,
                        r.first_at,
                        r.decision_id,
                        r.context
                    ])? as u64;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    async fn exposure(
        &self,
        experiment_id: &str,
        customer_id: &str,
    ) -> Result<Option<ExposureRow>> {
        let (e, cid) = (experiment_id.to_string(), customer_id.to_string());
        self.read(move |c| {
            Ok(collect(c, &lite(sql::EXPOSURE), [e, cid], outcomes::exposure_row)?.pop())
        })
        .await
    }

    async fn customer_exposures(&self, customer_id: &str) -> Result<Vec<ExposureRow>> {
        let id = customer_id.to_string();
        self.read(move |c| {
            collect(
                c,
                &lite(sql::CUSTOMER_EXPOSURES),
                [id],
                outcomes::exposure_row,
            )
        })
        .await
    }

    async fn exposure_counts(&self, experiment_id: &str) -> Result<Vec<(String, u64)>> {
        let e = experiment_id.to_string();
        self.read(move |c| collect(c, &lite(sql::EXPOSURE_COUNTS), [e], outcomes::count_row))
            .await
    }

    async fn experiment_outcomes(&self, experiment_id: &str) -> Result<Vec<OutcomeRow>> {
        let e = experiment_id.to_string();
        self.read(move |c| collect(c, &lite(sql::OUTCOMES), [e], outcomes::outcome_row))
            .await
    }

    async fn experiment_arms(&self, experiment_id: &str) -> Result<Vec<(String, String)>> {
        let e = experiment_id.to_string();
        self.read(move |c| collect(c, &lite(sql::ARMS), [e], outcomes::pair_row))
            .await
    }

    async fn activity(&self, since: i64) -> Result<Vec<ActivityRow>> {
        self.read(move |c| collect(c, &lite(sql::ACTIVITY), [since], outcomes::activity_row))
            .await
    }

    async fn kpi_customers(&self) -> Result<Vec<KpiCustomer>> {
        self.read(move |c| collect(c, sql::KPI_CUSTOMERS, [], outcomes::kpi_customer))
            .await
    }

    async fn references_put(
        &self,
        model: &str,
        version: i64,
        refs: &[(String, String)],
    ) -> Result<()> {
        let (model, refs) = (model.to_string(), refs.to_vec());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.prepare_cached(&lite(sql::REFS_DELETE))?
                .execute(params![model, version])?;
            {
                let mut stmt = tx.prepare_cached(&lite(sql::REFS_INSERT))?;
                for (name, r) in &refs {
                    stmt.execute(params![model, version, name, r])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn recent_contacts(
        &self,
        customer_id: &str,
        kind: &str,
        since: i64,
    ) -> Result<Vec<crate::RecentContact>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            // SQLite's `->` / `->>` take the key as a label (no `$`, which `lite` rewrites).
            lite(&sql::recent_contacts("payload -> 'contact' ->> 'channel'"))
        });
        let (id, kind) = (customer_id.to_string(), kind.to_string());
        self.read(move |c| collect(c, &SQL, params![id, kind, since], outcomes::contact_row))
            .await
    }

    async fn contact_preferences(&self, customer_id: &str) -> Result<Option<String>> {
        let id = customer_id.to_string();
        self.read(move |c| Ok(collect(c, &lite(sql::PREFS), [id], outcomes::body_row)?.pop()))
            .await
    }

    async fn set_contact_preferences(&self, customer_id: &str, body: &str, at: i64) -> Result<()> {
        let (id, body) = (customer_id.to_string(), body.to_string());
        self.write(move |c| {
            c.prepare_cached(&lite(sql::PREFS_PUT))?
                .execute(params![id, body, at])?;
            Ok(())
        })
        .await
    }

    async fn references(&self, model: &str, version: i64) -> Result<Vec<(String, String)>> {
        let model = model.to_string();
        self.read(move |c| {
            collect(
                c,
                &lite(sql::REFS),
                params![model, version],
                outcomes::reference_row,
            )
        })
        .await
    }
}
