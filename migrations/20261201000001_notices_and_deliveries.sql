-- Issue 7: the outbox becomes notifications (what to tell, stored typed and rendered when it is
-- sent) plus one delivery row per receiver; the PIR review is acknowledged per PIR stage; an
-- incident remembers whether the team was ever told about it.

-- 1 for every incident stored before: they followed the old rules, which announced them.
ALTER TABLE incidents ADD COLUMN announced BIGINT NOT NULL DEFAULT 1;

-- 'reviewed' becomes 'reviewed_<stage>': the stage the incident had when it was acknowledged
-- (an acknowledgement given before any PIR covers every stage).
UPDATE acks SET kind = 'reviewed_' || COALESCE(
    (SELECT CASE i.pir WHEN 'preliminary' THEN 'preliminary' ELSE 'final' END
       FROM incidents i WHERE i.tenant = acks.tenant AND i.tracking_id = acks.tracking_id),
    'final')
 WHERE kind = 'reviewed';

-- Scopes remember failures too, so a scope failing for long reaches the operators: a scope never
-- polled successfully has no first/last poll; `failing_since_ms` is set while it fails.
CREATE TABLE scopes_v2 (
    tenant             TEXT   NOT NULL,
    scope              TEXT   NOT NULL,
    first_polled_ms    BIGINT,
    last_polled_ms     BIGINT,
    last_error         TEXT,
    failing_since_ms   BIGINT,
    -- 1 when the last failure was the tenant's credential (sign-in), not the scope.
    credential_failure BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, scope)
);
INSERT INTO scopes_v2 (tenant, scope, first_polled_ms, last_polled_ms, last_error)
SELECT tenant, scope, first_polled_ms, last_polled_ms, last_error FROM scopes;
DROP TABLE scopes;
ALTER TABLE scopes_v2 RENAME TO scopes;

-- A notice, identified by what it is about (never by when it was planned).
CREATE TABLE notifications (
    key             TEXT   PRIMARY KEY,
    tenant          TEXT   NOT NULL,
    -- new, update, resolved, pir, false_positive, digest, reminder
    kind            TEXT   NOT NULL,
    -- Reminders: pir_review, claim, window_closed or pir_nudge, and the step (final-2, d14, once).
    series          TEXT,
    step            TEXT,
    -- Update mails: the updates published from this instant on are the news.
    updates_from_ms BIGINT,
    -- Operator notices: what is wrong (JSON).
    operator_cause  TEXT,
    planned_ms      BIGINT NOT NULL,
    -- Not before this (working hours, for reminders and digests).
    not_before_ms   BIGINT NOT NULL
);
CREATE INDEX notifications_by_tenant ON notifications (tenant, series);

-- Which incidents a notice is about (one, or several for a digest).
CREATE TABLE notification_incidents (
    key         TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    tracking_id TEXT NOT NULL,
    PRIMARY KEY (key, tenant, tracking_id)
);
CREATE INDEX notification_incidents_by_incident ON notification_incidents (tenant, tracking_id);

-- One row per notice and receiver: its own Message-ID, state, retries and outcome.
CREATE TABLE deliveries (
    key             TEXT   NOT NULL,
    receiver        TEXT   NOT NULL,
    message_id      TEXT   NOT NULL UNIQUE,
    -- queued, sent, failed or superseded
    state           TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    rejections      BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error      TEXT,
    sent_ms         BIGINT,
    -- The subject it was sent (or superseded) with, for the record.
    subject         TEXT,
    -- A failed delivery an operator has dealt with (`pirwatch outbox dismiss`).
    dismissed_by    TEXT,
    dismissed_ms    BIGINT,
    PRIMARY KEY (key, receiver)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_ms);

-- Each recipient address of a delivery: one rejected address never stops the others. An
-- address with no row has not been tried yet.
CREATE TABLE delivery_recipients (
    key        TEXT   NOT NULL,
    receiver   TEXT   NOT NULL,
    address    TEXT   NOT NULL,
    -- sent, deferred (a temporary failure), rejected (permanently, counting) or failed (given up)
    state      TEXT   NOT NULL,
    rejections BIGINT NOT NULL,
    last_error TEXT,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (key, receiver, address)
);

-- One row, rewritten before each delivery round: a store that cannot take this write (disk
-- full, read-only) cannot record a delivery either, so nothing is sent until it can.
CREATE TABLE write_probe (
    id    BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL
);

-- The old outbox, carried over. Its reminder steps were positions in a list: positions of the
-- default claim schedule (14, 7, 3, 1 days) map to what they were; review steps to the Final
-- stage. Each old mail is its own notice, keyed by its Message-ID.
INSERT INTO notifications (key, tenant, kind, series, step, updates_from_ms, planned_ms, not_before_ms)
SELECT message_id, tenant, kind, series,
       CASE series
           WHEN 'pir_review' THEN 'final-' || step
           WHEN 'claim' THEN CASE step WHEN 1 THEN 'd14' WHEN 2 THEN 'd7' WHEN 3 THEN 'd3' ELSE 'd1' END
           WHEN 'window_closed' THEN 'once'
           WHEN 'pir_nudge' THEN 'once'
       END,
       NULL, created_ms, not_before_ms
  FROM outbox;
INSERT INTO notification_incidents (key, tenant, tracking_id)
SELECT message_id, tenant, tracking_id FROM outbox_incidents;
INSERT INTO deliveries (key, receiver, message_id, state, attempts, rejections, next_attempt_ms,
                        last_error, sent_ms, subject)
SELECT message_id, 'tenant', message_id,
       CASE state WHEN 'cancelled' THEN 'superseded' ELSE state END,
       attempts, rejections, next_attempt_ms, last_error, sent_ms, subject
  FROM outbox;
DROP TABLE outbox_incidents;
DROP TABLE outbox;
