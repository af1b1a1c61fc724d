//! Loading Sigma rules: every file is parsed on its own so that a rule that
//! cannot load is reported with its file and reason, never dropped silently.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, Engine};
use rsigma_parser::{SigmaCollection, SigmaRule};
use serde::Serialize;

use crate::mapping::Mapping;

/// A rule (or a whole file) that could not be loaded, and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rejected {
    /// The rule file.
    pub path: String,
    /// The rule's title, when it got that far.
    pub title: Option<String>,
    /// Why it was rejected.
    pub reason: String,
}

/// What a matched rule's report carries besides the engine's own header.
#[derive(Debug, Clone, Default)]
pub struct RuleInfo {
    pub author: Option<String>,
    pub path: String,
    pub name: Option<String>,
}

/// Loaded rules, compiled.
pub struct RuleSet {
    /// One engine per rule logsource: an event only meets the rules whose
    /// logsource it can have (see [`Buckets`]).
    pub(crate) buckets: Buckets,
    /// Present when correlation rules were loaded.
    pub(crate) correlation: Option<CorrelationSet>,
    /// By rule id, else by title.
    pub(crate) info: HashMap<String, RuleInfo>,
    pub(crate) rules_loaded: usize,
    pub(crate) correlations_loaded: usize,
    pub(crate) rejected: Vec<Rejected>,
    pub(crate) files: usize,
}

pub(crate) struct CorrelationSet {
    /// A template engine, cloned per hunt (state is per hunt).
    pub(crate) collection: SigmaCollection,
    /// Ids, names and titles of the rules the correlations refer to.
    pub(crate) referenced: HashSet<String>,
    /// Rules only used by a correlation (`generate: false`): not reported alone.
    pub(crate) quiet: HashSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{path}` does not exist; give a Sigma rule file (.yml) or a directory of rules")]
    Missing { path: String },
    #[error("no Sigma rule file (.yml or .yaml) under `{path}`")]
    Empty { path: String },
}

impl RuleSet {
    /// Load the rules in `paths` (files or directories, searched recursively
    /// for `.yml`/`.yaml`).
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, LoadError> {
        let mut files = Vec::new();
        for path in paths {
            if !path.exists() {
                return Err(LoadError::Missing {
                    path: path.display().to_string(),
                });
            }
            let before = files.len();
            if path.is_file() {
                files.push(path.clone());
            } else {
                for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                    let Ok(entry) = entry else { continue };
                    let p = entry.path();
                    if entry.file_type().is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yml") | Some("yaml")
                        )
                    {
                        files.push(p.to_path_buf());
                    }
                }
            }
            if files.len() == before {
                return Err(LoadError::Empty {
                    path: path.display().to_string(),
                });
            }
        }
        let parsed: Vec<(PathBuf, Result<SigmaCollection, String>)> = files
            .par_iter()
            .map(|p| {
                let result = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read: {e}"))
                    .and_then(|text| {
                        rsigma_parser::parse_sigma_yaml(&text).map_err(|e| e.to_string())
                    });
                (p.clone(), result)
            })
            .collect();
        Ok(Self::from_parsed(files.len(), parsed))
    }

    /// Load rules from YAML text (one or more documents), for tests and tools.
    pub fn from_yaml(name: &str, yaml: &str) -> RuleSet {
        let parsed = vec![(
            PathBuf::from(name),
            rsigma_parser::parse_sigma_yaml(yaml).map_err(|e| e.to_string()),
        )];
        Self::from_parsed(1, parsed)
    }

    fn from_parsed(
        files: usize,
        parsed: Vec<(PathBuf, Result<SigmaCollection, String>)>,
    ) -> RuleSet {
        let mut rejected = Vec::new();
        let mut rules: Vec<(String, SigmaRule)> = Vec::new();
        let mut all = SigmaCollection::new();
        for (path, result) in parsed {
            let shown = path.display().to_string();
            match result {
                Err(reason) => rejected.push(Rejected {
                    path: shown,
                    title: None,
                    reason: format!("not valid Sigma YAML: {reason}"),
                }),
                Ok(collection) => {
                    for error in &collection.errors {
                        rejected.push(Rejected {
                            path: shown.clone(),
                            title: None,
                            reason: error.clone(),
                        });
                    }
                    if collection.rules.is_empty()
                        && collection.correlations.is_empty()
                        && collection.filters.is_empty()
                        && collection.errors.is_empty()
                    {
                        rejected.push(Rejected {
                            path: shown.clone(),
                            title: None,
                            reason: "holds no Sigma rule".into(),
                        });
                    }
                    for mut rule in collection.rules {
                        keyword_all_per_value(&mut rule);
                        rules.push((shown.clone(), rule));
                    }
                    for c in collection.correlations {
                        all.correlations.push(c);
                    }
                    for f in collection.filters {
                        all.filters.push(f);
                    }
                }
            }
        }

        let (buckets, failed) = Buckets::build(&rules);
        let mut info = HashMap::new();
        let mut good: Vec<SigmaRule> = Vec::new();
        for (index, (path, rule)) in rules.into_iter().enumerate() {
            if let Some(reason) = failed.get(&index) {
                rejected.push(Rejected {
                    path,
                    title: Some(rule.title.clone()),
                    reason: reason.clone(),
                });
                continue;
            }
            info.insert(
                key(rule.id.as_deref(), &rule.title),
                RuleInfo {
                    author: rule.author.clone(),
                    path,
                    name: rule.name.clone(),
                },
            );
            good.push(rule);
        }
        let mut buckets = buckets;
        for filter in &all.filters {
            if let Err(e) = buckets.apply_filter(filter) {
                rejected.push(Rejected {
                    path: String::new(),
                    title: Some(filter.title.clone()),
                    reason: format!("filter cannot apply: {e}"),
                });
            }
        }
        let rules_loaded = buckets.rule_count();

        let mut correlations_loaded = 0;
        let correlation = if all.correlations.is_empty() {
            None
        } else {
            let mut referenced = HashSet::new();
            let mut quiet = HashSet::new();
            let mut kept = Vec::new();
            for corr in all.correlations {
                // Check it compiles in an engine holding the rules.
                let mut probe = CorrelationEngine::new(CorrelationConfig::default());
                match probe.add_correlation(&corr) {
                    Err(e) => rejected.push(Rejected {
                        path: String::new(),
                        title: Some(corr.title.clone()),
                        reason: format!("correlation cannot load: {e}"),
                    }),
                    Ok(()) => {
                        for r in &corr.rules {
                            referenced.insert(r.clone());
                            if !corr.generate {
                                quiet.insert(r.clone());
                            }
                        }
                        info.insert(
                            key(corr.id.as_deref(), &corr.title),
                            RuleInfo {
                                author: corr.author.clone(),
                                path: String::new(),
                                name: corr.name.clone(),
                            },
                        );
                        correlations_loaded += 1;
                        kept.push(corr);
                    }
                }
            }
            // Rules referenced through their id, name or title.
            let mut collection = SigmaCollection::new();
            collection.rules = good
                .iter()
                .filter(|r| {
                    r.id.as_ref().is_some_and(|i| referenced.contains(i))
                        || r.name.as_ref().is_some_and(|n| referenced.contains(n))
                })
                .cloned()
                .collect();
            collection.correlations = kept;
            let mut extra = HashSet::new();
            for r in &collection.rules {
                extra.extend(r.id.clone());
                extra.insert(r.title.clone());
            }
            referenced.extend(extra);
            (correlations_loaded > 0).then_some(CorrelationSet {
                collection,
                referenced,
                quiet,
            })
        };
        RuleSet {
            buckets,
            correlation,
            info,
            rules_loaded,
            correlations_loaded,
            rejected,
            files,
        }
    }

    /// Detection rules loaded.
    pub fn rules_loaded(&self) -> usize {
        self.rules_loaded
    }

    /// Correlation rules loaded.
    pub fn correlations_loaded(&self) -> usize {
        self.correlations_loaded
    }

    /// Rules or files that could not be loaded, each with its reason.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// Rule files read.
    pub fn files(&self) -> usize {
        self.files
    }

    pub(crate) fn info(&self, id: Option<&str>, title: &str) -> Option<&RuleInfo> {
        self.info.get(&key(id, title))
    }
}

/// Sigma's keyword form with `all` (`'|all': [truncate, '-s']`) means each
/// keyword appears somewhere in the event, as keywords do (substring). rsigma
/// 0.23 instead asks one field value to equal all of them at once, so such an
/// item is split here into one keyword item a value, matched as `contains`
/// unless the rule gives another match modifier. SigmaHQ's auditd rules use
/// this form.
fn keyword_all_per_value(rule: &mut SigmaRule) {
    use rsigma_parser::{Detection, DetectionItem, FieldSpec, Modifier};
    fn walk(detection: &mut Detection) {
        match detection {
            Detection::AllOf(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.drain(..) {
                    if item.field.name.is_none()
                        && item.field.modifiers.contains(&Modifier::All)
                        && item.values.len() > 1
                    {
                        let mut modifiers: Vec<Modifier> = item
                            .field
                            .modifiers
                            .iter()
                            .copied()
                            .filter(|m| *m != Modifier::All)
                            .collect();
                        let matching = [
                            Modifier::Contains,
                            Modifier::StartsWith,
                            Modifier::EndsWith,
                            Modifier::Re,
                            Modifier::Cidr,
                            Modifier::Exists,
                            Modifier::FieldRef,
                            Modifier::Gt,
                            Modifier::Gte,
                            Modifier::Lt,
                            Modifier::Lte,
                        ];
                        if !modifiers.iter().any(|m| matching.contains(m)) {
                            modifiers.push(Modifier::Contains);
                        }
                        for value in item.values {
                            out.push(DetectionItem {
                                field: FieldSpec::new(None, modifiers.clone()),
                                values: vec![value],
                            });
                        }
                    } else {
                        out.push(item);
                    }
                }
                *items = out;
            }
            Detection::AnyOf(subs) => subs.iter_mut().for_each(walk),
            _ => {}
        }
    }
    rule.detection.named.values_mut().for_each(walk);
}

type BucketKey = (Option<String>, Option<String>, Option<String>);

/// Rules grouped by their logsource (product, service, category; lowercased),
/// one rsigma engine each. An event whose logsource is known meets only the
/// engines whose key it satisfies (a rule's dimension is unset or the
/// event's), so the thousand process_creation rules never see a registry
/// event, and each engine's candidate index stays small.
pub(crate) struct Buckets {
    engines: Vec<Engine>,
    index: HashMap<BucketKey, usize>,
    /// For each mapping (by slot), the engines of each of its logsources,
    /// worked out once on first use instead of for every event.
    routes: [OnceLock<Vec<Vec<usize>>>; 2],
}

impl Buckets {
    /// Compile `rules`; returns the rules that failed, by position, with why.
    fn build(rules: &[(String, SigmaRule)]) -> (Buckets, HashMap<usize, String>) {
        let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_ascii_lowercase());
        let mut groups: Vec<(BucketKey, Vec<usize>)> = Vec::new();
        let mut index: HashMap<BucketKey, usize> = HashMap::new();
        for (i, (_, rule)) in rules.iter().enumerate() {
            let ls = &rule.logsource;
            let key = (lower(&ls.product), lower(&ls.service), lower(&ls.category));
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let compiled: Vec<(Engine, Vec<(usize, String)>)> = groups
            .par_iter()
            .map(|(_, members)| {
                let mut engine = Engine::new();
                engine.set_match_detail(rsigma_eval::MatchDetailLevel::Off);
                let errors = engine.add_rules(members.iter().map(|&i| &rules[i].1));
                let errors = errors
                    .into_iter()
                    .map(|(local, e)| (members[local], e.to_string()))
                    .collect();
                (engine, errors)
            })
            .collect();
        let mut failed = HashMap::new();
        let mut engines = Vec::new();
        for (engine, errors) in compiled {
            failed.extend(errors);
            engines.push(engine);
        }
        (
            Buckets {
                engines,
                index,
                routes: Default::default(),
            },
            failed,
        )
    }

    fn apply_filter(&mut self, filter: &rsigma_parser::FilterRule) -> Result<(), String> {
        let mut last = None;
        let mut any = false;
        for engine in &mut self.engines {
            match engine.apply_filter(filter) {
                Ok(()) => any = true,
                Err(e) => last = Some(e.to_string()),
            }
        }
        match (any, last) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn rule_count(&self) -> usize {
        self.engines.iter().map(Engine::rule_count).sum()
    }

    /// Add to `out` the engines an event of logsource `ls` meets.
    pub(crate) fn select(&self, ls: &rsigma_parser::LogSource, out: &mut Vec<usize>) {
        let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_ascii_lowercase());
        let (p, s, c) = (lower(&ls.product), lower(&ls.service), lower(&ls.category));
        for product in [None, p] {
            for service in [None, s.clone()] {
                for category in [None, c.clone()] {
                    if let Some(&i) =
                        self.index
                            .get(&(product.clone(), service.clone(), category.clone()))
                        && !out.contains(&i)
                    {
                        out.push(i);
                    }
                }
            }
        }
    }

    /// The engines of every logsource of `mapping` (see [`Buckets::select`]),
    /// by logsource index. `slot` names the mapping (0 Windows, 1 Linux).
    pub(crate) fn routes(&self, slot: usize, mapping: &Mapping) -> &[Vec<usize>] {
        self.routes[slot].get_or_init(|| {
            mapping
                .logsources()
                .iter()
                .map(|ls| {
                    let mut engines = Vec::new();
                    self.select(ls, &mut engines);
                    engines
                })
                .collect()
        })
    }

    pub(crate) fn all(&self, out: &mut Vec<usize>) {
        out.clear();
        out.extend(0..self.engines.len());
    }

    pub(crate) fn engine(&self, i: usize) -> &Engine {
        &self.engines[i]
    }
}

pub(crate) fn key(id: Option<&str>, title: &str) -> String {
    match id {
        Some(id) => id.to_string(),
        None => format!("title:{title}"),
    }
}

/// Whether `path` looks like a rule file.
pub fn is_rule_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml") | Some("yaml")
    )
}
