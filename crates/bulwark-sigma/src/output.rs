//! Writing detections: JSON (the whole report), JSONL (one detection a line)
//! and CSV (one detection a row, matched fields as `field=value; ...`).

use std::io::{self, Write};

use crate::hunt::{Detection, HuntReport};

/// Output formats of `bulwark hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Jsonl,
    Csv,
}

impl OutputFormat {
    pub fn parse(text: &str) -> Option<OutputFormat> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Some(OutputFormat::Json),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            _ => None,
        }
    }
}

pub const CSV_HEADER: [&str; 12] = [
    "timestamp",
    "host",
    "level",
    "title",
    "rule_id",
    "author",
    "tags",
    "kind",
    "file",
    "record_id",
    "matched_fields",
    "rule_path",
];

/// Write the report in `format`.
pub fn write(report: &HuntReport, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        OutputFormat::Jsonl => {
            for d in &report.detections {
                serde_json::to_writer(&mut *out, d)?;
                writeln!(out)?;
            }
            Ok(())
        }
        OutputFormat::Csv => {
            write_csv_row(out, CSV_HEADER.iter().map(|s| s.to_string()))?;
            for d in &report.detections {
                write_csv_row(out, csv_fields(d).into_iter())?;
            }
            Ok(())
        }
    }
}

fn csv_fields(d: &Detection) -> Vec<String> {
    let matched = d
        .matched_fields
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let matched = match &d.correlation {
        Some(c) => {
            let group = c
                .group
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            format!(
                "{} {} over {}s [{group}]",
                c.r#type, c.value, c.timespan_secs
            )
        }
        None => matched,
    };
    vec![
        d.timestamp.clone().unwrap_or_default(),
        d.host.clone().unwrap_or_default(),
        d.level.clone().unwrap_or_default(),
        d.title.clone(),
        d.rule_id.clone().unwrap_or_default(),
        d.author.clone().unwrap_or_default(),
        d.tags.join(" "),
        d.kind.to_string(),
        d.file.clone(),
        d.record_id.map(|r| r.to_string()).unwrap_or_default(),
        matched,
        d.rule_path.clone().unwrap_or_default(),
    ]
}

/// RFC 4180: quote fields with commas, quotes or line breaks; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets do not run it.
fn write_csv_row(out: &mut dyn Write, fields: impl Iterator<Item = String>) -> io::Result<()> {
    let mut first = true;
    for field in fields {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        let field = if field.starts_with(['=', '+', '-', '@']) {
            format!("'{field}")
        } else {
            field
        };
        if field.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", field.replace('"', "\"\""))?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}
