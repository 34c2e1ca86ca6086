//! The durable store: incidents, their updates, polled scopes and the mail outbox, in one
//! SQLite file (WAL mode) with embedded migrations.
//!
//! A poll's changes and the mails they cause are written in one transaction (the outbox
//! pattern), so a crash either keeps both or neither. A mail is marked sent only after the SMTP
//! server accepted it: delivery is at-least-once, and a re-sent mail keeps its `Message-ID`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::followup::schedule::{Acks, Series};
use crate::incident::{Incident, NoticeKind, PirState};
use crate::source::event::Update;
use crate::tracker::Observation;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store failure; `path` says which database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("state store {path}: migrating the schema failed: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("state store: {0}")]
    Query(#[from] sqlx::Error),
    #[error("state store: corrupt row: {0}")]
    Corrupt(String),
}

/// A mail to be queued.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// `<...@domain>`; also the outbox key.
    pub message_id: String,
    pub kind: NoticeKind,
    /// The incidents it is about.
    pub incidents: Vec<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The incident thread's root `Message-ID` (for `In-Reply-To`/`References`).
    pub thread_id: Option<String>,
    /// Not before this instant (working hours for reminders and digests).
    pub due: Timestamp,
    /// For reminders: series and step.
    pub reminder: Option<(Series, u32)>,
    /// An iCalendar attachment.
    pub ics: Option<String>,
}

/// A queued mail as read back for delivery.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub message_id: String,
    pub tenant: String,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub thread_id: Option<String>,
    pub created: Timestamp,
    pub attempts: i64,
    pub rejections: i64,
    pub ics: Option<String>,
}

/// How one scope's poll went.
#[derive(Debug, Clone)]
pub struct ScopeOutcome {
    pub scope: String,
    /// `None` on success.
    pub error: Option<String>,
}

/// The last mail about an incident, for `pirwatch incidents`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastMail {
    pub kind: String,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    /// When it was sent, else when it was queued (RFC 3339).
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The durable store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: std::path::PathBuf,
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_ms(v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn opt_ms(v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(from_ms).transpose()
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn sha(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: name.clone(),
                source: sqlx::Error::Io(e),
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open {
                path: name.clone(),
                source,
            })?
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
            .map_err(|source| StoreError::Open {
                path: name.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path: name, source })?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// Checks the database file can still be opened and queried (the pool's open connections
    /// would not notice it gone): a fresh connection, not created if missing.
    pub async fn check(&self) -> Result<(), StoreError> {
        use sqlx::Connection;
        let name = self.path.display().to_string();
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(false)
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(|source| StoreError::Open {
                path: name.clone(),
                source,
            })?;
        sqlx::query("SELECT COUNT(*) FROM incidents")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }

    /// Mails queued and due at `now`, and when the oldest of them was queued.
    pub async fn queue_stats(
        &self,
        now: Timestamp,
    ) -> Result<(i64, Option<Timestamp>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_ms) AS oldest FROM outbox \
             WHERE state = 'queued' AND not_before_ms <= $1",
        )
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, opt_ms(row.try_get("oldest")?)?))
    }

    /// Incidents by status (`Active`, `Resolved`, ...).
    pub async fn status_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM incidents GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The scopes of `tenant` polled successfully at least once.
    pub async fn known_scopes(&self, tenant: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows = sqlx::query("SELECT scope FROM scopes WHERE tenant = $1")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("scope").map_err(StoreError::from))
            .collect()
    }

    /// The stored incidents of `tenant` among `tracking_ids`, with their updates.
    pub async fn load_incidents(
        &self,
        tenant: &str,
        tracking_ids: &[String],
    ) -> Result<HashMap<String, Incident>, StoreError> {
        let mut out = HashMap::new();
        for id in tracking_ids {
            if let Some(i) = self.incident(tenant, id).await? {
                out.insert(id.clone(), i);
            }
        }
        Ok(out)
    }

    /// One incident with its updates.
    pub async fn incident(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query("SELECT * FROM incidents WHERE tenant = $1 AND tracking_id = $2")
            .bind(tenant)
            .bind(tracking_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut incident = incident_from_row(&row)?;
        incident.updates = self.updates(tenant, tracking_id).await?;
        Ok(Some(incident))
    }

    async fn updates(&self, tenant: &str, tracking_id: &str) -> Result<Vec<Update>, StoreError> {
        let rows = sqlx::query(
            "SELECT published_ms, summary, tags, service, region FROM updates \
             WHERE tenant = $1 AND tracking_id = $2 ORDER BY published_ms, summary",
        )
        .bind(tenant)
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Update {
                    published: from_ms(r.try_get("published_ms")?)?,
                    summary: r.try_get("summary")?,
                    tags: from_json(&r.try_get::<String, _>("tags")?)?,
                    service: r.try_get("service")?,
                    region: r.try_get("region")?,
                })
            })
            .collect()
    }

    /// Stores one poll of one tenant: the observed incidents, the scopes' outcomes and the mails
    /// to send, in one transaction.
    pub async fn commit_poll(
        &self,
        tenant: &str,
        observations: &[Observation],
        scopes: &[ScopeOutcome],
        mails: &[NewMail],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for o in observations {
            upsert_incident(&mut tx, &o.incident, now).await?;
            for u in &o.new_updates {
                insert_update(&mut tx, &o.incident, u).await?;
            }
        }
        for s in scopes {
            record_scope(&mut tx, tenant, s, now).await?;
        }
        for m in mails {
            insert_mail(&mut tx, tenant, m, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queued mails due at `now` (working hours) whose retry backoff ended by `retry_by`,
    /// oldest first.
    pub async fn due_mails(
        &self,
        now: Timestamp,
        retry_by: Timestamp,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM outbox WHERE state = 'queued' AND not_before_ms <= $1 \
             AND next_attempt_ms <= $2 ORDER BY created_ms, message_id",
        )
        .bind(ms(now))
        .bind(ms(retry_by))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueuedMail {
                    message_id: r.try_get("message_id")?,
                    tenant: r.try_get("tenant")?,
                    kind: r.try_get("kind")?,
                    recipients: from_json(&r.try_get::<String, _>("recipients")?)?,
                    subject: r.try_get("subject")?,
                    body_text: r.try_get("body_text")?,
                    body_html: r.try_get("body_html")?,
                    thread_id: r.try_get("thread_id")?,
                    created: from_ms(r.try_get("created_ms")?)?,
                    attempts: r.try_get("attempts")?,
                    rejections: r.try_get("rejections")?,
                    ics: r.try_get("ics")?,
                })
            })
            .collect()
    }

    /// Mails still queued that were due at `now` (not counting those waiting for working hours).
    pub async fn queued_count(&self, now: Timestamp) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued' AND not_before_ms <= $1",
        )
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The SMTP server accepted the mail.
    pub async fn mark_sent(&self, message_id: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_ms = $1, attempts = attempts + 1, \
             last_error = NULL WHERE message_id = $2",
        )
        .bind(ms(now))
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delivery failed; try again at `next`. A permanent rejection counts towards giving up;
    /// `give_up` marks the mail failed for good.
    pub async fn mark_attempt_failed(
        &self,
        message_id: &str,
        error: &str,
        permanent: bool,
        give_up: bool,
        next: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, rejections = rejections + $1, \
             last_error = $2, next_attempt_ms = $3, state = $4 WHERE message_id = $5",
        )
        .bind(i64::from(permanent))
        .bind(error)
        .bind(ms(next))
        .bind(if give_up { "failed" } else { "queued" })
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every incident, newest first.
    pub async fn all_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incidents ORDER BY COALESCE(impact_start_ms, first_seen_ms) DESC, \
             tenant, tracking_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// The latest mail about each incident, keyed by (tenant, tracking id).
    pub async fn last_mails(&self) -> Result<HashMap<(String, String), LastMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT oi.tenant, oi.tracking_id, o.kind, o.state, o.created_ms, o.sent_ms, \
             o.last_error FROM outbox_incidents oi JOIN outbox o ON o.message_id = oi.message_id \
             ORDER BY o.created_ms, o.message_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in rows {
            let sent: Option<i64> = r.try_get("sent_ms")?;
            let at = from_ms(sent.unwrap_or(r.try_get("created_ms")?))?;
            let state: String = r.try_get("state")?;
            let error: Option<String> = r.try_get("last_error")?;
            out.insert(
                (r.try_get("tenant")?, r.try_get("tracking_id")?),
                LastMail {
                    kind: r.try_get("kind")?,
                    error: if state == "sent" { None } else { error },
                    state,
                    at: at.to_string(),
                },
            );
        }
        Ok(out)
    }

    /// All mails, oldest first: (message id, kind, state, subject).
    pub async fn mail_log(&self) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, kind, state, subject FROM outbox ORDER BY created_ms, message_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("message_id")?,
                    r.try_get("kind")?,
                    r.try_get("state")?,
                    r.try_get("subject")?,
                ))
            })
            .collect()
    }

    /// Queues mails outside a poll (reminders). Mails already queued (same id) are kept as they are.
    pub async fn queue_mails(
        &self,
        tenant: &str,
        mails: &[NewMail],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_poll(tenant, &[], &[], mails, now).await
    }

    /// Incidents of `tenant` first seen since `since` that may still need follow-up.
    pub async fn followup_candidates(
        &self,
        tenant: &str,
        since: Timestamp,
    ) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE tenant = $1 AND false_positive = 0 \
             AND first_seen_ms >= $2 ORDER BY first_seen_ms, tracking_id",
        )
        .bind(tenant)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// How many updates are stored for an incident.
    pub async fn update_count(&self, tenant: &str, tracking_id: &str) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM updates WHERE tenant = $1 AND tracking_id = $2")
                .bind(tenant)
                .bind(tracking_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Incidents with this tracking id, in any tenant.
    pub async fn find(&self, tracking_id: &str) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query("SELECT * FROM incidents WHERE tracking_id = $1 ORDER BY tenant")
            .bind(tracking_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// The highest reminder step queued or sent per series, for one incident.
    pub async fn reminder_steps(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<BTreeMap<Series, u32>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.series, MAX(o.step) AS step FROM outbox o JOIN outbox_incidents oi \
             ON oi.message_id = o.message_id WHERE oi.tenant = $1 AND oi.tracking_id = $2 \
             AND o.series IS NOT NULL GROUP BY o.series",
        )
        .bind(tenant)
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            let series: String = r.try_get("series")?;
            let step: i64 = r.try_get("step")?;
            if let Some(s) = Series::parse(&series) {
                out.insert(s, u32::try_from(step).unwrap_or(0));
            }
        }
        Ok(out)
    }

    /// Records an acknowledgement. Returns false when the same one was already recorded.
    pub async fn record_ack(
        &self,
        tenant: &str,
        tracking_id: &str,
        ack: &AckRecord,
    ) -> Result<bool, StoreError> {
        let (kind, outcome, reference, reason) = ack.kind.columns();
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query(
            "SELECT outcome, reference, reason FROM acks WHERE tenant = $1 AND tracking_id = $2 \
             AND kind = $3",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(kind)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let same = row.try_get::<String, _>("outcome")? == outcome
                && row.try_get::<Option<String>, _>("reference")?.as_deref() == reference
                && row.try_get::<Option<String>, _>("reason")?.as_deref() == reason;
            if same {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO acks (tenant, tracking_id, kind, outcome, by_whom, at_ms, reference, reason) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (tenant, tracking_id, kind) DO UPDATE SET \
             outcome = excluded.outcome, by_whom = excluded.by_whom, at_ms = excluded.at_ms, \
             reference = excluded.reference, reason = excluded.reason",
        )
        .bind(tenant)
        .bind(tracking_id)
        .bind(kind)
        .bind(outcome)
        .bind(&ack.by)
        .bind(ms(ack.at))
        .bind(reference)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let series: &[&str] = if kind == "reviewed" {
            &["pir_review", "pir_nudge"]
        } else {
            &["claim", "window_closed"]
        };
        for s in series {
            cancel_queued(&mut tx, tenant, tracking_id, s).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The acknowledgements of one incident.
    pub async fn acks(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<Vec<AckRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM acks WHERE tenant = $1 AND tracking_id = $2 ORDER BY at_ms, kind",
        )
        .bind(tenant)
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind = AckKind::from_columns(
                    &r.try_get::<String, _>("kind")?,
                    &r.try_get::<String, _>("outcome")?,
                    r.try_get("reference")?,
                    r.try_get("reason")?,
                )
                .ok_or_else(|| StoreError::Corrupt("unknown acknowledgement".into()))?;
                Ok(AckRecord {
                    kind,
                    by: r.try_get("by_whom")?,
                    at: from_ms(r.try_get("at_ms")?)?,
                })
            })
            .collect()
    }

    /// Every mail about one incident, oldest first.
    pub async fn mails_about(
        &self,
        tenant: &str,
        tracking_id: &str,
    ) -> Result<Vec<MailRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.* FROM outbox o JOIN outbox_incidents oi ON oi.message_id = o.message_id \
             WHERE oi.tenant = $1 AND oi.tracking_id = $2 ORDER BY o.created_ms, o.message_id",
        )
        .bind(tenant)
        .bind(tracking_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let sent: Option<i64> = r.try_get("sent_ms")?;
                Ok(MailRecord {
                    kind: r.try_get("kind")?,
                    series: r.try_get("series")?,
                    state: r.try_get("state")?,
                    subject: r.try_get("subject")?,
                    queued: from_ms(r.try_get("created_ms")?)?.to_string(),
                    sent: opt_ms(sent)?.map(|t| t.to_string()),
                    error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

async fn cancel_queued(
    tx: &mut Tx<'_>,
    tenant: &str,
    tracking_id: &str,
    series: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = 'cancelled' WHERE state = 'queued' AND series = $1 AND \
         message_id IN (SELECT message_id FROM outbox_incidents WHERE tenant = $2 AND tracking_id = $3)",
    )
    .bind(series)
    .bind(tenant)
    .bind(tracking_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AckKind {
    /// The PIR was read.
    Reviewed,
    /// The claim was filed, under this support request.
    Claimed { reference: Option<String> },
    /// No claim will be filed.
    NoClaim { reason: Option<String> },
}

impl AckKind {
    fn columns(&self) -> (&'static str, &'static str, Option<&str>, Option<&str>) {
        match self {
            Self::Reviewed => ("reviewed", "reviewed", None, None),
            Self::Claimed { reference } => ("claim", "claimed", reference.as_deref(), None),
            Self::NoClaim { reason } => ("claim", "declined", None, reason.as_deref()),
        }
    }

    fn from_columns(
        kind: &str,
        outcome: &str,
        reference: Option<String>,
        reason: Option<String>,
    ) -> Option<Self> {
        Some(match (kind, outcome) {
            ("reviewed", _) => Self::Reviewed,
            ("claim", "claimed") => Self::Claimed { reference },
            ("claim", "declined") => Self::NoClaim { reason },
            _ => return None,
        })
    }
}

/// An acknowledgement: what, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AckRecord {
    #[serde(flatten)]
    pub kind: AckKind,
    pub by: String,
    pub at: Timestamp,
}

/// The acknowledgements that stop reminders.
pub fn acks_summary(records: &[AckRecord]) -> Acks {
    Acks {
        reviewed: records.iter().any(|a| a.kind == AckKind::Reviewed),
        claim_decided: records
            .iter()
            .any(|a| matches!(a.kind, AckKind::Claimed { .. } | AckKind::NoClaim { .. })),
    }
}

/// A mail about an incident, for `pirwatch show` and `export`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailRecord {
    pub kind: String,
    pub series: Option<String>,
    pub state: String,
    pub subject: String,
    pub queued: String,
    pub sent: Option<String>,
    pub error: Option<String>,
}

async fn upsert_incident(tx: &mut Tx<'_>, i: &Incident, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incidents (tenant, tracking_id, event_type, status, title, summary, \
         description, article, level, impact_start_ms, mitigated_ms, last_update_ms, pir, \
         false_positive, impacts, subscriptions, first_seen_ms, sensitive, details_unavailable, \
         changed_ms, pir_seen_ms) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21) \
         ON CONFLICT (tenant, tracking_id) DO UPDATE SET event_type = excluded.event_type, \
         status = excluded.status, title = excluded.title, summary = excluded.summary, \
         description = excluded.description, article = excluded.article, level = excluded.level, \
         impact_start_ms = excluded.impact_start_ms, mitigated_ms = excluded.mitigated_ms, \
         last_update_ms = excluded.last_update_ms, pir = excluded.pir, \
         false_positive = excluded.false_positive, impacts = excluded.impacts, \
         subscriptions = excluded.subscriptions, sensitive = excluded.sensitive, \
         details_unavailable = excluded.details_unavailable, changed_ms = excluded.changed_ms, \
         pir_seen_ms = excluded.pir_seen_ms",
    )
    .bind(&i.tenant)
    .bind(&i.tracking_id)
    .bind(i.event_type.as_str())
    .bind(i.status.as_str())
    .bind(&i.title)
    .bind(&i.summary)
    .bind(&i.description)
    .bind(&i.article)
    .bind(&i.level)
    .bind(i.impact_start.map(ms))
    .bind(i.mitigated_at.map(ms))
    .bind(i.last_update.map(ms))
    .bind(i.pir.as_str())
    .bind(i64::from(i.false_positive))
    .bind(json(&i.impacts))
    .bind(json(&i.subscriptions))
    .bind(ms(i.first_seen))
    .bind(i64::from(i.sensitive))
    .bind(i64::from(i.details_unavailable))
    .bind(ms(now))
    .bind(i.pir_seen.map(ms))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_update(tx: &mut Tx<'_>, i: &Incident, u: &Update) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO updates (tenant, tracking_id, published_ms, summary_sha, summary, tags, \
         service, region) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
    )
    .bind(&i.tenant)
    .bind(&i.tracking_id)
    .bind(ms(u.published))
    .bind(sha(&u.summary))
    .bind(&u.summary)
    .bind(json(&u.tags))
    .bind(&u.service)
    .bind(&u.region)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn record_scope(
    tx: &mut Tx<'_>,
    tenant: &str,
    s: &ScopeOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    if s.error.is_none() {
        sqlx::query(
            "INSERT INTO scopes (tenant, scope, first_polled_ms, last_polled_ms, last_error) \
             VALUES ($1, $2, $3, $3, NULL) ON CONFLICT (tenant, scope) DO UPDATE SET \
             last_polled_ms = excluded.last_polled_ms, last_error = NULL",
        )
        .bind(tenant)
        .bind(&s.scope)
        .bind(ms(now))
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query("UPDATE scopes SET last_error = $1 WHERE tenant = $2 AND scope = $3")
            .bind(&s.error)
            .bind(tenant)
            .bind(&s.scope)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn insert_mail(
    tx: &mut Tx<'_>,
    tenant: &str,
    m: &NewMail,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (message_id, tenant, kind, recipients, subject, body_text, body_html, \
         thread_id, created_ms, state, attempts, rejections, not_before_ms, next_attempt_ms, \
         series, step, ics) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'queued',0,0,$10,$9,$11,$12,$13) ON CONFLICT DO NOTHING",
    )
    .bind(&m.message_id)
    .bind(tenant)
    .bind(m.kind.as_str())
    .bind(json(&m.recipients))
    .bind(&m.subject)
    .bind(&m.body_text)
    .bind(&m.body_html)
    .bind(&m.thread_id)
    .bind(ms(now))
    .bind(ms(m.due.max(now)))
    .bind(m.reminder.map(|(s, _)| s.as_str()))
    .bind(m.reminder.map(|(_, n)| i64::from(n)))
    .bind(&m.ics)
    .execute(&mut **tx)
    .await?;
    for id in &m.incidents {
        sqlx::query(
            "INSERT INTO outbox_incidents (message_id, tenant, tracking_id) VALUES ($1,$2,$3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&m.message_id)
        .bind(tenant)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn incident_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Incident, StoreError> {
    Ok(Incident {
        tenant: r.try_get("tenant")?,
        tracking_id: r.try_get("tracking_id")?,
        event_type: r.try_get::<String, _>("event_type")?.into(),
        status: r.try_get::<String, _>("status")?.into(),
        title: r.try_get("title")?,
        summary: r.try_get("summary")?,
        description: r.try_get("description")?,
        article: r.try_get("article")?,
        level: r.try_get("level")?,
        impact_start: opt_ms(r.try_get("impact_start_ms")?)?,
        mitigated_at: opt_ms(r.try_get("mitigated_ms")?)?,
        last_update: opt_ms(r.try_get("last_update_ms")?)?,
        pir: PirState::parse(&r.try_get::<String, _>("pir")?),
        pir_seen: opt_ms(r.try_get("pir_seen_ms")?)?,
        false_positive: r.try_get::<i64, _>("false_positive")? != 0,
        impacts: from_json(&r.try_get::<String, _>("impacts")?)?,
        subscriptions: from_json(&r.try_get::<String, _>("subscriptions")?)?,
        updates: Vec::new(),
        first_seen: from_ms(r.try_get("first_seen_ms")?)?,
        sensitive: r.try_get::<i64, _>("sensitive")? != 0,
        details_unavailable: r.try_get::<i64, _>("details_unavailable")? != 0,
    })
}
