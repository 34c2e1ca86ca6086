//! Filing an SLA claim as an Azure support ticket (`Microsoft.Support/supportTickets`,
//! api-version 2024-04-01): the Billing service and its refund problem classification are
//! looked up (never hard-coded ids), the ticket is created under a name derived from the
//! incident — so a retry or a crash mid-call finds the ticket instead of filing a second one —
//! and the long-running creation is followed to its end. Needs the Support Request Contributor
//! role on the subscription.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::client::{ArmClient, PollError, same_host_link};
use super::credential::TenantToken;
use crate::config::schema::SupportContact;

/// The Support API's version.
pub const API_VERSION: &str = "2024-04-01";
/// How long the creation may take to finish.
const CREATE_LIMIT: Duration = Duration::from_secs(300);

/// A ticket to open.
#[derive(Debug, Clone)]
pub struct TicketRequest {
    /// The ticket's resource name (derived from the incident, see [`ticket_name`]).
    pub name: String,
    pub title: String,
    pub description: String,
    pub contact: SupportContact,
}

/// A ticket that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub name: String,
    /// The support request number people quote.
    pub number: String,
    /// It was already there: a retry found it.
    pub existed: bool,
}

/// Why a ticket could not be filed, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error(
        "the identity may not open support requests in subscription {subscription} (HTTP 403): \
         give it the Support Request Contributor role there ({source})"
    )]
    Forbidden {
        subscription: String,
        source: PollError,
    },
    #[error("the Support API lists no Billing service (services: {0})")]
    NoBilling(String),
    #[error(
        "the Billing service has no refund problem classification (it has: {0}); file the claim \
         in the portal"
    )]
    NoRefund(String),
    #[error("the ticket's creation did not finish: {0}")]
    Unfinished(String),
    #[error(transparent)]
    Arm(#[from] PollError),
    #[error("an answer of the Support API could not be read: {0}")]
    Body(String),
}

/// A ticket name from what it is about: `pirwatch-claim-<tracking id>-<hash>`, the hash over
/// tenant, subscription and tracking id, within the name rules (letters, digits, `-`, `_`).
pub fn ticket_name(tenant: &str, subscription: &str, tracking_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [tenant, subscription, tracking_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let id: String = tracking_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!("pirwatch-claim-{id}-{hex}")
}

#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(default)]
    value: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
struct Item {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    properties: ItemProps,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemProps {
    display_name: Option<String>,
    support_ticket_id: Option<String>,
}

fn display(i: &Item) -> &str {
    i.properties.display_name.as_deref().unwrap_or("")
}

/// The refund classification of the Billing service: named "Refund request" (any case), else
/// the one whose name starts with "Refund". A reservation's "Exchanges and Refunds" is not an
/// SLA credit.
fn refund_classification(items: &[Item]) -> Option<&Item> {
    items
        .iter()
        .find(|i| display(i).eq_ignore_ascii_case("refund request"))
        .or_else(|| {
            items
                .iter()
                .find(|i| display(i).to_ascii_lowercase().starts_with("refund"))
        })
}

fn body<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, SupportError> {
    serde_json::from_str(text).map_err(|e| SupportError::Body(e.to_string()))
}

impl ArmClient {
    /// Files `req` in `subscription`, or finds it filed.
    pub async fn file_ticket(
        &self,
        arm: &Url,
        token: &TenantToken,
        subscription: &str,
        req: &TicketRequest,
    ) -> Result<Ticket, SupportError> {
        let mut requests = 0;
        let ticket_url = support_url(
            arm,
            &[
                "subscriptions",
                subscription,
                "providers",
                "Microsoft.Support",
                "supportTickets",
                &req.name,
            ],
        );
        let forbidden = |e: PollError| match e {
            PollError::Http { status: 403, .. } => SupportError::Forbidden {
                subscription: subscription.to_owned(),
                source: e,
            },
            e => SupportError::Arm(e),
        };
        match self
            .send_json(Method::GET, &ticket_url, token, None, &mut requests)
            .await
        {
            Ok(a) => return number(&a.body, &req.name, true),
            Err(PollError::Http { status: 404, .. }) => {}
            Err(e) => return Err(forbidden(e)),
        }
        let services_url = support_url(arm, &["providers", "Microsoft.Support", "services"]);
        let services: Listed = body(
            &self
                .send(Method::GET, &services_url, token, &mut requests)
                .await?,
        )?;
        let billing = services
            .value
            .iter()
            .find(|s| display(s).eq_ignore_ascii_case("billing"))
            .ok_or_else(|| {
                SupportError::NoBilling(
                    services
                        .value
                        .iter()
                        .map(display)
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
        let classes_url = support_url(
            arm,
            &[
                "providers",
                "Microsoft.Support",
                "services",
                &billing.name,
                "problemClassifications",
            ],
        );
        let classes: Listed = body(
            &self
                .send(Method::GET, &classes_url, token, &mut requests)
                .await?,
        )?;
        let refund = refund_classification(&classes.value).ok_or_else(|| {
            SupportError::NoRefund(
                classes
                    .value
                    .iter()
                    .map(display)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        let c = &req.contact;
        let create = json!({
            "properties": {
                "title": req.title,
                "description": req.description,
                "serviceId": billing.id,
                "problemClassificationId": refund.id,
                "severity": "minimal",
                "advancedDiagnosticConsent": "No",
                "contactDetails": {
                    "firstName": c.first_name,
                    "lastName": c.last_name,
                    "primaryEmailAddress": c.email,
                    "preferredContactMethod": "email",
                    "preferredTimeZone": c.timezone,
                    "country": c.country,
                    "preferredSupportLanguage": c.language,
                },
            }
        });
        let created = self
            .send_json(
                Method::PUT,
                &ticket_url,
                token,
                Some(&create),
                &mut requests,
            )
            .await
            .map_err(forbidden)?;
        if created.status == 202 {
            let op = created.operation.ok_or_else(|| {
                SupportError::Unfinished("202 without an operation to follow".into())
            })?;
            self.follow(arm, token, &op, created.retry_after).await?;
            let done = self
                .send_json(Method::GET, &ticket_url, token, None, &mut requests)
                .await?;
            return number(&done.body, &req.name, false);
        }
        number(&created.body, &req.name, false)
    }

    /// Follows a long-running operation until it succeeds, within [`CREATE_LIMIT`].
    async fn follow(
        &self,
        arm: &Url,
        token: &TenantToken,
        operation: &str,
        first_wait: Option<Duration>,
    ) -> Result<(), SupportError> {
        let url = same_host_link(arm, operation)?;
        let deadline = tokio::time::Instant::now() + CREATE_LIMIT;
        let mut wait = first_wait
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(30));
        let mut requests = 0;
        loop {
            tokio::time::sleep(wait).await;
            let a = self
                .send_json(Method::GET, &url, token, None, &mut requests)
                .await?;
            let status = serde_json::from_str::<Value>(&a.body)
                .ok()
                .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
            match status.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("succeeded") => return Ok(()),
                Some(s)
                    if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("canceled") =>
                {
                    return Err(SupportError::Unfinished(format!(
                        "the operation {s}: {}",
                        a.body
                    )));
                }
                // A Location answer without a body: done when it is 200.
                None if a.status == 200 && a.body.trim().is_empty() => return Ok(()),
                _ => {}
            }
            if tokio::time::Instant::now() + wait > deadline {
                return Err(SupportError::Unfinished(format!(
                    "still running after {}s",
                    CREATE_LIMIT.as_secs()
                )));
            }
            wait = a
                .retry_after
                .unwrap_or(Duration::from_secs(5))
                .min(Duration::from_secs(30));
        }
    }
}

/// An ARM URL of the Support API.
fn support_url(arm: &Url, segments: &[&str]) -> Url {
    let mut url = arm.clone();
    url.set_query(None);
    if let Ok(mut p) = url.path_segments_mut() {
        p.pop_if_empty();
        p.extend(segments);
    }
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION);
    url
}

/// The ticket's number from its resource.
fn number(text: &str, name: &str, existed: bool) -> Result<Ticket, SupportError> {
    let item: Item = body(text)?;
    let number = item
        .properties
        .support_ticket_id
        .ok_or_else(|| SupportError::Body(format!("ticket {name} has no supportTicketId")))?;
    Ok(Ticket {
        name: item.name,
        number,
        existed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(names: &[&str]) -> Vec<Item> {
        names
            .iter()
            .enumerate()
            .map(|(n, d)| Item {
                id: format!("/p/{n}"),
                name: n.to_string(),
                properties: ItemProps {
                    display_name: Some((*d).to_owned()),
                    support_ticket_id: None,
                },
            })
            .collect()
    }

    #[test]
    fn the_refund_classification_is_the_sla_one_never_a_reservations() {
        // The spec example's Billing list: a reservation refund, no SLA refund.
        let spec = items(&[
            "Reservation Management / Exchanges and Refunds",
            "Reservation Management / Request Invoices",
            "Other General Billing Questions",
        ]);
        assert!(refund_classification(&spec).is_none());
        let live = items(&[
            "Reservation Management / Exchanges and Refunds",
            "Refund request",
            "Other General Billing Questions",
        ]);
        assert_eq!(
            refund_classification(&live).map(display),
            Some("Refund request")
        );
        let other = items(&["Refunds and credits"]);
        assert_eq!(
            refund_classification(&other).map(display),
            Some("Refunds and credits")
        );
    }

    #[test]
    fn ticket_names_are_stable_distinct_and_valid() {
        let a = ticket_name("contoso", "sub-a", "BC_1-FXZ");
        assert_eq!(a, ticket_name("contoso", "sub-a", "BC_1-FXZ"));
        assert_ne!(a, ticket_name("fabrikam", "sub-a", "BC_1-FXZ"));
        assert_ne!(a, ticket_name("contoso", "sub-b", "BC_1-FXZ"));
        assert!(a.starts_with("pirwatch-claim-BC_1-FXZ-"), "{a}");
        let odd = ticket_name("t", "s", "a/b c?");
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{odd}"
        );
    }
}
