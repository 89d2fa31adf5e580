//! The surveys room: each survey by name with its versions. An edited survey gets a new version
//! and keeps the old ones, so every response can say which version it answered.

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::versioned::SURVEYS;
use super::{SqlStore, StoreError, StoreResult};
use crate::domain::survey::SurveySpec;

/// A survey as stored, with the version in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SurveyRecord {
    /// The survey's number.
    pub id: i64,
    /// The version in force (1 for a survey never edited).
    pub version: i64,
    /// The version in force.
    pub spec: SurveySpec,
    /// When the survey was created (Unix seconds).
    pub created_at: i64,
    /// When its latest version was made.
    pub updated_at: i64,
}

/// What `apply_surveys` did to one survey.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SurveyChange {
    /// A new survey.
    Created {
        /// The survey's name.
        name: String,
    },
    /// A new version of an existing survey.
    Updated {
        /// The survey's name.
        name: String,
        /// The version replaced.
        from: i64,
        /// The new version.
        to: i64,
    },
    /// The file says what the survey already says.
    Unchanged {
        /// The survey's name.
        name: String,
    },
}

impl SurveyChange {
    /// What changed, in a line: "created 'nps'", "updated 'nps': version 1 -> 2".
    pub fn describe(&self) -> String {
        match self {
            SurveyChange::Created { name } => format!("created '{name}'"),
            SurveyChange::Updated { name, from, to } => format!("updated '{name}': version {from} -> {to}"),
            SurveyChange::Unchanged { name } => format!("unchanged '{name}'"),
        }
    }
}

/// Surveys and their versions.
#[async_trait]
pub trait Surveys: Send + Sync {
    /// Creates or updates each survey by name, in one transaction; says what changed, in input
    /// order.
    async fn apply_surveys(&self, specs: &[SurveySpec], now: i64) -> StoreResult<Vec<SurveyChange>>;
    /// Every survey, by name.
    async fn surveys(&self) -> StoreResult<Vec<SurveyRecord>>;
    /// One survey by name.
    async fn survey(&self, name: &str) -> StoreResult<Option<SurveyRecord>>;
    /// One version of a survey, as it was (the one a response answered).
    async fn survey_version(&self, survey_id: i64, version: i64) -> StoreResult<Option<SurveySpec>>;
}

const SURVEY_SELECT: &str = "SELECT s.id, s.version, s.created_at, s.updated_at, v.spec \
     FROM surveys s JOIN survey_versions v ON v.survey_id = s.id AND v.version = s.version";

fn spec_from(id: i64, version: i64, json: &str) -> StoreResult<SurveySpec> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("survey {id} version {version}: {e}")))
}

pub(super) async fn surveys_where<DB: Backend>(
    conn: &mut DB::Connection,
    name: Option<&str>,
) -> StoreResult<Vec<SurveyRecord>> {
    let sql = format!("{SURVEY_SELECT} WHERE ($1 IS NULL OR s.name = $1) ORDER BY s.name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get(0)?;
            let version: i64 = row.try_get(1)?;
            let spec: String = row.try_get(4)?;
            Ok(SurveyRecord {
                id,
                version,
                spec: spec_from(id, version, &spec)?,
                created_at: row.try_get(2)?,
                updated_at: row.try_get(3)?,
            })
        })
        .collect()
}

/// One survey created or updated from `spec`, inside `apply_surveys`'s transaction.
async fn apply_one<DB: Backend>(conn: &mut DB::Connection, spec: &SurveySpec, now: i64) -> StoreResult<SurveyChange> {
    let json = serde_json::to_string(spec).expect("surveys serialize");
    let name = spec.name.clone();
    let Some(existing) = surveys_where::<DB>(conn, Some(&spec.name)).await?.pop() else {
        SURVEYS.create::<DB>(conn, &spec.name, &json, now).await?;
        return Ok(SurveyChange::Created { name });
    };
    if existing.spec == *spec {
        return Ok(SurveyChange::Unchanged { name });
    }
    let version = existing.version + 1;
    SURVEYS
        .add_version::<DB>(conn, existing.id, version, &json, now)
        .await?;
    Ok(SurveyChange::Updated {
        name,
        from: existing.version,
        to: version,
    })
}

#[async_trait]
impl<DB: Backend> Surveys for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all, fields(surveys = specs.len()))]
    async fn apply_surveys(&self, specs: &[SurveySpec], now: i64) -> StoreResult<Vec<SurveyChange>> {
        let mut tx = DB::begin(&self.pool).await?;
        let mut changes = Vec::with_capacity(specs.len());
        for spec in specs {
            changes.push(apply_one::<DB>(&mut tx, spec, now).await?);
        }
        tx.commit().await?;
        Ok(changes)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn surveys(&self) -> StoreResult<Vec<SurveyRecord>> {
        let mut conn = self.pool.acquire().await?;
        surveys_where::<DB>(&mut conn, None).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn survey(&self, name: &str) -> StoreResult<Option<SurveyRecord>> {
        let mut conn = self.pool.acquire().await?;
        Ok(surveys_where::<DB>(&mut conn, Some(name)).await?.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(survey = survey_id, version))]
    async fn survey_version(&self, survey_id: i64, version: i64) -> StoreResult<Option<SurveySpec>> {
        let spec: Option<String> =
            sqlx::query_scalar("SELECT spec FROM survey_versions WHERE survey_id = $1 AND version = $2")
                .bind(survey_id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        spec.map(|json| spec_from(survey_id, version, &json)).transpose()
    }
}
