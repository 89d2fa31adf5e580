//! Batches bound as the parameters of multi-row `VALUES` statements. SQLite reads each value
//! straight from its binding: a batch printed as JSON and unpacked by `jsonb_each` costs about
//! twice as much a row, most of it printing and parsing text (BENCHMARKS.md, "the event log").

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection};

use crate::store::StoreResult;

/// Parameters one statement binds at most (SQLite allows 32,766).
const MAX_PARAMETERS: usize = 30_000;
/// Rows one statement carries at most: more saves nothing measurable and makes longer text.
const MAX_ROWS: usize = 1_000;

/// A query whose parameters are being bound.
pub(super) type Bound = Query<'static, Sqlite, SqliteArguments>;

/// A statement over a batch: `head`, then one `(?, ?, ...)` of `width` parameters for each row,
/// comma-separated, then `tail`.
///
/// Every parameter is an anonymous `?`: the driver looks each numbered or named one up by
/// name, in time that grows with the statement's parameters, which makes a batch's cost grow
/// with its square. Values every row shares are `constants` anonymous parameters in `head`
/// (for example in `SELECT column1, ?, ... FROM (VALUES ...)`), bound once per statement.
pub(super) struct RowStatement {
    head: String,
    tail: String,
    constants: usize,
    width: usize,
    /// The text of a full statement, written once.
    full: String,
}

impl RowStatement {
    /// A statement over rows of `width` parameters, after `constants` shared ones in `head`.
    pub(super) fn new(head: impl Into<String>, tail: impl Into<String>, constants: usize, width: usize) -> Self {
        assert!(width > 0, "a row has parameters");
        let mut statement = Self {
            head: head.into(),
            tail: tail.into(),
            constants,
            width,
            full: String::new(),
        };
        statement.full = statement.text(statement.rows_per_statement());
        statement
    }

    /// Rows per statement.
    fn rows_per_statement(&self) -> usize {
        MAX_ROWS.min((MAX_PARAMETERS - self.constants) / self.width)
    }

    /// The text for `rows` rows.
    fn text(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.width].join(", "));
        format!("{}{} {}", self.head, vec![row; rows].join(", "), self.tail)
    }

    /// The statements for `items`, each bound: the constants by `constants`, then each row by
    /// `bind`. Full statements are kept prepared by the connection; the last, shorter one is not,
    /// so a batch's odd tail never pushes a prepared statement out of the cache.
    fn statements<'a, T>(
        &'a self,
        items: &'a [T],
        constants: impl Fn(Bound) -> Bound + 'a,
        bind: impl Fn(Bound, &T) -> Bound + 'a,
    ) -> impl Iterator<Item = Bound> + 'a {
        let per = self.rows_per_statement();
        items.chunks(per).map(move |chunk| {
            let query = if chunk.len() == per {
                sqlx::query(AssertSqlSafe(self.full.clone()))
            } else {
                sqlx::query(AssertSqlSafe(self.text(chunk.len()))).persistent(false)
            };
            chunk.iter().fold(constants(query), &bind)
        })
    }

    /// Runs the statement over `items`; returns how many rows it changed.
    pub(super) async fn execute<T>(
        &self,
        conn: &mut SqliteConnection,
        items: &[T],
        constants: impl Fn(Bound) -> Bound,
        bind: impl Fn(Bound, &T) -> Bound,
    ) -> StoreResult<u64> {
        let mut changed = 0;
        for statement in self.statements(items, constants, bind) {
            changed += statement.execute(&mut *conn).await?.rows_affected();
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_repeats_its_row_and_stays_under_the_parameter_limit() {
        let statement = RowStatement::new(
            "INSERT INTO t (a, b, c) SELECT column1, ?, column2 FROM (VALUES ",
            ")",
            1,
            2,
        );
        assert_eq!(
            statement.text(2),
            "INSERT INTO t (a, b, c) SELECT column1, ?, column2 FROM (VALUES (?, ?), (?, ?) )"
        );
        assert_eq!(statement.rows_per_statement(), MAX_ROWS);
        let wide = RowStatement::new("", "", 0, 40);
        assert!(wide.rows_per_statement() * 40 <= MAX_PARAMETERS);
    }
}
