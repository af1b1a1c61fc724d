//! A single self-contained HTML page: inline CSS and JavaScript, a
//! Content-Security-Policy that forbids any request, every scanned string
//! escaped. The findings table filters by severity, rule, file and free
//! text; the URL fragment (`#severity=high&rule=BWK-X&file=a.py&q=text`)
//! sets the filters and follows them, so a filtered view can be linked.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::sarif::{owasp_id, owasp_name};
use super::{SEVERITIES_DESC, count, group_label, location_label, millis, tool_version};
use crate::ScanReport;

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        || (c.is_control() && c != '\n' && c != '\t')
}

/// Escapes text for element content; invisible and bidirectional control
/// characters are shown as a visible `U+XXXX` marker (they are how
/// poisoned tool descriptions hide).
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible(c) => {
                let _ = write!(out, "<span class=\"ctl\">U+{:04X}</span>", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute value.
pub(crate) fn escape_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible(c) => {
                let _ = write!(out, "U+{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--critical:#7b1fa2;--high:#c62828;--medium:#e65100;--low:#1565c0;--info:#546e7a;--bg:#f6f7f9;--fg:#1d2330;--muted:#5f6b7a;--line:#dde1e7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px}
header .meta{margin:0;color:#c5cbd6;font-size:13px}
main{padding:20px 28px}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border:1px solid var(--line);border-left:6px solid var(--info);border-radius:6px;padding:10px 16px;min-width:120px;cursor:pointer;user-select:none}
.card .n{display:block;font-size:26px;font-weight:700}
.card.sev-critical{border-left-color:var(--critical)}.card.sev-high{border-left-color:var(--high)}
.card.sev-medium{border-left-color:var(--medium)}.card.sev-low{border-left-color:var(--low)}
.card.total{border-left-color:#1d2330}
.card.active{outline:2px solid #1d2330}
.filters{display:flex;gap:14px;flex-wrap:wrap;align-items:end;background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin-bottom:14px}
.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:3px}
.filters select,.filters input{font:inherit;padding:4px 6px;border:1px solid #b8c0cc;border-radius:4px;min-width:160px;max-width:320px}
#shown{margin-left:auto;color:var(--muted)}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:6px}
th,td{text-align:left;vertical-align:top;padding:8px 10px;border-bottom:1px solid var(--line)}
th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
tr[hidden]{display:none}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;background:var(--info)}
.badge.sev-critical{background:var(--critical)}.badge.sev-high{background:var(--high)}
.badge.sev-medium{background:var(--medium)}.badge.sev-low{background:var(--low)}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre.snippet{margin:6px 0 0;padding:6px 8px;background:#f3f4f7;border:1px solid var(--line);border-radius:4px;white-space:pre-wrap;word-break:break-all;max-width:720px}
.title{color:var(--muted);font-size:12px;max-width:260px}
.evidence{color:var(--muted);font-size:12px;margin-top:4px;word-break:break-all}
details{margin-top:4px;font-size:12.5px}summary{cursor:pointer;color:var(--low)}
.ctl{background:#ffecb3;color:#6d4c00;border-radius:3px;padding:0 2px;font-size:11px}
#empty{padding:16px;color:var(--muted)}
h2{font-size:16px;margin:26px 0 10px}
.loc{word-break:break-all}
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var sel = {
    severity: document.getElementById('f-severity'),
    rule: document.getElementById('f-rule'),
    file: document.getElementById('f-file'),
    q: document.getElementById('f-text')
  };
  var rows = Array.prototype.slice.call(document.querySelectorAll('#findings tbody tr.finding'));
  var cards = Array.prototype.slice.call(document.querySelectorAll('.card[data-severity]'));
  function setSelect(select, value) {
    select.value = value;
    if (select.value !== value) { select.value = ''; }
  }
  function readHash() {
    var params = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (pair) {
      if (!pair) { return; }
      var i = pair.indexOf('=');
      var key = i < 0 ? pair : pair.slice(0, i);
      var value = i < 0 ? '' : pair.slice(i + 1);
      try {
        params[decodeURIComponent(key)] = decodeURIComponent(value.replace(/\+/g, ' '));
      } catch (e) { /* malformed escape: ignore */ }
    });
    setSelect(sel.severity, (params.severity || '').toLowerCase());
    setSelect(sel.rule, params.rule || '');
    setSelect(sel.file, params.file || '');
    sel.q.value = params.q || '';
  }
  function writeHash() {
    var parts = [];
    [['severity', sel.severity.value], ['rule', sel.rule.value], ['file', sel.file.value], ['q', sel.q.value]]
      .forEach(function (p) { if (p[1]) { parts.push(p[0] + '=' + encodeURIComponent(p[1])); } });
    var hash = parts.length ? '#' + parts.join('&') : '';
    if (hash === location.hash || (hash === '' && location.hash === '#')) { return; }
    try {
      history.replaceState(null, '', hash || (location.pathname + location.search));
    } catch (e) {
      location.hash = hash;
    }
  }
  function apply() {
    var severity = sel.severity.value, rule = sel.rule.value, file = sel.file.value;
    var q = sel.q.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!severity || row.getAttribute('data-severity') === severity) &&
        (!rule || row.getAttribute('data-rule') === rule) &&
        (!file || row.getAttribute('data-file') === file) &&
        (!q || row.textContent.toLowerCase().indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    cards.forEach(function (card) {
      card.classList.toggle('active', card.getAttribute('data-severity') === severity);
    });
    document.getElementById('shown').textContent = 'Showing ' + shown + ' of ' + rows.length;
    document.getElementById('empty').hidden = shown !== 0;
    document.body.setAttribute('data-shown', String(shown));
  }
  function changed() { apply(); writeHash(); }
  [sel.severity, sel.rule, sel.file].forEach(function (s) { s.addEventListener('change', changed); });
  sel.q.addEventListener('input', changed);
  cards.forEach(function (card) {
    card.addEventListener('click', function () {
      var value = card.getAttribute('data-severity');
      setSelect(sel.severity, sel.severity.value === value ? '' : value);
      changed();
    });
  });
  window.addEventListener('hashchange', function () { readHash(); apply(); });
  readHash();
  apply();
})();
"#;

pub(crate) fn render(report: &ScanReport) -> String {
    let mut out = String::with_capacity(8192 + report.findings.len() * 600);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n",
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>Bulwark scan report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>Bulwark scan report</h1>\n");
    let total = report.findings.len();
    let root = report
        .root
        .as_ref()
        .map(|r| format!(" · {}", escape_text(&r.to_string_lossy())))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p class=\"meta\">{total} finding{} in {} files · {} bytes · {} ms · {} skipped{root} · bulwark {}</p>\n</header>\n<main>",
        if total == 1 { "" } else { "s" },
        report.files_scanned,
        report.bytes_scanned,
        millis(report),
        report.notes.len(),
        tool_version()
    );

    // Summary cards.
    out.push_str("<section class=\"summary\" aria-label=\"Findings by severity\">\n");
    let _ = writeln!(
        out,
        "<div class=\"card total\" data-severity=\"\"><span class=\"n\">{total}</span>all findings</div>"
    );
    for severity in SEVERITIES_DESC {
        let _ = writeln!(
            out,
            "<div class=\"card sev-{s}\" data-severity=\"{s}\" id=\"count-{s}\"><span class=\"n\">{n}</span>{s}</div>",
            s = severity.as_str(),
            n = count(report, severity)
        );
    }
    out.push_str("</section>\n");

    // Filters.
    let rules: BTreeSet<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
    let files: BTreeSet<String> = report.findings.iter().map(group_label).collect();
    out.push_str("<section class=\"filters\">\n<label>Severity<select id=\"f-severity\"><option value=\"\">All</option>");
    for severity in SEVERITIES_DESC {
        let _ = write!(
            out,
            "<option value=\"{s}\">{s} ({n})</option>",
            s = severity.as_str(),
            n = count(report, severity)
        );
    }
    out.push_str(
        "</select></label>\n<label>Rule<select id=\"f-rule\"><option value=\"\">All</option>",
    );
    for rule in &rules {
        let n = report
            .findings
            .iter()
            .filter(|f| f.rule_id == *rule)
            .count();
        let _ = write!(
            out,
            "<option value=\"{}\">{} ({n})</option>",
            escape_attr(rule),
            escape_text(rule)
        );
    }
    out.push_str(
        "</select></label>\n<label>File<select id=\"f-file\"><option value=\"\">All</option>",
    );
    for file in &files {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            escape_attr(file),
            escape_text(file)
        );
    }
    out.push_str(
        "</select></label>\n<label>Text<input id=\"f-text\" type=\"search\" placeholder=\"message, snippet, path…\" autocomplete=\"off\"></label>\n",
    );
    let _ = writeln!(
        out,
        "<span id=\"shown\">Showing {total} of {total}</span>\n</section>"
    );

    // Findings.
    out.push_str("<table id=\"findings\">\n<thead><tr><th>Severity</th><th>Rule</th><th>Location</th><th>Finding</th><th>Confidence</th></tr></thead>\n<tbody>\n");
    for finding in &report.findings {
        let severity = finding.severity.as_str();
        let rule = report.rule(&finding.rule_id);
        let _ = write!(
            out,
            "<tr class=\"finding sev-{severity}\" data-severity=\"{severity}\" data-rule=\"{}\" data-file=\"{}\">",
            escape_attr(&finding.rule_id),
            escape_attr(&group_label(finding))
        );
        let _ = write!(
            out,
            "<td><span class=\"badge sev-{severity}\">{severity}</span></td>"
        );
        let _ = write!(out, "<td><code>{}</code>", escape_text(&finding.rule_id));
        if let Some(rule) = rule {
            let _ = write!(
                out,
                "<div class=\"title\">{}</div>",
                escape_text(rule.title)
            );
        }
        let _ = write!(
            out,
            "</td><td class=\"loc\"><code>{}</code></td><td><div class=\"msg\">{}</div>",
            escape_text(&location_label(&finding.location)),
            escape_text(&finding.message)
        );
        if !finding.snippet.is_empty() {
            let _ = write!(
                out,
                "<pre class=\"snippet\">{}</pre>",
                escape_text(&finding.snippet)
            );
        }
        if !finding.evidence.is_empty() {
            let _ = write!(
                out,
                "<div class=\"evidence\">evidence: {}</div>",
                escape_text(&finding.evidence)
            );
        }
        if let Some(rule) = rule {
            let _ = write!(
                out,
                "<details><summary>Fix</summary>{} <br>{} · OWASP Agentic {} ({})</details>",
                escape_text(rule.remediation),
                escape_text(rule.cwe),
                owasp_id(rule.owasp),
                escape_text(owasp_name(rule.owasp))
            );
        }
        let confidence = serde_json::to_value(finding.confidence)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(out, "</td><td>{confidence}</td></tr>");
    }
    out.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        out,
        "<p id=\"empty\"{}>No findings match the filters.</p>",
        if total == 0 { "" } else { " hidden" }
    );

    if !report.notes.is_empty() {
        out.push_str("<h2>Skipped or partly scanned files</h2>\n<table id=\"notes\">\n<thead><tr><th>File</th><th>Why</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for note in &report.notes {
            let _ = writeln!(
                out,
                "<tr><td class=\"loc\"><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape_text(&note.path),
                note.kind.as_str(),
                escape_text(&note.detail)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape_text("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        assert_eq!(escape_attr("a\"b\u{202e}"), "a&quot;bU+202E");
        assert!(escape_text("a\u{200b}b").contains("<span class=\"ctl\">U+200B</span>"));
    }
}
