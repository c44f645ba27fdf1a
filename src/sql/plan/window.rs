//! Binding of window function calls (`f(…) OVER (…)`) — placeholder until the window
//! executor lands.

use super::{Binder, Scope};
use crate::bail;
use crate::error::{sqlstate, Result};
use crate::sql::expr::Expr;
use sqlparser::ast;

impl Binder<'_> {
    /// Binds `f(args) OVER w`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bind_window_call(
        &mut self,
        _f: &ast::Function,
        _over: &ast::WindowType,
        _name: &str,
        _args: &[ast::Expr],
        _star: bool,
        _distinct: bool,
        _scope: &Scope,
    ) -> Result<Expr> {
        bail!(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "window functions are not supported yet"
        )
    }
}
