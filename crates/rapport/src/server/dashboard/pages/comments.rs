//! The comments page: customers' comments and interview notes found by their words, each with the
//! named themes staff put it in by hand, and for staff a form that tags it into another (the tag
//! counts in every themes report from then on) or takes a tag off.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use serde::Deserialize;

use super::{Layout, PageError};
use crate::domain::Role;
use crate::server::AppState;
use crate::server::dashboard::format::url_encode;
use crate::server::dashboard::session::SignedIn;
use crate::voice::analysis::{TagError, find_comments, tag_comment};

/// Comments the page lists at most.
const SHOWN: usize = 100;

/// One comment as the page lists it.
pub struct CommentView {
    id: i64,
    when: String,
    from: String,
    score: String,
    text: String,
    tags: Vec<String>,
}

/// `GET /voice/comments`.
#[derive(Template, WebTemplate)]
#[template(path = "voice_comments.html")]
pub struct CommentsPage {
    layout: Layout,
    search: String,
    comments: Vec<CommentView>,
    themes: Vec<String>,
    can_write: bool,
}

/// The search.
#[derive(Debug, Deserialize)]
pub struct CommentsParams {
    #[serde(default)]
    search: String,
}

/// `GET /voice/comments?search=`: the newest comments holding the words.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn comments(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<CommentsParams>,
) -> Result<CommentsPage, PageError> {
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (comment, theme) in state.store.theme_tags().await? {
        tags.entry(comment).or_default().push(theme);
    }
    let locale = &state.dashboard.locale;
    let comments = find_comments(&state.store, Some(&params.search), SHOWN)
        .await?
        .into_iter()
        .map(|c| CommentView {
            tags: tags.remove(&c.id).unwrap_or_default(),
            id: c.id,
            when: locale.day(c.at),
            from: c.from,
            score: c.score.map_or_else(String::new, |s| s.to_string()),
            text: c.text,
        })
        .collect();
    let themes = state
        .store
        .theme_names()
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    Ok(CommentsPage {
        layout: Layout::new(&signed_in, "voice"),
        search: params.search,
        comments,
        themes,
        can_write: signed_in.session.user.role >= Role::Staff,
    })
}

/// The tag and untag forms.
#[derive(Debug, Deserialize)]
pub struct TagForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    theme: String,
    /// The search to return to.
    #[serde(default)]
    search: String,
}

/// `POST /voice/comments/{id}/tag` (staff): puts the comment in a named theme.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn tag(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<TagForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let now = chrono::Utc::now().timestamp();
    match tag_comment(&state.store, id, &form.theme, &signed_in.session.user.email, now).await {
        Ok(_) => Ok(back(&form.search)),
        Err(TagError::Store(e)) => Err(e.into()),
        Err(refused @ (TagError::NoTheme(_) | TagError::NoComment(_))) => Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The comment was not tagged: {refused}. Go back and change it."),
        )),
    }
}

/// `POST /voice/comments/{id}/untag` (staff): takes the comment out of a theme it was tagged in.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn untag(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<TagForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    if !state.store.untag_comment(id, &form.theme).await? {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            format!("Comment {id} is not tagged with that theme: it may have been untagged already."),
        ));
    }
    Ok(back(&form.search))
}

/// Back to the search the form was sent from.
fn back(search: &str) -> Redirect {
    Redirect::to(&format!("/voice/comments?search={}", url_encode(search)))
}
