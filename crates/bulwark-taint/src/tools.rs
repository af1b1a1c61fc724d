//! Finding the MCP tools a file registers, and their handler functions.

use rustc_hash::FxHashSet;

use crate::Language;
use crate::lang::{
    call_args, callee, function_params, keyword, object_keys, object_value, positional,
};
use crate::syntax::{Kind, Node, f, field, is_call, literal_string, named_children, unwrap_expr};
use crate::taint::{FileCtx, canonical_with};

/// A tool a source file registers with an MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEntry {
    /// The tool's name as clients see it.
    pub name: String,
    /// The function that handles it (`<anonymous>` for an inline closure).
    pub function: String,
    /// Its input parameters, as far as the source shows them.
    pub parameters: Vec<String>,
    /// 1-based line of the registration.
    pub line: u32,
    /// `fastmcp`, `mcp-python-lowlevel`, `mcp-ts`, `mcp-ts-lowlevel`, `fastmcp-ts`, `mcp-go`, `go-sdk`, `rmcp`.
    pub framework: &'static str,
    /// The description is not a literal fixed in the source (built at run time).
    pub dynamic_description: bool,
    /// The description's text when the source fixes it (a literal, a
    /// constant, a concatenation of those, or a Python docstring), so the
    /// tool-description detectors can judge it before the server ever runs.
    pub description: Option<String>,
    /// 1-based line and column where that description starts (0 when none).
    pub description_line: u32,
    pub description_column: u32,
}

/// Internal: a tool plus the nodes needed for analysis and reporting.
pub(crate) struct Found<'t> {
    pub entry: ToolEntry,
    pub handler: Option<Node<'t>>,
    /// Only the handler's first parameter carries input (JS `(args, extra)`).
    pub only_first_param: bool,
    pub description: Option<Node<'t>>,
}

fn entry(
    name: String,
    function: String,
    parameters: Vec<String>,
    line: u32,
    framework: &'static str,
) -> ToolEntry {
    ToolEntry {
        name,
        function,
        parameters,
        line,
        framework,
        dynamic_description: false,
        description: None,
        description_line: 0,
        description_column: 0,
    }
}

/// The text of a description expression fixed in the source, as far as it
/// can be read without running anything (see [`is_static_text`]).
pub(crate) fn static_text(fx: &FileCtx, n: Node, depth: u32) -> Option<String> {
    if depth > 6 {
        return None;
    }
    let src = fx.src;
    let n = unwrap_expr(n);
    if let Some(text) = literal_string(src, n) {
        return Some(text);
    }
    match n.k() {
        "identifier" => {
            let v = *fx.module_consts.get(src.t(n))?;
            (v != n).then(|| static_text(fx, v, depth + 1)).flatten()
        }
        "binary_operator" | "binary_expression" => {
            if field(n, f::OPERATOR).is_none_or(|o| src.t(o) != "+") {
                return None;
            }
            let left = static_text(fx, field(n, f::LEFT)?, depth + 1)?;
            let right = static_text(fx, field(n, f::RIGHT)?, depth + 1)?;
            Some(left + &right)
        }
        "concatenated_string" => named_children(n)
            .into_iter()
            .map(|c| static_text(fx, c, depth + 1))
            .collect(),
        // dedent("..."), "...".strip(): the words matter, not the layout.
        "call" | "call_expression" => {
            let c = callee(n)?;
            let receiver = match unwrap_expr(c).k() {
                "attribute" | "member_expression" | "field_expression" => {
                    field(unwrap_expr(c), f::OBJECT).or_else(|| field(unwrap_expr(c), f::VALUE))
                }
                _ => None,
            };
            let inner = receiver
                .and_then(|r| static_text(fx, r, depth + 1))
                .or_else(|| {
                    call_args(src, n)
                        .first()
                        .and_then(|a| static_text(fx, a.value, depth + 1))
                })?;
            Some(inner.trim().to_string())
        }
        _ => None,
    }
}

/// A Python function's docstring node: the string that opens its body.
fn python_docstring<'t>(def: Node<'t>) -> Option<Node<'t>> {
    let body = field(def, f::BODY)?;
    let first = named_children(body).into_iter().next()?;
    if first.k() != "expression_statement" {
        return None;
    }
    named_children(first)
        .into_iter()
        .next()
        .filter(|s| s.k() == "string")
}

/// Whether a description expression is fixed text in the source.
pub(crate) fn is_static_text(fx: &FileCtx, n: Node, depth: u32) -> bool {
    if depth > 6 {
        return false;
    }
    let src = fx.src;
    let n = unwrap_expr(n);
    if literal_string(src, n).is_some() {
        return true;
    }
    match n.k() {
        "identifier" => fx
            .module_consts
            .get(src.t(n))
            .is_some_and(|v| *v != n && is_static_text(fx, *v, depth + 1)),
        "binary_operator" | "binary_expression" => {
            field(n, f::OPERATOR).is_some_and(|o| src.t(o) == "+")
                && field(n, f::LEFT).is_some_and(|l| is_static_text(fx, l, depth + 1))
                && field(n, f::RIGHT).is_some_and(|r| is_static_text(fx, r, depth + 1))
        }
        "concatenated_string" => named_children(n)
            .into_iter()
            .all(|c| is_static_text(fx, c, depth + 1)),
        "call" | "call_expression" => {
            let Some(c) = callee(n) else { return false };
            let name = canonical_with(fx, &Default::default(), c);
            let method = name.rsplit('.').next().unwrap_or("");
            if !matches!(
                method,
                "dedent"
                    | "strip"
                    | "trim"
                    | "cleandoc"
                    | "trimStart"
                    | "trimEnd"
                    | "join"
                    | "to_string"
                    | "into"
                    | "to_owned"
            ) {
                return false;
            }
            let args = call_args(src, n);
            let recv_ok = match unwrap_expr(c).k() {
                "attribute" | "member_expression" | "field_expression" => {
                    field(unwrap_expr(c), f::OBJECT)
                        .or_else(|| field(unwrap_expr(c), f::VALUE))
                        .is_some_and(|r| {
                            is_static_text(fx, r, depth + 1) || fx.imports.contains_key(src.t(r))
                        })
                }
                _ => true,
            };
            recv_ok && args.iter().all(|a| is_static_text(fx, a.value, depth + 1))
        }
        "array" | "list" => named_children(n)
            .into_iter()
            .all(|c| is_static_text(fx, c, depth + 1)),
        _ => false,
    }
}

fn non_plumbing_names(fx: &FileCtx, f: Node, only_first: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in function_params(fx.src, fx.lang, f).into_iter().enumerate() {
        if p.plumbing || (only_first && i > 0) {
            continue;
        }
        out.extend(p.names);
    }
    out
}

fn resolve_function<'t>(fx: &FileCtx<'t>, n: Node<'t>) -> Option<Node<'t>> {
    let n = unwrap_expr(n);
    if n.is_function_like() {
        return Some(n);
    }
    let src = fx.src;
    let name = match n.k() {
        "identifier" => src.t(n),
        "selector_expression" => field(n, f::FIELD).map(|f| src.t(f))?,
        "member_expression" => field(n, f::PROPERTY).map(|f| src.t(f))?,
        "call_expression" => {
            // handler.bind(this), wrap(handler)
            let args = call_args(src, n);
            return args.iter().find_map(|a| resolve_function(fx, a.value));
        }
        _ => return None,
    };
    fx.funcs.get(name).copied()
}

fn fn_label(fx: &FileCtx, f: Option<Node>) -> String {
    f.and_then(|f| fx.fn_names.get(&f.id()).cloned())
        .unwrap_or_else(|| "<anonymous>".to_string())
}

pub(crate) fn discover<'t>(fx: &FileCtx<'t>) -> Vec<Found<'t>> {
    let nodes = &fx.all;
    let mut found = match fx.lang {
        Language::Python => python(fx, nodes),
        Language::JavaScript | Language::TypeScript | Language::Tsx => js(fx, nodes),
        Language::Go => go(fx, nodes),
        Language::Rust => rust(fx, nodes),
    };
    for f in &mut found {
        if f.description.is_none() && f.entry.framework == "fastmcp" {
            // FastMCP takes an undecorated description from the docstring.
            f.description = f.handler.and_then(python_docstring);
        }
        if let Some(d) = f.description {
            f.entry.dynamic_description = !is_static_text(fx, d, 0);
            if !f.entry.dynamic_description {
                f.entry.description = static_text(fx, d, 0);
                f.entry.description_line = fx.src.line(d);
                f.entry.description_column = fx.src.column(d);
            }
        }
    }
    found
}

// ------------------------------------------------------------------ Python

fn python<'t>(fx: &FileCtx<'t>, nodes: &[Node<'t>]) -> Vec<Found<'t>> {
    let src = fx.src;
    let mut out = Vec::new();
    let mut list_tool_descs: Vec<(String, Node<'t>, u32)> = Vec::new();
    for &n in nodes {
        match n.k() {
            "decorated_definition" => {
                let Some(def) = field(n, f::DEFINITION) else {
                    continue;
                };
                if def.k() != "function_definition" {
                    continue;
                }
                for d in named_children(n) {
                    if d.k() != "decorator" {
                        continue;
                    }
                    let Some(expr) = d.named_child(0) else {
                        continue;
                    };
                    let (target, args) = if expr.k() == "call" {
                        (callee(expr), call_args(src, expr))
                    } else {
                        (Some(expr), Default::default())
                    };
                    let Some(target) = target else { continue };
                    let last = match target.k() {
                        "attribute" => field(target, f::ATTRIBUTE).map(|a| src.t(a)).unwrap_or(""),
                        "identifier" => src.t(target),
                        _ => "",
                    };
                    let fname = field(def, f::NAME)
                        .map(|x| src.t(x).to_string())
                        .unwrap_or_default();
                    match last {
                        "tool" => {
                            let name = keyword(&args, "name")
                                .or_else(|| positional(&args, 0))
                                .and_then(|x| literal_string(src, x))
                                .unwrap_or_else(|| fname.clone());
                            out.push(Found {
                                entry: entry(
                                    name,
                                    fname.clone(),
                                    non_plumbing_names(fx, def, false),
                                    src.line(d),
                                    "fastmcp",
                                ),
                                handler: Some(def),
                                only_first_param: false,
                                description: keyword(&args, "description"),
                            });
                        }
                        "call_tool" => {
                            out.extend(python_dispatch(fx, def, &fname, src.line(d)));
                        }
                        "list_tools" => {
                            for c in fx.subtree(def, false) {
                                if c.k() != "call" {
                                    continue;
                                }
                                let Some(cal) = callee(c) else { continue };
                                if !src.t(cal).ends_with("Tool") {
                                    continue;
                                }
                                let a = call_args(src, c);
                                if let (Some(name), Some(desc)) = (
                                    keyword(&a, "name").and_then(|x| literal_string(src, x)),
                                    keyword(&a, "description"),
                                ) {
                                    list_tool_descs.push((name, desc, src.line(c)));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            "call" => {
                // mcp.add_tool(fn, name=..., description=...) / Tool.from_function(fn, ...)
                let Some(c) = callee(n) else { continue };
                if c.k() != "attribute" {
                    continue;
                }
                let method = field(c, f::ATTRIBUTE).map(|a| src.t(a)).unwrap_or("");
                if !matches!(method, "add_tool" | "from_function") {
                    continue;
                }
                let args = call_args(src, n);
                let Some(first) = positional(&args, 0).or_else(|| keyword(&args, "fn")) else {
                    continue;
                };
                let Some(f) = resolve_function(fx, first) else {
                    continue;
                };
                let fname = fn_label(fx, Some(f));
                let name = keyword(&args, "name")
                    .and_then(|x| literal_string(src, x))
                    .unwrap_or_else(|| fname.clone());
                out.push(Found {
                    entry: entry(
                        name,
                        fname,
                        non_plumbing_names(fx, f, false),
                        src.line(n),
                        "fastmcp",
                    ),
                    handler: Some(f),
                    only_first_param: false,
                    description: keyword(&args, "description"),
                });
            }
            _ => {}
        }
    }
    merge_listed(&mut out, list_tool_descs, "mcp-python-lowlevel");
    out
}

fn merge_listed<'t>(
    out: &mut Vec<Found<'t>>,
    listed: Vec<(String, Node<'t>, u32)>,
    framework: &'static str,
) {
    for (name, desc, line) in listed {
        if let Some(f) = out.iter_mut().find(|f| f.entry.name == name) {
            f.description = Some(desc);
        } else {
            out.push(Found {
                entry: entry(name, "<list_tools>".into(), Vec::new(), line, framework),
                handler: None,
                only_first_param: false,
                description: Some(desc),
            });
        }
    }
}

/// `@server.call_tool()` handler: one entry per `if name == "x"` / `case "x"` branch.
fn python_dispatch<'t>(fx: &FileCtx<'t>, def: Node<'t>, fname: &str, line: u32) -> Vec<Found<'t>> {
    let src = fx.src;
    let params = function_params(src, fx.lang, def);
    let name_param = params
        .iter()
        .find(|p| !p.plumbing)
        .and_then(|p| p.names.first().cloned());
    let arg_param = params
        .iter()
        .filter(|p| !p.plumbing)
        .nth(1)
        .and_then(|p| p.names.first().cloned());
    let mut branches: Vec<(String, Node<'t>, u32)> = Vec::new();
    for n in fx.subtree(def, false) {
        match n.k() {
            "comparison_operator" => {
                let kids = named_children(n);
                if kids.len() != 2 || !src.t(n).contains("==") {
                    continue;
                }
                let (a, b) = (kids[0], kids[1]);
                let (var, lit) = match (literal_string(src, a), literal_string(src, b)) {
                    (None, Some(l)) => (a, l),
                    (Some(l), None) => (b, l),
                    _ => continue,
                };
                if Some(src.t(var).to_string()) != name_param && !src.t(var).ends_with("name") {
                    continue;
                }
                // The branch body: the enclosing if/elif's consequence.
                let mut p = n.parent();
                let mut steps = 0;
                while let Some(pp) = p {
                    steps += 1;
                    if steps > 32 {
                        p = None;
                        break;
                    }
                    if matches!(pp.k(), "if_statement" | "elif_clause") {
                        break;
                    }
                    p = pp.parent();
                }
                let body = p.and_then(|pp| field(pp, f::CONSEQUENCE)).unwrap_or(n);
                branches.push((lit, body, src.line(n)));
            }
            "case_clause" => {
                let Some(pat) = named_children(n)
                    .into_iter()
                    .find(|c| c.k() == "case_pattern")
                else {
                    continue;
                };
                let Some(lit) = pat.named_child(0).and_then(|s| literal_string(src, s)) else {
                    continue;
                };
                let body = field(n, f::CONSEQUENCE).unwrap_or(n);
                branches.push((lit, body, src.line(n)));
            }
            _ => {}
        }
    }
    let all_params = non_plumbing_names(fx, def, false);
    if branches.is_empty() {
        return vec![Found {
            entry: entry(
                "<call_tool>".into(),
                fname.to_string(),
                all_params,
                line,
                "mcp-python-lowlevel",
            ),
            handler: Some(def),
            only_first_param: false,
            description: None,
        }];
    }
    let mut out = Vec::new();
    let mut seen = FxHashSet::default();
    for (i, (name, body, bline)) in branches.into_iter().enumerate() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let params = argument_keys(fx, body, arg_param.as_deref());
        out.push(Found {
            entry: entry(
                name,
                fname.to_string(),
                params,
                bline,
                "mcp-python-lowlevel",
            ),
            // The handler is analysed once, under the first tool's name.
            handler: if i == 0 { Some(def) } else { None },
            only_first_param: false,
            description: None,
        });
    }
    out
}

/// Keys read from the arguments object inside a branch: `arguments["x"]`,
/// `arguments.get("x")`, `args.x`, `const {x} = args`.
fn argument_keys<'t>(fx: &FileCtx<'t>, body: Node<'t>, arg_name: Option<&str>) -> Vec<String> {
    let src = fx.src;
    let is_args = |t: &str| {
        let t = t.trim_end_matches('?').replace("?.", ".");
        Some(t.as_str()) == arg_name
            || t.ends_with("arguments")
            || t == "args"
            || t.ends_with(".args")
            || t == "params"
            || t == "input"
    };
    let mut out: Vec<String> = Vec::new();
    for n in fx.subtree(body, false).into_iter().take(20_000) {
        match n.k() {
            "subscript" | "subscript_expression" | "index_expression" => {
                let obj = field(n, f::VALUE)
                    .or_else(|| field(n, f::OBJECT))
                    .or_else(|| field(n, f::OPERAND));
                let idx = field(n, f::SUBSCRIPT).or_else(|| field(n, f::INDEX));
                if let (Some(o), Some(i)) = (obj, idx)
                    && is_args(src.t(o))
                    && let Some(k) = literal_string(src, i)
                {
                    out.push(k);
                }
            }
            "call" | "call_expression" => {
                let Some(c) = callee(n) else { continue };
                let (obj, method) = match c.k() {
                    "attribute" => (field(c, f::OBJECT), field(c, f::ATTRIBUTE)),
                    "member_expression" => (field(c, f::OBJECT), field(c, f::PROPERTY)),
                    "selector_expression" => (field(c, f::OPERAND), field(c, f::FIELD)),
                    _ => (None, None),
                };
                if let (Some(o), Some(m)) = (obj, method) {
                    let m = src.t(m);
                    let getter = matches!(
                        m,
                        "get"
                            | "GetString"
                            | "RequireString"
                            | "GetInt"
                            | "RequireInt"
                            | "GetFloat"
                            | "RequireFloat"
                            | "GetBool"
                            | "RequireBool"
                            | "GetStringSlice"
                            | "GetArguments"
                    );
                    if getter
                        && (is_args(src.t(o)) || src.t(o).ends_with("request") || src.t(o) == "req")
                        && let Some(k) = call_args(src, n)
                            .first()
                            .and_then(|a| literal_string(src, a.value))
                    {
                        out.push(k);
                    }
                }
            }
            "member_expression" => {
                if let (Some(o), Some(p)) = (field(n, f::OBJECT), field(n, f::PROPERTY))
                    && is_args(src.t(o))
                {
                    out.push(src.t(p).to_string());
                }
            }
            "variable_declarator" => {
                if let (Some(name), Some(value)) = (field(n, f::NAME), field(n, f::VALUE))
                    && name.k() == "object_pattern"
                    && is_args(src.t(unwrap_expr(value)))
                {
                    for p in named_children(name) {
                        match p.k() {
                            "shorthand_property_identifier_pattern" => {
                                out.push(src.t(p).to_string())
                            }
                            "pair_pattern" | "object_assignment_pattern" => {
                                if let Some(k) = field(p, f::KEY).or_else(|| field(p, f::LEFT)) {
                                    out.push(src.t(k).to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut seen = FxHashSet::default();
    out.retain(|k| seen.insert(k.clone()));
    out
}

// --------------------------------------------------------------- JS and TS

fn js<'t>(fx: &FileCtx<'t>, nodes: &[Node<'t>]) -> Vec<Found<'t>> {
    let src = fx.src;
    let mut out = Vec::new();
    let mut listed: Vec<(String, Node<'t>, u32)> = Vec::new();
    for &n in nodes {
        if n.k() == "call_expression" {
            {
                let Some(c) = callee(n) else { continue };
                if c.k() != "member_expression" {
                    continue;
                }
                let method = field(c, f::PROPERTY).map(|p| src.t(p)).unwrap_or("");
                let args = call_args(src, n);
                match method {
                    "tool" | "registerTool" => {
                        let Some(name) = args.first().and_then(|a| literal_string(src, a.value))
                        else {
                            continue;
                        };
                        let handler = args
                            .iter()
                            .rev()
                            .find_map(|a| resolve_function(fx, a.value));
                        let mut description = None;
                        let mut schema = None;
                        if method == "registerTool" {
                            if let Some(cfg) = args.get(1) {
                                description = object_value(src, cfg.value, "description");
                                schema = object_value(src, cfg.value, "inputSchema");
                            }
                        } else {
                            let middle: Vec<Node> = args
                                .iter()
                                .skip(1)
                                .map(|a| unwrap_expr(a.value))
                                .filter(|v| !v.is_function_like() && Some(*v) != handler)
                                .collect();
                            for (i, m) in middle.iter().enumerate() {
                                if i == 0
                                    && m.k() != "object"
                                    && !middle.is_empty()
                                    && !(middle.len() == 1
                                        && m.k() == "identifier"
                                        && src.t(*m).to_lowercase().contains("schema"))
                                {
                                    description = Some(*m);
                                } else if schema.is_none() && m.k() == "object" {
                                    schema = Some(*m);
                                }
                            }
                        }
                        let mut params = schema.map(|s| object_keys(src, s)).unwrap_or_default();
                        if params.is_empty()
                            && let Some(h) = handler
                        {
                            params = non_plumbing_names(fx, h, true);
                        }
                        let fw = "mcp-ts";
                        out.push(Found {
                            entry: entry(name, fn_label(fx, handler), params, src.line(n), fw),
                            handler,
                            only_first_param: true,
                            description,
                        });
                    }
                    "addTool" => {
                        // FastMCP (TS): server.addTool({ name, description, parameters, execute })
                        let Some(obj) = args.first().map(|a| a.value) else {
                            continue;
                        };
                        let Some(name) =
                            object_value(src, obj, "name").and_then(|v| literal_string(src, v))
                        else {
                            continue;
                        };
                        let handler =
                            object_value(src, obj, "execute").and_then(|v| resolve_function(fx, v));
                        let params = handler
                            .map(|h| non_plumbing_names(fx, h, true))
                            .unwrap_or_default();
                        out.push(Found {
                            entry: entry(
                                name,
                                fn_label(fx, handler),
                                params,
                                src.line(n),
                                "fastmcp-ts",
                            ),
                            handler,
                            only_first_param: true,
                            description: object_value(src, obj, "description"),
                        });
                    }
                    "setRequestHandler" => {
                        let Some(schema) = args.first() else { continue };
                        let schema_name = src.t(schema.value);
                        let Some(handler) = args.get(1).and_then(|a| resolve_function(fx, a.value))
                        else {
                            continue;
                        };
                        if schema_name.ends_with("CallToolRequestSchema") {
                            out.extend(js_dispatch(fx, handler, src.line(n)));
                        } else if schema_name.ends_with("ListToolsRequestSchema") {
                            collect_tool_objects(fx, handler, &mut listed);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    // const TOOLS = [{ name: "x", description: ..., inputSchema: {...} }] at the top level.
    let mut top: Vec<Node<'t>> = Vec::new();
    for c in named_children(fx.root) {
        match c.k() {
            "lexical_declaration" | "variable_declaration" => top.push(c),
            "export_statement" => top.extend(
                named_children(c)
                    .into_iter()
                    .filter(|d| matches!(d.k(), "lexical_declaration" | "variable_declaration")),
            ),
            _ => {}
        }
    }
    for decl in top {
        for d in named_children(decl) {
            if d.k() == "variable_declarator"
                && let Some(v) = field(d, f::VALUE)
                && matches!(unwrap_expr(v).k(), "array" | "object")
            {
                collect_tool_objects(fx, v, &mut listed);
            }
        }
    }
    merge_listed(&mut out, listed, "mcp-ts-lowlevel");
    out
}

fn collect_tool_objects<'t>(
    fx: &FileCtx<'t>,
    root: Node<'t>,
    listed: &mut Vec<(String, Node<'t>, u32)>,
) {
    let src = fx.src;
    for o in fx.subtree(root, false).into_iter().take(50_000) {
        if o.k() != "object" {
            continue;
        }
        let keys = object_keys(src, o);
        if !keys
            .iter()
            .any(|k| k == "inputSchema" || k == "input_schema")
        {
            continue;
        }
        if let (Some(name), Some(desc)) = (
            object_value(src, o, "name").and_then(|v| literal_string(src, v)),
            object_value(src, o, "description"),
        ) {
            listed.push((name, desc, src.line(o)));
        }
    }
}

fn js_dispatch<'t>(fx: &FileCtx<'t>, handler: Node<'t>, line: u32) -> Vec<Found<'t>> {
    let src = fx.src;
    let fname = fn_label(fx, Some(handler));
    let mut branches: Vec<(String, Node<'t>, u32)> = Vec::new();
    for n in fx.subtree(handler, false) {
        match n.k() {
            "switch_statement" => {
                let Some(v) = field(n, f::VALUE) else {
                    continue;
                };
                if !src.t(v).contains("name") {
                    continue;
                }
                let Some(body) = field(n, f::BODY) else {
                    continue;
                };
                for case in named_children(body) {
                    if case.k() != "switch_case" {
                        continue;
                    }
                    if let Some(lit) = field(case, f::VALUE).and_then(|x| literal_string(src, x)) {
                        branches.push((lit, case, src.line(case)));
                    }
                }
            }
            "binary_expression" => {
                let op = field(n, f::OPERATOR).map(|o| src.t(o)).unwrap_or("");
                if op != "===" && op != "==" {
                    continue;
                }
                let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) else {
                    continue;
                };
                let (var, lit) = match (literal_string(src, l), literal_string(src, r)) {
                    (None, Some(x)) => (l, x),
                    (Some(x), None) => (r, x),
                    _ => continue,
                };
                if !src.t(var).ends_with("name") {
                    continue;
                }
                let mut p = n.parent();
                let mut steps = 0;
                while let Some(pp) = p {
                    steps += 1;
                    if steps > 32 {
                        p = None;
                        break;
                    }
                    if pp.k() == "if_statement" {
                        break;
                    }
                    p = pp.parent();
                }
                let body = p.and_then(|pp| field(pp, f::CONSEQUENCE)).unwrap_or(n);
                branches.push((lit, body, src.line(n)));
            }
            _ => {}
        }
    }
    let all = non_plumbing_names(fx, handler, true);
    if branches.is_empty() {
        return vec![Found {
            entry: entry("<call_tool>".into(), fname, all, line, "mcp-ts-lowlevel"),
            handler: Some(handler),
            only_first_param: true,
            description: None,
        }];
    }
    let mut out = Vec::new();
    let mut seen = FxHashSet::default();
    for (i, (name, body, bline)) in branches.into_iter().enumerate() {
        if !seen.insert(name.clone()) {
            continue;
        }
        out.push(Found {
            entry: entry(
                name,
                fname.clone(),
                argument_keys(fx, body, None),
                bline,
                "mcp-ts-lowlevel",
            ),
            handler: if i == 0 { Some(handler) } else { None },
            only_first_param: true,
            description: None,
        });
    }
    out
}

// ---------------------------------------------------------------------- Go

fn go<'t>(fx: &FileCtx<'t>, nodes: &[Node<'t>]) -> Vec<Found<'t>> {
    let src = fx.src;
    let mut out = Vec::new();
    for &n in nodes {
        if n.k() != "call_expression" {
            continue;
        }
        let Some(c) = callee(n) else { continue };
        if c.k() != "selector_expression" {
            continue;
        }
        let method = field(c, f::FIELD).map(|p| src.t(p)).unwrap_or("");
        if method != "AddTool" {
            continue;
        }
        let args = call_args(src, n);
        let operand = field(c, f::OPERAND).map(|o| src.t(o)).unwrap_or("");
        let is_pkg = fx.imports.get(operand).is_some_and(|m| m == "mcp");
        // go-sdk: mcp.AddTool(server, &mcp.Tool{...}, handler) or server.AddTool(&mcp.Tool{...}, handler)
        let (tool_expr, handler_expr) = if is_pkg {
            (args.get(1), args.get(2))
        } else {
            (args.first(), args.get(1))
        };
        let Some(tool_expr) = tool_expr else { continue };
        let handler = handler_expr.and_then(|h| resolve_function(fx, h.value));
        let mut tool = unwrap_expr(tool_expr.value);
        if tool.k() == "identifier" {
            // tool := mcp.NewTool(...) earlier in the function.
            if let Some(v) = find_binding(fx, n, src.t(tool)) {
                tool = v;
            }
        }
        let inner = if tool.k() == "unary_expression" {
            field(tool, f::OPERAND).unwrap_or(tool)
        } else {
            tool
        };
        if inner.k() == "composite_literal" {
            let name = object_value(src, inner, "Name")
                .and_then(|v| literal_string(src, v))
                .unwrap_or_default();
            let mut params = handler
                .map(|h| non_plumbing_names(fx, h, false))
                .unwrap_or_default();
            if let Some(h) = handler
                && let Some(last) = function_params(src, fx.lang, h).last()
                && let Some(fields) = struct_fields(fx, last.type_text.trim_start_matches('*'))
            {
                params = fields;
            }
            out.push(Found {
                entry: entry(name, fn_label(fx, handler), params, src.line(n), "go-sdk"),
                handler,
                only_first_param: false,
                description: object_value(src, inner, "Description"),
            });
            continue;
        }
        if inner.k() != "call_expression" {
            continue;
        }
        let targs = call_args(src, inner);
        let name = targs
            .first()
            .and_then(|a| literal_string(src, a.value))
            .unwrap_or_default();
        let mut params = Vec::new();
        let mut description = None;
        for a in targs.iter().skip(1) {
            let v = unwrap_expr(a.value);
            if v.k() != "call_expression" {
                continue;
            }
            let Some(oc) = callee(v) else { continue };
            let opt = src.t(oc).rsplit('.').next().unwrap_or("");
            let oargs = call_args(src, v);
            if opt == "WithDescription" {
                description = oargs.first().map(|x| x.value);
            } else if opt.starts_with("With")
                && let Some(p) = oargs.first().and_then(|x| literal_string(src, x.value))
            {
                params.push(p);
            }
        }
        out.push(Found {
            entry: entry(name, fn_label(fx, handler), params, src.line(n), "mcp-go"),
            handler,
            only_first_param: false,
            description,
        });
    }
    out
}

fn find_binding<'t>(fx: &FileCtx<'t>, at: Node<'t>, name: &str) -> Option<Node<'t>> {
    let src = fx.src;
    let mut scope = at.parent();
    while let Some(s) = scope {
        if s.is_function_like() || s == fx.root {
            break;
        }
        scope = s.parent();
    }
    let scope = scope?;
    for n in fx.subtree(scope, false).into_iter().take(50_000) {
        if n.start_byte() > at.start_byte() {
            break;
        }
        let (left, right) = match n.k() {
            "short_var_declaration" | "assignment_statement" => {
                (field(n, f::LEFT), field(n, f::RIGHT))
            }
            "var_spec" => (field(n, f::NAME), field(n, f::VALUE)),
            _ => continue,
        };
        if let (Some(l), Some(r)) = (left, right)
            && src.t(l) == name
        {
            return r.named_child(0).or(Some(r)).map(unwrap_expr);
        }
    }
    None
}

/// Field names of a struct declared in this file (Go or Rust).
fn struct_fields(fx: &FileCtx, type_name: &str) -> Option<Vec<String>> {
    let src = fx.src;
    let type_name = type_name.rsplit(['.', ':']).next().unwrap_or(type_name);
    if type_name.is_empty() {
        return None;
    }
    for n in fx.subtree(fx.root, true) {
        match n.k() {
            "type_spec" => {
                if field(n, f::NAME).is_some_and(|x| src.t(x) == type_name)
                    && let Some(t) = field(n, f::TYPE)
                    && t.k() == "struct_type"
                {
                    let mut out = Vec::new();
                    for f in fx.subtree(t, false) {
                        if f.k() == "field_declaration" {
                            for nm in f.children_by_field(f::NAME) {
                                out.push(
                                    go_json_name(src, f).unwrap_or_else(|| src.t(nm).to_string()),
                                );
                            }
                        }
                    }
                    return Some(out);
                }
            }
            "struct_item" if field(n, f::NAME).is_some_and(|x| src.t(x) == type_name) => {
                let mut out = Vec::new();
                if let Some(body) = field(n, f::BODY) {
                    for f in named_children(body) {
                        if f.k() == "field_declaration"
                            && let Some(nm) = field(f, f::NAME)
                        {
                            out.push(src.t(nm).to_string());
                        }
                    }
                }
                return Some(out);
            }
            _ => {}
        }
    }
    None
}

fn go_json_name(src: &crate::syntax::Src, f: Node) -> Option<String> {
    let tag = field(f, f::TAG)?;
    let t = src.t(tag);
    let i = t.find("json:\"")?;
    let rest = &t[i + 6..];
    let name = rest.split(['"', ',']).next()?;
    (!name.is_empty() && name != "-").then(|| name.to_string())
}

// -------------------------------------------------------------------- Rust

fn rust<'t>(fx: &FileCtx<'t>, nodes: &[Node<'t>]) -> Vec<Found<'t>> {
    let src = fx.src;
    let mut out = Vec::new();
    // `#[tool(...)]` attributes, matched to the function that follows them
    // (no `prev_sibling`: it walks down from the root on every call).
    let mut pending: Option<Node<'t>> = None;
    for &n in nodes {
        if n.k() == "attribute_item" {
            if let Some(a) = n.named_child(0)
                && a.k() == "attribute"
                && a.named_child(0).is_some_and(|x| {
                    let t = src.t(x);
                    t == "tool" || t.ends_with("::tool")
                })
            {
                pending = Some(a);
            }
            continue;
        }
        if n.k() != "function_item" {
            continue;
        }
        let attr = pending.take().filter(|a| {
            let gap = src.text.get(a.end_byte()..n.start_byte()).unwrap_or(";");
            !gap.contains([';', '{', '}'])
        });
        let Some(attr) = attr else { continue };
        let fname = field(n, f::NAME)
            .map(|x| src.t(x).to_string())
            .unwrap_or_default();
        let mut name = fname.clone();
        let mut description = None;
        if let Some(tt) = field(attr, f::ARGUMENTS) {
            let toks = named_children(tt);
            for (i, t) in toks.iter().enumerate() {
                if t.k() != "identifier" {
                    continue;
                }
                let key = src.t(*t);
                let Some(v) = toks.get(i + 1) else { continue };
                if key == "name"
                    && let Some(s) = literal_string(src, *v)
                {
                    name = s;
                }
                if key == "description" {
                    description = Some(*v);
                }
            }
        }
        let ps = function_params(src, fx.lang, n);
        let mut params = Vec::new();
        for p in ps.iter().filter(|p| !p.plumbing) {
            let inner_ty = p
                .type_text
                .strip_prefix("Parameters<")
                .and_then(|r| r.strip_suffix('>'))
                .map(str::to_string);
            if p.names.len() == 1
                && let Some(ty) = inner_ty
                && let Some(fields) = struct_fields(fx, &ty)
            {
                params.extend(fields);
            } else {
                params.extend(p.names.iter().cloned());
            }
        }
        out.push(Found {
            entry: entry(name, fname, params, src.line(n), "rmcp"),
            handler: Some(n),
            only_first_param: false,
            description,
        });
    }
    let _ = is_call;
    out
}
