//! Signed links: a link in a mail is a capability — tenant, incident, action, the receiver the
//! mail went to (a whole list, so a link names the receiver, not a person) and an expiry —
//! signed with HMAC-SHA-256. The key file may hold several keys: the first signs, all verify, so
//! a key can be rotated with a grace period. A link carries no secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::incident::notice::Receiver;
use crate::incident::{TenantName, TrackingId};

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: a link's MAC can never pass as a form's, nor the other way round.
const LINK_CONTEXT: &[u8] = b"pirwatch-link-v1\0";
const FORM_CONTEXT: &[u8] = b"pirwatch-form-v1\0";
/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    /// Read the tenant's open follow-ups and incidents (changes nothing).
    View,
    /// Record that the PIR was reviewed.
    Reviewed,
    /// Record that the claim was filed (asks for the support request number).
    Claimed,
    /// Record that no claim will be filed (asks for a reason).
    NoClaim,
}

/// A link's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    #[serde(rename = "t")]
    pub tenant: TenantName,
    /// The incident; `None` for a tenant's page.
    #[serde(rename = "i", skip_serializing_if = "Option::is_none", default)]
    pub tracking_id: Option<TrackingId>,
    #[serde(rename = "a")]
    pub action: LinkAction,
    /// Who the mail carrying the link went to.
    #[serde(rename = "r", with = "receiver")]
    pub receiver: Receiver,
    /// Unix seconds after which the link no longer works.
    #[serde(rename = "e")]
    pub expires: i64,
}

mod receiver {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::incident::notice::Receiver;

    pub fn serialize<S: Serializer>(r: &Receiver, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&r.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Receiver, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is damaged or incomplete")]
    Malformed,
    #[error("this link was not made by this pirwatch, or was changed")]
    Forged,
    #[error("this link expired on {0}")]
    Expired(Timestamp),
}

/// A key file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("holds no key (one per line, 64 hex digits; `pirwatch gen-key FILE` writes one)")]
    Empty,
    #[error("line {line}: not a key of at least {MIN_KEY_BYTES} bytes in hex")]
    Invalid { line: usize },
}

/// The HMAC keys: the first signs, every one verifies.
#[derive(Clone)]
pub struct Keys(Vec<Vec<u8>>);

impl std::fmt::Debug for Keys {
    /// Never the keys themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} key(s))", self.0.len())
    }
}

impl Keys {
    /// Parses a key file: one hex key per line; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match hex(line) {
                Some(k) if k.len() >= MIN_KEY_BYTES => keys.push(k),
                _ => return Err(KeyError::Invalid { line: n + 1 }),
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self(keys))
    }

    /// A new random key as a key file's line (32 bytes in hex).
    pub fn generate() -> Result<String, getrandom::Error> {
        let mut k = [0u8; MIN_KEY_BYTES];
        getrandom::fill(&mut k)?;
        Ok(k.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn mac(key: &[u8], context: &[u8], data: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut m = match HmacSha256::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        };
        m.update(context);
        m.update(data);
        m
    }

    fn sign_with_first(&self, context: &[u8], data: &[u8]) -> String {
        let key = self.0.first().map_or(&[][..], Vec::as_slice);
        B64.encode(Self::mac(key, context, data).finalize().into_bytes())
    }

    fn verify_any(&self, context: &[u8], data: &[u8], tag: &[u8]) -> bool {
        self.0
            .iter()
            .any(|k| Self::mac(k, context, data).verify_slice(tag).is_ok())
    }

    /// The token of `link`, for a URL path: `payload.signature`, both base64url.
    pub fn sign(&self, link: &Link) -> String {
        let payload = serde_json::to_vec(link).unwrap_or_default();
        let sig = self.sign_with_first(LINK_CONTEXT, &payload);
        format!("{}.{sig}", B64.encode(&payload))
    }

    /// The link a token names, if it was signed by one of the keys and has not expired at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Link, LinkError> {
        let (payload, sig) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let payload = B64.decode(payload).map_err(|_| LinkError::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| LinkError::Malformed)?;
        if !self.verify_any(LINK_CONTEXT, &payload, &sig) {
            return Err(LinkError::Forged);
        }
        let link: Link = serde_json::from_slice(&payload).map_err(|_| LinkError::Malformed)?;
        let expires = Timestamp::from_second(link.expires).map_err(|_| LinkError::Malformed)?;
        if now >= expires {
            return Err(LinkError::Expired(expires));
        }
        Ok(link)
    }

    /// The CSRF token of the form a link's page shows: bound to that link.
    pub fn form_token(&self, link_token: &str) -> String {
        self.sign_with_first(FORM_CONTEXT, link_token.as_bytes())
    }

    /// True when `form` is the CSRF token of the form of `link_token`.
    pub fn form_token_ok(&self, link_token: &str, form: &str) -> bool {
        B64.decode(form)
            .is_ok_and(|tag| self.verify_any(FORM_CONTEXT, link_token.as_bytes(), &tag))
    }
}

/// Makes the links mails and pages carry: signed, expiring `ttl` after they are made, under the
/// public base URL.
#[derive(Debug, Clone)]
pub struct LinkMaker {
    keys: Keys,
    base: url::Url,
    ttl: std::time::Duration,
}

/// The links about one incident, for one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentLinks {
    pub reviewed: String,
    pub claimed: String,
    pub no_claim: String,
    /// The incident's page (its whole history), read-only.
    pub incident: String,
    /// The tenant's page of open follow-ups, read-only.
    pub tenant: String,
}

impl LinkMaker {
    pub fn new(keys: Keys, base: url::Url, ttl: std::time::Duration) -> Self {
        Self { keys, base, ttl }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The URL of `path` segments under the base.
    pub fn url(&self, segments: &[&str]) -> String {
        let mut u = self.base.clone();
        if let Ok(mut p) = u.path_segments_mut() {
            p.pop_if_empty().extend(segments);
        }
        u.to_string()
    }

    fn expiry(&self, now: Timestamp) -> i64 {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        now.as_second().saturating_add(ttl)
    }

    /// The token of a link made at `now`.
    pub fn token(
        &self,
        tenant: &TenantName,
        tracking_id: Option<&TrackingId>,
        action: LinkAction,
        receiver: &Receiver,
        now: Timestamp,
    ) -> String {
        self.keys.sign(&Link {
            tenant: tenant.clone(),
            tracking_id: tracking_id.cloned(),
            action,
            receiver: receiver.clone(),
            expires: self.expiry(now),
        })
    }

    /// The read-only link to a tenant's page.
    pub fn tenant_page(&self, tenant: &TenantName, receiver: &Receiver, now: Timestamp) -> String {
        let t = self.token(tenant, None, LinkAction::View, receiver, now);
        self.url(&["l", &t])
    }

    /// Every link about incident `id` of `tenant`, for a mail to `receiver`.
    pub fn incident(
        &self,
        tenant: &TenantName,
        id: &TrackingId,
        receiver: &Receiver,
        now: Timestamp,
    ) -> IncidentLinks {
        let act = |a| self.url(&["l", &self.token(tenant, Some(id), a, receiver, now)]);
        let view = self.token(tenant, None, LinkAction::View, receiver, now);
        IncidentLinks {
            reviewed: act(LinkAction::Reviewed),
            claimed: act(LinkAction::Claimed),
            no_claim: act(LinkAction::NoClaim),
            incident: self.url(&["l", &view, "i", id.as_str()]),
            tenant: self.url(&["l", &view]),
        }
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn link() -> Link {
        Link {
            tenant: "contoso".into(),
            tracking_id: Some("BC_1-FXZ".into()),
            action: LinkAction::Claimed,
            receiver: Receiver::TenantRecipients,
            expires: ts("2026-12-31T00:00:00Z").as_second(),
        }
    }

    const K1: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const K2: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let keys = Keys::parse(K1).expect("keys");
        let token = keys.sign(&link());
        let now = ts("2026-12-01T00:00:00Z");
        assert_eq!(keys.verify(&token, now), Ok(link()));
        assert_eq!(
            keys.verify(&token, ts("2026-12-31T00:00:00Z")),
            Err(LinkError::Expired(ts("2026-12-31T00:00:00Z")))
        );
        assert!(!token.contains(K1), "no key in a link");
    }

    #[test]
    fn a_changed_link_is_refused() {
        let keys = Keys::parse(K1).expect("keys");
        let token = keys.sign(&link());
        let now = ts("2026-12-01T00:00:00Z");
        // Another tenant, same signature.
        let (_, sig) = token.split_once('.').expect("dot");
        let mut other = link();
        other.tenant = "fabrikam".into();
        let payload = B64.encode(serde_json::to_vec(&other).expect("json"));
        assert_eq!(
            keys.verify(&format!("{payload}.{sig}"), now),
            Err(LinkError::Forged)
        );
        // Any flipped character.
        for i in [0, token.len() / 2, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).expect("ascii");
            assert!(keys.verify(&t, now).is_err(), "{t}");
        }
        assert_eq!(keys.verify("nonsense", now), Err(LinkError::Malformed));
        // A key that is not ours.
        let theirs = Keys::parse(K2).expect("keys");
        assert_eq!(theirs.verify(&token, now), Err(LinkError::Forged));
    }

    #[test]
    fn the_first_key_signs_and_every_key_verifies() {
        let old = Keys::parse(K1).expect("keys");
        let rotated = Keys::parse(&format!("# new key first\n{K2}\n\n{K1}\n")).expect("keys");
        let now = ts("2026-12-01T00:00:00Z");
        let old_token = old.sign(&link());
        assert_eq!(rotated.verify(&old_token, now), Ok(link()), "grace period");
        let new_token = rotated.sign(&link());
        assert_eq!(
            Keys::parse(K2).expect("k2").verify(&new_token, now),
            Ok(link())
        );
        assert_eq!(old.verify(&new_token, now), Err(LinkError::Forged));
    }

    #[test]
    fn form_tokens_are_bound_to_their_link() {
        let keys = Keys::parse(K1).expect("keys");
        let a = keys.sign(&link());
        let mut l = link();
        l.action = LinkAction::Reviewed;
        let b = keys.sign(&l);
        let form = keys.form_token(&a);
        assert!(keys.form_token_ok(&a, &form));
        assert!(!keys.form_token_ok(&b, &form));
        assert!(!keys.form_token_ok(&a, "x"));
        // A link's signature is not a form token.
        let (_, sig) = a.split_once('.').expect("dot");
        assert!(!keys.form_token_ok(&a, sig));
    }

    #[test]
    fn links_live_under_the_public_url_and_expire_after_the_ttl() {
        let maker = LinkMaker::new(
            Keys::parse(K1).expect("keys"),
            "https://pirwatch.example.com/base".parse().expect("url"),
            std::time::Duration::from_secs(3600),
        );
        let now = ts("2026-12-01T00:00:00Z");
        let l = maker.incident(
            &"contoso".into(),
            &"BC_1/FXZ".into(),
            &Receiver::TenantRecipients,
            now,
        );
        assert!(
            l.claimed
                .starts_with("https://pirwatch.example.com/base/l/"),
            "{}",
            l.claimed
        );
        assert!(l.incident.ends_with("/i/BC_1%2FFXZ"), "{}", l.incident);
        let token = l.claimed.rsplit('/').next().expect("token");
        let link = maker.keys().verify(token, now).expect("valid");
        assert_eq!(link.action, LinkAction::Claimed);
        assert_eq!(link.expires, ts("2026-12-01T01:00:00Z").as_second());
        assert!(
            maker
                .keys()
                .verify(token, ts("2026-12-01T01:00:00Z"))
                .is_err()
        );
    }

    #[test]
    fn key_files_are_checked() {
        assert_eq!(
            Keys::parse("\n# only a comment\n").err(),
            Some(KeyError::Empty)
        );
        assert_eq!(
            Keys::parse("abcd").err(),
            Some(KeyError::Invalid { line: 1 })
        );
        assert_eq!(
            Keys::parse(&format!("{K1}\nzz{}", &K2[2..])).err(),
            Some(KeyError::Invalid { line: 2 })
        );
        let k = Keys::generate().expect("random");
        assert_eq!(k.len(), 64);
        assert!(Keys::parse(&k).is_ok());
        assert_ne!(k, Keys::generate().expect("random"));
        assert_eq!(
            format!("{:?}", Keys::parse(K1).expect("k")),
            "Keys(1 key(s))"
        );
    }
}
