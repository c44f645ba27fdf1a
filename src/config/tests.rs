//! Tests of the settings registry, ServerConfig loading and reloading, SessionSettings,
//! ALTER SYSTEM and recovery.conf.

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "tusk-config-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }

    fn conf(&self) -> String {
        self.0.join("postgresql.conf").display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn session() -> SessionSettings {
    SessionSettings::new(Arc::new(ServerConfig::defaults(Path::new("/tmp/tusk-x"))))
}

#[test]
fn registry_has_the_required_settings() {
    let required = "application_name client_encoding DateStyle IntervalStyle TimeZone \
        timezone_abbreviations extra_float_digits search_path default_transaction_isolation \
        default_transaction_read_only transaction_isolation transaction_read_only \
        statement_timeout lock_timeout idle_in_transaction_session_timeout client_min_messages \
        log_min_messages standard_conforming_strings integer_datetimes server_version \
        server_version_num server_encoding lc_collate lc_ctype lc_messages lc_monetary \
        lc_numeric lc_time is_superuser session_authorization in_hot_standby listen_addresses \
        port max_connections superuser_reserved_connections unix_socket_directories \
        unix_socket_permissions unix_socket_group ssl ssl_cert_file ssl_key_file ssl_ca_file \
        password_encryption authentication_timeout shared_buffers work_mem maintenance_work_mem \
        effective_cache_size wal_level fsync synchronous_commit wal_sync_method \
        full_page_writes wal_buffers wal_writer_delay commit_delay commit_siblings \
        checkpoint_timeout checkpoint_completion_target max_wal_size min_wal_size \
        wal_segment_size block_size wal_block_size wal_keep_size wal_keep_segments \
        max_wal_senders max_replication_slots max_slot_wal_keep_size wal_sender_timeout \
        wal_receiver_timeout wal_receiver_status_interval hot_standby hot_standby_feedback \
        max_standby_streaming_delay max_standby_archive_delay wal_retrieve_retry_interval \
        recovery_min_apply_delay primary_conninfo primary_slot_name restore_command \
        archive_cleanup_command recovery_end_command recovery_target_timeline recovery_target \
        recovery_target_lsn recovery_target_time recovery_target_xid recovery_target_name \
        recovery_target_inclusive recovery_target_action promote_trigger_file archive_mode \
        archive_command archive_timeout synchronous_standby_names data_directory config_file \
        hba_file ident_file log_line_prefix log_min_duration_statement log_connections \
        log_disconnections log_replication_commands log_checkpoints log_statement log_timezone \
        log_destination logging_collector cluster_name update_process_title \
        max_locks_per_transaction max_prepared_transactions max_worker_processes \
        track_commit_timestamp wal_log_hints data_checksums default_text_search_config \
        bytea_output xmloption row_security jit geqo random_page_cost seq_page_cost \
        enable_seqscan enable_indexscan enable_hashjoin enable_mergejoin enable_nestloop \
        dynamic_shared_memory_type max_parallel_workers_per_gather autovacuum \
        metrics_listen_address";
    for n in required.split_whitespace() {
        assert!(lookup(n).is_some(), "{n} missing");
    }
    // Sorted case-insensitively, no duplicates, and every boot value parses.
    let names: Vec<String> = registry().iter().map(|d| d.name.to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    for d in registry() {
        let _ = boot_value(d);
    }
    assert_eq!(lookup("datestyle").unwrap().name, "DateStyle");
    // Any spelling finds the same entry: the registry's own, lower case, upper case.
    for n in ["TimeZone", "timezone", "TIMEZONE", "timeZone"] {
        assert_eq!(lookup(n).unwrap().name, "TimeZone", "{n}");
    }
    assert_eq!(lookup("SORT_MEM").unwrap().name, "work_mem");
    assert!(lookup("Time_Zone").is_none());
    assert_eq!(lookup("sort_mem").unwrap().name, "work_mem");
    let wal = lookup("wal_segment_size").unwrap();
    assert_eq!(wal.context, GucContext::Internal);
    assert_eq!(lookup("shared_buffers").unwrap().unit, Unit::Blocks);
}

#[test]
fn defaults_show_like_postgres() {
    let s = session();
    for (n, v) in [
        (
            "server_version",
            concat!("15.0 (tusk ", env!("CARGO_PKG_VERSION"), ")"),
        ),
        ("server_version_num", "150000"),
        ("shared_buffers", "128MB"),
        ("work_mem", "4MB"),
        ("maintenance_work_mem", "64MB"),
        ("max_wal_size", "1GB"),
        ("min_wal_size", "80MB"),
        ("checkpoint_timeout", "5min"),
        ("wal_sender_timeout", "1min"),
        ("wal_segment_size", "16MB"),
        ("wal_buffers", "4MB"),
        ("wal_keep_size", "0"),
        ("max_slot_wal_keep_size", "1GB"),
        ("unix_socket_permissions", "0777"),
        ("wal_level", "replica"),
        ("synchronous_commit", "on"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("client_encoding", "UTF8"),
        ("server_encoding", "UTF8"),
        ("password_encryption", "scram-sha-256"),
        ("port", "5432"),
        ("max_connections", "100"),
        ("checkpoint_completion_target", "0.9"),
        ("random_page_cost", "4"),
        ("search_path", "\"$user\", public"),
        ("data_directory", "/tmp/tusk-x"),
        ("hba_file", "/tmp/tusk-x/pg_hba.conf"),
        ("metrics_listen_address", ""),
        ("block_size", "8192"),
    ] {
        assert_eq!(s.show(n).unwrap(), v, "{n}");
    }
    assert_eq!(s.get_int("shared_buffers"), 16384);
    assert_eq!(s.get_int("work_mem"), 4096);
    assert_eq!(s.get_int("statement_timeout"), 0);
    assert_eq!(s.get_int("wal_segment_size"), 16 * 1024 * 1024);
    assert_eq!(s.get_int("checkpoint_timeout"), 300);
    assert!(s.get_bool("fsync"));
    assert_eq!(s.get_real("checkpoint_completion_target"), 0.9);
    assert_eq!(s.get_str("wal_level"), "replica");
    let e = s.show("foo").unwrap_err();
    assert_eq!(e.code, "42704");
    assert_eq!(e.message, "unrecognized configuration parameter \"foo\"");
}

#[test]
fn load_with_includes_auto_conf_and_overrides() {
    let d = TempDir::new("load");
    std::fs::create_dir(d.0.join("conf.d")).unwrap();
    d.write(
        "postgresql.conf",
        "port = 5433\nwork_mem = 1MB\ninclude_dir 'conf.d'\nmax_connections = 50\n\
         wal_keep_segments = 8\nmyext.flag = 'x'\ndatestyle = 'German'\n",
    );
    d.write("conf.d/a.conf", "work_mem = 2MB\n");
    d.write(
        "postgresql.auto.conf",
        "# Do not edit\nmax_connections = '70'\n",
    );
    let cfg = ServerConfig::load(
        &d.0,
        &[
            ("shared_buffers".into(), "64MB".into()),
            ("Port".into(), "6000".into()),
        ],
    )
    .unwrap();
    assert_eq!(cfg.get("port").unwrap(), "6000");
    assert_eq!(cfg.source("port"), Some(GucSource::CommandLine));
    assert_eq!(cfg.get("work_mem").unwrap(), "2MB");
    assert_eq!(cfg.get_int("max_connections"), 70);
    assert_eq!(cfg.get("shared_buffers").unwrap(), "64MB");
    assert_eq!(cfg.get("wal_buffers").unwrap(), "2MB");
    assert_eq!(cfg.get("wal_keep_size").unwrap(), "128MB");
    assert_eq!(cfg.get_int("wal_keep_size"), 128);
    assert_eq!(cfg.get("myext.flag").unwrap(), "x");
    assert_eq!(cfg.get("DateStyle").unwrap(), "German, DMY");
    assert_eq!(cfg.data_directory(), d.0.as_path());
    assert_eq!(cfg.source("work_mem"), Some(GucSource::File));

    let rows = SessionSettings::new(Arc::new(cfg)).pg_settings_rows();
    let wm = rows.iter().find(|r| r.name == "work_mem").unwrap();
    assert_eq!(wm.setting, "2048");
    assert_eq!(wm.unit.as_deref(), Some("kB"));
    assert_eq!(wm.source, "configuration file");
    assert_eq!(
        wm.sourcefile.as_deref(),
        Some(d.0.join("conf.d/a.conf").to_str().unwrap())
    );
    assert_eq!(wm.sourceline, Some(1));
    assert_eq!(wm.boot_val.as_deref(), Some("4096"));
    assert_eq!(wm.min_val.as_deref(), Some("64"));
    assert_eq!(wm.max_val.as_deref(), Some("2147483647"));
    let wl = rows.iter().find(|r| r.name == "wal_level").unwrap();
    assert_eq!(
        wl.enumvals.clone().unwrap(),
        vec!["minimal", "replica", "logical"]
    );
    assert_eq!(wl.context, "postmaster");
    assert_eq!(wl.vartype, "enum");
    let rpc = rows.iter().find(|r| r.name == "random_page_cost").unwrap();
    assert_eq!(rpc.max_val.as_deref(), Some("1.79769e+308"));
    assert!(rows.iter().all(|r| r.name != "is_superuser"));
}

#[test]
fn load_errors_have_postgres_texts() {
    let d = TempDir::new("err");
    d.write(
        "postgresql.conf",
        "# comment\nwork_mem = 8MB\nfoo = 3\nmax_connections = abc\n",
    );
    let e = ServerConfig::load(&d.0, &[]).unwrap_err();
    assert_eq!(
        e.lines(),
        vec![
            format!(
                "LOG:  unrecognized configuration parameter \"foo\" in file \"{}\" line 3",
                d.conf()
            ),
            format!(
                "FATAL:  configuration file \"{}\" contains errors",
                d.conf()
            ),
        ]
    );
    d.write(
        "postgresql.conf",
        "max_connections = abc\nshared_buffers = 1kB\nenable_seqscan = maybe\n\
         wal_level = bogus\nport = 99999999\n",
    );
    let e = ServerConfig::load(&d.0, &[]).unwrap_err();
    assert_eq!(
        e.lines(),
        vec![
            "LOG:  invalid value for parameter \"max_connections\": \"abc\"".to_string(),
            "LOG:  0 8kB is outside the valid range for parameter \"shared_buffers\" (16 .. 1073741823)".into(),
            "LOG:  parameter \"enable_seqscan\" requires a Boolean value".into(),
            "LOG:  invalid value for parameter \"wal_level\": \"bogus\"".into(),
            "HINT:  Available values: minimal, replica, logical.".into(),
            "LOG:  99999999 is outside the valid range for parameter \"port\" (1 .. 65535)".into(),
            format!("FATAL:  configuration file \"{}\" contains errors", d.conf()),
        ]
    );
    d.write("postgresql.conf", "work_mem = 8MB\nbad line here\n");
    let e = ServerConfig::load(&d.0, &[]).unwrap_err();
    assert_eq!(
        e.lines()[0],
        format!(
            "LOG:  syntax error in file \"{}\" line 2, near token \"here\"",
            d.conf()
        )
    );
    d.write("postgresql.conf", "standby_mode = on\n");
    assert!(ServerConfig::load(&d.0, &[]).is_err());
    d.write("postgresql.conf", "server_version = 'x'\n");
    assert_eq!(
        ServerConfig::load(&d.0, &[]).unwrap_err().lines()[0],
        "LOG:  parameter \"server_version\" cannot be changed"
    );
    d.write("postgresql.conf", "");
    let e = ServerConfig::load(&d.0, &[("work_mem".into(), "abc".into())]).unwrap_err();
    assert_eq!(
        e.lines(),
        vec!["FATAL:  invalid value for parameter \"work_mem\": \"abc\""]
    );
    let e = ServerConfig::load(&d.0, &[("nope".into(), "1".into())]).unwrap_err();
    assert_eq!(e.fatal.code, "42704");
    std::fs::remove_file(d.0.join("postgresql.conf")).unwrap();
    let e = ServerConfig::load(&d.0, &[]).unwrap_err();
    assert!(e
        .fatal
        .message
        .starts_with("could not access the server configuration file"));
}

#[test]
fn reload_logs_changes_and_keeps_postmaster_values() {
    let d = TempDir::new("reload");
    d.write(
        "postgresql.conf",
        "port = 5433\nwork_mem = 4MB\nstatement_timeout = 1s\n",
    );
    let cfg = ServerConfig::load(&d.0, &[]).unwrap();
    d.write(
        "postgresql.conf",
        "port = 5999\nwork_mem = 8MB\nshared_buffers = 64MB\nlog_min_duration_statement = 250ms\n",
    );
    let (next, logs) = cfg.reload(&d.0);
    assert_eq!(
        logs,
        vec![
            "LOG:  parameter \"statement_timeout\" removed from configuration file, reset to default".to_string(),
            "LOG:  parameter \"port\" cannot be changed without restarting the server".into(),
            "LOG:  parameter \"work_mem\" changed to \"8MB\"".into(),
            "LOG:  parameter \"shared_buffers\" cannot be changed without restarting the server".into(),
            "LOG:  parameter \"log_min_duration_statement\" changed to \"250ms\"".into(),
            format!(
                "LOG:  configuration file \"{}\" contains errors; unaffected changes were applied",
                d.conf()
            ),
        ]
    );
    assert_eq!(next.get("port").unwrap(), "5433");
    assert!(next.pending_restart("port"));
    assert_eq!(next.get("work_mem").unwrap(), "8MB");
    assert_eq!(next.get("statement_timeout").unwrap(), "0");
    assert_eq!(next.get("shared_buffers").unwrap(), "128MB");

    d.write("postgresql.conf", "port = 5433\nfoo = 1\nwork_mem = 16MB\n");
    let (same, logs) = next.reload(&d.0);
    assert_eq!(
        logs,
        vec![
            format!(
                "LOG:  unrecognized configuration parameter \"foo\" in file \"{}\" line 2",
                d.conf()
            ),
            format!(
                "LOG:  configuration file \"{}\" contains errors; no changes were applied",
                d.conf()
            ),
        ]
    );
    assert_eq!(same.get("work_mem").unwrap(), "8MB");

    d.write(
        "postgresql.conf",
        "port = 5433\nwork_mem = 8MB\nshared_buffers = 64MB\nlog_min_duration_statement = 250ms\n",
    );
    let (_, logs) = same.reload(&d.0);
    assert_eq!(
        logs,
        vec![
            "LOG:  parameter \"shared_buffers\" cannot be changed without restarting the server"
                .to_string(),
            format!(
                "LOG:  configuration file \"{}\" contains errors; unaffected changes were applied",
                d.conf()
            ),
        ]
    );
    d.write(
        "postgresql.conf",
        "port = 5433\nwork_mem = 8MB\nlog_min_duration_statement = 250ms\n",
    );
    let (quiet, logs) = same.reload(&d.0);
    assert!(logs.is_empty(), "{logs:?}");
    assert!(!quiet.pending_restart("port"));
}

#[test]
fn set_context_rules_and_texts() {
    let mut s = session();
    let err = |s: &mut SessionSettings, n: &str, v: &str, su: bool| {
        let e = s.set(n, Some(v), false, su).unwrap_err();
        (e.code, e.message)
    };
    assert_eq!(
        err(&mut s, "Wal_Level", "x", true),
        (
            "55P02",
            "parameter \"wal_level\" cannot be changed without restarting the server".into()
        )
    );
    assert_eq!(
        err(&mut s, "max_wal_size", "1GB", true),
        (
            "55P02",
            "parameter \"max_wal_size\" cannot be changed now".into()
        )
    );
    assert_eq!(
        err(&mut s, "server_version", "x", true),
        (
            "55P02",
            "parameter \"server_version\" cannot be changed".into()
        )
    );
    assert_eq!(
        err(&mut s, "log_connections", "on", true),
        (
            "55P02",
            "parameter \"log_connections\" cannot be set after connection start".into()
        )
    );
    assert_eq!(
        err(&mut s, "log_min_duration_statement", "5", false),
        (
            "42501",
            "permission denied to set parameter \"log_min_duration_statement\"".into()
        )
    );
    assert_eq!(
        err(&mut s, "foo", "1", true),
        (
            "42704",
            "unrecognized configuration parameter \"foo\"".into()
        )
    );
    assert_eq!(
        err(&mut s, "WORK_MEM", "abc", true),
        (
            "22023",
            "invalid value for parameter \"work_mem\": \"abc\"".into()
        )
    );
    s.set("log_min_duration_statement", Some("5"), false, true)
        .unwrap();
    assert_eq!(s.show("log_min_duration_statement").unwrap(), "5ms");
    s.set("sort_mem", Some("2MB"), false, false).unwrap();
    assert_eq!(s.show("work_mem").unwrap(), "2MB");
    s.set("foo.bar", Some("x"), false, false).unwrap();
    assert_eq!(s.show("FOO.BAR").unwrap(), "x");
    assert_eq!(s.show("foo.baz").unwrap_err().code, "42704");
    s.set("foo.bar", None, false, false).unwrap();
    assert_eq!(s.show("foo.bar").unwrap(), "");
    assert_eq!(s.reset("port").unwrap_err().code, "55P02");
}

#[test]
fn transactions_undo_set_and_end_set_local() {
    let mut s = session();
    s.set("statement_timeout", Some("5"), false, false).unwrap();
    s.begin_transaction();
    s.set("statement_timeout", Some("7"), true, false).unwrap();
    assert_eq!(s.show("statement_timeout").unwrap(), "7ms");
    s.end_transaction(true);
    assert_eq!(s.show("statement_timeout").unwrap(), "5ms");

    s.begin_transaction();
    s.set("statement_timeout", Some("9s"), false, false)
        .unwrap();
    s.reset("work_mem").unwrap();
    s.end_transaction(false);
    assert_eq!(s.show("statement_timeout").unwrap(), "5ms");

    s.begin_transaction();
    s.set("statement_timeout", Some("9s"), false, false)
        .unwrap();
    s.end_transaction(true);
    assert_eq!(s.show("statement_timeout").unwrap(), "9s");

    // SET LOCAL outside a transaction block has no effect.
    s.set("work_mem", Some("8MB"), true, false).unwrap();
    assert_eq!(s.show("work_mem").unwrap(), "4MB");

    let rows = s.pg_settings_rows();
    let st = rows.iter().find(|r| r.name == "statement_timeout").unwrap();
    assert_eq!(
        (st.setting.as_str(), st.source.as_str()),
        ("9000", "session")
    );
    assert_eq!(st.reset_val.as_deref(), Some("0"));

    s.set("search_path", Some("a, b"), false, false).unwrap();
    s.set("search_path", None, false, false).unwrap();
    assert_eq!(s.show("search_path").unwrap(), "\"$user\", public");

    s.set("work_mem", Some("8MB"), false, false).unwrap();
    s.set_internal("transaction_isolation", "serializable");
    s.reset_all();
    assert_eq!(s.show("work_mem").unwrap(), "4MB");
    assert_eq!(s.show("statement_timeout").unwrap(), "0");
    assert_eq!(s.show("transaction_isolation").unwrap(), "serializable");
}

#[test]
fn startup_parameters_and_reports() {
    let mut s = session();
    s.set_internal("is_superuser", "on");
    s.set_internal("session_authorization", "postgres");
    for (n, v) in [
        ("datestyle", "German"),
        ("timezone", "UTC"),
        ("client_encoding", "'utf-8'"),
        ("application_name", "psql"),
        ("extra_float_digits", "2"),
        ("geqo", "off"),
    ] {
        s.apply_startup(n, v).unwrap();
    }
    let rep = s.reported();
    let names: Vec<&str> = rep.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, REPORTED.to_vec());
    let get = |k: &str| rep.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    assert_eq!(get("DateStyle"), "German, DMY");
    assert_eq!(get("client_encoding"), "UTF8");
    assert_eq!(get("application_name"), "psql");
    assert_eq!(get("is_superuser"), "on");
    assert_eq!(get("session_authorization"), "postgres");
    assert_eq!(get("integer_datetimes"), "on");
    assert_eq!(get("standard_conforming_strings"), "on");
    assert_eq!(get("in_hot_standby"), "off");
    assert!(s.take_reported_changes().is_empty());

    s.set("application_name", Some("tusk-jdbc"), false, false)
        .unwrap();
    s.set("work_mem", Some("8MB"), false, false).unwrap();
    assert_eq!(
        s.take_reported_changes(),
        vec![("application_name", "tusk-jdbc".to_string())]
    );
    assert!(s.take_reported_changes().is_empty());
    // RESET goes back to the StartupMessage value.
    s.reset("application_name").unwrap();
    assert_eq!(s.show("application_name").unwrap(), "psql");
    assert_eq!(s.take_reported_changes().len(), 1);

    let e = s.apply_startup("port", "1").unwrap_err();
    assert_eq!(
        e.message,
        "parameter \"port\" cannot be changed without restarting the server"
    );
    assert_eq!(s.apply_startup("nope", "1").unwrap_err().code, "42704");
    s.apply_startup("log_connections", "on").unwrap();
    let mut plain = session();
    assert_eq!(
        plain
            .apply_startup("log_connections", "on")
            .unwrap_err()
            .code,
        "42501"
    );
    plain.apply_startup("DateStyle", "ISO, MDY").unwrap();
    let row = plain
        .pg_settings_rows()
        .into_iter()
        .find(|r| r.name == "DateStyle")
        .unwrap();
    assert_eq!(row.source, "client");
}

#[test]
fn options_string() {
    assert_eq!(
        SessionSettings::parse_options("-c geqo=off -c search_path=public").unwrap(),
        vec![
            ("geqo".to_string(), "off".to_string()),
            ("search_path".into(), "public".into())
        ]
    );
    assert_eq!(
        SessionSettings::parse_options("--statement-timeout=5s -capplication_name=a\\ b  -B 100")
            .unwrap(),
        vec![
            ("statement_timeout".to_string(), "5s".to_string()),
            ("application_name".into(), "a b".into()),
            ("shared_buffers".into(), "100".into()),
        ]
    );
    assert!(SessionSettings::parse_options("").unwrap().is_empty());
    assert_eq!(
        SessionSettings::parse_options("-c geqo")
            .unwrap_err()
            .message,
        "-c geqo requires a value"
    );
    assert!(SessionSettings::parse_options("-x").is_err());
    assert!(SessionSettings::parse_options("plain").is_err());
    assert!(SessionSettings::parse_options("-c").is_err());
}

#[test]
fn alter_system_rewrites_auto_conf() {
    let d = TempDir::new("alter");
    alter_system(&d.0, "work_mem", Some("8MB")).unwrap();
    alter_system(&d.0, "application_name", Some("it's \\ x")).unwrap();
    alter_system(&d.0, "Work_Mem", Some("16MB")).unwrap();
    let text = std::fs::read_to_string(d.0.join("postgresql.auto.conf")).unwrap();
    assert_eq!(
        text,
        "# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n\
         application_name = 'it''s \\\\ x'\nwork_mem = '16MB'\n"
    );
    let back = conf::parse_file(&d.0.join("postgresql.auto.conf")).unwrap();
    assert_eq!(back[0].value, "it's \\ x");
    assert_eq!(
        alter_system(&d.0, "work_mem", Some("abc"))
            .unwrap_err()
            .message,
        "invalid value for parameter \"work_mem\": \"abc\""
    );
    assert_eq!(
        alter_system(&d.0, "data_directory", Some("/x"))
            .unwrap_err()
            .message,
        "parameter \"data_directory\" cannot be changed"
    );
    assert_eq!(
        alter_system(&d.0, "server_version", Some("x"))
            .unwrap_err()
            .code,
        "55P02"
    );
    assert_eq!(
        alter_system(&d.0, "myext.x", Some("y")).unwrap_err().code,
        "42704"
    );
    alter_system(&d.0, "work_mem", None).unwrap();
    let text = std::fs::read_to_string(d.0.join("postgresql.auto.conf")).unwrap();
    assert!(!text.contains("work_mem"));
    alter_system(&d.0, "all", None).unwrap();
    let text = std::fs::read_to_string(d.0.join("postgresql.auto.conf")).unwrap();
    assert_eq!(text, AUTO_CONF_HEADER);
    assert!(!d.0.join("postgresql.auto.conf.tmp").exists());
}

#[test]
fn recovery_conf_legacy() {
    let d = TempDir::new("recovery");
    assert_eq!(read_recovery_conf(&d.0).unwrap(), None);
    d.write(
        "recovery.conf",
        "standby_mode = 'on'\nprimary_conninfo = 'host=127.0.0.1 port=5432'\n\
         restore_command = 'cp /arch/%f %p'\ntrigger_file = '/tmp/promote'\n\
         recovery_target_timeline = 'latest'\n",
    );
    let rc = read_recovery_conf(&d.0).unwrap().unwrap();
    assert!(rc.standby_mode);
    assert_eq!(
        rc.settings,
        vec![
            (
                "primary_conninfo".to_string(),
                "host=127.0.0.1 port=5432".to_string()
            ),
            ("restore_command".into(), "cp /arch/%f %p".into()),
            ("promote_trigger_file".into(), "/tmp/promote".into()),
            ("recovery_target_timeline".into(), "latest".into()),
        ]
    );
    let mut cfg = ServerConfig::defaults(&d.0);
    cfg.apply_recovery_conf(&d.0, &rc).unwrap();
    assert_eq!(cfg.get_str("promote_trigger_file"), "/tmp/promote");
    d.write("recovery.conf", "standby_mode = maybe\nwork_mem = 1MB\n");
    let e = read_recovery_conf(&d.0).unwrap_err();
    assert_eq!(e.logs.len(), 2);
    assert!(e.lines()[1].starts_with("LOG:  unrecognized configuration parameter \"work_mem\""));
}

#[test]
fn recovery_conf_wins_over_config_files_and_says_so() {
    let d = TempDir::new("recovery-both");
    d.write(
        "postgresql.conf",
        "primary_conninfo = 'host=old'\nrecovery_target_timeline = 'current'\n\
         promote_trigger_file = '/tmp/old'\n",
    );
    d.write(
        "postgresql.auto.conf",
        "primary_conninfo = 'host=auto port=5433'\n",
    );
    d.write(
        "recovery.conf",
        "standby_mode = on\nprimary_conninfo = 'host=new'\ntrigger_file = '/tmp/new'\n\
         restore_command = 'cp /arch/%f %p'\nrecovery_target_name = 'rp1'\n\
         recovery_target_inclusive = off\nprimary_conninfo = 'host=newer'\n",
    );
    let mut cfg = ServerConfig::load(&d.0, &[]).unwrap();
    let rc = read_recovery_conf(&d.0).unwrap().unwrap();
    let dir = std::path::absolute(&d.0).unwrap();
    let rconf = dir.join("recovery.conf");
    let lines: Vec<String> = cfg
        .recovery_conf_overrides(&dir, &rc)
        .into_iter()
        .map(|l| format!("{}:  {}", l.level, l.message))
        .collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "LOG:  parameter \"primary_conninfo\" is set in both \"{}\" and \"{}\"; \
                 the value from recovery.conf is used",
                rconf.display(),
                dir.join("postgresql.auto.conf").display()
            ),
            format!(
                "LOG:  parameter \"promote_trigger_file\" is set in both \"{}\" and \"{}\"; \
                 the value from recovery.conf is used",
                rconf.display(),
                dir.join("postgresql.conf").display()
            ),
        ]
    );
    cfg.apply_recovery_conf(&dir, &rc).unwrap();
    assert_eq!(cfg.get_str("primary_conninfo"), "host=newer");
    assert_eq!(cfg.get_str("promote_trigger_file"), "/tmp/new");
    assert_eq!(cfg.get_str("recovery_target_name"), "rp1");
    assert!(!cfg.get_bool("recovery_target_inclusive"));
    // Not in recovery.conf: postgresql.conf's value stays.
    assert_eq!(cfg.get_str("recovery_target_timeline"), "current");
    // Applied once, nothing is set in another file any more.
    assert!(cfg.recovery_conf_overrides(&dir, &rc).is_empty());
    // A recovery.conf alone logs nothing.
    let fresh = ServerConfig::defaults(&dir);
    assert!(fresh.recovery_conf_overrides(&dir, &rc).is_empty());
    // The legacy recovery target keys are read and checked like postgresql.conf's.
    d.write(
        "recovery.conf",
        "recovery_target_name = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'\n",
    );
    let e = read_recovery_conf(&d.0).unwrap_err();
    assert_eq!(
        e.logs[0].detail.as_deref(),
        Some("recovery_target_name is too long (maximum 63 characters).")
    );
}

#[test]
fn archive_command_shows_disabled_unless_archiving() {
    let d = TempDir::new("arch");
    d.write("postgresql.conf", "archive_command = 'cp %p /arch/%f'\n");
    let cfg = ServerConfig::load(&d.0, &[]).unwrap();
    assert_eq!(cfg.get("archive_command").unwrap(), "(disabled)");
    assert_eq!(cfg.get_str("archive_command"), "cp %p /arch/%f");
    d.write(
        "postgresql.conf",
        "archive_command = 'cp %p /arch/%f'\narchive_mode = on\n",
    );
    let cfg = ServerConfig::load(&d.0, &[]).unwrap();
    assert_eq!(cfg.get("archive_command").unwrap(), "cp %p /arch/%f");
    let s = SessionSettings::new(Arc::new(cfg));
    assert_eq!(s.show("archive_command").unwrap(), "cp %p /arch/%f");
}

#[test]
fn set_arguments_are_flattened_like_postgres() {
    assert_eq!(
        flatten_set_args(
            "search_path",
            &["a b", "b", "C", "public", "$user", "select_x"]
        )
        .unwrap(),
        "\"a b\", b, \"C\", public, \"$user\", select_x"
    );
    assert_eq!(
        flatten_set_args("search_path", &["public,\"$user\""]).unwrap(),
        "\"public,\"\"$user\"\"\""
    );
    assert_eq!(
        flatten_set_args("search_path", &["select"]).unwrap(),
        "\"select\""
    );
    assert_eq!(
        flatten_set_args("datestyle", &["ISO", "DMY"]).unwrap(),
        "ISO, DMY"
    );
    assert_eq!(flatten_set_args("work_mem", &["8MB"]).unwrap(), "8MB");
    let e = flatten_set_args("WORK_MEM", &["1", "2"]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("42601", "SET work_mem takes only one argument")
    );
    assert_eq!(
        flatten_set_args("foo.bar", &["a", "b"])
            .unwrap_err()
            .message,
        "SET foo.bar takes only one argument"
    );
    assert_eq!(flatten_set_args("nope", &["a"]).unwrap_err().code, "42704");
}

/// `SET name = 'value'` then `SHOW name`, as PostgreSQL 15 answered (error message,
/// DETAIL and HINT, then the value in force), joined by `|`.
const PG15_SET_SHOW: &[(&str, &str, &str)] = &[
    ("work_mem", "1TB", "1TB|"),
    ("work_mem", "2TB", "invalid value for parameter \"work_mem\": \"2TB\"|HINT: Value exceeds integer range.|4MB|"),
    ("work_mem", "1.5GB", "1536MB|"),
    ("work_mem", "0.5", "0 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)|4MB|"),
    ("work_mem", "64", "64kB|"),
    ("work_mem", "1024kB", "1MB|"),
    ("work_mem", " 8MB", "8MB|"),
    ("work_mem", "8mb", "invalid value for parameter \"work_mem\": \"8mb\"|HINT: Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".|4MB|"),
    ("statement_timeout", "1.5min", "90s|"),
    ("statement_timeout", "0.5", "0|"),
    ("statement_timeout", "1h", "1h|"),
    ("statement_timeout", "36h", "36h|"),
    ("statement_timeout", "2d", "2d|"),
    ("statement_timeout", "1e3", "1s|"),
    ("statement_timeout", "1e3s", "1000s|"),
    ("statement_timeout", "-0", "0|"),
    ("statement_timeout", "+5", "5ms|"),
    ("statement_timeout", "5ms ", "5ms|"),
    ("statement_timeout", "5 ms x", "invalid value for parameter \"statement_timeout\": \"5 ms x\"|HINT: Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".|0|"),
    ("statement_timeout", "0x1Fs", "31s|"),
    ("log_rotation_age", "1.5h", "parameter \"log_rotation_age\" cannot be changed now|1d|"),
    ("log_rotation_age", "90s", "parameter \"log_rotation_age\" cannot be changed now|1d|"),
    ("log_rotation_age", "30s", "parameter \"log_rotation_age\" cannot be changed now|1d|"),
    ("log_rotation_age", "1d", "parameter \"log_rotation_age\" cannot be changed now|1d|"),
    ("vacuum_cost_delay", "100", "100ms|"),
    ("vacuum_cost_delay", "101", "101 ms is outside the valid range for parameter \"vacuum_cost_delay\" (0 .. 100)|0|"),
    ("vacuum_cost_delay", "0.001", "1us|"),
    ("vacuum_cost_delay", "1us", "1us|"),
    ("vacuum_cost_delay", "1.5s", "1500 ms is outside the valid range for parameter \"vacuum_cost_delay\" (0 .. 100)|0|"),
    ("vacuum_cost_delay", "-1", "-1 ms is outside the valid range for parameter \"vacuum_cost_delay\" (0 .. 100)|0|"),
    ("vacuum_cost_delay", "1e-9", "1e-06us|"),
    ("autovacuum_vacuum_cost_delay", "-1", "parameter \"autovacuum_vacuum_cost_delay\" cannot be changed now|2ms|"),
    ("autovacuum_vacuum_cost_delay", "20", "parameter \"autovacuum_vacuum_cost_delay\" cannot be changed now|2ms|"),
    ("random_page_cost", "0.0001", "0.0001|"),
    ("random_page_cost", "123456789", "1.23457e+08|"),
    ("random_page_cost", "1e10", "1e+10|"),
    ("random_page_cost", "1.5e-7", "1.5e-07|"),
    ("random_page_cost", "inf", "Infinity is outside the valid range for parameter \"random_page_cost\" (0 .. 1.79769e+308)|4|"),
    ("random_page_cost", " 2 ", "2|"),
    ("cpu_tuple_cost", "0.01", "0.01|"),
    ("jit_above_cost", "1e5", "100000|"),
    ("geqo_selection_bias", "1.4", "1.4 is outside the valid range for parameter \"geqo_selection_bias\" (1.5 .. 2)|2|"),
    ("geqo_selection_bias", "2.5", "2.5 is outside the valid range for parameter \"geqo_selection_bias\" (1.5 .. 2)|2|"),
    ("extra_float_digits", "-15", "-15|"),
    ("extra_float_digits", "-16", "-16 is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)|1|"),
    ("extra_float_digits", "0x3", "3|"),
    ("extra_float_digits", "3.4", "3|"),
    ("extra_float_digits", "3.5", "4 is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)|1|"),
    ("extra_float_digits", "2.5", "2|"),
    ("extra_float_digits", "-2.5", "-2|"),
    ("enable_seqscan", "TRUE", "on|"),
    ("enable_seqscan", "Of", "off|"),
    ("enable_seqscan", "ye", "on|"),
    ("enable_seqscan", "tr", "on|"),
    ("enable_seqscan", "01", "parameter \"enable_seqscan\" requires a Boolean value|on|"),
    ("synchronous_commit", "REMOTE_WRITE", "remote_write|"),
    ("synchronous_commit", "yes", "on|"),
    ("client_min_messages", "INFO", "info|"),
    ("client_min_messages", "fatal", "invalid value for parameter \"client_min_messages\": \"fatal\"|HINT: Available values: debug5, debug4, debug3, debug2, debug1, log, notice, warning, error.|notice|"),
    ("bytea_output", "Hex", "hex|"),
    ("DateStyle", "iso, dmy", "ISO, DMY|"),
    ("DateStyle", "SQL, Postgres", "invalid value for parameter \"DateStyle\": \"SQL, Postgres\"|DETAIL: Conflicting \"datestyle\" specifications.|ISO, MDY|"),
    ("DateStyle", "US", "ISO, MDY|"),
    ("DateStyle", "postgres,euro", "Postgres, DMY|"),
    ("DateStyle", "German,YMD", "German, YMD|"),
    ("DateStyle", "YMD, German", "German, YMD|"),
    ("DateStyle", "iso ymd", "invalid value for parameter \"DateStyle\": \"iso ymd\"|DETAIL: List syntax is invalid.|ISO, MDY|"),
    ("DateStyle", "default", "ISO, MDY|"),
    ("DateStyle", "", "ISO, MDY|"),
    ("TimeZone", "utc", "UTC|"),
    ("TimeZone", "America/New_York", "America/New_York|"),
    ("TimeZone", "PST8PDT", "PST8PDT|"),
    ("TimeZone", "-3.5", "<-03:30>+03:30|"),
    ("TimeZone", "+14", "<+14>-14|"),
    ("TimeZone", "EST", "EST|"),
    ("TimeZone", "JST-9", "JST-9|"),
    ("TimeZone", "Nowhere", "invalid value for parameter \"TimeZone\": \"Nowhere\"|Etc/UTC|"),
    ("TimeZone", "", "invalid value for parameter \"TimeZone\": \"\"|Etc/UTC|"),
    ("client_encoding", "WIN1252", "WIN1252|"),
    ("client_encoding", "iso-8859-1", "LATIN1|"),
    ("client_encoding", "koi8", "KOI8R|"),
    ("client_encoding", "MULE_INTERNAL", "invalid value for parameter \"client_encoding\": \"MULE_INTERNAL\"|DETAIL: Conversion between MULE_INTERNAL and UTF8 is not supported.|UTF8|"),
    ("client_encoding", "", "invalid value for parameter \"client_encoding\": \"\"|UTF8|"),
    ("application_name", "héllo", "h??llo|"),
    ("search_path", "public,\"$user\"", "\"public,\"\"$user\"\"\"|"),
    ("gin_pending_list_limit", "64kB", "64kB|"),
    ("gin_pending_list_limit", "63kB", "63 kB is outside the valid range for parameter \"gin_pending_list_limit\" (64 .. 2147483647)|4MB|"),
    ("temp_buffers", "1MB", "1MB|"),
    ("temp_buffers", "100", "800kB|"),
    ("temp_buffers", "8kB", "1 8kB is outside the valid range for parameter \"temp_buffers\" (100 .. 1073741823)|8MB|"),
    ("effective_io_concurrency", "1000", "1000|"),
    ("effective_io_concurrency", "1001", "1001 is outside the valid range for parameter \"effective_io_concurrency\" (0 .. 1000)|1|"),
    ("commit_delay", "100000", "100000|"),
    ("commit_delay", "100001", "100001 is outside the valid range for parameter \"commit_delay\" (0 .. 100000)|0|"),
    ("idle_session_timeout", "1min", "1min|"),
    ("backend_flush_after", "1MB", "1MB|"),
    ("backend_flush_after", "2MB", "2MB|"),
    ("default_statistics_target", "10001", "10001 is outside the valid range for parameter \"default_statistics_target\" (1 .. 10000)|100|"),
    ("IntervalStyle", "ISO_8601", "iso_8601|"),
    ("xmloption", "DOCUMENT", "document|"),
];

#[test]
fn set_and_show_match_postgres_15() {
    for (n, v, want) in PG15_SET_SHOW {
        let mut s = session();
        let mut got = String::new();
        // The SQL layer flattens SET's arguments first, as PostgreSQL does.
        let v = flatten_set_args(n, &[v]).unwrap();
        if let Err(e) = s.set(n, Some(&v), false, true) {
            got.push_str(&e.message);
            got.push('|');
            if let Some(d) = e.detail {
                got.push_str(&format!("DETAIL: {d}|"));
            }
            if let Some(h) = e.hint {
                got.push_str(&format!("HINT: {h}|"));
            }
        }
        got.push_str(&s.show(n).unwrap());
        got.push('|');
        assert_eq!(&got, want, "SET {n} = '{v}'");
    }
}

#[test]
fn savepoints_undo_their_settings() {
    let mut s = session();
    s.begin_transaction();
    s.set("work_mem", Some("8MB"), false, false).unwrap();
    s.begin_subtransaction();
    s.set("work_mem", Some("16MB"), false, false).unwrap();
    s.set("statement_timeout", Some("1s"), true, false).unwrap();
    s.end_subtransaction(false);
    assert_eq!(s.show("work_mem").unwrap(), "8MB");
    assert_eq!(s.show("statement_timeout").unwrap(), "0");
    s.begin_subtransaction();
    s.set("statement_timeout", Some("2s"), true, false).unwrap();
    s.set("work_mem", Some("32MB"), false, false).unwrap();
    s.end_subtransaction(true);
    assert_eq!(s.show("statement_timeout").unwrap(), "2s");
    s.end_transaction(true);
    assert_eq!(s.show("work_mem").unwrap(), "32MB");
    assert_eq!(s.show("statement_timeout").unwrap(), "0");
    // Outside a transaction block savepoint calls change nothing.
    s.begin_subtransaction();
    s.end_subtransaction(false);
    assert_eq!(s.show("work_mem").unwrap(), "32MB");
}

#[test]
fn list_values_split_like_postgres() {
    let v = |s: &str| {
        split_list(s).map(|l| {
            l.iter()
                .map(String::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        v("/tmp, /var/run/postgresql").unwrap(),
        vec!["/tmp", "/var/run/postgresql"]
    );
    assert_eq!(v("\"$user\", public").unwrap(), vec!["$user", "public"]);
    assert_eq!(v("localhost").unwrap(), vec!["localhost"]);
    assert_eq!(v("*").unwrap(), vec!["*"]);
    assert_eq!(v("").unwrap(), Vec::<String>::new());
    assert_eq!(v("  ").unwrap(), Vec::<String>::new());
    assert_eq!(v("\"a\"\"b\"").unwrap(), vec!["a\"b"]);
    assert_eq!(v("a b, c").unwrap(), vec!["a b", "c"]);
    assert_eq!(v("a,,b"), None);
    assert_eq!(v("a,"), None);
    assert_eq!(v("\"open"), None);
    assert_eq!(v("\"a\" x"), None);
}

#[test]
fn reported_changes_follow_transactions_savepoints_and_reloads() {
    let mut s = session();
    s.apply_startup("application_name", "app").unwrap();
    s.reported();
    assert!(s.take_reported_changes().is_empty());

    // SET LOCAL is reported, then reported again when the transaction ends.
    s.begin_transaction();
    s.set("application_name", Some("inner"), true, false)
        .unwrap();
    assert_eq!(
        s.take_reported_changes(),
        vec![("application_name", "inner".to_string())]
    );
    s.end_transaction(true);
    assert_eq!(
        s.take_reported_changes(),
        vec![("application_name", "app".to_string())]
    );

    // A rolled-back SET is reported back; a committed one stays.
    s.begin_transaction();
    s.set("TimeZone", Some("Asia/Tokyo"), false, false).unwrap();
    assert_eq!(s.take_reported_changes().len(), 1);
    s.end_transaction(false);
    let back = s.take_reported_changes();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].0, "TimeZone");

    // ROLLBACK TO a savepoint undoes a SET made after it.
    s.begin_transaction();
    s.begin_subtransaction();
    s.set("DateStyle", Some("German"), false, false).unwrap();
    assert_eq!(s.take_reported_changes().len(), 1);
    s.end_subtransaction(false);
    assert_eq!(
        s.take_reported_changes(),
        vec![("DateStyle", "ISO, MDY".to_string())]
    );
    s.end_transaction(true);
    assert!(s.take_reported_changes().is_empty());

    // Settings that are not reported never produce ParameterStatus.
    s.set("work_mem", Some("8MB"), false, false).unwrap();
    assert!(s.take_reported_changes().is_empty());
}

/// Every setting conf/postgresql.conf.sample shows commented out (`#name = value`)
/// shows its real default: uncommenting them all changes nothing.
#[test]
fn sample_file_documents_the_real_defaults() {
    let sample = include_str!("../../conf/postgresql.conf.sample");
    let mut uncommented = String::new();
    let mut names = Vec::new();
    for line in sample.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((name, _)) = rest.split_once(" = ") else {
            continue;
        };
        if name.contains(' ') || name.starts_with("include") || rest.contains("ConfigDir") {
            continue;
        }
        if lookup(name).is_none() {
            continue;
        }
        names.push(name.to_string());
        uncommented.push_str(rest);
        uncommented.push('\n');
    }
    assert!(names.len() > 50, "{names:?}");
    let d = TempDir::new("sample");
    d.write("postgresql.conf", &uncommented);
    let loaded = SessionSettings::new(Arc::new(
        ServerConfig::load(&d.0, &[]).unwrap_or_else(|e| panic!("{:?}", e.fatal.message)),
    ));
    let defaults = SessionSettings::new(Arc::new(ServerConfig::defaults(&d.0)));
    let wrong: Vec<String> = names
        .iter()
        .filter(|n| loaded.show(n).ok() != defaults.show(n).ok())
        .map(|n| {
            format!(
                "{n}: sample {:?}, default {:?}",
                loaded.show(n).ok(),
                defaults.show(n).ok()
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn remembered_values_follow_every_change() {
    let mut s = session();
    // Read first, so that each change below has a remembered value to replace.
    assert_eq!(s.get_str("application_name"), "");
    s.set("application_name", Some("a"), false, true).unwrap();
    assert_eq!(s.get_str("application_name"), "a");
    s.begin_transaction();
    s.set("application_name", Some("b"), true, true).unwrap();
    assert_eq!(s.get_str("application_name"), "b");
    s.end_transaction(false);
    assert_eq!(s.get_str("application_name"), "a");
    s.begin_transaction();
    s.set("application_name", Some("c"), false, true).unwrap();
    s.begin_subtransaction();
    s.set("application_name", Some("d"), false, true).unwrap();
    assert_eq!(s.get_str("application_name"), "d");
    s.end_subtransaction(false);
    assert_eq!(s.get_str("application_name"), "c");
    s.end_transaction(true);
    assert_eq!(s.get_str("application_name"), "c");
    s.reset("application_name").unwrap();
    assert_eq!(s.get_str("application_name"), "");
    assert_eq!(s.get_int("work_mem"), 4096);
    s.set_internal("work_mem", "8MB");
    assert_eq!(s.get_int("work_mem"), 8192);
    s.set("work_mem", Some("16MB"), false, true).unwrap();
    s.reset_all();
    assert_eq!(s.get_int("work_mem"), 8192);
    let d = TempDir::new("memo");
    d.write("postgresql.conf", "statement_timeout = 5s\n");
    let cfg = ServerConfig::load(&d.0, &[]).unwrap();
    assert_eq!(s.get_int("statement_timeout"), 0);
    s.update_server(Arc::new(cfg));
    assert_eq!(s.get_int("statement_timeout"), 5000);
}

#[test]
fn shown_values_follow_changes_whatever_the_spelling() {
    let mut s = session();
    for _ in 0..3 {
        assert_eq!(s.get_str("timezone"), s.get_str("TimeZone"));
    }
    s.set("TIMEZONE", Some("Europe/Paris"), false, true)
        .unwrap();
    assert_eq!(s.get_str("TimeZone"), "Europe/Paris");
    assert_eq!(s.get_str("timezone"), "Europe/Paris");
    s.set("timezone", Some("UTC"), false, true).unwrap();
    assert_eq!(s.get_str("TimeZone"), "UTC");
    assert_eq!(s.memo_shown.lock().unwrap().len(), 1);
}

#[test]
fn transaction_characteristics_outside_a_transaction_are_the_defaults() {
    let mut s = session();
    assert_eq!(s.get_str("transaction_isolation"), "read committed");
    s.set(
        "default_transaction_isolation",
        Some("repeatable read"),
        false,
        true,
    )
    .unwrap();
    s.set("default_transaction_read_only", Some("on"), false, true)
        .unwrap();
    assert_eq!(s.get_str("transaction_isolation"), "repeatable read");
    assert!(s.get_bool("transaction_read_only"));
    s.begin_transaction();
    s.begin_transaction_characteristics("serializable", false);
    assert_eq!(s.get_str("transaction_isolation"), "serializable");
    assert!(!s.get_bool("transaction_read_only"));
    s.end_transaction(true);
    assert_eq!(s.get_str("transaction_isolation"), "repeatable read");
}
