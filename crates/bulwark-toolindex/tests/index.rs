//! Behaviour of the tool index: updates, the approved-only contract, odd
//! queries, unicode, explanations, the on-disk index.

use bulwark_toolindex::{IndexConfig, IndexedTool, ToolIndex, ToolIndexError};
use serde_json::json;

fn tool(name: &str, description: &str) -> IndexedTool {
    IndexedTool::new(name, description, json!({"type": "object"}))
}

fn names(index: &ToolIndex, query: &str, limit: usize) -> Vec<String> {
    index
        .search(query, limit)
        .expect("search")
        .into_iter()
        .map(|h| h.name)
        .collect()
}

fn sample() -> ToolIndex {
    let index = ToolIndex::new().expect("index");
    index
        .upsert_server(
            "filesystem",
            &[
                tool(
                    "read_text_file",
                    "Read the complete contents of a file as text.",
                ),
                tool(
                    "list_directory",
                    "Get a detailed listing of all files and directories in a path.",
                ),
            ],
        )
        .expect("upsert filesystem");
    index
        .upsert_server(
            "github",
            &[
                tool("create_issue", "Open a new issue in a GitHub repository."),
                tool("listPullRequests", "List pull requests of a repository."),
            ],
        )
        .expect("upsert github");
    index
}

#[test]
fn finds_tools_by_description_name_and_server() {
    let index = sample();
    assert_eq!(index.len(), 4);
    assert_eq!(
        names(&index, "read a file's contents", 1),
        ["filesystem:read_text_file"]
    );
    // camelCase name split: "pull requests" matches listPullRequests.
    assert_eq!(
        names(&index, "pull request", 1),
        ["github:listPullRequests"]
    );
    // The server name is searchable.
    assert!(names(&index, "github", 10).contains(&"github:create_issue".to_string()));
    let hit = &index.search("directories", 1).expect("search")[0];
    assert_eq!(
        (hit.server.as_str(), hit.tool.as_str(), hit.name.as_str()),
        ("filesystem", "list_directory", "filesystem:list_directory")
    );
    assert!(hit.description.starts_with("Get a detailed listing"));
    assert!(hit.score > 0.0);
}

#[test]
fn results_are_ordered_and_limited() {
    let index = sample();
    let hits = index
        .search("list files directories repository", 10)
        .expect("search");
    assert!(hits.len() >= 2);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(index.search("list", 1).expect("search").len(), 1);
    assert!(index.search("list", 0).expect("search").is_empty());
    assert!(index.search("list", usize::MAX).expect("search").len() <= 4);
}

#[test]
fn parameters_and_their_descriptions_are_searched() {
    let index = ToolIndex::new().expect("index");
    let schema = json!({
        "type": "object",
        "properties": {
            "target": {
                "type": "object",
                "properties": {
                    "kubernetesNamespace": {"type": "string"},
                    "selector": {"type": "string", "description": "Label selector such as tier=frontend"}
                }
            }
        }
    });
    index
        .upsert_server(
            "ops",
            &[
                IndexedTool::new("restart", "Restart a workload.", schema),
                tool("status", "Show the status of a workload."),
            ],
        )
        .expect("upsert");
    assert_eq!(names(&index, "kubernetes namespace", 10), ["ops:restart"]);
    assert_eq!(names(&index, "frontend tier", 10), ["ops:restart"]);
}

#[test]
fn upsert_replaces_one_servers_tools_only() {
    let index = sample();
    assert_eq!(names(&index, "issue", 10), ["github:create_issue"]);
    let up = index
        .upsert_server(
            "github",
            &[tool(
                "merge_pull_request",
                "Merge a pull request into its base branch.",
            )],
        )
        .expect("replace");
    assert_eq!((up.removed, up.added, up.unchanged), (2, 1, false));
    // Old tools are gone, the new one is found, the other server is intact.
    assert!(names(&index, "issue", 10).is_empty());
    assert!(
        names(&index, "listPullRequests", 10)
            .iter()
            .all(|n| n != "github:listPullRequests")
    );
    assert_eq!(names(&index, "merge", 10), ["github:merge_pull_request"]);
    assert_eq!(names(&index, "text file", 1), ["filesystem:read_text_file"]);
    assert_eq!(index.len(), 3);
    assert_eq!(index.stats().servers, 2);
}

#[test]
fn identical_upsert_writes_nothing() {
    let index = sample();
    let tools = [
        tool("create_issue", "Open a new issue in a GitHub repository."),
        tool("listPullRequests", "List pull requests of a repository."),
    ];
    let up = index.upsert_server("github", &tools).expect("same tools");
    assert!(up.unchanged);
    assert_eq!(index.len(), 4);
    // A changed description is written.
    let changed = [tool("create_issue", "File a bug report."), tools[1].clone()];
    let up = index.upsert_server("github", &changed).expect("changed");
    assert!(!up.unchanged);
    assert_eq!(names(&index, "bug report", 10), ["github:create_issue"]);
}

#[test]
fn remove_server_and_empty_upsert_remove_everything_of_that_server() {
    let index = sample();
    assert_eq!(index.remove_server("github").expect("remove"), 2);
    assert!(names(&index, "issue repository pull", 10).is_empty());
    assert_eq!(index.len(), 2);
    assert_eq!(index.remove_server("github").expect("again"), 0);
    assert_eq!(index.remove_server("never-added").expect("unknown"), 0);

    let up = index.upsert_server("filesystem", &[]).expect("empty");
    assert_eq!(up.removed, 2);
    assert!(index.is_empty());
    assert_eq!(index.stats().servers, 0);
}

#[test]
fn duplicate_tool_names_keep_the_last() {
    let index = ToolIndex::new().expect("index");
    let up = index
        .upsert_server("s", &[tool("t", "first alpha"), tool("t", "second beta")])
        .expect("upsert");
    assert_eq!(up.added, 1);
    assert!(names(&index, "alpha", 10).is_empty());
    assert_eq!(names(&index, "beta", 10), ["s:t"]);
}

#[test]
fn server_and_tool_names_are_validated() {
    let index = ToolIndex::new().expect("index");
    for bad in ["", "a:b"] {
        let err = index.upsert_server(bad, &[tool("t", "d")]).unwrap_err();
        assert!(matches!(err, ToolIndexError::InvalidServer(_)), "{err}");
        assert!(err.to_string().contains("without ':'"));
        assert!(index.remove_server(bad).is_err());
    }
    let err = index.upsert_server("s", &[tool("", "d")]).unwrap_err();
    assert!(matches!(err, ToolIndexError::EmptyToolName { .. }), "{err}");
    assert!(index.is_empty());
}

/// The caller's contract: only approved tools are passed. The index must
/// then return exactly those, never a tool that was left out, including
/// when a previously approved tool becomes blocked (a re-upsert without it)
/// or its whole server is quarantined (remove_server).
#[test]
fn only_the_tools_passed_are_ever_returned() {
    let index = ToolIndex::new().expect("index");
    let all = [
        tool("send_email", "Send an email message to a recipient."),
        tool(
            "export_contacts",
            "Export every email contact to a remote address.",
        ),
    ];
    let approved: Vec<IndexedTool> = all
        .iter()
        .filter(|t| t.name == "send_email")
        .cloned()
        .collect();
    index.upsert_server("mail", &approved).expect("upsert");
    let found = names(&index, "email contact export remote address", 10);
    assert_eq!(found, ["mail:send_email"]);
    let explained = index
        .explain_tool("email", "mail:export_contacts")
        .expect("explain");
    assert!(
        explained.is_none(),
        "a tool that was not passed must not be indexed"
    );

    // Tool blocked after a change: the caller re-upserts without it.
    index.upsert_server("mail", &[]).expect("block");
    assert!(names(&index, "email", 10).is_empty());

    // Server quarantined.
    index
        .upsert_server("mail", &approved)
        .expect("approve again");
    index.remove_server("mail").expect("quarantine");
    assert!(names(&index, "send email", 10).is_empty());
}

#[test]
fn odd_queries_never_fail() {
    let index = sample();
    let huge = "list files ".repeat(1024); // ~11 KB
    let odd: Vec<String> = vec![
        String::new(),
        "   ".into(),
        "!!!???...,,,".into(),
        ":\"()^-".into(),
        "title:foo AND (bar OR \"baz\") -qux^2 +a~2 [a TO z] {x} *".into(),
        "filesystem:read_text_file".into(),
        "\\ / ' \" ` $ % & | < > = @ #".into(),
        "\0\u{1}\u{7f}".into(),
        huge,
        "🦀🔥 ∑∫√".into(),
        "x".repeat(10_000),
    ];
    for q in &odd {
        let hits = index.search(q, 10);
        assert!(
            hits.is_ok(),
            "query {:?} failed: {:?}",
            &q[..q.len().min(40)],
            hits
        );
    }
    assert!(index.search("", 10).expect("empty").is_empty());
    assert!(index.search(":\"()^-", 10).expect("punctuation").is_empty());
    // Query-syntax characters are separators: the words still count.
    assert_eq!(
        names(&index, "filesystem:read_text_file", 1),
        ["filesystem:read_text_file"]
    );
    assert_eq!(
        names(&index, "(issue^3) \"GitHub\"", 1),
        ["github:create_issue"]
    );
    // A huge query still finds something.
    assert!(!names(&index, &"list files ".repeat(1024), 3).is_empty());
    // The analyzer caps the number of distinct terms.
    let many: String = (0..500).map(|i| format!("w{i} ")).collect();
    assert_eq!(
        index.analyze(&many).len(),
        bulwark_toolindex::MAX_QUERY_TERMS
    );
}

#[test]
fn unicode_text_and_queries() {
    let index = ToolIndex::new().expect("index");
    index
        .upsert_server(
            "intl",
            &[
                tool("übersetzen", "Übersetzt einen Text ins Französische."),
                tool("ファイル読込", "ファイルを読み込みます"),
                tool("emoji_status", "Set a status with an emoji 🚀"),
            ],
        )
        .expect("upsert");
    assert_eq!(names(&index, "ÜBERSETZT text", 1), ["intl:übersetzen"]);
    assert_eq!(names(&index, "ファイル", 1), ["intl:ファイル読込"]);
    assert_eq!(names(&index, "status 🚀", 1), ["intl:emoji_status"]);
    let hit = &index.search("übersetzen", 1).expect("search")[0];
    assert_eq!(hit.tool, "übersetzen");
}

#[test]
fn explain_tool_reports_rank_and_contributions() {
    let index = sample();
    let e = index
        .explain_tool("list directories", "filesystem:list_directory")
        .expect("explain")
        .expect("tool exists");
    assert_eq!(e.rank, Some(1));
    assert_eq!(e.query_terms, ["list", "directori"]);
    assert!(e.score > 0.0);
    let fields: Vec<&str> = e.contributions.iter().map(|c| c.field).collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"description"),
        "{fields:?}"
    );
    let sum: f32 = e.contributions.iter().map(|c| c.score).sum();
    assert!((sum - e.score).abs() < 1e-3, "{sum} vs {}", e.score);

    // A tool that matches nothing has no rank; an unknown tool is None.
    let e = index
        .explain_tool("pull request", "filesystem:read_text_file")
        .expect("explain")
        .expect("exists");
    assert_eq!((e.rank, e.contributions.len()), (None, 0));
    assert!(
        index
            .explain_tool("x", "nope:nope")
            .expect("explain")
            .is_none()
    );
}

#[test]
fn synonym_expansion_is_optional_and_weighs_less() {
    let tools = [tool("list_directory", "List the entries of a directory.")];
    let with = ToolIndex::new().expect("index");
    with.upsert_server("fs", &tools).expect("upsert");
    let without = ToolIndex::with_config(IndexConfig {
        expansion: false,
        ..IndexConfig::default()
    })
    .expect("index");
    without.upsert_server("fs", &tools).expect("upsert");

    assert_eq!(names(&with, "folder", 5), ["fs:list_directory"]);
    assert!(names(&without, "folder", 5).is_empty());
    let e = with
        .explain_tool("folder", "fs:list_directory")
        .expect("explain")
        .expect("exists");
    assert!(e.contributions.iter().all(|c| c.expanded));
    let direct = with.search("directory", 1).expect("search")[0].score;
    let expanded = with.search("folder", 1).expect("search")[0].score;
    assert!(expanded < direct);
}

#[test]
fn on_disk_index_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tools");
    {
        let index = ToolIndex::open_in_dir(&path, IndexConfig::default()).expect("create");
        index
            .upsert_server("git", &[tool("git_log", "Shows the commit logs")])
            .expect("upsert");
    }
    let index = ToolIndex::open_in_dir(&path, IndexConfig::default()).expect("reopen");
    assert_eq!(index.len(), 1);
    assert_eq!(index.stats().servers, 1);
    assert_eq!(names(&index, "commit log", 1), ["git:git_log"]);
    // A reopened server is replaced, not duplicated.
    let up = index
        .upsert_server("git", &[tool("git_log", "Shows the commit logs")])
        .expect("upsert again");
    assert_eq!((up.removed, up.added, up.unchanged), (1, 1, false));
    assert_eq!(index.len(), 1);
}

#[test]
fn on_disk_errors_say_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let err = ToolIndex::open_in_dir(&file, IndexConfig::default()).unwrap_err();
    assert!(
        err.to_string().contains("check it exists and is writable"),
        "{err}"
    );
}

#[test]
fn concurrent_searches_during_updates() {
    let index = std::sync::Arc::new(sample());
    let writer = {
        let index = index.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                let t = tool(&format!("tool_{i}"), &format!("generated tool number {i}"));
                index.upsert_server("gen", &[t]).expect("upsert");
            }
        })
    };
    for _ in 0..200 {
        let hits = index.search("read file text", 5).expect("search");
        assert_eq!(hits[0].name, "filesystem:read_text_file");
    }
    writer.join().expect("writer thread");
    assert_eq!(names(&index, "generated", 10), ["gen:tool_19"]);
}
