//! The `rapport` binary end to end, as a person or a script would run it.

use std::process::{Command, Output};

fn rapport(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env("RAPPORT_DATABASE_URL", db)
        .args(args)
        .output()
        .expect("run rapport")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cli.db").display())
}

/// Writes `contents` to `name` in `dir` and returns the path as an argument.
fn file(dir: &tempfile::TempDir, name: &str, contents: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

#[test]
fn an_impossible_date_on_line_3_fails_naming_line_column_and_value_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(&file, "customer_id,date,amount\na,2024-01-01,1.00\nb,1997-13-45,2.00\n").unwrap();
    let good = dir.path().join("g.csv");
    std::fs::write(&good, "customer_id,date,amount\nz,2024-01-01,1.00\n").unwrap();
    assert!(
        rapport(&db, &["import", "transactions", good.to_str().unwrap()])
            .status
            .success()
    );
    let before = text(&rapport(&db, &["funnel", "--json"]).stdout);

    let out = rapport(&db, &["import", "transactions", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("'date'") && stderr.contains("1997-13-45"),
        "{stderr}"
    );
    assert_eq!(text(&rapport(&db, &["funnel", "--json"]).stdout), before);
}

#[test]
fn import_and_funnel_print_stable_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(
        &file,
        "customer_id,date,amount\na,2024-01-01,1.00\na,2024-02-01,2.00\nb,2024-01-03,3.00\n",
    )
    .unwrap();
    let out = rapport(&db, &["import", "transactions", file.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["rows", "stored", "duplicates", "customers_created", "seconds"] {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    assert_eq!(report["stored"], 3);

    let funnel: serde_json::Value = serde_json::from_slice(&rapport(&db, &["funnel", "--json"]).stdout).unwrap();
    assert_eq!(funnel["total_customers"], 2);
    assert_eq!(funnel["stages"]["client"], 1);
    assert_eq!(funnel["stages"]["customer"], 1);
}

#[test]
fn customers_show_tells_the_stage_history_and_an_unknown_id_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(&file, "customer_id,date,amount\na,2024-01-01,1.00\na,2024-02-01,2.00\n").unwrap();
    rapport(&db, &["import", "transactions", file.to_str().unwrap()]);
    let shown = text(&rapport(&db, &["customers", "show", "a"]).stdout);
    assert!(
        shown.contains("stage: client") && shown.contains("second purchase on 2024-02-01"),
        "{shown}"
    );
    let missing = rapport(&db, &["customers", "show", "nobody"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no customer with id 'nobody'"));
}

#[test]
fn an_unknown_database_scheme_is_refused_with_the_accepted_ones() {
    let out = rapport("mysql://localhost/x", &["funnel"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown database scheme 'mysql'") && stderr.contains("sqlite://"),
        "{stderr}"
    );
}

#[test]
fn the_demo_writes_a_business_with_every_kind_of_customer() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let out = rapport(
        &db,
        &[
            "demo",
            "--customers",
            "400",
            "--seed",
            "3",
            "--end",
            "2026-06-30",
            "--no-serve",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let funnel: serde_json::Value = serde_json::from_slice(&rapport(&db, &["funnel", "--json"]).stdout).unwrap();
    assert_eq!(funnel["total_customers"], 400);
    for stage in ["suspect", "prospect", "customer", "client"] {
        assert!(funnel["stages"][stage].as_u64().unwrap() > 0, "no {stage} in {funnel}");
    }
    let said = text(&out.stdout);
    for words in [
        "tasks created",
        "held out",
        "due today",
        "`rapport agenda`",
        "`rapport plans report thank-you`",
    ] {
        assert!(said.contains(words), "'{words}' not in {said}");
    }
}

/// `rapport serve` stops on SIGTERM only after the requests in flight are answered, and every
/// event a client was told is stored is in the database afterwards.
#[cfg(unix)]
#[test]
fn serve_finishes_requests_in_flight_on_sigterm() {
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let created = rapport(&db, &["keys", "create", "--name", "t", "--role", "staff", "--json"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let (mut server, address) = crate::helpers::serve_binary(&db, &[], Stdio::null());

    rapport::server::install_tls_provider();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acknowledged = runtime.block_on(async {
        let client = reqwest::Client::new();
        let sends = (0..200).map(|i| {
            let client = client.clone();
            let (address, key) = (address.clone(), key.clone());
            let answered = answered.clone();
            async move {
                let body = serde_json::json!({"customer_id": format!("S{i}"), "kind": "purchase",
                    "amount": "3.00", "order_id": format!("sig-{i}")});
                let response = client
                    .post(format!("http://{address}/api/v1/events"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                response.is_ok_and(|r| r.status().is_success())
            }
        });
        let all = tokio::spawn(futures::future::join_all(sends));
        // Once the server has answered a first request (however loaded the machine), ask it to
        // stop while the others are in flight.
        for _ in 0..1_000 {
            if answered.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let pid = server.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        all.await.unwrap().into_iter().filter(|ok| *ok).count()
    });
    eprintln!("{acknowledged} of 200 requests were answered before the server stopped");
    let status = server.wait().unwrap();
    assert!(status.success(), "the server exits cleanly on SIGTERM: {status}");
    assert!(acknowledged > 0, "some requests were in flight and answered");
    let list = rapport(&db, &["customers", "list", "--json", "--limit", "1000"]);
    let customers: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let stored = customers.as_array().map_or(0, Vec::len);
    assert!(
        stored >= acknowledged,
        "{acknowledged} events were acknowledged but only {stored} customers are stored"
    );
}

#[test]
fn a_missing_file_is_named_once_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = rapport(&sqlite(&dir), &["import", "transactions", "no-such-file.csv"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-file.csv"), "{stderr}");
}

#[test]
fn a_huge_header_is_quoted_as_a_short_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wide.csv");
    std::fs::write(&file, format!("id,{}\n1,2\n", "x".repeat(10_000_000))).unwrap();
    let out = rapport(&sqlite(&dir), &["import", "transactions", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no column 'customer_id'"),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(stderr.len() < 1_000, "{} bytes of error", stderr.len());
}

#[test]
fn a_repeated_id_in_a_customer_list_is_reported_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.csv");
    std::fs::write(&file, "customer_id,name\na,Ann\na,Ann Lee\n").unwrap();
    let out = rapport(&sqlite(&dir), &["import", "customers", file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 row repeated an id of an earlier row"), "{stdout}");
}

#[test]
fn stored_control_characters_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    // A name stored before the input rules refused escape sequences.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = rapport::store::open(&db).await.unwrap();
        let mut ingest = rapport::ingest::Ingest::begin(&store, "a test").await.unwrap();
        let customer = rapport::store::NewCustomer {
            name: Some("Eve\u{1b}[2J".into()),
            ..rapport::store::NewCustomer::new(rapport::domain::ExternalId::parse("e1").unwrap(), 0)
        };
        ingest.upsert_profiles(vec![customer]).await.unwrap();
        ingest.finish().await.unwrap();
    });
    let stdout = text(&rapport(&db, &["customers", "list"]).stdout);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("Eve\\u{1b}[2J"), "{stdout}");
}

#[test]
fn summaries_count_one_thing_in_the_singular_and_two_in_the_plural() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let one = file(&dir, "one.csv", "customer_id,date,amount\na,2024-01-01,1.00\n");
    let two = file(
        &dir,
        "two.csv",
        "customer_id,date,amount\nb,2024-01-01,1.00\nc,2024-01-02,2.00\n",
    );

    let first = text(&rapport(&db, &["import", "transactions", &one]).stdout);
    let second = text(&rapport(&db, &["import", "transactions", &two]).stdout);

    assert!(
        first.contains("1 row read, 1 purchase stored, 0 duplicates skipped, 1 customer created, 1 stage change"),
        "{first}"
    );
    assert!(
        second.contains("2 rows read, 2 purchases stored, 0 duplicates skipped, 2 customers created, 2 stage changes"),
        "{second}"
    );
}

/// A server's log redirected to a file is plain text: tracing's colours are for terminals.
#[cfg(unix)]
#[test]
fn serve_writes_no_colour_codes_into_a_redirected_log() {
    use std::io::{Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (mut server, address) = crate::helpers::serve_binary(&sqlite(&dir), &[], log.into());

    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: rapport\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let log = std::fs::read(&log_path).unwrap();
    assert!(text(&log).contains("/healthz"), "the request is logged: {}", text(&log));
    assert!(!log.contains(&0x1b), "an escape code in the log: {:?}", text(&log));
}

/// Every field named `*_at` in a JSON document, with its path.
fn time_fields(value: &serde_json::Value, path: &str, found: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                let here = format!("{path}.{name}");
                if name.ends_with("_at") {
                    found.push((here.clone(), field.clone()));
                }
                time_fields(field, &here, found);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                time_fields(item, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn json_output_gives_times_as_iso_8601_strings_and_counts_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let purchases = file(&dir, "t.csv", "customer_id,date,amount\na,2024-03-05T14:22:10Z,1.00\n");
    rapport(&db, &["import", "transactions", &purchases]);
    rapport(&db, &["keys", "create", "--name", "shop", "--role", "viewer"]);

    let documents = [
        vec!["customers", "list", "--json"],
        vec!["customers", "show", "a", "--json"],
        vec!["keys", "list", "--json"],
    ];
    for args in documents {
        let out = rapport(&db, &args);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut times = Vec::new();
        time_fields(&json, "", &mut times);
        assert!(!times.is_empty(), "no times in {args:?}: {json}");
        for (path, time) in times {
            assert!(
                time.is_null()
                    || time
                        .as_str()
                        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
                "{args:?}: {path} is {time}"
            );
        }
    }
    let list: serde_json::Value =
        serde_json::from_slice(&rapport(&db, &["customers", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["state"]["first_purchase_at"], "2024-03-05T14:22:10Z");
    assert_eq!(list[0]["state"]["purchase_count"], 1);
}

/// Three customers: `a` (a client), `b` and a 30-character id (customers), in that order.
fn three_customers(dir: &tempfile::TempDir) -> String {
    let db = sqlite(dir);
    let purchases = file(
        dir,
        "t.csv",
        "customer_id,date,amount\na,2024-01-01,1.00\na,2024-02-01,2.00\nb,2024-01-03,3.00\n\
         abcdefghijklmnopqrstuvwxyz0123,2024-01-04,4.00\n",
    );
    let out = rapport(&db, &["import", "transactions", &purchases]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    db
}

#[test]
fn a_30_character_id_keeps_the_list_columns_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let db = three_customers(&dir);

    let stdout = text(&rapport(&db, &["customers", "list"]).stdout);

    let lines: Vec<&str> = stdout.lines().collect();
    let stage_at = lines[0].find("STAGE").unwrap();
    assert_eq!(lines.len(), 5, "{stdout}");
    for (row, stage) in lines[1..4].iter().zip(["client", "customer", "customer"]) {
        assert_eq!(row.get(stage_at..stage_at + stage.len()), Some(stage), "{stdout}");
        assert_eq!(row.get(stage_at - 2..stage_at), Some("  "), "{stdout}");
    }
    assert_eq!(lines[4], "3 customers");
}

#[test]
fn a_list_cut_by_the_limit_says_so_in_its_footer() {
    let dir = tempfile::tempdir().unwrap();
    let db = three_customers(&dir);

    let cut = text(&rapport(&db, &["customers", "list", "--limit", "2"]).stdout);
    let whole = text(&rapport(&db, &["customers", "list", "--limit", "3"]).stdout);

    assert_eq!(cut.lines().count(), 4, "{cut}");
    assert_eq!(
        cut.lines().last(),
        Some("2 of 3 customers shown (use --limit to see more)")
    );
    assert_eq!(whole.lines().last(), Some("3 customers"), "{whole}");
}

#[test]
fn customers_list_as_csv_has_a_header_and_one_row_per_customer_with_scores() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let demo = rapport(
        &db,
        &[
            "demo",
            "--customers",
            "300",
            "--seed",
            "5",
            "--end",
            "2026-06-30",
            "--no-serve",
        ],
    );
    assert!(demo.status.success(), "{}", text(&demo.stderr));

    let out = rapport(&db, &["customers", "list", "--format", "csv"]);

    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "name",
            "email",
            "phone",
            "stage",
            "purchases",
            "total_spend",
            "first_purchase",
            "last_purchase",
            "p_alive",
            "clv_12m",
            "segment"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 300, "every customer, not the table's 50");
    let buyer = rows.iter().find(|r| &r[5] != "0").expect("a customer who bought");
    assert!(
        chrono::NaiveDate::parse_from_str(&buyer[7], "%Y-%m-%d").is_ok(),
        "{buyer:?}"
    );
    let scored = rows.iter().find(|r| !r[9].is_empty()).expect("a scored customer");
    let p_alive: f64 = scored[9].parse().unwrap();
    assert!((0.0..=1.0).contains(&p_alive) && !scored[11].is_empty(), "{scored:?}");
}

#[test]
fn customers_list_as_json_gives_each_customer_with_its_scores_or_null() {
    let dir = tempfile::tempdir().unwrap();
    let db = three_customers(&dir);

    let out = rapport(&db, &["customers", "list", "--json", "--limit", "2"]);

    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["external_id"], "a");
    assert_eq!(list[0]["score"], serde_json::Value::Null);
    assert_eq!(list[0]["state"]["total_spend_cents"], 300);
}

#[test]
fn import_customers_check_reads_every_row_reports_them_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let profiles = file(
        &dir,
        "c.csv",
        "customer_id,name,email\nc1,Ann,ann@example.com\nc2,Bob,not-an-email\nc1,Ann Lee,\n",
    );

    let human = rapport(&db, &["import", "customers", &profiles, "--check", "--skip-invalid"]);
    let json = rapport(
        &db,
        &["import", "customers", &profiles, "--check", "--skip-invalid", "--json"],
    );
    let strict = rapport(&db, &["import", "customers", &profiles, "--check"]);

    let stdout = text(&human.stdout);
    assert!(human.status.success(), "{}", text(&human.stderr));
    assert!(
        stdout.starts_with("3 rows read, 2 valid, 1 row repeated an id") && stdout.contains("1 row rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing stored (--check)"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (report["rows"].as_u64(), report["rejected"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(!strict.status.success());
    assert!(text(&strict.stderr).contains("line 3"), "{}", text(&strict.stderr));
    let list = rapport(&db, &["customers", "list", "--json"]);
    assert_eq!(text(&list.stdout).trim(), "[]");
}

/// The `rapport` invocations in shell text: continuation lines joined, comments, pipes and
/// redirections dropped, commands joined by `&&` taken one by one.
fn invocations(shell: &str) -> Vec<Vec<String>> {
    let joined = shell.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let line = line.split(" # ").next().unwrap_or_default();
        let line = line.split(['|', '>']).next().unwrap_or_default();
        for command in line.split("&&") {
            let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if let Some(start) = words.iter().position(|w| w == "rapport") {
                found.push(words[start + 1..].to_vec());
            }
        }
    }
    found
}

/// The `rapport` invocations the README shows, in its shell blocks and its inline code.
fn readme_invocations() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let (mut blocks, mut prose) = (String::new(), String::new());
    for (i, part) in readme.split("```").enumerate() {
        let target = if i % 2 == 1 { &mut blocks } else { &mut prose };
        target.push_str(part);
        target.push('\n');
    }
    let inline = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| code.starts_with("rapport "));
    let mut found = invocations(&blocks);
    found.extend(inline.flat_map(invocations));
    found
}

/// `rapport PATH --help`, remembered.
fn help<'a>(cache: &'a mut std::collections::HashMap<Vec<String>, String>, path: &[String]) -> &'a str {
    cache.entry(path.to_vec()).or_insert_with(|| {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = rapport("sqlite::memory:", &args);
        assert!(out.status.success(), "rapport {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    })
}

/// The subcommand path of an invocation (`customers list`), found by asking `--help` which
/// subcommands each level has.
fn command_path(cache: &mut std::collections::HashMap<Vec<String>, String>, words: &[String]) -> Vec<String> {
    let mut path = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == "--db" {
            words.next();
            continue;
        }
        let commands: Vec<String> = help(cache, &path)
            .split("Commands:")
            .nth(1)
            .map(|list| list.split("\n\n").next().unwrap_or_default())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect();
        if !commands.contains(word) {
            break;
        }
        path.push(word.clone());
    }
    path
}

/// Every `--option` of every invocation, checked against the `--help` of its command.
fn options_missing_from_help(invocations: &[Vec<String>]) -> Vec<String> {
    let mut cache = std::collections::HashMap::new();
    let mut missing = Vec::new();
    for words in invocations {
        let path = command_path(&mut cache, words);
        let help = help(&mut cache, &path).to_owned();
        let known: std::collections::HashSet<&str> = help.split(|c: char| c.is_whitespace() || c == ',').collect();
        for option in words.iter().filter(|w| w.starts_with("--")) {
            let option = option.split('=').next().unwrap_or_default();
            if !known.contains(option) {
                missing.push(format!("rapport {} {option}", path.join(" ")));
            }
        }
    }
    missing
}

#[test]
fn every_option_the_readme_shows_exists() {
    let invocations = readme_invocations();
    assert!(
        invocations.len() > 20,
        "too few found to be the README's: {invocations:?}"
    );
    let made_up = ["--db", "sqlite://x.db", "customers", "list", "--colour"].map(str::to_owned);
    assert_eq!(
        options_missing_from_help(&[made_up.to_vec()]),
        ["rapport customers list --colour"]
    );

    assert_eq!(options_missing_from_help(&invocations), Vec::<String>::new());
}

#[test]
fn the_main_commands_end_their_help_with_examples_that_work() {
    let commands = [
        "import transactions",
        "import customers",
        "customers list",
        "customers show",
        "funnel",
        "fit",
        "score",
        "analyze",
        "serve",
    ];
    let mut examples = Vec::new();
    for command in commands {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let help = text(&rapport("sqlite::memory:", &args).stdout);
        let shown = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("no examples for {command}: {help}"));
        let lines = shown
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
            .count();
        assert!((2..=4).contains(&lines), "{command}: {shown}");
        examples.extend(invocations(shown));
    }

    assert_eq!(options_missing_from_help(&examples), Vec::<String>::new());
}

#[test]
fn serve_refuses_a_time_zone_or_currency_it_does_not_know_and_says_what_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);

    let zone = rapport(&db, &["serve", "--time-zone", "Europe/Berln"]);
    let currency = rapport(&db, &["serve", "--currency", "EURO"]);

    assert!(!zone.status.success());
    assert!(
        text(&zone.stderr).contains("'Europe/Berln' is not a time zone: use an IANA name such as Europe/Berlin"),
        "{}",
        text(&zone.stderr)
    );
    assert!(!currency.status.success());
    assert!(
        text(&currency.stderr).contains("'EURO' is not a currency code"),
        "{}",
        text(&currency.stderr)
    );
}

#[test]
fn amounts_on_the_terminal_carry_the_business_currency_and_a_prospect_says_why_it_has_no_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(&file, "customer_id,date,amount\na,2024-01-01,12.50\n").unwrap();
    assert!(
        rapport(&db, &["import", "transactions", file.to_str().unwrap()])
            .status
            .success()
    );
    let profiles = dir.path().join("c.csv");
    std::fs::write(&profiles, "customer_id,name\np,Pat\n").unwrap();
    assert!(
        rapport(&db, &["import", "customers", profiles.to_str().unwrap()])
            .status
            .success()
    );

    let list = text(&rapport(&db, &["customers", "list"]).stdout);
    assert!(list.contains("12.50 USD"), "{list}");
    let show = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env("RAPPORT_DATABASE_URL", &db)
        .env("RAPPORT_CURRENCY", "EUR")
        .args(["customers", "show", "a"])
        .output()
        .unwrap();
    assert!(
        text(&show.stdout).contains("total spend 12.50 EUR"),
        "{}",
        text(&show.stdout)
    );
    let prospect = text(&rapport(&db, &["customers", "show", "p"]).stdout);
    assert!(prospect.contains("no purchases yet, so no score"), "{prospect}");
}

#[test]
fn a_field_limit_of_zero_bytes_is_refused_saying_what_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let orders = file(&dir, "orders.csv", "customer_id,date,amount\n\"a\",2024-01-01,1.00\n");
    let output = rapport(&db, &["import", "transactions", &orders, "--max-field-bytes", "0"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--max-field-bytes") && stderr.contains("1 or more"),
        "{stderr}"
    );
    assert!(!dir.path().join("cli.db").exists(), "nothing was opened or stored");
}
