//! The lists as CSV files to download: the same filters and order as the pages, every matching
//! customer, read from the store a page at a time and streamed, so memory stays flat however
//! many match.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::PageError;
use super::lists::{Filters, ListParams, at_risk_query};
use crate::domain::Stage;
use crate::server::AppState;
use crate::server::dashboard::format::{Locale, money};
use crate::server::dashboard::session::SignedIn;
use crate::store::{CustomerListItem, CustomerQuery, value_at_risk};

/// Customers read per query while the file streams out.
const EXPORT_PAGE: u32 = 1_000;

/// The columns, in the order `record` writes them.
const HEADER: [&str; 14] = [
    "id",
    "name",
    "email",
    "phone",
    "stage",
    "purchases",
    "total_spend",
    "currency",
    "first_purchase",
    "last_purchase",
    "p_alive",
    "clv_12m",
    "value_at_risk",
    "segment",
];

/// `GET /customers.csv`: the customer list with the page's filters and order, as a file.
#[tracing::instrument(skip_all)]
pub async fn customers_csv(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let filters = Filters::parse(&params)?;
    Ok(csv_download(state, filters.query, "customers.csv"))
}

/// `GET /at-risk.csv`: the at-risk list, most value at risk first, as a file.
#[tracing::instrument(skip_all)]
pub async fn at_risk_csv(State(state): State<AppState>, _signed_in: SignedIn) -> Response {
    let query = at_risk_query(&state);
    csv_download(state, query, "at-risk.csv")
}

/// A streamed CSV answer for `query`. `Cache-Control: no-store` comes from the security-header
/// layer: the file holds personal data.
fn csv_download(state: AppState, query: CustomerQuery, file_name: &str) -> Response {
    let header_line =
        futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from(lines(&[HEADER.map(String::from)]))) });
    let pages = futures::stream::unfold(Some((state, query)), |step| async move {
        let (state, mut query) = step?;
        query.limit = EXPORT_PAGE;
        match state.store.query_customers(&query).await {
            Ok(items) if items.is_empty() => None,
            Ok(items) => {
                let locale = &state.dashboard.locale;
                let records: Vec<[String; 14]> = items.iter().map(|item| record(item, locale)).collect();
                let full = items.len() == EXPORT_PAGE as usize;
                query.after = items.last().map(|last| last.cursor(query.sort));
                let next = full.then_some((state.clone(), query));
                Some((Ok(Bytes::from(lines(&records))), next))
            }
            Err(error) => {
                // The status line is gone by now: the download ends short, and the log says why.
                tracing::error!(%error, "a CSV export failed part way");
                Some((Err(std::io::Error::other("the export failed part way")), None))
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(futures::StreamExt::chain(header_line, pages)),
    )
        .into_response()
}

/// Records as CSV text.
fn lines(records: &[[String; 14]]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        // Writing to memory cannot fail.
        let _ = writer.write_record(record);
    }
    writer.into_inner().unwrap_or_default()
}

/// One customer's fields, in `HEADER`'s order; absent values are empty. Days are the business's.
fn record(item: &CustomerListItem, locale: &Locale) -> [String; 14] {
    let (c, s) = (&item.customer, &item.customer.state);
    let text = |value: Option<&str>| value.map(spreadsheet_safe).unwrap_or_default();
    let day = |at: Option<i64>| at.map(|at| locale.day(at)).unwrap_or_default();
    let score = item.score.as_ref();
    let number =
        |f: fn(&crate::radar::analysis::ScoreRow) -> f64| score.map(|s| format!("{:.4}", f(s))).unwrap_or_default();
    [
        text(Some(&c.external_id)),
        text(c.name.as_deref()),
        text(c.email.as_deref()),
        text(c.phone.as_deref()),
        s.stage.map_or("", Stage::as_str).to_owned(),
        s.purchase_count.to_string(),
        money(s.total_spend_cents).replace(',', ""),
        locale.currency.as_str().to_owned(),
        day(s.first_purchase_at),
        day(s.last_purchase_at),
        number(|s| s.p_alive),
        number(|s| s.clv_12m),
        number(value_at_risk),
        score.map(|s| s.segment.label().to_owned()).unwrap_or_default(),
    ]
}

/// Text a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@` or a tab or
/// carriage return) gets a leading apostrophe, which spreadsheets show as text: a customer's name
/// must not become a formula on the computer of whoever opens the file.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_is_made_plain_text() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+49 30 1234"), "'+49 30 1234");
        assert_eq!(spreadsheet_safe("Ana Garcia"), "Ana Garcia");
    }
}
