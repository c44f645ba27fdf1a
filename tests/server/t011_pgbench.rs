//! Stock pgbench 15 against tusk: initialization, then concurrent TPC-B-like runs in each
//! protocol mode; afterwards the balances agree with the history (no lost update, no
//! half-applied transaction).

use crate::common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn pgbench_tpcb_runs_stay_consistent() {
    let s = Server::start_new("pgbench");
    let conn = |cmd: &mut Command| {
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &s.port.to_string(),
            "-U",
            "postgres",
            "postgres",
        ]);
    };
    let mut init = Command::new(pg_bin("pgbench"));
    init.args(["-i", "-s", "1", "-q"]);
    conn(&mut init);
    let out = run_with_timeout(&mut init, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    for mode in ["simple", "extended", "prepared"] {
        let mut run = Command::new(pg_bin("pgbench"));
        run.args(["-M", mode, "-c", "8", "-j", "2", "-t", "50"]);
        conn(&mut run);
        let out = run_with_timeout(&mut run, Duration::from_secs(120));
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("number of transactions actually processed: 400/400"),
            "{mode}: {}",
            stdout(&out)
        );
        // pgbench truncates the history at the start of each run, so compare this run's
        // history with the balances' change since the previous run.
        let sums = s.psql(
            "select (select sum(abalance) from pgbench_accounts) = (select sum(bbalance) from pgbench_branches), \
             (select sum(tbalance) from pgbench_tellers) = (select sum(bbalance) from pgbench_branches), \
             (select count(*) from pgbench_history)",
        );
        assert_eq!(sums, "t|t|400", "{mode}");
    }
    // Across all runs: the balances equal the sum of every delta ever applied, which the
    // last run's history alone cannot show; reset and check one run end to end.
    s.psql("update pgbench_accounts set abalance = 0 where abalance <> 0");
    s.psql("update pgbench_branches set bbalance = 0; update pgbench_tellers set tbalance = 0");
    let mut run = Command::new(pg_bin("pgbench"));
    run.args(["-M", "prepared", "-c", "8", "-j", "2", "-t", "50"]);
    conn(&mut run);
    assert!(run_with_timeout(&mut run, Duration::from_secs(120))
        .status
        .success());
    assert_eq!(
        s.psql(
            "select sum(abalance) = (select sum(delta) from pgbench_history) from pgbench_accounts"
        ),
        "t"
    );
}
