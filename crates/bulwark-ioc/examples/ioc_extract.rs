//! `cargo run --release -p bulwark-ioc --example ioc_extract -- FILE... [--values] [--time]`:
//! print the indicators of files (JSON), or one refanged value per line
//! with `--values`; `--time` prints MB/s to stderr (used by bench/ioc).

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let values = args.iter().any(|a| a == "--values");
    let time = args.iter().any(|a| a == "--time");
    let repeat: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("--repeat=").and_then(|n| n.parse().ok()))
        .unwrap_or(1);
    let files: Vec<_> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let extractor =
        bulwark_ioc::Extractor::new(bulwark_ioc::ExtractOptions::default()).expect("extractor");
    for file in files {
        let text = std::fs::read(file).expect("readable file");
        let start = Instant::now();
        let mut result = extractor.extract_text(&text);
        for _ in 1..repeat {
            result = extractor.extract_text(&text);
        }
        let secs = start.elapsed().as_secs_f64();
        if time {
            let mb = (text.len() * repeat) as f64 / 1e6;
            eprintln!(
                "{file}: {:.1} MB in {:.3} s = {:.1} MB/s",
                mb,
                secs,
                mb / secs
            );
        }
        if values {
            for i in &result.indicators {
                println!("{}\t{}", i.kind.as_str(), i.value);
            }
        } else if !time {
            println!("{}", serde_json::to_string_pretty(&result).expect("json"));
        }
    }
}
