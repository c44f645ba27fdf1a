//! `START_REPLICATION` (physical): the CopyBoth stream of WAL to a standby or
//! pg_receivewal, with keepalives, standby replies, the lag tracker and the ends of a
//! stream (client CopyDone, end of a historic timeline, server shutdown, timeout).
//!
//! What it owns: the validation of the start point and timeline, the `w`/`k` messages,
//! the parsing of `r`/`h` replies, what the registry shows while streaming. What it must
//! never do: send WAL that is not flushed locally — on a standby, neither flushed by
//! the walreceiver nor replayed (`Engine::standby_flush_lsn`) — or read client input in
//! a way that can lose bytes (input is read with `read_buf`, which is cancel-safe, and
//! framed here).
//!
//! A cascading walsender (on a standby) checks before each round, after reading the
//! flush position, whether the timeline it streams became historic — the standby was
//! promoted, or its replay moved on to a newer timeline — and then ends that timeline
//! at its switch point exactly as a primary ends a historic one (PostgreSQL's
//! `XLogSendPhysical`), so its standbys follow onto the new timeline.
//!
//! One stream, step by step:
//! 1. [`WalSender::start_replication`] acquires the slot, checks the timeline against
//!    this server's history (errors before CopyBoth), sends CopyBothResponse, then
//!    checks that the start point is not ahead of the flush position (error after
//!    CopyBoth, as PostgreSQL);
//! 2. the loop sends flushed WAL in `w` messages of at most 128 kB, cut at 8 kB page
//!    boundaries when more is available, records (position, time) lag samples, and
//!    waits for a flush, a client message or a timer;
//! 3. `r` replies update write/flush/replay positions and lags and the slot (and may
//!    release a backup hold, see `storage::holds`); a reply
//!    request is answered with a `k`; silence for `wal_sender_timeout / 2` sends a `k`
//!    asking for a reply, for `wal_sender_timeout` ends the connection;
//! 4. CopyDone from the client ends the stream: CopyDone back, the next-timeline result
//!    set when a historic timeline ended, `START_STREAMING`, `START_REPLICATION`,
//!    ReadyForQuery.
//!
//! A write to the socket never waits longer than `wal_sender_timeout` counted from the
//! client's last message ([`WalSender::flush_bounded`]): on a link that stopped
//! forwarding without closing, the socket buffers fill and a plain write would wait
//! forever, leaving a walsender that neither times out nor leaves `pg_stat_replication`
//! (PostgreSQL's `WalSndWriteData` likewise checks the timeout while it waits for the
//! socket to become writable).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::error::{sqlstate, Error, Result};
use crate::server::ShutdownMode;
use crate::storage::wal::reader::find_segment;
use crate::storage::wal::segment::segment_file_name;
use crate::storage::wal::timeline::{read_history, switch_point};
use crate::storage::wal::{read_wal_bytes, Lsn};

use super::{col, text, Flow, WalSender, WalSenderState, INT8_OID, TEXT_OID};

/// The most WAL one `w` message carries (PostgreSQL's MAX_SEND_SIZE, 16 pages).
const MAX_SEND_SIZE: u64 = 128 * 1024;
/// The WAL page size; long messages end on a page boundary.
const XLOG_BLCKSZ: u64 = 8192;
/// How many `w` messages are queued before the socket is written and input checked.
const MESSAGES_PER_ROUND: usize = 16;
/// The lag tracker's capacity (PostgreSQL's LAG_TRACKER_BUFFER_SIZE).
const LAG_SAMPLES: usize = 8192;
/// The process title's position is refreshed at most this often.
const TITLE_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stopping walsender waits for the client to confirm the last WAL.
const STOP_CONFIRM_WAIT: Duration = Duration::from_secs(5);

/// PostgreSQL's lag tracker: samples of (WAL position, time it was flushed locally),
/// read by three heads (write, flush, apply). A head that passes samples yields the
/// time since the newest one it passed; a head stuck between two samples yields a
/// time interpolated between them (so a stalled standby shows a growing lag), or the
/// time since the next sample when it never passed one since it last caught up.
pub(super) struct LagTracker {
    samples: VecDeque<(Lsn, i64)>,
    /// Index (counting from the first sample ever pushed) of each head's next sample.
    heads: [u64; 3],
    /// The last sample each head passed, forgotten when it caught up with everything.
    last_read: [Option<(Lsn, i64)>; 3],
    /// How many samples were ever dropped from the front.
    dropped: u64,
    last_lsn: Lsn,
    /// The previous reply reported everything sent as applied (two such replies in a
    /// row clear the lags).
    fully_applied_last_time: bool,
}

impl LagTracker {
    pub(super) fn new() -> LagTracker {
        LagTracker {
            samples: VecDeque::new(),
            heads: [0; 3],
            last_read: [None; 3],
            dropped: 0,
            last_lsn: Lsn::INVALID,
            fully_applied_last_time: false,
        }
    }

    fn pushed(&self) -> u64 {
        self.dropped + self.samples.len() as u64
    }

    /// Records that WAL up to `lsn` was available (flushed) at `now`.
    pub(super) fn write(&mut self, lsn: Lsn, now: i64) {
        if lsn <= self.last_lsn {
            return;
        }
        self.last_lsn = lsn;
        if self.samples.len() == LAG_SAMPLES {
            // Full: the oldest sample goes; a head still on it keeps it as its last
            // passed sample, so its lag keeps growing.
            let oldest = self.samples.pop_front();
            for (i, h) in self.heads.iter_mut().enumerate() {
                if *h == self.dropped {
                    *h += 1;
                    self.last_read[i] = oldest;
                }
            }
            self.dropped += 1;
        }
        self.samples.push_back((lsn, now));
        // Samples every head has passed are no longer needed.
        let min_head = self.heads.iter().copied().min().unwrap_or(0);
        while self.dropped < min_head {
            self.samples.pop_front();
            self.dropped += 1;
        }
    }

    /// Head `which` (0 write, 1 flush, 2 apply) reached `lsn` at `now`: the lag in
    /// microseconds, or None when there is no new information.
    pub(super) fn read(&mut self, which: usize, lsn: Lsn, now: i64) -> Option<i64> {
        let mut passed = None;
        while let Some(&(sample_lsn, time)) = self
            .samples
            .get((self.heads[which] - self.dropped) as usize)
        {
            if sample_lsn > lsn {
                break;
            }
            passed = Some(time);
            self.last_read[which] = Some((sample_lsn, time));
            self.heads[which] += 1;
        }
        let caught_up = self.heads[which] == self.pushed();
        if caught_up {
            self.last_read[which] = None;
        }
        let time = match passed {
            Some(t) => t,
            None if caught_up => return None,
            None => {
                let (next_lsn, next_time) =
                    self.samples[(self.heads[which] - self.dropped) as usize];
                match self.last_read[which] {
                    Some((prev_lsn, prev_time)) => {
                        if lsn < prev_lsn || prev_time > next_time || next_lsn <= prev_lsn {
                            return None;
                        }
                        let fraction =
                            (lsn.0 - prev_lsn.0) as f64 / (next_lsn.0 - prev_lsn.0) as f64;
                        prev_time + ((next_time - prev_time) as f64 * fraction) as i64
                    }
                    None => next_time,
                }
            }
        };
        if time > now {
            return None;
        }
        Some(now - time)
    }
}

/// Where timeline `tli` ended in the history of timeline `newest` (read from
/// `pg_wal/`), and the timeline that followed it (PostgreSQL's `tliSwitchPoint`).
fn historic_end(pg_wal: &std::path::Path, newest: u32, tli: u32) -> Result<(Lsn, u32)> {
    let history = read_history(pg_wal, newest)?;
    let Some(end) = switch_point(&history, tli).filter(|e| e.is_valid()) else {
        crate::bail!(
            sqlstate::INTERNAL_ERROR,
            "requested timeline {} is not in this server's history",
            tli
        );
    };
    let next = history
        .iter()
        .filter(|e| e.tli > tli)
        .map(|e| e.tli)
        .min()
        .unwrap_or(newest);
    Ok((end, next))
}

/// The result of waiting for something to do in the streaming loop.
enum Event {
    /// Bytes arrived from the client (0 = it closed the connection).
    Input(usize),
    /// Nothing in particular: re-check WAL, timers and shutdown.
    Tick,
}

/// Logs the end of a stream by `wal_sender_timeout` (PostgreSQL's text) and says to close.
fn timed_out() -> StreamEnd {
    tracing::info!(
        severity = "LOG",
        "terminating walsender process due to replication timeout"
    );
    StreamEnd::Close
}

/// Why the stream is stopping.
enum StreamEnd {
    /// The client sent CopyDone.
    ClientDone,
    /// The connection must end without more messages.
    Close,
    /// The server is shutting down: send the rest, `COPY 0`, close.
    Shutdown,
    /// An error for the client (ErrorResponse + ReadyForQuery).
    Error(Error),
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// Queues one CopyData message with `payload`.
fn copy_data(out: &mut crate::server::protocol::Writer, payload: &[u8]) {
    let mut header = [0u8; 5];
    header[0] = b'd';
    header[1..5].copy_from_slice(&((payload.len() + 4) as u32).to_be_bytes());
    out.raw(&header);
    out.raw(payload);
}

fn keepalive(out: &mut crate::server::protocol::Writer, sent: Lsn, reply_requested: bool) {
    let mut p = Vec::with_capacity(18);
    p.push(b'k');
    p.extend_from_slice(&sent.0.to_be_bytes());
    p.extend_from_slice(&crate::types::now_micros().to_be_bytes());
    p.push(reply_requested as u8);
    copy_data(out, &p);
}

impl WalSender {
    /// Whether an idle walsender (not streaming) should end for a server shutdown:
    /// fast/immediate at once, smart once no ordinary session is left (walsenders serve
    /// until then, as in PostgreSQL), and in any case once the shutdown checkpoint is
    /// written.
    pub(super) fn should_stop_for_shutdown(&self, mode: ShutdownMode) -> bool {
        if self.shared.walsenders.stopping() {
            return true;
        }
        match mode {
            ShutdownMode::Running => false,
            ShutdownMode::Smart => !self
                .shared
                .backends
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|b| b.counted),
            ShutdownMode::Fast | ShutdownMode::Immediate => true,
        }
    }

    pub(super) async fn start_replication(
        &mut self,
        slot: Option<String>,
        start: Lsn,
        timeline: Option<u32>,
    ) -> Flow {
        let pid = self.pid();
        if let Some(name) = &slot {
            if let Err(e) = self.shared.slots.acquire(name, pid) {
                self.fail(&e);
                self.ready();
                return Flow::Continue;
            }
        }
        let flow = self.stream(slot.as_deref(), start, timeline).await;
        if let Some(name) = &slot {
            self.shared.slots.release(name, pid);
        }
        self.registration
            .update(|w| w.state = WalSenderState::Startup);
        flow
    }

    /// Validates and runs one stream; the slot (if any) is held by the caller.
    async fn stream(&mut self, slot: Option<&str>, start: Lsn, timeline: Option<u32>) -> Flow {
        let engine = self.shared.engine.clone();
        // On a standby this is a cascading walsender: it sends what the standby has
        // flushed or replayed, on the timeline replay is on.
        let cascading = engine.in_recovery();
        let (flush, current_tli) = super::flush_position(&engine);
        let tli = timeline.unwrap_or(current_tli);
        let pg_wal = self.shared.datadir.join("pg_wal");
        // A cascading walsender's standbys are never synchronous (PostgreSQL gives them
        // priority 0: synchronous cascading replication is not supported).
        self.registration.update(|w| w.cascading = cascading);
        // A historic timeline ends at its switch point; the next one follows it.
        let mut valid_upto: Option<(Lsn, u32)> = None;
        if tli != current_tli {
            let checked = historic_end(&pg_wal, current_tli, tli).and_then(|(end, next)| {
                if start > end {
                    return Err(crate::err!(
                        sqlstate::INTERNAL_ERROR,
                        "requested starting point {} on timeline {} is not in this server's history",
                        start,
                        tli
                    )
                    .with_detail(format!(
                        "This server's history forked from timeline {tli} at {end}."
                    )));
                }
                Ok((end, next))
            });
            match checked {
                Ok(v) => valid_upto = Some(v),
                Err(e) => {
                    self.fail(&e);
                    self.ready();
                    return Flow::Continue;
                }
            }
        }
        let historic_at_end = valid_upto.is_some_and(|(end, _)| start >= end);
        if !historic_at_end {
            self.registration.update(|w| {
                w.state = WalSenderState::Catchup;
                w.sent_lsn = Some(start);
            });
            if let Some(name) = slot {
                self.shared.slots.reserve_if_unset(name, start, tli);
            }
            // CopyBothResponse: overall format 0, no columns.
            self.out.raw(&[b'W', 0, 0, 0, 7, 0, 0, 0]);
            if valid_upto.is_none() && start > flush {
                self.fail(&crate::err!(
                    sqlstate::INTERNAL_ERROR,
                    "requested starting point {} is ahead of the WAL flush position of this server {}",
                    start,
                    flush
                ));
                self.ready();
                return Flow::Continue;
            }
            // Backup holds (storage/holds.rs): a stream on the current timeline may
            // release the holds made before it started; one that reports no replay
            // position may be a backup's own WAL stream, whose end a hold records.
            let hold_origin = valid_upto
                .is_none()
                .then(|| (self.shared.engine.backup_hold_token(), start));
            let end = self
                .stream_loop(slot, start, tli, &mut valid_upto, cascading, hold_origin)
                .await;
            self.note_backup_stream_end(hold_origin);
            match end {
                StreamEnd::ClientDone => {}
                StreamEnd::Close => return Flow::Close,
                StreamEnd::Shutdown => {
                    self.out.command_complete("COPY 0");
                    return Flow::Close;
                }
                StreamEnd::Error(e) => {
                    // Logged on this side too, as PostgreSQL does (retention, E).
                    crate::server::log_error(&e);
                    self.fail(&e);
                    self.ready();
                    return Flow::Continue;
                }
            }
        }
        if let Some((end, next)) = valid_upto {
            self.out.row_description(
                &[
                    col("next_tli", INT8_OID, 8, -1),
                    col("next_tli_startpos", TEXT_OID, -1, -1),
                ],
                &[],
            );
            self.out
                .data_row(&[text(next.to_string()), text(end.to_string())]);
        }
        self.out.command_complete("START_STREAMING");
        self.out.command_complete("START_REPLICATION");
        self.ready();
        Flow::Continue
    }

    /// Writes everything queued, giving up once the client has been silent for
    /// `timeout` since `last_input`: `Err(None)` then, `Err(Some(e))` when the socket
    /// failed. A write that was given up leaves the stream unusable (part of a message
    /// may be out, the rest is dropped): the caller must close the connection.
    async fn flush_bounded(
        &mut self,
        timeout: Option<Duration>,
        last_input: Instant,
    ) -> std::result::Result<(), Option<std::io::Error>> {
        let flush = self.out.flush(&mut self.io);
        match timeout {
            None => flush.await.map_err(Some),
            Some(t) => {
                match tokio::time::timeout(t.saturating_sub(last_input.elapsed()), flush).await {
                    Ok(r) => r.map_err(Some),
                    Err(_) => {
                        // Part of what was queued may be out: nothing more may follow, and
                        // the command loop's own flush must not wait on this socket again.
                        self.out = crate::server::protocol::Writer::new();
                        Err(None)
                    }
                }
            }
        }
    }

    /// The CopyBoth loop. Returns how the stream ended. `valid_upto` is the end of a
    /// historic timeline and the next one; a cascading walsender (`cascading`) sets it
    /// when the timeline it streams becomes historic — the standby was promoted, or
    /// replay moved on to a newer timeline — as PostgreSQL's `XLogSendPhysical`.
    async fn stream_loop(
        &mut self,
        slot: Option<&str>,
        start: Lsn,
        tli: u32,
        valid_upto: &mut Option<(Lsn, u32)>,
        mut cascading: bool,
        hold_origin: Option<(u64, Lsn)>,
    ) -> StreamEnd {
        let engine = self.shared.engine.clone();
        let mut progress_rx = engine.subscribe_standby_progress();
        let pg_wal = self.shared.datadir.join("pg_wal");
        let config = self.shared.config();
        let segment_size = super::segment_size(&self.shared);
        let timeout_ms = config.get_int("wal_sender_timeout").max(0) as u64;
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        let mut flush_rx = engine.subscribe_wal_flush();
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut final_stop = self.shared.walsenders.subscribe_stop();
        let mut sent = start;
        let mut last_input = Instant::now();
        let mut waiting_for_ping = false;
        let mut done_sending = false;
        let mut lag = LagTracker::new();
        let mut stopping = false;
        let mut stop_deadline: Option<Instant> = None;
        let mut buf = vec![0u8; MAX_SEND_SIZE as usize];
        let mut last_title_at = Instant::now()
            .checked_sub(TITLE_INTERVAL)
            .unwrap_or_else(Instant::now);
        // The position the `ps` title shows; a stale title bounds the next wait.
        let mut titled_sent = Lsn(0);
        loop {
            // 1. Queue what WAL there is.
            let end = match *valid_upto {
                Some((end, _)) => end,
                None if cascading => {
                    // The flush position first, then whether its timeline is still
                    // the one streamed: a timeline that became historic just after
                    // may still be sent up to the position read before.
                    let (mut flush, flush_tli) = engine.standby_flush_lsn();
                    let newest = if engine.in_recovery() {
                        flush_tli
                    } else {
                        // Promoted: from now on this is a primary's walsender.
                        cascading = false;
                        self.registration.update(|w| w.cascading = false);
                        flush = engine.wal_flush_lsn();
                        engine.timeline()
                    };
                    if newest == tli {
                        flush
                    } else {
                        match historic_end(&pg_wal, newest, tli) {
                            Ok((end, next)) => {
                                *valid_upto = Some((end, next));
                                end
                            }
                            Err(e) => return StreamEnd::Error(e),
                        }
                    }
                }
                None => engine.wal_flush_lsn(),
            };
            let valid_upto = *valid_upto;
            let mut messages = 0;
            while sent < end && messages < MESSAGES_PER_ROUND {
                let mut upto = end;
                if upto.0 - sent.0 > MAX_SEND_SIZE {
                    upto = Lsn(sent.0 + MAX_SEND_SIZE);
                    upto = Lsn(upto.0 - upto.0 % XLOG_BLCKSZ);
                }
                let want = (upto.0 - sent.0) as usize;
                let mut got = 0;
                while got < want {
                    // The segment holding a historic timeline's switch point exists
                    // on both timelines; the new one's file is complete (the old one
                    // may have been renamed `.partial`), as PostgreSQL's walsender
                    // reads it.
                    let at = sent + got as u64;
                    let read_tli = match valid_upto {
                        Some((end, next)) if at.0 / segment_size == end.0 / segment_size => next,
                        _ => tli,
                    };
                    match read_wal_bytes(&pg_wal, segment_size, read_tli, at, &mut buf[got..want]) {
                        Ok(0) => {
                            return StreamEnd::Error(crate::err!(
                                sqlstate::INTERNAL_ERROR,
                                "could not read WAL at {}: unexpected end of file",
                                sent + got as u64
                            ))
                        }
                        Ok(n) => got += n,
                        Err(e) => return StreamEnd::Error(e),
                    }
                }
                // A checkpoint may have removed or recycled a segment while it was
                // read: then what was read cannot be trusted (PostgreSQL's
                // CheckXLogRemoved after each read).
                let first = sent.0 / segment_size;
                let last = (upto.0 - 1) / segment_size;
                for segno in first..=last {
                    let file_tli = match valid_upto {
                        Some((end, next)) if segno == end.0 / segment_size => next,
                        _ => tli,
                    };
                    if find_segment(&pg_wal, file_tli, segno, segment_size).is_none() {
                        return StreamEnd::Error(crate::err!(
                            sqlstate::UNDEFINED_FILE,
                            "requested WAL segment {} has already been removed",
                            segment_file_name(tli, segno, segment_size)
                        ));
                    }
                }
                let mut header = Vec::with_capacity(25);
                header.push(b'w');
                header.extend_from_slice(&sent.0.to_be_bytes());
                header.extend_from_slice(&end.0.to_be_bytes());
                header.extend_from_slice(&crate::types::now_micros().to_be_bytes());
                let mut frame = [0u8; 5];
                frame[0] = b'd';
                frame[1..5].copy_from_slice(&((4 + header.len() + want) as u32).to_be_bytes());
                self.out.raw(&frame);
                self.out.raw(&header);
                self.out.raw(&buf[..want]);
                lag.write(end, crate::types::now_micros());
                sent = upto;
                messages += 1;
            }
            let caught_up = sent >= end;
            let state = if stopping {
                WalSenderState::Stopping
            } else if caught_up {
                WalSenderState::Streaming
            } else {
                WalSenderState::Catchup
            };
            self.registration.update(|w| {
                w.sent_lsn = Some(sent);
                // [F] As PostgreSQL: once caught up, a walsender stays `streaming`
                // (a burst of new WAL does not turn it back into `catchup`).
                w.state = match (w.state, state) {
                    (WalSenderState::Streaming, WalSenderState::Catchup) => {
                        WalSenderState::Streaming
                    }
                    (_, s) => s,
                };
            });
            if last_title_at.elapsed() >= TITLE_INTERVAL {
                self.refresh_title();
                last_title_at = Instant::now();
                titled_sent = sent;
            }
            // 2. A historic timeline is finished once its switch point is sent.
            if valid_upto.is_some() && caught_up && !done_sending {
                self.out.raw(&[b'c', 0, 0, 0, 4]);
                done_sending = true;
            }
            // 3. Stopping for shutdown: everything sent, then ask for a final reply.
            if stopping && caught_up && stop_deadline.is_none() {
                keepalive(&mut self.out, sent, true);
                stop_deadline = Some(Instant::now() + STOP_CONFIRM_WAIT);
            }
            match self.flush_bounded(timeout, last_input).await {
                Ok(()) => {}
                Err(Some(e)) => {
                    tracing::debug!("walsender {}: client gone: {e}", self.pid());
                    return StreamEnd::Close;
                }
                Err(None) => return timed_out(),
            }
            if let Some(deadline) = stop_deadline {
                let confirmed = self.registration_flush_or_write() >= Some(sent);
                if confirmed || Instant::now() >= deadline {
                    return StreamEnd::Shutdown;
                }
            }
            // 4. Timers: replication timeout and keepalives.
            if let Some(t) = timeout {
                let silent = last_input.elapsed();
                if silent >= t {
                    return timed_out();
                }
                // After our CopyDone nothing more may be sent.
                if silent >= t / 2 && !waiting_for_ping && !done_sending {
                    keepalive(&mut self.out, sent, true);
                    waiting_for_ping = true;
                    match self.flush_bounded(Some(t), last_input).await {
                        Ok(()) => {}
                        Err(Some(_)) => return StreamEnd::Close,
                        Err(None) => return timed_out(),
                    }
                }
            }
            // 5. Wait for input, new WAL, a timer or shutdown.
            let more_now = !caught_up;
            let wake_in = match timeout {
                Some(t) => {
                    let silent = last_input.elapsed();
                    let next = if waiting_for_ping { t } else { t / 2 };
                    next.saturating_sub(silent).max(Duration::from_millis(10))
                }
                None => Duration::from_secs(3600),
            };
            let wake_in = if stop_deadline.is_some() {
                wake_in.min(Duration::from_millis(50))
            } else if *shutdown.borrow() == ShutdownMode::Smart {
                // A smart shutdown re-checks the remaining sessions now and then.
                wake_in.min(Duration::from_millis(100))
            } else {
                wake_in
            };
            let wake_in = if titled_sent != sent {
                wake_in.min(TITLE_INTERVAL)
            } else {
                wake_in
            };
            let event = tokio::select! {
                biased;
                r = self.io.read_buf(&mut self.inbuf) => match r {
                    Ok(n) => Event::Input(n),
                    Err(_) => Event::Input(0),
                },
                _ = std::future::ready(()), if more_now => Event::Tick,
                _ = self.terminate_notify.notified() => Event::Tick,
                r = shutdown.changed() => {
                    if r.is_err() {
                        // The postmaster is gone; nothing will change any more.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Event::Tick
                }
                _ = flush_rx.changed(), if valid_upto.is_none() => Event::Tick,
                _ = progress_rx.changed(), if valid_upto.is_none() && cascading => Event::Tick,
                r = final_stop.changed(), if !stopping => {
                    if r.is_err() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Event::Tick
                }
                _ = tokio::time::sleep(wake_in) => Event::Tick,
            };
            if let Event::Input(0) = event {
                return StreamEnd::Close;
            }
            if let Event::Input(_) = event {
                last_input = Instant::now();
                waiting_for_ping = false;
                loop {
                    match super::take_frame(&mut self.inbuf) {
                        Ok(None) => break,
                        Ok(Some((tag, body))) => {
                            match self.client_message(
                                tag,
                                &body,
                                slot,
                                sent,
                                !done_sending,
                                &mut lag,
                            ) {
                                Ok(Some(end)) => {
                                    if let StreamEnd::ClientDone = end {
                                        if !done_sending {
                                            self.out.raw(&[b'c', 0, 0, 0, 4]);
                                        }
                                    }
                                    if let StreamEnd::Error(e) = &end {
                                        crate::server::log_error(e);
                                        self.out.error(e);
                                        let _ = self.flush_bounded(timeout, last_input).await;
                                        return StreamEnd::Close;
                                    }
                                    return end;
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    crate::server::log_error(&e);
                                    self.out.error(&e);
                                    let _ = self.flush_bounded(timeout, last_input).await;
                                    return StreamEnd::Close;
                                }
                            }
                        }
                        Err(e) => {
                            crate::server::log_error(&e);
                            self.out.error(&e);
                            let _ = self.flush_bounded(timeout, last_input).await;
                            return StreamEnd::Close;
                        }
                    }
                }
                self.release_backup_holds(hold_origin);
            }
            // 6. Termination and shutdown.
            let mode = *shutdown.borrow();
            if self.terminate.load(Ordering::SeqCst) && mode == ShutdownMode::Running {
                let e = Error::fatal(
                    sqlstate::ADMIN_SHUTDOWN,
                    "terminating connection due to administrator command",
                );
                self.out.error(&e);
                let _ = self.flush_bounded(timeout, last_input).await;
                return StreamEnd::Close;
            }
            if mode == ShutdownMode::Immediate {
                return StreamEnd::Close;
            }
            // A streaming walsender keeps streaming through a smart or fast shutdown
            // until the postmaster has written the shutdown checkpoint, so the standby
            // receives it too.
            if !stopping && self.shared.walsenders.stopping() {
                stopping = true;
            }
        }
    }

    /// The client's confirmed position: its flush position, or its write position when
    /// it does not report flushes (pg_receivewal without a slot).
    fn registration_flush_or_write(&self) -> Option<Lsn> {
        let info = self.shared.walsenders.get(self.pid())?;
        match info.flush_lsn {
            Some(f) if f.is_valid() => Some(f),
            _ => info.write_lsn,
        }
    }

    /// Backup holds (storage/holds.rs): a standby that reported WAL flushed past a hold
    /// releases it. `origin` is the stream's hold token and start point (`None` on a
    /// historic timeline).
    fn release_backup_holds(&self, origin: Option<(u64, Lsn)>) {
        let Some((token, start)) = origin else { return };
        let engine = &self.shared.engine;
        if !engine.has_backup_holds() {
            return;
        }
        if let Some(info) = self.shared.walsenders.get(self.pid()) {
            let flush = info.flush_lsn.unwrap_or(Lsn(0));
            let replay = info.replay_lsn.unwrap_or(Lsn(0));
            engine.standby_streamed_past(token, start, flush, replay);
        }
    }

    /// Backup holds (storage/holds.rs): a stream that ended without ever reporting a
    /// replay position tells the engine how far it sent, in case it was a base
    /// backup's own WAL stream.
    fn note_backup_stream_end(&self, origin: Option<(u64, Lsn)>) {
        let Some((_, start)) = origin else { return };
        if let Some(info) = self.shared.walsenders.get(self.pid()) {
            let replayed = info.replay_lsn.is_some_and(|r| r.is_valid());
            if let (false, Some(sent)) = (replayed, info.sent_lsn) {
                self.shared.engine.backup_stream_ended(start, sent);
            }
        }
    }

    /// Releases the commits the synchronous standbys have now confirmed, and logs
    /// when this standby becomes one of them (PostgreSQL's texts).
    fn release_sync_waiters(&mut self) {
        let am_sync = self
            .shared
            .walsenders
            .release_sync_waiters(Some(self.pid()));
        if let (Some((method, priority)), true) = (am_sync, self.announce_sync) {
            let app = self
                .shared
                .walsenders
                .get(self.pid())
                .map(|w| w.application_name)
                .unwrap_or_default();
            match method {
                crate::config::value::SyncMethod::Priority => tracing::info!(
                    severity = "LOG",
                    "standby \"{app}\" is now a synchronous standby with priority {priority}"
                ),
                crate::config::value::SyncMethod::Quorum => tracing::info!(
                    severity = "LOG",
                    "standby \"{app}\" is now a candidate for quorum synchronous standby"
                ),
            }
        }
        self.announce_sync = am_sync.is_none();
    }

    /// Handles one client message during CopyBoth. `Ok(Some(end))` ends the stream.
    fn client_message(
        &mut self,
        tag: u8,
        body: &[u8],
        slot: Option<&str>,
        sent: Lsn,
        may_send: bool,
        lag: &mut LagTracker,
    ) -> Result<Option<StreamEnd>> {
        match tag {
            b'd' => {}
            b'c' => return Ok(Some(StreamEnd::ClientDone)),
            b'X' => return Ok(Some(StreamEnd::Close)),
            other => {
                return Err(Error::fatal(
                    sqlstate::PROTOCOL_VIOLATION,
                    format!("invalid standby message type \"{}\"", other as char),
                ))
            }
        }
        let insufficient = || {
            Error::fatal(
                sqlstate::PROTOCOL_VIOLATION,
                "insufficient data left in message",
            )
        };
        match body.first() {
            Some(b'r') => {
                if body.len() < 34 {
                    return Err(insufficient());
                }
                let write = Lsn(be64(&body[1..]));
                let flush = Lsn(be64(&body[9..]));
                let apply = Lsn(be64(&body[17..]));
                let reply_time = be64(&body[25..]) as i64;
                let reply_requested = body[33] != 0;
                let now = crate::types::now_micros();
                // PostgreSQL clears the lags once the standby has applied everything
                // twice in a row (nothing is in flight any more).
                let mut clear = false;
                if apply == sent {
                    if lag.fully_applied_last_time {
                        clear = true;
                    }
                    lag.fully_applied_last_time = true;
                } else {
                    lag.fully_applied_last_time = false;
                }
                let write_lag = lag.read(0, write, now);
                let flush_lag = lag.read(1, flush, now);
                let apply_lag = lag.read(2, apply, now);
                self.registration.update(|w| {
                    w.write_lsn = Some(write);
                    w.flush_lsn = Some(flush);
                    w.replay_lsn = Some(apply);
                    w.reply_time = Some(reply_time);
                    if write_lag.is_some() || clear {
                        w.write_lag = write_lag;
                    }
                    if flush_lag.is_some() || clear {
                        w.flush_lag = flush_lag;
                    }
                    if apply_lag.is_some() || clear {
                        w.replay_lag = apply_lag;
                    }
                });
                if let Some(name) = slot {
                    if flush.is_valid() {
                        self.shared.slots.confirm_flush(name, flush);
                    }
                }
                self.release_sync_waiters();
                if reply_requested && may_send {
                    keepalive(&mut self.out, sent, false);
                }
                Ok(None)
            }
            Some(b'h') => {
                if body.len() < 25 {
                    return Err(insufficient());
                }
                let reply_time = be64(&body[1..]) as i64;
                self.registration
                    .update(|w| w.reply_time = Some(reply_time));
                let xmin = be32(&body[9..]);
                // With a slot the xmin is the slot's; without one it shows as the
                // walsender's backend_xmin.
                let xmin = (xmin != 0).then_some(xmin);
                match slot {
                    Some(name) => self.shared.slots.set_xmin(name, xmin),
                    None => self.registration.update(|w| w.backend_xmin = xmin),
                }
                Ok(None)
            }
            Some(&other) => {
                tracing::warn!(
                    severity = "LOG",
                    "unexpected message type \"{}\"",
                    other as char
                );
                Ok(Some(StreamEnd::Close))
            }
            None => Err(insufficient()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_tracker_reads_samples_in_order() {
        let mut t = LagTracker::new();
        t.write(Lsn(100), 1_000);
        t.write(Lsn(200), 2_000);
        t.write(Lsn(200), 2_500); // same position: ignored
        t.write(Lsn(300), 3_000);
        // Before the first sample, never passed one: time since the next sample.
        assert_eq!(t.read(0, Lsn(50), 5_000), Some(4_000));
        assert_eq!(t.read(0, Lsn(250), 5_000), Some(3_000));
        // Between 200 (t=2000) and 300 (t=3000): interpolated.
        assert_eq!(t.read(0, Lsn(250), 6_000), Some(3_500));
        assert_eq!(t.read(0, Lsn(300), 7_000), Some(4_000));
        // Caught up with every sample: no new information.
        assert_eq!(t.read(0, Lsn(300), 8_000), None);
        // The flush head is independent of the write head.
        assert_eq!(t.read(1, Lsn(100), 8_000), Some(7_000));
        // A stuck apply head (pg_receivewal reports 0/0) sees a growing lag.
        assert_eq!(t.read(2, Lsn(0), 8_000), Some(7_000));
        assert_eq!(t.read(2, Lsn(0), 9_000), Some(8_000));
    }

    /// The end of a timeline that became historic, read from the newest timeline's
    /// history as a cascading walsender does after a promotion or a timeline switch.
    #[test]
    fn historic_end_from_the_newest_history() {
        let dir = std::env::temp_dir().join(format!(
            "tusk-historic-end-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let write = crate::storage::wal::timeline::write_history;
        write(
            &dir,
            2,
            1,
            Lsn(0x201850),
            "no recovery target specified",
            false,
        )
        .unwrap();
        write(
            &dir,
            3,
            2,
            Lsn(0x500000),
            "no recovery target specified",
            false,
        )
        .unwrap();
        assert_eq!(historic_end(&dir, 2, 1).unwrap(), (Lsn(0x201850), 2));
        assert_eq!(historic_end(&dir, 3, 1).unwrap(), (Lsn(0x201850), 2));
        assert_eq!(historic_end(&dir, 3, 2).unwrap(), (Lsn(0x500000), 3));
        let e = historic_end(&dir, 2, 3).unwrap_err();
        assert_eq!(
            e.message,
            "requested timeline 3 is not in this server's history"
        );
        // The newest timeline itself has no end.
        assert!(historic_end(&dir, 3, 3).is_err());
        assert!(historic_end(&dir, 4, 1).is_err(), "no history file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lag_tracker_is_bounded() {
        let mut t = LagTracker::new();
        for i in 1..=(LAG_SAMPLES as u64 * 2) {
            t.write(Lsn(i * 10), i as i64 * 10);
        }
        assert!(t.samples.len() <= LAG_SAMPLES);
        let last = LAG_SAMPLES as u64 * 20;
        assert_eq!(t.read(0, Lsn(last), last as i64 + 10), Some(10));
        // A head left behind interpolates from the newest sample it lost.
        let lost = LAG_SAMPLES as u64 * 10;
        assert_eq!(
            t.read(2, Lsn(lost + 5), last as i64 + 10),
            Some(last as i64 + 10 - (lost as i64 + 5))
        );
    }
}
