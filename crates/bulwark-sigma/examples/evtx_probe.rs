//! Where EVTX reading time goes: `evtx_probe DIR` (single thread).
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let files: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "evtx"))
        .map(|e| e.into_path())
        .collect();
    let bufs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for mode in ["xml", "json-string", "json-value"] {
        let t = Instant::now();
        let mut n = 0u64;
        for b in &bufs {
            let settings = evtx::ParserSettings::default()
                .separate_json_attributes(false)
                .num_threads(1);
            let Ok(p) = evtx::EvtxParser::from_buffer(b.clone()) else {
                continue;
            };
            let mut p = p.with_configuration(settings);
            match mode {
                "xml" => n += p.records().filter(|r| r.is_ok()).count() as u64,
                "json-string" => n += p.records_json().filter(|r| r.is_ok()).count() as u64,
                _ => n += p.records_json_value().filter(|r| r.is_ok()).count() as u64,
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!("{mode}: {n} records in {s:.3}s = {:.0}/s", n as f64 / s);
    }
}
