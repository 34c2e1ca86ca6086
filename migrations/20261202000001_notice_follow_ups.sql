-- Issue 9: one follow-up mail per incident a day. A notice now carries every follow-up of its
-- incident that it accounts for (several reminders due the same day in one mail, or the day's
-- follow-ups folded into a new-incident, update, resolved or PIR mail), instead of at most one
-- series/step pair on the notice itself.
CREATE TABLE notification_follow_ups (
    key    TEXT NOT NULL,
    -- pir_review, claim, sla_claim, window_closed or pir_nudge, and the step (final-2, d14, once).
    series TEXT NOT NULL,
    step   TEXT NOT NULL,
    PRIMARY KEY (key, series, step)
);

INSERT INTO notification_follow_ups (key, series, step)
    SELECT key, series, step FROM notifications WHERE series IS NOT NULL AND step IS NOT NULL;

DROP INDEX notifications_by_tenant;
ALTER TABLE notifications DROP COLUMN series;
ALTER TABLE notifications DROP COLUMN step;
CREATE INDEX notifications_by_tenant ON notifications (tenant, kind);

-- Issue 10: acknowledgements say where they came from: `cli` (pirwatch ack) or `web` (the page a
-- signed link in a mail led to, with the receiver that mail went to).
ALTER TABLE acks ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE acks ADD COLUMN receiver TEXT;
