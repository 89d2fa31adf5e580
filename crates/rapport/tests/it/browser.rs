//! The dashboard in headless Chromium through WebDriver (chromedriver): log in through the form,
//! open every page from the navigation, add a note as staff, complete a task from the agenda,
//! read a plan's report, log out; and follow a delivered e-mail's unsubscribe link. Screenshots of each page
//! (desktop and phone width) go to `target/browser-screenshots/`; the public pages are checked with
//! axe-core. Without Chromium and chromedriver the test says SKIPPED and passes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rapport::server::AppState;

use crate::web::{PASSWORD, demo_db};

/// How long a page may take to show what the test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_logs_in_visits_every_page_adds_a_note_and_logs_out() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let db = demo_db(300).await;
    let task = thank_you_task(&db).await;
    let site = serve(AppState::new(db.store.clone())).await;
    let driver = Driver::start(&driver).await;
    let browser = driver.session(&chromium).await;
    let shots = screenshots();

    // Not signed in: the login page, which leads back to the page asked for.
    browser.goto(&format!("{site}/customers")).await.unwrap();
    wait_for_text(&browser, "Log in to the dashboard").await;
    type_into(&browser, "input[name=email]", "staff@example.com").await;
    type_into(&browser, "input[name=password]", PASSWORD).await;
    click(&browser, "form button[type=submit]").await;
    // Back to the page asked for: the customer list.
    wait_for_text(&browser, "rel=\"next\"").await;

    // Every page is reachable from the navigation.
    click_link(&browser, "Overview").await;
    let overview = wait_for_text(&browser, "Figures as of").await;
    for text in [
        "Active customers",
        "Repeat-purchase rate",
        "Predicted revenue, next 12 months",
        "At-risk clients",
    ] {
        assert!(overview.contains(text), "the overview lacks {text}");
    }
    assert!(
        browser.find(Locator::Css("figure.chart svg")).await.is_ok(),
        "charts are drawn"
    );
    shot(&browser, &shots, "overview").await;
    browser.set_window_size(390, 844).await.unwrap();
    shot(&browser, &shots, "overview-phone").await;
    browser.set_window_size(1280, 900).await.unwrap();

    click_link(&browser, "Customers").await;
    wait_for_text(&browser, "rel=\"next\"").await;
    select(&browser, "select[name=stage]", "client").await;
    select(&browser, "select[name=sort]", "clv").await;
    click(&browser, "form.filters button").await;
    wait_for_text(&browser, "<option value=\"client\" selected").await;
    shot(&browser, &shots, "customers").await;
    assert_fits(&browser, "the customer list").await;

    click(&browser, "table a").await;
    let customer = wait_for_text(&browser, "Stage history").await;
    assert!(customer.contains("Outlook") && customer.contains("Timeline"));
    type_into(&browser, "textarea[name=text]", "asked for the spring catalogue").await;
    click(&browser, "form[action$='/notes'] button").await;
    let saved = wait_for_text(&browser, "Note saved.").await;
    assert!(saved.contains("asked for the spring catalogue (staff@example.com)"));
    shot(&browser, &shots, "customer").await;

    click_link(&browser, "At risk").await;
    wait_for_text(&browser, "Value at risk").await;
    shot(&browser, &shots, "at-risk").await;
    assert_fits(&browser, "the at-risk list").await;

    // The agenda: the thank-you to a customer who bought today, done from its form.
    click_link(&browser, "Agenda").await;
    wait_for_text(&browser, "Thank NEW1 for their first order").await;
    shot(&browser, &shots, "agenda").await;
    let form = format!("form[action='/tasks/{task}/complete']");
    select(&browser, &format!("{form} select[name=outcome]"), "reached").await;
    type_into(&browser, &format!("{form} input[name=note]"), "loves the shop").await;
    click(&browser, &format!("{form} button")).await;
    wait_for_text(&browser, "It is on the customer's timeline.").await;

    click_link(&browser, "Plans").await;
    wait_for_text(&browser, "second-order").await;
    shot(&browser, &shots, "plans").await;
    click(&browser, "a[href='/plans/thank-you']").await;
    let report = wait_for_text(&browser, "Does it work?").await;
    assert!(report.contains("Bought again within 90 days"));
    shot(&browser, &shots, "plan-report").await;

    click(&browser, "form.logout button").await;
    wait_for_text(&browser, "Log in to the dashboard").await;
    browser.goto(&format!("{site}/")).await.unwrap();
    wait_for_text(&browser, "Log in to the dashboard").await;
    shot(&browser, &shots, "login").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_link_of_a_delivered_email_unsubscribes_in_chromium() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let db = crate::helpers::TestDb::new(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let site = serve(AppState::new(db.store.clone())).await;
    let now = crate::care_email::one_plan_email(&db, &site).await;
    // The message goes through an SMTP server in its own process where aiosmtpd is installed (as
    // in .ci/run), else through one inside the test.
    let port = crate::mail::free_port();
    let raw = match find(&["aiosmtpd"]) {
        Some(binary) => {
            let server = crate::care_email::Aiosmtpd::start(&binary, db.dir.path(), port).await;
            let report = rapport::mail::deliver_due(&db.store, &crate::mail::settings(port, 8), now)
                .await
                .unwrap();
            assert_eq!(report.sent, 1);
            server.wait_for(1).await.remove(0)
        }
        None => {
            let mut smtp = crate::mail::mailcrab(port).await;
            let report = rapport::mail::deliver_due(&db.store, &crate::mail::settings(port, 8), now)
                .await
                .unwrap();
            assert_eq!(report.sent, 1);
            crate::mail::next_message(&mut smtp).await
        }
    };
    let link = crate::care_email::unsubscribe_link(&raw);
    assert!(link.starts_with(&format!("{site}/u/")), "{link}");

    let driver = Driver::start(&driver).await;
    let browser = driver.session(&chromium).await;
    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "Do you want to stop receiving e-mails").await;
    shot(&browser, &screenshots(), "unsubscribe").await;
    assert_accessible(&browser, "the unsubscribe page").await;
    click(&browser, "form button[type=submit]").await;
    wait_for_text(&browser, "You will get no more e-mails like this").await;
    shot(&browser, &screenshots(), "unsubscribed").await;
    assert_accessible(&browser, "the unsubscribed page").await;
    browser.close().await.unwrap();
    let ana = db.store.customer(&crate::helpers::ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.email_consent, Some(false), "unsubscribed");
}

/// Applies the built-in plans, stores a first purchase made today and runs what is due two days
/// on: returns the thank-you task it creates.
async fn thank_you_task(db: &crate::helpers::TestDb) -> i64 {
    let now = chrono::Utc::now().timestamp();
    db.store
        .apply_plans(&rapport::care::built_in_plans(), now)
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let options = rapport::import::FileOptions::csv(
        db.file("today.csv", &format!("customer_id,date,amount\nNEW1,{today},25.00\n")),
    );
    rapport::import::import_transactions(&db.store, &options, &Default::default(), None)
        .await
        .unwrap();
    rapport::care::run_due(&db.store, &Default::default(), now + 2 * 86_400)
        .await
        .unwrap();
    let tasks = db.store.open_tasks(10_000).await.unwrap();
    tasks
        .iter()
        .find(|t| t.customer == "NEW1")
        .expect("NEW1's thank-you")
        .id
}

/// Fails when the page's table is wider than its box at the window's width (1280 px): a column
/// would be reached only by scrolling sideways.
async fn assert_fits(browser: &Client, page: &str) {
    let widths = browser
        .execute(
            "const box = document.querySelector('.scroll'); return [box.scrollWidth, box.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let widths: Vec<u64> = serde_json::from_value(widths).unwrap();
    assert!(
        widths[0] <= widths[1],
        "{page} is {} px wide in a box of {} px",
        widths[0],
        widths[1]
    );
}

/// axe-core from npm, unmodified (`tests/fixtures/axe-core/README.md` says which version and whence).
const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// Runs axe over the page for WCAG 2.0 and 2.1 at levels A and AA, and calls back with each
/// violation's rule, impact, help and the failing elements' selectors.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
  .then(result => done(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
  }))))
  .catch(error => done([{ id: 'axe failed', impact: 'critical', help: String(error), nodes: [] }]));
"#;

/// Fails when axe-core finds the page the browser shows breaking a WCAG 2.0 or 2.1 rule of
/// level A or AA, naming each rule, its impact and the elements that break it.
pub(crate) async fn assert_accessible(browser: &Client, page: &str) {
    // A page load forgets the script: inject it once per document.
    let loaded = browser
        .execute("return typeof axe === 'object';", vec![])
        .await
        .unwrap();
    if loaded != serde_json::Value::Bool(true) {
        browser.execute(AXE, vec![]).await.unwrap();
    }
    let found = browser.execute_async(AXE_RUN, vec![]).await.unwrap();
    let violations = found.as_array().expect("a list of violations");
    let described: Vec<String> = violations
        .iter()
        .map(|v| {
            let nodes: Vec<&str> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .collect();
            format!(
                "{} ({}): {}\n    {}",
                v["id"],
                v["impact"],
                v["help"],
                nodes.join("\n    ")
            )
        })
        .collect();
    assert!(described.is_empty(), "axe on {page}:\n  {}", described.join("\n  "));
}

/// Chromium and chromedriver, or `None` after saying the test is skipped.
pub(crate) fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let found = find(&["chromium", "chromium-browser", "google-chrome"]).zip(find(&["chromedriver"]));
    if found.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: browser tests (install chromium and chromium-driver, e.g. `apt-get install -y chromium chromium-driver`)\n"
        );
    }
    found
}

/// The first of `names` on the PATH.
pub(crate) fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Where screenshots go: `target/browser-screenshots/`.
pub(crate) fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the window as `name.png` in `dir`.
pub(crate) async fn shot(browser: &Client, dir: &Path, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Serves the application on a free loopback port; returns its base URL.
pub(crate) async fn serve(state: AppState) -> String {
    format!("http://{}", crate::helpers::spawn_app(state).await)
}

/// Waits until the page's source contains `text`, and returns the source.
pub(crate) async fn wait_for_text(browser: &Client, text: &str) -> String {
    let started = Instant::now();
    loop {
        let source = browser.source().await.unwrap();
        if source.contains(text) {
            return source;
        }
        assert!(started.elapsed() < PATIENCE, "never saw {text:?} in {source}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the first element `css` finds.
pub(crate) async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Types `text` into the first element `css` finds.
pub(crate) async fn type_into(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn select(browser: &Client, css: &str, value: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

async fn click_link(browser: &Client, text: &str) {
    browser
        .find(Locator::LinkText(text))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// A chromedriver of our own on a free port, stopped when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Started from `binary`, once it listens.
    pub(crate) async fn start(binary: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A new headless Chromium session, 1280 by 900 pixels.
    pub(crate) async fn session(&self, chromium: &Path) -> Client {
        let options = serde_json::json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,900"],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
