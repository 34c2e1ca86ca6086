-- Issue 12: subscriptions found by themselves (`subscriptions = "all"`). What each entry's last
-- discovery found, so every command (and a restart) sees the same tenants; a subscription that
-- disappears is marked gone once (no longer polled; its incidents stay).
CREATE TABLE discovered_subscriptions (
    entry         TEXT   NOT NULL,
    subscription  TEXT   NOT NULL,
    display_name  TEXT   NOT NULL,
    home_tenant   TEXT   NOT NULL,
    home_name     TEXT,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    -- Set when a discovery no longer found it.
    gone_ms       BIGINT,
    PRIMARY KEY (entry, subscription)
);

-- When each entry's discovery last succeeded.
CREATE TABLE discoveries (
    entry   TEXT   PRIMARY KEY,
    last_ms BIGINT NOT NULL
);
