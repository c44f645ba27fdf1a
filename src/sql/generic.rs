//! Generic plans for the simple query protocol: statements that differ only in their
//! numeric literals share one plan, as a prepared statement's executions do.
//!
//! `pgbench -M simple`, psql scripts and ORMs that inline their values send the same
//! statement again and again with other numbers in it. [`super::parse_cache`] already
//! parses such a text once per *template* (the text with each numeric literal of two
//! or more characters replaced by a placeholder); this module plans it once too, with
//! the placeholders bound as parameters, and runs that plan with each statement's
//! literals as the parameter values.
//!
//! # When a generic plan may stand for the statement
//! A literal is not a parameter: the binder gives it its type from its text (`815` is
//! `integer`, `3000000000` `bigint`, `1.5` `numeric`), folds casts of it at plan time,
//! and reads some literals as something other than values (`ORDER BY 2`, `GROUP BY
//! 2`, `-815` is one constant). So each parameter is declared with the type its
//! literal would have (the *kinds*, part of what a generic plan is valid for), and a
//! generic plan is only ever used after it was *proved equal* to the ordinary plan of
//! the statement that made it: the two plans are written out (`Debug`), each
//! parameter of the generic one replaced by the constant its literal binds to, and
//! must then be the same text. A shape where the binder did anything with a literal
//! but carry it as the value it is — fold a cast, read a position — fails that check
//! and is remembered as one to plan statement by statement. One folding is proved
//! rather than refused: an integer literal under a unary minus (`abalance + -4321`,
//! pgbench's TPC-B) is one negative constant, the template's `-$1` the parameter
//! negated, which for every value of the literal's type is that same constant. A plan is only
//! made generic for queries, INSERT, UPDATE and DELETE.
//!
//! # What it is valid for
//! Exactly what a cached plan of `Session::plan_cached` is: the catalog version (every
//! DDL, GRANT/REVOKE and role change moves it), the schemas `search_path` resolved
//! to, the time zone and the current user, plus the kinds of the literals. Anything
//! else sends the statement down the ordinary path, which makes the entry again.
//!
//! # One statement's walk
//! 1. [`Session::simple_generic`] templates the query string; a valid entry for the
//!    template with the same kinds runs its plan (`Session::run_plan`) with the
//!    literals' values, and the implicit transaction commits as after any statement.
//! 2. Otherwise the string goes the ordinary way (parse, `plan_cached`, run). When
//!    it is one templated statement, [`Session::note_generic`] leaves a note, and
//!    `plan_cached` hands the plan it made to [`Session::make_generic`], which
//!    plans the template with parameters, compares, and stores the entry (a usable
//!    plan, or the mark that this shape is planned each time).
//!
//! # What it must never do
//! Give a statement any answer, error or result type its own plan would not give:
//! everything not proved equal takes the ordinary path.

use super::expr::Expr;
use super::*;
use rustc_hash::FxHashMap;

/// Generic-plan entries kept per session before they are all dropped.
const CAPACITY: usize = 256;

/// A statement shape's generic plan (or the mark that it has none), and what it was
/// made for.
pub(super) struct GenericPlan {
    version: u64,
    path: Vec<u32>,
    tz: String,
    user: String,
    /// The types of the literals, in order (each literal's parameter type).
    kinds: Vec<DataType>,
    /// `None`: the shape's plan depends on its literals' values (planned each time).
    plan: Option<Arc<Plan>>,
}

/// What the ordinary path needs to make an entry for the statement it is running.
pub(super) struct Note {
    /// The statement's text as split and planned.
    piece_text: String,
    /// The entry to make for the statement's shape, if any.
    shape: Option<NotePart>,
    /// The entry to make for its template, if any (when the shape's plan turns out to
    /// depend on a literal).
    template: Option<NotePart>,
}

/// One entry a [`Note`] asks for.
pub(super) struct NotePart {
    /// The shape or template of the whole query string (the entry's key).
    key: String,
    /// The shape or template of the statement's text (`Note::piece_text`).
    piece: parse_cache::Template,
    kinds: Vec<DataType>,
    values: Vec<Value>,
}

/// The shape and the template of a query string that go the ordinary way, for
/// [`Session::note_generic`].
pub(super) struct Pending {
    shape: Option<parse_cache::Template>,
    template: Option<parse_cache::Template>,
}

/// What [`Session::simple_generic`] did with a query string.
pub(super) enum Generic {
    /// It ran the statement (the results of `simple_query`).
    Ran(Vec<Result<ExecResult>>),
    /// The ordinary path runs it; entries may be made (boxed: the rare case, and two
    /// templates are large beside the others).
    Make(Box<Pending>),
    /// The ordinary path runs it; nothing to make.
    Ordinary,
}

/// Which of the session's two maps of generic plans.
#[derive(Clone, Copy)]
enum Keyed {
    /// By shape (every numeric literal a parameter): `Session::generic_shapes`.
    Shape,
    /// By template (literals of one character stay): `Session::generic`.
    Template,
}

/// What a map holds for a statement.
enum Found {
    /// A valid plan, and the literals' values to run it with.
    Plan(Arc<Plan>, Vec<Value>),
    /// No entry valid for the statement: the ordinary path makes one.
    Missing,
    /// The shape's plan depends on its literals.
    Unproved,
    /// The ordinary path runs it, nothing to make (it reports the error).
    Ordinary,
}

/// The literals' values and kinds; `None` when one does not read (the ordinary path
/// reports it).
fn literal_values(t: &parse_cache::Template) -> Option<(Vec<Value>, Vec<DataType>)> {
    let mut values = Vec::with_capacity(t.literal_count());
    let mut kinds = Vec::with_capacity(t.literal_count());
    for (_, lit) in t.literals() {
        let (v, ty) = plan::number_literal(lit).ok()?;
        values.push(v);
        kinds.push(ty);
    }
    Some((values, kinds))
}

/// Whether `generic`, with parameter `k` replaced by the constant `values[k]` of type
/// `kinds[k]`, is `custom` (compared as written out by `Debug`). One pass over the
/// generic plan's text, whatever the number of parameters.
fn same_but_literals(generic: &Plan, custom: &Plan, values: &[Value], kinds: &[DataType]) -> bool {
    let g = format!("{generic:?}");
    let mut out = String::with_capacity(g.len());
    let mut rest = g.as_str();
    while let Some(at) = rest.find("Param(") {
        let (before, from) = rest.split_at(at);
        let digits = from["Param(".len()..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let k: Option<usize> = from["Param(".len().."Param(".len() + digits].parse().ok();
        let Some(k) = k.filter(|k| *k < values.len()) else {
            out.push_str(before);
            out.push_str("Param(");
            rest = &from["Param(".len()..];
            continue;
        };
        let param = Expr::Param(k, kinds[k]);
        let param_text = format!("{param:?}");
        if !from.starts_with(&param_text) {
            out.push_str(before);
            out.push_str("Param(");
            rest = &from["Param(".len()..];
            continue;
        }
        // `-4321` binds to one constant, the template's `-$1` to the parameter negated:
        // for an integer literal (never negative in a template) the negation of the
        // value is exactly that constant of the same type (`-2147483648` is not: its
        // literal is bigint, the constant integer, so that shape stays unproved).
        if let Some(negated) = negated_integer(&values[k]) {
            let neg = format!("{:?}", Expr::Neg(Box::new(param.clone()), kinds[k]));
            let neg_at = before.len().checked_sub("Neg(".len());
            if let Some(neg_at) = neg_at.filter(|n| rest[*n..].starts_with(&neg)) {
                out.push_str(&before[..neg_at]);
                out.push_str(&format!("{:?}", Expr::Const(negated, kinds[k])));
                rest = &rest[neg_at + neg.len()..];
                continue;
            }
        }
        out.push_str(before);
        out.push_str(&format!("{:?}", Expr::Const(values[k].clone(), kinds[k])));
        rest = &from[param_text.len()..];
    }
    out.push_str(rest);
    out == format!("{custom:?}")
}

/// `-v` for an integer literal's value (which fits: the literal has no sign).
fn negated_integer(v: &Value) -> Option<Value> {
    match v {
        Value::Int4(i) => i.checked_neg().map(Value::Int4),
        Value::Int8(i) => i.checked_neg().map(Value::Int8),
        _ => None,
    }
}

impl Session {
    /// Runs `sql` through a generic plan when it is one templated statement with a
    /// valid entry (see the module notes): its shape's, or else its template's.
    pub(super) fn simple_generic(&mut self, sql: &str) -> Generic {
        let Some(shape) = parse_cache::shape(sql).filter(|t| t.literal_count() > 0) else {
            return Generic::Ordinary;
        };
        let template = || parse_cache::template(sql).filter(|t| t.literal_count() > 0);
        match self.find_generic(Keyed::Shape, &shape) {
            Found::Plan(plan, values) => return Generic::Ran(self.run_generic(&plan, &values)),
            Found::Ordinary => return Generic::Ordinary,
            Found::Missing => {
                return Generic::Make(Box::new(Pending {
                    shape: Some(shape),
                    template: template(),
                }))
            }
            Found::Unproved => {}
        }
        let Some(t) = template() else {
            return Generic::Ordinary;
        };
        match self.find_generic(Keyed::Template, &t) {
            Found::Plan(plan, values) => Generic::Ran(self.run_generic(&plan, &values)),
            Found::Missing => Generic::Make(Box::new(Pending {
                shape: None,
                template: Some(t),
            })),
            Found::Unproved | Found::Ordinary => Generic::Ordinary,
        }
    }

    fn generic_map(&mut self, keyed: Keyed) -> &mut FxHashMap<String, GenericPlan> {
        match keyed {
            Keyed::Shape => &mut self.generic_shapes,
            Keyed::Template => &mut self.generic,
        }
    }

    /// What the `keyed` map holds for the statement `t`.
    fn find_generic(&mut self, keyed: Keyed, t: &parse_cache::Template) -> Found {
        if !self.generic_map(keyed).contains_key(&t.text) {
            return Found::Missing;
        }
        let Some((values, kinds)) = literal_values(t) else {
            return Found::Ordinary;
        };
        // As `run` does before planning: the zone and the current user first.
        self.enter_zone();
        self.sync_user();
        if self.failed {
            return Found::Ordinary; // `run` says 25P02
        }
        self.resolved();
        let version = self.engine.catalog_version();
        let map = match keyed {
            Keyed::Shape => &self.generic_shapes,
            Keyed::Template => &self.generic,
        };
        let Some(entry) = map.get(&t.text) else {
            return Found::Missing;
        };
        // Compared in place: this runs for every statement.
        let fresh = entry.kinds == kinds
            && entry.version == version
            && self.resolved.as_ref().is_some_and(|r| r.path == entry.path)
            && entry.tz == self.hot().time_zone
            && entry.user == self.ctx.user;
        if !fresh {
            return Found::Missing;
        }
        match &entry.plan {
            Some(plan) => Found::Plan(plan.clone(), values),
            None => Found::Unproved,
        }
    }

    /// Runs a generic plan with the statement's literals, then commits the implicit
    /// transaction as after any statement.
    fn run_generic(&mut self, plan: &Plan, values: &[Value]) -> Vec<Result<ExecResult>> {
        let r = if self.engine.in_recovery() {
            hot_standby::check_plan(plan).and_then(|_| self.run_plan(plan, values))
        } else {
            self.run_plan(plan, values)
        };
        let mut out = vec![r];
        if out[0].is_err() {
            self.on_error();
            return out;
        }
        if !self.explicit {
            if let Err(e) = self.commit_txn() {
                // As `simple_query_inner`: the error replaces the CommandComplete.
                out[0] = Err(e);
            }
        }
        out
    }

    /// Leaves the note that lets `plan_cached` make entries for the one statement
    /// `piece` of the string whose shape and template `pending` holds, when the
    /// statement's own shape (template) has the same literals.
    pub(super) fn note_generic(&mut self, pending: Pending, piece: &front::Piece) {
        self.generic_note = None;
        let part = |whole: Option<parse_cache::Template>,
                    of: fn(&str) -> Option<parse_cache::Template>| {
            let whole = whole?;
            let piece = of(&piece.text)?;
            let same = piece.literal_count() == whole.literal_count()
                && piece
                    .literals()
                    .zip(whole.literals())
                    .all(|(a, b)| a.1 == b.1);
            let (values, kinds) = literal_values(&whole).filter(|_| same)?;
            Some(NotePart {
                key: whole.text,
                piece,
                kinds,
                values,
            })
        };
        let note = Note {
            piece_text: piece.text.clone(),
            shape: part(pending.shape, parse_cache::shape),
            template: part(pending.template, parse_cache::template),
        };
        if note.shape.is_some() || note.template.is_some() {
            self.generic_note = Some(note);
        }
    }

    /// Makes the entries the note asks for from `custom`, the ordinary plan of the
    /// statement `piece` (called by `plan_cached` with the search path, temporary
    /// schema and role entered): the shape's, and when that one is not proved, the
    /// template's.
    pub(super) fn make_generic(&mut self, piece: &front::Piece, custom: &Plan) {
        let Some(note) = self.generic_note.take_if(|n| n.piece_text == piece.text) else {
            return;
        };
        if let Some(part) = note.shape {
            // The shape is parsed here, once: the parse cache holds templates only.
            let tree = parse_cache::usable_tree(&part.piece, |text| {
                parse_placeholders(text, piece.offset)
            });
            if self.make_entry(Keyed::Shape, piece, part, tree, custom) {
                return;
            }
        }
        if let Some(part) = note.template {
            let tree = parse_cache::template_tree(&part.piece.text);
            if tree.is_none() {
                return; // not parsed through its template (or the cache started over)
            }
            self.make_entry(Keyed::Template, piece, part, tree, custom);
        }
    }

    /// Plans `tree` (the shape or template of the statement `piece`) with its
    /// placeholders as parameters, proves the plan against `custom`, and stores the
    /// entry (a proved plan, or the mark that the key is planned each time, also when
    /// there is no tree). True when the plan was proved.
    fn make_entry(
        &mut self,
        keyed: Keyed,
        piece: &front::Piece,
        part: NotePart,
        tree: Option<ast::Statement>,
        custom: &Plan,
    ) -> bool {
        let version = self.engine.catalog_version();
        let (path, role) = {
            let r = self.resolved();
            (r.path.clone(), r.role)
        };
        let tz = self.hot().time_zone.clone();
        let plannable = matches!(
            custom,
            Plan::Query(_) | Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_)
        );
        let plan = tree.filter(|_| plannable).and_then(|tree| {
            let mut b = Binder::new(
                &self.engine,
                self.db_oid,
                &part.piece.text,
                piece.offset,
                part.kinds.clone(),
            );
            b.acl_role = Some(role);
            let plan = b.plan(&tree).ok()?;
            (b.params == part.kinds && same_but_literals(&plan, custom, &part.values, &part.kinds))
                .then(|| Arc::new(plan))
        });
        let proved = plan.is_some();
        let user = self.ctx.user.clone();
        let map = self.generic_map(keyed);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(
            part.key,
            GenericPlan {
                version,
                path,
                tz,
                user,
                kinds: part.kinds,
                plan,
            },
        );
        proved
    }

    /// Whether the session holds a usable generic plan for the shape or template `key`
    /// (tests).
    #[cfg(test)]
    pub(super) fn has_generic_plan(&self, key: &str) -> bool {
        [&self.generic_shapes, &self.generic]
            .iter()
            .any(|m| m.get(key).is_some_and(|g| g.plan.is_some()))
    }
}

#[cfg(test)]
#[path = "generic_tests.rs"]
mod tests;
