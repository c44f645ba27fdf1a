//! EXPLAIN: renders a planned statement as PostgreSQL's plan tree — in the text format
//! or as FORMAT JSON — and with ANALYZE runs it.
//!
//! # What it owns
//! `EXPLAIN [ANALYZE] [VERBOSE] statement` and `EXPLAIN (option [value], …) statement`
//! for SELECT/VALUES/INSERT/UPDATE/DELETE and `EXECUTE name(…)` of a prepared
//! statement (`sql::prepare` hands that statement back here with its parameters).
//! Nodes have PostgreSQL's shape (`Seq Scan on t`, `Index Scan using t_pkey on t`,
//! `Hash Join` over a `Hash`, `Nested Loop`, `Sort`, `Limit`, `Aggregate`,
//! `HashAggregate`, `Subquery Scan`, …) with `Filter:` / `Hash Cond:` /
//! `Join Filter:` / `Index Cond:` / `Sort Key:` / `Group Key:` properties, and with
//! VERBOSE each node's `Output:` list and the relations' schemas. The join nodes come
//! from the same [`super::join::choose`] the executor uses, so the plan shown is the
//! plan run.
//!
//! One tree ([`Node`]), two renderings:
//! 1. text: one `QUERY PLAN` row of type `text` per line, children as `->  ` lines
//!    indented under their parent;
//! 2. FORMAT JSON: one row of type `json` holding PostgreSQL 15's document — the keys
//!    it prints for these nodes ("Node Type", "Strategy", "Operation", "Parent
//!    Relationship", "Parallel Aware", "Async Capable", "Join Type", "Scan
//!    Direction", "Index Name", "Relation Name", "Schema", "Alias", the costs,
//!    "Actual …", "Output", the properties, "Plans"), in its order and layout, and
//!    the summary keys. Clients read it: sqlx infers the nullability of outer joins'
//!    columns from "Join Type", "Parent Relationship" and "Output".
//!
//! # Invariants
//! * Costs are tusk's own estimates (row counts of the stored tables as seen now, no
//!   statistics); `COSTS OFF` removes them, and then simple plans read like
//!   PostgreSQL's.
//! * Without ANALYZE nothing runs: EXPLAIN of a write changes no data. With ANALYZE
//!   the statement runs in the session's transaction, as PostgreSQL does, and the top
//!   node gets `(actual time=… rows=… loops=1)` for the whole statement; the nodes
//!   below get no actual figures (tusk does not instrument each node).
//!
//! # Never
//! Never executes a statement without ANALYZE, never shows a join algorithm other
//! than the one the executor picks. FORMAT YAML and XML are refused (0A000), not
//! approximated.

use super::exec;
use super::expr::{BinOp, Expr, Func};
use super::join::{self, Strategy};
use super::plan::{Binder, Plan, SelectPlan, Source};
use super::type_funcs::TypeFn;
use super::ExecCtx;
use crate::error::{sqlstate, Result};
use crate::storage::TableDef;
use crate::types::{self, DataType, Value};
use crate::{bail, err};
use sqlparser::ast;
use std::time::Instant;

/// A planned EXPLAIN.
#[derive(Debug, Clone)]
pub struct ExplainPlan {
    /// The statement explained.
    pub inner: Plan,
    /// ANALYZE: run it and show actual figures.
    pub analyze: bool,
    /// VERBOSE: qualify every column name.
    pub verbose: bool,
    /// COSTS (on unless turned off).
    pub costs: bool,
    /// TIMING (with ANALYZE; on unless turned off).
    pub timing: bool,
    /// SUMMARY: the Planning/Execution Time lines (on with ANALYZE).
    pub summary: bool,
    /// The time planning the inner statement took, in milliseconds.
    pub planning_ms: f64,
    /// FORMAT JSON (otherwise TEXT).
    pub json: bool,
}

impl ExplainPlan {
    /// The one result column: `QUERY PLAN`, `text` or (FORMAT JSON) `json`.
    pub fn field(&self) -> super::FieldDesc {
        let ty = if self.json {
            DataType::Json
        } else {
            DataType::Text
        };
        super::plan::field("QUERY PLAN", ty, -1, 0, 0)
    }
}

/// Binds `EXPLAIN …`; None for any other statement.
pub fn plan(b: &mut Binder<'_>, stmt: &ast::Statement) -> Result<Option<Plan>> {
    let ast::Statement::Explain {
        analyze,
        verbose,
        statement,
        options,
        format,
        query_plan,
        estimate,
        ..
    } = stmt
    else {
        return Ok(None);
    };
    if *query_plan || *estimate {
        bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"EXPLAIN\""
        );
    }
    let mut e = ExplainPlan {
        inner: Plan::Front(super::front::FrontStmt::ShowAll),
        analyze: *analyze,
        verbose: *verbose,
        costs: true,
        timing: true,
        summary: false,
        planning_ms: 0.0,
        json: false,
    };
    let mut summary = None;
    if format.is_some() {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "EXPLAIN formats other than TEXT are not supported yet"
        );
    }
    for o in options.iter().flatten() {
        let name = super::plan::fold(&o.name);
        let on = match &o.arg {
            None => true,
            Some(a) if name == "format" => {
                match a.to_string().to_ascii_lowercase().trim_matches('\'') {
                    "text" => e.json = false,
                    "json" => e.json = true,
                    f @ ("xml" | "yaml") => bail!(
                        sqlstate::FEATURE_NOT_SUPPORTED,
                        "EXPLAIN format {f} is not supported yet"
                    ),
                    v => bail!(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        "unrecognized value for EXPLAIN option \"format\": \"{v}\""
                    ),
                }
                continue;
            }
            Some(a) => match a.to_string().to_ascii_lowercase().trim_matches('\'') {
                "true" | "on" | "1" | "yes" => true,
                "false" | "off" | "0" | "no" => false,
                v => bail!(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "invalid value for boolean option \"{name}\": {v}"
                ),
            },
        };
        match name.as_str() {
            "analyze" => e.analyze = on,
            "verbose" => e.verbose = on,
            "costs" => e.costs = on,
            "timing" => e.timing = on,
            "summary" => summary = Some(on),
            "buffers" | "settings" | "wal" => {}
            _ => bail!(
                sqlstate::SYNTAX_ERROR,
                "unrecognized EXPLAIN option \"{name}\""
            ),
        }
    }
    e.summary = summary.unwrap_or(e.analyze);
    let started = Instant::now();
    e.inner = match statement.as_ref() {
        s @ (ast::Statement::Query(_)
        | ast::Statement::Insert(_)
        | ast::Statement::Update { .. }
        | ast::Statement::Delete(_)) => b.plan(s)?,
        // EXPLAIN EXECUTE is run by the session (`sql::prepare`), which explains the
        // prepared statement itself; binding it here only describes the result.
        ast::Statement::Execute { .. } => e.inner.clone(),
        other => bail!(
            sqlstate::SYNTAX_ERROR,
            "syntax error at or near \"{}\"",
            other.to_string().split_whitespace().next().unwrap_or("")
        ),
    };
    e.planning_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Some(Plan::Explain(Box::new(e))))
}

/// One plan node as it is printed: its text-format title and property lines, and the
/// same facts under PostgreSQL's FORMAT JSON keys.
struct Node {
    /// The text format's title (`Index Scan using t_pkey on t`).
    title: String,
    /// JSON's "Node Type" (`Index Scan`).
    kind: String,
    /// Keys JSON shows before "Parent Relationship" ("Strategy", "Operation").
    pre: Vec<(&'static str, String)>,
    /// Keys JSON shows between "Async Capable" and the costs ("Join Type",
    /// "Index Name", "Relation Name", "Schema", "Alias").
    head: Vec<(&'static str, String)>,
    /// The node's properties in order (`Filter`, `Sort Key`…).
    props: Vec<(&'static str, Prop)>,
    /// VERBOSE's output column list.
    output: Vec<String>,
    children: Vec<Node>,
    rows: f64,
    width: usize,
}

/// A property's value: one expression, or a list (`Sort Key: a, b`).
enum Prop {
    Text(String),
    List(Vec<String>),
}

impl Node {
    /// A node whose JSON "Node Type" is its title (`Sort`, `Limit`, `Hash`).
    fn new(title: impl Into<String>, rows: f64, width: usize) -> Node {
        let title = title.into();
        Node {
            kind: title.clone(),
            title,
            pre: vec![],
            head: vec![],
            props: vec![],
            output: vec![],
            children: vec![],
            rows,
            width,
        }
    }

    /// A node titled `title` whose JSON "Node Type" is `kind`.
    fn typed(kind: &str, title: impl Into<String>, rows: f64, width: usize) -> Node {
        let mut n = Node::new(title, rows, width);
        n.kind = kind.to_string();
        n
    }

    /// A join node (`Hash Left Join`, `Nested Loop`): `join` is `""`, `" Left Join"`…
    fn join(kind: &str, join: &str, rows: f64) -> Node {
        let title = match (kind, join) {
            ("Hash Join", "") => "Hash Join".to_string(),
            ("Hash Join", j) => format!("Hash{j}"),
            (k, j) => format!("{k}{j}"),
        };
        let mut n = Node::typed(kind, title, rows, 0);
        let ty = join.trim().strip_suffix(" Join").unwrap_or("Inner");
        n.head.push(("Join Type", ty.to_string()));
        n
    }

    /// The relation a scan or ModifyTable node reads: "Relation Name", "Schema" (with
    /// VERBOSE) and "Alias".
    fn relation(&mut self, def: &TableDef, c: &mut Ctx<'_, '_>) {
        self.head.push(("Relation Name", def.name.clone()));
        if c.verbose {
            let schema =
                c.cx.engine
                    .with_catalog(|cat| crate::catalog::pg_catalog::schema_name(cat, def.schema));
            // VERBOSE's text names the relation with its schema (`on public.t`).
            if let Some(head) = self.title.strip_suffix(&format!(" on {}", def.name)) {
                self.title = format!("{head} on {schema}.{}", def.name);
            }
            self.head.push(("Schema", schema));
        }
        self.head.push(("Alias", def.name.clone()));
    }

    fn prop(&mut self, key: &'static str, v: String) {
        self.props.push((key, Prop::Text(v)));
    }

    fn list(&mut self, key: &'static str, v: Vec<String>) {
        self.props.push((key, Prop::List(v)));
    }
}

/// Rendering state: whether column names are qualified, whether VERBOSE was asked.
struct Ctx<'a, 'b> {
    qualify: bool,
    verbose: bool,
    cx: &'a mut ExecCtx<'b>,
}

/// Runs EXPLAIN: the plan's lines as rows of one text column.
pub fn run(e: &ExplainPlan, cx: &mut ExecCtx<'_>) -> Result<(u64, Vec<Vec<Value>>)> {
    let mut actual = None;
    if e.analyze {
        let started = Instant::now();
        let n = match &e.inner {
            Plan::Query(q) => exec::run_select(q, cx)?.len() as u64,
            Plan::Insert(p) => exec::run_insert(p, cx)?.0,
            Plan::Update(p) => exec::run_update(p, cx)?.0,
            Plan::Delete(p) => exec::run_delete(p, cx)?.0,
            _ => {
                return Err(err!(
                    sqlstate::SYNTAX_ERROR,
                    "cannot EXPLAIN this statement"
                ))
            }
        };
        let rows = match &e.inner {
            Plan::Query(_) => n,
            _ => 0, // PostgreSQL's ModifyTable node returns no rows without RETURNING
        };
        actual = Some((rows, started.elapsed().as_secs_f64() * 1000.0));
    }
    let relations = match &e.inner {
        Plan::Query(q) => count_relations(&q.source),
        _ => 1,
    };
    let mut c = Ctx {
        qualify: e.verbose || relations > 1,
        verbose: e.verbose,
        cx,
    };
    let mut root = build(e, &mut c)?;
    if e.verbose && relations == 1 {
        // PostgreSQL qualifies VERBOSE's conditions always but its output lists only
        // when the query reads more than one relation.
        c.qualify = false;
        let plain = build(e, &mut c)?;
        copy_outputs(&mut root, &plain);
    }
    if e.json {
        let doc = render_json(&root, e, actual);
        return Ok((1, vec![vec![Value::Json(doc)]]));
    }
    let mut lines = Vec::new();
    render(&root, 0, true, e, actual.map(|a| (a.0, a.1)), &mut lines);
    if e.summary {
        lines.push(format!("Planning Time: {:.3} ms", e.planning_ms));
        if let Some((_, ms)) = actual {
            lines.push(format!("Execution Time: {ms:.3} ms"));
        }
    }
    let rows: Vec<Vec<Value>> = lines.into_iter().map(|l| vec![Value::Text(l)]).collect();
    Ok((rows.len() as u64, rows))
}

/// Takes the output lists of `src`, a tree of the same shape, into `dst`.
fn copy_outputs(dst: &mut Node, src: &Node) {
    dst.output = src.output.clone();
    for (d, s) in dst.children.iter_mut().zip(&src.children) {
        copy_outputs(d, s);
    }
}

/// The plan tree of the explained statement.
fn build(e: &ExplainPlan, c: &mut Ctx<'_, '_>) -> Result<Node> {
    Ok(match &e.inner {
        Plan::Query(q) => {
            let names = source_names(&q.source, c);
            select_node(q, &names, c)
        }
        Plan::Insert(p) => {
            let mut n = Node::typed("ModifyTable", format!("Insert on {}", p.table.name), 0.0, 0);
            n.pre.push(("Operation", "Insert".into()));
            n.relation(&p.table, c);
            let rows = p.rows.len();
            let child = match &p.query {
                Some((q, _)) => {
                    let names = source_names(&q.source, c);
                    select_node(q, &names, c)
                }
                None if rows == 1 => Node::new("Result", 1.0, 4),
                None => values_scan(rows as f64),
            };
            n.children.push(child);
            n
        }
        Plan::Update(p) => modify("Update", &p.table, p.key.as_deref(), p.filter.as_ref(), c),
        Plan::Delete(p) => modify("Delete", &p.table, p.key.as_deref(), p.filter.as_ref(), c),
        _ => bail!(sqlstate::SYNTAX_ERROR, "cannot EXPLAIN this statement"),
    })
}

fn render(
    n: &Node,
    indent: usize,
    top: bool,
    e: &ExplainPlan,
    actual: Option<(u64, f64)>,
    out: &mut Vec<String>,
) {
    let mut line = if top {
        n.title.clone()
    } else {
        format!("{}->  {}", " ".repeat(indent.saturating_sub(4)), n.title)
    };
    if e.costs {
        line.push_str(&format!(
            "  (cost=0.00..{:.2} rows={} width={})",
            n.rows.max(1.0) * 0.01 + n.rows,
            n.rows.max(1.0).round() as u64,
            n.width
        ));
    }
    if let Some((rows, ms)) = actual {
        let sep = if e.costs { " " } else { "  " };
        if e.timing {
            line.push_str(&format!(
                "{sep}(actual time=0.000..{ms:.3} rows={rows} loops=1)"
            ));
        } else {
            line.push_str(&format!("{sep}(actual rows={rows} loops=1)"));
        }
    }
    out.push(line);
    if e.verbose && n.kind != "ModifyTable" {
        let pad = " ".repeat(indent + 2);
        out.push(format!("{pad}Output: {}", n.output.join(", ")));
    }
    for (key, p) in &n.props {
        let v = match p {
            Prop::Text(t) => t.clone(),
            Prop::List(l) => l.join(", "),
        };
        out.push(format!("{}{key}: {v}", " ".repeat(indent + 2)));
    }
    for c in &n.children {
        render(c, indent + 6, false, e, None, out);
    }
}

/// FORMAT JSON: PostgreSQL's document (an array of one object holding "Plan" and the
/// summary keys), laid out as PostgreSQL lays it out, two spaces per level.
fn render_json(root: &Node, e: &ExplainPlan, actual: Option<(u64, f64)>) -> String {
    let mut out = String::from("[\n  {\n    \"Plan\": {\n");
    json_node(root, None, 6, e, actual, &mut out);
    out.push_str("    }");
    let mut tail: Vec<String> = vec![];
    if e.summary {
        tail.push(format!("\"Planning Time\": {:.3}", e.planning_ms));
    }
    if actual.is_some() {
        tail.push("\"Triggers\": [\n    ]".into());
    }
    if let (true, Some((_, ms))) = (e.summary, actual) {
        tail.push(format!("\"Execution Time\": {ms:.3}"));
    }
    for t in tail {
        out.push_str(",\n    ");
        out.push_str(&t);
    }
    out.push_str("\n  }\n]");
    out
}

/// One node's keys at `indent`, in PostgreSQL's order: identity, parent relationship,
/// parallelism, relation, costs, actual figures, output, properties, children.
fn json_node(
    n: &Node,
    parent: Option<&'static str>,
    indent: usize,
    e: &ExplainPlan,
    actual: Option<(u64, f64)>,
    out: &mut String,
) {
    let mut keys: Vec<(String, String)> = vec![("Node Type".into(), json_str(&n.kind))];
    let text = |pairs: &[(&'static str, String)], keys: &mut Vec<(String, String)>| {
        for (k, v) in pairs {
            keys.push((k.to_string(), json_str(v)));
        }
    };
    text(&n.pre, &mut keys);
    if let Some(rel) = parent {
        keys.push(("Parent Relationship".into(), json_str(rel)));
    }
    keys.push(("Parallel Aware".into(), "false".into()));
    keys.push(("Async Capable".into(), "false".into()));
    text(&n.head, &mut keys);
    if e.costs {
        let rows = n.rows.max(1.0);
        keys.push(("Startup Cost".into(), "0.00".into()));
        keys.push(("Total Cost".into(), format!("{:.2}", rows * 0.01 + n.rows)));
        keys.push(("Plan Rows".into(), format!("{}", rows.round() as u64)));
        keys.push(("Plan Width".into(), n.width.to_string()));
    }
    if let Some((rows, ms)) = actual {
        if e.timing {
            keys.push(("Actual Startup Time".into(), "0.000".into()));
            keys.push(("Actual Total Time".into(), format!("{ms:.3}")));
        }
        keys.push(("Actual Rows".into(), rows.to_string()));
        keys.push(("Actual Loops".into(), "1".into()));
    }
    // A ModifyTable node has an output list only with RETURNING, which tusk does not
    // explain.
    if e.verbose && n.kind != "ModifyTable" {
        keys.push(("Output".into(), json_list(&n.output)));
    }
    for (k, p) in &n.props {
        let v = match p {
            Prop::Text(t) => json_str(t),
            Prop::List(l) => json_list(l),
        };
        keys.push((k.to_string(), v));
    }
    let pad = " ".repeat(indent);
    let last = keys.len() - 1;
    for (i, (k, v)) in keys.iter().enumerate() {
        let comma = if i < last || !n.children.is_empty() {
            ","
        } else {
            ""
        };
        out.push_str(&format!("{pad}{}: {v}{comma}\n", json_str(k)));
    }
    if n.children.is_empty() {
        return;
    }
    out.push_str(&format!("{pad}\"Plans\": [\n"));
    for (i, c) in n.children.iter().enumerate() {
        let rel = match (n.kind.as_str(), i) {
            ("Subquery Scan", _) => "Subquery",
            ("Append", _) => "Member",
            (_, 0) => "Outer",
            _ => "Inner",
        };
        out.push_str(&format!("{pad}  {{\n"));
        json_node(c, Some(rel), indent + 4, e, None, out);
        let comma = if i + 1 < n.children.len() { "," } else { "" };
        out.push_str(&format!("{pad}  }}{comma}\n"));
    }
    out.push_str(&format!("{pad}]\n"));
}

/// A JSON string literal (PostgreSQL's `escape_json`).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of strings on one line, as PostgreSQL prints "Output" and "Sort Key".
fn json_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn count_relations(s: &Source) -> usize {
    match s {
        Source::Join { left, right, .. } => count_relations(left) + count_relations(right),
        _ => 1,
    }
}

fn type_width(ty: DataType) -> usize {
    match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Timestamp
        | DataType::TimestampTz
        | DataType::Time => 8,
        DataType::TimeTz => 12,
        _ => 32,
    }
}

fn table_rows(def: &TableDef, db: u32, c: &mut Ctx<'_, '_>) -> f64 {
    c.cx.engine.scan(c.cx.txn, db, def.oid).len() as f64
}

/// The printed names of a source's columns.
fn source_names(s: &Source, c: &Ctx<'_, '_>) -> Vec<String> {
    match s {
        Source::Table { def, .. } => def
            .columns
            .iter()
            .map(|col| {
                if c.qualify {
                    format!("{}.{}", def.name, col.name)
                } else {
                    col.name.clone()
                }
            })
            .collect(),
        Source::Join {
            left,
            right,
            right_width,
            ..
        } => {
            let mut n = source_names(left, c);
            let mut r = source_names(right, c);
            r.resize(*right_width, "?column?".into());
            n.extend(r);
            n
        }
        Source::Subquery(p) => p.fields.iter().map(|f| f.name.clone()).collect(),
        Source::Lateral(j) => {
            let mut n = source_names(&j.left, c);
            let mut r = source_names(&j.right, c);
            r.resize(j.right_width, "?column?".into());
            n.extend(r);
            n
        }
        other => (0..join::source_width(other).unwrap_or(0))
            .map(|i| format!("column{}", i + 1))
            .collect(),
    }
}

fn select_node(p: &SelectPlan, names: &[String], c: &mut Ctx<'_, '_>) -> Node {
    // ORDER BY an indexed column with LIMIT reads the index in order (exec::run_select).
    let ordered = super::plan::ordered_index(p);
    let mut node = match (&ordered, &p.source) {
        (Some((_, name, desc)), Source::Table { def, .. }) => {
            let width = def.columns.iter().map(|x| type_width(x.data_type)).sum();
            let mut n = index_scan(def, name, *desc, 1.0, width, c);
            if let Some(f) = &p.filter {
                n.prop("Filter", expr_text(f, names));
            }
            n
        }
        _ => source_node(&p.source, p.filter.as_ref(), names, c),
    };
    let mut row_names: Vec<String> = names.to_vec();
    if let Some(g) = &p.group {
        let keys: Vec<String> = g.keys.iter().map(|k| expr_text(k, names)).collect();
        let mut n = if keys.is_empty() {
            aggregate("Aggregate", 1.0, 8)
        } else {
            let mut n = aggregate("HashAggregate", (node.rows / 10.0).max(1.0), node.width);
            n.list("Group Key", keys.clone());
            n
        };
        row_names = keys;
        for a in &g.aggs {
            let arg = a
                .arg
                .as_ref()
                .map(|x| expr_text(x, names))
                .unwrap_or_else(|| "*".into());
            let func = match a.func {
                super::plan::AggFunc::CountStar => "count".to_string(),
                f => format!("{f:?}").to_lowercase(),
            };
            row_names.push(format!("{func}({arg})"));
        }
        if let Some(h) = &g.having {
            n.prop("Filter", expr_text(h, &row_names));
        }
        n.output = row_names.clone();
        n.children.push(node);
        node = n;
    }
    let out_names: Vec<String> = p.exprs.iter().map(|x| expr_text(x, &row_names)).collect();
    let width: usize = p.exprs[..p.visible]
        .iter()
        .map(|x| type_width(x.ty()))
        .sum();
    let shown = out_names[..p.visible].to_vec();
    if p.distinct {
        let mut n = aggregate("HashAggregate", node.rows, width);
        n.list("Group Key", shown.clone());
        n.output = shown.clone();
        n.children.push(node);
        node = n;
    }
    if !p.order.is_empty() && ordered.is_none() {
        let keys: Vec<String> = p
            .order
            .iter()
            .map(|&(i, desc, nulls_first)| {
                let mut k = out_names[i].clone();
                if desc {
                    k.push_str(" DESC");
                    if !nulls_first {
                        k.push_str(" NULLS LAST");
                    }
                } else if nulls_first {
                    k.push_str(" NULLS FIRST");
                }
                k
            })
            .collect();
        let mut n = Node::new("Sort", node.rows, width);
        n.list("Sort Key", keys);
        n.output = shown.clone();
        n.children.push(node);
        node = n;
    }
    if p.limit.is_some() || p.offset.is_some() {
        let mut n = Node::new("Limit", node.rows, width);
        n.output = shown.clone();
        n.children.push(node);
        node = n;
    }
    node.width = width;
    // The top node of a SELECT computes its select list (PostgreSQL projects there).
    node.output = shown;
    node
}

/// An index scan of `def` through index `name`.
fn index_scan(
    def: &TableDef,
    name: &str,
    backward: bool,
    rows: f64,
    width: usize,
    c: &mut Ctx<'_, '_>,
) -> Node {
    let dir = if backward { " Backward" } else { "" };
    let mut n = Node::typed(
        "Index Scan",
        format!("Index Scan{dir} using {name} on {}", def.name),
        rows,
        width,
    );
    let direction = if backward { "Backward" } else { "Forward" };
    n.head.push(("Scan Direction", direction.into()));
    n.head.push(("Index Name", name.to_string()));
    n.relation(def, c);
    n.output = source_names(
        &Source::Table {
            db: c.cx.db_oid,
            def: std::sync::Arc::new(def.clone()),
            key: None,
        },
        c,
    );
    n
}

/// `Aggregate` (plain) or `HashAggregate`: JSON's "Aggregate" with its "Strategy".
fn aggregate(title: &str, rows: f64, width: usize) -> Node {
    let mut n = Node::typed("Aggregate", title, rows, width);
    let strategy = if title == "HashAggregate" {
        "Hashed"
    } else {
        "Plain"
    };
    n.pre.push(("Strategy", strategy.into()));
    n.pre.push(("Partial Mode", "Simple".into()));
    n
}

/// A scan of a VALUES list.
fn values_scan(rows: f64) -> Node {
    let mut n = Node::typed("Values Scan", "Values Scan on \"*VALUES*\"", rows, 4);
    n.head.push(("Alias", "*VALUES*".into()));
    n
}

/// A scan of a set-returning function (`Function Scan on generate_series`).
fn function_scan(name: Option<&str>, rows: f64, width: usize) -> Node {
    let title = match name {
        Some(f) => format!("Function Scan on {f}"),
        None => "Function Scan".into(),
    };
    let mut n = Node::typed("Function Scan", title, rows, width);
    if let Some(f) = name {
        n.head.push(("Function Name", f.to_string()));
        n.head.push(("Alias", f.to_string()));
    }
    n
}

/// A scan of a stored table with the part of the filter it uses shown as Index Cond.
fn scan_node(
    def: &TableDef,
    db: u32,
    key: Option<&[Expr]>,
    filter: Option<&Expr>,
    names: &[String],
    c: &mut Ctx<'_, '_>,
) -> Node {
    let rows = table_rows(def, db, c);
    let width = def.columns.iter().map(|x| type_width(x.data_type)).sum();
    let conj: Vec<&Expr> = filter.map(join::conjuncts).unwrap_or_default();
    // Index expressions and partial index predicates as the index sees them (the
    // rewrite keeps the conjuncts in place, so they pair with `conj`).
    let rewritten = super::generated::index_filter(c.cx, db, def, filter)
        .ok()
        .flatten();
    let seen: Vec<&Expr> = match &rewritten {
        Some(r) => join::conjuncts(r),
        None => conj.clone(),
    };
    let mut predicate = None;
    // The index a scan reads (None for a sequential scan) and the columns it uses.
    let (index, used_cols): (Option<String>, Vec<usize>) = match (key, &def.primary_key) {
        (Some(_), Some(pk)) => (Some(def.pkey_name.clone()), pk.clone()),
        _ => match super::plan::index_path(def, rewritten.as_ref().or(filter)) {
            Some(path) => {
                let name = if path.index == crate::storage::heap::PK_INDEX {
                    def.pkey_name.clone()
                } else {
                    let ix = def.indexes.iter().find(|i| i.oid == path.index);
                    predicate = ix.and_then(|i| i.predicate);
                    ix.map(|i| i.name.clone()).unwrap_or_default()
                };
                let n = path.eq.len() + (path.range.is_some() || path.any.is_some()) as usize;
                (Some(name), path.columns[..n].to_vec())
            }
            None => (None, vec![]),
        },
    };
    let is_index_cond = |e: &Expr| match e {
        Expr::Binary(op, l, r, _) if op.is_comparison() && *op != BinOp::NotEq => {
            matches!((l.as_ref(), r.as_ref()), (Expr::Column(i, _), _) | (_, Expr::Column(i, _)) if used_cols.contains(i))
        }
        Expr::InList(x, _, false) => {
            matches!(x.as_ref(), Expr::Column(i, _) if used_cols.contains(i))
        }
        Expr::Or(..) | Expr::Func(..) => {
            super::plan::index_column_list(e).is_some_and(|c| used_cols.contains(&c))
        }
        _ => false,
    };
    let mut ic = Vec::new();
    let mut rest = Vec::new();
    for (e, as_seen) in conj.into_iter().zip(seen) {
        if is_index_cond(as_seen) {
            ic.push(e);
        } else if !matches!((as_seen, predicate), (Expr::Column(i, _), Some(p)) if *i == p) {
            // (the partial index's own predicate holds for every row it returns)
            rest.push(e);
        }
    }
    let est = if !ic.is_empty() {
        1.0
    } else if !rest.is_empty() {
        (rows / 3.0).ceil()
    } else {
        rows
    };
    let mut n = match &index {
        Some(name) => index_scan(def, name, false, est, width, c),
        None => {
            let mut n = Node::typed("Seq Scan", format!("Seq Scan on {}", def.name), est, width);
            n.relation(def, c);
            n
        }
    };
    n.output = names.to_vec();
    if !ic.is_empty() {
        n.prop("Index Cond", conj_text(&ic, names));
    }
    if !rest.is_empty() {
        n.prop("Filter", conj_text(&rest, names));
    }
    n
}

fn conj_text(c: &[&Expr], names: &[String]) -> String {
    if c.len() == 1 {
        return expr_text(c[0], names);
    }
    format!(
        "({})",
        c.iter()
            .map(|e| expr_text(e, names))
            .collect::<Vec<_>>()
            .join(" AND ")
    )
}

fn source_node(s: &Source, filter: Option<&Expr>, names: &[String], c: &mut Ctx<'_, '_>) -> Node {
    let mut node = match s {
        Source::Table { db, def, key } => {
            return scan_node(def, *db, key.as_deref(), filter, names, c)
        }
        Source::Join {
            left,
            right,
            on,
            left_outer,
            right_width,
            right_outer,
        } => {
            let ln = source_names(left, c);
            let lw = ln.len();
            let ls = names[..lw.min(names.len())].to_vec();
            let rs = names[lw.min(names.len())..].to_vec();
            let lnode = source_node(left, None, &ls, c);
            let kind = match (*left_outer, right_outer.is_some()) {
                (true, true) => " Full Join",
                (true, false) => " Left Join",
                (false, true) => " Right Join",
                (false, false) => "",
            };
            let strategy = join::choose(left, right, on.as_ref(), right_outer.is_some());
            let conj: Vec<&Expr> = on.as_ref().map(join::conjuncts).unwrap_or_default();
            let is_key = |e: &Expr| !join::equi_keys(e, lw).is_empty();
            let rows = lnode.rows.max(1.0);
            match strategy {
                Strategy::Hash(_) => {
                    let rnode = source_node(right, None, &rs, c);
                    let mut n = Node::join("Hash Join", kind, rows);
                    let (keys, rest): (Vec<&Expr>, Vec<&Expr>) =
                        conj.into_iter().partition(|e| is_key(e));
                    n.prop("Hash Cond", conj_text(&keys, names));
                    if !rest.is_empty() {
                        n.prop("Join Filter", conj_text(&rest, names));
                    }
                    let mut h = Node::new("Hash", rnode.rows, rnode.width);
                    h.output = rnode.output.clone();
                    n.children.push(lnode);
                    h.children.push(rnode);
                    n.children.push(h);
                    n
                }
                Strategy::Index {
                    name, keys: used, ..
                } => {
                    let Source::Table { def, .. } = right.as_ref() else {
                        return Node::join("Nested Loop", "", rows);
                    };
                    let mut n = Node::join("Nested Loop", kind, rows);
                    let cols: Vec<usize> = used.iter().map(|(col, _)| col + lw).collect();
                    let uses = |e: &Expr| match e {
                        Expr::Binary(BinOp::Eq, a, b, _) => {
                            is_key(e)
                                && matches!((a.as_ref(), b.as_ref()), (Expr::Column(i, _), _) | (_, Expr::Column(i, _)) if cols.contains(i))
                        }
                        _ => false,
                    };
                    let (ic, rest): (Vec<&Expr>, Vec<&Expr>) =
                        conj.into_iter().partition(|e| uses(e));
                    if !rest.is_empty() {
                        n.prop("Join Filter", conj_text(&rest, names));
                    }
                    let width = def.columns.iter().map(|x| type_width(x.data_type)).sum();
                    let mut r = index_scan(def, &name, false, 1.0, width, c);
                    r.output = rs.clone();
                    r.prop("Index Cond", conj_text(&ic, names));
                    n.children.push(lnode);
                    n.children.push(r);
                    n
                }
                Strategy::NestedLoop => {
                    let rnode = source_node(right, None, &rs, c);
                    let rows = if conj.is_empty() {
                        lnode.rows * rnode.rows
                    } else {
                        rows
                    };
                    let mut n = Node::join("Nested Loop", kind, rows);
                    if !conj.is_empty() {
                        n.prop("Join Filter", conj_text(&conj, names));
                    }
                    let _ = right_width;
                    n.children.push(lnode);
                    n.children.push(rnode);
                    n
                }
            }
        }
        Source::Lateral(j) => {
            let lw = source_names(&j.left, c).len().min(names.len());
            let lnode = source_node(&j.left, None, &names[..lw], c);
            let rnode = source_node(&j.right, None, &names[lw..], c);
            let kind = if j.left_outer { " Left Join" } else { "" };
            let mut n = Node::join("Nested Loop", kind, lnode.rows * rnode.rows);
            if let Some(on) = &j.on {
                let conj = join::conjuncts(on);
                n.prop("Join Filter", conj_text(&conj, names));
            }
            n.children.push(lnode);
            n.children.push(rnode);
            n
        }
        Source::Single => Node::new("Result", 1.0, 0),
        Source::Virtual(_) => function_scan(Some("system_view"), 1000.0, 0),
        Source::Subquery(p) => {
            let inner = source_names(&p.source, c);
            let mut n = Node::typed("Subquery Scan", "Subquery Scan on subquery", 1.0, 0);
            n.head.push(("Alias", "subquery".into()));
            let child = select_node(p, &inner, c);
            n.rows = child.rows;
            n.width = child.width;
            n.children.push(child);
            n
        }
        Source::DistinctOn(p, _) => {
            let inner = source_names(&p.source, c);
            let mut n = Node::new("Unique", 1.0, 0);
            let child = select_node(p, &inner, c);
            n.rows = child.rows;
            n.children.push(child);
            n
        }
        Source::WithTies { input, .. } => {
            let inner = source_names(&input.source, c);
            let mut n = Node::new("Limit", 1.0, 0);
            n.children.push(select_node(input, &inner, c));
            n
        }
        Source::Window(_) => Node::new("WindowAgg", 1000.0, 0),
        Source::RecursiveCte(_) => Node::new("Recursive Union", 1000.0, 0),
        Source::WorkTable(_) => Node::new("WorkTable Scan", 1000.0, 0),
        Source::DmlCte(_) => Node::new("CTE Scan", 1000.0, 0),
        Source::Values(rows) => values_scan(rows.len() as f64),
        Source::Series(..) => function_scan(Some("generate_series"), 1000.0, 4),
        Source::Srf(_) | Source::RegexRows(_) => function_scan(None, 100.0, 32),
        Source::SetOp {
            op, left, right, ..
        } => {
            let title = match op {
                super::plan::SetOpKind::Union => "Append",
                super::plan::SetOpKind::Intersect => "SetOp Intersect",
                super::plan::SetOpKind::Except => "SetOp Except",
            };
            let mut n = Node::new(title, 1.0, 0);
            if let Some(cmd) = title.strip_prefix("SetOp ") {
                n.kind = "SetOp".into();
                n.head.push(("Command", cmd.into()));
            }
            for p in [left, right] {
                let inner = source_names(&p.source, c);
                let child = select_node(p, &inner, c);
                n.rows += child.rows;
                n.children.push(child);
            }
            n
        }
    };
    if let Some(f) = filter {
        node.prop("Filter", expr_text(f, names));
    }
    if node.output.is_empty() {
        node.output = names.to_vec();
    }
    node
}

fn modify(
    verb: &str,
    def: &TableDef,
    key: Option<&[Expr]>,
    filter: Option<&Expr>,
    c: &mut Ctx<'_, '_>,
) -> Node {
    let db = c.cx.db_oid;
    let names = source_names(
        &Source::Table {
            db,
            def: std::sync::Arc::new(def.clone()),
            key: None,
        },
        c,
    );
    let mut n = Node::typed("ModifyTable", format!("{verb} on {}", def.name), 0.0, 0);
    n.pre.push(("Operation", verb.to_string()));
    n.relation(def, c);
    n.children.push(scan_node(def, db, key, filter, &names, c));
    n
}

/// An expression in PostgreSQL's deparsed style (operators parenthesized, constants
/// with their type when it is not obvious).
pub fn expr_text(e: &Expr, names: &[String]) -> String {
    let t = |x: &Expr| expr_text(x, names);
    match e {
        Expr::Column(i, _) => names.get(*i).cloned().unwrap_or_else(|| "?column?".into()),
        Expr::Const(Value::Null, _) => "NULL".into(),
        Expr::Const(v, ty) => {
            let s = types::format_text(v, &types::FormatOptions::default());
            match ty {
                DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric => {
                    if s.starts_with('-') {
                        format!("'{s}'::{}", ty.name())
                    } else {
                        s
                    }
                }
                DataType::Bool => s,
                _ => format!("'{}'::{}", s.replace('\'', "''"), ty.name()),
            }
        }
        Expr::Param(i, _) => format!("${}", i + 1),
        Expr::Binary(op, l, r, _) => format!("({} {} {})", t(l), op.symbol(), t(r)),
        Expr::Neg(x, _) => format!("(- {})", t(x)),
        Expr::And(..) => {
            let parts: Vec<&Expr> = join::conjuncts(e);
            format!(
                "({})",
                parts.iter().map(|p| t(p)).collect::<Vec<_>>().join(" AND ")
            )
        }
        Expr::Or(l, r) => format!("({} OR {})", t(l), t(r)),
        Expr::Not(x) => format!("(NOT {})", t(x)),
        Expr::IsNull(x, neg) => {
            format!("({} IS {}NULL)", t(x), if *neg { "NOT " } else { "" })
        }
        Expr::IsDistinct(l, r, neg) => format!(
            "({} IS {}DISTINCT FROM {})",
            t(l),
            if *neg { "NOT " } else { "" },
            t(r)
        ),
        Expr::IsBool(x, v, neg) => format!(
            "({} IS {}{})",
            t(x),
            if *neg { "NOT " } else { "" },
            if *v { "TRUE" } else { "FALSE" }
        ),
        Expr::Cast(x, ty, _, _) => format!("({})::{}", t(x), ty.name()),
        Expr::Func(Func::Typed(TypeFn::AnyAll(op, all)), args, _) if args.len() == 2 => format!(
            "({} {} {} ({}))",
            t(&args[0]),
            op.symbol(),
            if *all { "ALL" } else { "ANY" },
            t(&args[1])
        ),
        Expr::Func(Func::Typed(TypeFn::ArrBuild(_)), args, _) => format!(
            "ARRAY[{}]",
            args.iter().map(t).collect::<Vec<_>>().join(", ")
        ),
        Expr::Func(f, args, _) => format!(
            "{}({})",
            format!("{f:?}").to_lowercase(),
            args.iter().map(t).collect::<Vec<_>>().join(", ")
        ),
        Expr::InList(x, list, neg) => format!(
            "({} {}IN ({}))",
            t(x),
            if *neg { "NOT " } else { "" },
            list.iter().map(t).collect::<Vec<_>>().join(", ")
        ),
        Expr::Like(x, p, neg, ci) => format!(
            "({} {}{} {})",
            t(x),
            if *neg { "!" } else { "" },
            if *ci { "~~*" } else { "~~" },
            t(p)
        ),
        Expr::Case(..) => "CASE".into(),
        Expr::Subquery(..) => "(SubPlan 1)".into(),
        Expr::ArraySubquery(..) => "(ARRAY(SubPlan 1))".into(),
        Expr::OuterColumn(..) => "$0".into(),
        Expr::Correlated(inner) => t(inner),
        Expr::Exists(_, neg) => format!("({}EXISTS(SubPlan 1))", if *neg { "NOT " } else { "" }),
        Expr::InSubquery(x, _, neg) => format!(
            "({} {}IN (SubPlan 1))",
            t(x),
            if *neg { "NOT " } else { "" }
        ),
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
