//! Records kept by name with every version of their spec (plans, surveys; points rules next): a
//! new name starts at version 1, an edit adds the next version and makes it the one in force,
//! and the old versions stay, for what they did or what was answered to them.

use super::StoreResult;
use super::backend::Backend;

/// Where one kind of versioned record lives: its table (`name`, `version`, `created_at`,
/// `updated_at`) and its versions' table (the owner's id, `version`, `spec`, `created_at`).
pub(super) struct Versioned {
    /// The records' table.
    pub table: &'static str,
    /// The versions' table.
    pub versions: &'static str,
    /// The versions' column naming the record.
    pub owner: &'static str,
}

/// Care plans.
pub(super) const PLANS: Versioned = Versioned {
    table: "plans",
    versions: "plan_versions",
    owner: "plan_id",
};

/// Surveys.
pub(super) const SURVEYS: Versioned = Versioned {
    table: "surveys",
    versions: "survey_versions",
    owner: "survey_id",
};

impl Versioned {
    /// Creates the record `name` at version 1 with its spec (JSON); returns its id.
    pub(super) async fn create<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        name: &str,
        spec: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let sql = format!(
            "INSERT INTO {} (name, version, created_at, updated_at) VALUES ($1, 1, $2, $2) RETURNING id",
            self.table
        );
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
        self.insert_version::<DB>(conn, id, 1, spec, now).await?;
        Ok(id)
    }

    /// Adds `version` of the record `id` with its spec and makes it the one in force.
    pub(super) async fn add_version<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        id: i64,
        version: i64,
        spec: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.insert_version::<DB>(conn, id, version, spec, now).await?;
        let sql = format!("UPDATE {} SET version = $2, updated_at = $3 WHERE id = $1", self.table);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn insert_version<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        id: i64,
        version: i64,
        spec: &str,
        now: i64,
    ) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO {} ({}, version, spec, created_at) VALUES ($1, $2, $3, $4)",
            self.versions, self.owner
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(version)
            .bind(spec)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
