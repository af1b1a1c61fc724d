//! Writers: CSV, JSON Lines and Timesketch-importable CSV, one event at a time.

use std::io::Write;

use crate::event::{Event, format_ts};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Jsonl,
    Timesketch,
}

impl OutputFormat {
    pub fn parse(text: &str) -> Option<OutputFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(OutputFormat::Csv),
            "jsonl" | "json" | "ndjson" => Some(OutputFormat::Jsonl),
            "timesketch" | "timesketch-csv" | "timesketch_csv" => Some(OutputFormat::Timesketch),
            _ => None,
        }
    }
}

pub use bulwark_core::csv::csv_field;

/// Streams events to a writer in one format.
pub struct EventWriter<W: Write> {
    out: W,
    format: OutputFormat,
    header: bool,
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W, format: OutputFormat) -> Self {
        EventWriter {
            out,
            format,
            header: false,
        }
    }

    pub fn write(&mut self, e: &Event) -> std::io::Result<()> {
        if !self.header {
            self.header = true;
            match self.format {
                OutputFormat::Csv => writeln!(
                    self.out,
                    "timestamp,source,host,event_type,timestamp_desc,message,file,fields"
                )?,
                OutputFormat::Timesketch => writeln!(
                    self.out,
                    "message,datetime,timestamp,timestamp_desc,source,hostname,event_type,file"
                )?,
                OutputFormat::Jsonl => {}
            }
        }
        match self.format {
            OutputFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, e)?;
                self.out.write_all(b"\n")
            }
            OutputFormat::Csv => {
                let fields = serde_json::to_string(&e.fields).unwrap_or_default();
                let row = [
                    format_ts(e.timestamp),
                    e.source.as_str().to_string(),
                    e.host.clone().unwrap_or_default(),
                    e.event_type.clone(),
                    e.timestamp_desc.clone(),
                    e.message.clone(),
                    e.file.clone(),
                    fields,
                ];
                writeln!(
                    self.out,
                    "{}",
                    row.iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
            OutputFormat::Timesketch => {
                let row = [
                    e.message.clone(),
                    format_ts(e.timestamp),
                    (e.timestamp.div_euclid(1000)).to_string(),
                    e.timestamp_desc.clone(),
                    e.source.as_str().to_string(),
                    e.host.clone().unwrap_or_default(),
                    e.event_type.clone(),
                    e.file.clone(),
                ];
                writeln!(
                    self.out,
                    "{}",
                    row.iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        }
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
