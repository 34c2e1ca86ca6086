//! A fake Azure Resource Manager on 127.0.0.1: the `Microsoft.ResourceHealth/events` wire format
//! with bearer-token checks, `nextLink` paging (optionally with an empty first page, or a link
//! to a foreign host), 429 + `Retry-After`, 5xx, error bodies of both shapes, and
//! `fetchEventDetails` for sensitive events. Events are written from the schema by [`Ev`].

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A scripted failure.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `Retry-After: secs` and ARM's error shape.
    Throttle { retry_after: u64 },
    /// 503 with no body.
    Unavailable,
    /// ARM's `{"error": {...}}` shape.
    ArmError { status: u16, code: &'static str },
    /// The Resource Health provider's top-level `{"code", "message"}` shape.
    ProviderError { status: u16, code: &'static str },
    /// 200, then the connection breaks off in the middle of the body.
    Reset,
    /// 200 with a body cut off in the middle of the JSON.
    Truncated,
    /// The scope's page, after this many seconds.
    Slow { secs: u64 },
    /// The scope's page, whose `nextLink` carries a fresh skip token every time.
    FreshTokenLoop,
    /// One page of about this many bytes (one event with a huge description).
    BigPage { bytes: usize },
}

#[derive(Default)]
struct ArmState {
    token: String,
    base: String,
    page_size: usize,
    empty_first_page: bool,
    events: HashMap<String, Vec<Value>>,
    /// Applied, in order, to the next list requests of any scope.
    faults: VecDeque<Fault>,
    /// Scopes that always fail.
    broken: HashMap<String, Fault>,
    /// Scopes whose nextLink points to another host.
    foreign_links: HashSet<String>,
    /// Full events returned by fetchEventDetails; absent ids get 403.
    details: HashMap<String, Value>,
    /// "METHOD path?query" of every request.
    log: Vec<String>,
    /// Fresh skip tokens handed out (Fault::FreshTokenLoop).
    fresh_tokens: usize,
    /// Impacted resources by (scope, tracking id), in the wire format.
    impacted: HashMap<(String, String), Vec<Value>>,
    /// Availability histories by resource id, in the wire format.
    availability: HashMap<String, Vec<Value>>,
    /// Support tickets by name, as created (the PUT body's properties plus a number).
    pub tickets: HashMap<String, Value>,
    /// PUT requests for tickets received.
    ticket_puts: usize,
    /// Answer ticket creation with 403 (no Support Request Contributor role).
    support_denied: bool,
    /// Long-running operations: polls left before they succeed.
    operations: HashMap<String, usize>,
    /// `GET /subscriptions`, in the wire format.
    subscriptions: Vec<Value>,
    /// `GET /tenants`, in the wire format.
    tenants: Vec<Value>,
}

/// The running fake.
pub struct FakeArm {
    pub base: String,
    state: Arc<Mutex<ArmState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeArm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeArm {
    /// Starts on a free port; requests must carry `Bearer {token}`.
    pub async fn start(token: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake ARM");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(ArmState {
            token: token.to_owned(),
            base: base.clone(),
            page_size: 2,
            ..Default::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, task }
    }

    fn with<R>(&self, f: impl FnOnce(&mut ArmState) -> R) -> R {
        f(&mut self.state.lock().expect("fake ARM state"))
    }

    /// Sets the impacted resources of event `tracking_id` in `scope`: (resource id, region).
    /// Security advisories' resources (the POST variant) are always refused with 403, as for a
    /// Reader.
    pub fn set_impacted(&self, scope: &str, tracking_id: &str, resources: &[(&str, &str)]) {
        let items = resources
            .iter()
            .enumerate()
            .map(|(n, (id, region))| {
                json!({
                    "name": format!("res-{n}"),
                    "type": "Microsoft.ResourceHealth/events/impactedResources",
                    "id": format!("/subscriptions/{scope}/providers/Microsoft.ResourceHealth/events/{tracking_id}/impactedResources/res-{n}"),
                    "properties": {
                        "targetRegion": region,
                        "targetResourceId": id,
                        "targetResourceType": "Microsoft.Compute/VirtualMachines",
                        "info": [{"key": "n", "value": n.to_string()}],
                    }
                })
            })
            .collect();
        self.with(|s| {
            s.impacted
                .insert((scope.to_owned(), tracking_id.to_owned()), items)
        });
    }

    /// Sets a resource's availability history: (state, since), in any order.
    pub fn set_availability(&self, resource_id: &str, history: &[(&str, jiff::Timestamp)]) {
        let items = history
            .iter()
            .map(|(state, since)| {
                json!({
                    "name": arm_time(*since),
                    "type": "Microsoft.ResourceHealth/AvailabilityStatuses",
                    "id": format!("{resource_id}/providers/Microsoft.ResourceHealth/availabilityStatuses/x"),
                    "location": "westeurope",
                    "properties": {
                        "availabilityState": state,
                        "occuredTime": arm_time(*since),
                        "reportedTime": arm_time(*since),
                        "summary": format!("{state} from the fake"),
                        "title": state,
                    }
                })
            })
            .collect();
        self.with(|s| s.availability.insert(resource_id.to_owned(), items));
    }

    /// The subscriptions the identity can read: (id, display name, home tenant id, state).
    pub fn set_subscriptions(&self, subs: &[(&str, &str, &str, &str)]) {
        let items = subs
            .iter()
            .map(|(id, name, tenant, state)| {
                json!({
                    "id": format!("/subscriptions/{id}"),
                    "subscriptionId": id,
                    "displayName": name,
                    "tenantId": tenant,
                    "state": state,
                    "authorizationSource": "RoleBased",
                    "managedByTenants": [{"tenantId": "11111111-1111-1111-1111-111111111111"}],
                })
            })
            .collect();
        self.with(|s| s.subscriptions = items);
    }

    /// The tenants the identity knows: (id, display name).
    pub fn set_tenants(&self, tenants: &[(&str, &str)]) {
        let items = tenants
            .iter()
            .map(|(id, name)| {
                json!({"id": format!("/tenants/{id}"), "tenantId": id, "displayName": name,
                       "tenantCategory": "ManagedBy", "tenantType": "AAD"})
            })
            .collect();
        self.with(|s| s.tenants = items);
    }

    /// Answer ticket creation with 403 (`true`) or accept it.
    pub fn deny_support(&self, on: bool) {
        self.with(|s| s.support_denied = on);
    }

    /// The tickets created, by name, and how many creations were asked.
    pub fn tickets(&self) -> (HashMap<String, Value>, usize) {
        self.with(|s| (s.tickets.clone(), s.ticket_puts))
    }

    /// A ticket that already exists (filed by an earlier run that crashed before recording).
    pub fn put_ticket(&self, name: &str, number: &str) {
        self.with(|s| {
            s.tickets.insert(
                name.to_owned(),
                json!({"name": name, "properties": {"supportTicketId": number, "title": "earlier"}}),
            )
        });
    }

    /// Replaces the events of a scope (a subscription id, or `tenant`).
    pub fn set_events(&self, scope: &str, events: Vec<Value>) {
        self.with(|s| s.events.insert(scope.to_owned(), events));
    }
    pub fn set_page_size(&self, n: usize) {
        self.with(|s| s.page_size = n.max(1));
    }
    pub fn empty_first_page(&self, on: bool) {
        self.with(|s| s.empty_first_page = on);
    }
    pub fn push_fault(&self, f: Fault) {
        self.with(|s| s.faults.push_back(f));
    }
    pub fn break_scope(&self, scope: &str, f: Fault) {
        self.with(|s| s.broken.insert(scope.to_owned(), f));
    }
    /// Undoes [`Self::break_scope`].
    pub fn mend_scope(&self, scope: &str) {
        self.with(|s| s.broken.remove(scope));
    }
    pub fn foreign_next_link(&self, scope: &str) {
        self.with(|s| s.foreign_links.insert(scope.to_owned()));
    }
    pub fn set_details(&self, tracking_id: &str, event: Value) {
        self.with(|s| s.details.insert(tracking_id.to_owned(), event));
    }
    /// Requests seen so far.
    /// The requests for event lists and details only (not claim evidence).
    pub fn events_log(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| !l.contains("/impactedResources") && !l.contains("availabilityStatuses"))
            .collect()
    }

    pub fn log(&self) -> Vec<String> {
        self.with(|s| s.log.clone())
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn fault_response(f: &Fault) -> Response {
    match f {
        Fault::Throttle { retry_after } => {
            let mut r = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": {"code": "TooManyRequests", "message": "Too many requests."}}),
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.to_string()).expect("header"),
            );
            r
        }
        Fault::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Body::empty()).into_response(),
        Fault::ArmError { status, code } => json_response(
            StatusCode::from_u16(*status).expect("status"),
            json!({"error": {"code": code, "message": format!("{code} from fake ARM")}}),
        ),
        Fault::ProviderError { status, code } => json_response(
            StatusCode::from_u16(*status).expect("status"),
            json!({"code": code, "message": format!("{code} from fake provider"), "details": "x"}),
        ),
        Fault::Reset => {
            let parts: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
                Ok(axum::body::Bytes::from_static(b"{\"value\": [")),
                Err(std::io::Error::other("connection reset by the fake")),
            ];
            let body = Body::from_stream(futures::stream::iter(parts));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Fault::Truncated => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"value\": [{\"name\": \"TRUNC\", \"properties\": {\"eventType\": \"Serv",
        )
            .into_response(),
        // Handled where the scope's page is made.
        Fault::Slow { .. } | Fault::FreshTokenLoop | Fault::BigPage { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, Body::empty()).into_response()
        }
    }
}

/// A scope's page under a fault that still answers with its events.
fn faulty_page(
    s: &mut ArmState,
    scope: &str,
    path: &str,
    api_version: &str,
    f: &Fault,
) -> Option<Response> {
    match f {
        Fault::FreshTokenLoop => {
            s.fresh_tokens += 1;
            let link = format!(
                "{}{path}?api-version={api_version}&$skipToken=fresh-{}",
                s.base, s.fresh_tokens
            );
            let all = s.events.get(scope).cloned().unwrap_or_default();
            Some(json_response(
                StatusCode::OK,
                json!({"value": all, "nextLink": link}),
            ))
        }
        Fault::BigPage { bytes } => {
            let mut e = Ev::service_issue("BIG-1", "A big one", jiff::Timestamp::now()).build();
            e["properties"]["description"] = json!(format!("<p>{}</p>", "x".repeat(*bytes)));
            Some(json_response(StatusCode::OK, json!({"value": [e]})))
        }
        _ => None,
    }
}

async fn handle(State(state): State<Arc<Mutex<ArmState>>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let uri = req.uri().to_string();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let (response, delay) = {
        let mut s = state.lock().expect("fake ARM state");
        respond(&mut s, &method, &path, &query, &auth, uri, &body)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

fn respond(
    s: &mut ArmState,
    method: &axum::http::Method,
    path: &str,
    query: &HashMap<String, String>,
    auth: &str,
    uri: String,
    body: &[u8],
) -> (Response, Option<std::time::Duration>) {
    s.log.push(format!("{method} {uri}"));
    let slow = |r: Response| (r, None);
    if auth != format!("Bearer {}", s.token) {
        return slow(json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}),
        ));
    }
    let Some(api_version) = query.get("api-version").cloned() else {
        return slow(json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter is required."}}),
        ));
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["subscriptions"] => {
            let all = s.subscriptions.clone();
            let skip = query
                .get("$skipToken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let base = s.base.clone();
            return slow(page(&all, skip, s.page_size, |o| {
                format!("{base}{path}?api-version={api_version}&$skipToken={o}")
            }));
        }
        ["tenants"] => return slow(json_response(StatusCode::OK, json!({"value": s.tenants}))),
        // The spec's example: one child group and one subscription under the group.
        [
            "providers",
            "Microsoft.Management",
            "managementGroups",
            _,
            "descendants",
        ] => {
            let v: Value = serde_json::from_str(include_str!(
                "../../fixtures/arm/Management_GetDescendants.json"
            ))
            .expect("fixture");
            return slow(json_response(
                StatusCode::OK,
                v["responses"]["200"]["body"].clone(),
            ));
        }
        _ => {}
    }
    if path.contains("/Microsoft.Support/") {
        return slow(support(s, method.as_str(), &parts, &api_version, body));
    }
    if let Some(resource) =
        path.strip_suffix("/providers/Microsoft.ResourceHealth/availabilityStatuses")
    {
        let all = s.availability.get(resource).cloned().unwrap_or_default();
        let size = s.page_size;
        let skip = query
            .get("$skipToken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let base = s.base.clone();
        return slow(page(&all, skip, size, |o| {
            format!("{base}{path}?api-version={api_version}&$skipToken={o}")
        }));
    }
    let (scope, rest) = match parts.as_slice() {
        [
            "subscriptions",
            sub,
            "providers",
            "Microsoft.ResourceHealth",
            "events",
            rest @ ..,
        ] => (sub.to_string(), rest.to_vec()),
        ["providers", "Microsoft.ResourceHealth", "events", rest @ ..] => {
            ("tenant".to_owned(), rest.to_vec())
        }
        _ => {
            return slow(json_response(
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "InvalidResourceType", "message": "no such route"}}),
            ));
        }
    };
    if let (Some(Fault::Slow { secs }), "GET", []) =
        (s.broken.get(&scope), method.as_str(), rest.as_slice())
    {
        let secs = *secs;
        let all = s.events.get(&scope).cloned().unwrap_or_default();
        let r = json_response(StatusCode::OK, json!({ "value": all }));
        return (r, Some(std::time::Duration::from_secs(secs)));
    }
    slow(match (method.as_str(), rest.as_slice()) {
        ("GET", []) => list(s, &scope, path, &api_version, query.get("$skipToken")),
        ("GET", [id, "impactedResources"]) => {
            let all = s
                .impacted
                .get(&(scope.clone(), (*id).to_owned()))
                .cloned()
                .unwrap_or_default();
            let skip = query
                .get("$skipToken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let base = s.base.clone();
            page(&all, skip, s.page_size, |o| {
                format!("{base}{path}?api-version={api_version}&$skipToken={o}")
            })
        }
        ("POST", [_, "listSecurityAdvisoryImpactedResources"]) => json_response(
            StatusCode::FORBIDDEN,
            json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.ResourceHealth/events/listSecurityAdvisoryImpactedResources/action'."}}),
        ),
        ("POST", [id, "fetchEventDetails"]) => match s.details.get(*id) {
            Some(e) => json_response(StatusCode::OK, e.clone()),
            None => json_response(
                StatusCode::FORBIDDEN,
                json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.ResourceHealth/events/fetchEventDetails/action'."}}),
            ),
        },
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"code": "NotFound", "message": "unknown operation", "details": ""}),
        ),
    })
}

/// The Support API: services and problem classifications (the spec's examples, plus the live
/// Billing service's `Refund request`), tickets by name, creation as a long-running operation.
fn support(s: &mut ArmState, method: &str, parts: &[&str], api: &str, body: &[u8]) -> Response {
    let spec = |text: &str| -> Value {
        let v: Value = serde_json::from_str(text).expect("fixture");
        v["responses"]["200"]["body"].clone()
    };
    match (method, parts) {
        ("GET", ["providers", "Microsoft.Support", "services"]) => json_response(
            StatusCode::OK,
            spec(include_str!("../../fixtures/arm/Support_ListServices.json")),
        ),
        (
            "GET",
            [
                "providers",
                "Microsoft.Support",
                "services",
                svc,
                "problemClassifications",
            ],
        ) => {
            let mut v = spec(include_str!(
                "../../fixtures/arm/Support_ListProblemClassifications.json"
            ));
            if let Some(list) = v["value"].as_array_mut() {
                list.insert(1, json!({
                    "name": "refund_guid",
                    "type": "Microsoft.Support/problemClassifications",
                    "id": format!("/providers/Microsoft.Support/services/{svc}/problemClassifications/refund_guid"),
                    "properties": {"displayName": "Refund request"}
                }));
            }
            json_response(StatusCode::OK, v)
        }
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "Microsoft.Support",
                "supportTickets",
                name,
            ],
        ) => match s.tickets.get(*name) {
            Some(t) => json_response(StatusCode::OK, t.clone()),
            None => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "ResourceNotFound", "message": format!("ticket {name} not found")}}),
            ),
        },
        (
            "PUT",
            [
                "subscriptions",
                sub,
                "providers",
                "Microsoft.Support",
                "supportTickets",
                name,
            ],
        ) => {
            s.ticket_puts += 1;
            if s.support_denied {
                return json_response(
                    StatusCode::FORBIDDEN,
                    json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Support/supportTickets/write'."}}),
                );
            }
            let Ok(mut ticket) = serde_json::from_slice::<Value>(body) else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"code": "BadRequest", "message": "not JSON"}}),
                );
            };
            let p = &ticket["properties"];
            let ok = p["serviceId"] == "/providers/Microsoft.Support/services/service_guid_1"
                && p["problemClassificationId"]
                    == "/providers/Microsoft.Support/services/service_guid_1/problemClassifications/refund_guid"
                && p["contactDetails"]["primaryEmailAddress"].is_string();
            if !ok {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"code": "InvalidTicket", "message": ticket.to_string()}}),
                );
            }
            ticket["name"] = json!(name);
            ticket["id"] = json!(format!(
                "/subscriptions/{sub}/providers/Microsoft.Support/supportTickets/{name}"
            ));
            ticket["type"] = json!("Microsoft.Support/supportTickets");
            ticket["properties"]["supportTicketId"] =
                json!(format!("26120200400{:05}", s.tickets.len() + 1));
            s.tickets.insert((*name).to_owned(), ticket);
            let op = format!("op-{}", s.ticket_puts);
            s.operations.insert(op.clone(), 1);
            let mut r = (StatusCode::ACCEPTED, Body::empty()).into_response();
            let link = format!(
                "{}/subscriptions/{sub}/providers/Microsoft.Support/operationsStatus/{op}?api-version={api}",
                s.base
            );
            r.headers_mut().insert(
                "azure-asyncoperation",
                HeaderValue::from_str(&link).expect("header"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
            r
        }
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "Microsoft.Support",
                "operationsStatus",
                op,
            ],
        ) => {
            let left = s.operations.entry((*op).to_owned()).or_insert(0);
            let status = if *left == 0 {
                "Succeeded"
            } else {
                "InProgress"
            };
            *left = left.saturating_sub(1);
            let mut r = json_response(StatusCode::OK, json!({"status": status}));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
            r
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "NotFound", "message": "unknown Support API route"}}),
        ),
    }
}

fn list(
    s: &mut ArmState,
    scope: &str,
    path: &str,
    api_version: &str,
    skip: Option<&String>,
) -> Response {
    if let Some(f) = s.broken.get(scope).cloned() {
        return faulty_page(s, scope, path, api_version, &f).unwrap_or_else(|| fault_response(&f));
    }
    if let Some(f) = s.faults.pop_front() {
        return fault_response(&f);
    }
    let link = |offset: usize| {
        let host = if s.foreign_links.contains(scope) {
            "https://evil.example"
        } else {
            s.base.as_str()
        };
        format!("{host}{path}?api-version={api_version}&$skipToken={offset}")
    };
    let all = s.events.get(scope).cloned().unwrap_or_default();
    let Some(offset) = skip.map(|t| t.parse::<usize>().unwrap_or(0)) else {
        if s.empty_first_page {
            return json_response(StatusCode::OK, json!({"value": [], "nextLink": link(0)}));
        }
        return page(&all, 0, s.page_size, link);
    };
    page(&all, offset, s.page_size, link)
}

fn page(all: &[Value], offset: usize, size: usize, link: impl Fn(usize) -> String) -> Response {
    let end = (offset + size).min(all.len());
    let items = all.get(offset..end).unwrap_or(&[]).to_vec();
    let mut body = json!({ "value": items });
    if end < all.len() {
        body["nextLink"] = json!(link(end));
    }
    json_response(StatusCode::OK, body)
}

/// Formats a time the way ARM does (7 fractional digits, `Z`).
pub fn arm_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.1203530Z").to_string()
}

/// An event, written from the 2025-05-01 schema.
#[derive(Debug, Clone)]
pub struct Ev {
    pub v: Value,
}

impl Ev {
    /// An active service issue in West Europe, started `start`, not mitigated.
    pub fn service_issue(id: &str, title: &str, start: jiff::Timestamp) -> Self {
        Self {
            v: json!({
                "name": id,
                "type": "/providers/Microsoft.ResourceHealth/events",
                "id": format!("/providers/Microsoft.ResourceHealth/events/{id}"),
                "properties": {
                    "eventType": "ServiceIssue",
                    "eventSource": "ServiceHealth",
                    "status": "Active",
                    "title": title,
                    "summary": "<p>Engineers are investigating.</p>",
                    "header": "Your service might have been impacted by an Azure service issue",
                    "level": "Warning",
                    "eventLevel": "Warning",
                    "isEventSensitive": false,
                    "impactStartTime": arm_time(start),
                    "impactMitigationTime": "0001-01-01T00:00:00",
                    "lastUpdateTime": arm_time(start),
                    "eventTags": [],
                    "priority": 2,
                    "links": [{"type": "Hyperlink", "bladeName": "RequestRCABlade",
                        "displayText": {"value": "Request RCA", "localizedValue": "Request RCA"},
                        "extensionName": "Microsoft_Azure_Health",
                        "parameters": {"rcaRequested": "False", "trackingId": id}}],
                    "impact": [{
                        "impactedService": "Virtual Machines",
                        "impactedServiceGuid": "fd8065f5-ffd0-4756-8788-e6a11bf36257",
                        "impactedRegions": [{
                            "impactedRegion": "West Europe",
                            "status": "Active",
                            "impactedSubscriptions": [],
                            "impactedTenants": [],
                            "lastUpdateTime": arm_time(start),
                            "updates": []
                        }]
                    }]
                }
            }),
        }
    }

    fn props(&mut self) -> &mut Value {
        &mut self.v["properties"]
    }

    fn region(&mut self) -> &mut Value {
        &mut self.v["properties"]["impact"][0]["impactedRegions"][0]
    }

    pub fn event_type(mut self, t: &str) -> Self {
        self.props()["eventType"] = json!(t);
        self
    }

    /// Adds an update (newest first, as Azure lists them) with tags; tags also go to the event.
    pub fn update(mut self, at: jiff::Timestamp, html: &str, tags: &[&str]) -> Self {
        let u = json!({"summary": html, "updateDateTime": arm_time(at), "eventTags": tags});
        if let Some(list) = self.region()["updates"].as_array_mut() {
            list.insert(0, u);
        }
        self.region()["lastUpdateTime"] = json!(arm_time(at));
        self.props()["lastUpdateTime"] = json!(arm_time(at));
        for t in tags {
            if let Some(list) = self.props()["eventTags"].as_array_mut()
                && !list.iter().any(|x| x == t)
            {
                list.push(json!(t));
            }
        }
        self
    }

    /// Mitigated at `at` and resolved.
    pub fn resolved(mut self, at: jiff::Timestamp) -> Self {
        self.props()["status"] = json!("Resolved");
        self.props()["impactMitigationTime"] = json!(arm_time(at));
        self.region()["status"] = json!("Resolved");
        self
    }

    /// No `impactStartTime` at all (Azure leaves it out for some events).
    pub fn without_impact_start(mut self) -> Self {
        if let Some(p) = self.props().as_object_mut() {
            p.remove("impactStartTime");
        }
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.props()["isEventSensitive"] = json!(true);
        self.props()["summary"] = Value::Null;
        self.region()["updates"] = json!([]);
        self
    }

    pub fn description(mut self, html: &str) -> Self {
        self.props()["description"] = json!(html);
        self
    }

    pub fn summary(mut self, html: &str) -> Self {
        self.props()["summary"] = json!(html);
        self
    }

    pub fn build(self) -> Value {
        self.v
    }
}
