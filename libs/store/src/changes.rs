//! Change notifications across processes: on PostgreSQL every transition of an execution sends
//! `NOTIFY` in its own transaction (so it is delivered if and only if the transition committed),
//! and every history instance listens, to wake its long polls within milliseconds.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use crate::{Store, StoreError};

const CHANNEL: &str = "waymark_changes";

/// Within a writing transaction: announce that execution `id` of `namespace` changed
/// (PostgreSQL only).
pub(crate) async fn announce(
    txn: &DatabaseTransaction,
    namespace: &str,
    id: &str,
) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let payload = format!("{namespace}\n{id}");
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        txn.execute_raw(stmt).await?;
    }
    Ok(())
}

impl Store {
    /// Calls `changed(namespace, execution_id)` for every transition committed by any process.
    /// No-op on SQLite, where one process holds the database.
    pub async fn watch_changes(
        &self,
        changed: impl Fn(&str, &str) + Send + 'static,
    ) -> Result<(), StoreError> {
        if !self.is_postgres() {
            return Ok(());
        }
        let pool = self.db.get_postgres_connection_pool().clone();
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&pool)
            .await
            .map_err(sqlx_err)?;
        listener.listen(CHANNEL).await.map_err(sqlx_err)?;
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection (missing what was sent
                // meanwhile: the long polls' own deadlines cover that).
                match listener.recv().await {
                    Ok(n) => {
                        if let Some((namespace, id)) = n.payload().split_once('\n') {
                            changed(namespace, id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed interrupted");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }
}

fn sqlx_err(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(e.to_string()))
}
