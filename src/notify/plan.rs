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
use crate::incident::notice::{Notice, PlannedDelivery, Receiver, ReminderKey};
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

/// The follow-ups due for one incident, and when its last follow-up went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub incident: TrackingId,
    pub reminders: Vec<Reminder>,
    /// When the incident's last follow-up goes or went out (sent or queued).
    pub last_follow_up: Option<Timestamp>,
}

/// Kinds that carry the day's follow-ups of their incident instead of a second mail.
fn folds_follow_ups(kind: NoticeKind) -> bool {
    matches!(
        kind,
        NoticeKind::New | NoticeKind::Update | NoticeKind::Resolved | NoticeKind::Pir
    )
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
            let notifiable = self.policy.notifies(&o.incident);
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

    /// Plans the follow-ups due at `now`: folded into an incident mail this poll already
    /// plans for the incident (`notices`), else one follow-up mail per incident listing every
    /// action due — but at most one a day: an incident whose last follow-up goes out on the
    /// same local day — or that this poll's first-poll digest lists — waits for the next (its
    /// reminders stay due). Returns how many follow-up mails it added.
    pub fn follow_ups(&self, notices: &mut Vec<Notice>, due: &[Due], now: Timestamp) -> usize {
        let out = self.working_time(now);
        let day = self.policy.calendar.date_of(out);
        let mut added = 0;
        for d in due.iter().filter(|d| !d.reminders.is_empty()) {
            let keys: Vec<ReminderKey> = d.reminders.iter().map(|r| r.key).collect();
            let folds_into = notices.iter_mut().find(|n| {
                folds_follow_ups(n.kind)
                    && n.incidents.as_slice() == std::slice::from_ref(&d.incident)
            });
            if let Some(n) = folds_into {
                n.follow_ups.extend(keys);
                continue;
            }
            // Listed in this poll's first-poll digest: that is today's mail about it.
            let digested = notices
                .iter()
                .any(|n| n.kind == NoticeKind::Digest && n.incidents.contains(&d.incident));
            let today = d
                .last_follow_up
                .is_some_and(|t| self.policy.calendar.date_of(t) >= day);
            if today || digested {
                continue;
            }
            let key = self.ids.follow_up(self.tenant, &d.incident, day);
            let mut n = self.notice(key, NoticeKind::Reminder, vec![d.incident.clone()], out);
            n.follow_ups = keys;
            notices.push(n);
            added += 1;
        }
        added
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
            follow_ups: Vec::new(),
            updates_from: None,
            operator: None,
            not_before,
            deliveries: vec![PlannedDelivery::immediate(receiver, message_id)],
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
            ignore_services: Default::default(),
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
                (n.kind, ids, n.deliveries[0].message_id.to_string())
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

    fn due(id: &str, keys: &[ReminderKey], last: Option<&str>) -> Due {
        Due {
            incident: id.into(),
            reminders: keys
                .iter()
                .map(|k| Reminder {
                    key: *k,
                    at: ts("2026-12-24T08:00:00Z"),
                })
                .collect(),
            last_follow_up: last.map(ts),
        }
    }

    const CLAIM: ReminderKey = ReminderKey {
        series: Series::Claim,
        step: Step::DaysBefore(7),
    };
    const REVIEW: ReminderKey = ReminderKey {
        series: Series::PirReview,
        step: Step::Review {
            stage: crate::incident::ack::PirStage::Final,
            n: 2,
        },
    };

    #[test]
    fn follow_ups_wait_for_working_hours_and_share_one_mail() {
        let p = policy();
        let ids = MessageIds::new("example.com");
        let tenant = TenantName::from("contoso");
        let planner = Planner {
            tenant: &tenant,
            policy: &p,
            ids: &ids,
        };
        // Saturday night: not before Tuesday 09:00 local (Monday the 28th is a holiday here);
        // both follow-ups in one mail, named by that day.
        let now = ts("2026-12-26T22:00:00Z");
        let mut n = Vec::new();
        let added = planner.follow_ups(&mut n, &[due("X", &[REVIEW, CLAIM], None)], now);
        assert_eq!((added, n.len()), (1, 1));
        assert_eq!(n[0].follow_ups, [REVIEW, CLAIM]);
        assert_eq!(n[0].not_before, p.calendar.next_open_instant(now));
        assert_eq!(
            n[0].deliveries[0].message_id.as_str(),
            "<X.contoso.followup-20261229@example.com>"
        );
    }

    #[test]
    fn at_most_one_follow_up_mail_per_incident_a_day() {
        let p = policy();
        let ids = MessageIds::new("example.com");
        let tenant = TenantName::from("contoso");
        let planner = Planner {
            tenant: &tenant,
            policy: &p,
            ids: &ids,
        };
        let now = ts("2026-12-29T14:00:00Z"); // Tuesday 15:00 in Amsterdam
        // (last follow-up out at) → follow-up mails planned now
        let cases = [
            (None, 1),
            // This morning: wait for tomorrow.
            (Some("2026-12-29T08:00:00Z"), 0),
            // Yesterday evening (local): a new day.
            (Some("2026-12-28T22:00:00Z"), 1),
            // 23:30 UTC on the 28th is already the 29th in Amsterdam.
            (Some("2026-12-28T23:30:00Z"), 0),
        ];
        for (last, want) in cases {
            let mut n = Vec::new();
            let added = planner.follow_ups(&mut n, &[due("X", &[CLAIM], last)], now);
            assert_eq!((added, n.len()), (want, want), "last {last:?}");
        }
    }

    #[test]
    fn a_follow_up_folds_into_the_incidents_mail_of_the_same_poll() {
        let p = policy();
        let ids = MessageIds::new("example.com");
        let tenant = TenantName::from("contoso");
        let planner = Planner {
            tenant: &tenant,
            policy: &p,
            ids: &ids,
        };
        let now = ts("2026-12-28T14:00:00Z");
        for kind in NoticeKind::ALL {
            let mut n = vec![planner.notice("k".into(), kind, vec!["X".into()], now)];
            let added = planner.follow_ups(&mut n, &[due("X", &[CLAIM], None)], now);
            let folds = matches!(
                kind,
                NoticeKind::New | NoticeKind::Update | NoticeKind::Resolved | NoticeKind::Pir
            );
            let want = match kind {
                _ if folds => (0, 1, 1),
                // Listed in the digest: that is today's mail about it.
                NoticeKind::Digest => (0, 1, 0),
                _ => (1, 2, 0),
            };
            assert_eq!((added, n.len(), n[0].follow_ups.len()), want, "{kind:?}");
        }
        // Listed in this poll's digest: no second mail today.
        let mut n = vec![planner.notice(
            "d".into(),
            NoticeKind::Digest,
            vec!["Y".into(), "X".into()],
            now,
        )];
        assert_eq!(
            planner.follow_ups(&mut n, &[due("X", &[CLAIM], None)], now),
            0
        );
        // Another incident's mail does not carry it.
        let mut n = vec![planner.notice("k".into(), NoticeKind::New, vec!["Y".into()], now)];
        assert_eq!(
            planner.follow_ups(&mut n, &[due("X", &[CLAIM], None)], now),
            1
        );
    }
}
