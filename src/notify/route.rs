//! Routes: who receives a notice. Modelled on Alertmanager's routing tree, flattened: a
//! tenant's own `recipients` are an implicit first route (continue), then `[[routes]]` are
//! matched top-down, the first match ending the walk unless it says `continue`. What reaches
//! nobody goes to `[notify] fallback` — never nowhere. Pure: facts in, receivers out.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::incident::notice::{Notice, PlannedDelivery, Receiver, ReminderKey, Series, Step};
use crate::incident::{EventType, Incident, NoticeKind, TenantName, TrackingId};
use crate::notify::message_id::MessageIds;

/// The kinds a route can match (`kinds = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteKind {
    New,
    Update,
    Resolved,
    Pir,
    FalsePositive,
    Reminder,
    FirstPollDigest,
}

impl RouteKind {
    pub const ALL: [Self; 7] = [
        Self::New,
        Self::Update,
        Self::Resolved,
        Self::Pir,
        Self::FalsePositive,
        Self::Reminder,
        Self::FirstPollDigest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Update => "update",
            Self::Resolved => "resolved",
            Self::Pir => "pir",
            Self::FalsePositive => "false_positive",
            Self::Reminder => "reminder",
            Self::FirstPollDigest => "first_poll_digest",
        }
    }

    /// The route kind of a notice kind; operator notices are not routed.
    pub fn of(kind: NoticeKind) -> Option<Self> {
        Some(match kind {
            NoticeKind::New => Self::New,
            NoticeKind::Update => Self::Update,
            NoticeKind::Resolved => Self::Resolved,
            NoticeKind::Pir => Self::Pir,
            NoticeKind::FalsePositive => Self::FalsePositive,
            NoticeKind::Reminder => Self::Reminder,
            NoticeKind::Digest => Self::FirstPollDigest,
            NoticeKind::Operator => return None,
        })
    }
}

/// What a route matches; `None` matches anything. Services and regions compare without regard
/// to case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    pub tenants: Option<BTreeSet<String>>,
    pub subscriptions: Option<BTreeSet<String>>,
    pub event_types: Option<BTreeSet<EventType>>,
    pub services: Option<BTreeSet<String>>,
    pub regions: Option<BTreeSet<String>>,
    pub kinds: Option<BTreeSet<RouteKind>>,
}

/// When a route in digest mode sends its digest: at `at` local time in `timezone`, on `days`
/// (every day when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSchedule {
    pub at: jiff::civil::Time,
    pub timezone: jiff::tz::TimeZone,
    pub days: Vec<jiff::civil::Weekday>,
}

impl DigestSchedule {
    /// The first digest time strictly after `now`: what a notice planned at `now` waits for.
    /// A local time a clock change skips is taken as the instant after the gap.
    pub fn next_after(&self, now: Timestamp) -> Timestamp {
        let today = now.to_zoned(self.timezone.clone()).date();
        let mut day = today;
        // At most a week ahead (plus today), whatever the days are.
        for _ in 0..9 {
            if self.days.is_empty() || self.days.contains(&day.weekday()) {
                let at = day
                    .to_datetime(self.at)
                    .to_zoned(self.timezone.clone())
                    .map(|z| z.timestamp());
                if let Ok(at) = at
                    && at > now
                {
                    return at;
                }
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        // Only at the end of jiff's calendar: send at once rather than never.
        now
    }

    /// The last digest time strictly before `at` (the start of the period `at` closes).
    pub fn previous_before(&self, at: Timestamp) -> Option<Timestamp> {
        let mut day = at.to_zoned(self.timezone.clone()).date();
        for _ in 0..9 {
            if self.days.is_empty() || self.days.contains(&day.weekday()) {
                let t = day
                    .to_datetime(self.at)
                    .to_zoned(self.timezone.clone())
                    .map(|z| z.timestamp());
                if let Ok(t) = t
                    && t < at
                {
                    return Some(t);
                }
            }
            day = day.yesterday().ok()?;
        }
        None
    }
}

/// How a route delivers: each notice on its own at once, or one digest per period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Immediate,
    Digest(DigestSchedule),
}

/// Which update mails a route takes: every re-publish, or only material changes (a new region
/// or service, a status or level change, a PIR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateFilter {
    #[default]
    All,
    Material,
}

/// One `[[routes]]` entry, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub to: Vec<lettre::message::Mailbox>,
    pub cc: Vec<lettre::message::Mailbox>,
    /// Names of `[[webhooks]]` entries that also receive what this route takes.
    pub webhooks: Vec<String>,
    pub mode: Mode,
    pub updates: UpdateFilter,
    /// Go on matching the routes below after this one matched.
    pub continue_: bool,
    /// Takes security advisories and sensitive events too.
    pub sensitive: bool,
    /// Reminders only from this many days before the claim deadline.
    pub from_days_before: Option<u32>,
}

/// What a notice is about, for matching.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub tenant: &'a str,
    pub kind: RouteKind,
    pub incidents: Vec<&'a Incident>,
    /// The follow-ups a reminder carries.
    pub follow_ups: &'a [ReminderKey],
    /// For an update: something material changed (region, service, status, level, PIR).
    pub material: bool,
}

impl Facts<'_> {
    fn sensitive(&self) -> bool {
        self.incidents
            .iter()
            .any(|i| i.sensitive || i.event_type == EventType::SecurityAdvisory)
    }

    /// The fewest days before the claim deadline among the claim reminders carried.
    fn claim_days_before(&self) -> Option<u32> {
        self.follow_ups
            .iter()
            .filter(|k| matches!(k.series, Series::Claim | Series::SlaClaim))
            .filter_map(|k| match k.step {
                Step::DaysBefore(d) => Some(d),
                _ => None,
            })
            .min()
    }
}

/// True when `set` is absent or holds one of `values` (lower-cased, as the config's sets are).
fn any_of(set: &Option<BTreeSet<String>>, values: impl IntoIterator<Item = String>) -> bool {
    match set {
        None => true,
        Some(s) => values.into_iter().any(|v| s.contains(&v.to_lowercase())),
    }
}

impl Route {
    /// True when `i` is what this route is about, whatever the notice (subscription, event
    /// type, service, region).
    pub fn matches_incident(&self, i: &Incident) -> bool {
        let m = &self.matcher;
        any_of(&m.subscriptions, i.subscriptions.iter().cloned())
            && m.event_types
                .as_ref()
                .is_none_or(|s| s.contains(&i.event_type))
            && any_of(&m.services, i.services().into_iter().map(str::to_owned))
            && any_of(&m.regions, i.regions().into_iter().map(str::to_owned))
    }

    /// True when this route would take news of `i` of tenant `tenant` (a route digest's open
    /// follow-ups): its tenant, its incident, and sensitive only when it opts in.
    pub fn takes(&self, tenant: &str, i: &Incident) -> bool {
        let sensitive = i.sensitive || i.event_type == EventType::SecurityAdvisory;
        self.matcher
            .tenants
            .as_ref()
            .is_none_or(|t| t.contains(tenant))
            && (self.sensitive || !sensitive)
            && self.matches_incident(i)
    }

    /// True when this route takes the notice `f`.
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        let m = &self.matcher;
        let incident_matches = |i: &&Incident| self.matches_incident(i);
        let reminder_ok = f.kind != RouteKind::Reminder
            || self
                .from_days_before
                .is_none_or(|n| f.claim_days_before().is_some_and(|d| d <= n));
        let update_ok =
            f.kind != RouteKind::Update || self.updates == UpdateFilter::All || f.material;
        m.tenants.as_ref().is_none_or(|t| t.contains(f.tenant))
            && m.kinds.as_ref().is_none_or(|k| k.contains(&f.kind))
            && update_ok
            && (self.sensitive || !f.sensitive())
            && reminder_ok
            && f.incidents.iter().any(incident_matches)
    }
}

/// The receivers of a notice: the tenant's own recipients (if it has any), then the routes
/// top-down (a route's mail, then its webhooks), and the fallback when nobody else takes it;
/// each with the digest schedule of the route it came from, when that route digests. A webhook
/// named by two matching routes receives the notice once.
pub fn receivers<'r>(
    f: &Facts<'_>,
    tenant_has_recipients: bool,
    routes: &'r [Route],
    has_fallback: bool,
) -> Vec<(Receiver, Option<&'r DigestSchedule>)> {
    let mut out: Vec<(Receiver, Option<&DigestSchedule>)> = Vec::new();
    if tenant_has_recipients {
        out.push((Receiver::TenantRecipients, None));
    }
    for r in routes.iter().filter(|r| r.matches(f)) {
        let digest = match &r.mode {
            Mode::Immediate => None,
            Mode::Digest(s) => Some(s),
        };
        if !r.to.is_empty() || !r.cc.is_empty() {
            out.push((Receiver::Route(r.name.clone()), digest));
        }
        for w in &r.webhooks {
            let w = Receiver::Webhook(w.clone());
            if !out.iter().any(|(x, _)| x == &w) {
                out.push((w, digest));
            }
        }
        if !r.continue_ {
            break;
        }
    }
    if out.is_empty() && has_fallback {
        out.push((Receiver::Fallback, None));
    }
    out
}

/// What a tenant's notices are routed by.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    pub tenant: &'a TenantName,
    pub tenant_has_recipients: bool,
    pub routes: &'a [Route],
    pub has_fallback: bool,
    pub ids: &'a MessageIds,
}

/// Sets the deliveries of a tenant's planned `notices` at `now`: one per receiver, each with
/// its own `Message-ID`, a digest route's waiting for its next digest. `incident` finds a
/// notice's incidents; `material` says whether an incident's update is material.
pub fn assign<'a>(
    notices: &mut [Notice],
    incident: impl Fn(&TrackingId) -> Option<&'a Incident>,
    material: impl Fn(&TrackingId) -> bool,
    routing: &Routing<'_>,
    now: Timestamp,
) {
    for n in notices.iter_mut() {
        let Some(kind) = RouteKind::of(n.kind) else {
            continue;
        };
        let facts = Facts {
            tenant: routing.tenant.as_str(),
            kind,
            incidents: n.incidents.iter().filter_map(&incident).collect(),
            follow_ups: &n.follow_ups,
            material: n.incidents.iter().any(&material),
        };
        let found = receivers(
            &facts,
            routing.tenant_has_recipients,
            routing.routes,
            routing.has_fallback,
        );
        n.deliveries = found
            .into_iter()
            .map(|(receiver, digest)| PlannedDelivery {
                message_id: routing.ids.message_id(&n.key, &receiver),
                receiver,
                digest_at: digest.map(|s| s.next_after(now)),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::ImpactedRegion;

    fn incident(service: &str, region: &str) -> Incident {
        let mut i = crate::followup::test_incident("2026-10-08T10:00:00Z");
        i.impacts = vec![ImpactedRegion {
            service: service.into(),
            region: region.into(),
            status: "Active".into(),
            subscriptions: BTreeSet::new(),
        }];
        i.subscriptions = ["sub-1".to_owned()].into();
        i
    }

    fn route(name: &str, m: Matcher, cont: bool) -> Route {
        Route {
            name: name.into(),
            matcher: m,
            to: vec!["desk@example.com".parse().expect("mailbox")],
            cc: Vec::new(),
            webhooks: Vec::new(),
            mode: Mode::Immediate,
            updates: UpdateFilter::All,
            continue_: cont,
            sensitive: false,
            from_days_before: None,
        }
    }

    fn set(v: &[&str]) -> Option<BTreeSet<String>> {
        Some(v.iter().map(|s| s.to_lowercase()).collect())
    }

    fn names(r: &[(Receiver, Option<&DigestSchedule>)]) -> Vec<String> {
        r.iter().map(|(r, _)| r.as_str()).collect()
    }

    #[test]
    fn routes_match_top_down_and_the_first_match_ends_the_walk() {
        let vm = incident("Virtual Machines", "West Europe");
        let sql = incident("SQL Database", "East US");
        let routes = [
            route(
                "vm-we",
                Matcher {
                    services: set(&["virtual machines"]),
                    regions: set(&["West Europe"]),
                    ..Default::default()
                },
                false,
            ),
            route(
                "desk",
                Matcher {
                    tenants: set(&["contoso"]),
                    ..Default::default()
                },
                true,
            ),
            route("everything", Matcher::default(), false),
        ];
        let f = |i: &'static Incident, tenant: &'static str| Facts {
            tenant,
            kind: RouteKind::New,
            incidents: vec![i],
            follow_ups: &[],
            material: false,
        };
        let vm: &'static Incident = Box::leak(Box::new(vm));
        let sql: &'static Incident = Box::leak(Box::new(sql));
        // (facts, tenant has recipients, fallback) → receivers
        let cases = [
            (f(vm, "contoso"), true, true, vec!["tenant", "route:vm-we"]),
            (
                f(sql, "contoso"),
                false,
                true,
                vec!["route:desk", "route:everything"],
            ),
            (f(sql, "fabrikam"), false, true, vec!["route:everything"]),
        ];
        for (facts, own, fallback, want) in cases {
            assert_eq!(
                names(&receivers(&facts, own, &routes, fallback)),
                want,
                "{facts:?}"
            );
        }
        // Nothing matches: the fallback, never nowhere.
        let only_vm = &routes[..1];
        assert_eq!(
            names(&receivers(&f(sql, "x"), false, only_vm, true)),
            ["fallback"]
        );
    }

    #[test]
    fn sensitive_events_and_reminder_escalation() {
        let mut advisory = incident("Key Vault", "West Europe");
        advisory.event_type = EventType::SecurityAdvisory;
        let desk = route("desk", Matcher::default(), false);
        let f = Facts {
            tenant: "t",
            kind: RouteKind::New,
            incidents: vec![&advisory],
            follow_ups: &[],
            material: false,
        };
        assert!(!desk.matches(&f), "not unless the route opts in");
        assert!(
            Route {
                sensitive: true,
                ..desk.clone()
            }
            .matches(&f)
        );
        assert_eq!(
            names(&receivers(&f, true, std::slice::from_ref(&desk), true)),
            ["tenant"]
        );
        assert_eq!(
            names(&receivers(&f, false, std::slice::from_ref(&desk), true)),
            ["fallback"]
        );

        let vm = incident("Virtual Machines", "West Europe");
        let late = Route {
            from_days_before: Some(3),
            ..route("manager", Matcher::default(), false)
        };
        let claim = |d| ReminderKey {
            series: Series::Claim,
            step: Step::DaysBefore(d),
        };
        for (keys, want) in [
            (vec![claim(14)], false),
            (vec![claim(3)], true),
            (vec![claim(7), claim(1)], true),
            (Vec::new(), false),
        ] {
            let f = Facts {
                tenant: "t",
                kind: RouteKind::Reminder,
                incidents: vec![&vm],
                follow_ups: &keys,
                material: false,
            };
            assert_eq!(late.matches(&f), want, "{keys:?}");
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    #[test]
    fn digests_go_out_at_the_next_local_time_across_clock_changes_and_weekdays() {
        use jiff::civil::{Weekday, time};
        let daily = DigestSchedule {
            at: time(8, 0, 0, 0),
            timezone: jiff::tz::TimeZone::get("Europe/Amsterdam").expect("tz"),
            days: Vec::new(),
        };
        let weekly = DigestSchedule {
            days: vec![Weekday::Monday],
            ..daily.clone()
        };
        let gap = DigestSchedule {
            at: time(2, 30, 0, 0),
            ..daily.clone()
        };
        // (schedule, now) → next digest
        let cases = [
            (&daily, "2026-12-02T06:59:59Z", "2026-12-02T07:00:00Z"),
            // Exactly at the digest time: the next one (planned at 08:00, not in that digest).
            (&daily, "2026-12-02T07:00:00Z", "2026-12-03T07:00:00Z"),
            // Summer time: 08:00 is 06:00 UTC; the night of the change.
            (&daily, "2026-03-28T08:00:00Z", "2026-03-29T06:00:00Z"),
            (&daily, "2026-10-24T07:00:00Z", "2026-10-25T07:00:00Z"),
            // Wednesday → the next Monday; a Monday after 08:00 → a week later.
            (&weekly, "2026-12-02T10:00:00Z", "2026-12-07T07:00:00Z"),
            (&weekly, "2026-12-07T07:30:00Z", "2026-12-14T07:00:00Z"),
            // 02:30 does not exist on 2026-03-29 in Amsterdam: the instant after the gap.
            (&gap, "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z"),
        ];
        for (s, now, want) in cases {
            assert_eq!(s.next_after(ts(now)), ts(want), "{now}");
            assert!(s.previous_before(ts(want)).is_some_and(|p| p < ts(want)));
        }
        assert_eq!(
            weekly.previous_before(ts("2026-12-14T07:00:00Z")),
            Some(ts("2026-12-07T07:00:00Z"))
        );
    }

    #[test]
    fn webhooks_receive_once_and_digest_routes_say_when() {
        let vm = incident("Virtual Machines", "West Europe");
        let schedule = DigestSchedule {
            at: jiff::civil::time(8, 0, 0, 0),
            timezone: jiff::tz::TimeZone::UTC,
            days: Vec::new(),
        };
        let routes = [
            Route {
                webhooks: vec!["teams".into()],
                mode: Mode::Digest(schedule.clone()),
                ..route("desk", Matcher::default(), true)
            },
            Route {
                to: Vec::new(),
                webhooks: vec!["teams".into(), "slack".into()],
                ..route("hooks-only", Matcher::default(), false)
            },
        ];
        let f = Facts {
            tenant: "t",
            kind: RouteKind::New,
            incidents: vec![&vm],
            follow_ups: &[],
            material: true,
        };
        let got = receivers(&f, false, &routes, true);
        assert_eq!(
            names(&got),
            ["route:desk", "webhook:teams", "webhook:slack"]
        );
        let digest: Vec<bool> = got.iter().map(|(_, d)| d.is_some()).collect();
        assert_eq!(digest, [true, true, false]);

        let mut n = Notice {
            key: "k".into(),
            tenant: "t".into(),
            kind: NoticeKind::New,
            incidents: vec![vm.tracking_id.clone()],
            follow_ups: Vec::new(),
            updates_from: None,
            operator: None,
            not_before: ts("2026-12-02T09:00:00Z"),
            deliveries: Vec::new(),
        };
        let ids = MessageIds::new("example.com");
        let routing = Routing {
            tenant: &"t".into(),
            tenant_has_recipients: true,
            routes: &routes,
            has_fallback: false,
            ids: &ids,
        };
        let now = ts("2026-12-02T09:00:00Z");
        assign(
            std::slice::from_mut(&mut n),
            |_| Some(&vm),
            |_| true,
            &routing,
            now,
        );
        let at: Vec<Option<Timestamp>> = n.deliveries.iter().map(|d| d.digest_at).collect();
        let tomorrow = Some(ts("2026-12-03T08:00:00Z"));
        assert_eq!(at, [None, tomorrow, tomorrow, None]);
    }

    #[test]
    fn material_only_routes_skip_republished_updates() {
        let vm = incident("Virtual Machines", "West Europe");
        let r = Route {
            updates: UpdateFilter::Material,
            ..route("quiet", Matcher::default(), false)
        };
        for (kind, material, want) in [
            (RouteKind::Update, false, false),
            (RouteKind::Update, true, true),
            (RouteKind::New, false, true),
            (RouteKind::Resolved, false, true),
        ] {
            let f = Facts {
                tenant: "t",
                kind,
                incidents: vec![&vm],
                follow_ups: &[],
                material,
            };
            assert_eq!(r.matches(&f), want, "{kind:?} material={material}");
        }
        // What is material: a new region or service, status, level, a PIR; not new text.
        let mut later = vm.clone();
        later.updates.push(crate::incident::Update {
            published: ts("2026-10-08T12:00:00Z"),
            summary: "same again".into(),
            tags: BTreeSet::new(),
            service: "Virtual Machines".into(),
            region: "West Europe".into(),
        });
        assert!(!later.changed_materially_from(&vm));
        let mut wider = vm.clone();
        wider.impacts.push(ImpactedRegion {
            service: "Virtual Machines".into(),
            region: "North Europe".into(),
            status: "Active".into(),
            subscriptions: BTreeSet::new(),
        });
        assert!(wider.changed_materially_from(&vm));
        assert!(
            !vm.changed_materially_from(&wider),
            "a region gone is not news"
        );
        let mut pir = vm.clone();
        pir.pir = crate::incident::PirState::Preliminary;
        assert!(pir.changed_materially_from(&vm));
        let mut level = vm.clone();
        level.level = Some("Error".into());
        assert!(level.changed_materially_from(&vm));
    }
}
