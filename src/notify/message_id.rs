//! The Message-ID scheme, owned by one type. A notice's key names what it is about — tenant,
//! tracking id, kind and step, each part encoded injectively ([`encode_token`]) and joined by
//! `.` (which the encoding never emits) — so two tenants can never share an id, and no poll
//! time is inside it: the same notice planned twice folds into one outbox row.

use crate::incident::ids::encode_token;
use jiff::civil::Date;

use crate::incident::notice::Receiver;
use crate::incident::{MessageId, NoticeKind, PirState, TenantName, TrackingId};

/// Makes notice keys and `Message-ID`s under one mail domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIds {
    domain: String,
}

impl MessageIds {
    /// Ids under `domain` (the `From` address's domain).
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_owned(),
        }
    }

    fn about(tenant: &TenantName, tracking_id: &TrackingId, what: &str) -> String {
        format!(
            "{}.{}.{what}",
            encode_token(tracking_id),
            encode_token(tenant)
        )
    }

    /// The key of a mail about one incident. `stamp` tells repeated kinds apart (an update
    /// mail: the publication time of the newest update it reports, in ms).
    pub fn incident(
        &self,
        kind: NoticeKind,
        tenant: &TenantName,
        tracking_id: &TrackingId,
        pir: PirState,
        stamp: Option<i64>,
    ) -> String {
        let what = match (kind, stamp) {
            // The first mail about an incident is its thread's root.
            (NoticeKind::New, _) => "incident".to_owned(),
            (NoticeKind::Pir, _) => format!("pir-{}", pir.as_str()),
            (k, Some(n)) => format!("{}-{n}", k.as_str()),
            (k, None) => k.as_str().to_owned(),
        };
        Self::about(tenant, tracking_id, &what)
    }

    /// The key of the follow-up mail about an incident on `day` (the team's date it goes
    /// out): there is at most one a day.
    pub fn follow_up(&self, tenant: &TenantName, tracking_id: &TrackingId, day: Date) -> String {
        Self::about(
            tenant,
            tracking_id,
            &format!("followup-{}", day.strftime("%Y%m%d")),
        )
    }

    /// The key of a digest of `incidents`: the same set gives the same key.
    pub fn digest(&self, tenant: &TenantName, incidents: &[TrackingId]) -> String {
        use sha2::{Digest, Sha256};
        let mut ids: Vec<&str> = incidents.iter().map(|i| i.as_str()).collect();
        ids.sort_unstable();
        let mut h = Sha256::new();
        for id in ids {
            h.update(id.as_bytes());
            h.update([0]);
        }
        let hex: String = h
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}.digest-{hex}", encode_token(tenant))
    }

    /// The key of an operator notice: its cause and what it is about, on its `day`-th day (one
    /// notice when it starts, then one a day while it lasts).
    pub fn operator(&self, cause: &str, about: &[&str], day: i64) -> String {
        let about: Vec<String> = about.iter().map(|a| encode_token(a)).collect();
        format!("operator.{cause}.{}.day-{day}", about.join("."))
    }

    /// The `Message-ID` of the digest `receiver` gets at `at`: every member of it was planned
    /// before `at`, so the same digest always has the same id.
    pub fn route_digest(&self, receiver: &Receiver, at: jiff::Timestamp) -> MessageId {
        MessageId::new(format!(
            "<digest.{}.{}@{}>",
            encode_token(&receiver.as_str()),
            at.as_millisecond(),
            self.domain
        ))
    }

    /// The `Message-ID` of a notice's delivery to `receiver`.
    pub fn message_id(&self, key: &str, receiver: &Receiver) -> MessageId {
        match receiver {
            Receiver::TenantRecipients => MessageId::new(format!("<{key}@{}>", self.domain)),
            Receiver::Operators => MessageId::new(format!("<{key}.operators@{}>", self.domain)),
            Receiver::Route(name) => MessageId::new(format!(
                "<{key}.route-{}@{}>",
                encode_token(name),
                self.domain
            )),
            Receiver::Fallback => MessageId::new(format!("<{key}.fallback@{}>", self.domain)),
            Receiver::Webhook(name) => MessageId::new(format!(
                "<{key}.webhook-{}@{}>",
                encode_token(name),
                self.domain
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect 1 of issue 7: ids collided across tenants whose names differ only in
    /// punctuation, and the second tenant's mail was dropped.
    #[test]
    fn ids_never_collide_across_tenants_and_ignore_the_poll_time() {
        let ids = MessageIds::new("example.com");
        let tid = TrackingId::from("BC_1-FXZ");
        let mut seen = std::collections::BTreeSet::new();
        for tenant in ["acme.eu", "acme-eu", "acme_eu", "acme eu"] {
            let t = TenantName::from(tenant);
            for kind in [NoticeKind::New, NoticeKind::Resolved, NoticeKind::Update] {
                let key = ids.incident(kind, &t, &tid, PirState::None, Some(5));
                assert!(seen.insert(ids.message_id(&key, &Receiver::TenantRecipients)));
            }
            let day = jiff::civil::date(2026, 12, 17);
            assert!(seen.insert(
                ids.message_id(&ids.follow_up(&t, &tid, day), &Receiver::TenantRecipients)
            ));
            assert!(seen.insert(ids.message_id(
                &ids.digest(&t, std::slice::from_ref(&tid)),
                &Receiver::TenantRecipients
            )));
        }
        assert_eq!(
            ids.message_id(
                &ids.incident(
                    NoticeKind::New,
                    &"contoso".into(),
                    &tid,
                    PirState::None,
                    None
                ),
                &Receiver::TenantRecipients
            )
            .as_str(),
            "<BC_1-FXZ.contoso.incident@example.com>"
        );
        // Stable: the same notice gives the same id, a digest of the same set too.
        let t = TenantName::from("t");
        let a = ids.digest(&t, &["A".into(), "B".into()]);
        assert_eq!(a, ids.digest(&t, &["B".into(), "A".into()]));
        assert_ne!(a, ids.digest(&t, &["A".into()]));
        // A tracking id that contains a tenant-looking part cannot forge another's key.
        assert_ne!(
            ids.incident(
                NoticeKind::New,
                &"b".into(),
                &"a.x".into(),
                PirState::None,
                None
            ),
            ids.incident(
                NoticeKind::New,
                &"x.b".into(),
                &"a".into(),
                PirState::None,
                None
            ),
        );
    }
}
