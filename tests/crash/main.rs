//! Crash scenarios (issue 3 evidence): the real `tusk` binary is SIGKILLed under a
//! concurrent bank-transfer workload and restarted, and its WAL tail is truncated and
//! bit-flipped before restarts; what the clients were told must match what is there.
//! `TUSK_CRASH_ROUNDS` (default 3) sets the rounds; `TUSK_CRASH_SEED` replays a run.

mod bank;
mod common;
mod known_bugs;
mod wal_tail;
