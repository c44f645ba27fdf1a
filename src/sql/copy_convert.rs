//! COPY FROM's conversion thread: a large text-format COPY has its lines cut into
//! fields and converted to typed values on a thread of its own, while the session's
//! backend inserts the batch before — the two halves of COPY's work on two cores
//! (`pgbench -i` spends about as long converting as inserting).
//!
//! What it owns: [`Converter`], which the session starts for a text or CSV COPY once
//! the input outgrows one batch, when every column copied has a type whose text input
//! depends on nothing but the text, the column's typmod and the session's TimeZone
//! ([`context_free`]; the thread takes the zone the backend has when the COPY starts,
//! and an enum, whose labels live in the backend's catalog snapshot, keeps the COPY on
//! the backend). Batches go through the thread in order, so it keeps the
//! line-cutting state (line numbers, the `\.` end marker, a CSV header to skip) from one
//! to the next, and answers each with its rows in order: each row as wide as the table
//! with its copied columns converted (the others NULL: defaults are evaluated by the
//! backend, which holds the session), or the error converting one of its fields, which
//! the backend reports when it reaches that row — with the same CONTEXT, and before the
//! row's defaults, as PostgreSQL orders them.
//!
//! What it must never do: touch the engine, a transaction or the session (it sees only
//! the input bytes, the table's column types and the COPY options), or outlive its COPY
//! by more than the batch at hand (dropping the [`Converter`] closes its channel and
//! joins the thread).

use super::{convert_text_field, copy_text_rows, CopyField, CopyState};
use crate::err;
use crate::error::{sqlstate, Result};
use crate::types::{DataType, Value};
use std::ops::Range;
use std::sync::mpsc;

/// One converted row: its line number, where its line lies in the batch's bytes, and
/// the row (as wide as the table) or the first error converting its fields.
pub(super) type ConvertedRow = (u64, Range<usize>, Result<Vec<Value>>);

/// A batch back from the thread: its bytes (the rows' lines point into them) and its
/// rows, or the error that stopped the whole batch (a missing column, bad UTF-8), which
/// a one-thread COPY reports before inserting any row of the batch too.
pub(super) struct Converted {
    pub buf: Vec<u8>,
    pub rows: Result<Vec<ConvertedRow>>,
}

/// A batch as sent: the input bytes and the ranges of its complete lines.
type Batch = (Vec<u8>, Vec<Range<usize>>);

/// The conversion thread of one COPY and the batches it has not answered yet.
pub(super) struct Converter {
    to: Option<mpsc::Sender<Batch>>,
    from: mpsc::Receiver<Converted>,
    in_flight: usize,
    thread: Option<std::thread::JoinHandle<()>>,
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
    /// A thread for `st`'s conversions in the session's TimeZone `zone`, or None when
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
        let mut own = CopyState {
            db: st.db,
            table: st.table.clone(),
            targets: st.targets.clone(),
            defaults: Vec::new(),
            csv: st.csv,
            delimiter: st.delimiter,
            null: st.null.clone(),
            skip_header: st.skip_header,
            buf: Vec::new(),
            rows: 0,
            ended: st.ended,
            line_no: st.line_no,
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
                while let Ok((buf, lines)) = inbox.recv() {
                    let rows = convert(&mut own, &buf, &lines);
                    if outbox.send(Converted { buf, rows }).is_err() {
                        return;
                    }
                }
            });
        match thread {
            Ok(thread) => Some(Converter {
                to: Some(to),
                from,
                in_flight: 0,
                thread: Some(thread),
            }),
            Err(e) => {
                tracing::debug!("converting COPY rows in the backend: {e}");
                None
            }
        }
    }

    /// Hands a batch's bytes and line ranges to the thread.
    pub(super) fn send(&mut self, buf: Vec<u8>, lines: Vec<Range<usize>>) -> Result<()> {
        let sent = self
            .to
            .as_ref()
            .is_some_and(|to| to.send((buf, lines)).is_ok());
        if !sent {
            return Err(gone());
        }
        self.in_flight += 1;
        Ok(())
    }

    /// The oldest batch not yet taken back (waits for its conversion).
    pub(super) fn recv(&mut self) -> Result<Converted> {
        let batch = self.from.recv().map_err(|_| gone())?;
        self.in_flight -= 1;
        Ok(batch)
    }

    /// Batches sent and not yet taken back.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl Drop for Converter {
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
fn convert(st: &mut CopyState, buf: &[u8], lines: &[Range<usize>]) -> Result<Vec<ConvertedRow>> {
    let rows = copy_text_rows(st, buf, lines)?;
    let base = buf.as_ptr() as usize;
    let width = st.table.columns.len();
    Ok(rows
        .into_iter()
        .map(|(line_no, line, fields)| {
            let start = line.as_ptr() as usize - base;
            let mut row = Vec::with_capacity(width);
            row.resize(width, Value::Null);
            let converted = fields.into_iter().zip(&st.targets).try_for_each(|(f, &t)| {
                if let Some(CopyField::Text(s)) = f {
                    row[t] = convert_text_field(&st.table, t, line_no, &s)?;
                }
                Ok(())
            });
            (line_no, start..start + line.len(), converted.map(|()| row))
        })
        .collect())
}
