//! Notices to the operators about pirwatch's own blind spots — a scope not polled successfully
//! for `operator_alert_after`, a tenant whose credential keeps failing, a delivery given up on.
//! Pure: the daemon hands in what the store knows and `now`. One notice per cause when it
//! starts, then one a day while it lasts (the day is part of the key), never a flood.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::incident::TenantName;
use crate::incident::notice::{Notice, NoticeKind, OperatorCause, PlannedDelivery, Receiver};
use crate::notify::message_id::MessageIds;

/// A scope failing since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingScope {
    pub tenant: String,
    pub scope: String,
    pub since: Timestamp,
    pub error: String,
    /// The failure is the tenant's sign-in, not the scope.
    pub credential: bool,
}

/// A delivery given up on (for everyone, or for some recipients) that nobody dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenUp {
    pub tenant: String,
    pub message_id: String,
    pub not_reached: Vec<String>,
    pub error: String,
}

/// The operator notices due at `now`.
pub fn plan(
    failing: &[FailingScope],
    given_up: &[GivenUp],
    alert_after: Duration,
    ids: &MessageIds,
    now: Timestamp,
) -> Vec<Notice> {
    let after = SignedDuration::try_from(alert_after).unwrap_or(SignedDuration::MAX);
    let day = |since: Timestamp| -> Option<i64> {
        let late = now.duration_since(since).checked_sub(after)?;
        (!late.is_negative()).then(|| late.as_hours() / 24)
    };
    let mut by_tenant: BTreeMap<&str, Vec<&FailingScope>> = BTreeMap::new();
    for f in failing {
        by_tenant.entry(&f.tenant).or_default().push(f);
    }
    let mut out = Vec::new();
    for (tenant, scopes) in by_tenant {
        if scopes.iter().all(|s| s.credential) {
            let since = scopes.iter().map(|s| s.since).min().unwrap_or(now);
            if let Some(d) = day(since) {
                let cause = OperatorCause::CredentialFailing {
                    tenant: tenant.to_owned(),
                    since,
                    error: scopes[0].error.clone(),
                };
                out.push(notice(ids, tenant, "credential", &[tenant], d, cause, now));
            }
            continue;
        }
        for s in scopes {
            if let Some(d) = day(s.since) {
                let cause = OperatorCause::ScopeNotPolled {
                    tenant: tenant.to_owned(),
                    scope: s.scope.clone(),
                    since: s.since,
                    error: s.error.clone(),
                };
                out.push(notice(
                    ids,
                    tenant,
                    "scope",
                    &[tenant, &s.scope],
                    d,
                    cause,
                    now,
                ));
            }
        }
    }
    for g in given_up {
        let cause = OperatorCause::DeliveryFailed {
            tenant: g.tenant.clone(),
            message_id: g.message_id.clone(),
            not_reached: g.not_reached.clone(),
            error: g.error.clone(),
        };
        out.push(notice(
            ids,
            &g.tenant,
            "delivery",
            &[&g.message_id],
            0,
            cause,
            now,
        ));
    }
    out
}

fn notice(
    ids: &MessageIds,
    tenant: &str,
    cause: &str,
    about: &[&str],
    day: i64,
    operator: OperatorCause,
    now: Timestamp,
) -> Notice {
    let key = ids.operator(cause, about, day);
    let message_id = ids.message_id(&key, &Receiver::Operators);
    Notice {
        key,
        tenant: TenantName::from(tenant),
        kind: NoticeKind::Operator,
        incidents: Vec::new(),
        follow_ups: Vec::new(),
        updates_from: None,
        operator: Some(operator),
        not_before: now,
        deliveries: vec![PlannedDelivery::immediate(Receiver::Operators, message_id)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn failing(tenant: &str, scope: &str, since: &str, credential: bool) -> FailingScope {
        FailingScope {
            tenant: tenant.into(),
            scope: scope.into(),
            since: ts(since),
            error: "boom".into(),
            credential,
        }
    }

    fn keys(n: &[Notice]) -> Vec<String> {
        let mut k: Vec<String> = n.iter().map(|n| n.key.clone()).collect();
        k.sort();
        k
    }

    #[test]
    fn one_notice_per_cause_when_it_starts_then_one_a_day() {
        let ids = MessageIds::new("example.com");
        let two_hours = Duration::from_secs(7200);
        let f = [
            failing("contoso", "sub-a", "2026-11-01T08:00:00Z", false),
            failing("fabrikam", "sub-b", "2026-11-01T08:00:00Z", true),
            failing("fabrikam", "sub-c", "2026-11-01T09:00:00Z", true),
        ];
        // (now) → notices
        let cases: [(&str, &[&str]); 4] = [
            ("2026-11-01T09:59:00Z", &[]),
            (
                "2026-11-01T10:00:00Z",
                &[
                    "operator.credential.fabrikam.day-0",
                    "operator.scope.contoso.sub-a.day-0",
                ],
            ),
            (
                "2026-11-02T09:00:00Z",
                &[
                    "operator.credential.fabrikam.day-0",
                    "operator.scope.contoso.sub-a.day-0",
                ],
            ),
            (
                "2026-11-02T10:00:00Z",
                &[
                    "operator.credential.fabrikam.day-1",
                    "operator.scope.contoso.sub-a.day-1",
                ],
            ),
        ];
        for (now, want) in cases {
            let got = plan(&f, &[], two_hours, &ids, ts(now));
            assert_eq!(keys(&got), want.to_vec(), "at {now}");
        }
    }

    #[test]
    fn a_tenant_failing_partly_at_sign_in_is_told_per_scope() {
        let ids = MessageIds::new("example.com");
        let f = [
            failing("t", "a", "2026-11-01T08:00:00Z", true),
            failing("t", "b", "2026-11-01T08:00:00Z", false),
        ];
        let got = plan(
            &f,
            &[],
            Duration::from_secs(60),
            &ids,
            ts("2026-11-01T09:00:00Z"),
        );
        assert_eq!(
            keys(&got),
            ["operator.scope.t.a.day-0", "operator.scope.t.b.day-0"]
        );
        let g = GivenUp {
            tenant: "t".into(),
            message_id: "<x@example.com>".into(),
            not_reached: vec!["a@b.example".into()],
            error: "550".into(),
        };
        let got = plan(
            &[],
            &[g],
            Duration::from_secs(60),
            &ids,
            ts("2026-11-01T09:00:00Z"),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].deliveries[0].receiver, Receiver::Operators);
        assert!(matches!(
            got[0].operator,
            Some(OperatorCause::DeliveryFailed { .. })
        ));
    }
}
