//! `[web]`, checked and resolved: where the listener for people binds, the base of the links
//! in mails, how long a link lives, and who may see which tenant when a reverse proxy signs
//! people in.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::de::is_loopback;
use super::locate::KeyPath;
use super::schema::{HttpConfig, WebConfig};

type Invalid = (KeyPath, String);

/// `[web]`, resolved.
#[derive(Debug, Clone)]
pub struct Web {
    pub listen: SocketAddr,
    /// The base of every link, without a trailing `/`.
    pub public_url: Url,
    pub key_file: PathBuf,
    pub link_ttl: Duration,
    /// A reverse proxy's identity header and the addresses it is trusted from.
    pub identity: Option<IdentityHeader>,
    /// Who may see which tenants (identity header only).
    pub access: Vec<Access>,
}

/// The identity header a reverse proxy sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeader {
    /// Lower case.
    pub name: String,
    pub proxies: Vec<IpAddr>,
}

/// One `[[web.access]]` rule.
#[derive(Debug, Clone)]
pub struct Access {
    pub users: Vec<glob::Pattern>,
    /// `None`: every tenant.
    pub tenants: Option<Vec<String>>,
}

impl Web {
    /// The tenants `user` may see: `None` for every tenant, else the names granted.
    pub fn tenants_of(&self, user: &str) -> Option<Vec<String>> {
        let mut granted = Vec::new();
        for rule in self
            .access
            .iter()
            .filter(|r| r.users.iter().any(|p| p.matches_with(user, glob_options())))
        {
            match &rule.tenants {
                None => return None,
                Some(t) => granted.extend(t.iter().cloned()),
            }
        }
        granted.sort();
        granted.dedup();
        Some(granted)
    }
}

/// User names compare without regard to case (e-mail addresses).
fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

fn fail<T>(key: KeyPath, message: impl Into<String>) -> Result<T, Invalid> {
    Err((key, message.into()))
}

/// Checks and resolves `[web]`; `tenants` are the configured tenants' names.
pub(super) fn resolve(w: WebConfig, http: &HttpConfig, tenants: &[String]) -> Result<Web, Invalid> {
    let key = |k: &str| KeyPath::key("web").then(k);
    if let Some(h) = http.listen
        && conflicts(h, w.listen)
    {
        return fail(
            key("listen"),
            format!(
                "must differ from http.listen ({h}): /metrics must never be behind the public proxy"
            ),
        );
    }
    let public_url = public_url(w.public_url).map_err(|m| (key("public_url"), m))?;
    if w.link_ttl < Duration::from_secs(3600) || w.link_ttl > Duration::from_secs(366 * 86_400) {
        return fail(key("link_ttl"), "must be 1h to 366d");
    }
    let identity = match (w.trusted_user_header, w.trusted_proxies.is_empty()) {
        (None, true) => None,
        (None, false) => return fail(key("trusted_proxies"), "needs web.trusted_user_header"),
        (Some(_), true) => {
            return fail(
                key("trusted_user_header"),
                "needs web.trusted_proxies (the addresses the header is trusted from)",
            );
        }
        (Some(h), false) => {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return fail(
                    key("trusted_user_header"),
                    "must be a header name like X-Forwarded-Email",
                );
            }
            Some(IdentityHeader {
                name: h.to_ascii_lowercase(),
                proxies: w.trusted_proxies,
            })
        }
    };
    if identity.is_none() && !w.access.is_empty() {
        return fail(key("access"), "needs web.trusted_user_header");
    }
    let access = w
        .access
        .into_iter()
        .enumerate()
        .map(|(i, a)| access(a, tenants, key("access").index(i)))
        .collect::<Result<_, _>>()?;
    Ok(Web {
        listen: w.listen,
        public_url,
        key_file: w.key_file,
        link_ttl: w.link_ttl,
        identity,
        access,
    })
}

/// True when two listen addresses would clash (the same, or the same port on any address).
fn conflicts(a: SocketAddr, b: SocketAddr) -> bool {
    a == b || (a.port() == b.port() && (a.ip().is_unspecified() || b.ip().is_unspecified()))
}

fn public_url(mut u: Url) -> Result<Url, String> {
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(&u) => {}
        "http" => return Err("must be https:// (plain http:// only for loopback hosts)".into()),
        s => return Err(format!("must be https://, not {s}://")),
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err("must be a plain base URL, without user, query or fragment".into());
    }
    let path = u.path().trim_end_matches('/').to_owned();
    u.set_path(&path);
    Ok(u)
}

fn access(a: super::schema::WebAccess, tenants: &[String], at: KeyPath) -> Result<Access, Invalid> {
    if a.users.is_empty() {
        return fail(at.then("users"), "list at least one user or glob");
    }
    let users = a
        .users
        .iter()
        .map(|u| {
            glob::Pattern::new(u).map_err(|e| (at.clone().then("users"), format!("{u:?}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let all = a.tenants.iter().any(|t| t == "*");
    // `entry/Customer` names a tenant discovery finds under a configured entry.
    let known = |t: &String| {
        tenants.contains(t)
            || t.split_once('/')
                .is_some_and(|(entry, _)| tenants.iter().any(|n| n == entry))
    };
    if let Some(t) = a.tenants.iter().find(|t| *t != "*" && !known(t)) {
        return fail(
            at.then("tenants"),
            format!("{t:?} is not a configured tenant"),
        );
    }
    if a.tenants.is_empty() {
        return fail(at.then("tenants"), "list the tenants, or \"*\" for all");
    }
    Ok(Access {
        users,
        tenants: (!all).then_some(a.tenants),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(listen: &str, url: &str) -> WebConfig {
        WebConfig {
            listen: listen.parse().expect("addr"),
            public_url: url.parse().expect("url"),
            key_file: "web-key".into(),
            link_ttl: Duration::from_secs(30 * 86_400),
            trusted_user_header: None,
            trusted_proxies: Vec::new(),
            access: Vec::new(),
        }
    }

    fn err(w: WebConfig, http: Option<&str>) -> String {
        let http = HttpConfig {
            listen: http.map(|h| h.parse().expect("addr")),
        };
        match resolve(w, &http, &["contoso".into(), "fabrikam".into()]) {
            Ok(_) => "ok".into(),
            Err((k, m)) => format!("{k}: {m}"),
        }
    }

    #[test]
    fn the_listener_and_the_public_url_are_checked() {
        let ok = "https://pirwatch.example.com/";
        assert_eq!(err(cfg("127.0.0.1:8080", ok), Some("127.0.0.1:9464")), "ok");
        assert!(
            err(cfg("127.0.0.1:8080", ok), Some("127.0.0.1:8080"))
                .starts_with("web.listen: must differ")
        );
        assert!(err(cfg("127.0.0.1:8080", ok), Some("0.0.0.0:8080")).starts_with("web.listen"));
        assert_eq!(
            err(cfg("127.0.0.1:8080", "http://127.0.0.1:8080"), None),
            "ok"
        );
        assert!(
            err(cfg("127.0.0.1:8080", "http://pirwatch.example.com"), None)
                .contains("only for loopback")
        );
        assert!(
            err(cfg("127.0.0.1:8080", "https://x.example/?a=1"), None)
                .contains("without user, query")
        );
        let mut short = cfg("127.0.0.1:8080", ok);
        short.link_ttl = Duration::from_secs(60);
        assert_eq!(err(short, None), "web.link_ttl: must be 1h to 366d");
    }

    #[test]
    fn the_identity_header_needs_its_proxies_and_access_names_real_tenants() {
        let mut w = cfg("127.0.0.1:8080", "https://p.example");
        w.trusted_user_header = Some("X-Forwarded-Email".into());
        assert!(
            err(w.clone(), None).starts_with("web.trusted_user_header: needs web.trusted_proxies")
        );
        w.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        w.access = vec![super::super::schema::WebAccess {
            users: vec!["*@contoso.example".into()],
            tenants: vec!["contoso".into(), "nope".into()],
        }];
        assert_eq!(
            err(w.clone(), None),
            "web.access[0].tenants: \"nope\" is not a configured tenant"
        );
        w.access[0].tenants = vec!["contoso".into()];
        w.access.push(super::super::schema::WebAccess {
            users: vec!["desk@partner.example".into()],
            tenants: vec!["*".into()],
        });
        let http = HttpConfig { listen: None };
        let web = resolve(w, &http, &["contoso".into()]).expect("valid");
        assert_eq!(
            web.tenants_of("Ana@Contoso.example"),
            Some(vec!["contoso".into()])
        );
        assert_eq!(
            web.tenants_of("desk@partner.example"),
            None,
            "a partner desk sees all"
        );
        assert_eq!(web.tenants_of("eve@evil.example"), Some(Vec::new()));
    }
}
