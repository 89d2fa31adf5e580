//! What the API's and the dashboard's customer lists share: the page cursor they hand out and
//! the segment names they accept. Neither face imports the other; both import this.

use base64::Engine as _;

use super::error::ApiError;
use crate::store::Cursor;

/// A cursor as lists hand it out: opaque, URL-safe.
pub fn encode_cursor(cursor: Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}", cursor.value, cursor.id))
}

/// A cursor `encode_cursor` made.
pub fn decode_cursor(raw: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::invalid("cursor", format!("'{raw}' is not a cursor this API gave out"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (value, id) = text.split_once(':').ok_or_else(bad)?;
    Ok(Cursor {
        value: value.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// Parses an RFM segment name.
pub fn parse_segment(raw: &str) -> Result<rapport_models::Segment, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.trim().to_owned())).map_err(|_| {
        ApiError::invalid(
            "segment",
            format!(
                "'{raw}' is not a segment: use champions, loyal, potential_loyalist, new, promising, \
                 needs_attention, about_to_sleep, at_risk, cannot_lose, hibernating or lost"
            ),
        )
    })
}
