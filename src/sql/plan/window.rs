//! Binding of window function calls (`f(…) OVER (…)`, `WINDOW w AS (…)`).
//!
//! Each SELECT pushes a [`WinEnv`] frame holding its named windows and the calls bound
//! so far; calls are allowed only while the select list and ORDER BY are bound (not
//! in WHERE, GROUP BY, HAVING, aggregate arguments or another window call). A call is
//! bound against the *pre-window row* — the input row, or the group row when the query
//! aggregates (the ordinary aggregate binding does that) — and stands in the select
//! list as `Column(WIN_BASE + k)`. When the SELECT is done, [`Binder::windows_finish`]
//! splits the plan: an inner plan producing the pre-window rows (`W` columns) under a
//! [`Source::Window`], and the outer plan whose window columns are relocated to
//! `W + k` (see `sql/window.rs` for evaluation).
//!
//! Invariant: a placeholder column never survives binding — either the SELECT is
//! split and every placeholder relocated, or a window call was refused.

use super::{agg_func, fold, AggFunc, AggSpec, Binder, Coercion, Scope, SelectPlan, Source};
use crate::error::{sqlstate, Result};
use crate::sql::depth::Spanned;
use crate::sql::expr::Expr;
use crate::sql::window::{Frame, FrameBound, FrameUnits, WindowCall, WindowFunc, WindowPlan};
use crate::types::DataType;
use crate::{bail, err};
use sqlparser::ast;

/// Where window placeholders start (beyond any real row width).
const WIN_BASE: usize = 1 << 30;

/// Window state of the SELECTs being bound, innermost last.
#[derive(Default)]
pub(crate) struct WinEnv {
    frames: Vec<WinFrame>,
    /// Above zero while binding where window calls are not allowed (aggregate
    /// arguments, another window call).
    pub(crate) suspended: usize,
    nested: usize,
}

struct WinFrame {
    named: Vec<(String, ast::NamedWindowExpr)>,
    active: bool,
    /// The clause being bound while calls are not allowed (for the error).
    clause: &'static str,
    calls: Vec<WindowCall>,
}

impl Binder<'_> {
    /// Starts a SELECT: its named windows, window calls not yet allowed.
    pub(super) fn windows_begin(&mut self, named: &[ast::NamedWindowDefinition]) -> Result<()> {
        let mut out: Vec<(String, ast::NamedWindowExpr)> = Vec::new();
        for ast::NamedWindowDefinition(id, e) in named {
            let n = fold(id);
            if out.iter().any(|(m, _)| *m == n) {
                return Err(self.at(err!("42P20", "window \"{n}\" is already defined"), id.span));
            }
            out.push((n, e.clone()));
        }
        self.windows.frames.push(WinFrame {
            named: out,
            active: false,
            clause: "",
            calls: vec![],
        });
        Ok(())
    }

    /// Allows window calls in the current SELECT (its select list and ORDER BY).
    pub(super) fn windows_allow(&mut self) {
        if let Some(f) = self.windows.frames.last_mut() {
            f.active = true;
        }
    }

    /// Refuses window calls in the current SELECT while `clause` is bound.
    pub(super) fn windows_forbid(&mut self, clause: &'static str) {
        if let Some(f) = self.windows.frames.last_mut() {
            f.active = false;
            f.clause = clause;
        }
    }

    /// Ends a SELECT: splits the plan around its window calls, if any.
    pub(super) fn windows_finish(&mut self, plan: SelectPlan, scope: &Scope) -> Result<SelectPlan> {
        let Some(frame) = self.windows.frames.pop() else {
            return Err(crate::error::Error::internal("window frame lost"));
        };
        if frame.calls.is_empty() {
            return Ok(plan);
        }
        let mut plan = plan;
        let types: Vec<DataType> = match &plan.group {
            Some(g) => g
                .keys
                .iter()
                .map(|k| k.ty())
                .chain(g.aggs.iter().map(|a| a.ty))
                .collect(),
            None => scope.cols.iter().map(|c| c.ty).collect(),
        };
        let w = types.len();
        let inner = SelectPlan {
            source: std::mem::replace(&mut plan.source, Source::Single),
            filter: plan.filter.take(),
            group: plan.group.take(),
            exprs: types
                .iter()
                .enumerate()
                .map(|(i, t)| Expr::Column(i, *t))
                .collect(),
            visible: w,
            fields: types
                .iter()
                .enumerate()
                .map(|(i, t)| super::field(&format!("w{i}"), *t, -1, 0, 0))
                .collect(),
            order: vec![],
            distinct: false,
            limit: None,
            offset: None,
            lock: None,
        };
        for e in &mut plan.exprs {
            relocate(e, w);
        }
        plan.source = Source::Window(Box::new(WindowPlan {
            input: inner,
            calls: frame.calls,
        }));
        Ok(plan)
    }

    /// Binds `f(args) OVER w`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bind_window_call(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
        name: &str,
        args: &[ast::Expr],
        star: bool,
        distinct: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let span = f.name.span();
        let allowed =
            self.windows.suspended == 0 && self.windows.frames.last().is_some_and(|fr| fr.active);
        if !allowed {
            let msg = if self.windows.nested > 0 {
                "window function calls cannot be nested"
            } else if self.windows.suspended > 0 {
                "aggregate function calls cannot contain window function calls"
            } else {
                match self.windows.frames.last().map(|f| f.clause) {
                    Some("WHERE") => "window functions are not allowed in WHERE",
                    Some("GROUP BY") => "window functions are not allowed in GROUP BY",
                    Some("HAVING") => "window functions are not allowed in HAVING",
                    _ => "window functions are not allowed here",
                }
            };
            let code = if self.windows.nested > 0 || self.windows.suspended == 0 {
                "42P20"
            } else {
                sqlstate::GROUPING_ERROR
            };
            return Err(self.at(err!(code, "{msg}"), span));
        }
        let spec = self.resolve_window(over)?;
        self.windows.suspended += 1;
        self.windows.nested += 1;
        let r = self.bind_window_parts(f, &spec, name, args, star, distinct, scope);
        self.windows.suspended -= 1;
        self.windows.nested -= 1;
        let call = r?;
        let ty = call.ty;
        let frame = self
            .windows
            .frames
            .last_mut()
            .ok_or_else(|| crate::error::Error::internal("window frame lost"))?;
        frame.calls.push(call);
        Ok(Expr::Column(WIN_BASE + frame.calls.len() - 1, ty))
    }

    /// The effective window specification of an OVER clause.
    fn resolve_window(&self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
        let named = match over {
            ast::WindowType::NamedWindow(id) => return self.named_window(id, 0),
            ast::WindowType::WindowSpec(s) => s,
        };
        self.refine_window(named, 0)
    }

    fn named_window(&self, id: &ast::Ident, depth: usize) -> Result<ast::WindowSpec> {
        let n = fold(id);
        let frame = self.windows.frames.last();
        let found = frame.and_then(|f| f.named.iter().find(|(m, _)| *m == n));
        let Some((_, e)) = found else {
            return Err(self.at(
                err!(sqlstate::UNDEFINED_OBJECT, "window \"{n}\" does not exist"),
                id.span,
            ));
        };
        if depth > 32 {
            bail!("42P20", "window \"{n}\" is defined in terms of itself");
        }
        match e {
            ast::NamedWindowExpr::NamedWindow(other) => self.named_window(other, depth + 1),
            ast::NamedWindowExpr::WindowSpec(s) => self.refine_window(s, depth + 1),
        }
    }

    /// `OVER (w ORDER BY …)`: a named window refined by this one.
    fn refine_window(&self, s: &ast::WindowSpec, depth: usize) -> Result<ast::WindowSpec> {
        let Some(base_id) = &s.window_name else {
            return Ok(s.clone());
        };
        let base = self.named_window(base_id, depth + 1)?;
        let n = fold(base_id);
        if !s.partition_by.is_empty() {
            bail!(
                "42P20",
                "cannot override PARTITION BY clause of window \"{n}\""
            );
        }
        if !s.order_by.is_empty() && !base.order_by.is_empty() {
            bail!("42P20", "cannot override ORDER BY clause of window \"{n}\"");
        }
        if base.window_frame.is_some() {
            bail!(
                "42P20",
                "cannot copy window \"{n}\" because it has a frame clause"
            );
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by,
            order_by: if s.order_by.is_empty() {
                base.order_by
            } else {
                s.order_by.clone()
            },
            window_frame: s.window_frame.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn bind_window_parts(
        &mut self,
        f: &ast::Function,
        spec: &ast::WindowSpec,
        name: &str,
        args: &[ast::Expr],
        star: bool,
        distinct: bool,
        scope: &Scope,
    ) -> Result<WindowCall> {
        let span = f.name.span();
        let mut partition = Vec::new();
        for e in &spec.partition_by {
            partition.push(self.bind(e, scope)?);
        }
        let mut order = Vec::new();
        for o in &spec.order_by {
            let mut b = self.bind(&o.expr, scope)?;
            if b.ty() == DataType::Unknown {
                b = self.coerce(b, DataType::Text, -1, Coercion::Implicit, o.expr.span())?;
            }
            let desc = o.options.asc == Some(false);
            order.push((b, desc, o.options.nulls_first.unwrap_or(desc)));
        }
        let has_agg_order = matches!(&f.args, ast::FunctionArguments::List(l)
            if l.clauses.iter().any(|c| matches!(c, ast::FunctionArgumentClause::OrderBy(_))));
        let mut bound = Vec::new();
        for a in args {
            bound.push((self.bind(a, scope)?, a.span()));
        }
        let nargs = bound.len();
        let af = agg_func(name, star, nargs);
        if af.is_none() && f.filter.is_some() {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "FILTER is not implemented for non-aggregate window functions"
            );
        }
        if distinct {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "DISTINCT is not implemented for window functions"
            );
        }
        if has_agg_order {
            bail!(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "aggregate ORDER BY is not implemented for window functions"
            );
        }
        let mut args_it = bound.into_iter();
        let mut next_as = |b: &mut Self, want: Option<DataType>| -> Result<Option<Expr>> {
            let Some((e, sp)) = args_it.next() else {
                return Ok(None);
            };
            let t = match want {
                Some(t) => t,
                None if e.ty() == DataType::Unknown => DataType::Text,
                None => e.ty(),
            };
            Ok(Some(b.coerce(e, t, -1, Coercion::Implicit, sp)?))
        };
        let (func, ty) = match (name, nargs, af) {
            ("row_number", 0, _) => (WindowFunc::RowNumber, DataType::Int8),
            ("rank", 0, _) => (WindowFunc::Rank, DataType::Int8),
            ("dense_rank", 0, _) => (WindowFunc::DenseRank, DataType::Int8),
            ("percent_rank", 0, _) => (WindowFunc::PercentRank, DataType::Float8),
            ("cume_dist", 0, _) => (WindowFunc::CumeDist, DataType::Float8),
            ("ntile", 1, _) => {
                let n = next_as(self, Some(DataType::Int4))?
                    .unwrap_or(Expr::Const(crate::types::Value::Null, DataType::Int4));
                (WindowFunc::Ntile(n), DataType::Int4)
            }
            ("lag" | "lead", 1..=3, _) => {
                let x = next_as(self, None)?
                    .ok_or_else(|| crate::error::Error::internal("lag arity"))?;
                let t = x.ty();
                let off = next_as(self, Some(DataType::Int4))?;
                let def = next_as(self, Some(t))?;
                (WindowFunc::Lag(x, off, def, name == "lead"), t)
            }
            ("first_value" | "last_value", 1, _) => {
                let x =
                    next_as(self, None)?.ok_or_else(|| crate::error::Error::internal("arity"))?;
                let t = x.ty();
                if name == "first_value" {
                    (WindowFunc::FirstValue(x), t)
                } else {
                    (WindowFunc::LastValue(x), t)
                }
            }
            ("nth_value", 2, _) => {
                let x =
                    next_as(self, None)?.ok_or_else(|| crate::error::Error::internal("arity"))?;
                let t = x.ty();
                let n = next_as(self, Some(DataType::Int4))?
                    .ok_or_else(|| crate::error::Error::internal("arity"))?;
                (WindowFunc::NthValue(x, n), t)
            }
            (_, _, Some(af)) => {
                let want = match af {
                    AggFunc::StringAgg => Some(DataType::Text),
                    AggFunc::BoolAnd | AggFunc::BoolOr => Some(DataType::Bool),
                    _ => None,
                };
                let arg = next_as(self, want)?;
                let arg2 = next_as(self, want)?;
                let at = arg.as_ref().map(|a| a.ty()).unwrap_or(DataType::Int8);
                let ty = match (af, at) {
                    (AggFunc::CountStar | AggFunc::Count, _) => DataType::Int8,
                    (AggFunc::Sum, DataType::Int2 | DataType::Int4) => DataType::Int8,
                    (AggFunc::Sum, DataType::Int8 | DataType::Numeric) => DataType::Numeric,
                    (AggFunc::Sum, t @ (DataType::Float4 | DataType::Float8)) => t,
                    (AggFunc::Avg, DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric) => DataType::Numeric,
                    (AggFunc::Avg, DataType::Float4 | DataType::Float8) => DataType::Float8,
                    (AggFunc::Sum | AggFunc::Avg, t) => {
                        return Err(self.at(
                            err!(sqlstate::UNDEFINED_FUNCTION, "function {name}({}) does not exist", t.name())
                                .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                            span,
                        ))
                    }
                    (AggFunc::Min | AggFunc::Max, t) => t,
                    (AggFunc::StringAgg, _) => DataType::Text,
                    (AggFunc::BoolAnd | AggFunc::BoolOr, _) => DataType::Bool,
                    (AggFunc::Collect(_) | AggFunc::OrderedSet(_) | AggFunc::Stat(_), _) => {
                        return Err(self.at(
                            err!(
                                sqlstate::FEATURE_NOT_SUPPORTED,
                                "{name}() over a window is not supported yet"
                            ),
                            span,
                        ))
                    }
                };
                let filter = match &f.filter {
                    Some(w) => {
                        let b = self.bind(w, scope)?;
                        Some(self.coerce_bool(b, "FILTER", w.span())?)
                    }
                    None => None,
                };
                (
                    WindowFunc::Agg(AggSpec {
                        func: af,
                        arg,
                        arg2,
                        distinct: false,
                        filter,
                        order: vec![],
                        ty,
                    }),
                    ty,
                )
            }
            _ => {
                let known = [
                    "row_number",
                    "rank",
                    "dense_rank",
                    "percent_rank",
                    "cume_dist",
                    "ntile",
                    "lag",
                    "lead",
                    "first_value",
                    "last_value",
                    "nth_value",
                ];
                if known.contains(&name) {
                    return Err(self.at(
                        err!(sqlstate::UNDEFINED_FUNCTION, "function {name} with {nargs} arguments does not exist")
                            .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."),
                        span,
                    ));
                }
                return Err(self.at(
                    err!(
                        sqlstate::WRONG_OBJECT_TYPE,
                        "OVER specified, but {name} is not a window function nor an aggregate function"
                    ),
                    span,
                ));
            }
        };
        let frame = self.bind_frame(spec.window_frame.as_ref(), &order)?;
        Ok(WindowCall {
            func,
            partition,
            order,
            frame,
            ty,
        })
    }

    fn bind_frame(
        &mut self,
        wf: Option<&ast::WindowFrame>,
        order: &crate::sql::aggregate::SortKeys,
    ) -> Result<Frame> {
        let Some(wf) = wf else {
            return Ok(Frame::default());
        };
        let units = match wf.units {
            ast::WindowFrameUnits::Rows => FrameUnits::Rows,
            ast::WindowFrameUnits::Range => FrameUnits::Range,
            ast::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        let end_ast = wf
            .end_bound
            .clone()
            .unwrap_or(ast::WindowFrameBound::CurrentRow);
        let start = self.bind_bound(&wf.start_bound, units, order)?;
        let end = self.bind_bound(&end_ast, units, order)?;
        use FrameBound as B;
        let bad = match (&start, &end) {
            (B::UnboundedFollowing, _) => Some("frame start cannot be UNBOUNDED FOLLOWING"),
            (_, B::UnboundedPreceding) => Some("frame end cannot be UNBOUNDED PRECEDING"),
            (B::CurrentRow, B::Preceding(_)) => {
                Some("frame starting from current row cannot have preceding rows")
            }
            (B::Following(_), B::Preceding(_) | B::CurrentRow) => {
                Some("frame starting from following row cannot have preceding rows")
            }
            _ => None,
        };
        if let Some(m) = bad {
            bail!("42P20", "{m}");
        }
        if units == FrameUnits::Groups && order.is_empty() {
            bail!("42P20", "GROUPS mode requires an ORDER BY clause");
        }
        Ok(Frame { units, start, end })
    }

    fn bind_bound(
        &mut self,
        b: &ast::WindowFrameBound,
        units: FrameUnits,
        order: &crate::sql::aggregate::SortKeys,
    ) -> Result<FrameBound> {
        let (e, preceding) = match b {
            ast::WindowFrameBound::CurrentRow => return Ok(FrameBound::CurrentRow),
            ast::WindowFrameBound::Preceding(None) => return Ok(FrameBound::UnboundedPreceding),
            ast::WindowFrameBound::Following(None) => return Ok(FrameBound::UnboundedFollowing),
            ast::WindowFrameBound::Preceding(Some(e)) => (e, true),
            ast::WindowFrameBound::Following(Some(e)) => (e, false),
        };
        let bound = self.bind(e, &Scope::default())?;
        let want = if units == FrameUnits::Range {
            if order.len() != 1 {
                bail!(
                    "42P20",
                    "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"
                );
            }
            let t = order[0].0.ty();
            if !matches!(
                t,
                DataType::Int2
                    | DataType::Int4
                    | DataType::Int8
                    | DataType::Numeric
                    | DataType::Float4
                    | DataType::Float8
            ) {
                bail!(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "RANGE with offset PRECEDING/FOLLOWING is supported for numeric ORDER BY columns only for now"
                );
            }
            if bound.ty() == DataType::Unknown {
                t
            } else {
                bound.ty()
            }
        } else {
            DataType::Int8
        };
        let c = self.coerce(bound, want, -1, Coercion::Implicit, e.span())?;
        Ok(if preceding {
            FrameBound::Preceding(c)
        } else {
            FrameBound::Following(c)
        })
    }
}

/// Moves window placeholders `WIN_BASE + k` to `w + k`.
fn relocate(e: &mut Expr, w: usize) {
    match e {
        Expr::Column(i, _) => {
            if *i >= WIN_BASE {
                *i = *i - WIN_BASE + w;
            }
        }
        Expr::Const(..)
        | Expr::Param(..)
        | Expr::Subquery(..)
        | Expr::ArraySubquery(..)
        | Expr::Exists(..)
        | Expr::OuterColumn(..) => {}
        Expr::Correlated(inner) => relocate(inner, w),
        Expr::Binary(_, a, b, _)
        | Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::IsDistinct(a, b, _)
        | Expr::Like(a, b, _, _) => {
            relocate(a, w);
            relocate(b, w);
        }
        Expr::Neg(a, _)
        | Expr::Not(a)
        | Expr::IsNull(a, _)
        | Expr::IsBool(a, _, _)
        | Expr::Cast(a, _, _, _)
        | Expr::InSubquery(a, _, _) => relocate(a, w),
        Expr::Func(_, args, _) => args.iter_mut().for_each(|a| relocate(a, w)),
        Expr::Case(arms, els, _) => {
            for (c, r) in arms {
                relocate(c, w);
                relocate(r, w);
            }
            if let Some(x) = els {
                relocate(x, w);
            }
        }
        Expr::InList(x, list, _) => {
            relocate(x, w);
            list.iter_mut().for_each(|a| relocate(a, w));
        }
    }
}
