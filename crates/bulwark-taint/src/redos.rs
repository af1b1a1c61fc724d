//! A small, bounded checker for regular expressions that backtracking
//! engines (Python `re`, JavaScript) can take exponential time on: a
//! quantified group whose body can match the same text in more than one way,
//! such as `(a+)+`, `(.*)*`, `(\w+\s?)*`, `(\d|\w)+`.
//!
//! The pattern is parsed into a tiny syntax tree (at most 2,000 characters,
//! nesting at most 64 deep); each unbounded repetition is then judged by the
//! characters its body's parts can match.

const MAX_LEN: usize = 2000;
const MAX_NEST: u32 = 64;

/// A set of characters: bytes 0–255 plus "anything beyond".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Cs {
    bits: [u64; 4],
    other: bool,
}

impl Cs {
    const EMPTY: Cs = Cs {
        bits: [0; 4],
        other: false,
    };
    const ALL: Cs = Cs {
        bits: [u64::MAX; 4],
        other: true,
    };

    fn byte(b: u8) -> Cs {
        let mut c = Cs::EMPTY;
        c.add(b);
        c
    }
    fn add(&mut self, b: u8) {
        self.bits[(b / 64) as usize] |= 1 << (b % 64);
    }
    fn add_range(&mut self, lo: u32, hi: u32) {
        for b in lo..=hi.min(255) {
            self.add(b as u8);
        }
        if hi > 255 {
            self.other = true;
        }
    }
    fn union(self, o: Cs) -> Cs {
        let mut r = self;
        for i in 0..4 {
            r.bits[i] |= o.bits[i];
        }
        r.other |= o.other;
        r
    }
    fn inter(self, o: Cs) -> Cs {
        let mut r = self;
        for i in 0..4 {
            r.bits[i] &= o.bits[i];
        }
        r.other &= o.other;
        r
    }
    fn not(self) -> Cs {
        let mut r = self;
        for i in 0..4 {
            r.bits[i] = !r.bits[i];
        }
        r.other = !r.other;
        r
    }
    fn is_empty(&self) -> bool {
        self.bits.iter().all(|b| *b == 0) && !self.other
    }
    fn digit() -> Cs {
        let mut c = Cs::EMPTY;
        c.add_range(b'0' as u32, b'9' as u32);
        c
    }
    fn word() -> Cs {
        let mut c = Cs::digit();
        c.add_range(b'a' as u32, b'z' as u32);
        c.add_range(b'A' as u32, b'Z' as u32);
        c.add(b'_');
        c
    }
    fn space() -> Cs {
        let mut c = Cs::EMPTY;
        for b in [b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c] {
            c.add(b);
        }
        c
    }
    fn dot() -> Cs {
        let mut c = Cs::ALL;
        c.bits[0] &= !(1 << b'\n');
        c
    }
}

#[derive(Debug)]
enum Re {
    Empty,
    Set(Cs),
    Seq(Vec<Re>),
    Alt(Vec<Re>),
    Group(Box<Re>),
    Repeat {
        inner: Box<Re>,
        min: u32,
        max: Option<u32>,
        possessive: bool,
        span: (usize, usize),
    },
    /// Lookaround: zero-width, analysed for its own repeats only.
    Look(Box<Re>),
    /// A backreference: matches text we cannot know; treated as a separator.
    Backref,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    steps: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn alt(&mut self, depth: u32) -> Option<Re> {
        if depth > MAX_NEST {
            return None;
        }
        let mut alts = vec![self.seq(depth)?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            alts.push(self.seq(depth)?);
        }
        Some(if alts.len() == 1 {
            alts.pop()?
        } else {
            Re::Alt(alts)
        })
    }

    fn seq(&mut self, depth: u32) -> Option<Re> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            self.steps += 1;
            if self.steps > 20_000 {
                return None;
            }
            if c == b'|' || c == b')' {
                break;
            }
            let start = self.i;
            let atom = self.atom(depth)?;
            let atom = self.quantifier(atom, start)?;
            items.push(atom);
        }
        Some(Re::Seq(items))
    }

    fn quantifier(&mut self, atom: Re, start: usize) -> Option<Re> {
        let (min, max) = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                (0, None)
            }
            Some(b'+') => {
                self.i += 1;
                (1, None)
            }
            Some(b'?') => {
                self.i += 1;
                (0, Some(1))
            }
            Some(b'{') => {
                // {n}, {n,}, {n,m}; anything else is a literal brace.
                let rest = &self.s[self.i + 1..];
                let close = rest.iter().position(|&b| b == b'}')?;
                let body = std::str::from_utf8(&rest[..close]).ok()?;
                let parsed = match body.split_once(',') {
                    None => body.trim().parse::<u32>().ok().map(|n| (n, Some(n))),
                    Some((a, b)) => {
                        let a = if a.is_empty() {
                            Some(0)
                        } else {
                            a.trim().parse::<u32>().ok()
                        };
                        let b = if b.trim().is_empty() {
                            Some(None)
                        } else {
                            b.trim().parse::<u32>().ok().map(Some)
                        };
                        a.zip(b)
                    }
                };
                match parsed {
                    Some(p) => {
                        self.i += close + 2;
                        p
                    }
                    None => return Some(atom),
                }
            }
            _ => return Some(atom),
        };
        let mut possessive = false;
        match self.peek() {
            Some(b'?') => self.i += 1,
            Some(b'+') => {
                self.i += 1;
                possessive = true;
            }
            _ => {}
        }
        Some(Re::Repeat {
            inner: Box::new(atom),
            min,
            max,
            possessive,
            span: (start, self.i),
        })
    }

    fn atom(&mut self, depth: u32) -> Option<Re> {
        let c = self.peek()?;
        self.i += 1;
        match c {
            b'(' => {
                let mut look = false;
                let mut atomic = false;
                if self.peek() == Some(b'?') {
                    self.i += 1;
                    match self.peek() {
                        Some(b':') => self.i += 1,
                        Some(b'=') | Some(b'!') => {
                            self.i += 1;
                            look = true;
                        }
                        Some(b'>') => {
                            self.i += 1;
                            atomic = true;
                        }
                        Some(b'<') => {
                            self.i += 1;
                            if matches!(self.peek(), Some(b'=') | Some(b'!')) {
                                self.i += 1;
                                look = true;
                            } else {
                                while let Some(b) = self.peek() {
                                    self.i += 1;
                                    if b == b'>' {
                                        break;
                                    }
                                }
                            }
                        }
                        Some(b'P') => {
                            self.i += 1;
                            if self.peek() == Some(b'<') {
                                while let Some(b) = self.peek() {
                                    self.i += 1;
                                    if b == b'>' {
                                        break;
                                    }
                                }
                            } else {
                                // (?P=name) backreference
                                while let Some(b) = self.peek() {
                                    self.i += 1;
                                    if b == b')' {
                                        return Some(Re::Backref);
                                    }
                                }
                            }
                        }
                        _ => {
                            // Inline flags (?i) or (?i:...)
                            while let Some(b) = self.peek() {
                                if b == b')' {
                                    self.i += 1;
                                    return Some(Re::Empty);
                                }
                                self.i += 1;
                                if b == b':' {
                                    break;
                                }
                            }
                        }
                    }
                }
                let inner = self.alt(depth + 1)?;
                if self.peek() == Some(b')') {
                    self.i += 1;
                }
                if look {
                    return Some(Re::Look(Box::new(inner)));
                }
                if atomic {
                    // Atomic groups do not backtrack into their body.
                    return Some(Re::Look(Box::new(inner)));
                }
                Some(Re::Group(Box::new(inner)))
            }
            b'[' => Some(Re::Set(self.class()?)),
            b'.' => Some(Re::Set(Cs::dot())),
            b'^' | b'$' => Some(Re::Empty),
            b'\\' => self.escape(false).map(|e| match e {
                Esc::Set(c) => Re::Set(c),
                Esc::Empty => Re::Empty,
                Esc::Backref => Re::Backref,
            }),
            _ => {
                // A UTF-8 lead byte stands for "other".
                if c >= 0x80 {
                    while self.peek().is_some_and(|b| (0x80..0xc0).contains(&b)) {
                        self.i += 1;
                    }
                    Some(Re::Set(Cs {
                        bits: [0; 4],
                        other: true,
                    }))
                } else {
                    Some(Re::Set(Cs::byte(c)))
                }
            }
        }
    }

    fn escape(&mut self, in_class: bool) -> Option<Esc> {
        let c = self.peek()?;
        self.i += 1;
        Some(match c {
            b'd' => Esc::Set(Cs::digit()),
            b'D' => Esc::Set(Cs::digit().not()),
            b'w' => Esc::Set(Cs::word()),
            b'W' => Esc::Set(Cs::word().not()),
            b's' => Esc::Set(Cs::space()),
            b'S' => Esc::Set(Cs::space().not()),
            b'n' => Esc::Set(Cs::byte(b'\n')),
            b't' => Esc::Set(Cs::byte(b'\t')),
            b'r' => Esc::Set(Cs::byte(b'\r')),
            b'f' => Esc::Set(Cs::byte(0x0c)),
            b'v' => Esc::Set(Cs::byte(0x0b)),
            b'0' => Esc::Set(Cs::byte(0)),
            b'b' if in_class => Esc::Set(Cs::byte(8)),
            b'b' | b'B' | b'A' | b'Z' | b'z' | b'G' => Esc::Empty,
            b'1'..=b'9' if !in_class => {
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.i += 1;
                }
                Esc::Backref
            }
            b'x' => {
                let hex = self.take_hex(2);
                Esc::Set(code_set(hex))
            }
            b'u' => {
                if self.peek() == Some(b'{') {
                    self.i += 1;
                    let v = self.take_hex(6);
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    }
                    Esc::Set(code_set(v))
                } else {
                    let v = self.take_hex(4);
                    Esc::Set(code_set(v))
                }
            }
            b'p' | b'P' => {
                if self.peek() == Some(b'{') {
                    while let Some(b) = self.peek() {
                        self.i += 1;
                        if b == b'}' {
                            break;
                        }
                    }
                }
                Esc::Set(Cs::ALL)
            }
            b'k' => {
                if self.peek() == Some(b'<') {
                    while let Some(b) = self.peek() {
                        self.i += 1;
                        if b == b'>' {
                            break;
                        }
                    }
                }
                Esc::Backref
            }
            other => Esc::Set(Cs::byte(other)),
        })
    }

    fn take_hex(&mut self, n: usize) -> u32 {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek().and_then(|b| (b as char).to_digit(16)) {
                Some(d) => {
                    v = v * 16 + d;
                    self.i += 1;
                }
                None => break,
            }
        }
        v
    }

    fn class(&mut self) -> Option<Cs> {
        let mut set = Cs::EMPTY;
        let negate = self.peek() == Some(b'^');
        if negate {
            self.i += 1;
        }
        let mut first = true;
        loop {
            let c = self.peek()?;
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            self.i += 1;
            let lo: Option<u32> = match c {
                b'\\' => match self.escape(true)? {
                    Esc::Set(s) => {
                        if let Some(b) = single(&s) {
                            Some(b)
                        } else {
                            set = set.union(s);
                            None
                        }
                    }
                    Esc::Empty | Esc::Backref => None,
                },
                b'[' if self.peek() == Some(b':') => {
                    // POSIX class [:alpha:] — treat as word characters.
                    while let Some(b) = self.peek() {
                        self.i += 1;
                        if b == b']' {
                            break;
                        }
                    }
                    set = set.union(Cs::word());
                    None
                }
                _ if c >= 0x80 => {
                    while self.peek().is_some_and(|b| (0x80..0xc0).contains(&b)) {
                        self.i += 1;
                    }
                    set.other = true;
                    None
                }
                _ => Some(c as u32),
            };
            let Some(lo) = lo else { continue };
            if self.peek() == Some(b'-') && self.s.get(self.i + 1).is_some_and(|&b| b != b']') {
                self.i += 1;
                let h = self.peek()?;
                self.i += 1;
                let hi = if h == b'\\' {
                    match self.escape(true)? {
                        Esc::Set(s) => single(&s).unwrap_or(lo),
                        Esc::Empty | Esc::Backref => lo,
                    }
                } else if h >= 0x80 {
                    while self.peek().is_some_and(|b| (0x80..0xc0).contains(&b)) {
                        self.i += 1;
                    }
                    0x10ffff
                } else {
                    h as u32
                };
                if hi >= lo {
                    set.add_range(lo, hi);
                }
            } else {
                set.add_range(lo, lo);
            }
        }
        Some(if negate { set.not() } else { set })
    }
}

enum Esc {
    Set(Cs),
    Empty,
    Backref,
}

fn code_set(v: u32) -> Cs {
    let mut c = Cs::EMPTY;
    c.add_range(v, v);
    c
}

fn single(s: &Cs) -> Option<u32> {
    if s.other {
        return None;
    }
    let mut found = None;
    for (i, w) in s.bits.iter().enumerate() {
        if *w == 0 {
            continue;
        }
        if w.count_ones() != 1 || found.is_some() {
            return None;
        }
        found = Some(i as u32 * 64 + w.trailing_zeros());
    }
    found
}

/// Every character the expression can match.
fn chars(r: &Re, depth: u32) -> Cs {
    if depth > MAX_NEST * 2 {
        return Cs::ALL;
    }
    match r {
        Re::Empty | Re::Look(_) | Re::Backref => Cs::EMPTY,
        Re::Set(c) => *c,
        Re::Seq(v) | Re::Alt(v) => v
            .iter()
            .fold(Cs::EMPTY, |a, x| a.union(chars(x, depth + 1))),
        Re::Group(i) => chars(i, depth + 1),
        Re::Repeat { inner, max, .. } => {
            if *max == Some(0) {
                Cs::EMPTY
            } else {
                chars(inner, depth + 1)
            }
        }
    }
}

fn nullable(r: &Re, depth: u32) -> bool {
    if depth > MAX_NEST * 2 {
        return true;
    }
    match r {
        Re::Empty | Re::Look(_) => true,
        Re::Set(_) | Re::Backref => false,
        Re::Seq(v) => v.iter().all(|x| nullable(x, depth + 1)),
        Re::Alt(v) => v.iter().any(|x| nullable(x, depth + 1)),
        Re::Group(i) => nullable(i, depth + 1),
        Re::Repeat { inner, min, .. } => *min == 0 || nullable(inner, depth + 1),
    }
}

/// Contains a repetition that can match a variable number of characters.
fn has_variable_repeat(r: &Re, depth: u32) -> bool {
    if depth > MAX_NEST * 2 {
        return false;
    }
    match r {
        Re::Empty | Re::Set(_) | Re::Look(_) | Re::Backref => false,
        Re::Seq(v) | Re::Alt(v) => v.iter().any(|x| has_variable_repeat(x, depth + 1)),
        Re::Group(i) => has_variable_repeat(i, depth + 1),
        Re::Repeat {
            inner,
            min,
            max,
            possessive,
            ..
        } => !*possessive && max.is_none_or(|m| m > *min) && !chars(inner, depth + 1).is_empty(),
    }
}

/// The items of a sequence, looking through plain groups.
fn flatten<'r>(r: &'r Re, out: &mut Vec<&'r Re>, depth: u32) {
    if depth > MAX_NEST * 2 {
        return;
    }
    match r {
        Re::Seq(v) => {
            for x in v {
                flatten(x, out, depth + 1);
            }
        }
        Re::Group(i) if matches!(**i, Re::Seq(_)) => flatten(i, out, depth + 1),
        Re::Empty => {}
        other => out.push(other),
    }
}

/// Whether one iteration of `body` can match the same text in more than one
/// way, so that a repetition of it backtracks exponentially.
fn has_look(r: &Re, depth: u32) -> bool {
    if depth > MAX_NEST * 2 {
        return true;
    }
    match r {
        Re::Look(_) | Re::Backref => true,
        Re::Empty | Re::Set(_) => false,
        Re::Seq(v) | Re::Alt(v) => v.iter().any(|x| has_look(x, depth + 1)),
        Re::Group(i) => has_look(i, depth + 1),
        Re::Repeat { inner, .. } => has_look(inner, depth + 1),
    }
}

fn ambiguous_body(body: &Re) -> bool {
    // Lookarounds and backreferences constrain how iterations split in
    // ways this checker does not model: stay quiet rather than guess.
    if has_look(body, 0) {
        return false;
    }
    let alts: Vec<&Re> = match body {
        Re::Alt(v) => v.iter().collect(),
        Re::Group(i) => match &**i {
            Re::Alt(v) => v.iter().collect(),
            _ => vec![body],
        },
        _ => vec![body],
    };
    // Overlapping single-character alternatives: (\w|\d)+, (a|a)*.
    if alts.len() > 1 {
        let singles: Vec<Cs> = alts
            .iter()
            .filter_map(|a| {
                let mut items = Vec::new();
                flatten(a, &mut items, 0);
                match items.as_slice() {
                    [Re::Set(c)] => Some(*c),
                    _ => None,
                }
            })
            .collect();
        for i in 0..singles.len() {
            for j in i + 1..singles.len() {
                if !singles[i].inter(singles[j]).is_empty() {
                    return true;
                }
            }
        }
    }
    for alt in alts {
        let mut items = Vec::new();
        flatten(alt, &mut items, 0);
        for (i, x) in items.iter().enumerate() {
            if !has_variable_repeat(x, 0) {
                continue;
            }
            let mut common = chars(x, 0);
            for (j, y) in items.iter().enumerate() {
                if i == j || nullable(y, 0) {
                    continue;
                }
                common = common.inter(chars(y, 0));
            }
            if !common.is_empty() {
                return true;
            }
        }
    }
    false
}

fn find(r: &Re, pattern: &str, depth: u32, found: &mut Option<String>) {
    if depth > MAX_NEST * 2 || found.is_some() {
        return;
    }
    match r {
        Re::Empty | Re::Set(_) | Re::Backref => {}
        Re::Seq(v) | Re::Alt(v) => {
            for x in v {
                find(x, pattern, depth + 1, found);
            }
        }
        Re::Group(i) | Re::Look(i) => find(i, pattern, depth + 1, found),
        Re::Repeat {
            inner,
            max,
            possessive,
            span,
            ..
        } => {
            if max.is_none() && !*possessive && ambiguous_body(inner) {
                *found = Some(pattern.get(span.0..span.1).unwrap_or(pattern).to_string());
                return;
            }
            find(inner, pattern, depth + 1, found);
        }
    }
}

/// If the pattern is prone to catastrophic backtracking, the offending
/// part (e.g. `(a+)+`).
pub fn check(pattern: &str) -> Option<String> {
    if pattern.len() > MAX_LEN {
        return None;
    }
    let mut p = Parser {
        s: pattern.as_bytes(),
        i: 0,
        steps: 0,
    };
    let mut tree = Vec::new();
    // Stray `)` are skipped so that the rest is still read.
    while p.i < p.s.len() {
        let r = p.alt(0)?;
        tree.push(r);
        if p.peek() == Some(b')') {
            p.i += 1;
        } else if p.i < p.s.len() {
            break;
        }
    }
    let mut found = None;
    for r in &tree {
        find(r, pattern, 0, &mut found);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn nested_quantifiers_are_found() {
        for p in [
            "(a+)+",
            "(a*)*",
            "(.*)*",
            r"(\w+\s?)*",
            "^(a+)+$",
            r"(\d+\.?)+$",
            "(x+x+)+y",
            r"(\w|\d)+",
            "(a|a)*",
            r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$",
            r"([a-zA-Z0-9]{2,4})+$",
            r"(.*a){12}(.*a)*",
            "((ab)*)+",
            r"(?:\s*,?\s*\w+)*$",
        ] {
            assert!(check(p).is_some(), "expected ReDoS in {p}");
        }
    }

    #[test]
    fn safe_patterns_pass() {
        for p in [
            "a+",
            "(ab)+",
            r"(\w+,)*",
            r"^[a-z0-9_-]+$",
            r"(\w+\s)*",
            "(a+b)*",
            r"([a-zA-Z0-9]+\.)+[a-z]{2,}",
            r"^\d{3}-\d{4}$",
            "(a|b)*c",
            "(?:foo|bar)+",
            r"\s+$",
            "(a++)+",
            "(?>a+)+",
            "[",
            "(((",
            ")))",
            "a{2,x}",
            r"(\d+)-(\d+)",
            "^(?:[a-z]+://)?[^/]+$",
            r"(^\s*)([*-])(?:[\t ]*\2){2,}",
            r"(?:[^()\s]|\s+(?![\s)]))+",
            r"(?P<q>['\x22])(?:\w+(?P=q))+",
        ] {
            assert!(check(p).is_none(), "false ReDoS in {p}: {:?}", check(p));
        }
    }

    #[test]
    fn hostile_patterns_are_bounded() {
        let deep = "(".repeat(5000) + &")".repeat(5000);
        assert!(check(&deep).is_none());
        let long = "a".repeat(100_000);
        assert!(check(&long).is_none());
        let nested = "(a+".repeat(60) + &")+".repeat(60);
        let _ = check(&nested);
        let _ = check("[\\");
        let _ = check("\\");
        let _ = check("x{99999999999999999999}");
        let _ = check("(?P");
        let _ = check("[z-a]");
    }
}
