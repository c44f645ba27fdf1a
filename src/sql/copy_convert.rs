//! COPY FROM's conversion threads: a large text-format COPY has its lines cut into
//! fields and converted to typed values on threads of their own (two where the machine
//! has two cores: converting costs about twice what inserting does), while the
//! session's backend inserts the batches before — COPY's work spread over the cores.
//!
//! What it owns: [`Converter`], which the session starts for a text or CSV COPY once
//! the input outgrows one batch, when every column copied has a type whose text input
//! depends on nothing but the text, the column's typmod and the session's TimeZone
//! ([`context_free`]; the threads take the zone the backend has when the COPY starts,
//! and an enum, whose labels live in the backend's catalog snapshot, keeps the COPY on
//! the backend). Batches go to the threads in turn and are taken back in the same
//! order. The line-cutting state that runs from batch to batch is the converter's: it
//! hands each batch the number of lines before it and whether its first line is a CSV
//! header to skip, and once a batch comes back holding the `\.` end marker, the batches
//! after it come back empty (their rows and errors dropped, as the one-thread COPY
//! never reads past `\.`). Each batch is answered with its rows in order: each row as
//! wide as the table with its copied columns converted (the others NULL: defaults are
//! evaluated by the backend, which holds the session), or the error converting one of
//! its fields, which the backend reports when it reaches that row — with the same
//! CONTEXT, and before the row's defaults, as PostgreSQL orders them.
//!
//! What it must never do: touch the engine, a transaction or the session (the threads
//! see only the input bytes, the table's column types and the COPY options), or
//! outlive its COPY by more than the batch at hand (dropping the [`Converter`] closes
//! the channels and joins the threads).

use super::{convert_text_field, copy_text_line, CopyField, CopyState};
use crate::err;
use crate::error::{sqlstate, Result};
use crate::types::{DataType, Value};
use std::ops::Range;
use std::sync::mpsc;

/// One converted row: its line number, where its line lies in the batch's bytes, and
/// the row (as wide as the table) or the first error converting its fields.
pub(super) type ConvertedRow = (u64, Range<usize>, Result<Vec<Value>>);

/// A batch back from a thread: its bytes (the rows' lines point into them) and its
/// rows, or the error that stopped the whole batch (a missing column, bad UTF-8), which
/// a one-thread COPY reports before inserting any row of the batch too.
pub(super) struct Converted {
    pub buf: Vec<u8>,
    pub rows: Result<Vec<ConvertedRow>>,
}

/// A batch as sent: the input bytes, the ranges of its complete lines, and where the
/// COPY's line-cutting state stands at its first line.
struct Batch {
    buf: Vec<u8>,
    lines: Vec<Range<usize>>,
    /// Lines of the input before this batch's first.
    line_no: u64,
    /// Whether its first line is the CSV header to skip.
    skip_header: bool,
}

/// A batch converted by a thread, with whether it held the `\.` end marker.
struct Answer {
    converted: Converted,
    ended: bool,
}

/// One conversion thread and its two channels.
struct Worker {
    to: Option<mpsc::Sender<Batch>>,
    from: mpsc::Receiver<Answer>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The conversion threads of one COPY, the batches they have not answered yet, and
/// the line-cutting state handed to each batch.
pub(super) struct Converter {
    workers: Vec<Worker>,
    /// Batches sent and taken back; batch `i` goes to worker `i % workers.len()`.
    sent: usize,
    taken: usize,
    /// Lines handed out so far, and whether the CSV header is still to skip.
    lines: u64,
    skip_header: bool,
    /// A batch taken back held `\.`: later batches' rows (and errors) are dropped.
    ended: bool,
}

/// How many conversion threads a COPY gets: two where the machine has the cores (the
/// conversion costs about twice the insertion, so one thread left the backend waiting
/// for it), one otherwise.
fn threads_wanted() -> usize {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 2 => 2,
        _ => 1,
    }
}

/// Whether text input of type `t` depends on nothing but the text, the typmod and the
/// session's TimeZone (which the thread takes as the backend's at the COPY's start: no
/// SET can run during a COPY). Enums read their labels from the backend's catalog
/// snapshot, and other types are left to the backend too.
fn context_free(t: DataType) -> bool {
    matches!(
        t,
        DataType::Bool
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric
            | DataType::Text
            | DataType::Varchar
            | DataType::Bpchar
            | DataType::Oid
            | DataType::Uuid
            | DataType::Bytea
            | DataType::Date
            | DataType::Time
            | DataType::TimeTz
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Interval
    )
}

impl Converter {
    /// Threads for `st`'s conversions in the session's TimeZone `zone`, or None when
    /// the COPY is binary, a column's input needs more of the backend's context, or no
    /// thread can be started.
    pub(super) fn start(st: &CopyState, zone: &str) -> Option<Converter> {
        if st.binary
            || !st
                .targets
                .iter()
                .all(|&t| context_free(st.table.columns[t].data_type))
        {
            return None;
        }
        let mut workers = Vec::new();
        for _ in 0..threads_wanted() {
            match Worker::start(st, zone) {
                Ok(w) => workers.push(w),
                Err(e) => {
                    tracing::debug!("a COPY conversion thread could not start: {e}");
                    break;
                }
            }
        }
        if workers.is_empty() {
            return None;
        }
        Some(Converter {
            workers,
            sent: 0,
            taken: 0,
            lines: st.line_no,
            skip_header: st.skip_header,
            ended: st.ended,
        })
    }

    /// Hands a batch's bytes and line ranges to the next thread in turn.
    pub(super) fn send(&mut self, buf: Vec<u8>, lines: Vec<Range<usize>>) -> Result<()> {
        let batch = Batch {
            line_no: self.lines,
            skip_header: self.skip_header,
            buf,
            lines,
        };
        self.lines += batch.lines.len() as u64;
        self.skip_header &= batch.lines.is_empty();
        let w = &self.workers[self.sent % self.workers.len()];
        if w.to.as_ref().is_none_or(|to| to.send(batch).is_err()) {
            return Err(gone());
        }
        self.sent += 1;
        Ok(())
    }

    /// The oldest batch not yet taken back (waits for its conversion); a batch after
    /// the one holding `\.` comes back without rows.
    pub(super) fn recv(&mut self) -> Result<Converted> {
        let w = &self.workers[self.taken % self.workers.len()];
        let answer = w.from.recv().map_err(|_| gone())?;
        self.taken += 1;
        if self.ended {
            return Ok(Converted {
                buf: answer.converted.buf,
                rows: Ok(Vec::new()),
            });
        }
        self.ended = answer.ended;
        Ok(answer.converted)
    }

    /// Batches sent and not yet taken back.
    pub(super) fn in_flight(&self) -> usize {
        self.sent - self.taken
    }

    /// How many batches may stay in flight while the backend inserts: one a thread.
    pub(super) fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl Worker {
    /// A thread converting batches with a copy of `st`'s options, in TimeZone `zone`.
    fn start(st: &CopyState, zone: &str) -> std::io::Result<Worker> {
        let mut own = CopyState {
            db: st.db,
            table: st.table.clone(),
            targets: st.targets.clone(),
            defaults: Vec::new(),
            csv: st.csv,
            delimiter: st.delimiter,
            null: st.null.clone(),
            skip_header: false,
            buf: Vec::new(),
            rows: 0,
            ended: false,
            line_no: 0,
            binary: false,
            binary_header: false,
            converter: None,
        };
        let zone = zone.to_string();
        let (to, inbox) = mpsc::channel::<Batch>();
        let (outbox, from) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tusk copy convert".into())
            .spawn(move || {
                crate::types::timezone::session_zone(&zone);
                while let Ok(batch) = inbox.recv() {
                    // Each batch starts where the input stands at its first line.
                    own.line_no = batch.line_no;
                    own.skip_header = batch.skip_header;
                    own.ended = false;
                    let rows = convert(&mut own, &batch.buf, &batch.lines);
                    let answer = Answer {
                        converted: Converted {
                            buf: batch.buf,
                            rows,
                        },
                        ended: own.ended,
                    };
                    if outbox.send(answer).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker {
            to: Some(to),
            from,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread once its batch at hand is done.
        drop(self.to.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread stopped (it panicked): the COPY fails, the session goes on.
fn gone() -> crate::error::Error {
    err!(
        sqlstate::INTERNAL_ERROR,
        "the COPY conversion thread stopped"
    )
}

/// Cuts and converts one batch (see the module essay): each row as wide as the table,
/// the copied columns converted, the others NULL (their defaults are the backend's).
/// A line's fields are cut into one vector kept for the whole batch; when the COPY
/// names every column in order (pgbench's, a plain `COPY t FROM STDIN`), each row is
/// built by pushing its values, not filled with NULLs first and then overwritten.
fn convert(st: &mut CopyState, buf: &[u8], lines: &[Range<usize>]) -> Result<Vec<ConvertedRow>> {
    let table = st.table.clone();
    let width = table.columns.len();
    let in_order = st.targets.len() == width && st.targets.iter().enumerate().all(|(i, &t)| i == t);
    let targets = st.targets.clone();
    let mut rows = Vec::with_capacity(lines.len());
    let mut fields = Vec::with_capacity(width);
    for line in lines {
        let Some((line_no, _)) = copy_text_line(st, &buf[line.clone()], &mut fields)? else {
            continue;
        };
        let value = |t: usize, f: Option<CopyField<'_>>| match f {
            Some(CopyField::Text(s)) => convert_text_field(&table, t, line_no, &s),
            _ => Ok(Value::Null),
        };
        let mut row = Vec::with_capacity(width);
        let converted = if in_order {
            fields.drain(..).enumerate().try_for_each(|(t, f)| {
                row.push(value(t, f)?);
                Ok(())
            })
        } else {
            row.resize(width, Value::Null);
            fields.drain(..).zip(&targets).try_for_each(|(f, &t)| {
                row[t] = value(t, f)?;
                Ok(())
            })
        };
        rows.push((line_no, line.clone(), converted.map(|()| row)));
    }
    Ok(rows)
}
