-- Issue 12: claim evidence. The resources Resource Health lists as impacted by an incident, each
-- resource's availability history over it, and what was fetched when (so a steady cycle refetches
-- nothing: impacted resources again only when the event's lastUpdateTime changed, or once after
-- it was resolved; availability once, soon after mitigation).
CREATE TABLE impacted_resources (
    tenant        TEXT   NOT NULL,
    tracking_id   TEXT   NOT NULL,
    -- targetResourceId, or the entry's name when Azure gives only `info`.
    resource_id   TEXT   NOT NULL,
    resource_type TEXT,
    region        TEXT,
    -- The subscription it was listed under; NULL for the tenant scope.
    subscription  TEXT,
    -- Azure's `info` entries as a JSON array of [key, value].
    info          TEXT   NOT NULL DEFAULT '[]',
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant, tracking_id, resource_id)
);

CREATE TABLE resource_availability (
    tenant      TEXT   NOT NULL,
    tracking_id TEXT   NOT NULL,
    resource_id TEXT   NOT NULL,
    -- Available, Unavailable, Degraded or Unknown: the state from since_ms on.
    state       TEXT   NOT NULL,
    since_ms    BIGINT NOT NULL,
    summary     TEXT,
    PRIMARY KEY (tenant, tracking_id, resource_id, since_ms)
);

CREATE TABLE evidence_fetches (
    tenant                   TEXT   NOT NULL,
    tracking_id              TEXT   NOT NULL,
    -- The event's lastUpdateTime the impacted resources were fetched for.
    resources_for_ms         BIGINT,
    -- 1 once fetched again after the incident was resolved.
    resources_after_resolved BIGINT NOT NULL DEFAULT 0,
    resources_error          TEXT,
    -- When availability histories were fetched (after mitigation).
    availability_ms          BIGINT,
    -- Until when those histories are known (the fetch time).
    availability_error       TEXT,
    PRIMARY KEY (tenant, tracking_id)
);

-- A filed claim's answer: `ack --claim-outcome approved|denied [--credit AMOUNT]` is an ack of
-- kind 'claim_outcome' (outcome 'approved' or 'denied') with the credit granted, if any.
ALTER TABLE acks ADD COLUMN credit TEXT;
