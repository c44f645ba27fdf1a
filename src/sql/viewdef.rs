//! `pg_get_viewdef`'s text: a view's stored query as a statement that means the same
//! under the reader's `search_path`.
//!
//! # What it owns
//!
//! tusk stores a view as the query text it was created with, prefixed by the schemas
//! of the `search_path` of that moment (`ddl::VIEW_PATH_TAG`, so that its names keep
//! resolving as they did). PostgreSQL stores the parsed query and its deparser writes
//! every relation the current `search_path` would not find the same way with its
//! schema. This module does that on the text:
//!
//! 1. the path comment is split off and the query parsed again;
//! 2. each relation name in it (FROM items and subqueries at any depth, but not the
//!    names of the query's own CTEs) is looked up along the creation path;
//! 3. a name the current path resolves differently, or not at all, gets the schema
//!    it was found in (`app.orders`); one it resolves the same way stays as written;
//! 4. the query is printed again, with a leading space and a trailing `;` as
//!    PostgreSQL's `pg_get_viewdef` has them.
//!
//! pg_dump runs with an empty `search_path`, so in a dump every user relation comes
//! out qualified and the view restores anywhere.
//!
//! `pg_views.definition` is the same text ([`pg_views_definitions`]). The same walk
//! gives `pg_depend`'s rows for what each view's `_RETURN` rule reads
//! ([`view_depend_rows`]): one per relation, the view itself included (PostgreSQL
//! records one per column read; pg_dump orders on the relations), so a dump creates
//! a view after the relations it reads.
//!
//! What it must never do: change what the query means. Text it cannot parse again is
//! returned without the path comment, as it is.

use crate::catalog::pg_catalog::{self, PgView};
use crate::catalog::search_path;
use crate::storage::Engine;
use crate::types::Value;
use sqlparser::ast::{self, Visit, Visitor};
use std::collections::HashSet;
use std::ops::ControlFlow;

/// The definition of a view whose stored text is `stored`, as `pg_get_viewdef`
/// returns it (see the module comment).
pub fn view_definition(engine: &Engine, db: u32, stored: &str) -> String {
    let (path, text) = split_path(stored);
    let qualified =
        qualify(engine, db, path.as_deref(), text).unwrap_or_else(|| text.trim().into());
    format!(" {qualified};")
}

/// `pg_views` rows with `definition` as `pg_get_viewdef` gives it (the catalog layer
/// leaves the stored text, which it cannot parse).
pub fn pg_views_definitions(
    engine: &Engine,
    db: u32,
    mut rows: Vec<Vec<Value>>,
) -> Vec<Vec<Value>> {
    for row in &mut rows {
        let (Some(Value::Text(schema)), Some(Value::Text(name))) = (row.first(), row.get(1)) else {
            continue;
        };
        let stored = engine.with_catalog(|c| {
            c.ddl
                .views
                .range((db, 0)..=(db, u32::MAX))
                .map(|(_, v)| v)
                .find(|v| &v.name == name && pg_catalog::schema_name(c, v.schema) == *schema)
                .map(|v| v.query.clone())
        });
        if let (Some(q), Some(def)) = (stored, row.get_mut(3)) {
            *def = Value::Text(view_definition(engine, db, &q));
        }
    }
    rows
}

/// `pg_depend` rows (with the system column `tableoid` after them, as the catalog's
/// own rows have it) for the relations each view of database `db` reads: its
/// `_RETURN` rule depends on each normally ('n').
pub fn view_depend_rows(engine: &Engine, db: u32) -> Vec<Vec<Value>> {
    let views: Vec<(u32, String)> = engine.with_catalog(|c| {
        c.ddl
            .views
            .range((db, 0)..=(db, u32::MAX))
            .map(|(_, v)| (v.oid, v.query.clone()))
            .collect()
    });
    let rels: Vec<(u32, String, u32)> = engine.with_catalog(|c| {
        pg_catalog::relations(c, db)
            .into_iter()
            .map(|r| (r.schema, r.name, r.oid))
            .collect()
    });
    let tableoid = pg_catalog::catalog_oid(PgView::Depend).unwrap_or(0);
    let mut out = Vec::new();
    for (view, stored) in views {
        let (path, text) = split_path(&stored);
        let path = path.unwrap_or_else(search_path::lookup_schemas);
        // The rule's OLD and NEW are the view itself: PostgreSQL records that too.
        let mut read = std::collections::BTreeSet::from([view]);
        let Ok(stmts) = crate::sql::depth::parse_stored(text, |p| p.parse_statements()) else {
            continue;
        };
        let mut ctes = CteNames(HashSet::new());
        let _ = stmts.visit(&mut ctes);
        let _ = ast::visit_relations(&stmts, |name| {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| match p {
                    ast::ObjectNamePart::Identifier(id) => Some(fold(id)),
                    _ => None,
                })
                .collect();
            let found = match parts.as_slice() {
                [rel] if !ctes.0.contains(rel) => path.iter().find_map(|s| {
                    rels.iter()
                        .find(|(rs, rn, _)| rs == s && rn == rel)
                        .map(|r| r.2)
                }),
                [schema, rel] => rels
                    .iter()
                    .find(|(rs, rn, _)| {
                        rn == rel
                            && engine.with_catalog(|c| pg_catalog::schema_name(c, *rs)) == *schema
                    })
                    .map(|r| r.2),
                _ => None,
            };
            if let Some(oid) = found {
                read.insert(oid);
            }
            ControlFlow::<()>::Continue(())
        });
        for oid in read {
            out.push(vec![
                Value::Oid(pg_catalog::PG_REWRITE_OID),
                Value::Oid(pg_catalog::view_rule_oid(view)),
                Value::Int4(0),
                Value::Oid(pg_catalog::PG_CLASS_OID),
                Value::Oid(oid),
                Value::Int4(0),
                Value::Text("n".into()),
                Value::Oid(tableoid),
            ]);
        }
    }
    out
}

/// The stored text's creation path (schema OIDs) and the query after it.
fn split_path(stored: &str) -> (Option<Vec<u32>>, &str) {
    match stored
        .strip_prefix(super::ddl::VIEW_PATH_TAG)
        .and_then(|r| r.split_once("*/ "))
    {
        Some((p, rest)) => (
            Some(
                p.split_whitespace()
                    .filter_map(|o| o.parse().ok())
                    .collect(),
            ),
            rest,
        ),
        None => (None, stored),
    }
}

/// Collects the names the query's CTEs define (they are not relations).
struct CteNames(HashSet<String>);

impl Visitor for CteNames {
    type Break = ();
    fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
        if let Some(w) = &q.with {
            for c in &w.cte_tables {
                self.0.insert(fold(&c.alias.name));
            }
        }
        ControlFlow::Continue(())
    }
}

fn fold(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// The query with the relation names qualified where the current path needs it;
/// `None` when the text does not parse as one query.
fn qualify(engine: &Engine, db: u32, path: Option<&[u32]>, text: &str) -> Option<String> {
    let mut stmts = crate::sql::depth::parse_stored(text, |p| p.parse_statements()).ok()?;
    if stmts.len() != 1 {
        return None;
    }
    let mut stmt = stmts.pop()?;
    let mut ctes = CteNames(HashSet::new());
    let _ = stmt.visit(&mut ctes);
    let current = search_path::lookup_schemas();
    let created: Vec<u32> = path.map_or_else(|| current.clone(), <[u32]>::to_vec);
    let _ = ast::visit_relations_mut(&mut stmt, |name| {
        let [ast::ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
            return ControlFlow::<()>::Continue(());
        };
        let rel = fold(id);
        if ctes.0.contains(&rel) {
            return ControlFlow::Continue(());
        }
        let found = |schemas: &[u32]| {
            engine.with_catalog(|c| {
                schemas
                    .iter()
                    .copied()
                    .find(|s| c.relation_exists(db, *s, &rel))
            })
        };
        if let Some(schema) = found(&created) {
            if found(&current) != Some(schema) {
                let schema_name =
                    engine.with_catalog(|c| crate::catalog::pg_catalog::schema_name(c, schema));
                let q = ident(&schema_name);
                name.0.insert(0, ast::ObjectNamePart::Identifier(q));
            }
        }
        ControlFlow::Continue(())
    });
    match stmt {
        ast::Statement::Query(q) => Some(q.to_string()),
        _ => None,
    }
}

/// An identifier quoted as `quote_ident` would.
fn ident(name: &str) -> ast::Ident {
    if crate::catalog::pg_catalog::quote_ident(name) == name {
        ast::Ident::new(name)
    } else {
        ast::Ident::with_quote('"', name)
    }
}
