//! `tusk waldump` on segments a real server wrote, checked against stock
//! `pg_waldump` 15 on the same files: the same records (LSN, previous LSN, length,
//! transaction), tusk's descriptions where pg_waldump can only say `UNKNOWN`, the same
//! statistics totals, the same messages for a start inside a record and for errors.

#[path = "common/mod.rs"]
mod common;

use common::*;
use std::process::{Command, Output};

fn waldump(args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(tusk_bin()).arg("waldump").args(args),
        std::time::Duration::from_secs(60),
    )
}

fn pg_waldump(args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(pg_bin("pg_waldump")).args(args),
        std::time::Duration::from_secs(60),
    )
}

/// The fields both tools print the same way: everything before `desc:`.
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("rmgr: "))
        .map(|l| {
            let (head, _) = l.split_once(", desc:").unwrap();
            // The resource manager's name differs (tusk's vs `customNNN`): keep the rest.
            head.split_once(" len ").unwrap().1.to_string()
        })
        .collect()
}

#[test]
fn waldump_describes_what_the_server_wrote() {
    let mut s = Server::init("waldump", &[]);
    // The segments stay for reading after the shutdown checkpoint.
    s.append_conf("wal_keep_size = '256MB'\n");
    s.start();
    s.psql(
        "create table items (id int primary key, name text); \
         insert into items values (1, 'apple'), (2, 'pear'); \
         update items set name = 'plum' where id = 2; \
         delete from items where id = 1; \
         checkpoint",
    );
    let xid = s.psql("begin; insert into items values (7, 'fig'); select txid_current(); commit");
    let xid = xid
        .lines()
        .find(|l| l.trim().parse::<u32>().is_ok())
        .unwrap()
        .trim()
        .to_string();
    let segment = s.psql("select pg_walfile_name(pg_current_wal_lsn())");
    s.psql("select pg_switch_wal()");
    s.stop();
    let wal = s.datadir().join("pg_wal");
    let wal = wal.to_str().unwrap();

    // 1. Every record, described.
    let ours = waldump(&["-p", wal, &segment]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    let text = stdout(&ours);
    for want in [
        "rmgr: TuskCatalog",
        "desc: CREATE TABLE db 5 oid",
        "name items",
        "INSERT db 5 rel",
        ": (1, apple)",
        ": (2, plum)",
        "DELETE db 5 rel",
        "desc: COMMIT ",
        "desc: CHECKPOINT_ONLINE redo ",
        "rmgr: XLOG        len (rec/tot):     24/    24",
        "desc: SWITCH",
        ": (7, fig)",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    // 2. The same records as stock pg_waldump reads from the same file.
    let theirs = pg_waldump(&["-p", wal, &segment]);
    assert!(theirs.status.success(), "{}", stderr(&theirs));
    assert_eq!(frames(&text), frames(&stdout(&theirs)));
    assert!(frames(&text).len() >= 10, "{text}");

    // 3. Filters: one transaction; one resource manager; a limit.
    let one = stdout(&waldump(&["-p", wal, "-x", &xid, &segment]));
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(lines.len(), 2, "{one}");
    assert!(
        lines[0].contains(": (7, fig)") && lines[1].contains("desc: COMMIT"),
        "{one}"
    );
    let heap = stdout(&waldump(&["-p", wal, "--rmgr=TuskHeap", &segment]));
    assert!(
        heap.lines().all(|l| l.starts_with("rmgr: TuskHeap ")),
        "{heap}"
    );
    assert_eq!(
        stdout(&waldump(&["-p", wal, "-n", "3", &segment]))
            .lines()
            .count(),
        3
    );

    // 4. A start inside a record: the same notice and the same records as pg_waldump.
    let second = text.lines().nth(1).unwrap();
    let lsn = second
        .split("lsn: ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let (hi, lo) = lsn.split_once('/').unwrap();
    let inside = format!("{hi}/{:X}", u64::from_str_radix(lo, 16).unwrap() + 1);
    let ours = stdout(&waldump(&["-p", wal, "-s", &inside, &segment]));
    let theirs = stdout(&pg_waldump(&["-p", wal, "-s", &inside, &segment]));
    assert_eq!(
        ours.lines().next(),
        theirs.lines().next(),
        "{ours}\n{theirs}"
    );
    assert!(
        ours.starts_with(&format!("first record is after {inside}")),
        "{ours}"
    );
    assert_eq!(frames(&ours), frames(&theirs));

    // 5. Statistics: the same totals line.
    let ours = stdout(&waldump(&["-p", wal, "-z", &segment]));
    let theirs = stdout(&pg_waldump(&["-p", wal, "-z", &segment]));
    let total = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("Total"))
            .unwrap()
            .to_string()
    };
    assert_eq!(total(&ours), total(&theirs), "{ours}\n{theirs}");
    assert_eq!(ours.lines().next(), theirs.lines().next());

    // 6. Errors, in pg_waldump's words, exit status 1.
    for (args, pg_args, message) in [
        (vec![], vec![], "no arguments specified"),
        (
            vec!["-p", wal, "00000001000000000000FFFF"],
            vec!["-p", wal, "00000001000000000000FFFF"],
            "could not locate WAL file \"00000001000000000000FFFF\"",
        ),
        (
            vec!["-p", wal, "-r", "foo", segment.as_str()],
            vec!["-p", wal, "-r", "foo", segment.as_str()],
            "resource manager \"foo\" does not exist",
        ),
        (
            vec!["-s", "bogus"],
            vec!["-s", "bogus"],
            "invalid WAL location: \"bogus\"",
        ),
    ] {
        let ours = waldump(&args);
        let theirs = pg_waldump(&pg_args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}");
        assert_eq!(theirs.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&ours).contains(&format!("tusk waldump: error: {message}")),
            "{args:?}: {}",
            stderr(&ours)
        );
        assert!(
            stderr(&theirs).contains(&format!("pg_waldump: error: {message}")),
            "{args:?}: {}",
            stderr(&theirs)
        );
    }
}
