//! BM25 search over upstream MCP tools, the index behind the gateway's
//! `retrieve_tools`.
//!
//! One [`ToolIndex`] holds one document per tool, with the tool name, the
//! server name, the description, the parameter names and the parameter
//! descriptions as separately boosted fields (see [`FieldBoosts`]). Updates
//! are per upstream server: [`ToolIndex::upsert_server`] replaces that
//! server's tools and nothing else, [`ToolIndex::remove_server`] drops them.
//! Every update is committed and the shared reader reloaded before the call
//! returns, so a search made after an update sees it.
//!
//! # Contract: only approved tools
//! The index does not know about quarantine. The caller passes only tools
//! that are approved and enabled; a quarantined server is never upserted (or
//! is removed when it becomes quarantined), and a blocked or changed-but-not-
//! yet-approved tool is left out of the slice given to `upsert_server`.
//! Whatever is in the index can be returned by [`ToolIndex::search`].
//!
//! # Queries
//! A query is plain text. It is analysed like the indexed text (identifier
//! splitting, lowercase, stop words, stemming) and every resulting term is
//! looked up in every field; tantivy's query language is not used, so no
//! query can fail to parse, and `:"()^-` are just separators.

mod analyzer;
pub mod eval;
mod expand;
mod params;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::LogMergePolicy;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument,
    Term, doc,
};

pub use analyzer::StopWords;
use params::ParamText;

/// Name the analyzer is registered under in the tantivy index.
const TOKENIZER: &str = "bulwark_tool";
/// Queries longer than this (in bytes) are cut at a character boundary.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// At most this many distinct query terms are searched (the first ones).
pub const MAX_QUERY_TERMS: usize = 32;
/// Writer memory budget: tantivy's minimum, ample for tool descriptions.
const WRITER_MEMORY: usize = 15_000_000;
/// Segments of one size class merged together (tantivy's default is 8).
const MERGE_AT_SEGMENTS: usize = 3;

/// Errors from the tool index.
#[derive(Debug, thiserror::Error)]
pub enum ToolIndexError {
    /// A server name was empty or contained `:`.
    #[error(
        "invalid server name {0:?}: use a non-empty name without ':' (tools are named server:tool)"
    )]
    InvalidServer(String),
    /// A tool had an empty name.
    #[error("server {server:?} has a tool with an empty name; skip it or give it a name")]
    EmptyToolName {
        /// The server being indexed.
        server: String,
    },
    /// The on-disk index was written with another schema.
    #[error(
        "the tool index in {path} was built by another version of bulwark; delete that directory \
         (the index is rebuilt from the upstreams' tool lists): {source}"
    )]
    Incompatible {
        /// The index directory.
        path: String,
        /// What tantivy reported.
        source: tantivy::TantivyError,
    },
    /// Any other tantivy failure (I/O on an on-disk index, most likely).
    #[error("tool index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The on-disk index directory could not be opened.
    #[error(
        "cannot open the tool index directory {path}: {message}; check it exists and is writable"
    )]
    Directory {
        /// The index directory.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ToolIndexError>;

/// One tool to index, as its upstream lists it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexedTool {
    /// The upstream's tool name (without the `server:` prefix).
    pub name: String,
    /// Optional human title (MCP `title`); searched like the name.
    pub title: Option<String>,
    /// The tool description.
    pub description: String,
    /// The tool's `inputSchema`; parameter names and descriptions are read
    /// from `properties`, nested properties, `items`, `anyOf`/`oneOf`/`allOf`
    /// and `$defs`. Any JSON value is accepted; odd ones add nothing.
    pub input_schema: serde_json::Value,
}

impl IndexedTool {
    /// A tool with a name, description and input schema.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: serde_json::Value,
    ) -> Self {
        IndexedTool {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema,
        }
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// The upstream server.
    pub server: String,
    /// The tool's name on its upstream.
    pub tool: String,
    /// `server:tool`, the name `call_tool` takes.
    pub name: String,
    /// BM25 score (higher is better; only comparable within one query).
    pub score: f32,
    /// The tool description as indexed.
    pub description: String,
}

/// What one field/term pair added to a tool's score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Contribution {
    /// `name`, `server`, `description` or `params`.
    pub field: &'static str,
    /// The analysed term (lowercased, stemmed).
    pub term: String,
    /// Its share of the score, field boost included.
    pub score: f32,
    /// True when the term came from the synonym expansion, not the query.
    pub expanded: bool,
}

/// Why a tool ranks where it does for a query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// `server:tool`.
    pub name: String,
    /// 1-based rank among all tools (None when the tool matches no term).
    pub rank: Option<usize>,
    /// Total score.
    pub score: f32,
    /// The analysed query terms that were searched.
    pub query_terms: Vec<String>,
    /// Per field and term, largest first; terms that did not match are absent.
    pub contributions: Vec<Contribution>,
}

/// Size of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Tools searchable now.
    pub tools: u64,
    /// Servers with at least one tool in the index.
    pub servers: usize,
    /// tantivy segments (merged in the background).
    pub segments: usize,
}

/// What an upsert did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upsert {
    /// Tools of this server in the index before.
    pub removed: u64,
    /// Tools of this server in the index now.
    pub added: u64,
    /// True when the tools were identical to what was indexed and nothing
    /// was written.
    pub unchanged: bool,
}

/// Weight of each field in the score (a multiplier of its BM25 score).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldBoosts {
    /// Tool name (and title).
    pub name: f32,
    /// Server name.
    pub server: f32,
    /// Tool description.
    pub description: f32,
    /// Parameter names and parameter descriptions (one field: fewer
    /// clauses per query term keeps searches fast).
    pub params: f32,
}

impl Default for FieldBoosts {
    fn default() -> Self {
        FieldBoosts {
            name: 1.0,
            server: 1.0,
            description: 1.0,
            params: 0.5,
        }
    }
}

/// How the index analyses text and scores fields.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexConfig {
    /// Field weights; may be changed per query-time without reindexing.
    pub boosts: FieldBoosts,
    /// Which English stop words are dropped from text and queries.
    pub stopwords: StopWords,
    /// English (Snowball) stemming.
    pub stemming: bool,
    /// Expand query terms with the small built-in list of software
    /// synonyms (see `docs/toolsearch.md`); expanded terms weigh less.
    pub expansion: bool,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            boosts: FieldBoosts::default(),
            stopwords: StopWords::default(),
            stemming: true,
            expansion: true,
        }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    key: Field,
    server_key: Field,
    tool_raw: Field,
    description_raw: Field,
    name: Field,
    server: Field,
    description: Field,
    params: Field,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            key: b.add_u64_field("key", FAST | STORED),
            server_key: b.add_text_field("server_key", STRING | STORED),
            tool_raw: b.add_text_field("tool_raw", STORED),
            description_raw: b.add_text_field("description_raw", STORED),
            name: b.add_text_field("name", text.clone()),
            server: b.add_text_field("server", text.clone()),
            description: b.add_text_field("description", text.clone()),
            params: b.add_text_field("params", text),
        };
        (b.build(), fields)
    }

    fn scored(&self, boosts: &FieldBoosts) -> [(Field, &'static str, f32); 4] {
        [
            (self.name, "name", boosts.name),
            (self.server, "server", boosts.server),
            (self.description, "description", boosts.description),
            (self.params, "params", boosts.params),
        ]
    }
}

struct Writer {
    writer: IndexWriter,
    /// What is indexed per server.
    servers: HashMap<String, ServerEntry>,
    /// The next document key.
    next_key: u64,
}

#[derive(Default)]
struct ServerEntry {
    /// A fingerprint of what was indexed, to skip no-op updates (None for
    /// servers found in an index reopened from disk).
    fingerprint: Option<u64>,
    /// Keys of this server's documents.
    keys: Vec<u64>,
}

/// What a hit shows, kept in memory by document key: reading stored fields
/// from tantivy's doc store for each hit cost more than the search itself.
#[derive(Debug)]
struct ToolMeta {
    server: String,
    tool: String,
    name: String,
    description: String,
}

/// The tool search index. Cheap to share (`&self` everywhere; `Send + Sync`).
pub struct ToolIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Writer>,
    meta: RwLock<HashMap<u64, Arc<ToolMeta>>>,
    fields: Fields,
    analyzer: TextAnalyzer,
    expansion: Option<expand::Expansion>,
    boosts: FieldBoosts,
}

impl std::fmt::Debug for ToolIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolIndex")
            .field("tools", &self.len())
            .field("boosts", &self.boosts)
            .finish_non_exhaustive()
    }
}

impl ToolIndex {
    /// An empty index in memory with the default configuration.
    pub fn new() -> Result<Self> {
        Self::with_config(IndexConfig::default())
    }

    /// An empty index in memory.
    pub fn with_config(config: IndexConfig) -> Result<Self> {
        let (schema, fields) = Fields::schema();
        let index = Index::builder()
            .schema(schema)
            .settings(index_settings())
            .create_in_ram()?;
        Self::from_index(index, fields, config)
    }

    /// An index kept in `dir` (created if missing, reopened otherwise, with
    /// its tools). The directory holds only this index.
    pub fn open_in_dir(dir: &Path, config: IndexConfig) -> Result<Self> {
        let (schema, fields) = Fields::schema();
        std::fs::create_dir_all(dir).map_err(|e| ToolIndexError::Directory {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let directory = MmapDirectory::open(dir).map_err(|e| ToolIndexError::Directory {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let index = Index::builder()
            .schema(schema)
            .settings(index_settings())
            .open_or_create(directory)
            .map_err(|source| ToolIndexError::Incompatible {
                path: dir.display().to_string(),
                source,
            })?;
        Self::from_index(index, fields, config)
    }

    fn from_index(index: Index, fields: Fields, config: IndexConfig) -> Result<Self> {
        let mut analyzer = analyzer::build(config.stopwords, config.stemming);
        index.tokenizers().register(TOKENIZER, analyzer.clone());
        let writer = index.writer_with_options(
            tantivy::indexer::IndexWriterOptions::builder()
                .num_worker_threads(1)
                .num_merge_threads(1)
                .memory_budget_per_thread(WRITER_MEMORY)
                .build(),
        )?;
        // Small segments (one per upstream update) are merged early: every
        // segment adds term look-ups to every query.
        let mut merge = LogMergePolicy::default();
        merge.set_min_num_segments(MERGE_AT_SEGMENTS);
        writer.set_merge_policy(Box::new(merge));
        // Reloaded explicitly after each commit: a search that follows an
        // update always sees it, and no thread polls for changes.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let expansion = config
            .expansion
            .then(|| expand::Expansion::new(&mut analyzer));
        // What a reopened on-disk index already holds.
        let mut servers: HashMap<String, ServerEntry> = HashMap::new();
        let mut meta = HashMap::new();
        let mut next_key = 0;
        let searcher = reader.searcher();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = searcher.doc(DocAddress::new(ord as u32, doc_id))?;
                let text = |field: Field| {
                    doc.get_first(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                let Some(key) = doc.get_first(fields.key).and_then(|v| v.as_u64()) else {
                    continue;
                };
                let server = text(fields.server_key);
                servers.entry(server.clone()).or_default().keys.push(key);
                meta.insert(
                    key,
                    Arc::new(ToolMeta {
                        server,
                        tool: text(fields.tool_raw),
                        name: text(fields.id),
                        description: text(fields.description_raw),
                    }),
                );
                next_key = next_key.max(key + 1);
            }
        }
        Ok(ToolIndex {
            index,
            reader,
            writer: Mutex::new(Writer {
                writer,
                servers,
                next_key,
            }),
            meta: RwLock::new(meta),
            fields,
            analyzer,
            expansion,
            boosts: config.boosts,
        })
    }

    /// Replaces every indexed tool of `server` with `tools` (an empty slice
    /// removes the server). Other servers are untouched; no rebuild.
    ///
    /// `tools` must hold only approved tools (see the crate documentation).
    /// When two tools share a name, the last one is indexed.
    pub fn upsert_server(&self, server: &str, tools: &[IndexedTool]) -> Result<Upsert> {
        check_server(server)?;
        if tools.iter().any(|t| t.name.is_empty()) {
            return Err(ToolIndexError::EmptyToolName {
                server: server.to_string(),
            });
        }
        let mut unique: Vec<&IndexedTool> = Vec::with_capacity(tools.len());
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for t in tools {
            match seen.get(t.name.as_str()) {
                Some(&i) => unique[i] = t,
                None => {
                    seen.insert(&t.name, unique.len());
                    unique.push(t);
                }
            }
        }
        let fingerprint = fingerprint(&unique);

        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let before = self.count_server(server)?;
        let old = w.servers.remove(server).unwrap_or_default();
        if old.fingerprint == Some(fingerprint) && before == unique.len() as u64 {
            w.servers.insert(server.to_string(), old);
            return Ok(Upsert {
                removed: 0,
                added: 0,
                unchanged: true,
            });
        }
        let f = self.fields;
        w.writer
            .delete_term(Term::from_field_text(f.server_key, server));
        let mut entry = ServerEntry {
            fingerprint: Some(fingerprint),
            keys: Vec::with_capacity(unique.len()),
        };
        let mut new_meta = Vec::with_capacity(unique.len());
        for t in &unique {
            let key = w.next_key;
            w.next_key += 1;
            let p = ParamText::from_schema(&t.input_schema);
            let name_text = match &t.title {
                Some(title) => format!("{}\n{}", t.name, title),
                None => t.name.clone(),
            };
            let name = format!("{server}:{}", t.name);
            let added = w.writer.add_document(doc!(
                f.id => name.as_str(),
                f.key => key,
                f.server_key => server,
                f.tool_raw => t.name.as_str(),
                f.description_raw => t.description.as_str(),
                f.name => name_text,
                f.server => server,
                f.description => t.description.as_str(),
                f.params => format!("{}\n{}", p.names, p.descriptions),
            ));
            if let Err(e) = added {
                let _ = w.writer.rollback();
                w.servers.insert(server.to_string(), old);
                return Err(e.into());
            }
            entry.keys.push(key);
            new_meta.push((
                key,
                Arc::new(ToolMeta {
                    server: server.to_string(),
                    tool: t.name.clone(),
                    name,
                    description: t.description.clone(),
                }),
            ));
        }
        // New metadata goes in before the commit makes the documents
        // visible; the old is dropped once they are gone.
        self.meta_write().extend(new_meta);
        if let Err(e) = self.commit(&mut w) {
            let mut meta = self.meta_write();
            for k in &entry.keys {
                meta.remove(k);
            }
            drop(meta);
            w.servers.insert(server.to_string(), old);
            return Err(e);
        }
        self.forget(&old.keys);
        if !entry.keys.is_empty() {
            w.servers.insert(server.to_string(), entry);
        }
        Ok(Upsert {
            removed: before,
            added: unique.len() as u64,
            unchanged: false,
        })
    }

    fn meta_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<ToolMeta>>> {
        self.meta.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, keys: &[u64]) {
        let mut meta = self.meta_write();
        for k in keys {
            meta.remove(k);
        }
    }

    /// Removes every tool of `server`; returns how many were removed.
    pub fn remove_server(&self, server: &str) -> Result<u64> {
        check_server(server)?;
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let before = self.count_server(server)?;
        let Some(old) = w.servers.remove(server) else {
            return Ok(before);
        };
        if before > 0 {
            w.writer
                .delete_term(Term::from_field_text(self.fields.server_key, server));
            if let Err(e) = self.commit(&mut w) {
                w.servers.insert(server.to_string(), old);
                return Err(e);
            }
        }
        self.forget(&old.keys);
        Ok(before)
    }

    fn commit(&self, w: &mut Writer) -> Result<()> {
        if let Err(e) = w.writer.commit() {
            // Leave the writer at the last good commit so later updates work.
            let _ = w.writer.rollback();
            return Err(e.into());
        }
        self.reader.reload()?;
        Ok(())
    }

    fn count_server(&self, server: &str) -> Result<u64> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.server_key, server),
            IndexRecordOption::Basic,
        );
        Ok(self.reader.searcher().search(&q, &Count)? as u64)
    }

    /// Number of tools searchable now.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sizes, for `retrieve_tools(include_stats)` and metrics.
    pub fn stats(&self) -> IndexStats {
        let searcher = self.reader.searcher();
        let servers = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .servers
            .len();
        IndexStats {
            tools: searcher.num_docs(),
            servers,
            segments: searcher.segment_readers().len(),
        }
    }

    /// The analysed terms of `text` (what a query is turned into), for
    /// debugging.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        query_terms(&mut self.analyzer.clone(), text)
    }

    /// The best `limit` tools for `query`, best first. An empty query, a
    /// query with no searchable word, or `limit == 0` gives no hits; no query
    /// is an error.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        self.search_with(query, limit, &self.boosts)
    }

    /// [`ToolIndex::search`] with other field boosts (for tuning).
    pub fn search_with(&self, query: &str, limit: usize, boosts: &FieldBoosts) -> Result<Vec<Hit>> {
        let terms = self.analyze(query);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let (q, _) = self.build_query(&terms, boosts);
        let limit = limit.min(searcher.num_docs() as usize).max(1);
        let top = searcher.search(&q, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        let meta = self.meta.read().unwrap_or_else(PoisonError::into_inner);
        for (score, addr) in top {
            let keys = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("key")?;
            // A key can be missing only for a tool removed while this search
            // ran: leave it out.
            if let Some(m) = keys.first(addr.doc_id).and_then(|k| meta.get(&k)) {
                hits.push(Hit {
                    server: m.server.clone(),
                    tool: m.tool.clone(),
                    name: m.name.clone(),
                    score,
                    description: m.description.clone(),
                });
            }
        }
        drop(meta);
        // Equal scores: order by name so results do not depend on segments.
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(hits)
    }

    /// Why the tool named `server:tool` ranks where it does for `query`
    /// (`retrieve_tools(explain_tool)`); None when no such tool is indexed.
    pub fn explain_tool(&self, query: &str, name: &str) -> Result<Option<Explanation>> {
        let searcher = self.reader.searcher();
        let id_query = TermQuery::new(
            Term::from_field_text(self.fields.id, name),
            IndexRecordOption::Basic,
        );
        let found = searcher.search(&id_query, &TopDocs::with_limit(1).order_by_score())?;
        let Some(&(_, addr)) = found.first() else {
            return Ok(None);
        };
        let terms = self.analyze(query);
        let mut explanation = Explanation {
            name: name.to_string(),
            rank: None,
            score: 0.0,
            query_terms: terms.clone(),
            contributions: Vec::new(),
        };
        if terms.is_empty() {
            return Ok(Some(explanation));
        }
        let (q, parts) = self.build_query(&terms, &self.boosts);
        // Scores come from searches, not from tantivy's `explain`, which
        // trips a debug assertion for some term/document pairs.
        let all = (searcher.num_docs() as usize).max(1);
        let ranked = searcher.search(&q, &TopDocs::with_limit(all).order_by_score())?;
        if let Some(p) = ranked.iter().position(|&(_, a)| a == addr) {
            explanation.rank = Some(p + 1);
            explanation.score = ranked[p].0;
        }
        if explanation.rank.is_none() {
            return Ok(Some(explanation));
        }
        let only_this_tool = || -> Box<dyn Query> {
            Box::new(ConstScoreQuery::new(Box::new(id_query.clone()), 0.0))
        };
        for (part, field, term, expanded) in parts {
            let pair =
                BooleanQuery::new(vec![(Occur::Must, part), (Occur::Must, only_this_tool())]);
            let found = searcher.search(&pair, &TopDocs::with_limit(1).order_by_score())?;
            if let Some(&(score, _)) = found.first()
                && score > 0.0
            {
                explanation.contributions.push(Contribution {
                    field,
                    term,
                    score,
                    expanded,
                });
            }
        }
        explanation
            .contributions
            .sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(Some(explanation))
    }

    /// The query: every (field, term) as a boosted BM25 term query, summed.
    /// Also returns the parts, for explanations.
    #[allow(clippy::type_complexity)]
    fn build_query(
        &self,
        terms: &[String],
        boosts: &FieldBoosts,
    ) -> (
        BooleanQuery,
        Vec<(Box<dyn Query>, &'static str, String, bool)>,
    ) {
        let mut weighted: Vec<(String, f32, bool)> =
            terms.iter().map(|t| (t.clone(), 1.0, false)).collect();
        if let Some(exp) = &self.expansion {
            for (term, weight) in exp.expand(terms) {
                weighted.push((term, weight, true));
            }
        }
        let mut parts = Vec::new();
        for (term, weight, expanded) in &weighted {
            for (field, label, boost) in self.fields.scored(boosts) {
                if boost <= 0.0 {
                    continue;
                }
                let tq = TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                );
                parts.push((
                    Box::new(BoostQuery::new(Box::new(tq), boost * weight)) as Box<dyn Query>,
                    label,
                    term.clone(),
                    *expanded,
                ));
            }
        }
        let q = BooleanQuery::union(parts.iter().map(|(q, ..)| q.box_clone()).collect());
        (q, parts)
    }

    /// The tantivy index, for tests and benches that want to look inside.
    #[doc(hidden)]
    pub fn tantivy_index(&self) -> &Index {
        &self.index
    }
}

/// Stored fields are small and read for every hit: no compression, small
/// blocks.
fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: tantivy::store::Compressor::None,
        docstore_blocksize: 4096,
        ..IndexSettings::default()
    }
}

fn check_server(server: &str) -> Result<()> {
    if server.is_empty() || server.contains(':') {
        return Err(ToolIndexError::InvalidServer(server.to_string()));
    }
    Ok(())
}

/// The distinct analysed terms of a query, in order, at most
/// [`MAX_QUERY_TERMS`], reading at most [`MAX_QUERY_BYTES`] of it.
fn query_terms(analyzer: &mut TextAnalyzer, query: &str) -> Vec<String> {
    let mut end = query.len().min(MAX_QUERY_BYTES);
    while !query.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: Vec<String> = Vec::new();
    for t in analyzer::terms(analyzer, &query[..end]) {
        if !out.contains(&t) {
            out.push(t);
            if out.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    out
}

fn fingerprint(tools: &[&IndexedTool]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    for t in tools {
        t.name.hash(&mut h);
        t.title.hash(&mut h);
        t.description.hash(&mut h);
        t.input_schema.to_string().hash(&mut h);
    }
    h.finish()
}
