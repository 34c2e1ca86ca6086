//! A local token endpoint answering Entra ID's and App Service MSI's formats, and an
//! azure_core `HttpClient` that redirects a credential's requests to it (Entra ID must be
//! https, so the credential cannot be pointed at a plain local URL).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::IntoResponse;
use azure_core::http::{AsyncRawResponse, HttpClient};

use super::TOKEN;

/// What the local token endpoint saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Original URLs, before redirection.
    pub urls: Vec<String>,
    /// "METHOD path?query" and form bodies as received locally.
    pub requests: Vec<(String, String, String)>,
}

/// An HttpClient that sends every request to the local endpoint instead.
#[derive(Debug)]
pub struct ToLocal {
    pub port: u16,
    pub inner: reqwest::Client,
    pub seen: Arc<Mutex<Seen>>,
}

#[async_trait::async_trait]
impl HttpClient for ToLocal {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<AsyncRawResponse> {
        self.seen
            .lock()
            .expect("seen")
            .urls
            .push(request.url().to_string());
        let mut local = request.clone();
        let url = local.url_mut();
        url.set_scheme("http").expect("scheme");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.port)).expect("port");
        self.inner.execute_request(&local).await
    }
}

/// A token endpoint on 127.0.0.1 answering Entra ID's and App Service MSI's formats.
pub async fn token_endpoint(seen: Arc<Mutex<Seen>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().fallback(move |req: Request| {
        let seen = seen.clone();
        async move {
            let method = req.method().to_string();
            let uri = req.uri().to_string();
            let header = req
                .headers()
                .get("x-identity-header")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&body).into_owned();
            seen.lock()
                .expect("seen")
                .requests
                .push((format!("{method} {uri}"), body, header));
            let expires = jiff::Timestamp::now().as_second() + 3600;
            let json = if uri.starts_with("/msi") {
                serde_json::json!({"access_token": TOKEN, "expires_on": expires.to_string(),
                    "resource": "https://management.azure.com", "token_type": "Bearer"})
            } else {
                serde_json::json!({"token_type": "Bearer", "expires_in": 3599,
                    "ext_expires_in": 3599, "access_token": TOKEN})
            };
            ([("content-type", "application/json")], json.to_string()).into_response()
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// A credential transport that sends everything to the local token endpoint on `port`.
pub fn local_transport(port: u16, seen: &Arc<Mutex<Seen>>) -> azure_core::http::Transport {
    azure_core::http::Transport::new(Arc::new(ToLocal {
        port,
        inner: reqwest::Client::new(),
        seen: seen.clone(),
    }))
}
