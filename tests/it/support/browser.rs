//! A real headless Chromium, driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`, with `fantoccini`): a fresh profile per browser, chromedriver on a port it
//! picks and prints, both killed when the browser is dropped.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use tokio::io::{AsyncBufReadExt, BufReader};

pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Chromium at `width`×`height`. Fails clearly when chromedriver is missing.
    pub async fn start(width: u32, height: u32) -> Self {
        let mut driver = tokio::process::Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (apt install chromium chromium-driver)");
        let stdout = driver.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.expect("read chromedriver") {
                if let Some(p) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim_end_matches('.').parse::<u16>().ok())
                {
                    return p;
                }
            }
            panic!("chromedriver exited without saying its port");
        })
        .await
        .expect("chromedriver did not start within 20 s");
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args, "binary": "/usr/bin/chromium" }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("Chromium did not start within 60 s")
        .expect("a WebDriver session");
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Sets the viewport (the page's layout width) to `width`×`height` CSS pixels.
    pub async fn viewport(&self, width: u32, height: u32) {
        // The window is larger than its viewport by the browser's frame; headless has none.
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
    }

    /// The viewport's width in CSS pixels.
    pub async fn inner_width(&self) -> u64 {
        let v = self
            .client
            .execute("return window.innerWidth", vec![])
            .await
            .expect("script");
        v.as_u64().expect("a number")
    }

    /// True when the page is wider than the viewport: it would scroll sideways.
    pub async fn scrolls_sideways(&self) -> bool {
        let v = self
            .client
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth",
                vec![],
            )
            .await
            .expect("script");
        v.as_bool().expect("a boolean")
    }

    /// Types `text` into the form field with id `id`.
    pub async fn type_into(&self, id: &str, text: &str) {
        self.client
            .find(fantoccini::Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no field #{id}: {e}"))
            .send_keys(text)
            .await
            .expect("type");
    }

    /// Clicks the form's submit button.
    pub async fn submit(&self) {
        self.client
            .find(fantoccini::Locator::Css("button[type=submit]"))
            .await
            .expect("a submit button")
            .click()
            .await
            .expect("submit");
    }

    /// The text of the first element matching `css` once it is there (a form's submission
    /// loads the next page after the click returns), within 10 s.
    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} within 10 s: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(fantoccini::Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}
