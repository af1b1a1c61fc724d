//! CSV output shared by the analysis tools (IOCs, timelines).

/// One CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` gets a
/// `'` so spreadsheets do not run indicator or log text as a formula.
pub fn csv_field(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}
