//! CHECK constraints, index expressions and partial index predicates printed the way
//! PostgreSQL's deparser prints them (`pg_get_constraintdef`, `pg_get_indexdef`, and so
//! psql's `\d TABLE`): from the bound expression,
//! with the implicit casts PostgreSQL's parser would have inserted written out
//! (`amount > 0` over a `numeric` column is `amount > 0::numeric`).
//!
//! # What it owns
//! The text of a bound CHECK expression in PostgreSQL's two styles: pretty (what
//! `pg_get_constraintdef(oid, true)` returns: parentheses only where precedence needs
//! them, `0::numeric`) and plain (every operator parenthesised, `(0)::numeric`).
//!
//! # What it must never do
//! Guess. It prints only the shapes whose PostgreSQL form is certain — columns of
//! integer, `numeric`, `double precision`, `text` and `boolean` type, non-negative
//! constants of those types, comparisons and arithmetic between operands of one type
//! (or of the integer family, which PostgreSQL's cross-type operators serve without
//! a cast), a constant the parser casts to the other operand's `numeric` or `double
//! precision`, `varchar` compared as `text`, AND, OR, NOT and IS [NOT] NULL (of a
//! column of any type), the string functions `lower`, `upper`, `md5`, `reverse` (their
//! argument as `text`) and `abs` — and answers `None` for anything else, so
//! the caller keeps the constraint's text as it was written.
//!
//! One call: `CHECK (amount > 0)` on `amount numeric(10,2)`:
//! 1. `sql::ddl::bind_check` binds the stored text: a comparison of column 2 with the
//!    constant 0, which the binder made a `numeric` constant;
//! 2. [`check_text`] sees an integral `numeric` constant — an integer literal
//!    PostgreSQL would have cast — and prints `amount > 0::numeric`.

use super::expr::{BinOp, Expr, Func};
use crate::catalog::pg_catalog::quote_ident;
use crate::types::{self, DataType, Value};

/// The expression in PostgreSQL's deparsed form over columns named `names`
/// (`pretty`: `pg_get_constraintdef(oid, true)`'s style), or `None` when it has a
/// shape this module does not print (see the module comment).
pub fn check_text(e: &Expr, names: &[String], pretty: bool) -> Option<String> {
    node(e, names, pretty, Parent::Top)
}

/// Where a node sits, for PostgreSQL's pretty-mode parenthesisation.
#[derive(Clone, Copy)]
enum Parent {
    Top,
    /// An operator's operand: the operator and whether this is its left operand.
    Op(BinOp, bool),
    And,
    Or,
    Not,
    NullTest,
}

fn is_integer(t: DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

fn printable_type(t: DataType) -> bool {
    is_integer(t)
        || matches!(
            t,
            DataType::Numeric | DataType::Float8 | DataType::Text | DataType::Bool
        )
}

/// `+ -` bind looser than `* / %`; other operators are neither.
fn priority(op: BinOp) -> Option<u8> {
    match op {
        BinOp::Add | BinOp::Sub => Some(1),
        BinOp::Mul | BinOp::Div | BinOp::Mod => Some(2),
        _ => None,
    }
}

/// Whether pretty mode prints an operator expression `op` under `parent` without
/// parentheses (PostgreSQL's `isSimpleNode` for the cases printed here).
fn op_is_simple(op: BinOp, parent: Parent) -> bool {
    match parent {
        Parent::Top | Parent::And | Parent::Or | Parent::Not => true,
        Parent::NullTest => false,
        Parent::Op(p, left) => match (priority(op), priority(p)) {
            (Some(2), Some(1)) => true,
            (Some(1), Some(2)) => false,
            (Some(_), Some(_)) => left,
            _ => false,
        },
    }
}

fn constant(v: &Value, ty: DataType, pretty: bool) -> Option<String> {
    let s = types::format_text(v, &Default::default());
    if s.starts_with('-') {
        return None;
    }
    let cast = |s: &str, t: &str| {
        if pretty {
            format!("{s}::{t}")
        } else {
            format!("({s})::{t}")
        }
    };
    Some(match ty {
        DataType::Int2 | DataType::Int4 => s,
        DataType::Int8 if v.as_i64().is_some_and(|n| n <= i64::from(i32::MAX)) => s,
        DataType::Int8 => format!("'{s}'::bigint"),
        // A `numeric` literal prints as it is; an integral value was an integer literal.
        DataType::Numeric if s.contains(['.', 'e', 'E']) => s,
        DataType::Numeric if s.chars().all(|c| c.is_ascii_digit()) => cast(&s, "numeric"),
        DataType::Float8 if s.chars().all(|c| c.is_ascii_digit() || c == '.') => {
            cast(&s, "double precision")
        }
        DataType::Text => format!("'{}'::text", s.replace('\'', "''")),
        DataType::Bool => (if matches!(v, Value::Bool(true)) {
            "true"
        } else {
            "false"
        })
        .into(),
        _ => return None,
    })
}

/// A constant operand PostgreSQL's parser casts to the other operand's type: an
/// integer to `numeric`, an integer or `numeric` to `double precision` (`None` for
/// anything else).
fn promoted(e: &Expr, target: DataType, pretty: bool) -> Option<String> {
    let Expr::Const(v, t) = e else { return None };
    let type_name = match (*t, target) {
        (t, DataType::Numeric) if is_integer(t) => "numeric",
        (t, DataType::Float8) if is_integer(t) || t == DataType::Numeric => "double precision",
        _ => return None,
    };
    let s = types::format_text(v, &Default::default());
    if v.is_null() || s.starts_with('-') {
        return None;
    }
    Some(if pretty {
        format!("{s}::{type_name}")
    } else {
        format!("({s})::{type_name}")
    })
}

/// A `varchar` or `text` column or string constant as an operand of a `text`
/// operator (`g::text`, `'y'::text`).
fn as_text(e: &Expr, names: &[String], pretty: bool) -> Option<String> {
    match e {
        Expr::Column(i, DataType::Text) => Some(quote_ident(names.get(*i)?)),
        // A cast of a column to text prints the same whether the binder implied it (a
        // function's text argument) or it was written (`(email)::text`).
        Expr::Cast(x, DataType::Text, -1, _) if matches!(x.as_ref(), Expr::Column(..)) => {
            as_text(x, names, pretty)
        }
        Expr::Column(i, DataType::Varchar) => {
            let n = quote_ident(names.get(*i)?);
            Some(if pretty {
                format!("{n}::text")
            } else {
                format!("({n})::text")
            })
        }
        Expr::Const(v, DataType::Text | DataType::Varchar | DataType::Unknown) if !v.is_null() => {
            let s = types::format_text(v, &Default::default());
            Some(format!("'{}'::text", s.replace('\'', "''")))
        }
        _ => None,
    }
}

fn node(e: &Expr, names: &[String], pretty: bool, parent: Parent) -> Option<String> {
    let wrap = |s: String, simple: bool| {
        if pretty && simple {
            s
        } else {
            format!("({s})")
        }
    };
    Some(match e {
        Expr::Column(i, t) if printable_type(*t) || matches!(parent, Parent::NullTest) => {
            quote_ident(names.get(*i)?)
        }
        Expr::Func(f, args, _) => {
            let (name, text_args) = match f {
                Func::Lower => ("lower", true),
                Func::Upper => ("upper", true),
                Func::Md5 => ("md5", true),
                Func::Reverse => ("reverse", true),
                Func::Abs => ("abs", false),
                _ => return None,
            };
            let parts: Option<Vec<String>> = args
                .iter()
                .map(|a| {
                    if text_args {
                        as_text(a, names, pretty)
                    } else {
                        node(a, names, pretty, Parent::Top)
                    }
                })
                .collect();
            format!("{name}({})", parts?.join(", "))
        }
        Expr::Const(v, t) if !v.is_null() => constant(v, *t, pretty)?,
        Expr::Binary(op, l, r, _) => {
            let (lt, rt) = (l.ty(), r.ty());
            if let (Some(ls), Some(rs)) = (as_text(l, names, pretty), as_text(r, names, pretty)) {
                if lt == DataType::Varchar || rt == DataType::Varchar {
                    // varchar has no operators of its own: PostgreSQL casts to text.
                    return Some(wrap(
                        format!("{ls} {} {rs}", op.symbol()),
                        op_is_simple(*op, parent),
                    ));
                }
            }
            if !printable_type(lt) || !printable_type(rt) {
                return None;
            }
            let left = |_: ()| node(l, names, pretty, Parent::Op(*op, true));
            let right = |_: ()| node(r, names, pretty, Parent::Op(*op, false));
            let (ls, rs) = if lt == rt || (is_integer(lt) && is_integer(rt)) {
                (left(())?, right(())?)
            } else if let Some(rs) = promoted(r, lt, pretty) {
                (left(())?, rs)
            } else {
                (promoted(l, rt, pretty)?, right(())?)
            };
            wrap(
                format!("{ls} {} {rs}", op.symbol()),
                op_is_simple(*op, parent),
            )
        }
        Expr::And(..) | Expr::Or(..) => {
            let and = matches!(e, Expr::And(..));
            let mut parts = Vec::new();
            flatten(e, and, &mut parts);
            let here = if and { Parent::And } else { Parent::Or };
            let words: Option<Vec<String>> =
                parts.iter().map(|p| node(p, names, pretty, here)).collect();
            let s = words?.join(if and { " AND " } else { " OR " });
            let simple = match parent {
                Parent::Top => true,
                Parent::And | Parent::Not => and,
                Parent::Or => !and,
                _ => false,
            };
            wrap(s, simple)
        }
        Expr::Not(x) => {
            let s = format!("NOT {}", node(x, names, pretty, Parent::Not)?);
            wrap(
                s,
                matches!(parent, Parent::Top | Parent::And | Parent::Or | Parent::Not),
            )
        }
        Expr::IsNull(x, not) => {
            let s = format!(
                "{} IS {}NULL",
                node(x, names, pretty, Parent::NullTest)?,
                if *not { "NOT " } else { "" }
            );
            wrap(
                s,
                matches!(parent, Parent::Top | Parent::And | Parent::Or | Parent::Not),
            )
        }
        _ => return None,
    })
}

/// The operands of a chain of ANDs (`and`) or ORs, left to right.
fn flatten<'a>(e: &'a Expr, and: bool, out: &mut Vec<&'a Expr>) {
    match (e, and) {
        (Expr::And(l, r), true) | (Expr::Or(l, r), false) => {
            flatten(l, and, out);
            flatten(r, and, out);
        }
        _ => out.push(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Value;

    fn col(i: usize, t: DataType) -> Box<Expr> {
        Box::new(Expr::Column(i, t))
    }

    #[test]
    fn casts_and_parentheses() {
        let names = vec!["amount".to_string(), "n".to_string()];
        let gt = Expr::Binary(
            BinOp::Gt,
            col(0, DataType::Numeric),
            Box::new(Expr::Const(Value::Int4(0), DataType::Int4)),
            DataType::Bool,
        );
        assert_eq!(
            check_text(&gt, &names, true).as_deref(),
            Some("amount > 0::numeric")
        );
        assert_eq!(
            check_text(&gt, &names, false).as_deref(),
            Some("(amount > (0)::numeric)")
        );
        let sum = Expr::Binary(
            BinOp::Add,
            col(1, DataType::Int4),
            Box::new(Expr::Const(Value::Int4(1), DataType::Int4)),
            DataType::Int4,
        );
        let cmp = Expr::Binary(
            BinOp::Lt,
            Box::new(sum),
            col(1, DataType::Int4),
            DataType::Bool,
        );
        let both = Expr::Or(
            Box::new(cmp),
            Box::new(Expr::IsNull(col(1, DataType::Int4), false)),
        );
        assert_eq!(
            check_text(&both, &names, true).as_deref(),
            Some("(n + 1) < n OR n IS NULL")
        );
    }

    #[test]
    fn unknown_shapes_are_not_guessed() {
        let names = vec!["d".to_string()];
        let neg = Expr::Binary(
            BinOp::Gt,
            col(0, DataType::Int4),
            Box::new(Expr::Const(Value::Int4(-1), DataType::Int4)),
            DataType::Bool,
        );
        assert_eq!(check_text(&neg, &names, true), None);
        let date = Expr::Binary(
            BinOp::Gt,
            col(0, DataType::Date),
            col(0, DataType::Date),
            DataType::Bool,
        );
        assert_eq!(check_text(&date, &names, true), None);
        // A null test prints for a column of any type.
        let null = Expr::IsNull(col(0, DataType::Date), true);
        assert_eq!(
            check_text(&null, &names, true).as_deref(),
            Some("d IS NOT NULL")
        );
    }
}
