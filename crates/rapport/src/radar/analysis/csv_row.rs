//! One customer's scores as a line of the scores file, written straight into a byte buffer:
//! the bytes the `csv` crate writes for a [`ScoreRow`](super::ScoreRow), without a record, a
//! serializer or a string per field (a million rows spent most of their time there).

/// The header line, as `csv` writes it from `ScoreRow`'s field names.
pub(super) const HEADER: &str = "customer_id,frequency,recency,T,monetary_value,p_alive,\
expected_purchases_90d,expected_purchases_365d,expected_spend,clv_12m,rfm_recency,rfm_frequency,\
rfm_monetary,segment,expected_days_to_next_purchase,explanation\n";

/// One row's fields, borrowed, in the file's column order.
pub(super) struct Line<'a> {
    pub customer_id: &'a str,
    pub frequency: u32,
    /// Recency, T, monetary value, P(alive), expected purchases in 90 and 365 days, expected
    /// spend and 12-month CLV.
    pub numbers: [f64; 8],
    /// RFM recency, frequency and monetary quintiles.
    pub rfm: [u8; 3],
    pub segment: &'static str,
    pub next_days: Option<f64>,
    pub explanation: &'a str,
}

/// Appends the line, its newline included.
pub(super) fn write(out: &mut Vec<u8>, line: &Line<'_>) {
    let mut integers = itoa::Buffer::new();
    let mut floats = ryu::Buffer::new();
    text(out, line.customer_id);
    out.push(b',');
    out.extend_from_slice(integers.format(line.frequency).as_bytes());
    for n in line.numbers {
        out.push(b',');
        // `csv` formats floats with `ryu` too (`NaN` and `inf` included).
        out.extend_from_slice(floats.format(n).as_bytes());
    }
    for n in line.rfm {
        out.push(b',');
        out.extend_from_slice(integers.format(n).as_bytes());
    }
    out.push(b',');
    text(out, line.segment);
    out.push(b',');
    if let Some(days) = line.next_days {
        out.extend_from_slice(floats.format(days).as_bytes());
    }
    out.push(b',');
    text(out, line.explanation);
    out.push(b'\n');
}

/// A text field, quoted (its quotes doubled) when it holds a delimiter, a quote or a line break,
/// as `csv`'s default `QuoteStyle::Necessary` does.
fn text(out: &mut Vec<u8>, field: &str) {
    let bytes = field.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for part in bytes.split_inclusive(|b| *b == b'"') {
        out.extend_from_slice(part);
        if part.ends_with(b"\"") {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use rapport_models::Segment;

    use super::*;
    use crate::domain::score::ScoreRow;

    fn row(customer_id: &str, next: Option<f64>, explanation: &str, odd: f64) -> ScoreRow {
        ScoreRow {
            customer_id: customer_id.to_owned(),
            frequency: 12,
            recency: 101.28571428571429,
            age: 104.0,
            monetary_value: 0.0,
            p_alive: 1e-300,
            expected_purchases_90d: odd,
            expected_purchases_365d: 7.728230635291758,
            expected_spend: -3.5,
            clv_12m: 1e21,
            rfm_recency: 5,
            rfm_frequency: 1,
            rfm_monetary: 3,
            segment: Segment::PotentialLoyalist,
            expected_days_to_next_purchase: next,
            explanation: explanation.to_owned(),
        }
    }

    fn by_hand(rows: &[ScoreRow]) -> String {
        let mut out = HEADER.as_bytes().to_vec();
        for r in rows {
            let line = Line {
                customer_id: &r.customer_id,
                frequency: r.frequency,
                numbers: [
                    r.recency,
                    r.age,
                    r.monetary_value,
                    r.p_alive,
                    r.expected_purchases_90d,
                    r.expected_purchases_365d,
                    r.expected_spend,
                    r.clv_12m,
                ],
                rfm: [r.rfm_recency, r.rfm_frequency, r.rfm_monetary],
                segment: r.segment.key(),
                next_days: r.expected_days_to_next_purchase,
                explanation: &r.explanation,
            };
            write(&mut out, &line);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_are_the_bytes_the_csv_crate_writes() {
        let rows = [
            row(
                "C0000873",
                Some(30.507002602455092),
                "bought 21 times, usually every 5 weeks",
                2.0,
            ),
            row("a,b", None, "plain", f64::NAN),
            row("say \"hi\"\r\n", Some(0.0), "", f64::INFINITY),
            row("é@example.com", Some(1e-7), "\"quoted\", twice \"", f64::NEG_INFINITY),
        ];
        let mut expected = csv::Writer::from_writer(Vec::new());
        for r in &rows {
            expected.serialize(r).unwrap();
        }
        let expected = String::from_utf8(expected.into_inner().unwrap()).unwrap();
        assert_eq!(by_hand(&rows), expected);
    }
}
