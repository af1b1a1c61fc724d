//! Retrieval-quality scoring on MCPProxy's tool-search benchmark
//! (`shared/corpora/tool-search`: `corpus_v1.tools.json`,
//! `retrieval_golden_v1.json`). Used by the quality test and the bench.
//!
//! Metrics follow upstream's conventions: a label with relevance >= 1 is
//! relevant; Recall@k is the share of a query's relevant tools in its top k,
//! averaged over queries; MRR uses the rank of the first relevant tool in
//! the top 10 (0 when none); nDCG@10 uses the graded relevance as gain with
//! a log2(rank + 1) discount.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{FieldBoosts, IndexConfig, IndexedTool, Result, ToolIndex};

/// Ranks considered by MRR and nDCG.
pub const DEPTH: usize = 10;

/// One tool of the corpus.
#[derive(Clone, Debug, Deserialize)]
pub struct CorpusTool {
    /// `server:tool`.
    pub tool_id: String,
    /// Server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Description.
    pub description: String,
}

#[derive(Deserialize)]
struct CorpusFile {
    tools: Vec<CorpusTool>,
}

/// One graded label.
#[derive(Clone, Debug, Deserialize)]
pub struct Label {
    /// `server:tool`.
    pub tool_id: String,
    /// 2 best, 1 acceptable, 0 a listed hard negative.
    pub relevance: u32,
}

/// One golden query.
#[derive(Clone, Debug, Deserialize)]
pub struct GoldenQuery {
    /// Query id (`q-fs-read`, …).
    pub id: String,
    /// The query text.
    pub query: String,
    /// Graded labels.
    pub labels: Vec<Label>,
}

#[derive(Deserialize)]
struct GoldenFile {
    queries: Vec<GoldenQuery>,
}

/// The benchmark: the tools and the queries.
#[derive(Clone, Debug)]
pub struct Benchmark {
    /// The frozen tool universe.
    pub tools: Vec<CorpusTool>,
    /// The graded queries.
    pub queries: Vec<GoldenQuery>,
}

/// The metrics over a set of queries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Queries scored.
    pub queries: usize,
    /// Recall@1, @3, @5, @10.
    pub recall: [f64; 4],
    /// Mean reciprocal rank (first relevant tool within the top 10).
    pub mrr: f64,
    /// nDCG@10.
    pub ndcg10: f64,
}

/// The k values of [`Metrics::recall`].
pub const RECALL_AT: [usize; 4] = [1, 3, 5, 10];

impl Metrics {
    /// Recall@5.
    pub fn recall_at_5(&self) -> f64 {
        self.recall[2]
    }
}

/// Where the benchmark lives: `$BULWARK_TOOLSEARCH_CORPUS`, else
/// `shared/corpora/tool-search` beside the repository, else
/// `/work/shared/corpora/tool-search`.
pub fn default_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("BULWARK_TOOLSEARCH_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/tool-search")),
        Some(PathBuf::from("/work/shared/corpora/tool-search")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("corpus_v1.tools.json").is_file())
}

impl Benchmark {
    /// Reads `corpus_v1.tools.json` and `retrieval_golden_v1.json` from `dir`.
    pub fn load(dir: &Path) -> std::result::Result<Benchmark, String> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))
        };
        let corpus: CorpusFile = serde_json::from_str(&read("corpus_v1.tools.json")?)
            .map_err(|e| format!("corpus_v1.tools.json: {e}"))?;
        let golden: GoldenFile = serde_json::from_str(&read("retrieval_golden_v1.json")?)
            .map_err(|e| format!("retrieval_golden_v1.json: {e}"))?;
        Ok(Benchmark {
            tools: corpus.tools,
            queries: golden.queries,
        })
    }

    /// An index of the corpus tools (the corpus has no input schemas).
    pub fn index(&self, config: IndexConfig) -> Result<ToolIndex> {
        let index = ToolIndex::with_config(config)?;
        let mut by_server: HashMap<&str, Vec<IndexedTool>> = HashMap::new();
        for t in &self.tools {
            by_server
                .entry(t.server.as_str())
                .or_default()
                .push(IndexedTool::new(
                    t.tool.clone(),
                    t.description.clone(),
                    serde_json::Value::Null,
                ));
        }
        for (server, tools) in by_server {
            index.upsert_server(server, &tools)?;
        }
        Ok(index)
    }

    /// Scores `queries` (a subset of [`Benchmark::queries`]) against `index`.
    pub fn score(
        &self,
        index: &ToolIndex,
        queries: &[&GoldenQuery],
        boosts: &FieldBoosts,
    ) -> Result<Metrics> {
        let mut m = Metrics {
            queries: queries.len(),
            ..Metrics::default()
        };
        for q in queries {
            let hits = index.search_with(&q.query, DEPTH, boosts)?;
            let ranked: Vec<&str> = hits.iter().map(|h| h.name.as_str()).collect();
            let s = score_query(&ranked, &q.labels);
            for (total, r) in m.recall.iter_mut().zip(s.recall) {
                *total += r;
            }
            m.mrr += s.mrr;
            m.ndcg10 += s.ndcg10;
        }
        if !queries.is_empty() {
            let n = queries.len() as f64;
            for r in &mut m.recall {
                *r /= n;
            }
            m.mrr /= n;
            m.ndcg10 /= n;
        }
        Ok(m)
    }

    /// All queries, and the two halves used for tuning and checking:
    /// even positions in the golden file ("tune") and odd ones ("check").
    pub fn halves(&self) -> (Vec<&GoldenQuery>, Vec<&GoldenQuery>) {
        let tune = self.queries.iter().step_by(2).collect();
        let check = self.queries.iter().skip(1).step_by(2).collect();
        (tune, check)
    }
}

/// The metrics of one query, given the ranked `server:tool` names.
pub fn score_query(ranked: &[&str], labels: &[Label]) -> Metrics {
    let relevance: HashMap<&str, u32> = labels
        .iter()
        .map(|l| (l.tool_id.as_str(), l.relevance))
        .collect();
    let rel = |name: &str| relevance.get(name).copied().unwrap_or(0);
    let relevant = labels.iter().filter(|l| l.relevance >= 1).count();
    let mut m = Metrics {
        queries: 1,
        ..Metrics::default()
    };
    if relevant == 0 {
        return m;
    }
    for (slot, k) in m.recall.iter_mut().zip(RECALL_AT) {
        let found = ranked.iter().take(k).filter(|n| rel(n) >= 1).count();
        *slot = found as f64 / relevant as f64;
    }
    m.mrr = ranked
        .iter()
        .take(DEPTH)
        .position(|n| rel(n) >= 1)
        .map_or(0.0, |p| 1.0 / (p + 1) as f64);
    let dcg = |gains: &mut dyn Iterator<Item = u32>| -> f64 {
        gains
            .take(DEPTH)
            .enumerate()
            .map(|(i, g)| g as f64 / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal: Vec<u32> = labels.iter().map(|l| l.relevance).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg = dcg(&mut ideal.into_iter());
    let got = dcg(&mut ranked.iter().map(|n| rel(n)));
    m.ndcg10 = if idcg > 0.0 { got / idcg } else { 0.0 };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, u32)]) -> Vec<Label> {
        pairs
            .iter()
            .map(|&(t, r)| Label {
                tool_id: t.to_string(),
                relevance: r,
            })
            .collect()
    }

    #[test]
    fn perfect_and_missing_rankings() {
        let l = labels(&[("a", 2), ("b", 1), ("x", 0)]);
        let m = score_query(&["a", "b", "c"], &l);
        assert_eq!(m.recall, [0.5, 1.0, 1.0, 1.0]);
        assert_eq!(m.mrr, 1.0);
        assert!((m.ndcg10 - 1.0).abs() < 1e-12);

        let m = score_query(&["x", "c"], &l);
        assert_eq!(m.recall, [0.0; 4]);
        assert_eq!(m.mrr, 0.0);
        assert_eq!(m.ndcg10, 0.0);
    }

    #[test]
    fn second_place_counts_half_for_mrr() {
        let l = labels(&[("a", 2)]);
        let m = score_query(&["c", "a"], &l);
        assert_eq!(m.recall, [0.0, 1.0, 1.0, 1.0]);
        assert_eq!(m.mrr, 0.5);
        assert!((m.ndcg10 - 1.0 / 3f64.log2()).abs() < 1e-12);
    }
}
