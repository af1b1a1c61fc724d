//! Parse-only timing, one thread: `cargo run --release -p bulwark-taint
//! --example parse_bench -- DIR`. Compares a fresh parser per file with one
//! reused parser, and adds a full `analyze` for scale.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bulwark_taint::Language;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, out);
        } else if ft.is_file() && Language::from_path(&p.to_string_lossy()).is_some() {
            out.push(p);
        }
    }
}

fn grammar(lang: Language) -> tree_sitter::Language {
    match lang {
        Language::Python => tree_sitter_python::LANGUAGE.into(),
        Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        Language::Go => tree_sitter_go::LANGUAGE.into(),
        Language::Rust => tree_sitter_rust::LANGUAGE.into(),
    }
}

fn main() {
    let mut files = Vec::new();
    for d in std::env::args().skip(1) {
        collect(Path::new(&d), &mut files);
    }
    files.sort();
    let sources: Vec<(String, Language, String)> = files
        .iter()
        .filter_map(|p| {
            let s = p.to_string_lossy().to_string();
            let lang = Language::from_path(&s)?;
            let text = std::fs::read_to_string(p).ok()?;
            bulwark_taint::within_bounds(&text).then_some((s, lang, text))
        })
        .collect();
    let bytes: usize = sources.iter().map(|s| s.2.len()).sum();
    let mb = bytes as f64 / 1048576.0;

    let t = Instant::now();
    for (_, lang, text) in &sources {
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&grammar(*lang)).unwrap();
        std::hint::black_box(parser.parse(text, None));
    }
    let fresh = t.elapsed().as_secs_f64();

    let mut parsers: Vec<(Language, tree_sitter::Parser)> = Vec::new();
    let t = Instant::now();
    let mut nodes = 0usize;
    for (_, lang, text) in &sources {
        let i = match parsers.iter().position(|p| p.0 == *lang) {
            Some(i) => i,
            None => {
                let mut p = tree_sitter::Parser::new();
                p.set_language(&grammar(*lang)).unwrap();
                parsers.push((*lang, p));
                parsers.len() - 1
            }
        };
        let tree = parsers[i].1.parse(text, None).unwrap();
        nodes += tree.root_node().descendant_count();
    }
    let reused = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut findings = 0;
    for (path, lang, text) in &sources {
        findings += bulwark_taint::analyze(path, *lang, text).len();
    }
    let full = t.elapsed().as_secs_f64();
    let n = sources.len() as f64;
    println!(
        "{} files, {mb:.1} MiB, {nodes} nodes\n fresh parser {:.0} ms ({:.0} us/file, {:.1} MiB/s)\n reused parser {:.0} ms ({:.0} us/file)\n analyze {:.0} ms ({:.0} us/file, {findings} findings)",
        sources.len(),
        fresh * 1e3,
        fresh * 1e6 / n,
        mb / fresh,
        reused * 1e3,
        reused * 1e6 / n,
        full * 1e3,
        full * 1e6 / n
    );
}
