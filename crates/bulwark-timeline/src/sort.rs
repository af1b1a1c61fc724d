//! Time order with bounded memory: events are buffered up to a limit,
//! sorted, and spilled to temporary files as sorted runs; the runs and the
//! last buffer are then merged (k-way, a binary heap over run heads).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use crate::event::Event;

/// Events held in memory before a run is spilled.
pub const DEFAULT_RUN: usize = 100_000;

pub struct Sorter {
    buffer: Vec<Event>,
    runs: Vec<std::fs::File>,
    limit: usize,
    seq: u64,
}

fn key(e: &Event) -> (i64, &str, &str) {
    (e.timestamp, e.file.as_str(), e.message.as_str())
}

impl Sorter {
    pub fn new(limit: usize) -> Self {
        Sorter {
            buffer: Vec::new(),
            runs: Vec::new(),
            limit: limit.max(1),
            seq: 0,
        }
    }

    /// Number of runs spilled to disk so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    pub fn push(&mut self, event: Event) -> std::io::Result<()> {
        self.seq += 1;
        self.buffer.push(event);
        if self.buffer.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        self.buffer.sort_by(|a, b| key(a).cmp(&key(b)));
        let file = tempfile::tempfile()?;
        let mut w = BufWriter::new(file);
        for e in self.buffer.drain(..) {
            serde_json::to_writer(&mut w, &RunRecord::from(e))?;
            w.write_all(b"\n")?;
        }
        let mut file = w.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        Ok(())
    }

    /// All events pushed, in time order (ties: by file, then message).
    pub fn finish(mut self) -> std::io::Result<Merged> {
        self.buffer.sort_by(|a, b| key(a).cmp(&key(b)));
        let mut streams: Vec<Stream> = Vec::new();
        for file in self.runs {
            streams.push(Stream::Run(BufReader::new(file)));
        }
        streams.push(Stream::Memory(std::mem::take(&mut self.buffer).into_iter()));
        let mut merged = Merged {
            heads: BinaryHeap::new(),
            streams,
            error: None,
        };
        for i in 0..merged.streams.len() {
            merged.advance(i);
        }
        Ok(merged)
    }
}

/// Events in a run file keep their exact nanoseconds.
#[derive(serde::Serialize, serde::Deserialize)]
struct RunRecord {
    t: i64,
    e: Event,
}

impl From<Event> for RunRecord {
    fn from(e: Event) -> Self {
        RunRecord { t: e.timestamp, e }
    }
}

enum Stream {
    Run(BufReader<std::fs::File>),
    Memory(std::vec::IntoIter<Event>),
}

struct Head {
    event: Event,
    stream: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        key(&self.event)
            .cmp(&key(&other.event))
            .then(self.stream.cmp(&other.stream))
    }
}

/// The merged stream.
pub struct Merged {
    heads: BinaryHeap<Reverse<Head>>,
    streams: Vec<Stream>,
    /// A run that could not be read back (disk error); the stream ends early.
    pub error: Option<String>,
}

impl Merged {
    fn advance(&mut self, i: usize) {
        let next = match &mut self.streams[i] {
            Stream::Memory(it) => it.next(),
            Stream::Run(r) => {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) => None,
                    Ok(_) => match serde_json::from_str::<RunRecord>(&line) {
                        Ok(rec) => {
                            let mut e = rec.e;
                            e.timestamp = rec.t;
                            Some(e)
                        }
                        Err(err) => {
                            self.error =
                                Some(format!("a sorted run could not be read back: {err}"));
                            None
                        }
                    },
                    Err(err) => {
                        self.error = Some(format!("a sorted run could not be read back: {err}"));
                        None
                    }
                }
            }
        };
        if let Some(event) = next {
            self.heads.push(Reverse(Head { event, stream: i }));
        }
    }
}

impl Iterator for Merged {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let Reverse(head) = self.heads.pop()?;
        self.advance(head.stream);
        Some(head.event)
    }
}
