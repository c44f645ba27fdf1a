//! `tusk ctl` and signals as pg_ctl and the postmaster: one server per data directory,
//! stale pid files ignored, smart/fast/immediate shutdown, status and reload.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

fn ctl(s: &Server, args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(tusk_bin())
            .arg("ctl")
            .args(args)
            .arg("-D")
            .arg(s.datadir()),
        Duration::from_secs(90),
    )
}

#[test]
fn second_server_refused_and_stale_pidfile_ignored() {
    let mut s = Server::start_new("pidfile");
    let pid = std::fs::read_to_string(s.datadir().join("postmaster.pid")).unwrap();
    let lines: Vec<&str> = pid.lines().collect();
    assert_eq!(lines[0], s.child.as_ref().unwrap().id().to_string());
    assert_eq!(lines[3], s.port.to_string());
    assert_eq!(lines.get(7).map(|l| l.trim_end()), Some("ready"));
    let out = run_with_timeout(
        Command::new(tusk_bin())
            .arg("run")
            .arg("-D")
            .arg(s.datadir()),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("lock file \"postmaster.pid\" already exists"),
        "{}",
        stderr(&out)
    );
    s.crash();
    assert!(
        s.datadir().join("postmaster.pid").exists(),
        "a crash leaves the pid file behind"
    );
    s.start();
    assert_eq!(s.psql("select 1"), "1");
}

#[test]
fn ctl_start_status_reload_stop() {
    let s = Server::init("ctl", &[]);
    let log = s.dir.path().join("ctl.log");
    let out = ctl(&s, &["start", "-w", "-l", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("server started"), "{}", stdout(&out));
    assert_eq!(s.psql("select 2"), "2");
    let out = ctl(&s, &["status"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("server is running (PID:"),
        "{}",
        stdout(&out)
    );
    let out = ctl(&s, &["reload"]);
    assert!(stdout(&out).contains("server signaled"), "{}", stdout(&out));
    let out = ctl(&s, &["restart", "-m", "fast", "-l", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(s.psql("select 3"), "3");
    let out = ctl(&s, &["stop", "-m", "fast"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("server stopped"));
    let out = ctl(&s, &["status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("no server running"));
}

#[test]
fn shutdown_modes() {
    // Smart: waits for the open session to leave.
    let mut s = Server::start_new("smart");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&s.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        rt_spawn(conn);
        c
    });
    s.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "smart shutdown must wait for sessions"
    );
    drop(client);
    drop(rt);
    assert!(s.wait_exit(Duration::from_secs(30)).success());
    assert!(s.log_text().contains("received smart shutdown request"));
    assert!(!s.datadir().join("postmaster.pid").exists());

    // Fast: terminates sessions with 57P01.
    s.start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&s.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        let conn_task = tokio::spawn(conn);
        s.signal(libc::SIGINT);
        let r = tokio::time::timeout(Duration::from_secs(20), conn_task)
            .await
            .expect("connection ended");
        let e = r.unwrap().unwrap_err();
        assert_eq!(
            e.as_db_error().map(|d| d.code().code().to_string()),
            Some("57P01".into()),
            "{e}"
        );
        drop(c);
    });
    assert!(s.wait_exit(Duration::from_secs(30)).success());

    // Immediate: no checkpoint, recovery on the next start.
    s.start();
    s.psql("create table imm (x int); insert into imm values (42)");
    s.signal(libc::SIGQUIT);
    let _ = s.wait_exit(Duration::from_secs(30));
    s.start();
    assert_eq!(s.psql("select x from imm"), "42");
}

fn rt_spawn<F>(f: F)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(f);
}
