//! Test databases on both backends, and small file fixtures.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Once};

use rapport::store::{Store, open};
use sqlx::Connection as _;

/// Which backend a contract test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database, removed when dropped.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// Where the database is: open it again to play a restart.
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database on `backend`, or `None` (said loudly, once) when PostgreSQL is not configured.
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = open(&url).await.expect("open sqlite");
                Some(Self {
                    store,
                    url,
                    dir,
                    pg: None,
                })
            }
            Backend::Postgres => {
                let Ok(admin) = std::env::var("RAPPORT_TEST_POSTGRES_URL") else {
                    announce_postgres_skipped();
                    return None;
                };
                let name = format!("rapport_test_{}", unique());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to RAPPORT_TEST_POSTGRES_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create db");
                let url = replace_database(&admin, &name);
                let store = open(&url).await.expect("open postgres");
                Some(Self {
                    store,
                    url,
                    dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// Fails when an event or a projected state names a customer that does not exist: the
    /// database no longer checks it (migration 0008), the write path must.
    pub async fn assert_every_row_names_a_customer(&self) {
        const ORPHANS: &str = "SELECT (SELECT count(*) FROM events e WHERE NOT EXISTS \
            (SELECT 1 FROM customers c WHERE c.id = e.customer_id)) + (SELECT count(*) FROM customer_state s \
            WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id))";
        let orphans: i64 = if self.pg.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
            sqlx::query_scalar(ORPHANS)
                .fetch_one(&mut conn)
                .await
                .expect("count orphans")
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
            sqlx::query_scalar(ORPHANS)
                .fetch_one(&mut conn)
                .await
                .expect("count orphans")
        };
        assert_eq!(orphans, 0, "events or states of customers that do not exist");
    }

    /// Writes a file into the test's folder and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write fixture");
        path
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else { return };
        // Dropping needs async work; do it on a runtime of its own so it works from any test.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// Writes a demo business of `customers` customers, two years to `end`, into the database.
pub async fn load_demo(db: &TestDb, customers: u32, seed: u64, end: chrono::NaiveDate) {
    let data = rapport::demo::generate(&rapport::demo::DemoConfig {
        customers,
        seed,
        end,
        days: 730,
    });
    let mut ingest = rapport::ingest::Ingest::begin(&db.store, "test").await.unwrap();
    ingest.upsert_profiles(data.profiles).await.unwrap();
    for (customer, event) in data.events {
        ingest.push(&customer, event).await.unwrap();
    }
    ingest.finish().await.unwrap();
}

/// Reading options for the CDNOW sample: whitespace, no header, master id skipped, `YYYYMMDD` dates.
pub fn cdnow_sample() -> rapport::import::FileOptions {
    let mut options = rapport::import::FileOptions::csv(fixture("CDNOW_sample.txt"));
    options.delimiter = rapport::import::Delimiter::Whitespace;
    options.columns = Some(
        ["customer_id", "_", "date", "quantity", "amount"]
            .map(String::from)
            .to_vec(),
    );
    options.date_format = Some("%Y%m%d".into());
    options
}

/// Serves the whole application over `state` on a free loopback port, as `rapport serve` does
/// (with each request's peer address), until the test's runtime ends; returns the address.
pub async fn spawn_app(state: rapport::server::AppState) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let service = rapport::server::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    address
}

/// The business's id `raw`, which a test writes as a literal it knows is valid.
pub fn ext(raw: &str) -> rapport::domain::ExternalId {
    rapport::domain::ExternalId::parse(raw).expect("a valid customer id")
}

/// The path of a fixture shipped with the tests.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..].find('/').map_or(base.len(), |i| host_start + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}/{name}{query}", &base[..host_end])
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// Tells the person running the tests, past the harness's output capture, that PostgreSQL was skipped.
fn announce_postgres_skipped() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: PostgreSQL contract tests (set RAPPORT_TEST_POSTGRES_URL, e.g. via scripts/pg-throwaway, to run them)\n"
        );
    });
}

/// Starts `rapport serve` on a free port with these environment variables and its standard error
/// going to `stderr`, and returns the process and the address its banner names.
#[cfg(unix)]
pub fn serve_binary(db: &str, envs: &[(&str, &str)], stderr: std::process::Stdio) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};

    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env("RAPPORT_DATABASE_URL", db)
        .env_remove("RAPPORT_LOG")
        .env_remove("RAPPORT_LOG_FORMAT")
        .envs(envs.iter().copied())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let address = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_owned();
    (server, address)
}

/// Runs an async contract test on both backends: `name_sqlite` and `name_postgres`.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::{Backend, TestDb};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = TestDb::new(Backend::Sqlite).await.expect("sqlite is always available");
                    super::$name(&db).await;
                    db.assert_every_row_names_a_customer().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = TestDb::new(Backend::Postgres).await {
                        super::$name(&db).await;
                        db.assert_every_row_names_a_customer().await;
                    }
                }
            }
        )*
    };
}
