//! A real headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! for tests of the web UI that click and wait as a person would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::tool_installed;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver id of an element in answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser window; the driver and the browser are killed when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
}

impl Browser {
    /// A browser whose window is `width` x `height`, or `None` where Chromium or its driver is
    /// not installed (see `tool_installed`).
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
        if !tool_installed(
            "chromium and chromedriver",
            installed,
            "apt-get install -y chromium chromium-driver",
        ) {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        // A headless window is at least 500 px wide: a phone's width is emulated.
        let mut options = json!({"binary": CHROMIUM, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            format!("--window-size={},{height}", width.max(500)),
        ]});
        if width < 500 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let deadline = Instant::now() + Duration::from_secs(20);
        let answer = loop {
            match http
                .post(format!("{root}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(r) => break r.json::<Value>().await.expect("a WebDriver answer"),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver does not answer: {e}"),
            }
        };
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Some(Browser {
            http,
            session: format!("{root}/session/{id}"),
            driver,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method, &url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON");
        if answer["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Runs `script` (a function body; `return` answers) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        let text = self.eval("return document.body.innerText").await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits up to `within` until the page's text contains `needle`; how long that took.
    pub async fn wait_for_text(&self, needle: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "the page did not show {needle:?} within {within:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Types `text` into the first element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = found[ELEMENT].as_str().expect("the element").to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Whether a button whose text is `text` is shown.
    pub async fn shows_button(&self, text: &str) -> bool {
        let script = format!(
            "return [...document.querySelectorAll('button')].some(b => b.textContent.trim() === {text:?} && b.offsetParent !== null)"
        );
        self.eval(&script).await == true
    }

    /// Clicks the first button whose text is `text`.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}']");
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "xpath", "value": xpath}),
            )
            .await;
        let id = found[ELEMENT].as_str().expect("the button").to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// Types `text` into the open `prompt` dialog and accepts it; the dialog's message.
    pub async fn answer_prompt(&self, text: &str) -> String {
        let message = self.dialog_text().await;
        self.call(reqwest::Method::POST, "/alert/text", json!({"text": text}))
            .await;
        self.call(reqwest::Method::POST, "/alert/accept", json!({}))
            .await;
        message
    }

    /// The text of the open `confirm`/`prompt` dialog, after accepting it.
    pub async fn accept_dialog(&self) -> String {
        let message = self.dialog_text().await;
        self.call(reqwest::Method::POST, "/alert/accept", json!({}))
            .await;
        message
    }

    /// The message of the dialog that is open or opens within 5 s.
    async fn dialog_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let url = format!("{}/alert/text", self.session);
            let answer: Value = self
                .http
                .get(&url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(text) = answer["value"].as_str() {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "no dialog opened");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a screenshot as `target/ui-screenshots/<name>.png`; its bytes.
    pub async fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("save the screenshot");
        png
    }
}

impl Drop for Browser {
    /// Kills the driver and the browser it started: they share a process group of their own.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// `target/ui-screenshots`, kept as CI artifacts.
pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("ui-screenshots")
}
