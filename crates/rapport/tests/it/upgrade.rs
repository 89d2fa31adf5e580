//! A database written by an earlier release is migrated in place by this binary with nothing
//! lost: every customer's profile, state, scores, stage history and timeline, and the API keys,
//! read back through the binary as that release showed them (fixtures made by
//! `tests/fixtures/upgrade/make.sh` with the release's own binary), also after a rebuild.

use std::process::Command;

use serde_json::Value;
use sqlx::Connection as _;

use crate::helpers::fixture;

fn rapport(db: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env_remove("RAPPORT_DATABASE_URL")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run rapport");
    assert!(
        output.status.success(),
        "rapport {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if args.contains(&"--json") {
        serde_json::from_slice(&output.stdout).expect("JSON")
    } else {
        Value::Null
    }
}

/// `expected` holds nothing `actual` lacks or shows otherwise (a newer release may add fields).
fn holds(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want.iter().try_for_each(|(key, value)| {
            let here = format!("{at}.{key}");
            holds(value, have.get(key).unwrap_or(&Value::Null), &here)
        }),
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .try_for_each(|(i, (w, h))| holds(w, h, &format!("{at}[{i}]"))),
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: was {expected}, now {actual}")),
    }
}

/// Checks every customer and key of `release`'s fixture against what this binary shows of `db`.
fn nothing_lost(db: &str, release: &str) {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("upgrade/{release}.json"))).unwrap()).unwrap();
    rapport(db, &["migrate"]);
    for pass in ["after the upgrade", "after a rebuild"] {
        let customers = expected["customers"].as_array().unwrap();
        assert_eq!(customers.len(), 40);
        for want in customers {
            let id = want["customer"]["external_id"].as_str().unwrap();
            let have = rapport(db, &["customers", "show", id, "--json"]);
            if let Err(difference) = holds(want, &have, id) {
                panic!("{release}, {pass}: {difference}");
            }
        }
        let listed = rapport(db, &["customers", "list", "--json", "--limit", "1000"]);
        assert_eq!(
            listed.as_array().unwrap().len(),
            40,
            "{pass}: no customer added or lost"
        );
        holds(&expected["keys"], &rapport(db, &["keys", "list", "--json"]), "keys").unwrap();
        rapport(db, &["rebuild"]);
    }
}

#[test]
fn a_sqlite_database_of_release_0_1_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("shop.db");
    std::fs::copy(fixture("upgrade/v0.1-sqlite.db"), &copy).unwrap();
    nothing_lost(&format!("sqlite://{}", copy.display()), "v0.1-sqlite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_of_release_0_1_upgrades_in_place() {
    let Ok(admin) = std::env::var("RAPPORT_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: the PostgreSQL upgrade test (set RAPPORT_TEST_POSTGRES_URL to run it)");
        return;
    };
    let name = format!("rapport_upgrade_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    // The dump empties the search path of the connection that runs it: a connection of its own.
    let dump = std::fs::read_to_string(fixture("upgrade/v0.1-postgres.sql")).unwrap();
    let mut loader = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(dump))
        .execute(&mut loader)
        .await
        .unwrap();
    loader.close().await.unwrap();
    let checked = tokio::task::spawn_blocking({
        let url = url.clone();
        move || nothing_lost(&url, "v0.1-postgres")
    })
    .await;
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic.into_panic());
    }
}
