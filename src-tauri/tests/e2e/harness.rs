//! Starts what an end-to-end test needs: a display, a key service with the demo store, the
//! app under tauri-driver, and a WebDriver client; and saves screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use keyward_core::Brand;
use keyward_server::{AppState, Config};
use keyward_testkit::display::{Xvfb, tauri_driver};
use keyward_testkit::free_port;
use keyward_testkit::service::Served;
use tempfile::TempDir;

const APP: &str = env!("CARGO_BIN_EXE_keyward-app");

/// The demo store's owner (Olivia Owner), its staff member (Sam Staff), and their password.
pub const OWNER: &str = "owner@demo.keyward.test";
pub const STAFF: &str = "staff@demo.keyward.test";
pub const DEMO_PASSWORD: &str = "keyward-demo";

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The key service, on a runtime of its own so that stopping it ends every connection too
/// (the app's HTTP client keeps connections alive; a graceful shutdown would wait for them).
struct KeyService {
    runtime: Option<tokio::runtime::Runtime>,
    served: Option<Served>,
}

impl KeyService {
    /// A key service with brand `kw` and the demo store, on a free loopback port.
    async fn start(db: &Path) -> (String, KeyService) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let db = db.to_owned();
        let served = runtime
            .spawn(async move {
                let db = keyward_server::db::open_sqlite(&db).unwrap();
                db.ensure_brand("kw").await.unwrap();
                keyward_server::demo::ensure_demo_store(&db).await.unwrap();
                Served::start(AppState::new(db, Config::new(Brand::new("kw").unwrap()))).await
            })
            .await
            .unwrap();
        (served.url(), KeyService { runtime: Some(runtime), served: Some(served) })
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.served = None;
    }
}

impl Drop for KeyService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Everything one end-to-end test runs against.
pub struct World {
    pub client: Client,
    pub home: TempDir,
    pub server: String,
    shots: PathBuf,
    shot_count: u32,
    service: KeyService,
    _db_dir: TempDir,
    _driver: Process,
    _display: Xvfb,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl World {
    /// A key service with the demo store, and the app started fresh against it.
    pub async fn start(test: &str) -> World {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the end-to-end tests need a Secret Service in a D-Bus session: run them with ./dev test"
        );
        let turn = TURN.lock().await;
        let db_dir = tempfile::tempdir().unwrap();
        let (server, service) = KeyService::start(&db_dir.path().join("k.db")).await;

        let display = Xvfb::start();
        let home = tempfile::tempdir().unwrap();
        let (port, native_port) = (free_port(), free_port());
        let mut driver = Command::new(tauri_driver());
        // Each assistant's file where the app's home has it, whatever the runner's environment says.
        for var in keyward::agents::table::override_variables() {
            driver.env_remove(var);
        }
        let driver = driver
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", display.name())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_CACHE_HOME", home.path().join(".cache"))
            .env("KEYWARD_CONFIG_DIR", home.path().join("keyward-config"))
            .env("KEYWARD_DATA_DIR", home.path().join("keyward-data"))
            .env("KEYWARD_SERVER", &server)
            .env("KEYWARD_DEMO_ACCOUNT", "owner@demo.keyward.test / keyward-demo")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver is installed by ./dev test (cargo install tauri-driver)");
        let driver = Process(driver);
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), serde_json::json!({ "application": APP }));
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if start.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the app did not start under tauri-driver: {e}"),
            }
        };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots").join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        println!("screenshots of {test}: {}", shots.display());
        World { client, home, server, shots, shot_count: 0, service, _db_dir: db_dir, _driver: driver, _display: display, _turn: turn }
    }

    /// Stops the key service: every later request to it finds nobody listening.
    pub fn stop_key_service(&mut self) {
        self.service.stop();
    }

    /// Where an assistant's config file is under the app's HOME.
    pub fn agent_file(&self, agent: &str) -> PathBuf {
        let home = self.home.path();
        match agent {
            "claude-desktop" => home.join(".config/Claude/claude_desktop_config.json"),
            "claude-code" => home.join(".claude.json"),
            "codex" => home.join(".codex/config.toml"),
            "zed" => home.join(".config/zed/settings.json"),
            "goose" => home.join(".config/goose/config.yaml"),
            other => panic!("no assistant called {other}"),
        }
    }

    /// Waits until `css` matches nothing (10 s at most).
    pub async fn wait_gone(&self, css: &str) {
        let start = Instant::now();
        while !self.client.find_all(Locator::Css(css)).await.unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "{css} is still there");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the first element matching `css` contains `text` (10 s at most).
    pub async fn wait_text(&self, css: &str, text: &str) {
        let start = Instant::now();
        loop {
            let now = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if now.contains(text) {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{css} never said {text:?}; it says {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css`, once it appears.
    pub async fn text(&self, css: &str) -> String {
        self.on_element(Some(css), "reading", CmdError::is_stale_element_reference, |element| async move { element.text().await }).await
    }

    /// Waits for an element (10 s at most).
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Clicks the first element matching `css`, once it appears.
    pub async fn click(&self, css: &str) {
        self.on_element(Some(css), "clicking", CmdError::is_stale_element_reference, |element| async move { element.click().await }).await
    }

    /// Types into an input. (Clearing first leaves WebKitWebDriver's input empty, so it does not.)
    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(Some(css), "typing into", failed_before_typing, |element| async move { element.send_keys(text).await }).await
    }

    /// Presses Escape in whatever has the focus.
    pub async fn press_escape(&self) {
        let escape = &fantoccini::key::Key::Escape.to_string();
        self.on_element(None, "pressing Escape in", failed_before_typing, |element| async move { element.send_keys(escape).await }).await
    }

    /// Does `act` to the element `css` names (the focused one for `None`), once it appears.
    /// When WebDriver answers that nothing was done (`nothing_done`), the element is found
    /// afresh and `act` tried again, three times at most, a moment apart: the screen may have
    /// drawn the element afresh between finding it and acting (a stale element), and typing has
    /// errors of its own that come before anything is typed (see `failed_before_typing`). Any
    /// other error fails at once, saying what failed on which element.
    async fn on_element<T, Done>(&self, css: Option<&str>, doing: &str, nothing_done: fn(&CmdError) -> bool, act: impl Fn(Element) -> Done) -> T
    where
        Done: std::future::Future<Output = Result<T, CmdError>>,
    {
        let mut tries = 0;
        loop {
            let element = match css {
                Some(css) => self.find(css).await,
                None => self.client.active_element().await.unwrap(),
            };
            match act(element).await {
                Ok(done) => return done,
                Err(e) if nothing_done(&e) && tries < 3 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("{doing} {} failed: {e}", css.unwrap_or("the focused element")),
            }
        }
    }

    /// Saves a PNG of the window as `NN-name.png`.
    pub async fn screenshot(&mut self, name: &str) {
        self.shot_count += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.shot_count)), png).unwrap();
    }

    /// The page's HTML as it is now.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Signs in as the demo owner and waits for the keys screen.
    pub async fn sign_in(&mut self) {
        self.sign_in_as(OWNER, DEMO_PASSWORD).await;
    }

    /// Signs in as someone and waits for the keys screen.
    pub async fn sign_in_as(&mut self, email: &str, password: &str) {
        self.find("[data-testid=demo-account]").await;
        self.type_into("input[name=email]", email).await;
        self.type_into("input[name=password]", password).await;
        self.screenshot("sign-in").await;
        self.click("button[type=submit]").await;
        self.find("[data-testid=create-key]").await;
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Every byte under the app's HOME, to look for secrets that should not be there.
    pub fn home_bytes(&self) -> Vec<u8> {
        keyward_testkit::files::every_byte_under(self.home.path())
    }

    pub async fn finish(self) {
        let _ = self.client.close().await;
    }
}

/// Reads a secret back through the Secret Service, as another program would.
pub use keyward_testkit::keychain::lookup as keychain_lookup;

/// Whether WebKitWebDriver refused to type before typing a character: a stale element (one the
/// screen drew afresh after it was found), and the errors of its check whether the element is a
/// file input, which runs a script in the page first and now and then loses its answer (CI
/// runs have seen an empty "unknown error" and "Could not parse element file upload
/// information", each on an input that was there).
fn failed_before_typing(e: &CmdError) -> bool {
    use fantoccini::error::ErrorStatus;
    e.is_stale_element_reference()
        || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::UnknownError && (w.message.is_empty() || w.message.contains("element file upload information")))
}
