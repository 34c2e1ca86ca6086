//! The durable store: incidents and their updates ([`incidents`]), the outbox of notices and
//! their deliveries ([`outbox`], each delivery's recipients and fate in [`deliveries`]),
//! acknowledgements ([`acks`]) and polled scopes ([`scopes`]).
//! It speaks the domain's types ([`crate::incident`]) and nothing else: it never learns how a
//! diff or a policy is made.
//!
//! Today the backend is one SQLite file (WAL mode) with embedded migrations. The SQL is
//! portable (`$N` placeholders, `BIGINT`, `TEXT`, `ON CONFLICT`); PostgreSQL (issue 13) becomes
//! a second pool behind this same `Store`, with its own migrations directory where a statement
//! must differ (leases, `FOR UPDATE SKIP LOCKED`), so callers never change. Every stored enum
//! is decoded in one place ([`codec`]); an unknown stored value is an error naming its table
//! and column, never a default.
//!
//! A poll's changes and the notices they cause are written in one transaction (the outbox
//! pattern), so a crash either keeps both or neither.

pub mod acks;
mod codec;
pub mod deliveries;
pub mod discovery;
pub mod evidence;
pub mod incidents;
pub mod outbox;
pub mod scopes;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::incident::IncidentWrite;
use crate::incident::notice::Notice;

pub use deliveries::OutboxEntry;
pub use outbox::{FollowUpHistory, LastMail, MailRecord, QueuedDelivery};
pub use scopes::{ScopeHealth, ScopeOutcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store failure; every variant names the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("state store {path}: migrating the schema failed: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("state store {path}: {source}{hint}", hint = condition(source).map(|c| format!(" ({c})")).unwrap_or_default())]
    Query { path: String, source: sqlx::Error },
    #[error("state store {path}: {table}.{column}: {message}")]
    Corrupt {
        path: String,
        table: &'static str,
        column: &'static str,
        message: String,
    },
    #[error("state store {path}: encoding {what} failed: {source}")]
    Encode {
        path: String,
        what: &'static str,
        source: serde_json::Error,
    },
}

/// What an SQLite failure means for an operator, when it is about the disk.
fn condition(e: &sqlx::Error) -> Option<&'static str> {
    let code = match e {
        sqlx::Error::Database(db) => db.code()?.parse::<i64>().ok()?,
        sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => return Some("disk full"),
        sqlx::Error::Io(io) if io.raw_os_error() == Some(30) => return Some("read-only"),
        _ => return None,
    };
    // Extended result codes keep the primary code in the low byte.
    match code & 0xff {
        13 => Some("disk full"),
        8 => Some("read-only"),
        14 => Some("cannot open the database file"),
        10 => Some("disk I/O error"),
        _ => None,
    }
}

impl StoreError {
    /// True when the store cannot be written: disk full, read-only, or an I/O error.
    pub fn is_unwritable(&self) -> bool {
        matches!(self, Self::Query { source, .. } | Self::Open { source, .. } if condition(source).is_some())
    }

    /// True when opening (or migrating) the database failed.
    pub fn is_open_failure(&self) -> bool {
        matches!(self, Self::Open { .. } | Self::Migrate { .. })
    }
}

/// The durable store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: name.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path: name, source })?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// Opens the database at `path` only to read it, for commands that just show what is
    /// stored (`incidents`, `show`, `export`) and must work on a read-only state directory:
    /// no migration, no WAL index (`immutable`: nothing may write while it reads). A schema
    /// older than this pirwatch's is an error.
    pub async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: name.clone(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .read_only(true)
            .immutable(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let store = Self {
            pool,
            path: path.to_path_buf(),
        };
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&store.pool)
                .await
                .map_err(|e| store.err(e))?;
        let known = i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX);
        if applied < known {
            return Err(StoreError::Open {
                path: name,
                source: sqlx::Error::Protocol(format!(
                    "the schema is older than this pirwatch ({applied} of {known} migrations); \
                     it cannot be migrated read-only"
                )),
            });
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wraps a query error with the database path.
    fn err(&self, source: sqlx::Error) -> StoreError {
        StoreError::Query {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// An unknown or unreadable stored value.
    fn corrupt(&self, table: &'static str, column: &'static str, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.display().to_string(),
            table,
            column,
            message,
        }
    }

    /// Checks the database file can still be opened and queried (the pool's open connections
    /// would not notice it gone): a fresh connection, not created if missing.
    pub async fn check(&self) -> Result<(), StoreError> {
        use sqlx::Connection;
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(false)
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(|source| StoreError::Open {
                path: self.path.display().to_string(),
                source,
            })?;
        sqlx::query("SELECT COUNT(*) FROM incidents")
            .execute(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        conn.close().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Stores one poll of one tenant: the incidents' new states, the scopes' outcomes and the
    /// notices they cause, in one transaction.
    pub async fn commit_poll(
        &self,
        tenant: &str,
        incidents: &[IncidentWrite<'_>],
        scopes: &[ScopeOutcome],
        notices: &[Notice],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for w in incidents {
            self.write_incident(&mut tx, w, now).await?;
        }
        for s in scopes {
            self.record_scope(&mut tx, tenant, s, now).await?;
        }
        for n in notices {
            self.insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Queues notices outside a poll (reminders). A notice already queued (same key) is kept
    /// as it is.
    pub async fn queue(&self, notices: &[Notice], now: Timestamp) -> Result<(), StoreError> {
        if notices.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for n in notices {
            self.insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A small real write: fails when the store cannot take one (disk full, read-only).
    pub async fn probe_write(&self, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO write_probe (id, at_ms) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
        )
        .bind(codec::ms(now))
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;
    use crate::incident::notice::{NoticeKind, Series, Step};

    /// A store written by the release before notices and deliveries (its schema, its rows)
    /// opens with them carried over: sent mails stay sent, a queued reminder stays queued with
    /// its step read as what it was, the PIR acknowledgement keeps its stage.
    #[tokio::test]
    async fn a_store_of_the_previous_release_is_carried_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("old.db");
        let old = dir.path().join("old-migrations");
        std::fs::create_dir_all(&old).expect("dir");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/20261122000001_initial.sql"),
            old.join("20261122000001_initial.sql"),
        )
        .expect("copy the first migration");
        let options = SqliteConnectOptions::from_str("sqlite:")
            .expect("options")
            .filename(&db)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .expect("pool");
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .expect("old migrator")
            .run(&pool)
            .await
            .expect("old schema");
        sqlx::raw_sql(
            "INSERT INTO incidents VALUES ('t','X','ServiceIssue','Resolved','x',NULL,NULL,NULL,NULL,\
             1790000000000,NULL,NULL,'final',1790000000000,0,'[]','[]',1790000000000,0,0,1790000000000);\
             INSERT INTO outbox VALUES ('<X.t.incident@d>','t','new','[\"a@b\"]','s','b','<p>b</p>',NULL,\
             1790000000000,'sent',1,0,1790000000000,1790000000000,NULL,1790000000001,NULL,NULL,NULL);\
             INSERT INTO outbox VALUES ('<X.t.claim-2@d>','t','reminder','[\"a@b\"]','s','b','<p>b</p>',NULL,\
             1790000000000,'queued',0,0,1790000000000,1790000000000,NULL,NULL,'claim',2,NULL);\
             INSERT INTO outbox_incidents VALUES ('<X.t.incident@d>','t','X'), ('<X.t.claim-2@d>','t','X');\
             INSERT INTO acks VALUES ('t','X','reviewed','reviewed','ana',1790000000000,NULL,NULL);\
             INSERT INTO scopes VALUES ('t','sub-a',1790000000000,1790000000000,NULL);",
        )
        .execute(&pool)
        .await
        .expect("old rows");
        pool.close().await;

        let store = Store::open(&db).await.expect("migrates");
        let now = Timestamp::from_millisecond(1_790_000_000_000).expect("ts");
        let due = store.due_deliveries(now, now).await.expect("due");
        assert_eq!(due.len(), 1, "the queued reminder, not the sent mail");
        assert_eq!(due[0].kind, NoticeKind::Reminder);
        assert_eq!(
            due[0].follow_ups,
            [crate::incident::notice::ReminderKey {
                series: Series::Claim,
                step: Step::DaysBefore(7)
            }]
        );
        let acks = store.acks("t", "X").await.expect("acks");
        assert_eq!(
            acks[0].kind,
            crate::incident::ack::AckKind::Reviewed {
                stage: crate::incident::ack::PirStage::Final
            }
        );
        let i = store.incident("t", "X").await.expect("read").expect("kept");
        assert!(
            i.announced,
            "incidents of the old release were announced under its rules"
        );
        assert_eq!(store.known_scopes("t").await.expect("scopes").len(), 1);
        assert_eq!(store.mail_log().await.expect("log").len(), 2);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A store in a temporary directory, for the store modules' unit tests.
    use super::Store;

    pub async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.db"))
            .await
            .expect("open");
        (dir, store)
    }
}
