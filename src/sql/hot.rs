//! The settings a session reads on every statement, remembered between changes.
//!
//! A statement of the simple or extended protocol reads about twenty settings by name
//! — the time zone to enter, the search path and role to resolve names with, the
//! timeouts, what a commit waits for, the application name for `pg_stat_activity`,
//! what the server log wants of it, the output options of every value it sends. Each read through
//! [`SessionSettings`] is a lock, a scan and a copy of the value. [`Hot`] holds them
//! as of one [`SessionSettings::generation`], and `Session::hot` reads them all again
//! only when that generation moved (a `SET`, `RESET`, a reload, a transaction end
//! that dropped a `SET LOCAL` or rolled a `SET` back).
//!
//! # What it must never do
//! Hold a transaction characteristic (`transaction_isolation`,
//! `transaction_read_only`): every transaction sets those without moving the
//! generation, so they are always read from the settings themselves.

use super::SessionSettings;
use crate::types::{self, FormatOptions};

/// The per-statement settings of a session at one settings generation.
pub(super) struct Hot {
    /// The [`SessionSettings::generation`] these values were read at.
    pub generation: u64,
    /// `TimeZone`, as shown.
    pub time_zone: String,
    /// The output options (`TimeZone` resolved, `bytea_output`).
    pub format: FormatOptions,
    /// `search_path`, as shown.
    pub search_path: String,
    /// `session_authorization` (empty when the server never set it).
    pub session_authorization: String,
    /// `role` (`none` or empty when no SET ROLE is in effect).
    pub role: String,
    /// `application_name`.
    pub application_name: String,
    /// `synchronous_commit`, as shown.
    pub synchronous_commit: String,
    /// `commit_delay` in microseconds.
    pub commit_delay: i64,
    /// `commit_siblings`.
    pub commit_siblings: i64,
    /// `statement_timeout` in milliseconds.
    pub statement_timeout: i64,
    /// `lock_timeout` in milliseconds.
    pub lock_timeout: i64,
    /// `log_statement`, as shown.
    pub log_statement: String,
    /// `log_min_duration_statement` in milliseconds (-1: off).
    pub log_min_duration: i64,
}

impl Hot {
    /// A value no generation has: the first use reads the settings.
    pub fn unread() -> Hot {
        Hot {
            generation: u64::MAX,
            time_zone: String::new(),
            format: FormatOptions::default(),
            search_path: String::new(),
            session_authorization: String::new(),
            role: String::new(),
            application_name: String::new(),
            synchronous_commit: String::new(),
            commit_delay: 0,
            commit_siblings: 0,
            statement_timeout: 0,
            lock_timeout: 0,
            log_statement: String::new(),
            log_min_duration: -1,
        }
    }

    /// Reads every value from `s` at its current generation.
    pub fn read(s: &SessionSettings) -> Hot {
        let time_zone = s.get_str("TimeZone");
        let format = FormatOptions {
            zone: types::timezone::setting_zone(&time_zone),
            bytea_escape: s.get_str("bytea_output").eq_ignore_ascii_case("escape"),
        };
        Hot {
            generation: s.generation(),
            time_zone,
            format,
            search_path: s.get_str("search_path"),
            session_authorization: s.get_str("session_authorization"),
            role: s.get_str("role"),
            application_name: s.get_str("application_name"),
            synchronous_commit: s.get_str("synchronous_commit"),
            commit_delay: s.get_int("commit_delay"),
            commit_siblings: s.get_int("commit_siblings"),
            statement_timeout: s.get_int("statement_timeout"),
            lock_timeout: s.get_int("lock_timeout"),
            log_statement: s.get_str("log_statement"),
            log_min_duration: s.get_int("log_min_duration_statement"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, q, session};

    /// Every kind of change reaches the remembered values: SET, SET LOCAL until the
    /// transaction ends, a SET rolled back, RESET, SET ROLE.
    #[test]
    fn remembered_settings_follow_every_change() {
        let d = db("hot-settings");
        let mut s = session(&d.engine, "postgres");
        let ts = "select '2020-01-01 00:00+00'::timestamptz as t";
        q(&mut s, "set timezone = 'UTC'");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 00:00:00+00\nSELECT 1");
        q(&mut s, "set timezone = 'Asia/Tokyo'");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 09:00:00+09\nSELECT 1");
        q(&mut s, "reset timezone");
        q(&mut s, "set timezone = 'UTC'");
        q(&mut s, "begin");
        q(&mut s, "set local timezone = 'Asia/Tokyo'");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 09:00:00+09\nSELECT 1");
        q(&mut s, "commit");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 00:00:00+00\nSELECT 1");
        q(&mut s, "begin");
        q(&mut s, "set timezone = 'Asia/Tokyo'");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 09:00:00+09\nSELECT 1");
        q(&mut s, "rollback");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 00:00:00+00\nSELECT 1");
        q(&mut s, "begin");
        q(&mut s, "savepoint a");
        q(&mut s, "set timezone = 'Asia/Tokyo'");
        q(&mut s, "rollback to a");
        assert_eq!(q(&mut s, ts), "t\n2020-01-01 00:00:00+00\nSELECT 1");
        q(&mut s, "commit");

        q(&mut s, "set bytea_output = 'escape'");
        assert_eq!(q(&mut s, "select 'a'::bytea as b"), "b\na\nSELECT 1");
        q(&mut s, "reset bytea_output");
        assert_eq!(q(&mut s, "select 'a'::bytea as b"), "b\n\\x61\nSELECT 1");

        q(&mut s, "create role carol");
        q(&mut s, "set role carol");
        assert_eq!(
            q(&mut s, "select current_user"),
            "current_user\ncarol\nSELECT 1"
        );
        q(&mut s, "begin");
        q(&mut s, "reset role");
        assert_eq!(
            q(&mut s, "select current_user"),
            "current_user\npostgres\nSELECT 1"
        );
        q(&mut s, "rollback");
        assert_eq!(
            q(&mut s, "select current_user"),
            "current_user\ncarol\nSELECT 1"
        );
        q(&mut s, "reset role");

        q(&mut s, "create table t (a int)");
        q(&mut s, "set default_transaction_read_only = on");
        assert_eq!(
            q(&mut s, "insert into t values (1)"),
            "ERROR 25006: cannot execute INSERT in a read-only transaction"
        );
        q(&mut s, "set default_transaction_read_only = off");
        assert_eq!(q(&mut s, "insert into t values (1)"), "INSERT 0 1");
        q(
            &mut s,
            "set default_transaction_isolation = 'repeatable read'",
        );
        assert_eq!(
            q(&mut s, "show transaction_isolation"),
            "transaction_isolation\nrepeatable read\nSHOW"
        );
        q(
            &mut s,
            "set default_transaction_isolation = 'read committed'",
        );
        assert_eq!(
            q(&mut s, "show transaction_isolation"),
            "transaction_isolation\nread committed\nSHOW"
        );
        // The transaction characteristics, which every transaction sets from the
        // defaults (remembered across transactions while they stay the same).
        let iso = "show transaction_isolation";
        q(&mut s, "begin isolation level serializable");
        assert_eq!(q(&mut s, iso), "transaction_isolation\nserializable\nSHOW");
        q(&mut s, "commit");
        assert_eq!(
            q(&mut s, iso),
            "transaction_isolation\nread committed\nSHOW"
        );
        q(&mut s, "begin");
        q(&mut s, "set transaction isolation level repeatable read");
        assert_eq!(
            q(&mut s, iso),
            "transaction_isolation\nrepeatable read\nSHOW"
        );
        q(&mut s, "rollback");
        assert_eq!(
            q(&mut s, iso),
            "transaction_isolation\nread committed\nSHOW"
        );
        q(&mut s, "begin");
        q(&mut s, "set default_transaction_isolation = 'serializable'");
        assert_eq!(
            q(&mut s, iso),
            "transaction_isolation\nread committed\nSHOW"
        );
        q(&mut s, "commit");
        assert_eq!(q(&mut s, iso), "transaction_isolation\nserializable\nSHOW");
        q(&mut s, "reset default_transaction_isolation");
        assert_eq!(
            q(&mut s, iso),
            "transaction_isolation\nread committed\nSHOW"
        );
        assert_eq!(
            q(
                &mut s,
                "select setting, source from pg_settings where name = 'transaction_read_only'"
            ),
            "setting|source\noff|override\nSELECT 1"
        );
        q(&mut s, "begin read only");
        assert_eq!(
            q(&mut s, "insert into t values (2)"),
            "ERROR 25006: cannot execute INSERT in a read-only transaction"
        );
        q(&mut s, "rollback");
        assert_eq!(q(&mut s, "insert into t values (2)"), "INSERT 0 1");

        assert_eq!((&*s.log_statement(), s.log_min_duration_ms()), ("none", -1));
        q(&mut s, "set log_statement = 'mod'");
        q(&mut s, "set log_min_duration_statement = '2s'");
        assert_eq!(
            (&*s.log_statement(), s.log_min_duration_ms()),
            ("mod", 2000)
        );
        q(&mut s, "reset all");
        assert_eq!((&*s.log_statement(), s.log_min_duration_ms()), ("none", -1));

        q(&mut s, "set statement_timeout = '1ms'");
        assert_eq!(
            q(&mut s, "select pg_sleep(0.2)"),
            "ERROR 57014: canceling statement due to statement timeout"
        );
        q(&mut s, "reset statement_timeout");
        assert_eq!(q(&mut s, "select pg_sleep(0.01) as p"), "p\n\nSELECT 1");
    }

    #[test]
    fn a_failed_block_drops_its_local_values_at_rollback() {
        let d = db("hot-failed-block");
        let mut s = session(&d.engine, "postgres");
        // An error releases the block's engine transaction at once; its SET LOCAL
        // values and characteristics still end with the ROLLBACK (as PostgreSQL 15).
        q(&mut s, "begin");
        q(&mut s, "set local work_mem = '1MB'");
        assert!(q(&mut s, "select 1/0").starts_with("ERROR 22012"));
        q(&mut s, "rollback");
        assert_eq!(q(&mut s, "show work_mem"), "work_mem\n4MB\nSHOW");
        q(&mut s, "begin read only");
        assert!(q(&mut s, "select 1/0").starts_with("ERROR 22012"));
        q(&mut s, "rollback");
        assert_eq!(
            q(&mut s, "show transaction_read_only"),
            "transaction_read_only\noff\nSHOW"
        );
        q(&mut s, "create table t (a int)");
        assert_eq!(q(&mut s, "insert into t values (2)"), "INSERT 0 1");
    }
}
