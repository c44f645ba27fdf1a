//! How deep a statement may nest: the one place that stands between a client's text
//! and every recursive pass over its tree, so that no text can overflow a backend
//! thread's stack (a stack overflow aborts the whole server, not one statement).
//!
//! Everything from the parser on — parsing, binding, planning, evaluation, printing,
//! cloning, and dropping the tree at the end — walks a statement recursively, frames
//! per level. sqlparser counts its recursion (parentheses, subqueries, function calls)
//! against a limit, but a chain of left-associative operators (`1 + 1 + … + 1`,
//! `a || b || …`, `x::int::int…`), of set operations (`SELECT 1 UNION ALL SELECT 1 …`)
//! or of array brackets (`int[][]…`) is built in a loop, as deep as the text is long.
//!
//! [`parse`] is the only way a client's text becomes a tree:
//! - a text long enough to nest deeply is parsed on a stack of its own
//!   ([`PARSE_STACK`]), which also holds the drop of a half-built tree on a syntax
//!   error;
//! - parentheses and brackets nested more than [`MAX_DEPTH`] deep are refused before
//!   the parse (past its limit sqlparser backtracks for time exponential in the excess);
//! - after the parse, [`bound`] rebalances a long chain of `OR`s or of `AND`s into a
//!   tree of logarithmic depth, its operands in the same order (both are associative,
//!   and evaluation still meets the operands left to right): PostgreSQL flattens such
//!   chains into one n-ary node and takes any length, and generated `WHERE a = 1 OR
//!   a = 2 OR …` lists are common;
//! - any other statement nested deeper than [`MAX_DEPTH`] levels (expressions and
//!   queries, counted together) is refused with PostgreSQL's `54001 stack depth limit
//!   exceeded`, the error PostgreSQL gives for the same shapes (it takes a thousand
//!   levels of each and refuses ten thousand). The refused tree is taken apart in
//!   pieces no deeper than the limit before it is dropped.
//!
//! A statement let through may still be [`MAX_DEPTH`] levels deep, and the passes that
//! spend many frames per level (binding, planning a query, evaluating, running a
//! query) run each level through [`with_stack`], which moves to a new stack segment
//! when the thread's runs low; sqlparser's spans, which walk a whole subtree, go
//! through this module's [`Spanned`].
//!
//! This module must never let a tree deeper than [`MAX_DEPTH`] through, and never
//! recurse deeper than that itself: its own walk (sqlparser's visitor) stops descending
//! where the limit is reached.

use crate::err;
use crate::error::{sqlstate, Error, Result};
use sqlparser::ast::{
    BinaryOperator, Expr, Query, SetExpr, Statement, Value, Values, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// Levels of expressions and queries a statement may nest (a subquery in an expression
/// is two: the expression and its query). PostgreSQL takes a thousand levels of most
/// shapes and refuses ten thousand; every pass over a statement that spends more than a
/// few frames per level runs through [`with_stack`], and the rest (cloning, comparing,
/// dropping a tree) fit this many levels in the backend thread's stack.
pub const MAX_DEPTH: usize = 1200;

/// sqlparser's own recursion limit: a parenthesis costs a level of it, a subquery two
/// or three. Text nesting parentheses deeper than [`MAX_DEPTH`] is refused before the
/// parse, so this is reached only by unparenthesized prefix chains (`NOT NOT …`). It
/// does not grow its stack: [`parse`] gives a long text a stack of its own.
pub const PARSER_RECURSION_LIMIT: usize = 3 * MAX_DEPTH;

/// A chain of `OR`s or `AND`s longer than this is rebalanced (shorter chains are left
/// exactly as parsed).
const REBALANCE_OVER: usize = 32;

/// PostgreSQL's error for a statement nested past what the server takes.
pub fn stack_depth_exceeded() -> Error {
    err!(sqlstate::STATEMENT_TOO_COMPLEX, "stack depth limit exceeded").with_hint(
        "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.",
    )
}

/// Text shorter than this cannot nest deep enough to need more than the backend's own
/// stack to parse (every level of the parser's recursion takes a token or more).
const SHALLOW_TEXT: usize = 256;

/// The stack a long text is parsed on: sqlparser's recursion, [`PARSER_RECURSION_LIMIT`]
/// levels at most, in a debug build's frames, with room to spare. Mapped for the parse
/// and unmapped after it; only the pages the parse touches are ever backed by memory.
const PARSE_STACK: usize = 64 << 20;

/// Parses `text` into statements and [`bound`]s them: the only way a client's text
/// becomes a tree. A long text is parsed on a stack of its own ([`PARSE_STACK`]):
/// sqlparser's recursion does not grow the stack it runs on, and its frames are large.
/// Dropping a half-built tree when the parse fails happens there too.
pub fn parse(
    dialect: &dyn sqlparser::dialect::Dialect,
    text: &str,
) -> std::result::Result<Vec<Statement>, ParseError> {
    let run = || -> std::result::Result<Vec<Statement>, ParseError> {
        let tokens = sqlparser::tokenizer::Tokenizer::new(dialect, text)
            .tokenize_with_location()
            .map_err(|e| ParseError::Syntax(e.into()))?;
        if nests_too_deep(&tokens) {
            return Err(ParseError::TooDeep(stack_depth_exceeded()));
        }
        // Too few tokens for a chain to rebalance (it takes two a link) or for a tree
        // deeper than the limit: nothing for [`bound`] to do.
        let few = tokens.len() <= 2 * REBALANCE_OVER + 1;
        let mut stmts = sqlparser::parser::Parser::new(dialect)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| match e {
                sqlparser::parser::ParserError::RecursionLimitExceeded => {
                    ParseError::TooDeep(stack_depth_exceeded())
                }
                e => ParseError::Syntax(e),
            })?;
        if !few {
            bound(&mut stmts).map_err(ParseError::TooDeep)?;
        }
        Ok(stmts)
    };
    if text.len() < SHALLOW_TEXT {
        run()
    } else {
        stacker::grow(PARSE_STACK, run)
    }
}

/// Parses text tusk wrote itself from a statement [`parse`] let through (a view's
/// query, a column default, a CHECK or index expression…) with `f`: the same recursion
/// limit, and a long text on a stack of its own, so that whatever was accepted once
/// reads back.
pub fn parse_stored<R>(
    text: &str,
    f: impl FnOnce(
        &mut sqlparser::parser::Parser<'_>,
    ) -> std::result::Result<R, sqlparser::parser::ParserError>,
) -> std::result::Result<R, sqlparser::parser::ParserError> {
    let run = || {
        let dialect = crate::sql::dialect::PG;
        let mut parser = sqlparser::parser::Parser::new(&dialect)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .try_with_sql(text)?;
        f(&mut parser)
    };
    if text.len() < SHALLOW_TEXT {
        run()
    } else {
        stacker::grow(PARSE_STACK, run)
    }
}

/// Whether the tokens nest deeper than the parser may be let go: parentheses and
/// brackets inside each other more than [`MAX_DEPTH`] deep (past its recursion limit,
/// sqlparser backtracks through alternatives that each fail at the limit again, which
/// takes time exponential in the excess), or a run of more than [`MAX_DEPTH`] `[]` (or
/// `[n]`) pairs (an array type nests one level per pair, in a loop the parser does not
/// count as recursion).
fn nests_too_deep(tokens: &[sqlparser::tokenizer::TokenWithSpan]) -> bool {
    use sqlparser::tokenizer::Token;
    let (mut depth, mut run) = (0usize, 0usize);
    let mut last: Option<&Token> = None;
    for t in tokens.iter().map(|t| &t.token) {
        match t {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::RBracket => {
                depth = depth.saturating_sub(1);
                let pair = matches!(last, Some(Token::LBracket))
                    || matches!(last, Some(Token::Number(..)));
                run = if pair { run + 1 } else { 0 };
            }
            _ => {}
        }
        if !matches!(t, Token::LBracket | Token::RBracket | Token::Number(..)) {
            run = 0;
        }
        if depth > MAX_DEPTH || run > MAX_DEPTH {
            return true;
        }
        last = Some(t);
    }
    false
}

/// Why [`parse`] refused a text.
#[derive(Debug)]
pub enum ParseError {
    /// sqlparser's syntax error.
    Syntax(sqlparser::parser::ParserError),
    /// Nested deeper than [`MAX_DEPTH`], or than sqlparser's recursion limit (54001).
    TooDeep(Error),
}

/// Stack a recursive pass keeps free below each of its levels ([`with_stack`]): room
/// for a walk over the whole rest of the statement from there (a search for an
/// aggregate, a clone, a span), [`MAX_DEPTH`] levels of a few frames each.
const RED_ZONE: usize = 4 << 20;

/// A stack segment [`with_stack`] adds when the red zone is reached (mapped, and backed
/// by memory only as far as it is used).
const STACK_SEGMENT: usize = 2 * RED_ZONE;

/// Runs one level of a recursive pass over a statement (binding an expression,
/// planning a query, evaluating an expression): on the thread's stack while more than
/// [`RED_ZONE`] of it is left, else on a new segment. A statement [`bound`] let through
/// is at most [`MAX_DEPTH`] levels deep, but every pass spends its own frames per
/// level, and a debug build's are large.
#[inline]
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, f)
}

/// Stack kept free for working out where an expression stands in the text.
const SPAN_RED_ZONE: usize = 2 << 20;

/// Where a node stands in the text, as sqlparser's `Spanned` says, with the stack that
/// takes: sqlparser works a span out from the whole subtree, recursively, so the span of
/// an operand deep in a long chain walks the rest of the chain. Import this trait in
/// place of sqlparser's.
pub trait Spanned {
    /// The node's span ([`sqlparser::ast::Spanned::span`]).
    fn span(&self) -> sqlparser::tokenizer::Span;
}

impl<T: sqlparser::ast::Spanned> Spanned for T {
    #[inline]
    fn span(&self) -> sqlparser::tokenizer::Span {
        stacker::maybe_grow(SPAN_RED_ZONE, 2 * SPAN_RED_ZONE, || {
            sqlparser::ast::Spanned::span(self)
        })
    }
}

/// Rebalances long `OR`/`AND` chains and refuses (54001) statements nested deeper than
/// [`MAX_DEPTH`]; a refused statement is left taken apart (empty placeholders where its
/// deep parts were), safe to drop.
pub fn bound(stmts: &mut [Statement]) -> Result<()> {
    let mut walk = Walk::default();
    for s in stmts.iter_mut() {
        let _ = s.visit(&mut walk);
    }
    if walk.cut.is_empty() {
        return Ok(());
    }
    // Take the cut-off parts apart, a piece no deeper than the limit at a time.
    while let Some(piece) = walk.cut.pop() {
        let mut inner = Walk::default();
        match piece {
            Piece::Expr(mut e) => {
                let _ = e.visit(&mut inner);
            }
            Piece::SetExpr(s) => match *s {
                SetExpr::SetOperation { left, right, .. } => {
                    walk.cut.push(Piece::SetExpr(left));
                    walk.cut.push(Piece::SetExpr(right));
                }
                mut other => {
                    let _ = other.visit(&mut inner);
                }
            },
        }
        walk.cut.append(&mut inner.cut);
    }
    Err(stack_depth_exceeded())
}

/// A part of a refused statement cut off where the limit was reached.
enum Piece {
    Expr(Box<Expr>),
    SetExpr(Box<SetExpr>),
}

/// The walk: the current depth, and the parts cut off below the limit.
#[derive(Default)]
struct Walk {
    depth: usize,
    cut: Vec<Piece>,
}

/// What stands in for a cut-off expression.
fn placeholder_expr() -> Expr {
    Expr::value(Value::Null)
}

/// What stands in for a cut-off query body.
fn placeholder_body() -> Box<SetExpr> {
    Box::new(SetExpr::Values(Values {
        explicit_row: false,
        rows: Vec::new(),
    }))
}

impl VisitorMut for Walk {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        rebalance(expr);
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let deep = std::mem::replace(expr, placeholder_expr());
            self.cut.push(Piece::Expr(Box::new(deep)));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &mut Expr) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        // A chain of set operations nests without an expression or a query between its
        // levels: measured here, before the walk goes down it.
        if self.depth + set_operation_depth(&query.body) > MAX_DEPTH {
            let deep = std::mem::replace(&mut query.body, placeholder_body());
            self.cut.push(Piece::SetExpr(deep));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

/// How many set operations deep a query body nests (0 for a plain SELECT), without
/// recursion.
fn set_operation_depth(body: &SetExpr) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(body, 0usize)];
    while let Some((s, d)) = todo.pop() {
        deepest = deepest.max(d);
        if let SetExpr::SetOperation { left, right, .. } = s {
            todo.push((left, d + 1));
            todo.push((right, d + 1));
        }
    }
    deepest
}

/// Rebalances `expr` when it is a chain of more than [`REBALANCE_OVER`] `OR`s (or
/// `AND`s) built left to right by the parser: the same operands in the same order,
/// under a tree of logarithmic depth.
fn rebalance(expr: &mut Expr) {
    let op = match expr {
        Expr::BinaryOp {
            op: op @ (BinaryOperator::Or | BinaryOperator::And),
            ..
        } => op.clone(),
        _ => return,
    };
    let mut length = 0;
    let mut node = &*expr;
    while let Expr::BinaryOp { left, op: o, .. } = node {
        if *o != op {
            break;
        }
        length += 1;
        node = left;
    }
    if length <= REBALANCE_OVER {
        return;
    }
    // The operands, right to left along the spine, then reversed.
    let mut operands = Vec::with_capacity(length + 1);
    let mut node = std::mem::replace(expr, placeholder_expr());
    loop {
        match node {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                operands.push(*right);
                node = *left;
            }
            other => {
                operands.push(other);
                break;
            }
        }
    }
    operands.reverse();
    *expr = balanced(operands, &op);
}

/// `operands` joined by `op` under a balanced tree (recursion as deep as its log).
fn balanced(mut operands: Vec<Expr>, op: &BinaryOperator) -> Expr {
    if operands.len() == 1 {
        return operands.pop().expect("one operand");
    }
    let right = operands.split_off(operands.len() / 2);
    Expr::BinaryOp {
        left: Box::new(balanced(operands, op)),
        op: op.clone(),
        right: Box::new(balanced(right, op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_unbounded(sql: &str) -> Vec<Statement> {
        sqlparser::parser::Parser::new(&crate::sql::dialect::PG)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
            .unwrap()
    }

    /// Runs `f` on a thread with a backend's stack.
    fn on_backend_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    fn expr_depth(e: &Expr) -> usize {
        match e {
            Expr::BinaryOp { left, right, .. } => 1 + expr_depth(left).max(expr_depth(right)),
            Expr::Nested(e) => 1 + expr_depth(e),
            _ => 1,
        }
    }

    fn where_clause(s: &Statement) -> &Expr {
        let Statement::Query(q) = s else { panic!() };
        let SetExpr::Select(sel) = &*q.body else {
            panic!()
        };
        sel.selection.as_ref().unwrap()
    }

    #[test]
    fn long_or_and_and_chains_are_rebalanced_and_print_the_same() {
        on_backend_stack(|| {
            for (op, n) in [("or", 40), ("and", 1000), ("or", 100_000)] {
                let terms: Vec<String> = (0..n).map(|i| format!("a = {i}")).collect();
                let sql = format!("select 1 from t where {}", terms.join(&format!(" {op} ")));
                let mut stmts = parse_unbounded(&sql);
                let printed = stmts[0].to_string();
                bound(&mut stmts).unwrap();
                let w = where_clause(&stmts[0]);
                assert!(
                    expr_depth(w) <= 2 + (n as f64).log2().ceil() as usize,
                    "{op} {n}"
                );
                assert_eq!(stmts[0].to_string(), printed, "{op} {n}");
            }
            // A short chain, and a mixed one, stay as parsed.
            let sql = "SELECT 1 FROM t WHERE a = 1 OR b = 2 AND c = 3 OR d = 4";
            let mut stmts = parse_unbounded(sql);
            let before = format!("{:?}", stmts[0]);
            bound(&mut stmts).unwrap();
            assert_eq!(format!("{:?}", stmts[0]), before);
        });
    }

    #[test]
    fn statements_deeper_than_the_limit_are_refused_and_taken_apart() {
        on_backend_stack(|| {
            type Shape = fn(usize) -> String;
            let shapes: [(&str, Shape); 6] = [
                ("array types", |n| {
                    format!("select null::int{}", "[]".repeat(n))
                }),
                ("plus", |n| format!("select {}", vec!["1"; n].join("+"))),
                ("parentheses", |n| {
                    format!("select {}1{}", "(".repeat(n), ")".repeat(n))
                }),
                ("casts", |n| format!("select 1{}", "::int".repeat(n))),
                ("union", |n| vec!["select 1"; n].join(" union all ")),
                ("subqueries", |n| {
                    format!("select {}1{}", "(select ".repeat(n), ")".repeat(n))
                }),
            ];
            for (name, shape) in shapes {
                let levels = if name == "subqueries" { 500 } else { 1000 };
                let ok = parse(&crate::sql::dialect::PG, &shape(levels));
                assert!(ok.is_ok(), "{name} {levels}: {ok:?}");
                drop(ok);
                // Refused (after the parse, or by the parser's own limit), and what is
                // left of the tree drops without overflowing the stack.
                for deep in [1300, 50_000] {
                    match parse(&crate::sql::dialect::PG, &shape(deep)) {
                        Err(ParseError::TooDeep(e)) => {
                            assert_eq!(e.code, sqlstate::STATEMENT_TOO_COMPLEX, "{name} {deep}")
                        }
                        other => panic!("{name} {deep}: {other:?}"),
                    }
                }
                // A syntax error after a long chain drops the half-built tree safely
                // (nesting that costs the parser recursion stops at its limit first).
                let broken = parse(&crate::sql::dialect::PG, &format!("{} +", shape(50_000)));
                match broken {
                    Err(ParseError::Syntax(_)) => {}
                    Err(ParseError::TooDeep(_))
                        if matches!(name, "parentheses" | "subqueries" | "array types") => {}
                    other => panic!("{name}: {other:?}"),
                }
            }
        });
    }
}
