//! Parsing and small helpers over syntax trees shared by every language.
//! Nothing here recurses on the tree: walks use an explicit stack or the
//! flat tree's document order.
//!
//! tree-sitter parses; its tree is then copied once into a flat array
//! ([`Ast`]) in document order and freed. The analysis asks for a node's
//! kind, fields, parent and children tens of times per node, and each such
//! question to tree-sitter walks its packed subtrees (and hidden nodes)
//! again, which cost about a fifth of a scan's CPU time; on the flat tree
//! each is an array read.

use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use tree_sitter::Parser;

use crate::Language;

/// How long one parse may take before it is abandoned.
const PARSE_BUDGET: Duration = Duration::from_secs(5);
/// At most this many nodes are visited by one walk.
pub(crate) const MAX_WALK: usize = 400_000;

fn grammar(lang: Language) -> tree_sitter::Language {
    match lang {
        Language::Python => tree_sitter_python::LANGUAGE.into(),
        Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        Language::Go => tree_sitter_go::LANGUAGE.into(),
        Language::Rust => tree_sitter_rust::LANGUAGE.into(),
    }
}

fn lang_index(lang: Language) -> usize {
    match lang {
        Language::Python => 0,
        Language::JavaScript => 1,
        Language::TypeScript => 2,
        Language::Tsx => 3,
        Language::Go => 4,
        Language::Rust => 5,
    }
}

/// A field name the analysis asks for, with a fixed slot in each grammar's
/// table of field ids: `field(n, f::VALUE)` is then an array load, where
/// looking the name up hashed it (over a million lookups on 1,000 files).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldName {
    pub(crate) name: &'static str,
    slot: u8,
}

/// The field names asked for, by slot.
pub(crate) mod f {
    use super::FieldName;

    pub(crate) const ALIAS: FieldName = FieldName {
        name: "alias",
        slot: 0,
    };
    pub(crate) const ALTERNATIVE: FieldName = FieldName {
        name: "alternative",
        slot: 1,
    };
    pub(crate) const ARGUMENT: FieldName = FieldName {
        name: "argument",
        slot: 2,
    };
    pub(crate) const ARGUMENTS: FieldName = FieldName {
        name: "arguments",
        slot: 3,
    };
    pub(crate) const ATTRIBUTE: FieldName = FieldName {
        name: "attribute",
        slot: 4,
    };
    pub(crate) const BODY: FieldName = FieldName {
        name: "body",
        slot: 5,
    };
    pub(crate) const CONSEQUENCE: FieldName = FieldName {
        name: "consequence",
        slot: 6,
    };
    pub(crate) const CONSTRUCTOR: FieldName = FieldName {
        name: "constructor",
        slot: 7,
    };
    pub(crate) const DEFINITION: FieldName = FieldName {
        name: "definition",
        slot: 8,
    };
    pub(crate) const EXPRESSION: FieldName = FieldName {
        name: "expression",
        slot: 9,
    };
    pub(crate) const FIELD: FieldName = FieldName {
        name: "field",
        slot: 10,
    };
    pub(crate) const FUNCTION: FieldName = FieldName {
        name: "function",
        slot: 11,
    };
    pub(crate) const INDEX: FieldName = FieldName {
        name: "index",
        slot: 12,
    };
    pub(crate) const KEY: FieldName = FieldName {
        name: "key",
        slot: 13,
    };
    pub(crate) const LEFT: FieldName = FieldName {
        name: "left",
        slot: 14,
    };
    pub(crate) const LIST: FieldName = FieldName {
        name: "list",
        slot: 15,
    };
    pub(crate) const MACRO: FieldName = FieldName {
        name: "macro",
        slot: 16,
    };
    pub(crate) const MODULE_NAME: FieldName = FieldName {
        name: "module_name",
        slot: 17,
    };
    pub(crate) const NAME: FieldName = FieldName {
        name: "name",
        slot: 18,
    };
    pub(crate) const OBJECT: FieldName = FieldName {
        name: "object",
        slot: 19,
    };
    pub(crate) const OPERAND: FieldName = FieldName {
        name: "operand",
        slot: 20,
    };
    pub(crate) const OPERATOR: FieldName = FieldName {
        name: "operator",
        slot: 21,
    };
    pub(crate) const PARAMETER: FieldName = FieldName {
        name: "parameter",
        slot: 22,
    };
    pub(crate) const PARAMETERS: FieldName = FieldName {
        name: "parameters",
        slot: 23,
    };
    pub(crate) const PATH: FieldName = FieldName {
        name: "path",
        slot: 24,
    };
    pub(crate) const PATTERN: FieldName = FieldName {
        name: "pattern",
        slot: 25,
    };
    pub(crate) const PROPERTY: FieldName = FieldName {
        name: "property",
        slot: 26,
    };
    pub(crate) const RIGHT: FieldName = FieldName {
        name: "right",
        slot: 27,
    };
    pub(crate) const SOURCE: FieldName = FieldName {
        name: "source",
        slot: 28,
    };
    pub(crate) const SUBSCRIPT: FieldName = FieldName {
        name: "subscript",
        slot: 29,
    };
    pub(crate) const TAG: FieldName = FieldName {
        name: "tag",
        slot: 30,
    };
    pub(crate) const TYPE: FieldName = FieldName {
        name: "type",
        slot: 31,
    };
    pub(crate) const VALUE: FieldName = FieldName {
        name: "value",
        slot: 32,
    };

    /// Every name above, in slot order.
    pub(crate) const ALL: &[FieldName] = &[
        ALIAS,
        ALTERNATIVE,
        ARGUMENT,
        ARGUMENTS,
        ATTRIBUTE,
        BODY,
        CONSEQUENCE,
        CONSTRUCTOR,
        DEFINITION,
        EXPRESSION,
        FIELD,
        FUNCTION,
        INDEX,
        KEY,
        LEFT,
        LIST,
        MACRO,
        MODULE_NAME,
        NAME,
        OBJECT,
        OPERAND,
        OPERATOR,
        PARAMETER,
        PARAMETERS,
        PATH,
        PATTERN,
        PROPERTY,
        RIGHT,
        SOURCE,
        SUBSCRIPT,
        TAG,
        TYPE,
        VALUE,
    ];
}

/// A grammar's node kind names and flags by kind id, field names by field
/// id, and the ids of the field names in [`f`]; built once per process.
struct Names {
    kinds: Vec<&'static str>,
    /// Per kind id: `FUNCTION_LIKE`, `COMMENT`; asked of nearly every node.
    flags: Vec<u8>,
    fields: Vec<Option<&'static str>>,
    /// The id of each of [`f::ALL`] in this grammar, 0 where it has none.
    slots: Vec<u16>,
}

fn names(lang: Language) -> &'static Names {
    static TABLES: [OnceLock<Names>; 6] = [const { OnceLock::new() }; 6];
    TABLES[lang_index(lang)].get_or_init(|| {
        let language = grammar(lang);
        let kinds: Vec<&'static str> = (0..language.node_kind_count())
            .map(|i| language.node_kind_for_id(i as u16).unwrap_or(""))
            .collect();
        let flags = kinds
            .iter()
            .map(|k| {
                let mut f = 0;
                if is_function_like(k) {
                    f |= FUNCTION_LIKE;
                }
                if is_comment_kind(k) {
                    f |= COMMENT;
                }
                f | wrapper_flag(k)
            })
            .collect();
        let fields: Vec<Option<&'static str>> = (0..=language.field_count())
            .map(|i| language.field_name_for_id(i as u16))
            .collect();
        let slots = f::ALL
            .iter()
            .map(|f| language.field_id_for_name(f.name).map_or(0, |id| id.get()))
            .collect();
        Names {
            kinds,
            flags,
            fields,
            slots,
        }
    })
}

thread_local! {
    /// One parser per grammar and worker thread, reused from file to file:
    /// making a parser and loading its grammar costs about as much as
    /// parsing a small file.
    static PARSERS: std::cell::RefCell<[Option<Parser>; 6]> =
        const { std::cell::RefCell::new([None, None, None, None, None, None]) };
}

/// Parses `source` and returns its flat tree; `None` when the parse was
/// abandoned for time.
pub(crate) fn parse(lang: Language, source: &str) -> Option<Ast> {
    let bytes = source.as_bytes();
    let len = bytes.len();
    let start = Instant::now();
    let mut progress = |_: &tree_sitter::ParseState| {
        if start.elapsed() > PARSE_BUDGET {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let tree = PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let slot = &mut parsers[lang_index(lang)];
        if slot.is_none() {
            let mut parser = Parser::new();
            parser.set_language(&grammar(lang)).ok()?;
            *slot = Some(parser);
        }
        let parser = slot.as_mut()?;
        // A parse abandoned for time would otherwise be resumed by the next call.
        parser.reset();
        let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
        parser.parse_with_options(
            &mut |i, _| if i < len { &bytes[i..] } else { &[][..] },
            None,
            Some(options),
        )
    })?;
    Some(Ast::from_tree(lang, &tree))
}

const FUNCTION_LIKE: u8 = 1;
const COMMENT: u8 = 2;
/// A wrapper whose value is its first named child (see [`unwrap_expr`]).
const WRAPS_FIRST: u8 = 4;
/// A wrapper whose value is its `value` field.
const WRAPS_VALUE: u8 = 8;

/// The wrapper flag of a kind: what [`unwrap_expr`] looks through.
fn wrapper_flag(kind: &str) -> u8 {
    match kind {
        "parenthesized_expression"
        | "await_expression"
        | "await"
        | "try_expression"
        | "non_null_expression"
        | "as_expression"
        | "satisfies_expression"
        | "type_assertion"
        | "spread_element"
        | "expression_statement" => WRAPS_FIRST,
        "reference_expression" => WRAPS_VALUE,
        _ => 0,
    }
}

/// One node of the flat tree.
#[derive(Clone, Copy)]
struct Raw {
    start: u32,
    end: u32,
    row: u32,
    /// `NONE` for the root.
    parent: u32,
    /// The index just past this node's subtree (its descendants follow it).
    subtree_end: u32,
    kind: u16,
    /// The field this node fills in its parent; 0 for none.
    field: u16,
    named: bool,
}

const NONE: u32 = u32::MAX;

/// A syntax tree as a flat array of nodes in document order: a node's
/// descendants are the nodes right after it, up to its `subtree_end`, and
/// its first child, if any, is the next node.
pub(crate) struct Ast {
    nodes: Vec<Raw>,
    names: &'static Names,
}

impl Ast {
    fn from_tree(lang: Language, tree: &tree_sitter::Tree) -> Ast {
        let root = tree.root_node();
        let mut nodes: Vec<Raw> = Vec::with_capacity(root.descendant_count());
        // Indices of the nodes whose subtree is still being copied.
        let mut open: Vec<u32> = Vec::new();
        // Per depth, the siblings left after the node under the cursor:
        // asking tree-sitter to move only when there is somewhere to go
        // spares its failing sibling steps and its first-child steps on
        // leaves, the dearest calls of the copy.
        let mut left: Vec<usize> = vec![0];
        let mut cursor = root.walk();
        'walk: loop {
            let node = cursor.node();
            let index = nodes.len() as u32;
            nodes.push(Raw {
                start: node.start_byte() as u32,
                end: node.end_byte() as u32,
                row: node.start_position().row as u32,
                parent: open.last().copied().unwrap_or(NONE),
                subtree_end: 0,
                kind: node.kind_id(),
                field: cursor.field_id().map_or(0, |f| f.get()),
                named: node.is_named(),
            });
            open.push(index);
            let kids = node.child_count();
            if kids > 0 && cursor.goto_first_child() {
                left.push(kids - 1);
                continue;
            }
            // Close the node under the cursor and its ancestors until one
            // has a next sibling.
            loop {
                if let Some(done) = open.pop() {
                    nodes[done as usize].subtree_end = nodes.len() as u32;
                }
                if let Some(siblings) = left.last_mut()
                    && *siblings > 0
                {
                    *siblings -= 1;
                    if cursor.goto_next_sibling() {
                        break;
                    }
                }
                left.pop();
                if left.is_empty() || !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        let end = nodes.len() as u32;
        for i in open {
            nodes[i as usize].subtree_end = end;
        }
        Ast {
            nodes,
            names: names(lang),
        }
    }

    pub fn root(&self) -> Node<'_> {
        Node { ast: self, i: 0 }
    }
}

/// A node of an [`Ast`]: the subset of tree-sitter's node API the analysis
/// uses, answered from the flat array.
#[derive(Clone, Copy)]
pub(crate) struct Node<'t> {
    ast: &'t Ast,
    i: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.i == other.i && std::ptr::eq(self.ast, other.ast)
    }
}

impl Eq for Node<'_> {}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}..{}", self.k(), self.start_byte(), self.end_byte())
    }
}

impl<'t> Node<'t> {
    fn raw(&self) -> &'t Raw {
        &self.ast.nodes[self.i as usize]
    }

    fn at(&self, i: u32) -> Node<'t> {
        Node { ast: self.ast, i }
    }

    /// A number that tells this node from every other of its tree.
    pub fn id(&self) -> usize {
        self.i as usize
    }

    pub fn kind_id(&self) -> u16 {
        self.raw().kind
    }

    fn flags(&self) -> u8 {
        self.ast
            .names
            .flags
            .get(self.kind_id() as usize)
            .copied()
            .unwrap_or(0)
    }

    /// A function, method, lambda or closure ([`is_function_like`] of its kind).
    pub fn is_function_like(&self) -> bool {
        self.flags() & FUNCTION_LIKE != 0
    }

    pub fn is_named(&self) -> bool {
        self.raw().named
    }

    pub fn start_byte(&self) -> usize {
        self.raw().start as usize
    }

    pub fn end_byte(&self) -> usize {
        self.raw().end as usize
    }

    pub fn byte_range(&self) -> std::ops::Range<usize> {
        self.start_byte()..self.end_byte()
    }

    /// The 0-based line the node starts on.
    pub fn row(&self) -> usize {
        self.raw().row as usize
    }

    pub fn parent(&self) -> Option<Node<'t>> {
        let p = self.raw().parent;
        (p != NONE).then(|| self.at(p))
    }

    /// This node and its descendants.
    pub fn descendant_count(&self) -> usize {
        (self.raw().subtree_end - self.i) as usize
    }

    /// The name of the field this node fills in its parent.
    pub fn field_name(&self) -> Option<&'static str> {
        let f = self.raw().field;
        if f == 0 {
            return None;
        }
        self.ast.names.fields.get(f as usize).copied().flatten()
    }

    /// Every child, named or not, in order.
    pub fn children(&self) -> ChildIter<'t> {
        ChildIter {
            ast: self.ast,
            next: self.i + 1,
            end: self.raw().subtree_end,
        }
    }

    pub fn child(&self, index: usize) -> Option<Node<'t>> {
        self.children().nth(index)
    }

    pub fn named_child(&self, index: usize) -> Option<Node<'t>> {
        self.children().filter(|c| c.is_named()).nth(index)
    }

    pub fn named_child_count(&self) -> usize {
        self.children().filter(|c| c.is_named()).count()
    }

    /// The child with field id `field` (none for 0).
    fn child_by_field_id(&self, field: u16) -> Option<Node<'t>> {
        self.children_by_field_id(field).next()
    }

    /// The children in field `name` (a field may hold several).
    pub fn children_by_field(&self, name: FieldName) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.children_by_field_id(self.ast.names.slots[usize::from(name.slot)])
    }

    /// The children with field id `field` (none for 0).
    fn children_by_field_id(&self, field: u16) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.children()
            .filter(move |c| field != 0 && c.raw().field == field)
    }
}

/// The children of a node: each next one starts where the previous one's
/// subtree ends.
pub(crate) struct ChildIter<'t> {
    ast: &'t Ast,
    next: u32,
    end: u32,
}

impl<'t> Iterator for ChildIter<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.next >= self.end {
            return None;
        }
        let node = Node {
            ast: self.ast,
            i: self.next,
        };
        self.next = node.raw().subtree_end;
        Some(node)
    }
}

/// The source text with a line index, for node text and 1-based positions.
pub(crate) struct Src<'s> {
    pub text: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> Src<'s> {
    pub fn new(text: &'s str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Src { text, line_starts }
    }

    pub fn t(&self, n: Node) -> &'s str {
        self.text.get(n.byte_range()).unwrap_or("")
    }

    pub fn line(&self, n: Node) -> u32 {
        (n.row() + 1) as u32
    }

    /// 1-based column in characters.
    pub fn column(&self, n: Node) -> u32 {
        let row = n.row();
        let start = self.line_starts.get(row).copied().unwrap_or(0);
        let end = n.start_byte().max(start);
        let prefix = self.text.get(start..end).unwrap_or("");
        prefix.chars().count() as u32 + 1
    }

    /// The trimmed text of the line a node starts on, at most 200 characters.
    pub fn snippet(&self, n: Node) -> String {
        let row = n.row();
        let start = self.line_starts.get(row).copied().unwrap_or(0);
        let end = self
            .line_starts
            .get(row + 1)
            .copied()
            .unwrap_or(self.text.len());
        let line = self.text.get(start..end).unwrap_or("").trim();
        clip(line, 200)
    }
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Every node under `root` (itself included) in document order, at most `MAX_WALK`.
/// `skip` prunes a subtree (the node itself is still listed).
pub(crate) fn walk<'t>(root: Node<'t>, skip: &dyn Fn(Node<'t>) -> bool) -> Vec<Node<'t>> {
    let end = root.raw().subtree_end;
    let mut out = vec![root];
    let mut i = root.i + 1;
    while i < end && out.len() < MAX_WALK {
        let node = root.at(i);
        out.push(node);
        i = if skip(node) {
            node.raw().subtree_end
        } else {
            i + 1
        };
    }
    out
}

/// A node's children, inline up to eight: most nodes have a few, and these
/// lists are made for nearly every node the analysis looks at.
pub(crate) type Children<'t> = SmallVec<[Node<'t>; 8]>;

pub(crate) fn named_children<'t>(n: Node<'t>) -> Children<'t> {
    n.children()
        .filter(|c| c.is_named() && !is_comment(*c))
        .collect()
}

pub(crate) fn is_comment(n: Node) -> bool {
    n.flags() & COMMENT != 0
}

fn is_comment_kind(kind: &str) -> bool {
    matches!(
        kind,
        "comment" | "line_comment" | "block_comment" | "html_comment"
    )
}

/// Fast node kind.
pub(crate) trait Kind {
    fn k(&self) -> &'static str;
}

impl Kind for Node<'_> {
    fn k(&self) -> &'static str {
        let id = self.kind_id();
        match self.ast.names.kinds.get(id as usize) {
            Some(name) => name,
            // tree-sitter's built-in symbols lie outside the grammar's table.
            None if id == u16::MAX => "ERROR",
            None if id == u16::MAX - 1 => "_ERROR",
            None => "",
        }
    }
}

/// The child of `n` in field `name`, if any.
pub(crate) fn field<'t>(n: Node<'t>, name: FieldName) -> Option<Node<'t>> {
    n.child_by_field_id(n.ast.names.slots[usize::from(name.slot)])
}

/// Unwraps wrappers that do not change a value: parentheses, `await`, `?`,
/// `&x`, `x!`, `x as T`, `x satisfies T`.
pub(crate) fn unwrap_expr(mut n: Node) -> Node {
    for _ in 0..32 {
        // The kind's flags say whether it wraps (most nodes do not), without
        // comparing its name against each wrapper's.
        let flags = n.flags();
        let inner = if flags & WRAPS_FIRST != 0 {
            n.named_child(0)
        } else if flags & WRAPS_VALUE != 0 {
            field(n, f::VALUE)
        } else {
            return n;
        };
        match inner {
            Some(i) if !is_comment(i) => n = i,
            _ => return n,
        }
    }
    n
}

pub(crate) fn is_function_like(kind: &str) -> bool {
    matches!(
        kind,
        "function_definition"
            | "lambda"
            | "function_declaration"
            | "function_expression"
            | "function"
            | "arrow_function"
            | "method_definition"
            | "generator_function_declaration"
            | "generator_function"
            | "method_declaration"
            | "func_literal"
            | "function_item"
            | "closure_expression"
    )
}

pub(crate) fn is_call(kind: &str) -> bool {
    matches!(
        kind,
        "call" | "call_expression" | "new_expression" | "macro_invocation"
    )
}

pub(crate) fn is_identifier(kind: &str) -> bool {
    matches!(
        kind,
        "identifier"
            | "shorthand_property_identifier"
            | "shorthand_property_identifier_pattern"
            | "shorthand_field_identifier"
    )
}

/// The text of a string literal, if `n` is one with no interpolation.
pub(crate) fn literal_string(src: &Src, n: Node) -> Option<String> {
    literal_string_at(src, n, 0)
}

fn literal_string_at(src: &Src, n: Node, depth: u32) -> Option<String> {
    if depth > 64 {
        return None;
    }
    let n = unwrap_expr(n);
    match n.k() {
        "string" => {
            // Python or JS/TS string.
            let mut out = String::new();
            let mut prefix_f = false;
            // Python keeps escapes inside `string_content`; raw strings keep them literally.
            let mut prefix_r = false;
            for c in named_children(n) {
                match c.k() {
                    "string_start" => {
                        let t = src.t(c).to_ascii_lowercase();
                        prefix_f = t.contains('f');
                        prefix_r = t.contains('r');
                    }
                    "string_content" if !prefix_r => out.push_str(&decode_escapes(src.t(c))),
                    "string_content" | "string_fragment" | "escape_sequence" => {
                        out.push_str(&unescape_piece(src.t(c)))
                    }
                    "interpolation" | "template_substitution" => return None,
                    "string_end" => {}
                    _ => {}
                }
            }
            let _ = prefix_f;
            if named_children(n).is_empty() {
                // JS empty string '' or a string whose grammar has no children.
                let t = src.t(n);
                return Some(strip_quotes(t).to_string());
            }
            Some(out)
        }
        "template_string" => {
            let mut out = String::new();
            for c in named_children(n) {
                match c.k() {
                    "string_fragment" | "escape_sequence" => {
                        out.push_str(&unescape_piece(src.t(c)))
                    }
                    "template_substitution" => return None,
                    _ => {}
                }
            }
            Some(out)
        }
        "concatenated_string" => {
            let mut out = String::new();
            for c in named_children(n) {
                out.push_str(&literal_string_at(src, c, depth + 1)?);
            }
            Some(out)
        }
        "interpreted_string_literal" | "string_literal" => {
            let mut out = String::new();
            for c in named_children(n) {
                out.push_str(&unescape_piece(src.t(c)));
            }
            Some(out)
        }
        "raw_string_literal" => {
            let t = src.t(n);
            if let Some(rest) = t.strip_prefix('`') {
                return Some(rest.strip_suffix('`').unwrap_or(rest).to_string());
            }
            // Rust r#"..."#
            let inner = named_children(n)
                .into_iter()
                .find(|c| c.k() == "string_content")
                .map(|c| src.t(c).to_string());
            Some(inner.unwrap_or_default())
        }
        "binary_operator" | "binary_expression" => {
            let op = field(n, f::OPERATOR).map(|o| src.t(o)).unwrap_or("");
            if op != "+" {
                return None;
            }
            let l = literal_string_at(src, field(n, f::LEFT)?, depth + 1)?;
            let r = literal_string_at(src, field(n, f::RIGHT)?, depth + 1)?;
            Some(l + &r)
        }
        _ => None,
    }
}

fn strip_quotes(t: &str) -> &str {
    let t = t.trim_start_matches(['r', 'b', 'u', 'R', 'B', 'U']);
    for q in ["\"\"\"", "'''", "\"", "'", "`"] {
        if let Some(rest) = t.strip_prefix(q) {
            return rest.strip_suffix(q).unwrap_or(rest);
        }
    }
    t
}

fn unescape_piece(s: &str) -> String {
    match s {
        "\\n" => "\n".into(),
        "\\t" => "\t".into(),
        "\\\"" => "\"".into(),
        "\\'" => "'".into(),
        "\\\\" => "\\".into(),
        // \uXXXX, \u{X…} and \xXX: decoded, because an invisible or
        // bidirectional character hidden behind an escape is still there at
        // run time (and is exactly how it would be smuggled into a description).
        _ => unicode_escape(s).unwrap_or_else(|| s.to_string()),
    }
}

/// Decodes the escapes in a Python string's content (`\\n`, `\\u200b`, …),
/// leaving anything it does not know as written.
fn decode_escapes(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let len = match tail.as_bytes().get(1) {
            Some(b'u') => 6,
            Some(b'U') => 10,
            Some(b'x') => 4,
            Some(_) => 2,
            None => 1,
        };
        let piece = tail.get(..len).unwrap_or(tail);
        out.push_str(&unescape_piece(piece));
        rest = &tail[piece.len()..];
    }
    out.push_str(rest);
    out
}

fn unicode_escape(s: &str) -> Option<String> {
    let hex = s
        .strip_prefix("\\u{")
        .and_then(|h| h.strip_suffix('}'))
        .or_else(|| s.strip_prefix("\\u").filter(|h| h.len() == 4))
        .or_else(|| s.strip_prefix("\\U").filter(|h| h.len() == 8))
        .or_else(|| s.strip_prefix("\\x").filter(|h| h.len() == 2))?;
    char::from_u32(u32::from_str_radix(hex, 16).ok()?).map(String::from)
}

/// Whether `n` is a literal that cannot carry input: a number, boolean, null,
/// a plain string, or a list/tuple of such.
pub(crate) fn is_constant_literal(src: &Src, n: Node) -> bool {
    is_constant_at(src, n, 0)
}

fn is_constant_at(src: &Src, n: Node, depth: u32) -> bool {
    if depth > 64 {
        return false;
    }
    let n = unwrap_expr(n);
    match n.k() {
        "integer"
        | "float"
        | "number"
        | "true"
        | "false"
        | "none"
        | "null"
        | "undefined"
        | "nil"
        | "int_literal"
        | "float_literal"
        | "boolean_literal"
        | "interpreted_string_literal"
        | "raw_string_literal"
        | "string_literal"
        | "char_literal"
        | "rune_literal"
        | "imaginary_literal"
        | "regex" => n.k() != "string_literal" || literal_string(src, n).is_some(),
        "string" | "template_string" | "concatenated_string" => literal_string(src, n).is_some(),
        "list" | "tuple" | "array" | "expression_list" | "array_expression"
        | "tuple_expression" => named_children(n)
            .into_iter()
            .all(|c| is_constant_at(src, c, depth + 1)),
        "binary_operator" | "binary_expression" => literal_string(src, n).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources with the constructs the flat copy must get right: comments
    /// (extras) between children, fields inherited through hidden rules,
    /// anonymous tokens with fields (`operator`), syntax errors, non-ASCII
    /// text and several lines.
    const SOURCES: &[(Language, &str)] = &[
        (
            Language::Python,
            "import os, subprocess as sp\n# c\n@mcp.tool()\ndef run(cmd: str, n=1) -> str:\n    \"\"\"Run é.\"\"\"\n    x = f\"{cmd} {n}\"  # trailing\n    return sp.check_output(x, shell=True) if n > 0 else (lambda y: y)(x)\nclass A(B):\n    def m(self, *a, **k): return [i for i in a if i]\ndef broken(:\n    pass\n",
        ),
        (
            Language::JavaScript,
            "const { exec } = require('child_process');\n/* c */ server.tool('t', 'd', async ({ a, b = 2 }) => {\n  const x = `ls ${a}` + b; // c\n  return exec(x, (e, out) => out?.trim());\n});\nlet r = /a+b/gi; obj[k] = v; if (a) { } else ;\n",
        ),
        (
            Language::TypeScript,
            "import { z } from 'zod';\nexport class S<T> implements I {\n  private m(x: number, y?: string): T { return x as unknown as T; }\n}\nserver.registerTool('n', { description: 'd', inputSchema: { a: z.string() } }, async ({ a }: { a: string }) => ({ content: [] }));\nconst bad = (;\n",
        ),
        (
            Language::Tsx,
            "export const C = ({ p }: { p: string }) => <div onClick={() => fetch(p)}>{p}</div>;\n",
        ),
        (
            Language::Go,
            "package main\nimport \"os/exec\"\nfunc h(a, b string) error {\n\tx, err := exec.Command(\"sh\", \"-c\", a).Output() // c\n\t_ = x\n\treturn err\n}\n",
        ),
        (
            Language::Rust,
            "use std::process::Command;\n#[tool]\nfn run(&self, cmd: String) -> Result<String, E> {\n    let out = Command::new(\"sh\").arg(\"-c\").arg(&cmd).output()?; // c\n    Ok(String::from_utf8_lossy(&out.stdout).into())\n}\n",
        ),
    ];

    fn ts_tree(lang: Language, source: &str) -> tree_sitter::Tree {
        let mut parser = Parser::new();
        parser.set_language(&grammar(lang)).unwrap();
        parser.parse(source, None).unwrap()
    }

    /// Every node of the flat tree answers as tree-sitter's node at the same
    /// place does: kind, named, range, line, field, parent, children and
    /// every field lookup of the grammar.
    #[test]
    fn flat_tree_answers_as_tree_sitter_does() {
        let mut errors = 0;
        for &(lang, source) in SOURCES {
            let tree = ts_tree(lang, source);
            let ast = parse(lang, source).expect("parses");
            let language = grammar(lang);
            let field_names: Vec<&str> = (1..=language.field_count() as u16)
                .filter_map(|i| language.field_name_for_id(i))
                .collect();

            // Pair the nodes up by one cursor walk in document order.
            let mut pairs = Vec::new();
            let mut cursor = tree.walk();
            'walk: loop {
                pairs.push((cursor.node(), cursor.field_name()));
                if cursor.goto_first_child() {
                    continue;
                }
                loop {
                    if cursor.goto_next_sibling() {
                        break;
                    }
                    if !cursor.goto_parent() {
                        break 'walk;
                    }
                }
            }
            assert_eq!(pairs.len(), ast.nodes.len(), "{lang:?}: node count");

            let flat_of = |n: tree_sitter::Node| -> Node {
                let i = pairs.iter().position(|(m, _)| *m == n).expect("paired");
                Node {
                    ast: &ast,
                    i: i as u32,
                }
            };
            for (i, (ts, ts_field)) in pairs.iter().enumerate() {
                let flat = Node {
                    ast: &ast,
                    i: i as u32,
                };
                let at = format!("{lang:?} node {i} ({})", ts.kind());
                errors += usize::from(ts.is_error());
                assert_eq!(flat.k(), ts.kind(), "{at}: kind");
                assert_eq!(flat.kind_id(), ts.kind_id(), "{at}: kind id");
                assert_eq!(flat.is_named(), ts.is_named(), "{at}: named");
                assert_eq!(
                    flat.is_function_like(),
                    is_function_like(ts.kind()),
                    "{at}: function-like"
                );
                assert_eq!(
                    is_comment(flat),
                    is_comment_kind(ts.kind()),
                    "{at}: comment"
                );
                assert_eq!(flat.byte_range(), ts.byte_range(), "{at}: range");
                assert_eq!(flat.row(), ts.start_position().row, "{at}: row");
                assert_eq!(flat.field_name(), *ts_field, "{at}: field");
                assert_eq!(
                    flat.descendant_count(),
                    ts.descendant_count(),
                    "{at}: descendants"
                );
                assert_eq!(flat.parent(), ts.parent().map(flat_of), "{at}: parent");
                assert_eq!(
                    flat.named_child_count(),
                    ts.named_child_count(),
                    "{at}: named children"
                );
                let kids: Vec<Node> = flat.children().collect();
                let ts_kids: Vec<Node> = (0..ts.child_count() as u32)
                    .map(|k| flat_of(ts.child(k).unwrap()))
                    .collect();
                assert_eq!(kids, ts_kids, "{at}: children");
                for k in 0..ts.named_child_count() {
                    assert_eq!(
                        flat.named_child(k),
                        ts.named_child(k as u32).map(flat_of),
                        "{at}: named child {k}"
                    );
                }
                for name in f::ALL {
                    assert_eq!(
                        field(flat, *name),
                        ts.child_by_field_name(name.name).map(flat_of),
                        "{at}: field {}",
                        name.name
                    );
                }
                for name in &field_names {
                    let id = language.field_id_for_name(name).map_or(0, |id| id.get());
                    assert_eq!(
                        flat.child_by_field_id(id),
                        ts.child_by_field_name(name).map(flat_of),
                        "{at}: field {name}"
                    );
                    let mut c = ts.walk();
                    let all: Vec<Node> = ts
                        .children_by_field_name(name, &mut c)
                        .map(flat_of)
                        .collect();
                    assert_eq!(
                        flat.children_by_field_id(id).collect::<Vec<_>>(),
                        all,
                        "{at}: fields {name}"
                    );
                }
            }
        }
        // The broken snippets put ERROR nodes (ids
        // outside the grammar's kind table) to the test.
        assert!(errors >= 1, "no ERROR node among the sources");
    }

    #[test]
    fn walks_list_and_prune_subtrees() {
        let source = "def f():\n    def g():\n        return 1\n    return g\nx = f()\n";
        let ast = parse(Language::Python, source).unwrap();
        let root = ast.root();
        let all = walk(root, &|_| false);
        assert_eq!(all.len(), root.descendant_count());
        let pruned = walk(root, &|n| n.k() == "function_definition");
        assert!(pruned.len() < all.len());
        // The pruned function itself is listed, nothing inside it is.
        let f = pruned
            .iter()
            .find(|n| n.k() == "function_definition")
            .unwrap();
        assert!(pruned.iter().all(|n| n == f
            || !(f.byte_range().contains(&n.start_byte()) && n.start_byte() > f.start_byte())));
    }
}
