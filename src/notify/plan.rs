//! Planning: which notices a poll's observations and the due follow-ups cause. Pure — the
//! analogue of Alertmanager's dedup decision — with `now` passed in and table tests below.
//!
//! At most one mail per incident per poll (the most significant change wins, so a PIR mail
//! also says the incident is resolved); history found by a first poll is summed up in one
//! digest or recorded silently; reminders wait for the team's working hours.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::followup::schedule::Reminder;
use crate::followup::{ClaimStatus, TenantPolicy, assess};
use crate::incident::ack::Acks;
use crate::incident::notice::{Notice, Receiver};
use crate::incident::{Change, NoticeKind, TenantName, TrackingId};
use crate::notify::message_id::MessageIds;
use crate::tracker::Observation;

/// What to do about an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Send one mail of this kind.
    Mail(NoticeKind),
    /// List it in the first-poll digest.
    Digest,
    /// Record it, send nothing.
    Silent,
}

/// The one mail for a set of changes found in one poll: it speaks of the latest state, so the
/// most significant change wins.
pub fn kind_for_changes(changes: &[Change]) -> Option<NoticeKind> {
    let rank = |c: &Change| match c {
        Change::FalsePositive => (5, NoticeKind::FalsePositive),
        Change::Pir(_) => (4, NoticeKind::Pir),
        Change::Resolved => (3, NoticeKind::Resolved),
        Change::New => (2, NoticeKind::New),
        Change::Updated { .. } => (1, NoticeKind::Update),
    };
    changes
        .iter()
        .map(rank)
        .max_by_key(|(r, _)| *r)
        .map(|(_, k)| k)
}

/// Decides the mail. `notifiable`: its event type sends mail; `follow_up_open`: there is still
/// something to do about it (its claim window is open).
pub fn disposition(o: &Observation, notifiable: bool, follow_up_open: bool) -> Disposition {
    if !notifiable || o.was_false_positive {
        return Disposition::Silent;
    }
    if o.via_first_poll {
        return if o.incident.false_positive {
            Disposition::Silent
        } else if !o.incident.is_resolved() {
            Disposition::Mail(NoticeKind::New)
        } else if follow_up_open {
            Disposition::Digest
        } else {
            Disposition::Silent
        };
    }
    kind_for_changes(&o.changes).map_or(Disposition::Silent, Disposition::Mail)
}

/// Plans the notices of one tenant.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    pub tenant: &'a TenantName,
    pub policy: &'a TenantPolicy,
    pub ids: &'a MessageIds,
}

impl Planner<'_> {
    /// The notices a poll's observations cause: at most one per incident, plus one digest.
    /// Marks each incident a notice is planned for as announced (it then has follow-ups).
    pub fn observations(&self, observations: &mut [Observation], now: Timestamp) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut digest = Vec::new();
        for o in observations.iter_mut() {
            let notifiable = self.policy.notifies(&o.incident.event_type);
            let open = !o.incident.false_positive
                && matches!(
                    assess(
                        &o.incident,
                        &Acks::default(),
                        &BTreeSet::new(),
                        self.policy,
                        now
                    )
                    .claim,
                    ClaimStatus::Open(_)
                );
            match disposition(o, notifiable, open) {
                Disposition::Silent => {}
                Disposition::Digest => {
                    o.incident.announced = true;
                    digest.push(o.incident.tracking_id.clone());
                }
                Disposition::Mail(kind) => {
                    o.incident.announced = true;
                    notices.push(self.incident_notice(kind, o, now));
                }
            }
        }
        if !digest.is_empty() {
            let key = self.ids.digest(self.tenant, &digest);
            notices.push(self.notice(key, NoticeKind::Digest, digest, self.working_time(now)));
        }
        notices
    }

    fn incident_notice(&self, kind: NoticeKind, o: &Observation, now: Timestamp) -> Notice {
        let i = &o.incident;
        let newest = o.new_updates.iter().map(|u| u.published).max();
        let stamp = match kind {
            NoticeKind::Update | NoticeKind::Resolved => {
                newest.or(i.last_update).map(|t| t.as_millisecond())
            }
            _ => None,
        };
        let key = self
            .ids
            .incident(kind, self.tenant, &i.tracking_id, i.pir, stamp);
        let mut n = self.notice(key, kind, vec![i.tracking_id.clone()], now);
        n.updates_from = o.new_updates.iter().map(|u| u.published).min();
        n
    }

    /// One notice per due reminder, each waiting for the team's working hours.
    pub fn reminders(&self, due: &[(TrackingId, Reminder)], now: Timestamp) -> Vec<Notice> {
        due.iter()
            .map(|(id, r)| {
                let key = self.ids.reminder(self.tenant, id, r.key);
                let mut n = self.notice(
                    key,
                    NoticeKind::Reminder,
                    vec![id.clone()],
                    self.working_time(now),
                );
                n.reminder = Some(r.key);
                n
            })
            .collect()
    }

    fn working_time(&self, now: Timestamp) -> Timestamp {
        self.policy.calendar.next_open_instant(now)
    }

    fn notice(
        &self,
        key: String,
        kind: NoticeKind,
        incidents: Vec<TrackingId>,
        not_before: Timestamp,
    ) -> Notice {
        let receiver = Receiver::TenantRecipients;
        let message_id = self.ids.message_id(&key, &receiver);
        Notice {
            key,
            tenant: self.tenant.clone(),
            kind,
            incidents,
            reminder: None,
            updates_from: None,
            operator: None,
            not_before,
            deliveries: vec![(receiver, message_id)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::calendar::test_calendar;
    use crate::followup::claim::ClaimPolicy;
    use crate::followup::schedule::ReminderPolicy;
    use crate::incident::notice::{ReminderKey, Series, Step};
    use crate::incident::{EventType, Incident, PirState, Update};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn policy() -> TenantPolicy {
        TenantPolicy {
            calendar: test_calendar(),
            claim: ClaimPolicy {
                billing_start_day: 1,
                ..Default::default()
            },
            reminders: ReminderPolicy::default(),
            notify_event_types: [EventType::ServiceIssue, EventType::SecurityAdvisory].into(),
        }
    }

    fn incident(id: &str, resolved: bool) -> Incident {
        let mut i = crate::followup::test_incident("2026-11-02T10:00:00Z");
        i.tracking_id = id.into();
        i.announced = false;
        if !resolved {
            i.status = "Active".into();
        }
        i
    }

    fn observation(i: Incident, changes: Vec<Change>, first_poll: bool) -> Observation {
        Observation {
            incident: i,
            new_updates: Vec::new(),
            changes,
            via_first_poll: first_poll,
            was_false_positive: false,
        }
    }

    fn plan(obs: &mut [Observation], now: &str) -> Vec<(NoticeKind, Vec<String>, String)> {
        let p = policy();
        let ids = MessageIds::new("example.com");
        let tenant = TenantName::from("contoso");
        let planner = Planner {
            tenant: &tenant,
            policy: &p,
            ids: &ids,
        };
        planner
            .observations(obs, ts(now))
            .into_iter()
            .map(|n| {
                let ids = n.incidents.iter().map(|i| i.to_string()).collect();
                (n.kind, ids, n.deliveries[0].1.to_string())
            })
            .collect()
    }

    #[test]
    fn the_most_significant_change_picks_the_mail() {
        use Change::*;
        let cases: [(&[Change], Option<NoticeKind>); 5] = [
            (&[], None),
            (&[Updated { count: 1 }], Some(NoticeKind::Update)),
            (&[New, Updated { count: 2 }], Some(NoticeKind::New)),
            (
                &[Resolved, Pir(PirState::Final), Updated { count: 1 }],
                Some(NoticeKind::Pir),
            ),
            (
                &[Pir(PirState::Final), FalsePositive],
                Some(NoticeKind::FalsePositive),
            ),
        ];
        for (changes, want) in cases {
            assert_eq!(kind_for_changes(changes), want, "{changes:?}");
        }
    }

    #[test]
    fn dispositions() {
        use Change::*;
        // (resolved, changes, first poll, notifiable, open, was false positive) → disposition
        let cases = [
            (
                false,
                vec![New],
                false,
                true,
                true,
                false,
                Disposition::Mail(NoticeKind::New),
            ),
            (
                false,
                vec![New],
                true,
                true,
                false,
                false,
                Disposition::Mail(NoticeKind::New),
            ),
            (
                true,
                vec![New, Resolved],
                true,
                true,
                true,
                false,
                Disposition::Digest,
            ),
            (
                true,
                vec![New, Resolved],
                true,
                true,
                false,
                false,
                Disposition::Silent,
            ),
            (
                false,
                vec![New],
                false,
                false,
                true,
                false,
                Disposition::Silent,
            ),
            (
                false,
                vec![Updated { count: 1 }],
                false,
                true,
                true,
                true,
                Disposition::Silent,
            ),
            (false, vec![], false, true, true, false, Disposition::Silent),
        ];
        for (resolved, changes, first, notifiable, open, was_fp, want) in cases {
            let mut o = observation(incident("X", resolved), changes.clone(), first);
            o.was_false_positive = was_fp;
            assert_eq!(
                disposition(&o, notifiable, open),
                want,
                "{changes:?} first={first}"
            );
        }
    }

    #[test]
    fn a_first_poll_mails_active_incidents_digests_open_ones_and_records_the_rest() {
        let mut obs = vec![
            observation(incident("ACTIVE", false), vec![Change::New], true),
            observation(
                incident("OPEN", true),
                vec![Change::New, Change::Resolved],
                true,
            ),
            // Impact in January: the claim window closed in March.
            {
                let mut i = incident("OLD", true);
                i.impact_start = Some(ts("2026-01-05T10:00:00Z"));
                observation(i, vec![Change::New, Change::Resolved], true)
            },
        ];
        let got = plan(&mut obs, "2026-11-03T10:00:00Z");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, NoticeKind::New);
        assert_eq!(got[0].2, "<ACTIVE.contoso.incident@example.com>");
        assert_eq!(got[1].0, NoticeKind::Digest);
        assert_eq!(got[1].1, ["OPEN"]);
        let announced: Vec<bool> = obs.iter().map(|o| o.incident.announced).collect();
        assert_eq!(
            announced,
            [true, true, false],
            "the silent one gets no follow-ups"
        );
    }

    #[test]
    fn update_mails_are_keyed_by_the_news_they_carry_not_the_poll_time() {
        let update = |at: &str| Update {
            published: ts(at),
            summary: "<p>x</p>".into(),
            tags: Default::default(),
            service: "s".into(),
            region: "r".into(),
        };
        let obs = |at: &str| {
            let mut o = observation(
                incident("X", false),
                vec![Change::Updated { count: 1 }],
                false,
            );
            o.new_updates = vec![update(at)];
            o
        };
        let a = plan(&mut [obs("2026-11-02T11:00:00Z")], "2026-11-02T11:05:00Z");
        let again = plan(&mut [obs("2026-11-02T11:00:00Z")], "2026-11-02T11:35:00Z");
        let next = plan(&mut [obs("2026-11-02T12:00:00Z")], "2026-11-02T12:05:00Z");
        assert_eq!(a, again, "the same news planned twice is one notice");
        assert_ne!(a[0].2, next[0].2);
    }

    #[test]
    fn reminders_wait_for_working_hours() {
        let p = policy();
        let ids = MessageIds::new("example.com");
        let tenant = TenantName::from("contoso");
        let planner = Planner {
            tenant: &tenant,
            policy: &p,
            ids: &ids,
        };
        let key = ReminderKey {
            series: Series::Claim,
            step: Step::DaysBefore(7),
        };
        let r = Reminder {
            key,
            at: ts("2026-12-24T08:00:00Z"),
        };
        // Saturday night: not before Monday 09:00 local.
        let n = planner.reminders(&[("X".into(), r)], ts("2026-12-26T22:00:00Z"));
        assert_eq!(n[0].reminder, Some(key));
        assert_eq!(
            n[0].not_before,
            p.calendar.next_open_instant(ts("2026-12-26T22:00:00Z"))
        );
        assert_eq!(
            n[0].deliveries[0].1.as_str(),
            "<X.contoso.claim-d7@example.com>"
        );
    }
}
