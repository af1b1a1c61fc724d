//! Where extraction time goes (development aid): find vs captures over a file.
use std::time::Instant;
fn main() {
    let file = std::env::args().nth(1).expect("file");
    let text = std::fs::read(&file).unwrap();
    let pat = format!("(?i-u){}", bulwark_ioc::combined_pattern());
    let re = regex::bytes::RegexBuilder::new(&pat)
        .size_limit(64 << 20)
        .dfa_size_limit(256 << 20)
        .build()
        .unwrap();
    let t = Instant::now();
    let n = re.find_iter(&text).count();
    println!("find: {n} in {:?}", t.elapsed());
    let t = Instant::now();
    let n = re.captures_iter(&text).count();
    println!("captures: {n} in {:?}", t.elapsed());
    for part in bulwark_ioc::combined_pattern().split("|(?P<") {
        let p = if part.starts_with("(?P<") {
            part.to_string()
        } else {
            format!("(?P<{part}")
        };
        let name = p[4..p.find('>').unwrap()].to_string();
        let re = regex::bytes::RegexBuilder::new(&format!("(?i-u){p}"))
            .size_limit(64 << 20)
            .build()
            .unwrap();
        let t = Instant::now();
        let n = re.find_iter(&text).count();
        println!("  {name}: {n} in {:?}", t.elapsed());
    }
}
