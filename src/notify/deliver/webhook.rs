//! Delivering to a webhook: the composed [`Document`] shaped for the webhook's kind, posted
//! once within its timeout, and the attempt settled for every delivery it carried (one, or a
//! route digest's members). The URL is a secret: logs name the webhook.

use jiff::Timestamp;

use super::Notifier;
use crate::incident::notice::{DeliveryState, Settlement};
use crate::notify::channel::webhook::WebhookFailure;
use crate::notify::channel::webhook::payload::{self, Document};
use crate::notify::settle::settle_webhook;
use crate::store::{QueuedDelivery, Store, StoreError};

impl Notifier {
    /// One attempt at posting `doc` to the webhook `name` (`batch`'s receiver), recorded.
    pub(super) async fn post_webhook(
        &self,
        store: &Store,
        name: &str,
        batch: &[QueuedDelivery],
        doc: &Document,
        clock: impl Fn() -> Timestamp,
    ) -> Result<Settlement, StoreError> {
        let d = &batch[0];
        let hook = self.webhooks.iter().find(|h| h.name == name);
        let outcome = match (hook, &self.webhook_sender) {
            (Some(hook), Some(sender)) => {
                // A JSON value always prints.
                let body = payload::body(hook.kind, doc).to_string().into_bytes();
                sender.post(hook, &doc.id, body).await
            }
            _ => Err(WebhookFailure {
                permanent: true,
                message: format!("webhook {name} is no longer in the config"),
                retry_after: None,
            }),
        };
        let before = store.recipients(d).await?.remove(name);
        let policy = hook.map_or((1, self.retry_backoff), |h| {
            (h.max_attempts, h.retry_backoff)
        });
        let at = clock();
        let s = settle_webhook(name, before.as_ref(), &outcome, d.attempts, policy, at);
        store.settle_attempts(batch, &s, &doc.subject, at).await?;
        match s.state {
            DeliveryState::Sent => tracing::info!(webhook = %name, id = %doc.id,
                kind = doc.kind, "webhook delivered"),
            DeliveryState::Failed => tracing::error!(webhook = %name, id = %doc.id,
                error = s.error.as_deref().unwrap_or(""), attempts = d.attempts + 1,
                "webhook delivery given up on (see `pirwatch outbox list`)"),
            _ => tracing::warn!(webhook = %name, id = %doc.id,
                error = s.error.as_deref().unwrap_or(""), retry_at = %s.next_attempt,
                "webhook not delivered; will retry"),
        }
        Ok(s)
    }
}
