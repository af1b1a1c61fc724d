//! Per-language knowledge of the syntax tree: imports, functions and their
//! parameters, calls and their arguments, binding patterns.

use rustc_hash::FxHashMap;

use smallvec::SmallVec;

use crate::Language;
use crate::syntax::{
    Children, Kind, Node, Src, f, field, is_comment, is_identifier, literal_string, named_children,
    unwrap_expr,
};

/// One argument of a call: `name` is set for Python keyword arguments.
#[derive(Clone, Copy)]
pub(crate) struct Arg<'t> {
    pub name: Option<&'t str>,
    pub value: Node<'t>,
}

/// A parameter of a function: the names it binds (several for a
/// destructuring pattern), its position, and its type text.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub names: Vec<String>,
    pub index: usize,
    pub type_text: String,
    /// `self`, `cls`, a `Context`/`context.Context` parameter: never input.
    pub plumbing: bool,
}

pub(crate) fn callee<'t>(n: Node<'t>) -> Option<Node<'t>> {
    match n.k() {
        "new_expression" => field(n, f::CONSTRUCTOR),
        "macro_invocation" => field(n, f::MACRO),
        _ => field(n, f::FUNCTION),
    }
}

/// The called method's or function's own name: `get` in `a.b.get(x)`.
pub(crate) fn method_name<'t>(src: &Src<'t>, callee: Node<'t>) -> &'t str {
    let c = unwrap_expr(callee);
    let name = match c.k() {
        "attribute" => field(c, f::ATTRIBUTE),
        "member_expression" => field(c, f::PROPERTY),
        "selector_expression" | "field_expression" => field(c, f::FIELD),
        "scoped_identifier" => field(c, f::NAME),
        "generic_function" => field(c, f::FUNCTION).map(|f| return_last(f)),
        _ => Some(c),
    };
    name.map(|n| after_last_path_sep(src.t(n))).unwrap_or("")
}

/// What follows the last `::` of `t` (all of `t` without one); a byte scan,
/// as a `str` pattern search sets up a searcher on every call.
fn after_last_path_sep(t: &str) -> &str {
    let b = t.as_bytes();
    (2..=b.len())
        .rev()
        .find(|&i| b[i - 2] == b':' && b[i - 1] == b':')
        .map_or(t, |i| &t[i..])
}

fn return_last(n: Node) -> Node {
    match n.k() {
        "scoped_identifier" => field(n, f::NAME).unwrap_or(n),
        "field_expression" => field(n, f::FIELD).unwrap_or(n),
        _ => n,
    }
}

/// A call's arguments, inline up to four (nearly every call has fewer).
pub(crate) type Args<'t> = SmallVec<[Arg<'t>; 4]>;

pub(crate) fn call_args<'t>(src: &Src<'t>, n: Node<'t>) -> Args<'t> {
    let Some(list) = field(n, f::ARGUMENTS) else {
        return Args::new();
    };
    let mut out = Args::new();
    for c in named_children(list) {
        match c.k() {
            "keyword_argument" => {
                if let (Some(name), Some(value)) = (field(c, f::NAME), field(c, f::VALUE)) {
                    out.push(Arg {
                        name: Some(src.t(name)),
                        value,
                    });
                }
            }
            "list_splat" | "dictionary_splat" | "spread_element" | "variadic_argument" => {
                if let Some(v) = c.named_child(0) {
                    out.push(Arg {
                        name: None,
                        value: v,
                    });
                }
            }
            _ => out.push(Arg {
                name: None,
                value: c,
            }),
        }
    }
    out
}

pub(crate) fn positional<'t>(args: &[Arg<'t>], i: usize) -> Option<Node<'t>> {
    args.iter()
        .filter(|a| a.name.is_none())
        .nth(i)
        .map(|a| a.value)
}

pub(crate) fn keyword<'t>(args: &[Arg<'t>], name: &str) -> Option<Node<'t>> {
    args.iter().find(|a| a.name == Some(name)).map(|a| a.value)
}

pub(crate) fn arg_or_kw<'t>(args: &[Arg<'t>], i: usize, name: &str) -> Option<Node<'t>> {
    keyword(args, name).or_else(|| positional(args, i))
}

/// In an object literal (JS `{a: 1}`, Go `T{A: 1}`), the value of key `key`.
pub(crate) fn object_value<'t>(src: &Src<'t>, obj: Node<'t>, key: &str) -> Option<Node<'t>> {
    let obj = unwrap_expr(obj);
    let items: Children = match obj.k() {
        "object" => named_children(obj),
        "dictionary" => named_children(obj),
        "literal_value" => named_children(obj),
        "composite_literal" => field(obj, f::BODY).map(named_children).unwrap_or_default(),
        _ => return None,
    };
    for it in items {
        match it.k() {
            "pair" | "keyed_element" => {
                let k = field(it, f::KEY).or_else(|| it.named_child(0))?;
                let kt = literal_string(src, k).unwrap_or_else(|| src.t(k).to_string());
                if kt == key {
                    let v = field(it, f::VALUE).or_else(|| it.named_child(1))?;
                    if v.k() == "literal_element" {
                        return v.named_child(0);
                    }
                    return Some(v);
                }
            }
            "shorthand_property_identifier" if src.t(it) == key => return Some(it),
            _ => {}
        }
    }
    None
}

/// Keys of an object literal (JS) or dict literal (Python).
pub(crate) fn object_keys(src: &Src, obj: Node) -> Vec<String> {
    let obj = unwrap_expr(obj);
    let mut out = Vec::new();
    if !matches!(obj.k(), "object" | "dictionary") {
        return out;
    }
    for it in named_children(obj) {
        match it.k() {
            "pair" => {
                if let Some(k) = field(it, f::KEY) {
                    out.push(literal_string(src, k).unwrap_or_else(|| src.t(k).to_string()));
                }
            }
            "shorthand_property_identifier" => out.push(src.t(it).to_string()),
            _ => {}
        }
    }
    out
}

pub(crate) fn function_body<'t>(f: Node<'t>) -> Option<Node<'t>> {
    field(f, f::BODY)
}

/// The name a function is known by in its file: its own name, the variable
/// it is assigned to (`const f = () => ...`), or the object key (`execute: ...`).
/// Names of all functions in `all`, by node id, without `Node::parent`
/// (which walks down from the root and is slow on deep trees).
pub(crate) fn function_names(src: &Src, all: &[Node]) -> FxHashMap<usize, String> {
    let mut out = FxHashMap::default();
    for &n in all {
        let (slot, value) = match n.k() {
            "variable_declarator" => (field(n, f::NAME), field(n, f::VALUE)),
            "pair" => (field(n, f::KEY), field(n, f::VALUE)),
            "assignment_expression" | "assignment" => (field(n, f::LEFT), field(n, f::RIGHT)),
            _ => {
                if n.is_function_like()
                    && let Some(name) = field(n, f::NAME)
                {
                    out.insert(n.id(), src.t(name).to_string());
                }
                continue;
            }
        };
        if let (Some(slot), Some(value)) = (slot, value)
            && value.is_function_like()
            && field(value, f::NAME).is_none()
            && (n.k() != "variable_declarator" || slot.k() == "identifier")
        {
            out.insert(value.id(), src.t(slot).to_string());
        }
    }
    out
}

#[allow(dead_code)]
pub(crate) fn function_name(src: &Src, f: Node) -> Option<String> {
    if let Some(n) = field(f, f::NAME) {
        return Some(src.t(n).to_string());
    }
    let parent = f.parent()?;
    match parent.k() {
        "variable_declarator" => field(parent, f::NAME)
            .filter(|n| n.k() == "identifier")
            .map(|n| src.t(n).to_string()),
        "pair" => field(parent, f::KEY).map(|k| src.t(k).to_string()),
        "assignment_expression" | "assignment" => {
            field(parent, f::LEFT).map(|n| src.t(n).to_string())
        }
        _ => None,
    }
}

pub(crate) fn function_params(src: &Src, lang: Language, f: Node) -> Vec<Param> {
    let list = field(f, f::PARAMETERS).or_else(|| field(f, f::PARAMETER));
    let Some(list) = list else {
        return Vec::new();
    };
    // A parameter list that swallowed half the file is error recovery, not
    // parameters.
    if list.descendant_count() > 5_000 {
        return Vec::new();
    }
    let items: Children = if is_identifier(list.k()) {
        smallvec::smallvec![list]
    } else {
        named_children(list)
    };
    let mut out = Vec::new();
    let mut index = 0;
    for p in items {
        let kind = p.k();
        if matches!(
            kind,
            "keyword_separator" | "positional_separator" | "attribute_item"
        ) {
            continue;
        }
        if kind == "self_parameter" {
            continue;
        }
        if p.descendant_count() > 400 {
            index += 1;
            continue;
        }
        let type_text = field(p, f::TYPE)
            .map(|t| src.t(t).to_string())
            .unwrap_or_default();
        let names = match lang {
            Language::Go => {
                // `a, b string` declares two parameters of one type.
                let names: Vec<String> = p
                    .children_by_field(f::NAME)
                    .map(|n| src.t(n).to_string())
                    .collect();
                if names.len() > 1 {
                    for n in names {
                        let plumbing = is_plumbing(lang, &n, &type_text);
                        out.push(Param {
                            names: vec![n],
                            index,
                            type_text: type_text.clone(),
                            plumbing,
                        });
                        index += 1;
                    }
                    continue;
                }
                names
            }
            _ => bound_names(src, p),
        };
        if names.is_empty() {
            index += 1;
            continue;
        }
        let plumbing = names.len() == 1 && is_plumbing(lang, &names[0], &type_text)
            || (lang == Language::Python
                && index == 0
                && matches!(names[0].as_str(), "self" | "cls"));
        out.push(Param {
            names,
            index,
            type_text,
            plumbing,
        });
        index += 1;
    }
    out
}

fn is_plumbing(lang: Language, name: &str, type_text: &str) -> bool {
    match lang {
        Language::Python => {
            matches!(name, "self" | "cls" | "ctx" | "context")
                || type_text.ends_with("Context")
                || type_text.contains("Context[")
        }
        Language::Go => type_text == "context.Context",
        Language::Rust => {
            name == "self"
                || type_text.contains("RequestContext")
                || type_text.contains("Peer<")
                || type_text == "Extensions"
        }
        _ => false,
    }
}

/// Names bound by a pattern or parameter node.
pub(crate) fn bound_names(src: &Src, pattern: Node) -> Vec<String> {
    let mut out = Vec::new();
    // Real patterns are small; a huge one is error recovery.
    if pattern.descendant_count() > 400 {
        return out;
    }
    let mut stack = vec![pattern];
    let mut steps = 0;
    while let Some(n) = stack.pop() {
        steps += 1;
        if steps > 2_000 {
            break;
        }
        let kind = n.k();
        if is_identifier(kind) {
            let t = src.t(n);
            if t != "_" {
                out.push(t.to_string());
            }
            continue;
        }
        match kind {
            "type" | "type_annotation" | "type_identifier" | "predefined_type" | "generic_type"
            | "string" | "integer" | "number" | "true" | "false" | "none" | "nil" => continue,
            "field_pattern" => {
                if let Some(p) = field(n, f::PATTERN) {
                    stack.push(p);
                } else if let Some(nm) = field(n, f::NAME) {
                    stack.push(nm);
                }
                continue;
            }
            "pair_pattern" => {
                if let Some(v) = field(n, f::VALUE) {
                    stack.push(v);
                }
                continue;
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(l) = field(n, f::LEFT) {
                    stack.push(l);
                }
                continue;
            }
            "default_parameter" | "typed_default_parameter" => {
                if let Some(nm) = field(n, f::NAME) {
                    stack.push(nm);
                }
                continue;
            }
            "attribute"
            | "member_expression"
            | "subscript"
            | "subscript_expression"
            | "selector_expression"
            | "field_expression"
            | "index_expression"
            | "call"
            | "call_expression" => continue,
            _ => {}
        }
        let children: Vec<(Option<&str>, Node)> = n
            .children()
            .take(257)
            .map(|c| (c.field_name(), c))
            .collect();
        for (fname, c) in children.into_iter().rev() {
            if !c.is_named() || is_comment(c) {
                continue;
            }
            if matches!(
                fname,
                Some("type" | "value" | "right" | "return_type" | "key" | "default")
            ) {
                continue;
            }
            stack.push(c);
        }
    }
    out.reverse();
    let mut seen = rustc_hash::FxHashSet::default();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Normalises a module specifier: `node:fs/promises` → `fs`.
pub(crate) fn normalize_module(spec: &str) -> String {
    let s = spec.strip_prefix("node:").unwrap_or(spec);
    match s {
        "fs/promises" | "fs-extra" | "graceful-fs" | "fs-extra/esm" => "fs".into(),
        "child_process" | "child-process-promise" => "child_process".into(),
        "lodash-es" | "lodash" => "lodash".into(),
        "libxmljs2" | "libxmljs" => "libxmljs".into(),
        "node-fetch" | "cross-fetch" | "isomorphic-fetch" => "fetch".into(),
        "undici" => "undici".into(),
        _ => {
            if let Some(rest) = s.strip_prefix("lodash/") {
                return format!("lodash.{rest}");
            }
            s.to_string()
        }
    }
}

/// Local name → canonical dotted name, from the file's imports.
pub(crate) fn imports(src: &Src, lang: Language, all: &[Node]) -> FxHashMap<String, String> {
    let mut map = FxHashMap::default();
    for &n in all {
        match (lang, n.k()) {
            (Language::Python, "import_statement") => {
                for c in named_children(n) {
                    match c.k() {
                        "dotted_name" => {
                            let full = src.t(c);
                            let first = full.split('.').next().unwrap_or(full);
                            map.insert(first.to_string(), first.to_string());
                        }
                        "aliased_import" => {
                            if let (Some(name), Some(alias)) =
                                (field(c, f::NAME), field(c, f::ALIAS))
                            {
                                map.insert(src.t(alias).to_string(), src.t(name).to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            (Language::Python, "import_from_statement") => {
                let Some(module) = field(n, f::MODULE_NAME) else {
                    continue;
                };
                let module = src.t(module).trim_start_matches('.').to_string();
                let names: Vec<Node> = n.children_by_field(f::NAME).collect();
                for c in names {
                    match c.k() {
                        "dotted_name" => {
                            let name = src.t(c);
                            map.insert(name.to_string(), format!("{module}.{name}"));
                        }
                        "aliased_import" => {
                            if let (Some(name), Some(alias)) =
                                (field(c, f::NAME), field(c, f::ALIAS))
                            {
                                map.insert(
                                    src.t(alias).to_string(),
                                    format!("{module}.{}", src.t(name)),
                                );
                            }
                        }
                        _ => {}
                    }
                }
            }
            (Language::JavaScript | Language::TypeScript | Language::Tsx, "import_statement") => {
                let Some(source) = field(n, f::SOURCE) else {
                    continue;
                };
                let module = normalize_module(&literal_string(src, source).unwrap_or_default());
                for clause in named_children(n) {
                    if clause.k() != "import_clause" {
                        continue;
                    }
                    for c in named_children(clause) {
                        match c.k() {
                            "identifier" => {
                                map.insert(src.t(c).to_string(), module.clone());
                            }
                            "namespace_import" => {
                                if let Some(id) = named_children(c)
                                    .into_iter()
                                    .find(|x| x.k() == "identifier")
                                {
                                    map.insert(src.t(id).to_string(), module.clone());
                                }
                            }
                            "named_imports" => {
                                for spec in named_children(c) {
                                    if spec.k() != "import_specifier" {
                                        continue;
                                    }
                                    let Some(name) = field(spec, f::NAME) else {
                                        continue;
                                    };
                                    let local = field(spec, f::ALIAS).unwrap_or(name);
                                    let name = src.t(name);
                                    let canon = if name == "default" {
                                        module.clone()
                                    } else {
                                        format!("{module}.{name}")
                                    };
                                    map.insert(src.t(local).to_string(), canon);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            (
                Language::JavaScript | Language::TypeScript | Language::Tsx,
                "variable_declarator",
            ) => {
                let (Some(name), Some(value)) = (field(n, f::NAME), field(n, f::VALUE)) else {
                    continue;
                };
                let Some(module) = require_module(src, value) else {
                    continue;
                };
                match name.k() {
                    "identifier" => {
                        map.insert(src.t(name).to_string(), module);
                    }
                    "object_pattern" => {
                        for p in named_children(name) {
                            match p.k() {
                                "shorthand_property_identifier_pattern" => {
                                    let t = src.t(p);
                                    map.insert(t.to_string(), format!("{module}.{t}"));
                                }
                                "pair_pattern" => {
                                    if let (Some(k), Some(v)) =
                                        (field(p, f::KEY), field(p, f::VALUE))
                                    {
                                        map.insert(
                                            src.t(v).to_string(),
                                            format!("{module}.{}", src.t(k)),
                                        );
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            (Language::Go, "import_spec") => {
                let Some(path) = field(n, f::PATH) else {
                    continue;
                };
                let path = literal_string(src, path).unwrap_or_default();
                let last = path.rsplit('/').next().unwrap_or(&path).to_string();
                // Versioned module paths: github.com/x/y/v2 → y.
                let last = if last.starts_with('v')
                    && last[1..].chars().all(|c| c.is_ascii_digit())
                    && last.len() > 1
                {
                    path.rsplit('/').nth(1).unwrap_or(&last).to_string()
                } else {
                    last
                };
                let local = field(n, f::NAME)
                    .map(|x| src.t(x).to_string())
                    .unwrap_or_else(|| last.clone());
                map.insert(local, last);
            }
            (Language::Rust, "use_declaration") => {
                if let Some(arg) = field(n, f::ARGUMENT) {
                    rust_use(src, arg, "", &mut map);
                }
            }
            _ => {}
        }
    }
    map
}

fn require_module(src: &Src, value: Node) -> Option<String> {
    let mut v = unwrap_expr(value);
    let mut suffix = String::new();
    for _ in 0..4 {
        match v.k() {
            "member_expression" => {
                let prop = field(v, f::PROPERTY).map(|p| src.t(p)).unwrap_or("");
                if prop != "promises" && prop != "default" {
                    suffix = format!(".{prop}{suffix}");
                }
                v = unwrap_expr(field(v, f::OBJECT)?);
            }
            "call_expression" => {
                let f = field(v, f::FUNCTION)?;
                if src.t(f) != "require" {
                    return None;
                }
                let arg = field(v, f::ARGUMENTS)?.named_child(0)?;
                let module = normalize_module(&literal_string(src, arg)?);
                return Some(format!("{module}{suffix}"));
            }
            _ => return None,
        }
    }
    None
}

fn rust_use(src: &Src, n: Node, prefix: &str, map: &mut FxHashMap<String, String>) {
    let mut stack = vec![(n, prefix.to_string())];
    let mut steps = 0;
    while let Some((n, prefix)) = stack.pop() {
        steps += 1;
        if steps > 2000 {
            return;
        }
        let join = |p: &str, t: &str| {
            if p.is_empty() {
                t.to_string()
            } else {
                format!("{p}.{t}")
            }
        };
        match n.k() {
            "identifier" => {
                let t = src.t(n);
                map.insert(t.to_string(), join(&prefix, t));
            }
            "scoped_identifier" => {
                let full = join(&prefix, &src.t(n).replace("::", "."));
                let last = field(n, f::NAME).map(|x| src.t(x)).unwrap_or("");
                map.insert(last.to_string(), full);
            }
            "use_as_clause" => {
                if let (Some(path), Some(alias)) = (field(n, f::PATH), field(n, f::ALIAS)) {
                    map.insert(
                        src.t(alias).to_string(),
                        join(&prefix, &src.t(path).replace("::", ".")),
                    );
                }
            }
            "scoped_use_list" => {
                let p = field(n, f::PATH)
                    .map(|x| src.t(x).replace("::", "."))
                    .unwrap_or_default();
                let p = join(&prefix, &p);
                if let Some(list) = field(n, f::LIST) {
                    stack.push((list, p));
                }
            }
            "use_list" => {
                for c in named_children(n) {
                    stack.push((c, prefix.clone()));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::after_last_path_sep;

    /// The same as `rsplit("::").next()`.
    #[test]
    fn after_last_path_sep_is_rsplit() {
        for t in [
            "",
            ":",
            "::",
            "a",
            "a::b",
            "std::process::Command",
            ":::b",
            "a:::",
            "a::b:c",
            "::x",
        ] {
            assert_eq!(
                after_last_path_sep(t),
                t.rsplit("::").next().unwrap(),
                "{t:?}"
            );
        }
    }
}
