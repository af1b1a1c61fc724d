//! Text analysis for tool names and descriptions.
//!
//! tantivy's `SimpleTokenizer` splits on non-alphanumerics only, so
//! `listDirectory` stays one token and `read_file` would only match if the
//! query also said `read_file`. Tool names are identifiers, so the tokenizer
//! here (hand-rolled because tantivy ships no identifier splitter) also
//! splits camelCase / PascalCase boundaries; snake_case, kebab-case,
//! dotted and `server:tool` names split on their punctuation. The rest of the
//! chain is tantivy's own filters: lowercase, drop very long tokens, optional
//! English stop words, optional English (Snowball) stemming.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Tokens longer than this (in bytes) are dropped: they are hashes, base64
/// blobs or garbage, never useful search words.
const MAX_TOKEN_BYTES: usize = 40;

/// Which stop words are dropped (from indexed text and queries alike).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopWords {
    /// Keep every word.
    None,
    /// tantivy's English list (Lucene's 33 articles, prepositions and
    /// conjunctions).
    #[default]
    Short,
}

/// Builds the analyzer used for every text field and for queries.
pub(crate) fn build(stopwords: StopWords, stemming: bool) -> TextAnalyzer {
    let base = TextAnalyzer::builder(IdentifierTokenizer)
        .filter(LowerCaser)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .dynamic();
    let short = || StopWordFilter::new(Language::English).expect("tantivy ships an English list");
    let base = match stopwords {
        StopWords::None => base,
        StopWords::Short => base.filter_dynamic(short()),
    };
    let base = if stemming {
        base.filter_dynamic(Stemmer::new(Language::English))
    } else {
        base
    };
    base.build()
}

/// Runs `analyzer` over `text` and returns the terms in order.
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// Splits text into words, and identifiers into their parts.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdentifierTokenizer;

pub(crate) struct IdentifierTokenStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for IdentifierTokenizer {
    type TokenStream<'a> = IdentifierTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> IdentifierTokenStream {
        IdentifierTokenStream {
            tokens: split(text).into_iter(),
            current: Token::default(),
        }
    }
}

impl TokenStream for IdentifierTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

/// Ideographic and syllabic scripts written without spaces: each character
/// becomes its own token so that such descriptions are searchable at all.
fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
    )
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// The word boundaries of `text`; see the module documentation.
fn split(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    // After an apostrophe inside a word ("folder's", "aren't") the letters
    // that follow are a clitic, not a word: skip them.
    let mut skipping_clitic = false;
    let mut prev: Option<char> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();

    let push = |tokens: &mut Vec<Token>, from: usize, to: usize| {
        if from < to {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: tokens.len(),
                text: text[from..to].to_string(),
                position_length: 1,
            });
        }
    };

    for (i, &(at, c)) in chars.iter().enumerate() {
        if skipping_clitic {
            if c.is_alphabetic() && !is_unspaced_script(c) {
                continue;
            }
            skipping_clitic = false;
        }
        if is_unspaced_script(c) {
            if let Some(s) = start.take() {
                push(&mut tokens, s, at);
            }
            push(&mut tokens, at, at + c.len_utf8());
            prev = None;
            continue;
        }
        if !c.is_alphanumeric() {
            if let Some(s) = start.take() {
                push(&mut tokens, s, at);
                let next_is_letter = chars.get(i + 1).is_some_and(|&(_, n)| n.is_alphabetic());
                if is_apostrophe(c) && prev.is_some_and(char::is_alphabetic) && next_is_letter {
                    skipping_clitic = true;
                }
            }
            prev = None;
            continue;
        }
        if let (Some(s), Some(p)) = (start, prev) {
            let next_lower = chars.get(i + 1).is_some_and(|&(_, n)| n.is_lowercase());
            // fooBar → foo|Bar ; HTTPServer → HTTP|Server
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower);
            if boundary {
                push(&mut tokens, s, at);
                start = Some(at);
            }
        }
        if start.is_none() {
            start = Some(at);
        }
        prev = Some(c);
    }
    if let Some(s) = start {
        push(&mut tokens, s, text.len());
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn splits_identifier_styles() {
        assert_eq!(words("read_text_file"), ["read", "text", "file"]);
        assert_eq!(
            words("listDirectoryWithSizes"),
            ["list", "Directory", "With", "Sizes"]
        );
        assert_eq!(words("HTTPServerError"), ["HTTP", "Server", "Error"]);
        assert_eq!(words("git-diff-staged"), ["git", "diff", "staged"]);
        assert_eq!(
            words("filesystem:read_file"),
            ["filesystem", "read", "file"]
        );
        assert_eq!(words("base64 utf8"), ["base64", "utf8"]);
    }

    #[test]
    fn drops_clitics() {
        assert_eq!(words("the folder's size"), ["the", "folder", "size"]);
        assert_eq!(words("aren't staged"), ["aren", "staged"]);
        assert_eq!(words("'quoted' words"), ["quoted", "words"]);
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = "Größe von fooBar";
        for t in split(text) {
            assert_eq!(&text[t.offset_from..t.offset_to], t.text);
        }
        assert_eq!(words(text), ["Größe", "von", "foo", "Bar"]);
    }

    #[test]
    fn unspaced_scripts_become_characters() {
        assert_eq!(words("ファイル読む"), ["フ", "ァ", "イ", "ル", "読", "む"]);
    }

    #[test]
    fn full_chain_lowercases_stems_and_drops_stop_words() {
        let mut a = build(StopWords::Short, true);
        assert_eq!(
            terms(&mut a, "Lists the Directories of listDirectory"),
            ["list", "directori", "list", "directori"]
        );
        let mut plain = build(StopWords::None, false);
        assert_eq!(terms(&mut plain, "the Files"), ["the", "files"]);
        assert!(terms(&mut a, ":\"()^-").is_empty());
    }
}
