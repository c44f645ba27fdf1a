//! pg_hba.conf and pg_ident.conf (being written).
