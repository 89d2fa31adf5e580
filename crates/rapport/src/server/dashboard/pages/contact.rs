//! "Mark contacted" on the at-risk list: an interaction logged for the customer, and back to the
//! list where the user was.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde::Deserialize;

use super::PageError;
use super::customer::{find, write_event};
use crate::domain::{EventKind, Role};
use crate::server::AppState;
use crate::server::dashboard::format::url_encode;
use crate::server::dashboard::session::SignedIn;

/// The channel of the interaction "mark contacted" logs.
pub const CONTACT_CHANNEL: &str = "contact";

/// A row's "mark contacted" form.
#[derive(Debug, Deserialize)]
pub struct ContactedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    /// The cursor of the list page the form was on.
    #[serde(default)]
    after: String,
}

/// `POST /customers/{id}/contacted` (staff): logs that the customer was contacted, through the
/// API's event writer (the form's key makes a form sent twice one event), then back to the
/// at-risk page it came from.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn mark_contacted(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ContactedForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let customer = find(&state, &id).await?;
    let kind = EventKind::Interaction {
        channel: CONTACT_CHANNEL.to_owned(),
        note: format!(
            "marked contacted from the at-risk list ({})",
            signed_in.session.user.email
        ),
    };
    write_event(&state, &customer, &form.key, kind).await?;
    let mut back = format!("/at-risk?contacted={}", url_encode(&customer.external_id));
    if !form.after.is_empty() {
        back.push_str(&format!("&after={}", url_encode(&form.after)));
    }
    Ok(Redirect::to(&format!("{back}#contacted")))
}
