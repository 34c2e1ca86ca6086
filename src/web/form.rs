//! The confirmation form: what it asks for per action, checked; the guards against a form from
//! another site; and the cookie that remembers the name a person typed on their own device.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::link::LinkAction;
use crate::config::web::Web;
use crate::incident::ack::AckRequest;

/// The longest name, support request number and reason a form takes.
const MAX_BY: usize = 100;
const MAX_REFERENCE: usize = 64;
const MAX_REASON: usize = 500;

/// The fields of a confirmation form.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct AckForm {
    /// The CSRF token bound to the link.
    #[serde(default)]
    pub(super) form: String,
    #[serde(default)]
    pub(super) by: String,
    #[serde(default)]
    pub(super) reference: String,
    #[serde(default)]
    pub(super) reason: String,
}

/// GET of a link: the tenant's page, or an action's confirmation page. Changes nothing.
/// The cookie that remembers the name a person typed, to fill the next form in (a convenience
/// on their own device; what is recorded is always what the form sends).
pub(super) const NAME_COOKIE: &str = "pirwatch_by";

/// The name remembered in the request's cookie.
pub(super) fn remembered_name(headers: &HeaderMap) -> String {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == NAME_COOKIE)
        .and_then(|(_, v)| {
            url::form_urlencoded::parse(format!("n={v}").as_bytes())
                .next()
                .map(|(_, n)| n.into_owned())
        })
        .filter(|n| n.chars().count() <= MAX_BY && !n.chars().any(char::is_control))
        .unwrap_or_default()
}

/// The `Set-Cookie` that remembers `name` for a year, on this site only.
pub(super) fn remember_name(name: &str, web: &Web) -> Option<axum::http::HeaderValue> {
    let value: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let secure = if web.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    axum::http::HeaderValue::from_str(&format!(
        "{NAME_COOKIE}={value}; Path=/; Max-Age=31536000; SameSite=Strict; HttpOnly{secure}"
    ))
    .ok()
}

/// True when the browser says the form came from another site.
pub(super) fn cross_site(headers: &HeaderMap, web: &Web) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|v| v != "same-origin" && v != "none") {
        return true;
    }
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let ours = web.public_url.origin().ascii_serialization();
    origin.is_some_and(|o| o != "null" && o != ours)
}

/// What the form asks for, checked: the request, or what is wrong with it.
pub(super) fn request_of(
    action: LinkAction,
    form: &AckForm,
) -> Result<(AckRequest, String), &'static str> {
    let clean = |s: &str| s.trim().to_owned();
    let by = clean(&form.by);
    if by.is_empty() {
        return Err("Type your name: it is recorded as who did this.");
    }
    if by.chars().count() > MAX_BY || by.chars().any(char::is_control) {
        return Err("The name is too long or holds control characters.");
    }
    let request = match action {
        LinkAction::Reviewed => AckRequest::Reviewed,
        LinkAction::Claimed => {
            let r = clean(&form.reference);
            if r.is_empty() {
                return Err("Type the support request number of the claim.");
            }
            if r.chars().count() > MAX_REFERENCE || r.chars().any(char::is_control) {
                return Err("The support request number is too long.");
            }
            AckRequest::Claimed { reference: Some(r) }
        }
        LinkAction::NoClaim => {
            let r = clean(&form.reason);
            if r.is_empty() {
                return Err("Say why no claim will be filed.");
            }
            if r.chars().count() > MAX_REASON {
                return Err("The reason is too long.");
            }
            AckRequest::NoClaim { reason: Some(r) }
        }
        LinkAction::View => return Err("This link records nothing."),
    };
    Ok((request, by))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(by: &str, reference: &str, reason: &str) -> AckForm {
        AckForm {
            form: String::new(),
            by: by.into(),
            reference: reference.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_form_asks_for_what_its_action_needs() {
        let ok = request_of;
        assert_eq!(
            ok(LinkAction::Reviewed, &form(" Ana ", "", "")),
            Ok((AckRequest::Reviewed, "Ana".into()))
        );
        assert!(ok(LinkAction::Reviewed, &form("  ", "", "")).is_err());
        assert!(ok(LinkAction::Claimed, &form("Ana", "", "")).is_err());
        assert_eq!(
            ok(LinkAction::Claimed, &form("Ana", " 2612010040001 ", "")),
            Ok((
                AckRequest::Claimed {
                    reference: Some("2612010040001".into())
                },
                "Ana".into()
            ))
        );
        assert!(ok(LinkAction::NoClaim, &form("Ana", "", "")).is_err());
        assert!(ok(LinkAction::NoClaim, &form("Ana", "", &"x".repeat(501))).is_err());
        assert!(ok(LinkAction::Reviewed, &form("A\u{7}na", "", "")).is_err());
        assert!(ok(LinkAction::View, &form("Ana", "", "")).is_err());
    }

    #[test]
    fn the_name_is_remembered_and_read_back_safely() {
        let web = crate::config::web::Web {
            listen: "127.0.0.1:8080".parse().expect("addr"),
            public_url: "https://pirwatch.example.com".parse().expect("url"),
            key_file: "k".into(),
            link_ttl: std::time::Duration::from_secs(3600),
            identity: None,
            access: Vec::new(),
        };
        let cookie = remember_name("Zoë O'Brien; x=1", &web).expect("cookie");
        let c = cookie.to_str().expect("ascii");
        assert!(
            c.starts_with("pirwatch_by=Zo%C3%AB+O%27Brien%3B+x%3D1;"),
            "{c}"
        );
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        let mut h = HeaderMap::new();
        let pair = c.split(';').next().expect("pair");
        h.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_str(&format!("other=1; {pair}")).expect("header"),
        );
        assert_eq!(remembered_name(&h), "Zoë O'Brien; x=1");
        assert_eq!(remembered_name(&HeaderMap::new()), "");
    }

    #[test]
    fn a_form_from_another_site_is_refused() {
        let web = crate::config::web::Web {
            listen: "127.0.0.1:8080".parse().expect("addr"),
            public_url: "https://pirwatch.example.com".parse().expect("url"),
            key_file: "k".into(),
            link_ttl: std::time::Duration::from_secs(3600),
            identity: None,
            access: Vec::new(),
        };
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, axum::http::HeaderValue::from_static(v));
            }
            m
        };
        assert!(!cross_site(&h(&[]), &web), "old browsers send neither");
        assert!(!cross_site(
            &h(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://pirwatch.example.com")
            ]),
            &web
        ));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")]), &web));
        assert!(cross_site(&h(&[("origin", "https://evil.example")]), &web));
    }
}
