//! The two databases the server stores in, behind one small interface: SQLite (rusqlite,
//! bundled; one file, nothing to install) and PostgreSQL (the `postgres` crate, a synchronous
//! client like rusqlite, so the batcher thread and the API's store calls stay as they are).
//! Statements are written once, in the SQL both accept, with PostgreSQL's `$N` parameters
//! (rewritten to SQLite's `?N`); values are only integers and text, as the schema.
//!
//! Avoids: an ORM or a second copy of every statement per database, and running the
//! PostgreSQL client's own runtime on an async worker thread (its calls are moved off the
//! worker with `block_in_place`, see [`off_worker`]).

use super::StoreError;
use postgres::types::{IsNull, ToSql, Type};
use rusqlite::types::ToSqlOutput;

/// A parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
    /// A BIGINT.
    I(i64),
    /// A TEXT.
    T(&'a str),
    /// A BIGINT or NULL.
    OI(Option<i64>),
    /// A TEXT or NULL.
    OT(Option<&'a str>),
}

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            P::I(v) => rusqlite::ToSql::to_sql(v),
            P::T(v) => rusqlite::ToSql::to_sql(v),
            P::OI(v) => rusqlite::ToSql::to_sql(v),
            P::OT(v) => rusqlite::ToSql::to_sql(v),
        }
    }
}

impl ToSql for P<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            P::I(v) => v.to_sql(ty, out),
            P::T(v) => v.to_sql(ty, out),
            P::OI(v) => v.to_sql(ty, out),
            P::OT(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <&str as ToSql>::accepts(ty)
    }

    // Checked per variant: an integer given where PostgreSQL expects text is an error, not
    // eight bytes read as characters.
    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            P::I(v) => v.to_sql_checked(ty, out),
            P::T(v) => v.to_sql_checked(ty, out),
            P::OI(v) => v.to_sql_checked(ty, out),
            P::OT(v) => v.to_sql_checked(ty, out),
        }
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer (BIGINT, INTEGER, or a boolean as 0/1).
    Int(i64),
    /// A text.
    Text(String),
}

/// A row read back.
#[derive(Debug)]
pub struct Row(Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Shape(format!("no column {i}")))
    }

    /// Column `i` as text.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Shape(format!("column {i} is NULL, text expected")))
    }

    /// Column `i` as text or NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            Value::Int(_) => Err(StoreError::Shape(format!(
                "column {i} is an integer, text expected"
            ))),
        }
    }

    /// Column `i` as an integer or NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Text(_) => Err(StoreError::Shape(format!("column {i}: integer expected"))),
        }
    }

    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(StoreError::Shape(format!("column {i}: integer expected"))),
        }
    }
}

/// One connection to either database.
pub enum Db {
    /// A SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server.
    Postgres(Box<postgres::Client>),
}

/// Runs `f`, which blocks on the PostgreSQL client's own runtime, off the async worker thread
/// it is called from (the API's handlers call the store directly); elsewhere `f` just runs.
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// SQLite spells parameter N `?N`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Db {
    /// Runs `sql`; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, p: &[P<'_>]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(c) => {
                Ok(c.prepare_cached(&sqlite_sql(sql))?
                    .execute(rusqlite::params_from_iter(p.iter()))? as u64)
            }
            Db::Postgres(c) => {
                let params: Vec<&(dyn ToSql + Sync)> =
                    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                Ok(off_worker(|| c.execute(sql, &params))?)
            }
        }
    }

    /// Runs query `sql`; returns its rows.
    pub fn query(&mut self, sql: &str, p: &[P<'_>]) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(&sqlite_sql(sql))?;
                let n = stmt.column_count();
                let rows = stmt.query_map(rusqlite::params_from_iter(p.iter()), |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Value::Null,
                                rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                                v => Value::Text(v.as_str()?.to_string()),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map(Row)
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Db::Postgres(c) => {
                let params: Vec<&(dyn ToSql + Sync)> =
                    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let rows = off_worker(|| c.query(sql, &params))?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// Runs `sql`, one or more statements without parameters (migrations, BEGIN, COMMIT).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => Ok(off_worker(|| c.batch_execute(sql))?),
        }
    }

    /// Starts a transaction. SQLite's takes the write lock at once (IMMEDIATE), so two
    /// processes on one file never both read and then both write.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => self.batch("BEGIN IMMEDIATE"),
            Db::Postgres(_) => self.batch("BEGIN"),
        }
    }

    /// What a query of rows about to be changed by this transaction ends with: PostgreSQL locks
    /// them (and skips those another instance holds); SQLite's write lock covers the file.
    pub fn for_update(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }
}

fn pg_row(r: &postgres::Row) -> Result<Row, StoreError> {
    let shape = |i: usize, e: postgres::Error| StoreError::Shape(format!("column {i}: {e}"));
    (0..r.len())
        .map(|i| {
            let ty = r.columns()[i].type_();
            Ok(if *ty == Type::INT8 {
                r.try_get::<_, Option<i64>>(i)
                    .map_err(|e| shape(i, e))?
                    .map_or(Value::Null, Value::Int)
            } else if *ty == Type::INT4 {
                r.try_get::<_, Option<i32>>(i)
                    .map_err(|e| shape(i, e))?
                    .map_or(Value::Null, |v| Value::Int(v.into()))
            } else if *ty == Type::BOOL {
                r.try_get::<_, Option<bool>>(i)
                    .map_err(|e| shape(i, e))?
                    .map_or(Value::Null, |v| Value::Int(v.into()))
            } else {
                r.try_get::<_, Option<String>>(i)
                    .map_err(|e| shape(i, e))?
                    .map_or(Value::Null, Value::Text)
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Row)
}
