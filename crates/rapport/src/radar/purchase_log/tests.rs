//! The fast path and the two halves read what the general reader reads, errors included.

use std::io::Write as _;
use std::path::Path;

use super::PurchaseLog;
use crate::domain::state::day_of;
use crate::import::{FileOptions, TransactionColumns, TransactionReader};

/// Every purchase as the general reader alone reads it: customer id, day, amount.
fn by_the_general_reader(options: &FileOptions) -> Vec<(String, i32, f64)> {
    let mut reader = TransactionReader::open(options, &TransactionColumns::default()).unwrap();
    let mut out = Vec::new();
    while let Some((customer, at, amount)) = reader.next_purchase().unwrap() {
        out.push((customer.to_owned(), day_of(at) as i32, amount.as_f64()));
    }
    out
}

fn purchases(log: &PurchaseLog) -> Vec<(String, i32, f64)> {
    let rows = log.purchases.iter();
    rows.map(|p| (log.customer(p.customer), p.day, p.amount)).collect()
}

/// A CSV file of `rows` generated rows; `odd` rewrites a row (by its index) as a quoted one.
fn write(path: &Path, rows: usize, odd: impl Fn(usize) -> Option<String>) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "customer_id,date,amount").unwrap();
    for i in 0..rows {
        match odd(i) {
            Some(line) => writeln!(out, "{line}").unwrap(),
            None => writeln!(out, "{},2024-01-{:02},{}.{:02}", i % 5_000, 1 + i % 28, i % 90, i % 100).unwrap(),
        }
    }
    out.flush().unwrap();
}

#[test]
fn plain_and_odd_lines_read_as_the_general_reader_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.csv");
    std::fs::write(
        &path,
        "customer_id,date,amount\n7,2024-01-02,3.5\n007,2024-01-02,1\n 7 ,2024-01-03, 2.25\r\n\n   \n\
         x-1,2024-01-04,4\n\"7\",2024-01-05,5\n7,2024-01-06,6.120\n12345678901,2024-01-07,7",
    )
    .unwrap();
    let options = FileOptions::csv(&path);
    let log = PurchaseLog::read(&options, &TransactionColumns::default()).unwrap();
    assert_eq!(purchases(&log), by_the_general_reader(&options));
    assert_eq!(log.customer_count(), 4, "7, 007, x-1 and 12345678901");
}

#[test]
fn a_quoted_field_across_the_middle_sends_the_whole_file_to_one_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quoted.csv");
    let rows = 500_000;
    // The middle row's quoted fourth field covers the middle byte with 300,000 spaces, so the
    // first line break after the middle is inside its quotes.
    let spaces = " ".repeat(300_000);
    write(&path, rows, |i| {
        (i == 1 || i == rows / 2).then(|| format!("7,2024-02-01,1.00,\"{spaces}\nnote\""))
    });
    let mut options = FileOptions::csv(&path);
    options.max_quoted = 1 << 20;
    assert!(std::fs::metadata(&path).unwrap().len() > super::PARALLEL_FROM_BYTES);
    let log = PurchaseLog::read(&options, &TransactionColumns::default()).unwrap();
    assert_eq!(log.purchases.len(), rows);
    assert_eq!(purchases(&log), by_the_general_reader(&options));
}

#[test]
fn a_bad_row_in_the_second_half_is_named_by_its_line_after_a_quoted_first_half() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    let rows = 500_000;
    write(&path, rows, |i| match i {
        3 => Some("\"7\",2024-02-01,1.00,\"spans\ntwo lines\"".to_owned()),
        400_000 => Some("9,2024-02-30,1.00".to_owned()),
        _ => None,
    });
    let error = PurchaseLog::read(&FileOptions::csv(&path), &TransactionColumns::default())
        .unwrap_err()
        .to_string();
    // Row 400,001 after the header, one line later for the quoted line break.
    assert!(error.contains("line 400003 (data row 400001)"), "{error}");
}

#[test]
fn named_customers_are_numbered_in_order_of_first_sight_across_the_two_halves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.csv");
    // New customers arrive all through the file and earlier ones keep buying, so the second half
    // has customers of both kinds; every third id is longer than the 15 bytes kept in place.
    write(&path, 500_000, |i| {
        let c = if i % 2 == 0 { i / 10 } else { (i * 7_919) % (i / 10 + 1) };
        let id = if c % 3 == 0 {
            format!("customer.{c}@example.com")
        } else {
            format!("C{c:07}")
        };
        Some(format!("{id},2024-01-{:02},{}.{:02}", 1 + i % 28, i % 90, i % 100))
    });
    assert!(std::fs::metadata(&path).unwrap().len() > super::PARALLEL_FROM_BYTES);
    let options = FileOptions::csv(&path);
    let log = PurchaseLog::read(&options, &TransactionColumns::default()).unwrap();
    assert_eq!(purchases(&log), by_the_general_reader(&options));
    let mut next = 0;
    for p in &log.purchases {
        assert!(p.customer <= next, "customer {} before {next}", p.customer);
        next += u32::from(p.customer == next);
    }
    assert_eq!(next as usize, log.customer_count());
}
