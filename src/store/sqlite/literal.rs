//! Statements whose plan SQLite chooses from their bound values, run with the values
//! written into their text.
//!
//! Reader connections keep value-aware plans (`SQLITE_ENABLE_STAT4`; the writer has the
//! planner's stability guarantee instead, see `open_connection`). SQLite then marks every
//! parameter its planner looked at, and binding any value to one of them, even the value it
//! already had, makes the next step prepare the statement again (`vdbeUnbind` sets
//! `expired`): a parse and a plan on every run of a cached statement. A form's table view
//! asked again and again paid that on every request (15 % of the process's CPU for
//! `status = A, birthDate DESC` right after writes, docs/BENCHMARKS.md).
//!
//! A statement seen to be prepared again is run from then on with its values in its text:
//! SQLite's statement cache keeps its plan for those values, so the same request prepares
//! nothing, and other values prepare once each, as before. Values that cannot be written
//! exactly (a double that is not a whole number, text holding NUL) leave the statement as
//! it is. Only the speed depends on what this process has seen; the answers do not.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Statement, StatementStatus};

use crate::store::StoreError;

/// The statements (as written, with placeholders) SQLite prepared again after a binding.
static VALUE_AWARE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

/// At most this many statements are remembered (then the set starts over).
const MAX_STATEMENTS: usize = 1024;

/// At most this many bytes of values are written into a statement's text. A cached text
/// keeps its values (a bound value is cleared when its statement goes back to the cache),
/// three times over (the cache's key, SQLite's copy of the text, the program's constants),
/// per connection: long values (a query's text can reach 64 KiB, a walk's list of changed
/// objects has no bound) stay bound, so the caches stay small.
const MAX_WRITTEN: usize = 1024;

/// Runs `run` on the cached statement for `sql` with `params`, or, for a statement SQLite
/// plans by its values, on the cached statement with the values in its text (and no
/// parameters).
pub(super) fn with_statement<T>(
    conn: &Connection,
    sql: &str,
    params: &[Sql],
    run: impl FnOnce(&mut Statement<'_>, &[Sql]) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if !params.is_empty() && value_aware(sql) {
        if let Some(text) = inline(sql, params).filter(|t| t.len() <= sql.len() + MAX_WRITTEN) {
            let mut statement = conn.prepare_cached(&text)?;
            return run(&mut statement, &[]);
        }
    }
    let mut statement = conn.prepare_cached(sql)?;
    let out = run(&mut statement, params)?;
    // Prepared again on every run: a new binding expired it (another connection's schema
    // change also prepares a statement again, once: that does not make it value-aware).
    let again = statement.get_status(StatementStatus::RePrepare);
    if !params.is_empty() && again > 0 && again >= statement.get_status(StatementStatus::Run) {
        learn(sql);
    }
    Ok(out)
}

fn value_aware(sql: &str) -> bool {
    VALUE_AWARE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(sql)
}

fn learn(sql: &str) {
    let mut known = VALUE_AWARE.lock().unwrap_or_else(|e| e.into_inner());
    if known.len() >= MAX_STATEMENTS {
        known.clear();
    }
    known.insert(sql.to_owned());
}

/// `sql` with each parameter (`?` in order, or `?N`) replaced by its value from `params`
/// as an SQL literal; `None` when a value has no exact literal or the text is not one this
/// store writes (other parameter forms, comments, both `?` and `?N`).
pub(super) fn inline(sql: &str, params: &[Sql]) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16 * params.len());
    let mut next = 0usize;
    let (mut anonymous, mut numbered) = (false, false);
    let mut quote: Option<u8> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'[' => quote = Some(b']'),
            b':' | b'@' | b'$' | b'#' => return None,
            b'-' if bytes.get(i + 1) == Some(&b'-') => return None,
            b'/' if bytes.get(i + 1) == Some(&b'*') => return None,
            b'?' => {
                out.push_str(&sql[copied..i]);
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let value = if digits == 0 {
                    anonymous = true;
                    next += 1;
                    params.get(next - 1)?
                } else {
                    numbered = true;
                    let n: usize = sql[i + 1..i + 1 + digits].parse().ok()?;
                    params.get(n.checked_sub(1)?)?
                };
                out.push_str(&literal(value)?);
                i += 1 + digits;
                copied = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if quote.is_some() || (anonymous && numbered) || (anonymous && next != params.len()) {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// The SQL literal of `value` with the same type and value as the bound value, if there is
/// one (negative numbers in parentheses: `x - -1` would start a comment).
fn literal(value: &Sql) -> Option<String> {
    Some(match value {
        Sql::Null => "NULL".to_owned(),
        // -9223372036854775808 reads as minus a number too large for an integer: a REAL.
        Sql::Integer(i) if *i == i64::MIN => return None,
        Sql::Integer(i) if *i < 0 => format!("({i})"),
        Sql::Integer(i) => i.to_string(),
        // Whole numbers below 2^53 only: their decimal text is exact, whatever way SQLite
        // converts text to a double. Not -0.0 (its text would lose the sign).
        Sql::Real(f)
            if f.is_finite()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
                && !(*f == 0.0 && f.is_sign_negative()) =>
        {
            let whole = *f as i64;
            if whole < 0 {
                format!("({whole}.0)")
            } else {
                format!("{whole}.0")
            }
        }
        Sql::Real(_) => return None,
        Sql::Text(t) if t.contains('\0') => return None,
        Sql::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Sql::Blob(b) => {
            let mut s = String::with_capacity(3 + 2 * b.len());
            s.push_str("x'");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s.push('\'');
            s
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_are_written_in_order_with_their_types() {
        let sql = "SELECT ? , ?, ?, ?, '?', \"a?\", [b?] WHERE x - ? > ?";
        let params = [
            Sql::Integer(5),
            Sql::Text("it's".into()),
            Sql::Real(3.0),
            Sql::Null,
            Sql::Integer(-1),
            Sql::Real(-2.0),
        ];
        assert_eq!(
            inline(sql, &params).unwrap(),
            "SELECT 5 , 'it''s', 3.0, NULL, '?', \"a?\", [b?] WHERE x - (-1) > (-2.0)"
        );
        assert_eq!(
            inline(
                "SELECT ?2 || ?1",
                &[Sql::Text("a".into()), Sql::Blob(vec![0, 255])]
            )
            .unwrap(),
            "SELECT x'00ff' || 'a'"
        );
    }

    #[test]
    fn what_has_no_exact_literal_keeps_the_parameters() {
        for value in [
            Sql::Real(0.1),
            Sql::Real(f64::NAN),
            Sql::Real(1e300),
            Sql::Real(-0.0),
            Sql::Integer(i64::MIN),
            Sql::Text("a\0b".into()),
        ] {
            assert_eq!(
                inline("SELECT ?", std::slice::from_ref(&value)),
                None,
                "{value:?}"
            );
        }
        // Parameter counts that do not match, forms this store does not write, comments.
        assert_eq!(inline("SELECT ?, ?", &[Sql::Integer(1)]), None);
        assert_eq!(
            inline("SELECT ?", &[Sql::Integer(1), Sql::Integer(2)]),
            None
        );
        assert_eq!(inline("SELECT ?1, ?", &[Sql::Integer(1)]), None);
        assert_eq!(inline("SELECT :a", &[Sql::Integer(1)]), None);
        assert_eq!(inline("SELECT ? -- x", &[Sql::Integer(1)]), None);
        assert_eq!(inline("SELECT ? /* x */", &[Sql::Integer(1)]), None);
        assert_eq!(inline("SELECT '?", &[Sql::Integer(1)]), None);
    }

    fn value() -> impl Strategy<Value = Sql> {
        prop_oneof![
            Just(Sql::Null),
            any::<i64>().prop_map(Sql::Integer),
            (-1_000_000_000i64..1_000_000_000).prop_map(|i| Sql::Real(i as f64)),
            any::<f64>().prop_map(Sql::Real),
            ".{0,12}".prop_map(Sql::Text),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Sql::Blob),
        ]
    }

    proptest! {
        /// A statement with its values written in gives what it gives with them bound.
        #[test]
        fn a_written_value_is_the_bound_value(values in proptest::collection::vec(value(), 1..5)) {
            let conn = Connection::open_in_memory().unwrap();
            let columns: Vec<String> = (0..values.len())
                .map(|i| format!("typeof(?) AS t{i}, ? - 0 AS n{i}, quote(?) AS q{i}"))
                .collect();
            let sql = format!("SELECT {}", columns.join(", "));
            let params: Vec<Sql> = values.iter().flat_map(|v| [v.clone(), v.clone(), v.clone()]).collect();
            let read = |sql: &str, params: &[Sql]| -> Vec<Sql> {
                conn.query_row(sql, rusqlite::params_from_iter(params.iter()), |r| {
                    (0..3 * values.len()).map(|i| r.get::<_, Sql>(i)).collect::<Result<Vec<_>, _>>()
                }).unwrap()
            };
            let bound = read(&sql, &params);
            match inline(&sql, &params) {
                Some(text) => prop_assert_eq!(read(&text, &[]), bound),
                None => prop_assert!(values.iter().any(|v| literal(v).is_none())),
            }
        }
    }

    #[test]
    fn a_statement_planned_by_its_values_is_prepared_once_per_value() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_connection(&dir.path().join("d.db"), false).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a TEXT, b INTEGER); CREATE INDEX t_a ON t (a);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO t SELECT CASE WHEN i % 10 = 0 THEN 'I' ELSE 'A' END, i FROM n;
             ANALYZE;",
        )
        .unwrap();
        drop(conn);
        // A reader: value-aware plans.
        let conn = super::super::open_connection(&dir.path().join("d.db"), true).unwrap();
        let sql = "SELECT COUNT(*) FROM t WHERE a = ? AND b > ?";
        let count = |a: &str| -> i64 {
            with_statement(
                &conn,
                sql,
                &[Sql::Text(a.into()), Sql::Integer(0)],
                |s, p| Ok(s.query_row(rusqlite::params_from_iter(p.iter()), |r| r.get(0))?),
            )
            .unwrap()
        };
        assert_eq!(count("A"), 2700);
        assert!(
            value_aware(sql),
            "SQLite prepared it again after the binding"
        );
        let written = inline(sql, &[Sql::Text("A".into()), Sql::Integer(0)]).unwrap();
        for _ in 0..5 {
            assert_eq!(count("A"), 2700);
            assert_eq!(count("I"), 300);
        }
        let statement = conn.prepare_cached(&written).unwrap();
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0);
        assert_eq!(statement.get_status(StatementStatus::Run), 5);
        drop(statement);

        // A long value stays bound: the cached statements do not keep it.
        let long = "A".repeat(30_000);
        let runs = |conn: &Connection| {
            conn.prepare_cached(sql)
                .unwrap()
                .get_status(StatementStatus::Run)
        };
        let before = runs(&conn);
        for _ in 0..3 {
            assert_eq!(count(&long), 0);
        }
        assert_eq!(runs(&conn), before + 3, "run with its value bound");
    }

    #[test]
    fn a_statement_prepared_again_once_for_a_schema_change_is_not_value_aware() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let writer = super::super::open_connection(&path, false).unwrap();
        writer
            .execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);")
            .unwrap();
        let conn = super::super::open_connection(&path, true).unwrap();
        let sql = "SELECT COUNT(*) FROM t WHERE a IN (SELECT value FROM json_each(?))";
        let count = || -> i64 {
            with_statement(&conn, sql, &[Sql::Text("[1,2]".into())], |s, p| {
                Ok(s.query_row(rusqlite::params_from_iter(p.iter()), |r| r.get(0))?)
            })
            .unwrap()
        };
        for _ in 0..3 {
            count();
        }
        writer.execute_batch("CREATE TABLE u (x);").unwrap();
        count();
        let statement = conn.prepare_cached(sql).unwrap();
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 1);
        assert!(statement.get_status(StatementStatus::Run) >= 4);
        assert!(!value_aware(sql));
    }
}
