//! The tracker: compares what a poll fetched with what the store remembers and says what
//! changed. Pure: no I/O, `now` is a parameter.
//!
//! Copies of one event seen through several scopes are merged into one incident first. Nothing
//! known is ever forgotten: updates accumulate, a PIR never goes back to "none", and details
//! that a later (e.g. sensitive, undetailed) copy lacks are kept from the stored state.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use crate::incident::{Change, Incident, PirState, TenantName, TrackingId};
use crate::source::event::{
    EventStatus, EventType, HealthEvent, ImpactedRegion, Scope, TAG_FALSE_POSITIVE, TAG_FINAL_PIR,
    TAG_PRELIMINARY_PIR, Update,
};

/// What one poll found about one incident.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The incident's new state, to be stored.
    pub incident: Incident,
    /// Updates not seen before.
    pub new_updates: Vec<Update>,
    /// What changed since the stored state; empty when nothing did.
    pub changes: Vec<Change>,
    /// New to the store and seen only through scopes polled for the first time: history, not news.
    pub via_first_poll: bool,
    /// It was already marked a false positive before this poll.
    pub was_false_positive: bool,
}

/// Compares the events fetched for one tenant with the stored incidents.
///
/// `first_poll` holds the scopes polled successfully for the first time in this cycle.
pub fn observe(
    tenant: &TenantName,
    fetched: &[HealthEvent],
    stored: &HashMap<TrackingId, Incident>,
    first_poll: &BTreeSet<Scope>,
    now: Timestamp,
) -> Vec<Observation> {
    let mut groups: BTreeMap<&str, Vec<&HealthEvent>> = BTreeMap::new();
    for e in fetched {
        groups.entry(e.tracking_id.as_str()).or_default().push(e);
    }
    groups
        .into_values()
        .filter_map(|copies| {
            let fresh = merge_copies(tenant, &copies, now)?;
            let via_first_poll = copies.iter().all(|e| first_poll.contains(&e.scope));
            Some(match stored.get(fresh.tracking_id.as_str()) {
                None => appeared(fresh, via_first_poll),
                Some(old) => compare(old, fresh),
            })
        })
        .collect()
}

fn appeared(incident: Incident, via_first_poll: bool) -> Observation {
    let mut changes = vec![Change::New];
    if incident.is_resolved() {
        changes.push(Change::Resolved);
    }
    if incident.pir > PirState::None {
        changes.push(Change::Pir(incident.pir));
    }
    if incident.false_positive {
        changes.push(Change::FalsePositive);
    }
    Observation {
        new_updates: incident.updates.clone(),
        incident,
        changes,
        via_first_poll,
        was_false_positive: false,
    }
}

fn compare(old: &Incident, fresh: Incident) -> Observation {
    let new_updates: Vec<Update> = fresh
        .updates
        .iter()
        .filter(|u| !contains_update(&old.updates, u))
        .cloned()
        .collect();
    let mut updates = old.updates.clone();
    updates.extend(new_updates.iter().cloned());
    sort_updates(&mut updates);
    let mut subscriptions = old.subscriptions.clone();
    subscriptions.extend(fresh.subscriptions.iter().cloned());
    let pir = fresh.pir.max(old.pir);
    // Review reminders count from when the current PIR stage was first seen.
    let pir_seen = if pir > old.pir {
        fresh.pir_seen
    } else {
        old.pir_seen.or(fresh.pir_seen)
    };
    let incident = Incident {
        summary: fresh.summary.or_else(|| old.summary.clone()),
        description: fresh.description.or_else(|| old.description.clone()),
        article: fresh.article.or_else(|| old.article.clone()),
        level: fresh.level.or_else(|| old.level.clone()),
        impact_start: fresh.impact_start.or(old.impact_start),
        mitigated_at: fresh.mitigated_at.or(old.mitigated_at),
        last_update: fresh.last_update.max(old.last_update),
        impacts: merge_impacts(&old.impacts, fresh.impacts),
        pir,
        pir_seen,
        false_positive: fresh.false_positive || old.false_positive,
        details_unavailable: fresh.details_unavailable && old.description.is_none(),
        first_seen: old.first_seen,
        announced: old.announced,
        subscriptions,
        updates,
        ..fresh
    };
    let mut changes = Vec::new();
    if !new_updates.is_empty() {
        changes.push(Change::Updated {
            count: new_updates.len(),
        });
    }
    if incident.is_resolved() && !old.is_resolved() {
        changes.push(Change::Resolved);
    }
    if incident.pir > old.pir {
        changes.push(Change::Pir(incident.pir));
    }
    if incident.false_positive && !old.false_positive {
        changes.push(Change::FalsePositive);
    }
    Observation {
        incident,
        new_updates,
        changes,
        via_first_poll: false,
        was_false_positive: old.false_positive,
    }
}

/// One incident from the copies of an event seen through several scopes: the most recently
/// updated copy gives the scalar fields (ties broken by scope, so the result never depends on
/// the order in which concurrent polls finished); sets are united, newer copies' region
/// statuses over older ones'.
fn merge_copies(tenant: &TenantName, copies: &[&HealthEvent], now: Timestamp) -> Option<Incident> {
    let mut copies = copies.to_vec();
    copies.sort_by(|a, b| (a.last_update, &a.scope).cmp(&(b.last_update, &b.scope)));
    let base = copies.last().copied()?;
    let mut tags = BTreeSet::new();
    let mut updates = Vec::new();
    let mut impacts = Vec::new();
    let mut subscriptions = BTreeSet::new();
    for e in &copies {
        tags.extend(e.tags.iter().cloned());
        for u in &e.updates {
            tags.extend(u.tags.iter().cloned());
            if !contains_update(&updates, u) {
                updates.push(u.clone());
            }
        }
        if let Scope::Subscription(id) = &e.scope {
            subscriptions.insert(id.clone());
        }
        for i in &e.impacts {
            subscriptions.extend(i.subscriptions.iter().cloned());
        }
        impacts = merge_impacts(&impacts, e.impacts.clone());
    }
    sort_updates(&mut updates);
    let all_regions_resolved =
        !impacts.is_empty() && impacts.iter().all(|i| i.status == EventStatus::Resolved);
    let status = if base.status == EventStatus::Resolved || all_regions_resolved {
        EventStatus::Resolved
    } else {
        base.status.clone()
    };
    Some(Incident {
        tenant: tenant.clone(),
        tracking_id: TrackingId::new(base.tracking_id.clone()),
        event_type: base.event_type.clone(),
        status,
        title: base.title.clone(),
        summary: base.summary.clone(),
        description: base.description.clone(),
        article: base.article.clone(),
        level: base.level.clone(),
        impact_start: base.impact_start,
        mitigated_at: base.mitigated_at,
        last_update: base.last_update,
        pir: pir_state(&tags, &base.event_type),
        pir_seen: (pir_state(&tags, &base.event_type) > PirState::None).then_some(now),
        false_positive: tags.contains(TAG_FALSE_POSITIVE),
        impacts,
        subscriptions,
        updates,
        first_seen: now,
        sensitive: copies.iter().any(|e| e.sensitive),
        details_unavailable: copies.iter().all(|e| e.details_unavailable),
        announced: false,
    })
}

fn pir_state(tags: &BTreeSet<String>, event_type: &EventType) -> PirState {
    if tags.contains(TAG_FINAL_PIR) || *event_type == EventType::Rca {
        PirState::Final
    } else if tags.contains(TAG_PRELIMINARY_PIR) {
        PirState::Preliminary
    } else {
        PirState::None
    }
}

/// The same communication repeats per service and region: it is one update.
fn contains_update(list: &[Update], u: &Update) -> bool {
    list.iter()
        .any(|x| x.published == u.published && x.summary == u.summary)
}

fn sort_updates(updates: &mut [Update]) {
    updates.sort_by(|a, b| {
        a.published
            .cmp(&b.published)
            .then(a.summary.cmp(&b.summary))
    });
}

/// Union of impacted (service, region) pairs; `newer` wins for a pair in both.
fn merge_impacts(older: &[ImpactedRegion], newer: Vec<ImpactedRegion>) -> Vec<ImpactedRegion> {
    let mut by_key: BTreeMap<(String, String), ImpactedRegion> = older
        .iter()
        .map(|i| ((i.service.clone(), i.region.clone()), i.clone()))
        .collect();
    for i in newer {
        let key = (i.service.clone(), i.region.clone());
        let mut merged = i;
        if let Some(old) = by_key.get(&key) {
            merged
                .subscriptions
                .extend(old.subscriptions.iter().cloned());
        }
        by_key.insert(key, merged);
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::NoticeKind;
    use crate::notify::plan::{Disposition, disposition};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn update(at: &str, text: &str, tags: &[&str]) -> Update {
        Update {
            published: ts(at),
            summary: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            service: "Virtual Machines".into(),
            region: "West US".into(),
        }
    }

    fn event(scope: Scope, status: &str, updates: Vec<Update>) -> HealthEvent {
        HealthEvent {
            tracking_id: "BC_1-FXZ".into(),
            scope,
            event_type: EventType::ServiceIssue,
            status: status.into(),
            title: "VMs in West US".into(),
            summary: Some("<p>investigating</p>".into()),
            description: None,
            article: None,
            level: Some("Warning".into()),
            impact_start: Some(ts("2026-05-12T14:45:00Z")),
            mitigated_at: None,
            last_update: updates.iter().map(|u| u.published).max(),
            tags: BTreeSet::new(),
            impacts: vec![ImpactedRegion {
                service: "Virtual Machines".into(),
                region: "West US".into(),
                status: status.into(),
                subscriptions: BTreeSet::new(),
            }],
            updates,
            sensitive: false,
            details_unavailable: false,
        }
    }

    fn sub(id: &str) -> Scope {
        Scope::Subscription(id.into())
    }

    fn now() -> Timestamp {
        ts("2026-05-20T00:00:00Z")
    }

    fn observe_one(fetched: &[HealthEvent], stored: &[Incident], first: &[Scope]) -> Observation {
        let stored = stored
            .iter()
            .map(|i| (i.tracking_id.clone(), i.clone()))
            .collect();
        let first = first.iter().cloned().collect();
        let mut obs = observe(&"contoso".into(), fetched, &stored, &first, now());
        assert_eq!(obs.len(), 1);
        obs.remove(0)
    }

    #[test]
    fn copies_from_two_subscriptions_are_one_incident() {
        let u1 = update("2026-05-12T15:00:00Z", "first", &[]);
        let a = event(sub("a"), "Active", vec![u1.clone()]);
        let b = event(sub("b"), "Active", vec![u1]);
        let o = observe_one(&[a, b], &[], &[]);
        assert_eq!(o.changes, vec![Change::New]);
        assert_eq!(o.incident.updates.len(), 1);
        assert_eq!(
            o.incident.subscriptions.iter().collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert_eq!(
            disposition(&o, true, true),
            Disposition::Mail(NoticeKind::New)
        );
    }

    #[test]
    fn a_repeat_poll_changes_nothing() {
        let e = event(
            sub("a"),
            "Active",
            vec![update("2026-05-12T15:00:00Z", "x", &[])],
        );
        let first = observe_one(std::slice::from_ref(&e), &[], &[]);
        let again = observe_one(&[e], &[first.incident], &[]);
        assert!(again.changes.is_empty());
        assert!(again.new_updates.is_empty());
        assert_eq!(disposition(&again, true, true), Disposition::Silent);
    }

    #[test]
    fn update_resolution_and_pir_in_one_poll_make_one_pir_mail() {
        let u1 = update("2026-05-12T15:00:00Z", "first", &[]);
        let stored = observe_one(&[event(sub("a"), "Active", vec![u1.clone()])], &[], &[]);
        let u2 = update("2026-05-14T10:00:00Z", "pir text", &[TAG_FINAL_PIR]);
        let later = event(sub("a"), "Resolved", vec![u2, u1]);
        let o = observe_one(&[later], &[stored.incident], &[]);
        assert_eq!(
            o.changes,
            vec![
                Change::Updated { count: 1 },
                Change::Resolved,
                Change::Pir(PirState::Final)
            ]
        );
        assert_eq!(
            disposition(&o, true, true),
            Disposition::Mail(NoticeKind::Pir)
        );
        assert_eq!(o.incident.updates.len(), 2);
        assert_eq!(o.incident.updates[0].summary, "first");
    }

    #[test]
    fn resolved_when_every_region_is() {
        let mut e = event(sub("a"), "Active", vec![]);
        e.impacts[0].status = EventStatus::Resolved;
        let o = observe_one(&[e], &[], &[]);
        assert!(o.incident.is_resolved());
    }

    #[test]
    fn legacy_rca_event_counts_as_pir() {
        let mut e = event(sub("a"), "Resolved", vec![]);
        e.event_type = EventType::Rca;
        assert_eq!(observe_one(&[e], &[], &[]).incident.pir, PirState::Final);
    }

    #[test]
    fn false_positive_mails_once_then_stops() {
        let u1 = update("2026-05-12T15:00:00Z", "first", &[]);
        let stored = observe_one(&[event(sub("a"), "Active", vec![u1.clone()])], &[], &[]);
        let fp = update(
            "2026-05-13T15:00:00Z",
            "healthy after all",
            &[TAG_FALSE_POSITIVE],
        );
        let e = event(sub("a"), "Resolved", vec![fp.clone(), u1.clone()]);
        let o = observe_one(&[e], &[stored.incident], &[]);
        assert_eq!(
            disposition(&o, true, true),
            Disposition::Mail(NoticeKind::FalsePositive)
        );
        let more = update("2026-05-14T15:00:00Z", "closing", &[]);
        let e = event(sub("a"), "Resolved", vec![more, fp, u1]);
        let o2 = observe_one(&[e], &[o.incident], &[]);
        assert_eq!(o2.changes, vec![Change::Updated { count: 1 }]);
        assert_eq!(disposition(&o2, true, true), Disposition::Silent);
    }

    #[test]
    fn first_poll_rules() {
        let active = event(sub("new"), "Active", vec![]);
        let o = observe_one(&[active], &[], &[sub("new")]);
        assert!(o.via_first_poll);
        assert_eq!(
            disposition(&o, true, true),
            Disposition::Mail(NoticeKind::New)
        );
        let resolved = event(sub("new"), "Resolved", vec![]);
        let o = observe_one(&[resolved], &[], &[sub("new")]);
        assert_eq!(disposition(&o, true, true), Disposition::Digest);
        assert_eq!(disposition(&o, true, false), Disposition::Silent);
        assert_eq!(disposition(&o, false, true), Disposition::Silent);
    }

    #[test]
    fn an_event_also_seen_through_an_old_scope_is_news() {
        let a = event(sub("old"), "Active", vec![]);
        let b = event(sub("new"), "Active", vec![]);
        let o = observe_one(&[a, b], &[], &[sub("new")]);
        assert!(!o.via_first_poll);
    }

    #[test]
    fn undetailed_copy_keeps_stored_details_and_pir_never_regresses() {
        let u = update("2026-05-12T15:00:00Z", "pir", &[TAG_PRELIMINARY_PIR]);
        let mut e = event(sub("a"), "Resolved", vec![u]);
        e.description = Some("<p>root cause</p>".into());
        let stored = observe_one(&[e], &[], &[]).incident;
        let mut bare = event(sub("a"), "Resolved", vec![]);
        bare.summary = None;
        bare.details_unavailable = true;
        let o = observe_one(&[bare], &[stored], &[]);
        assert_eq!(o.incident.description.as_deref(), Some("<p>root cause</p>"));
        assert_eq!(o.incident.pir, PirState::Preliminary);
        assert_eq!(o.incident.updates.len(), 1);
        assert!(!o.incident.details_unavailable);
    }

    /// Defect 2 of issue 7: merging copies depended on the order in which the concurrent
    /// polls finished, so status and impacts could flip between polls and re-send "resolved".
    #[test]
    fn merging_copies_does_not_depend_on_the_order_they_arrive_in() {
        let u = update("2026-05-12T15:00:00Z", "first", &[]);
        let resolved = event(sub("a"), "Resolved", vec![u.clone()]);
        let mut active = event(sub("b"), "Active", vec![u]);
        active.impacts[0].subscriptions = ["b".to_owned()].into();
        // Same lastUpdateTime: the tie is broken by scope, not by position.
        let one = observe_one(&[resolved.clone(), active.clone()], &[], &[]);
        let other = observe_one(&[active.clone(), resolved.clone()], &[], &[]);
        assert_eq!(one.incident, other.incident);
        // By time first: the newer copy wins whatever its scope.
        let mut newer = resolved.clone();
        newer.last_update = Some(ts("2026-05-13T00:00:00Z"));
        for copies in [
            [newer.clone(), active.clone()],
            [active.clone(), newer.clone()],
        ] {
            let o = observe_one(&copies, &[], &[]);
            assert!(o.incident.is_resolved());
            assert_eq!(o.incident.impacts[0].status, EventStatus::Resolved);
            assert!(o.incident.subscriptions.contains("b"));
        }
    }

    #[test]
    fn a_final_pir_after_a_preliminary_one_restarts_the_review_clock() {
        let pre = update("2026-05-13T10:00:00Z", "prelim", &[TAG_PRELIMINARY_PIR]);
        let e = event(sub("a"), "Resolved", vec![pre.clone()]);
        let first = observe_one(&[e], &[], &[]).incident;
        assert_eq!(first.pir_seen, Some(now()));
        let mut older = first.clone();
        older.pir_seen = Some(ts("2026-05-13T11:00:00Z"));
        let fin = update("2026-05-19T10:00:00Z", "final", &[TAG_FINAL_PIR]);
        let e = event(sub("a"), "Resolved", vec![pre.clone(), fin]);
        let o = observe_one(&[e], &[older.clone()], &[]);
        assert_eq!(o.incident.pir, PirState::Final);
        assert_eq!(
            o.incident.pir_seen,
            Some(now()),
            "the Final stage's own sighting"
        );
        let e = event(sub("a"), "Resolved", vec![pre]);
        let same = observe_one(&[e], &[older.clone()], &[]);
        assert_eq!(same.incident.pir_seen, older.pir_seen);
    }
}
