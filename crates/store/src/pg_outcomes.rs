//! [`OutcomeStore`] on PostgreSQL: exposures in one statement per batch (`unnest` over arrays),
//! references replaced in one transaction.

use crate::outcomes::{
    self, ActivityRow, ExperimentRow, ExposureRow, KpiCustomer, OutcomeRow, sql,
};
use crate::postgres::PgStore;
use crate::{OutcomeStore, Result};
use async_trait::async_trait;

const EXPOSE_MANY: &str = "INSERT INTO experiment_exposures (experiment_id, customer_id, arm, first_at, decision_id, context) \
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) \
    ON CONFLICT (experiment_id, customer_id) DO NOTHING";

impl PgStore {
    async fn outcome_exec(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, params).await?)
    }
}

#[async_trait]
impl OutcomeStore for PgStore {
    async fn experiment_insert(&self, e: &ExperimentRow) -> Result<bool> {
        outcomes::validate_experiment(e)?;
        let n = self
            .outcome_exec(
                sql::EXP_INSERT,
                &[
                    &e.id,
                    &e.name,
                    &e.kind,
                    &e.spec,
                    &e.status,
                    &e.created_at,
                    &e.updated_at,
                    &e.created_by,
                    &e.monitor,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRow>> {
        let sql = format!("SELECT {} FROM experiments WHERE id = $1", sql::EXP_COLS);
        Ok(self
            .query(&sql, &[&id], outcomes::experiment_row)
            .await?
            .pop())
    }

    async fn experiments(&self) -> Result<Vec<ExperimentRow>> {
        let sql = format!(
            "SELECT {} FROM experiments ORDER BY created_at DESC, id",
            sql::EXP_COLS
        );
        self.query(&sql, &[], outcomes::experiment_row).await
    }

    async fn experiment_status(&self, id: &str, status: &str, at: i64) -> Result<bool> {
        outcomes::validate_status(id, status)?;
        Ok(self
            .outcome_exec(sql::EXP_STATUS, &[&id, &status, &at])
            .await?
            == 1)
    }

    async fn experiment_monitor(&self, id: &str, monitor: &str, at: i64) -> Result<bool> {
        Ok(self
            .outcome_exec(sql::EXP_MONITOR, &[&id, &monitor, &at])
            .await?
            == 1)
    }

    async fn expose(&self, rows: &[ExposureRow]) -> Result<u64> {
        for r in rows {
            outcomes::validate_exposure(r)?;
        }
        let e: Vec<&str> = rows.iter().map(|r| r.experiment_id.as_str()).collect();
        let c: Vec<&str> = rows.iter().map(|r| r.customer_id.as_str()).collect();
        let a: Vec<&str> = rows.iter().map(|r| r.arm.as_str()).collect();
        let t: Vec<i64> = rows.iter().map(|r| r.first_at).collect();
        let d: Vec<Option<&str>> = rows.iter().map(|r| r.decision_id.as_deref()).collect();
        let x: Vec<Option<&str>> = rows.iter().map(|r| r.context.as_deref()).collect();
        self.outcome_exec(EXPOSE_MANY, &[&e, &c, &a, &t, &d, &x])
            .await
    }

    async fn exposure(
        &self,
        experiment_id: &str,
        customer_id: &str,
    ) -> Result<Option<ExposureRow>> {
        Ok(self
            .query(
                sql::EXPOSURE,
                &[&experiment_id, &customer_id],
                outcomes::exposure_row,
            )
            .await?
            .pop())
    }

    async fn customer_exposures(&self, customer_id: &str) -> Result<Vec<ExposureRow>> {
        self.query(
            sql::CUSTOMER_EXPOSURES,
            &[&customer_id],
            outcomes::exposure_row,
        )
        .await
    }

    async fn exposure_counts(&self, experiment_id: &str) -> Result<Vec<(String, u64)>> {
        self.query(sql::EXPOSURE_COUNTS, &[&experiment_id], outcomes::count_row)
            .await
    }

    async fn experiment_outcomes(&self, experiment_id: &str) -> Result<Vec<OutcomeRow>> {
        self.query(sql::OUTCOMES, &[&experiment_id], outcomes::outcome_row)
            .await
    }

    async fn experiment_arms(&self, experiment_id: &str) -> Result<Vec<(String, String)>> {
        self.query(sql::ARMS, &[&experiment_id], outcomes::pair_row)
            .await
    }

    async fn activity(&self, since: i64) -> Result<Vec<ActivityRow>> {
        self.query(sql::ACTIVITY, &[&since], outcomes::activity_row)
            .await
    }

    async fn kpi_customers(&self) -> Result<Vec<KpiCustomer>> {
        self.query(sql::KPI_CUSTOMERS, &[], outcomes::kpi_customer)
            .await
    }

    async fn references_put(
        &self,
        model: &str,
        version: i64,
        refs: &[(String, String)],
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(sql::REFS_DELETE, &[&model, &version]).await?;
        let stmt = tx.prepare(sql::REFS_INSERT).await?;
        for (name, r) in refs {
            tx.execute(&stmt, &[&model, &version, name, r]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn recent_contacts(
        &self,
        customer_id: &str,
        kind: &str,
        since: i64,
    ) -> Result<Vec<crate::RecentContact>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            sql::recent_contacts("payload::json -> 'contact' ->> 'channel'")
        });
        self.query(&SQL, &[&customer_id, &kind, &since], outcomes::contact_row)
            .await
    }

    async fn contact_preferences(&self, customer_id: &str) -> Result<Option<String>> {
        Ok(self
            .query(sql::PREFS, &[&customer_id], outcomes::body_row)
            .await?
            .pop())
    }

    async fn set_contact_preferences(&self, customer_id: &str, body: &str, at: i64) -> Result<()> {
        self.outcome_exec(sql::PREFS_PUT, &[&customer_id, &body, &at])
            .await?;
        Ok(())
    }

    async fn references(&self, model: &str, version: i64) -> Result<Vec<(String, String)>> {
        self.query(sql::REFS, &[&model, &version], outcomes::reference_row)
            .await
    }
}
