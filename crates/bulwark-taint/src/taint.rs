//! Intra-file taint tracking. Each function (and the module's top level) is a
//! scope analysed on its own: its parameters are sources, assignments carry
//! taint forward in document order (two passes, so that loops are seen),
//! calls to dangerous APIs are sinks. Named functions are first summarised
//! with their own parameters as sources, so that a tool passing input into a
//! helper in the same file is traced one level deep.

use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;

use smallvec::{SmallVec, smallvec};

use crate::Language;
use crate::lang::{self, Arg, Args, Param, call_args, callee, function_body, function_params};
use crate::sinks::{self, Cond, Spec};
use crate::syntax::{
    Kind, Node, Src, f, field, is_call, is_constant_literal, is_identifier, literal_string,
    named_children, unwrap_expr, walk,
};

/// Sink kinds, as bits: what a value has been sanitised for.
pub(crate) mod kind {
    pub const CMD: u16 = 1;
    pub const CODE: u16 = 2;
    pub const PATH: u16 = 4;
    pub const SSRF: u16 = 8;
    pub const SQL: u16 = 16;
    pub const XXE: u16 = 32;
    pub const REGEX: u16 = 64;
    pub const DESER: u16 = 128;
    pub const PROTO: u16 = 256;
    pub const ALL: u16 = 0x1ff;
    /// Reported even without a traced tool input.
    pub const DANGEROUS: u16 = CMD | CODE | DESER | PROTO;
}

/// Shape flags of a tainted value.
pub(crate) mod flag {
    /// Built by string formatting or concatenation.
    pub const BUILT: u8 = 1;
    /// Its literal parts look like SQL.
    pub const SQL: u8 = 2;
    /// A fixed scheme://host/ (or another fixed value) comes first.
    pub const FIXED_HOST: u8 = 4;
    /// A list or array literal holding the tainted value.
    pub const LIST: u8 = 8;
}

const MAX_DEPTH: u32 = 40;
const MAX_STEPS: usize = 8;

#[derive(Clone, Debug)]
pub(crate) struct Taint {
    /// Comes from a registered tool's input.
    pub tool: bool,
    /// Which parameters (bit i = parameter i) of the analysed function it
    /// comes from, for helper summaries.
    pub params: u64,
    /// `param `path``.
    pub origin: String,
    pub steps: Vec<(String, u32)>,
    pub sanitized: u16,
    pub flags: u8,
}

impl Taint {
    fn step(mut self, what: String, line: u32) -> Taint {
        if self.steps.len() < MAX_STEPS && self.steps.last().map(|s| &s.0) != Some(&what) {
            self.steps.push((what, line));
        }
        self
    }

    pub fn path(&self) -> String {
        let mut out = self.origin.clone();
        for (what, line) in &self.steps {
            out.push_str(&format!(" → {what} (line {line})"));
        }
        out
    }
}

/// A member path as a binding key: `a?.b` and `a.b` are the same value.
/// Borrowed unless there is an optional chain to rewrite.
fn member_key(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("?.") {
        std::borrow::Cow::Owned(text.replace("?.", "."))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

pub(crate) fn union(a: Option<Taint>, b: Option<Taint>) -> Option<Taint> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            let a_first = (a.tool, std::cmp::Reverse(a.sanitized.count_ones()))
                >= (b.tool, std::cmp::Reverse(b.sanitized.count_ones()));
            let (mut p, s) = if a_first { (a, b) } else { (b, a) };
            p.tool |= s.tool;
            p.params |= s.params;
            p.sanitized &= s.sanitized;
            let fixed = p.flags & s.flags & flag::FIXED_HOST;
            p.flags = ((p.flags | s.flags) & !flag::FIXED_HOST) | fixed;
            Some(p)
        }
    }
}

/// A sink call seen in a scope.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub rule: &'static str,
    pub kind: u16,
    pub cond: Cond,
    pub line: u32,
    pub column: u32,
    pub snippet: String,
    pub label: String,
    pub taint: Option<Taint>,
    /// Every relevant argument is a literal.
    pub constant: bool,
    /// Report even with no traced input (a plain `eval(x)`).
    pub untraced_ok: bool,
}

impl Hit {
    /// Whether the sink is reached by its taint, given sanitisers and shape.
    pub fn applies(&self, t: &Taint) -> bool {
        if t.sanitized & self.kind != 0 {
            return false;
        }
        match self.cond {
            Cond::Always => true,
            Cond::Built => t.flags & flag::BUILT != 0,
            Cond::Sql => t.flags & flag::SQL != 0,
            Cond::NotFixedHost => t.flags & flag::FIXED_HOST == 0,
        }
    }
}

pub(crate) struct Summary {
    pub params: Vec<Param>,
    pub hits: Vec<Hit>,
    pub ret: Option<Taint>,
}

impl<'t> FileCtx<'t> {
    /// The arguments of call `n` ([`call_args`]), remembered for the file.
    pub fn call_args(&self, n: Node<'t>) -> Args<'t> {
        if let Some(args) = self.call_args.borrow().get(&n.id()) {
            return args.clone();
        }
        let args = call_args(self.src, n);
        self.call_args.borrow_mut().insert(n.id(), args.clone());
        args
    }

    /// `n` and the nodes under it in document order, nested functions
    /// listed but not entered when `prune_functions`: a run of the flat
    /// tree, which skips a pruned subtree by its end index.
    pub fn subtree(&self, n: Node<'t>, prune_functions: bool) -> Vec<Node<'t>> {
        walk(n, &|c| prune_functions && c.is_function_like())
    }
}

/// What the whole file offers to a scope.
pub(crate) struct FileCtx<'t> {
    pub src: &'t Src<'t>,
    pub lang: Language,
    pub root: Node<'t>,
    /// Every node of the file in document order.
    pub all: Vec<Node<'t>>,
    pub imports: FxHashMap<String, String>,
    pub module_types: FxHashMap<String, String>,
    pub module_consts: FxHashMap<String, Node<'t>>,
    pub funcs: FxHashMap<String, Node<'t>>,
    /// Function names by node id.
    pub fn_names: FxHashMap<usize, String>,
    /// The function each nested function is in, by node id.
    pub enclosing: FxHashMap<usize, Node<'t>>,
    pub summaries: FxHashMap<usize, Summary>,
    pub has_defusedxml: bool,
    /// Each call's arguments by node id, read once: every scope's passes,
    /// the guard prescan and the pattern rules ask for the same calls again
    /// and again, and walking an argument list is not cheap.
    call_args: RefCell<FxHashMap<usize, Args<'t>>>,
    /// Canonical names by node id, for lookups without scope-local types
    /// (which is most of them); filled only once the module's imports and
    /// typed bindings are all known.
    canonical: RefCell<FxHashMap<usize, String>>,
}

pub(crate) struct ScopeResult {
    pub hits: Vec<Hit>,
    pub ret: Option<Taint>,
    pub env: FxHashMap<String, Taint>,
    /// Function literals whose first parameter receives a tainted value
    /// (`files.forEach(f => ...)`).
    pub callbacks: Vec<(usize, Taint)>,
}

/// A set of names kept as a 4096-bit filter of their hashes: a name never
/// noted is never reported as contained, a name noted always is, and another
/// name only rarely (which costs a second pass, not a wrong answer). Inline
/// and cleared in place, since every scope's first pass fills one.
struct MissedNames {
    bits: [u64; MissedNames::WORDS],
}

impl Default for MissedNames {
    fn default() -> Self {
        MissedNames {
            bits: [0; MissedNames::WORDS],
        }
    }
}

impl MissedNames {
    const BITS: u64 = 4096;
    const WORDS: usize = (Self::BITS / 64) as usize;

    fn slot(name: &str) -> (usize, u64) {
        let bit = rustc_hash::FxBuildHasher.hash_one(name) % Self::BITS;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn note(&mut self, name: &str) {
        let (word, mask) = Self::slot(name);
        self.bits[word] |= mask;
    }

    fn contains(&self, name: &str) -> bool {
        let (word, mask) = Self::slot(name);
        self.bits[word] & mask != 0
    }

    fn clear(&mut self) {
        self.bits = [0; Self::WORDS];
    }
}

pub(crate) struct Scope<'a, 't> {
    pub fx: &'a FileCtx<'t>,
    func: Node<'t>,
    fn_name: Option<String>,
    sources: FxHashMap<String, Taint>,
    env: FxHashMap<String, Taint>,
    fallback: FxHashMap<String, Taint>,
    outer: Option<&'a FxHashMap<String, Taint>>,
    consts: FxHashSet<String>,
    pub types: FxHashMap<String, String>,
    guarded: FxHashMap<String, u16>,
    pub shell_cmds: FxHashSet<String>,
    walk_vars: FxHashSet<String>,
    /// Names looked up and not found during the first pass.
    missed: RefCell<MissedNames>,
    proto_guard: bool,
    use_summaries: bool,
    hits: Vec<Hit>,
    ret: Option<Taint>,
    callbacks: Vec<(usize, Taint)>,
}

/// Builds the per-file context.
pub(crate) fn file_ctx<'t>(src: &'t Src<'t>, lang: Language, root: Node<'t>) -> FileCtx<'t> {
    let all = walk(root, &|_| false);
    let imports = lang::imports(src, lang, &all);
    let mut fx = FileCtx {
        src,
        lang,
        root,
        all: Vec::new(),
        imports,
        module_types: FxHashMap::default(),
        module_consts: FxHashMap::default(),
        funcs: FxHashMap::default(),
        fn_names: FxHashMap::default(),
        enclosing: FxHashMap::default(),
        summaries: FxHashMap::default(),
        has_defusedxml: src.text.contains("defusedxml"),
        call_args: RefCell::default(),
        canonical: RefCell::default(),
    };
    // Module-level constants and typed bindings.
    let mut top: Vec<Node> = Vec::new();
    for c in named_children(root) {
        match c.k() {
            "expression_statement" | "lexical_declaration" | "variable_declaration" => top.push(c),
            "export_statement" => top.extend(named_children(c)),
            "const_declaration" | "var_declaration" => top.extend(named_children(c)),
            "const_item" | "static_item" => top.push(c),
            "decorated_definition" => {}
            _ => {}
        }
    }
    for c in top {
        let pairs: Vec<(Node, Node)> = match c.k() {
            "expression_statement" => c
                .named_child(0)
                .filter(|a| a.k() == "assignment")
                .and_then(|a| Some((field(a, f::LEFT)?, field(a, f::RIGHT)?)))
                .into_iter()
                .collect(),
            "lexical_declaration" | "variable_declaration" => named_children(c)
                .into_iter()
                .filter(|d| d.k() == "variable_declarator")
                .filter_map(|d| Some((field(d, f::NAME)?, field(d, f::VALUE)?)))
                .collect(),
            "const_spec" | "var_spec" => {
                let value = field(c, f::VALUE).and_then(|v| v.named_child(0));
                field(c, f::NAME).zip(value).into_iter().collect()
            }
            "const_item" | "static_item" => field(c, f::NAME)
                .zip(field(c, f::VALUE))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for (name, value) in pairs {
            if name.k() != "identifier" {
                continue;
            }
            let n = src.t(name).to_string();
            let v = unwrap_expr(value);
            if is_call(v.k()) || matches!(v.k(), "composite_literal" | "unary_expression") {
                let scope_types = FxHashMap::default();
                if let Some(t) = type_of_value(&fx, &scope_types, v) {
                    fx.module_types.insert(n.clone(), t);
                }
            }
            fx.module_consts.insert(n, value);
        }
    }
    fx.fn_names = lang::function_names(src, &all);
    for &n in &all {
        if n.is_function_like()
            && let Some(name) = fx.fn_names.get(&n.id())
        {
            fx.funcs.entry(name.clone()).or_insert(n);
        }
    }
    // Enclosing function of every function, by a stack over document order.
    let mut stack: Vec<Node> = Vec::new();
    for &n in &all {
        if !n.is_function_like() {
            continue;
        }
        while stack
            .last()
            .is_some_and(|top| top.end_byte() <= n.start_byte())
        {
            stack.pop();
        }
        if let Some(top) = stack.last() {
            fx.enclosing.insert(n.id(), *top);
        }
        stack.push(n);
    }
    fx.all = all;
    // Names resolved above saw only part of the module's typed bindings.
    fx.canonical.get_mut().clear();
    fx
}

/// The canonical type/name of the value `v` when it is a constructor-like
/// call: `httpx.AsyncClient()` → `httpx.AsyncClient`; `promisify(exec)` →
/// `child_process.exec`.
fn type_of_value(fx: &FileCtx, types: &FxHashMap<String, String>, v: Node) -> Option<String> {
    type_of_value_at(fx, types, v, 0)
}

fn type_of_value_at(
    fx: &FileCtx,
    types: &FxHashMap<String, String>,
    v: Node,
    depth: u32,
) -> Option<String> {
    if depth > 16 {
        return None;
    }
    let v = unwrap_expr(v);
    match v.k() {
        "call" | "call_expression" | "new_expression" => {
            let c = callee(v)?;
            if fx.src.t(c) == "require" {
                return None;
            }
            let name = canonical_with(fx, types, c);
            let last = name.rsplit('.').next().unwrap_or("");
            if last == "promisify" {
                let args = call_args(fx.src, v);
                let a = args.first()?;
                return Some(canonical_with(fx, types, a.value));
            }
            if name == "?" {
                return None;
            }
            Some(strip_ctor(&name))
        }
        "composite_literal" => field(v, f::TYPE).map(|t| fx.src.t(t).to_string()),
        "unary_expression" => type_of_value_at(fx, types, field(v, f::OPERAND)?, depth + 1),
        _ => None,
    }
}

fn strip_ctor(name: &str) -> String {
    let mut segs: Vec<&str> = name.split('.').collect();
    if let Some(i) = segs.iter().position(|s| *s == "builder")
        && i > 0
    {
        segs.truncate(i);
    }
    // Builder-style setters return the client itself.
    if let Some(i) = segs.iter().rposition(|s| {
        matches!(
            *s,
            "Client" | "AsyncClient" | "Session" | "ClientSession" | "ClientBuilder"
        )
    }) && i > 0
    {
        segs.truncate(i + 1);
        if segs.last() == Some(&"ClientBuilder") {
            *segs.last_mut().unwrap_or(&mut "") = "Client";
        }
    }
    while segs.len() > 1
        && matches!(
            segs.last().copied(),
            Some("new" | "builder" | "build" | "default" | "unwrap" | "expect")
        )
    {
        segs.pop();
    }
    segs.join(".")
}

/// The dotted segments of a name, borrowed from the source where they can be:
/// canonical names are built for nearly every call and member access.
type Segments<'t> = SmallVec<[Cow<'t, str>; 4]>;

/// Dotted segments of a callee or receiver expression, or `None`.
fn chain<'t>(
    fx: &FileCtx<'t>,
    types: &FxHashMap<String, String>,
    n: Node,
    depth: u32,
) -> Option<Segments<'t>> {
    if depth > 24 {
        return None;
    }
    let src = fx.src;
    let n = unwrap_expr(n);
    let k = n.k();
    if is_identifier(k)
        || matches!(
            k,
            "property_identifier"
                | "field_identifier"
                | "type_identifier"
                | "package_identifier"
                | "private_property_identifier"
                | "self"
                | "this"
                | "super"
                | "crate"
        )
    {
        return Some(smallvec![Cow::Borrowed(src.t(n))]);
    }
    match k {
        "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
            let obj = field(n, f::OBJECT)
                .or_else(|| field(n, f::OPERAND))
                .or_else(|| field(n, f::VALUE))?;
            let prop = field(n, f::ATTRIBUTE)
                .or_else(|| field(n, f::PROPERTY))
                .or_else(|| field(n, f::FIELD))?;
            let mut segs = chain(fx, types, obj, depth + 1)?;
            segs.push(Cow::Borrowed(src.t(prop)));
            Some(segs)
        }
        "scoped_identifier" => {
            let name = field(n, f::NAME)?;
            let mut segs = match field(n, f::PATH) {
                Some(p) => chain(fx, types, p, depth + 1)?,
                None => SmallVec::new(),
            };
            segs.push(Cow::Borrowed(src.t(name)));
            Some(segs)
        }
        "generic_function" => chain(fx, types, field(n, f::FUNCTION)?, depth + 1),
        "call" | "call_expression" | "new_expression" => {
            let c = callee(n)?;
            if src.t(c) == "require" {
                let a = field(n, f::ARGUMENTS)?.named_child(0)?;
                return Some(smallvec![Cow::Owned(lang::normalize_module(
                    &literal_string(src, a)?
                ))]);
            }
            let inner = chain(fx, types, c, depth + 1)?;
            let name = resolve(fx, types, inner);
            Some(
                strip_ctor(&name)
                    .split('.')
                    .map(|s| Cow::Owned(s.to_string()))
                    .collect(),
            )
        }
        "composite_literal" => Some(
            src.t(field(n, f::TYPE)?)
                .split('.')
                .map(Cow::Borrowed)
                .collect(),
        ),
        "unary_expression" => chain(fx, types, field(n, f::OPERAND)?, depth + 1),
        _ => None,
    }
}

fn resolve(fx: &FileCtx, types: &FxHashMap<String, String>, segs: Segments) -> String {
    let mut segs = segs;
    if let Some(first) = segs.first() {
        let first: &str = first;
        let replacement = types
            .get(first)
            .or_else(|| fx.module_types.get(first))
            .or_else(|| fx.imports.get(first));
        if let Some(r) = replacement
            && r != first
        {
            let mut new: Segments = r.split('.').map(|s| Cow::Owned(s.to_string())).collect();
            new.extend(segs.drain(1..));
            segs = new;
        }
    }
    if segs.len() > 2 && segs[0] == "fs" && segs[1] == "promises" {
        segs.remove(1);
    }
    segs.join(".")
}

pub(crate) fn canonical_with(fx: &FileCtx, types: &FxHashMap<String, String>, n: Node) -> String {
    // Without scope-local types the name depends only on the file.
    let cacheable = types.is_empty();
    if cacheable && let Some(name) = fx.canonical.borrow().get(&n.id()) {
        return name.clone();
    }
    let name = match chain(fx, types, n, 0) {
        Some(segs) => resolve(fx, types, segs),
        None => "?".to_string(),
    };
    if cacheable {
        fx.canonical.borrow_mut().insert(n.id(), name.clone());
    }
    name
}

fn is_sql_text(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let has = |w: &str| t.contains(w);
    (has("select ") && has(" from"))
        || has("insert into")
        || (has("update ") && has(" set "))
        || has("delete from")
        || has("drop table")
        || has("create table")
        || has("alter table")
        || (has(" where ") && (has("select") || has("delete") || has("update")))
}

/// A fixed `scheme://host/` (or a relative path) leads the text before the
/// first interpolation.
fn fixes_host(prefix: &str) -> bool {
    if prefix.is_empty() {
        return false;
    }
    let after = match prefix.find("://") {
        Some(i) => &prefix[i + 3..],
        None => prefix,
    };
    !after.is_empty() && after.contains(['/', '?', '#'])
}

impl<'a, 't> Scope<'a, 't> {
    pub fn new(
        fx: &'a FileCtx<'t>,
        func: Node<'t>,
        sources: FxHashMap<String, Taint>,
        outer: Option<&'a FxHashMap<String, Taint>>,
        use_summaries: bool,
    ) -> Self {
        let fn_name = if func == fx.root {
            None
        } else {
            fx.fn_names.get(&func.id()).cloned()
        };
        Scope {
            fx,
            func,
            fn_name,
            sources,
            env: FxHashMap::default(),
            fallback: FxHashMap::default(),
            outer,
            consts: FxHashSet::default(),
            types: FxHashMap::default(),
            guarded: FxHashMap::default(),
            shell_cmds: FxHashSet::default(),
            walk_vars: FxHashSet::default(),
            missed: RefCell::new(MissedNames::default()),
            proto_guard: false,
            use_summaries,
            hits: Vec::new(),
            ret: None,
            callbacks: Vec::new(),
        }
    }

    pub fn canonical(&self, n: Node) -> String {
        canonical_with(self.fx, &self.types, n)
    }

    pub fn src(&self) -> &'t Src<'t> {
        self.fx.src
    }

    pub fn lang(&self) -> Language {
        self.fx.lang
    }

    /// The nodes of this scope in document order; nested functions are
    /// listed but not entered.
    fn nodes(&self) -> Vec<Node<'t>> {
        let body = if self.func == self.fx.root {
            self.func
        } else {
            match function_body(self.func) {
                Some(b) => b,
                None => return Vec::new(),
            }
        };
        self.fx.subtree(body, true)
    }

    pub fn run(mut self) -> ScopeResult {
        let nodes = self.nodes();
        let text = if self.func == self.fx.root {
            ""
        } else {
            self.src().t(self.func)
        };
        self.proto_guard = text.contains("__proto__")
            || text.contains("'constructor'")
            || text.contains("\"constructor\"")
            || text.contains("prototype")
            || text.contains("Object.create(null)");
        self.prescan_guards(&nodes);
        // Pass 1 collects bindings; pass 2 starts again from the sources
        // (falling back to pass 1 for names used before they are bound, as
        // in loops) and records sinks. Pass 1 records sinks too, and pass 2
        // is run only when it could differ: when a name that missed in pass
        // 1 ends up bound (so pass 2 would find it in the fallback), or when
        // an object walk (`cur = cur[k]`) was seen, whose variables pass 2
        // would know from the start. Otherwise both passes see the same
        // bindings at every node and pass 1's sinks are pass 2's.
        self.missed.borrow_mut().clear();
        self.walk_pass(&nodes);
        let first = std::mem::take(&mut self.env);
        let missed = std::mem::take(&mut *self.missed.borrow_mut());
        if !self.walk_vars.is_empty() || first.keys().any(|name| missed.contains(name)) {
            self.fallback = first;
            self.hits.clear();
            self.walk_pass(&nodes);
        } else {
            self.env = first;
        }
        // An arrow function with an expression body returns it.
        if self.func != self.fx.root
            && let Some(body) = function_body(self.func)
            && !matches!(body.k(), "statement_block" | "block")
        {
            self.ret = union(self.ret.take(), self.eval(body, 0));
        }
        if self.fx.lang == Language::Rust
            && self.func != self.fx.root
            && let Some(body) = function_body(self.func)
            && let Some(last) = named_children(body).last().copied()
            && !last.k().ends_with("statement")
            && !last.k().ends_with("declaration")
            && !last.k().ends_with("_item")
        {
            self.ret = union(self.ret.take(), self.eval(last, 0));
        }
        ScopeResult {
            hits: self.hits,
            ret: self.ret,
            env: self.env,
            callbacks: self.callbacks,
        }
    }

    /// One visit of the scope's statements in document order, recording sinks.
    fn walk_pass(&mut self, nodes: &[Node<'t>]) {
        self.env = self.sources.clone();
        self.consts.clear();
        self.types.clear();
        self.shell_cmds.clear();
        self.ret = None;
        for &n in nodes {
            if n != self.func && n.is_function_like() {
                continue;
            }
            self.visit(n);
        }
    }

    fn lookup(&self, name: &str) -> Option<Taint> {
        let t = self
            .env
            .get(name)
            .or_else(|| self.outer.and_then(|o| o.get(name)))
            .or_else(|| self.fallback.get(name))
            .cloned();
        if t.is_none() {
            self.missed.borrow_mut().note(name);
        }
        match (t, self.guarded.get(name)) {
            (Some(mut t), Some(mask)) => {
                t.sanitized |= mask;
                Some(t)
            }
            (t, _) => t,
        }
    }

    /// Names mentioned by an expression (identifiers and dotted paths).
    fn mentions(&self, n: Node<'t>) -> Vec<String> {
        let src = self.src();
        let mut out = Vec::new();
        for c in self.fx.subtree(n, true).into_iter().take(2000) {
            let k = c.k();
            if is_identifier(k) {
                out.push(src.t(c).to_string());
            } else if matches!(
                k,
                "attribute" | "member_expression" | "selector_expression" | "field_expression"
            ) {
                out.push(src.t(c).replace("?.", "."));
            }
        }
        out
    }

    fn guard(&mut self, n: Node<'t>, mask: u16) {
        for name in self.mentions(n) {
            *self.guarded.entry(name).or_insert(0) |= mask;
        }
    }

    /// Containment, allow-list and validation checks mark the names they test.
    fn prescan_guards(&mut self, nodes: &[Node<'t>]) {
        let src = self.src();
        for &n in nodes {
            let k = n.k();
            if k == "comparison_operator" {
                // Python `".." in p`, `x in ALLOWED`, `x not in {...}`.
                let kids = named_children(n);
                let text = src.t(n);
                if kids.len() == 2 && (text.contains(" in ") || text.contains(" not in ")) {
                    let (l, r) = (kids[0], kids[1]);
                    if let Some(s) = literal_string(src, l) {
                        if s.contains("..") {
                            self.guard(r, kind::PATH);
                        }
                    } else if matches!(
                        unwrap_expr(r).k(),
                        "identifier" | "set" | "list" | "tuple" | "dictionary" | "attribute"
                    ) && literal_string(src, r).is_none()
                    {
                        let whole_text_lower = src.t(r);
                        if !whole_text_lower.contains("os.environ") {
                            self.guard(l, kind::ALL);
                        }
                    }
                }
                continue;
            }
            if !is_call(k) {
                continue;
            }
            let Some(c) = callee(n) else { continue };
            let name = self.canonical(c);
            let method = lang::method_name(src, c).to_string();
            let args = self.fx.call_args(n);
            let receiver = match unwrap_expr(c).k() {
                "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
                    field(unwrap_expr(c), f::OBJECT)
                        .or_else(|| field(unwrap_expr(c), f::OPERAND))
                        .or_else(|| field(unwrap_expr(c), f::VALUE))
                }
                _ => None,
            };
            let nonliteral_args: Vec<Node> = args
                .iter()
                .map(|a| a.value)
                .filter(|v| literal_string(src, *v).is_none())
                .collect();
            let literal_args: Vec<String> = args
                .iter()
                .filter_map(|a| literal_string(src, a.value))
                .collect();
            match method.as_str() {
                "startswith" | "startsWith" | "is_relative_to" | "relative_to" | "HasPrefix"
                | "starts_with" | "commonpath" | "commonprefix" | "isWithin" | "isInside"
                | "is_within" | "isPathInside" | "Rel" | "relative" | "relpath" => {
                    if matches!(method.as_str(), "relative" | "relpath")
                        && !matches!(
                            name.as_str(),
                            "path.relative" | "os.path.relpath" | "path.posix.relative"
                        )
                    {
                        continue;
                    }
                    if let Some(r) = receiver
                        && !matches!(
                            name.as_str(),
                            "strings.HasPrefix" | "filepath.Rel" | "os.path.commonpath"
                        )
                    {
                        self.guard(r, kind::PATH | kind::SSRF);
                    }
                    for a in &nonliteral_args {
                        self.guard(*a, kind::PATH | kind::SSRF);
                    }
                }
                "includes" | "contains" | "Contains" | "has" | "indexOf" | "__contains__"
                | "count" => {
                    if literal_args.iter().any(|l| l.contains("..")) {
                        if let Some(r) = receiver {
                            self.guard(r, kind::PATH);
                        }
                        for a in &nonliteral_args {
                            self.guard(*a, kind::PATH);
                        }
                    } else if let Some(r) = receiver
                        && literal_args.is_empty()
                        && literal_string(src, r).is_none()
                    {
                        // ALLOWED.includes(x), allowed.has(x), slices.Contains(list, x)
                        if name == "slices.Contains" {
                            if let Some(a) = args.get(1) {
                                self.guard(a.value, kind::ALL);
                            }
                        } else {
                            for a in &nonliteral_args {
                                self.guard(*a, kind::ALL);
                            }
                        }
                    }
                }
                "fullmatch" | "match" | "test" | "is_match" => {
                    // re.fullmatch(r"^[a-z]+$", x) / /^[a-z]+$/.test(x)
                    let (pattern, subject): (Option<String>, Option<Node>) = if method == "test" {
                        let pat = receiver
                            .filter(|r| r.k() == "regex")
                            .and_then(|r| field(r, f::PATTERN).map(|p| src.t(p).to_string()));
                        (pat, args.first().map(|a| a.value))
                    } else if name.starts_with("re.") || name.starts_with("regex.") {
                        (
                            args.first().and_then(|a| literal_string(src, a.value)),
                            args.get(1).map(|a| a.value),
                        )
                    } else {
                        (None, None)
                    };
                    if let (Some(p), Some(s)) = (pattern, subject) {
                        let full = method == "fullmatch";
                        let anchored = (p.starts_with('^') || full || p.starts_with("\\A"))
                            && (p.ends_with('$')
                                || full
                                || p.ends_with("\\Z")
                                || p.ends_with("\\z"));
                        if anchored
                            && !p.contains("\\S")
                            && !p.contains("[^")
                            && !p.contains(".*")
                            && !p.contains(".+")
                        {
                            let mut mask = kind::ALL;
                            if p.contains('.') || p.contains('/') {
                                mask &= !(kind::PATH | kind::SSRF);
                            }
                            self.guard(s, mask);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    // ---------------------------------------------------------------- visit

    fn visit(&mut self, n: Node<'t>) {
        let src = self.src();
        match n.k() {
            "assignment" => {
                if let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) {
                    // Chained `a = b = x`: the right side is another assignment.
                    let value = if r.k() == "assignment" {
                        field(r, f::RIGHT).unwrap_or(r)
                    } else {
                        r
                    };
                    self.assign(l, value, false);
                }
            }
            "augmented_assignment"
            | "augmented_assignment_expression"
            | "compound_assignment_expr" => {
                if let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) {
                    self.assign(l, r, true);
                }
            }
            "assignment_expression" => {
                if let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) {
                    self.check_proto_write(n, l, r);
                    self.assign(l, r, false);
                }
            }
            "variable_declarator" => {
                if let (Some(l), Some(r)) = (field(n, f::NAME), field(n, f::VALUE)) {
                    self.assign(l, r, false);
                }
            }
            "named_expression" => {
                if let (Some(l), Some(r)) = (field(n, f::NAME), field(n, f::VALUE)) {
                    self.assign(l, r, false);
                }
            }
            "short_var_declaration" | "assignment_statement" => {
                if let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) {
                    let op = n.child(1).map(|o| src.t(o)).unwrap_or("=");
                    self.assign(l, r, op != "=" && op != ":=");
                }
            }
            "var_spec" | "const_spec" => {
                if let Some(value) = field(n, f::VALUE) {
                    let names: Vec<Node> = n.children_by_field(f::NAME).collect();
                    for name in names {
                        self.assign(name, value, false);
                    }
                }
            }
            "let_declaration" | "let_condition" => {
                if let (Some(l), Some(r)) = (field(n, f::PATTERN), field(n, f::VALUE)) {
                    self.assign(l, r, false);
                }
            }
            "for_statement" | "for_in_clause" | "for_in_statement" | "range_clause" => {
                if let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) {
                    let t = self.eval(r, 0);
                    self.bind(l, t, None);
                }
            }
            "for_expression" => {
                if let (Some(l), Some(r)) = (field(n, f::PATTERN), field(n, f::VALUE)) {
                    let t = self.eval(r, 0);
                    self.bind(l, t, None);
                }
            }
            "as_pattern" => {
                // Python `with expr as name`
                if let (Some(v), Some(alias)) = (n.named_child(0), field(n, f::ALIAS)) {
                    self.assign(alias, v, false);
                }
            }
            "return_statement" | "return_expression" => {
                if let Some(v) = n.named_child(0) {
                    let t = self.eval(v, 0);
                    self.ret = union(self.ret.take(), t);
                }
            }
            k if is_call(k) && k != "macro_invocation" => self.visit_call(n),
            _ => {}
        }
    }

    fn assign(&mut self, target: Node<'t>, value: Node<'t>, augmented: bool) {
        let src = self.src();
        // Pairwise `a, b = x, y` / `a, b := x, y`.
        let t_kids = named_children(target);
        let v_kids = named_children(value);
        if matches!(
            target.k(),
            "pattern_list" | "tuple_pattern" | "expression_list"
        ) && matches!(value.k(), "expression_list" | "tuple")
            && t_kids.len() == v_kids.len()
            && t_kids.len() > 1
        {
            for (t, v) in t_kids.into_iter().zip(v_kids) {
                self.assign(t, v, augmented);
            }
            return;
        }
        let value_node = if value.k() == "expression_list" && v_kids.len() == 1 {
            v_kids[0]
        } else {
            value
        };
        let mut t = self.eval(value_node, 0);
        if augmented {
            t = union(t, self.eval(target, 0));
        }
        // JS `cur = cur[part]` walks an object with tainted keys.
        if self.fx.lang.is_js() && target.k() == "identifier" {
            let v = unwrap_expr(value_node);
            if v.k() == "subscript_expression"
                && let Some(idx) = field(v, f::INDEX)
                && self.eval(idx, 0).is_some()
            {
                self.walk_vars.insert(src.t(target).to_string());
            }
        }
        self.bind(target, t, Some(value_node));
    }

    fn bind(&mut self, target: Node<'t>, t: Option<Taint>, value: Option<Node<'t>>) {
        let src = self.src();
        let line = src.line(target);
        let mut target = unwrap_expr(target);
        if matches!(
            target.k(),
            "as_pattern_target" | "expression_list" | "pattern_list"
        ) && target.named_child_count() == 1
            && let Some(inner) = target.named_child(0)
        {
            target = inner;
        }
        match target.k() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                let name = src.t(target).to_string();
                if name == "_" {
                    return;
                }
                match t {
                    Some(t) => {
                        self.env
                            .insert(name.clone(), t.step(format!("`{name}`"), line));
                    }
                    None => {
                        self.env.remove(&name);
                    }
                }
                if let Some(v) = value {
                    if self.is_constant_value(v) {
                        self.consts.insert(name.clone());
                    } else {
                        self.consts.remove(&name);
                    }
                    match type_of_value(self.fx, &self.types, v) {
                        Some(ty) => {
                            self.types.insert(name.clone(), ty);
                        }
                        None => {
                            self.types.remove(&name);
                        }
                    }
                    if self.fx.lang == Language::Rust && sinks::is_shell_command_chain(self, v) {
                        self.shell_cmds.insert(name);
                    }
                }
            }
            "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
                let key = src.t(target).replace("?.", ".");
                if let Some(t) = t {
                    let old = self.env.get(&key).cloned();
                    let new = union(old, Some(t.step(format!("`{key}`"), line)));
                    if let Some(new) = new {
                        self.env.insert(key, new);
                    }
                }
            }
            "subscript" | "subscript_expression" | "index_expression" => {
                let base = field(target, f::VALUE)
                    .or_else(|| field(target, f::OBJECT))
                    .or_else(|| field(target, f::OPERAND));
                if let (Some(t), Some(b)) = (t, base) {
                    let key = src.t(unwrap_expr(b)).replace("?.", ".");
                    let old = self.env.get(&key).cloned();
                    if let Some(new) = union(old, Some(t.step(format!("`{key}`"), line))) {
                        self.env.insert(key, new);
                    }
                }
            }
            _ => {
                let names = lang::bound_names(src, target);
                for name in names {
                    match &t {
                        Some(t) => {
                            self.env
                                .insert(name.clone(), t.clone().step(format!("`{name}`"), line));
                        }
                        None => {
                            self.env.remove(&name);
                        }
                    }
                    self.consts.remove(&name);
                }
            }
        }
    }

    fn is_constant_value(&self, v: Node) -> bool {
        self.is_constant_at(v, 0)
    }

    fn is_constant_at(&self, v: Node, depth: u32) -> bool {
        let src = self.src();
        if is_constant_literal(src, v) {
            return true;
        }
        if depth > 8 {
            return false;
        }
        let v = unwrap_expr(v);
        match v.k() {
            // f"echo {VERSION}" / `v${VERSION}` with constant parts only.
            "string" | "template_string" => {
                return named_children(v).into_iter().all(|c| match c.k() {
                    "interpolation" | "template_substitution" => field(c, f::EXPRESSION)
                        .or_else(|| c.named_child(0))
                        .is_some_and(|e| self.is_constant_at(e, depth + 1)),
                    _ => true,
                });
            }
            "binary_operator" | "binary_expression" => {
                return field(v, f::LEFT).is_some_and(|l| self.is_constant_at(l, depth + 1))
                    && field(v, f::RIGHT).is_some_and(|r| self.is_constant_at(r, depth + 1));
            }
            _ => {}
        }
        if v.k() == "identifier" {
            let name = src.t(v);
            return self.consts.contains(name)
                || (!self.env.contains_key(name)
                    && self
                        .fx
                        .module_consts
                        .get(name)
                        .is_some_and(|m| is_constant_literal(src, *m)));
        }
        false
    }

    // ----------------------------------------------------------------- eval

    pub fn eval(&self, n: Node<'t>, depth: u32) -> Option<Taint> {
        if depth > MAX_DEPTH {
            return None;
        }
        let src = self.src();
        let n = unwrap_expr(n);
        let k = n.k();
        if is_identifier(k) {
            return self.lookup(src.t(n));
        }
        match k {
            "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
                let key = member_key(src.t(n));
                if let Some(t) = self.lookup(&key) {
                    return Some(t);
                }
                let obj = field(n, f::OBJECT)
                    .or_else(|| field(n, f::OPERAND))
                    .or_else(|| field(n, f::VALUE))?;
                let t = self.eval(obj, depth + 1)?;
                // A guard on `args.path` applies to the member too.
                Some(t)
            }
            "subscript" | "subscript_expression" | "index_expression" | "slice_expression" => {
                let key = member_key(src.t(n));
                if let Some(t) = self.lookup(&key) {
                    return Some(t);
                }
                let obj = field(n, f::VALUE)
                    .or_else(|| field(n, f::OBJECT))
                    .or_else(|| field(n, f::OPERAND))?;
                self.eval(obj, depth + 1)
            }
            "type_assertion_expression" | "type_conversion_expression" | "cast_expression" => {
                let inner = field(n, f::OPERAND)
                    .or_else(|| field(n, f::VALUE))
                    .or_else(|| n.named_child(0))?;
                self.eval(inner, depth + 1)
            }
            "string"
            | "template_string"
            | "concatenated_string"
            | "interpreted_string_literal"
            | "raw_string_literal"
            | "string_literal" => self.eval_string(n, depth),
            "binary_operator" | "binary_expression" => {
                let op = field(n, f::OPERATOR).map(|o| src.t(o)).unwrap_or("");
                match op {
                    "+" => self.eval_concat(n, depth),
                    "%" => {
                        let l = field(n, f::LEFT)?;
                        let r = field(n, f::RIGHT)?;
                        if let Some(fmt) = literal_string(src, l) {
                            let t = self.eval(r, depth + 1)?;
                            let prefix = fmt.split('%').next().unwrap_or("");
                            Some(self.built(t, &fmt, prefix))
                        } else {
                            None
                        }
                    }
                    "or" | "and" | "||" | "&&" | "??" => union(
                        field(n, f::LEFT).and_then(|l| self.eval(l, depth + 1)),
                        field(n, f::RIGHT).and_then(|r| self.eval(r, depth + 1)),
                    ),
                    _ => None,
                }
            }
            "boolean_operator" => union(
                field(n, f::LEFT).and_then(|l| self.eval(l, depth + 1)),
                field(n, f::RIGHT).and_then(|r| self.eval(r, depth + 1)),
            ),
            "conditional_expression" => {
                let kids = named_children(n);
                union(
                    kids.first().and_then(|c| self.eval(*c, depth + 1)),
                    kids.get(2).and_then(|c| self.eval(*c, depth + 1)),
                )
            }
            "ternary_expression" => union(
                field(n, f::CONSEQUENCE).and_then(|c| self.eval(c, depth + 1)),
                field(n, f::ALTERNATIVE).and_then(|c| self.eval(c, depth + 1)),
            ),
            "call" | "call_expression" | "new_expression" => self.eval_call(n, depth),
            "macro_invocation" => self.eval_macro(n, depth),
            "list" | "tuple" | "array" | "set" | "array_expression" | "tuple_expression"
            | "list_comprehension" | "expression_list" => {
                let mut acc = None;
                for c in named_children(n).into_iter().take(256) {
                    acc = union(acc, self.eval(c, depth + 1));
                }
                acc.map(|mut t| {
                    if matches!(
                        k,
                        "list" | "tuple" | "array" | "array_expression" | "tuple_expression"
                    ) {
                        t.flags |= flag::LIST;
                    }
                    t
                })
            }
            "dictionary"
            | "object"
            | "composite_literal"
            | "literal_value"
            | "struct_expression"
            | "field_initializer_list" => {
                let mut acc = None;
                let items = match k {
                    "composite_literal" => {
                        field(n, f::BODY).map(named_children).unwrap_or_default()
                    }
                    "struct_expression" => {
                        field(n, f::BODY).map(named_children).unwrap_or_default()
                    }
                    _ => named_children(n),
                };
                for c in items.into_iter().take(256) {
                    let v = match c.k() {
                        "pair" | "keyed_element" | "field_initializer" => {
                            field(c, f::VALUE).or_else(|| c.named_child(1))
                        }
                        _ => Some(c),
                    };
                    if let Some(v) = v {
                        acc = union(acc, self.eval(v, depth + 1));
                    }
                }
                acc
            }
            "literal_element" => self.eval(n.named_child(0)?, depth + 1),
            "keyword_argument" | "pair" | "keyed_element" => {
                self.eval(field(n, f::VALUE).or_else(|| n.named_child(1))?, depth + 1)
            }
            "unary_expression" | "unary_operator" | "not_operator" => {
                let op = field(n, f::OPERATOR).map(|o| src.t(o)).unwrap_or("");
                if matches!(op, "&" | "*" | "<-") {
                    self.eval(
                        field(n, f::OPERAND).or_else(|| field(n, f::ARGUMENT))?,
                        depth + 1,
                    )
                } else {
                    None
                }
            }
            "lambda"
            | "arrow_function"
            | "function_expression"
            | "function"
            | "func_literal"
            | "closure_expression"
            | "comparison_operator"
            | "integer"
            | "float"
            | "number"
            | "true"
            | "false"
            | "none"
            | "null"
            | "nil"
            | "regex"
            | "typeof_expression" => None,
            _ => {
                let mut acc = None;
                for c in named_children(n).into_iter().take(64) {
                    if c.k().contains("type") {
                        continue;
                    }
                    acc = union(acc, self.eval(c, depth + 1));
                }
                acc
            }
        }
    }

    /// Marks `t` as a string built around `literal` text; `prefix` is the
    /// literal text before the first interpolation.
    fn built(&self, mut t: Taint, literal: &str, prefix: &str) -> Taint {
        t.flags |= flag::BUILT;
        if is_sql_text(literal) {
            t.flags |= flag::SQL;
        }
        if fixes_host(prefix) {
            t.flags |= flag::FIXED_HOST;
        } else {
            t.flags &= !flag::FIXED_HOST;
        }
        t
    }

    fn eval_string(&self, n: Node<'t>, depth: u32) -> Option<Taint> {
        let src = self.src();
        if n.k() == "concatenated_string" {
            let mut acc = None;
            let mut literal = String::new();
            let mut prefix = String::new();
            let mut seen_taint = false;
            for c in named_children(n) {
                let t = self.eval_string(c, depth + 1);
                let text = src.t(c);
                literal.push_str(text);
                if t.is_none() && !seen_taint {
                    if let Some(s) = literal_string(src, c) {
                        prefix.push_str(&s);
                    }
                } else {
                    seen_taint = true;
                }
                acc = union(acc, t);
            }
            return acc.map(|t| self.built(t, &literal, &prefix));
        }
        let mut acc = None;
        let mut literal = String::new();
        let mut prefix = String::new();
        let mut in_prefix = true;
        for c in named_children(n) {
            match c.k() {
                "interpolation" | "template_substitution" => {
                    in_prefix = false;
                    let e = field(c, f::EXPRESSION).or_else(|| c.named_child(0));
                    if let Some(e) = e {
                        acc = union(acc, self.eval(e, depth + 1));
                    }
                    literal.push_str(" ? ");
                }
                "string_content" | "string_fragment" | "escape_sequence" => {
                    let t = src.t(c);
                    literal.push_str(t);
                    if in_prefix {
                        prefix.push_str(t);
                    }
                }
                _ => {}
            }
        }
        acc.map(|t| self.built(t, &literal, &prefix))
    }

    fn eval_concat(&self, n: Node<'t>, depth: u32) -> Option<Taint> {
        let src = self.src();
        // Flatten a left-leaning chain of `+`.
        let mut operands = Vec::new();
        let mut cur = n;
        for _ in 0..256 {
            let op = field(cur, f::OPERATOR).map(|o| src.t(o)).unwrap_or("");
            if matches!(cur.k(), "binary_operator" | "binary_expression") && op == "+" {
                if let Some(r) = field(cur, f::RIGHT) {
                    operands.push(r);
                }
                match field(cur, f::LEFT) {
                    Some(l) => cur = unwrap_expr(l),
                    None => break,
                }
            } else {
                operands.push(cur);
                break;
            }
        }
        operands.reverse();
        let mut acc = None;
        let mut literal = String::new();
        let mut prefix = String::new();
        let mut fixed_by_value = false;
        let mut seen_taint = false;
        let mut stringy = false;
        for (i, o) in operands.iter().enumerate() {
            let t = self.eval(*o, depth + 1);
            let lit = literal_string(src, *o);
            if let Some(l) = &lit {
                literal.push_str(l);
                stringy = true;
            } else {
                literal.push_str(" ? ");
            }
            if let Some(tt) = &t
                && tt.flags & flag::BUILT != 0
            {
                stringy = true;
            }
            if t.is_none() && !seen_taint {
                match &lit {
                    Some(l) => prefix.push_str(l),
                    None if i == 0 => fixed_by_value = true,
                    None => {}
                }
            }
            if t.is_some() {
                if !seen_taint && i == 0 {
                    // The tainted value comes first: keep its own shape.
                }
                seen_taint = true;
            }
            acc = union(acc, t);
        }
        let first_tainted = operands
            .first()
            .map(|o| self.eval(*o, depth + 1).is_some())
            .unwrap_or(false);
        acc.map(|t| {
            let keep_fixed = first_tainted && t.flags & flag::FIXED_HOST != 0;
            let mut t = if stringy {
                self.built(t, &literal, &prefix)
            } else {
                t
            };
            if fixed_by_value || keep_fixed {
                t.flags |= flag::FIXED_HOST;
            }
            t
        })
    }

    fn eval_macro(&self, n: Node<'t>, depth: u32) -> Option<Taint> {
        let src = self.src();
        let name = field(n, f::MACRO).map(|m| src.t(m)).unwrap_or("");
        let tokens = named_children(n)
            .into_iter()
            .find(|c| c.k() == "token_tree")?;
        let mut acc = None;
        let mut template: Option<String> = None;
        for c in walk(tokens, &|_| false).into_iter().take(2000) {
            match c.k() {
                "identifier" => acc = union(acc, self.lookup(src.t(c))),
                "string_literal" | "raw_string_literal" if template.is_none() => {
                    let s = literal_string(src, c).unwrap_or_default();
                    // Inline captures: format!("{path}").
                    for cap in inline_captures(&s) {
                        acc = union(acc, self.lookup(&cap));
                    }
                    template = Some(s);
                }
                _ => {}
            }
        }
        let _ = depth;
        let acc = acc?;
        match name {
            "format" | "format_args" | "concat" => {
                let tpl = template.unwrap_or_default();
                let prefix = tpl.split('{').next().unwrap_or("").to_string();
                Some(self.built(acc, &tpl, &prefix))
            }
            "vec" => {
                let mut t = acc;
                t.flags |= flag::LIST;
                Some(t)
            }
            _ => Some(acc),
        }
    }

    fn receiver(&self, c: Node<'t>) -> Option<Node<'t>> {
        let c = unwrap_expr(c);
        match c.k() {
            "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
                field(c, f::OBJECT)
                    .or_else(|| field(c, f::OPERAND))
                    .or_else(|| field(c, f::VALUE))
            }
            _ => None,
        }
    }

    fn eval_call(&self, n: Node<'t>, depth: u32) -> Option<Taint> {
        let src = self.src();
        let c = callee(n)?;
        let name = self.canonical(c);
        let method = lang::method_name(src, c).to_string();
        let args = self.fx.call_args(n);
        let receiver = self.receiver(c);

        // String formatting.
        if method == "format"
            && let Some(r) = receiver
            && let Some(fmt) = literal_string(src, r)
        {
            let mut acc = None;
            for a in &args {
                acc = union(acc, self.eval(a.value, depth + 1));
            }
            let prefix = fmt.split('{').next().unwrap_or("").to_string();
            return acc.map(|t| self.built(t, &fmt, &prefix));
        }
        if matches!(name.as_str(), "fmt.Sprintf" | "fmt.Sprint" | "fmt.Sprintln") {
            let fmt = args
                .first()
                .and_then(|a| literal_string(src, a.value))
                .unwrap_or_default();
            let mut acc = None;
            for a in args.iter().skip(1) {
                acc = union(acc, self.eval(a.value, depth + 1));
            }
            let prefix = fmt.split('%').next().unwrap_or("").to_string();
            return acc.map(|t| self.built(t, &fmt, &prefix));
        }
        if method == "join"
            && let Some(r) = receiver
            && literal_string(src, r).is_some()
        {
            let mut acc = None;
            for a in &args {
                acc = union(acc, self.eval(a.value, depth + 1));
            }
            return acc.map(|mut t| {
                t.flags |= flag::BUILT;
                t.flags &= !flag::LIST;
                t
            });
        }

        // Sanitisers and value-free results.
        if let Some(mask) = sinks::sanitizer(self.fx.lang, &name, &method) {
            let mut acc = None;
            for a in &args {
                acc = union(acc, self.eval(a.value, depth + 1));
            }
            if let Some(r) = receiver {
                acc = union(acc, self.eval(r, depth + 1));
            }
            return acc.map(|mut t| {
                t.sanitized |= mask;
                t
            });
        }
        if sinks::non_propagating(self.fx.lang, &name, &method) {
            return None;
        }

        // Validation helpers by name (often imported from another file).
        if let Some(mask) = validator_by_name(&method) {
            let mut acc = None;
            for a in &args {
                acc = union(acc, self.eval(a.value, depth + 1));
            }
            return acc.map(|mut t| {
                t.sanitized |= mask;
                t
            });
        }

        // A local helper: use its summary.
        if let Some(result) = self.helper_return(n, c, &args, depth) {
            return result;
        }

        let mut acc = None;
        if let Some(r) = receiver {
            acc = union(acc, self.eval(r, depth + 1));
        }
        for a in &args {
            acc = union(acc, self.eval(a.value, depth + 1));
        }
        acc.map(|mut t| {
            t.flags &= !flag::LIST;
            t
        })
    }

    /// The local function a call goes to, if any: `helper(x)`,
    /// `self.helper(x)`, `this.helper(x)`, `s.helper(x)` (Go/Rust methods).
    fn helper_target(&self, c: Node<'t>) -> Option<(Node<'t>, bool)> {
        let src = self.src();
        let c = unwrap_expr(c);
        match c.k() {
            "identifier" => {
                let name = src.t(c);
                if self.env.contains_key(name) || self.fx.imports.contains_key(name) {
                    return None;
                }
                let f = *self.fx.funcs.get(name)?;
                (f != self.func).then_some((f, false))
            }
            "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
                let obj = self.receiver(c)?;
                let obj_text = src.t(obj);
                let prop = field(c, f::ATTRIBUTE)
                    .or_else(|| field(c, f::PROPERTY))
                    .or_else(|| field(c, f::FIELD))?;
                let is_self = matches!(obj_text, "self" | "this" | "cls");
                let go_recv = self.fx.lang == Language::Go
                    && obj.k() == "identifier"
                    && !self.fx.imports.contains_key(obj_text);
                // `store.read(x)` where `store = Store(...)` and `Store` is
                // a class of this file.
                let local_instance = obj.k() == "identifier"
                    && self
                        .types
                        .get(obj_text)
                        .or_else(|| self.fx.module_types.get(obj_text))
                        .is_some_and(|t| {
                            !t.contains('.') && !self.fx.imports.contains_key(t.as_str())
                        });
                if !(is_self || go_recv || local_instance) {
                    return None;
                }
                let f = *self.fx.funcs.get(src.t(prop))?;
                let drop_self = (is_self || local_instance) && self.fx.lang == Language::Python;
                (f != self.func).then_some((f, drop_self))
            }
            _ => None,
        }
    }

    /// For each argument of a helper call, the parameter bit it lands on.
    fn map_args(&self, f: Node<'t>, drop_self: bool, args: &[Arg<'t>]) -> Vec<(u64, Node<'t>)> {
        let Some(summary) = self.fx.summaries.get(&f.id()) else {
            return Vec::new();
        };
        let mut params: Vec<&Param> = summary.params.iter().collect();
        if drop_self
            && params
                .first()
                .is_some_and(|p| p.names.first().is_some_and(|n| n == "self" || n == "cls"))
        {
            params.remove(0);
        }
        let mut out = Vec::new();
        let mut pos = 0;
        for a in args {
            let p = match a.name {
                Some(name) => params
                    .iter()
                    .find(|p| p.names.iter().any(|n| n == name))
                    .copied(),
                None => {
                    let p = params.get(pos).copied();
                    pos += 1;
                    p
                }
            };
            if let Some(p) = p {
                out.push((1u64 << p.index.min(63), a.value));
            }
        }
        out
    }

    fn helper_return(
        &self,
        _n: Node<'t>,
        c: Node<'t>,
        args: &[Arg<'t>],
        depth: u32,
    ) -> Option<Option<Taint>> {
        if !self.use_summaries {
            return None;
        }
        let (f, drop_self) = self.helper_target(c)?;
        let summary = self.fx.summaries.get(&f.id())?;
        let ret = summary.ret.as_ref();
        let name = self.fx.fn_names.get(&f.id()).cloned().unwrap_or_default();
        let line = self.src().line(c);
        let mut acc = None;
        for (bit, value) in self.map_args(f, drop_self, args) {
            let Some(r) = ret else { continue };
            if r.params & bit == 0 {
                continue;
            }
            if let Some(mut t) = self.eval(value, depth + 1) {
                t.sanitized |= r.sanitized;
                t.flags |= r.flags & (flag::BUILT | flag::SQL);
                acc = union(acc, Some(t.step(format!("{name}()"), line)));
            }
        }
        Some(acc)
    }

    fn visit_call(&mut self, n: Node<'t>) {
        let src = self.src();
        let Some(c) = callee(n) else { return };
        let args = self.fx.call_args(n);
        let name = self.canonical(c);
        let method = lang::method_name(src, c);
        // Sinks.
        for spec in sinks::classify(self, n, c, &name, method, &args) {
            self.record_hit(n, spec);
        }
        self.promote_helper_hits(n, c, &args);
        // Callbacks that receive tainted elements.
        let iter_method = matches!(
            method,
            "map"
                | "forEach"
                | "filter"
                | "flatMap"
                | "some"
                | "every"
                | "find"
                | "for_each"
                | "filter_map"
                | "then"
                | "reduce"
                | "any"
                | "all"
        );
        let recv_taint = if iter_method {
            self.receiver(c).and_then(|r| self.eval(r, 0))
        } else {
            None
        };
        let map_taint = if name == "map" || name == "filter" {
            args.get(1).and_then(|a| self.eval(a.value, 0))
        } else {
            None
        };
        if let Some(t) = recv_taint.or(map_taint) {
            for a in &args {
                if unwrap_expr(a.value).is_function_like() {
                    self.callbacks.push((unwrap_expr(a.value).id(), t.clone()));
                }
            }
        }
    }

    fn record_hit(&mut self, call: Node<'t>, spec: Spec<'t>) {
        let src = self.src();
        let mut taint = None;
        let mut constant = true;
        for &node in &spec.nodes {
            taint = union(taint, self.eval(node, 0));
            if !self.is_constant_value(node) {
                constant = false;
            }
        }
        if spec.nodes.is_empty() {
            return;
        }
        let at = spec.at.unwrap_or_else(|| anchor(call));
        let taint = taint.map(|t| t.step(spec.label.clone(), src.line(at)));
        self.hits.push(Hit {
            rule: spec.rule,
            kind: spec.kind,
            cond: spec.cond,
            line: src.line(at),
            column: src.column(at),
            snippet: src.snippet(at),
            label: spec.label,
            taint,
            constant,
            untraced_ok: spec.untraced_ok,
        });
    }

    /// A tool passes its input into a local helper whose own parameter
    /// reaches a sink: report the sink with the whole path.
    fn promote_helper_hits(&mut self, _n: Node<'t>, c: Node<'t>, args: &[Arg<'t>]) {
        if !self.use_summaries {
            return;
        }
        let Some((f, drop_self)) = self.helper_target(c) else {
            return;
        };
        let Some(summary) = self.fx.summaries.get(&f.id()) else {
            return;
        };
        let name = self.fx.fn_names.get(&f.id()).cloned().unwrap_or_default();
        let line = self.src().line(c);
        let mapped = self.map_args(f, drop_self, args);
        let mut new_hits = Vec::new();
        for (bit, value) in mapped {
            let Some(outer) = self.eval(value, 0) else {
                continue;
            };
            if !outer.tool {
                continue;
            }
            for h in &summary.hits {
                let Some(inner) = &h.taint else { continue };
                if inner.params & bit == 0 {
                    continue;
                }
                let mut t = outer.clone().step(format!("{name}()"), line);
                for s in &inner.steps {
                    t = t.step(s.0.clone(), s.1);
                }
                t.sanitized |= inner.sanitized;
                t.flags |= inner.flags & (flag::BUILT | flag::SQL | flag::LIST);
                if inner.flags & flag::FIXED_HOST != 0 {
                    t.flags |= flag::FIXED_HOST;
                }
                let mut hit = h.clone();
                hit.taint = Some(t);
                new_hits.push(hit);
            }
        }
        self.hits.extend(new_hits);
    }

    /// JS/TS prototype pollution: `obj[key] = value` with a caller-chosen key
    /// on a path walk, a nested write, or a recursive merge.
    fn check_proto_write(&mut self, n: Node<'t>, left: Node<'t>, _right: Node<'t>) {
        if !self.fx.lang.is_js() || self.proto_guard {
            return;
        }
        let left = unwrap_expr(left);
        if left.k() != "subscript_expression" {
            return;
        }
        let src = self.src();
        let Some(idx) = field(left, f::INDEX) else {
            return;
        };
        if literal_string(src, idx).is_some() || is_constant_literal(src, idx) {
            return;
        }
        let Some(key_taint) = self.eval(idx, 0) else {
            return;
        };
        if key_taint.sanitized & kind::PROTO != 0 {
            return;
        }
        let Some(obj) = field(left, f::OBJECT) else {
            return;
        };
        let obj = unwrap_expr(obj);
        let nested = obj.k() == "subscript_expression"
            && field(obj, f::INDEX).is_some_and(|i| self.eval(i, 0).is_some());
        let walked = obj.k() == "identifier" && self.walk_vars.contains(src.t(obj));
        // A recursive merge descends into the object it writes to:
        // `merge(target[key], source[key])` next to `target[key] = ...`.
        let recursive = self.fn_name.as_ref().is_some_and(|name| {
            let body = function_body(self.func).map(|b| src.t(b)).unwrap_or("");
            let descend = format!("{}({}[{}]", name, src.t(obj), src.t(idx));
            body.replace(' ', "").contains(&descend.replace(' ', ""))
        });
        if !(nested || walked || recursive) {
            return;
        }
        let line = src.line(n);
        self.hits.push(Hit {
            rule: crate::rules::PROTOTYPE_POLLUTION,
            kind: kind::PROTO,
            cond: Cond::Always,
            line,
            column: src.column(n),
            snippet: src.snippet(n),
            label: "object[key] = …".into(),
            taint: Some(key_taint.step("object[key] = …".into(), line)),
            constant: false,
            untraced_ok: false,
        });
    }
}

/// `validatePath(p)`, `sanitize_url(u)`, `safeJoin(a, b)`: a function whose
/// name says it validates input cleans it for the kinds its name mentions
/// (all kinds when it mentions none).
fn validator_by_name(method: &str) -> Option<u16> {
    let m = method.to_ascii_lowercase().replace('_', "");
    let prefixes = [
        "validate",
        "sanitize",
        "sanitise",
        "safe",
        "secure",
        "ensure",
        "verify",
        "assertsafe",
        "assertvalid",
    ];
    if !prefixes.iter().any(|p| m.starts_with(p)) {
        return None;
    }
    let mut mask = 0;
    if ["path", "file", "dir", "folder", "join", "name"]
        .iter()
        .any(|w| m.contains(w))
    {
        mask |= kind::PATH;
    }
    if ["url", "uri", "host", "domain", "endpoint"]
        .iter()
        .any(|w| m.contains(w))
    {
        mask |= kind::SSRF;
    }
    if ["cmd", "command", "shell", "arg"]
        .iter()
        .any(|w| m.contains(w))
    {
        mask |= kind::CMD;
    }
    if ["sql", "query", "identifier", "column", "table"]
        .iter()
        .any(|w| m.contains(w))
    {
        mask |= kind::SQL;
    }
    if ["regex", "pattern"].iter().any(|w| m.contains(w)) {
        mask |= kind::REGEX;
    }
    if ["key", "prop"].iter().any(|w| m.contains(w)) {
        mask |= kind::PROTO;
    }
    Some(if mask == 0 { kind::ALL } else { mask })
}

/// Where a call is reported: at the method name of a method call (so that
/// a chain spread over lines points at the right one), else at the call.
pub(crate) fn anchor(call: Node) -> Node {
    let Some(c) = callee(call) else { return call };
    let c = unwrap_expr(c);
    match c.k() {
        "attribute" | "member_expression" | "selector_expression" | "field_expression" => {
            field(c, f::ATTRIBUTE)
                .or_else(|| field(c, f::PROPERTY))
                .or_else(|| field(c, f::FIELD))
                .unwrap_or(call)
        }
        _ => call,
    }
}

fn inline_captures(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if b.get(i + 1) == Some(&b'{') {
                i += 2;
                continue;
            }
            let start = i + 1;
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start && (b.get(j) == Some(&b'}') || b.get(j) == Some(&b':')) {
                let name = &s[start..j];
                if !name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    out.push(name.to_string());
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Pseudo-sources for a function's own parameters (not tool input).
pub(crate) fn param_sources(params: &[Param]) -> FxHashMap<String, Taint> {
    let mut out = FxHashMap::default();
    for p in params {
        if p.plumbing {
            continue;
        }
        for name in &p.names {
            out.insert(
                name.clone(),
                Taint {
                    tool: false,
                    params: 1u64 << p.index.min(63),
                    origin: format!("parameter `{name}`"),
                    steps: Vec::new(),
                    sanitized: 0,
                    flags: 0,
                },
            );
        }
    }
    out
}

/// Sources for a registered tool handler's parameters.
pub(crate) fn tool_sources(
    params: &[Param],
    tool: &str,
    only_first: bool,
) -> FxHashMap<String, Taint> {
    let mut out = FxHashMap::default();
    for (i, p) in params.iter().enumerate() {
        if p.plumbing || (only_first && i > 0) {
            continue;
        }
        for name in &p.names {
            out.insert(
                name.clone(),
                Taint {
                    tool: true,
                    params: 1u64 << p.index.min(63),
                    origin: format!("tool `{tool}` param `{name}`"),
                    steps: Vec::new(),
                    sanitized: 0,
                    flags: 0,
                },
            );
        }
    }
    out
}

pub(crate) fn params_of(src: &Src, lang: Language, f: Node) -> Vec<Param> {
    function_params(src, lang, f)
}
