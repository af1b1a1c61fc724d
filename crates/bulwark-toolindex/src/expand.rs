//! A small, generic list of software-vocabulary synonyms used to expand
//! queries (optional: `IndexConfig::expansion`). Users say "folder" where a
//! tool says "directory"; BM25 alone cannot bridge that.
//!
//! Kept deliberately short and domain-generic (file systems, CRUD verbs,
//! search verbs); it is not tuned per query. Expanded terms weigh
//! [`EXPANDED_WEIGHT`] of a query term.

use std::collections::HashSet;

use tantivy::tokenizer::TextAnalyzer;

/// Weight of a synonym relative to the word the user wrote.
pub(crate) const EXPANDED_WEIGHT: f32 = 0.5;

/// Groups of interchangeable words (any member expands to the others).
const GROUPS: &[&[&str]] = &[
    &["directory", "folder"],
    &["file", "document"],
    &["delete", "remove", "erase"],
    &["create", "make"],
    &["find", "search", "locate", "lookup"],
    &["show", "display", "view"],
    &["modify", "change", "edit", "update", "alter"],
    &["run", "execute"],
    &["image", "picture", "photo"],
    &["url", "link", "webpage"],
    &["get", "retrieve", "obtain"],
    &["move", "relocate"],
];

pub(crate) struct Expansion {
    /// Analysed groups (stemmed like the index).
    groups: Vec<Vec<String>>,
}

impl Expansion {
    pub(crate) fn new(analyzer: &mut TextAnalyzer) -> Self {
        let groups = GROUPS
            .iter()
            .map(|g| {
                let mut terms: Vec<String> = Vec::new();
                for word in *g {
                    for t in crate::analyzer::terms(analyzer, word) {
                        if !terms.contains(&t) {
                            terms.push(t);
                        }
                    }
                }
                terms
            })
            .filter(|g| g.len() > 1)
            .collect();
        Expansion { groups }
    }

    /// Extra (term, weight) pairs for the analysed query `terms`; never a
    /// term already in the query.
    pub(crate) fn expand(&self, terms: &[String]) -> Vec<(String, f32)> {
        let asked: HashSet<&str> = terms.iter().map(String::as_str).collect();
        let mut added: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        for term in terms {
            for group in &self.groups {
                if !group.contains(term) {
                    continue;
                }
                for other in group {
                    if !asked.contains(other.as_str()) && added.insert(other) {
                        out.push((other.clone(), EXPANDED_WEIGHT));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_to_stemmed_group_members_once() {
        let mut a = crate::analyzer::build(crate::StopWords::Short, true);
        let e = Expansion::new(&mut a);
        let q = crate::analyzer::terms(&mut a, "folders and directories");
        // "folder" and "directori" are both asked: nothing to add.
        assert!(e.expand(&q).is_empty());
        let q = crate::analyzer::terms(&mut a, "remove folders");
        let added: Vec<String> = e.expand(&q).into_iter().map(|(t, _)| t).collect();
        assert_eq!(added, ["delet", "eras", "directori"]);
        assert!(e.expand(&["unrelated".to_string()]).is_empty());
    }
}
