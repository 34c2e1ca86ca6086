-- pirwatch's durable state. Portable SQL (TEXT, BIGINT, $N placeholders) so that a PostgreSQL
-- backend can run the same statements. Times are BIGINT Unix epoch milliseconds (UTC);
-- lists and maps are JSON in TEXT columns.

CREATE TABLE incidents (
    tenant              TEXT   NOT NULL,
    tracking_id         TEXT   NOT NULL,
    event_type          TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    title               TEXT   NOT NULL,
    summary             TEXT,
    description         TEXT,
    article             TEXT,
    level               TEXT,
    impact_start_ms     BIGINT,
    mitigated_ms        BIGINT,
    last_update_ms      BIGINT,
    pir                 TEXT   NOT NULL,
    pir_seen_ms         BIGINT,
    false_positive      BIGINT NOT NULL,
    impacts             TEXT   NOT NULL,
    subscriptions       TEXT   NOT NULL,
    first_seen_ms       BIGINT NOT NULL,
    sensitive           BIGINT NOT NULL,
    details_unavailable BIGINT NOT NULL,
    changed_ms          BIGINT NOT NULL,
    PRIMARY KEY (tenant, tracking_id)
);

-- Every communication ever seen; Azure forgets them after 90 days.
CREATE TABLE updates (
    tenant       TEXT   NOT NULL,
    tracking_id  TEXT   NOT NULL,
    published_ms BIGINT NOT NULL,
    summary_sha  TEXT   NOT NULL,
    summary      TEXT   NOT NULL,
    tags         TEXT   NOT NULL,
    service      TEXT   NOT NULL,
    region       TEXT   NOT NULL,
    PRIMARY KEY (tenant, tracking_id, published_ms, summary_sha)
);

-- One row per polled scope (a subscription id, or 'tenant').
CREATE TABLE scopes (
    tenant          TEXT   NOT NULL,
    scope           TEXT   NOT NULL,
    first_polled_ms BIGINT NOT NULL,
    last_polled_ms  BIGINT NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (tenant, scope)
);

-- The outbox: a mail is written here in the same transaction as the change that causes it,
-- and marked sent only after the SMTP server accepted it.
CREATE TABLE outbox (
    message_id      TEXT   PRIMARY KEY,
    tenant          TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    recipients      TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    body_text       TEXT   NOT NULL,
    body_html       TEXT   NOT NULL,
    thread_id       TEXT,
    created_ms      BIGINT NOT NULL,
    state           TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    rejections      BIGINT NOT NULL,
    -- Not before this (working hours, for reminders and digests) ...
    not_before_ms   BIGINT NOT NULL,
    -- ... and not before the retry backoff says so.
    next_attempt_ms BIGINT NOT NULL,
    last_error      TEXT,
    sent_ms         BIGINT,
    -- Reminders: their series (pir_review, claim, window_closed, pir_nudge) and step.
    series          TEXT,
    step            BIGINT,
    -- An iCalendar attachment (the claim deadline), if any.
    ics             TEXT
);
CREATE INDEX outbox_due ON outbox (state, not_before_ms);

-- Which incidents a mail is about (one for incident mails, several for a digest).
CREATE TABLE outbox_incidents (
    message_id  TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    tracking_id TEXT NOT NULL,
    PRIMARY KEY (message_id, tenant, tracking_id)
);
CREATE INDEX outbox_incidents_by_incident ON outbox_incidents (tenant, tracking_id);

-- What the team acknowledged: kind 'reviewed' (the PIR) or 'claim' (outcome 'claimed' or
-- 'declined'). One row per kind; acknowledging again changes nothing.
CREATE TABLE acks (
    tenant      TEXT   NOT NULL,
    tracking_id TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    by_whom     TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    reference   TEXT,
    reason      TEXT,
    PRIMARY KEY (tenant, tracking_id, kind)
);
