//! Parses every file of DIR (one language, by extension) with tree-sitter
//! and with a hand-written parser, three rounds each, one thread, and prints
//! MiB/s. Only parsing: no tree walk, no analysis.

use std::time::Instant;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: parser_probe DIR (files of one language: .py, .ts or .js)");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("DIR must be a readable directory")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path.to_string_lossy().into_owned(), text))
        })
        .collect();
    files.sort();
    let ext = files
        .first()
        .and_then(|f| f.0.rsplit_once('.'))
        .map(|(_, e)| e.to_string())
        .expect("DIR holds no readable file with an extension");
    let mib = files.iter().map(|f| f.1.len()).sum::<usize>() as f64 / 1048576.0;

    let grammar: tree_sitter::Language = match ext.as_str() {
        "py" => tree_sitter_python::LANGUAGE.into(),
        "ts" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        "js" => tree_sitter_javascript::LANGUAGE.into(),
        other => panic!("no parser pair for .{other}"),
    };
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&grammar).expect("grammar loads");
    let other = if ext == "py" { "ruff_python_parser" } else { "oxc_parser" };

    for round in 1..=3 {
        let start = Instant::now();
        let mut errors = 0;
        for (_, text) in &files {
            let tree = parser.parse(text, None).expect("tree-sitter parses");
            errors += usize::from(tree.root_node().has_error());
        }
        let ts = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let mut other_errors = 0;
        if ext == "py" {
            for (_, text) in &files {
                other_errors += usize::from(ruff_python_parser::parse_module(text).is_err());
            }
        } else {
            let mut arena = oxc_allocator::Allocator::default();
            for (path, text) in &files {
                let kind = oxc_span::SourceType::from_path(path).expect("a JS/TS path");
                let parsed = oxc_parser::Parser::new(&arena, text, kind).parse();
                other_errors += usize::from(!parsed.diagnostics.is_empty());
                arena.reset();
            }
        }
        let fast = start.elapsed().as_secs_f64();
        println!(
            ".{ext} round {round}: {} files, {mib:.1} MiB; tree-sitter {:.0} ms ({:.1} MiB/s, {errors} with errors); {other} {:.0} ms ({:.1} MiB/s, {other_errors} with errors); {:.1}x",
            files.len(),
            ts * 1e3,
            mib / ts,
            fast * 1e3,
            mib / fast,
            ts / fast
        );
    }
}
