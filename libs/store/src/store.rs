//! The store handle: connecting to either backend, migrations, namespaces, server metadata.

use std::time::Duration;

use sea_orm::sea_query::OnConflict;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::entity::{meta, namespace};
use crate::{NamespaceRecord, StoreError, migration};

/// A cheap-to-clone handle on the database pool.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    /// SQLite: the group committer of transitions.
    pub(crate) writer: Option<std::sync::Arc<crate::group::Writer>>,
}

impl Store {
    /// `sqlite::memory:`, `sqlite://path/to/file.db` (created if missing), `postgres://...`.
    /// On PostgreSQL, `schema` becomes the search path (created if missing); SQLite ignores it.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Store, StoreError> {
        let mut opts = ConnectOptions::new(url);
        opts.sqlx_logging(false).test_before_acquire(false);
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            // One connection: SQLite serializes writers anyway, and a single connection avoids
            // SQLITE_BUSY storms. It must never be recycled, or an in-memory database vanishes.
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(5))
                });
        } else {
            opts.max_connections(16)
                .connect_timeout(Duration::from_secs(5))
                .test_before_acquire_if_idle_for(Duration::from_secs(60));
            if let Some(schema) = schema {
                check_schema_name(schema)?;
                opts.set_schema_search_path(schema);
            }
        }
        let db = Database::connect(opts).await?;
        if let (false, Some(schema)) = (sqlite, schema) {
            // The pool's search path names it already: PostgreSQL resolves the path lazily.
            // Two processes creating it at once: the loser sees a unique violation, and the schema.
            let created = db
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await;
            if let Err(e) = created
                && !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
            {
                return Err(e.into());
            }
        }
        let writer = sqlite.then(|| std::sync::Arc::new(crate::group::Writer::start(db.clone())));
        Ok(Store { db, writer })
    }

    /// Brings the schema up to date; run at every start.
    pub async fn migrate(&self) -> Result<migration::Migrated, StoreError> {
        migration::run(self).await
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// Whether the session with PostgreSQL is TLS-encrypted: `sslmode=prefer`, the default,
    /// falls back to plain text when the server has no TLS. Always false on SQLite, a local file.
    pub async fn session_encrypted(&self) -> Result<bool, StoreError> {
        if !self.is_postgres() {
            return Ok(false);
        }
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("pg_stat_ssl has no row for this session".into()))?;
        Ok(row.try_get::<bool>("", "ssl")?)
    }

    /// Closes the pool (on SQLite, this checkpoints the WAL).
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.db.close().await?)
    }

    /// A transaction that writes: on SQLite it takes the write lock at BEGIN, so a reader
    /// is never upgraded into a writer (which busy_timeout cannot resolve).
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.db).await
    }

    pub async fn create_namespace(&self, ns: &NamespaceRecord) -> Result<(), StoreError> {
        let inserted = namespace::Entity::insert(ns.clone().into_active_model())
            .on_conflict(
                OnConflict::column(namespace::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    /// Replaces the namespace's settings; false if there is none of its name.
    pub async fn update_namespace(&self, ns: &NamespaceRecord) -> Result<bool, StoreError> {
        let settings = namespace::ActiveModel {
            description: ActiveValue::Set(ns.description.clone()),
            owner_email: ActiveValue::Set(ns.owner_email.clone()),
            retention_secs: ActiveValue::Set(ns.retention_secs),
            data: ActiveValue::Set(ns.data.clone()),
            ..Default::default()
        };
        let updated = namespace::Entity::update_many()
            .set(settings)
            .filter(namespace::Column::Name.eq(&ns.name))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    pub async fn get_namespace(&self, name: &str) -> Result<Option<NamespaceRecord>, StoreError> {
        Ok(namespace::Entity::find_by_id(name).one(&self.db).await?)
    }

    /// All namespaces, ordered by name.
    pub async fn list_namespaces(&self) -> Result<Vec<NamespaceRecord>, StoreError> {
        Ok(namespace::Entity::find()
            .order_by_asc(namespace::Column::Name)
            .all(&self.db)
            .await?)
    }

    /// The stored value of `key`, storing `init` first if there is none. Of concurrent
    /// callers, the first insert wins and everyone reads its value.
    pub async fn get_or_init_meta(&self, key: &str, init: &str) -> Result<String, StoreError> {
        let row = meta::Model {
            name: key.to_owned(),
            value: init.to_owned(),
        };
        meta::Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::column(meta::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        let row = meta::Entity::find_by_id(key).one(&self.db).await?;
        row.map(|r| r.value)
            .ok_or_else(|| StoreError::Corrupt(format!("server_meta row {key:?} vanished")))
    }
}

/// The schema name is spliced into SQL, so only plain identifiers pass.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(DbErr::Custom(format!("invalid schema name {schema:?}")).into())
    }
}

/// A transaction that writes (see `Store::begin_write`).
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
