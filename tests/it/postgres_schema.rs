//! The two migration folders stay in step: `migrations/` (SQLite) and `migrations/postgres/`
//! (PostgreSQL) must describe one schema, because the store runs the same SQL on both.
//!
//! The first test needs nothing; the second applies both folders for real (SQLite in a
//! file, PostgreSQL on the test server that `scripts/test` starts) and compares what each
//! database says it holds: tables, columns in order, their types, which may be NULL,
//! primary keys and indexes.

use std::collections::{BTreeMap, BTreeSet};

use crate::helpers::{fresh_database, open_store, test_postgres};

fn migration_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.file_type()
                .unwrap()
                .is_file()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_migration_has_a_postgres_twin_of_the_same_name() {
    let sqlite = migration_names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    let postgres = migration_names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"));
    assert!(sqlite.len() >= 14, "{sqlite:?}");
    assert_eq!(
        sqlite, postgres,
        "each migration needs its PostgreSQL twin, with the same name"
    );
}

/// One column as both databases can describe it.
#[derive(Debug, PartialEq, Eq)]
struct Column {
    name: String,
    /// `integer`, `text`, `real` or `blob`: SQLite's type affinities, which PostgreSQL's
    /// types map onto (`bigint` and `boolean` are integers, stored 0/1 in SQLite).
    family: &'static str,
    /// Whether the column refuses NULL (primary key columns are left out: SQLite lets
    /// some hold NULL, PostgreSQL never).
    not_null: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
}

fn sqlite_family(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "integer"
    } else if t.contains("CHAR") || t.contains("TEXT") || t.contains("CLOB") {
        "text"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "real"
    } else if t.contains("BLOB") || t.is_empty() {
        "blob"
    } else {
        "numeric"
    }
}

fn postgres_family(data_type: &str) -> &'static str {
    match data_type {
        "bigint" | "integer" | "smallint" | "boolean" => "integer",
        "text" | "character varying" => "text",
        "double precision" | "real" => "real",
        "bytea" => "blob",
        _ => "numeric",
    }
}

#[tokio::test]
async fn both_migration_folders_build_the_same_schema() {
    let Some(_) = test_postgres() else {
        // scripts/test always runs this with a server; a bare `cargo test` has none.
        eprintln!("MODELWATCH_TEST_POSTGRES is not set: the schema comparison needs a server");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = modelwatch::store::Store::open(&dir.path().join("s.db"))
        .await
        .unwrap();
    let postgres = open_store(&fresh_database(dir.path(), "unused.db").await).await;
    assert_eq!(postgres.backend(), "postgres");

    // SQLite
    let pool = sqlite.sqlite_pool();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut lite: BTreeMap<String, Table> = BTreeMap::new();
    for name in names {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut pk: Vec<(i64, String)> = rows
            .iter()
            .filter(|r| r.3 > 0)
            .map(|r| (r.3, r.0.clone()))
            .collect();
        pk.sort();
        lite.insert(
            name,
            Table {
                columns: rows
                    .iter()
                    .map(|(column, declared, not_null, pk)| Column {
                        name: column.clone(),
                        family: sqlite_family(declared),
                        not_null: *pk == 0 && *not_null == 1,
                    })
                    .collect(),
                primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            },
        );
    }
    let lite_indexes: BTreeSet<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();

    // PostgreSQL
    let modelwatch::store::Db::Postgres(pg) = postgres.pool() else {
        unreachable!("checked above")
    };
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(pg)
    .await
    .unwrap();
    let mut post: BTreeMap<String, Table> = BTreeMap::new();
    for name in names {
        let pk: Vec<String> = sqlx::query_scalar(
            "SELECT k.column_name::text FROM information_schema.table_constraints c \
             JOIN information_schema.key_column_usage k \
               ON k.constraint_name = c.constraint_name AND k.table_name = c.table_name \
             WHERE c.table_schema = 'public' AND c.table_name = $1 \
               AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
        )
        .bind(&name)
        .fetch_all(pg)
        .await
        .unwrap();
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(pg)
        .await
        .unwrap();
        post.insert(
            name,
            Table {
                columns: rows
                    .iter()
                    .map(|(column, data_type, nullable)| Column {
                        name: column.clone(),
                        family: postgres_family(data_type),
                        not_null: !pk.contains(column) && nullable == "NO",
                    })
                    .collect(),
                primary_key: pk,
            },
        );
    }
    let post_indexes: BTreeSet<String> =
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(pg)
            .await
            .unwrap()
            .into_iter()
            .collect();

    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        post.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (name, table) in &lite {
        assert_eq!(Some(table), post.get(name), "table {name}");
    }
    let missing: Vec<&String> = lite_indexes.difference(&post_indexes).collect();
    assert!(
        missing.is_empty(),
        "indexes missing in PostgreSQL: {missing:?}"
    );
    assert!(lite.len() >= 25, "{:?}", lite.keys());
}
