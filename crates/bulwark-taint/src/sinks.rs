//! Which calls are sinks, which are sanitisers, per language.

use crate::Language;
use crate::lang::{Arg, arg_or_kw, callee, keyword, object_value, positional};
use crate::rules;
use crate::syntax::{Children, Kind, Node, f, field, literal_string, named_children, unwrap_expr};
use crate::taint::{Scope, kind};

/// What the tainted value must look like for the sink to be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Always,
    /// A string command built by formatting (subprocess without shell).
    Built,
    /// SQL text built by formatting.
    Sql,
    /// The caller chooses the scheme/host, not just a path.
    NotFixedHost,
}

/// A sink at a call: the argument nodes whose taint matters.
pub(crate) struct Spec<'t> {
    pub rule: &'static str,
    pub kind: u16,
    pub cond: Cond,
    pub nodes: Vec<Node<'t>>,
    pub label: String,
    pub untraced_ok: bool,
    /// Report at this node instead of the call.
    pub at: Option<Node<'t>>,
}

fn spec<'t>(
    rule: &'static str,
    kind: u16,
    cond: Cond,
    nodes: Vec<Node<'t>>,
    label: &str,
    untraced_ok: bool,
) -> Spec<'t> {
    Spec {
        rule,
        kind,
        cond,
        nodes,
        label: format!("{label}()"),
        untraced_ok,
        at: None,
    }
}

fn ends(name: &str, pat: &str) -> bool {
    name == pat
        || (name.len() > pat.len()
            && name.ends_with(pat)
            && name.as_bytes()[name.len() - pat.len() - 1] == b'.')
}

pub(crate) fn is_shell(s: &str) -> bool {
    let base = s
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(s)
        .to_ascii_lowercase();
    matches!(
        base.as_str(),
        "sh" | "bash"
            | "zsh"
            | "dash"
            | "ksh"
            | "fish"
            | "ash"
            | "cmd"
            | "cmd.exe"
            | "powershell"
            | "powershell.exe"
            | "pwsh"
            | "busybox"
    )
}

fn is_dash_c(s: &str) -> bool {
    matches!(
        s,
        "-c" | "/c" | "/C" | "-lc" | "-ec" | "-Command" | "-command" | "-ic"
    )
}

fn truthy_literal(src: &crate::syntax::Src, n: Node) -> bool {
    let t = src.t(unwrap_expr(n));
    !matches!(
        t,
        "False" | "false" | "0" | "None" | "null" | "undefined" | "nil"
    )
}

fn elements<'t>(n: Node<'t>) -> Option<Children<'t>> {
    let n = unwrap_expr(n);
    match n.k() {
        "list" | "tuple" | "array" | "array_expression" => Some(named_children(n)),
        "macro_invocation" => None,
        _ => None,
    }
}

/// For an argv-style list: the nodes that matter (after `sh -c`, or the
/// program itself) and whether it is a shell invocation.
fn argv_nodes<'t>(src: &crate::syntax::Src, items: &[Node<'t>]) -> (Vec<Node<'t>>, bool) {
    let first = items.first().and_then(|f| literal_string(src, *f));
    let second = items.get(1).and_then(|f| literal_string(src, *f));
    match (first, second) {
        (Some(f), Some(s)) if is_shell(&f) && is_dash_c(&s) => (items[2..].to_vec(), true),
        (Some(_), _) => (Vec::new(), false),
        (None, _) => (items.first().copied().into_iter().collect(), false),
    }
}

pub(crate) fn classify<'t>(
    sc: &Scope<'_, 't>,
    call: Node<'t>,
    c: Node<'t>,
    name: &str,
    method: &str,
    args: &[Arg<'t>],
) -> Vec<Spec<'t>> {
    let mut out = Vec::new();
    match sc.lang() {
        Language::Python => python(sc, call, name, method, args, &mut out),
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            js(sc, call, c, name, method, args, &mut out)
        }
        Language::Go => go(sc, name, method, args, &mut out),
        Language::Rust => rust(sc, c, name, method, args, &mut out),
    }
    out
}

fn locally_defined(sc: &Scope, name: &str) -> bool {
    sc.fx.funcs.contains_key(name)
}

fn python<'t>(
    sc: &Scope<'_, 't>,
    call: Node<'t>,
    name: &str,
    method: &str,
    args: &[Arg<'t>],
    out: &mut Vec<Spec<'t>>,
) {
    let src = sc.src();
    let a0 = || arg_or_kw(args, 0, "args").into_iter().collect::<Vec<_>>();
    match name {
        "os.system"
        | "os.popen"
        | "subprocess.getoutput"
        | "subprocess.getstatusoutput"
        | "commands.getoutput"
        | "commands.getstatusoutput"
        | "asyncio.create_subprocess_shell"
        | "os.popen2"
        | "os.popen3"
        | "pty.spawn" => {
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                arg_or_kw(args, 0, "cmd").into_iter().collect(),
                name,
                true,
            ));
            return;
        }
        "subprocess.run"
        | "subprocess.call"
        | "subprocess.check_call"
        | "subprocess.check_output"
        | "subprocess.Popen" => {
            let shell = keyword(args, "shell").is_some_and(|s| truthy_literal(src, s));
            if shell {
                out.push(spec(
                    rules::CMD_INJECTION,
                    kind::CMD,
                    Cond::Always,
                    a0(),
                    name,
                    true,
                ));
            } else if let Some(first) = arg_or_kw(args, 0, "args") {
                if let Some(items) = elements(first) {
                    let (nodes, is_sh) = argv_nodes(src, &items);
                    out.push(spec(
                        rules::CMD_INJECTION,
                        kind::CMD,
                        Cond::Always,
                        nodes,
                        name,
                        is_sh,
                    ));
                } else {
                    out.push(spec(
                        rules::CMD_INJECTION,
                        kind::CMD,
                        Cond::Built,
                        vec![first],
                        name,
                        false,
                    ));
                }
            }
            return;
        }
        "asyncio.create_subprocess_exec"
        | "os.execvp"
        | "os.execv"
        | "os.execlp"
        | "os.spawnlp" => {
            let items: Vec<Node> = args
                .iter()
                .filter(|a| a.name.is_none())
                .map(|a| a.value)
                .collect();
            let (nodes, is_sh) = argv_nodes(src, &items);
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                nodes,
                name,
                is_sh,
            ));
            return;
        }
        "eval" | "exec" | "compile" | "builtins.eval" | "builtins.exec" => {
            if !locally_defined(sc, name) {
                out.push(spec(
                    rules::CODE_INJECTION,
                    kind::CODE,
                    Cond::Always,
                    arg_or_kw(args, 0, "source").into_iter().collect(),
                    name,
                    true,
                ));
            }
            return;
        }
        "pickle.loads"
        | "pickle.load"
        | "cPickle.loads"
        | "cPickle.load"
        | "_pickle.loads"
        | "dill.loads"
        | "dill.load"
        | "marshal.loads"
        | "marshal.load"
        | "jsonpickle.decode"
        | "pandas.read_pickle"
        | "shelve.open"
        | "yaml.unsafe_load"
        | "yaml.unsafe_load_all" => {
            out.push(spec(
                rules::DESERIALIZATION,
                kind::DESER,
                Cond::Always,
                positional(args, 0).into_iter().collect(),
                name,
                true,
            ));
            return;
        }
        "yaml.load" | "yaml.load_all" => {
            let loader = keyword(args, "Loader").or_else(|| positional(args, 1));
            let safe = loader.is_some_and(|l| {
                let t = src.t(l);
                t.contains("Safe") || t.contains("BaseLoader")
            });
            if !safe {
                out.push(spec(
                    rules::DESERIALIZATION,
                    kind::DESER,
                    Cond::Always,
                    positional(args, 0).into_iter().collect(),
                    name,
                    true,
                ));
            }
            return;
        }
        "open"
        | "io.open"
        | "codecs.open"
        | "aiofiles.open"
        | "os.open"
        | "os.remove"
        | "os.unlink"
        | "os.rmdir"
        | "os.removedirs"
        | "os.listdir"
        | "os.scandir"
        | "os.makedirs"
        | "os.mkdir"
        | "shutil.rmtree"
        | "os.chmod"
        | "os.truncate"
        | "flask.send_file"
        | "send_file"
        | "starlette.responses.FileResponse"
        | "FileResponse"
        | "fastapi.responses.FileResponse"
        | "tarfile.open"
        | "zipfile.ZipFile"
        | "os.walk" => {
            if name == "open" && locally_defined(sc, "open") {
                return;
            }
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                arg_or_kw(args, 0, "file").into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "os.rename" | "os.replace" | "shutil.copy" | "shutil.copyfile" | "shutil.copy2"
        | "shutil.move" | "shutil.copytree" => {
            let nodes = [positional(args, 0), positional(args, 1)]
                .into_iter()
                .flatten()
                .collect();
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                nodes,
                name,
                false,
            ));
            return;
        }
        "urllib.request.urlopen"
        | "urllib.urlopen"
        | "urllib2.urlopen"
        | "urllib.request.Request"
        | "urllib.request.urlretrieve"
        | "http.client.HTTPConnection"
        | "http.client.HTTPSConnection" => {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                arg_or_kw(args, 0, "url").into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        _ => {}
    }
    let http_verbs = [
        "get", "post", "put", "patch", "delete", "head", "options", "stream",
    ];
    let http_roots = [
        "requests",
        "httpx",
        "requests.Session",
        "requests.session",
        "httpx.Client",
        "httpx.AsyncClient",
        "aiohttp.ClientSession",
        "aiohttp",
    ];
    if let Some((root, _)) = name.rsplit_once('.')
        && http_roots.contains(&root)
    {
        if http_verbs.contains(&method) {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                arg_or_kw(args, 0, "url").into_iter().collect(),
                name,
                false,
            ));
        } else if method == "request" {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                arg_or_kw(args, 1, "url").into_iter().collect(),
                name,
                false,
            ));
        }
        return;
    }
    if let Some(r) = name
        .strip_prefix("re.")
        .or_else(|| name.strip_prefix("regex."))
        && matches!(
            r,
            "compile"
                | "match"
                | "search"
                | "fullmatch"
                | "findall"
                | "finditer"
                | "sub"
                | "subn"
                | "split"
        )
    {
        out.push(spec(
            rules::REGEX_INJECTION,
            kind::REGEX,
            Cond::Always,
            arg_or_kw(args, 0, "pattern").into_iter().collect(),
            name,
            false,
        ));
        return;
    }
    if matches!(
        method,
        "execute"
            | "executemany"
            | "executescript"
            | "mogrify"
            | "raw"
            | "read_sql"
            | "read_sql_query"
            | "exec_driver_sql"
    ) || ends(name, "sqlalchemy.text")
    {
        let q = arg_or_kw(args, 0, "sql").or_else(|| keyword(args, "query"));
        out.push(spec(
            rules::SQL_INJECTION,
            kind::SQL,
            Cond::Sql,
            q.into_iter().collect(),
            name,
            false,
        ));
        return;
    }
    if matches!(
        name,
        "xml.sax.parseString"
            | "xml.sax.parse"
            | "xml.dom.minidom.parseString"
            | "xml.dom.minidom.parse"
            | "xml.dom.pulldom.parseString"
            | "xml.dom.pulldom.parse"
            | "minidom.parseString"
            | "minidom.parse"
    ) && !sc.fx.has_defusedxml
    {
        let mut s = spec(
            rules::XXE,
            kind::XXE,
            Cond::Always,
            positional(args, 0).into_iter().collect(),
            name,
            false,
        );
        s.at = Some(call);
        out.push(s);
        return;
    }
    // pathlib: a method that touches the file system on a tainted Path.
    if matches!(
        method,
        "read_text"
            | "read_bytes"
            | "write_text"
            | "write_bytes"
            | "unlink"
            | "rmdir"
            | "iterdir"
            | "touch"
            | "mkdir"
            | "rename"
            | "rglob"
            | "open"
            | "symlink_to"
            | "chmod"
    ) && let Some(c) = callee(call)
        && let Some(recv) = field(unwrap_expr(c), f::OBJECT)
        && !sc.fx.imports.contains_key(src.t(recv))
    {
        out.push(spec(
            rules::PATH_TRAVERSAL,
            kind::PATH,
            Cond::Always,
            vec![recv],
            &format!("Path.{method}"),
            false,
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn js<'t>(
    sc: &Scope<'_, 't>,
    call: Node<'t>,
    c: Node<'t>,
    name: &str,
    method: &str,
    args: &[Arg<'t>],
    out: &mut Vec<Spec<'t>>,
) {
    let src = sc.src();
    let a = |i: usize| positional(args, i);
    let shell_opt = || {
        args.iter()
            .any(|x| object_value(src, x.value, "shell").is_some_and(|v| truthy_literal(src, v)))
    };
    match name {
        "child_process.exec"
        | "child_process.execSync"
        | "shelljs.exec"
        | "execa.execaCommand"
        | "execa.execaCommandSync"
        | "execa.command"
        | "execa.commandSync"
        | "zx.$" => {
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                true,
            ));
            return;
        }
        "child_process.spawn"
        | "child_process.spawnSync"
        | "child_process.execFile"
        | "child_process.execFileSync"
        | "execa"
        | "execa.execa"
        | "execa.execaSync"
        | "cross-spawn" => {
            if shell_opt() {
                let nodes = [a(0), a(1)].into_iter().flatten().collect();
                out.push(spec(
                    rules::CMD_INJECTION,
                    kind::CMD,
                    Cond::Always,
                    nodes,
                    name,
                    true,
                ));
                return;
            }
            let Some(prog) = a(0) else { return };
            let mut items = vec![prog];
            if let Some(list) = a(1).and_then(elements) {
                items.extend(list);
            }
            let (nodes, is_sh) = argv_nodes(src, &items);
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                nodes,
                name,
                is_sh,
            ));
            return;
        }
        "vm.runInNewContext"
        | "vm.runInThisContext"
        | "vm.runInContext"
        | "vm.compileFunction"
        | "vm.Script" => {
            out.push(spec(
                rules::CODE_INJECTION,
                kind::CODE,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                true,
            ));
            return;
        }
        "eval" | "Function" => {
            if !locally_defined(sc, name) {
                let nodes = args.iter().map(|x| x.value).collect();
                out.push(spec(
                    rules::CODE_INJECTION,
                    kind::CODE,
                    Cond::Always,
                    nodes,
                    name,
                    true,
                ));
            }
            return;
        }
        "node-serialize.unserialize"
        | "serialize-to-js.deserialize"
        | "funcster.deepDeserialize" => {
            out.push(spec(
                rules::DESERIALIZATION,
                kind::DESER,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                true,
            ));
            return;
        }
        "fetch" | "undici.fetch" | "undici.request" | "got" | "axios" | "ky" | "needle"
        | "superagent" => {
            if locally_defined(sc, name) {
                return;
            }
            let mut nodes: Vec<Node> = Vec::new();
            if let Some(x) = a(0) {
                match object_value(src, x, "url") {
                    Some(u) => nodes.push(u),
                    None => nodes.push(x),
                }
            }
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                nodes,
                name,
                false,
            ));
            return;
        }
        "RegExp" => {
            out.push(spec(
                rules::REGEX_INJECTION,
                kind::REGEX,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        _ => {}
    }
    if let Some((root, _)) = name.rsplit_once('.') {
        if root == "fs" {
            let two = matches!(
                method,
                "copyFile"
                    | "copyFileSync"
                    | "rename"
                    | "renameSync"
                    | "cp"
                    | "cpSync"
                    | "symlink"
                    | "link"
            );
            let one = matches!(
                method,
                "readFile"
                    | "readFileSync"
                    | "writeFile"
                    | "writeFileSync"
                    | "appendFile"
                    | "appendFileSync"
                    | "createReadStream"
                    | "createWriteStream"
                    | "unlink"
                    | "unlinkSync"
                    | "rm"
                    | "rmSync"
                    | "rmdir"
                    | "rmdirSync"
                    | "readdir"
                    | "readdirSync"
                    | "mkdir"
                    | "mkdirSync"
                    | "open"
                    | "openSync"
                    | "opendir"
                    | "truncate"
                    | "chmod"
                    | "outputFile"
                    | "remove"
                    | "readJson"
                    | "writeJson"
                    | "readJSON"
            );
            if one || two {
                let mut nodes: Vec<Node> = a(0).into_iter().collect();
                if two {
                    nodes.extend(a(1));
                }
                out.push(spec(
                    rules::PATH_TRAVERSAL,
                    kind::PATH,
                    Cond::Always,
                    nodes,
                    name,
                    false,
                ));
            }
            return;
        }
        let axios_like = root == "axios"
            || root.starts_with("axios.create")
            || root == "got"
            || root == "ky"
            || root == "superagent"
            || root == "needle";
        if axios_like
            && matches!(
                method,
                "get" | "post" | "put" | "patch" | "delete" | "head" | "options" | "request"
            )
        {
            let mut nodes: Vec<Node> = Vec::new();
            if let Some(x) = a(0) {
                match object_value(src, x, "url") {
                    Some(u) => nodes.push(u),
                    None => nodes.push(x),
                }
            }
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                nodes,
                name,
                false,
            ));
            return;
        }
        if matches!(root, "http" | "https") && matches!(method, "get" | "request") {
            let mut nodes: Vec<Node> = Vec::new();
            if let Some(x) = a(0) {
                match object_value(src, x, "hostname").or_else(|| object_value(src, x, "host")) {
                    Some(h) => nodes.push(h),
                    None => nodes.push(x),
                }
            }
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                nodes,
                name,
                false,
            ));
            return;
        }
        if root == "lodash" || (root == "_" && !sc.fx.funcs.contains_key("_")) {
            match method {
                "merge" | "mergeWith" | "defaultsDeep" => {
                    let nodes = args.iter().skip(1).map(|x| x.value).collect();
                    out.push(spec(
                        rules::PROTOTYPE_POLLUTION,
                        kind::PROTO,
                        Cond::Always,
                        nodes,
                        name,
                        false,
                    ));
                }
                "set" | "setWith" | "zipObjectDeep" => {
                    out.push(spec(
                        rules::PROTOTYPE_POLLUTION,
                        kind::PROTO,
                        Cond::Always,
                        a(1).into_iter().collect(),
                        name,
                        false,
                    ));
                }
                _ => {}
            }
            return;
        }
        if root == "libxmljs" && method.starts_with("parseXml") {
            let noent = a(1)
                .and_then(|o| object_value(src, o, "noent"))
                .is_some_and(|v| src.t(v) == "true");
            if noent {
                out.push(spec(
                    rules::XXE,
                    kind::XXE,
                    Cond::Always,
                    a(0).into_iter().collect(),
                    name,
                    false,
                ));
            }
            return;
        }
        if matches!(root, "child_process") {
            return;
        }
    }
    if matches!(
        name,
        "lodash" | "deepmerge" | "merge-deep" | "lodash.merge" | "lodash.set"
    ) {
        let nodes = args.iter().skip(1).map(|x| x.value).collect();
        out.push(spec(
            rules::PROTOTYPE_POLLUTION,
            kind::PROTO,
            Cond::Always,
            nodes,
            name,
            false,
        ));
        return;
    }
    if matches!(method, "sendFile" | "download") && field(unwrap_expr(c), f::OBJECT).is_some() {
        out.push(spec(
            rules::PATH_TRAVERSAL,
            kind::PATH,
            Cond::Always,
            a(0).into_iter().collect(),
            name,
            false,
        ));
        return;
    }
    if matches!(
        method,
        "query"
            | "execute"
            | "raw"
            | "run"
            | "all"
            | "get"
            | "each"
            | "exec"
            | "prepare"
            | "$queryRawUnsafe"
            | "$executeRawUnsafe"
            | "unsafe"
    ) && field(unwrap_expr(c), f::OBJECT).is_some()
    {
        out.push(spec(
            rules::SQL_INJECTION,
            kind::SQL,
            Cond::Sql,
            a(0).into_iter().collect(),
            name,
            false,
        ));
    }
    let _ = call;
}

fn go<'t>(sc: &Scope<'_, 't>, name: &str, method: &str, args: &[Arg<'t>], out: &mut Vec<Spec<'t>>) {
    let src = sc.src();
    let a = |i: usize| positional(args, i);
    match name {
        "exec.Command" | "exec.CommandContext" => {
            let off = usize::from(name == "exec.CommandContext");
            let items: Vec<Node> = args.iter().skip(off).map(|x| x.value).collect();
            let (nodes, is_sh) = argv_nodes(src, &items);
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                nodes,
                name,
                is_sh,
            ));
            return;
        }
        "syscall.Exec" => {
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "os.Open" | "os.OpenFile" | "os.ReadFile" | "os.WriteFile" | "os.Create" | "os.Remove"
        | "os.RemoveAll" | "os.ReadDir" | "os.Mkdir" | "os.MkdirAll" | "ioutil.ReadFile"
        | "ioutil.WriteFile" | "ioutil.ReadDir" | "os.Truncate" | "os.Chmod" => {
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "os.Rename" | "os.Symlink" | "os.Link" => {
            let nodes = [a(0), a(1)].into_iter().flatten().collect();
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                nodes,
                name,
                false,
            ));
            return;
        }
        "http.ServeFile" => {
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                a(2).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "http.Get" | "http.Post" | "http.Head" | "http.PostForm" => {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "http.NewRequest" => {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                a(1).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        "http.NewRequestWithContext" => {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                a(2).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        _ => {}
    }
    if let Some((root, _)) = name.rsplit_once('.')
        && (root.ends_with("http.Client") || root == "http.DefaultClient")
        && matches!(method, "Get" | "Post" | "Head" | "PostForm")
    {
        out.push(spec(
            rules::SSRF,
            kind::SSRF,
            Cond::NotFixedHost,
            a(0).into_iter().collect(),
            name,
            false,
        ));
        return;
    }
    if matches!(
        method,
        "Query"
            | "QueryRow"
            | "Exec"
            | "QueryContext"
            | "QueryRowContext"
            | "ExecContext"
            | "Prepare"
            | "PrepareContext"
            | "Raw"
            | "Select"
            | "MustExec"
            | "Queryx"
            | "QueryRowx"
    ) {
        let nodes = args.iter().take(3).map(|x| x.value).collect();
        out.push(spec(
            rules::SQL_INJECTION,
            kind::SQL,
            Cond::Sql,
            nodes,
            name,
            false,
        ));
    }
}

/// Whether `v` is (a method chain on) `Command::new("sh")` or a variable
/// holding one.
pub(crate) fn is_shell_command_chain(sc: &Scope, v: Node) -> bool {
    let src = sc.src();
    let mut cur = unwrap_expr(v);
    for _ in 0..64 {
        match cur.k() {
            "call_expression" => {
                let Some(f) = field(cur, f::FUNCTION) else {
                    return false;
                };
                let name = sc.canonical(f);
                if ends(&name, "Command.new") {
                    return field(cur, f::ARGUMENTS)
                        .and_then(|a| a.named_child(0))
                        .and_then(|p| literal_string(src, p))
                        .is_some_and(|p| is_shell(&p));
                }
                match unwrap_expr(f).k() {
                    "field_expression" => match field(unwrap_expr(f), f::VALUE) {
                        Some(v) => cur = unwrap_expr(v),
                        None => return false,
                    },
                    _ => return false,
                }
            }
            "identifier" => return sc.shell_cmds.contains(src.t(cur)),
            _ => return false,
        }
    }
    false
}

fn rust<'t>(
    sc: &Scope<'_, 't>,
    c: Node<'t>,
    name: &str,
    method: &str,
    args: &[Arg<'t>],
    out: &mut Vec<Spec<'t>>,
) {
    let a = |i: usize| positional(args, i);
    if ends(name, "Command.new") {
        let prog = a(0);
        let is_sh = prog
            .and_then(|p| literal_string(sc.src(), p))
            .is_some_and(|p| is_shell(&p));
        if !is_sh {
            out.push(spec(
                rules::CMD_INJECTION,
                kind::CMD,
                Cond::Always,
                prog.into_iter().collect(),
                name,
                false,
            ));
        }
        return;
    }
    if matches!(method, "arg" | "args")
        && let Some(recv) = field(unwrap_expr(c), f::VALUE)
        && is_shell_command_chain(sc, recv)
    {
        let mut nodes: Vec<Node> = Vec::new();
        if let Some(x) = a(0) {
            match elements(x) {
                Some(items) => nodes.extend(
                    items
                        .into_iter()
                        .filter(|i| literal_string(sc.src(), *i).is_none_or(|s| !is_dash_c(&s))),
                ),
                None => {
                    if literal_string(sc.src(), x).is_none_or(|s| !is_dash_c(&s)) {
                        nodes.push(x)
                    }
                }
            }
        }
        out.push(spec(
            rules::CMD_INJECTION,
            kind::CMD,
            Cond::Always,
            nodes,
            "Command(sh -c).arg",
            true,
        ));
        return;
    }
    for pat in [
        "fs.read_to_string",
        "fs.read",
        "fs.write",
        "fs.remove_file",
        "fs.remove_dir_all",
        "fs.remove_dir",
        "fs.create_dir_all",
        "fs.create_dir",
        "fs.read_dir",
        "File.open",
        "File.create",
        "fs.metadata",
    ] {
        if ends(name, pat) {
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
    }
    for pat in ["fs.copy", "fs.rename", "fs.hard_link"] {
        if ends(name, pat) {
            let nodes = [a(0), a(1)].into_iter().flatten().collect();
            out.push(spec(
                rules::PATH_TRAVERSAL,
                kind::PATH,
                Cond::Always,
                nodes,
                name,
                false,
            ));
            return;
        }
    }
    if ends(name, "reqwest.get")
        || ends(name, "ureq.get")
        || ends(name, "ureq.post")
        || ends(name, "reqwest.blocking.get")
    {
        out.push(spec(
            rules::SSRF,
            kind::SSRF,
            Cond::NotFixedHost,
            a(0).into_iter().collect(),
            name,
            false,
        ));
        return;
    }
    if let Some((root, _)) = name.rsplit_once('.')
        && root.ends_with("Client")
    {
        if matches!(method, "get" | "post" | "put" | "patch" | "delete" | "head") {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                a(0).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
        if method == "request" {
            out.push(spec(
                rules::SSRF,
                kind::SSRF,
                Cond::NotFixedHost,
                a(1).into_iter().collect(),
                name,
                false,
            ));
            return;
        }
    }
    if ends(name, "sqlx.query")
        || ends(name, "sqlx.query_as")
        || ends(name, "sqlx.query_scalar")
        || matches!(
            method,
            "execute"
                | "query"
                | "query_row"
                | "prepare"
                | "execute_batch"
                | "query_map"
                | "prepare_cached"
                | "query_one"
        )
    {
        out.push(spec(
            rules::SQL_INJECTION,
            kind::SQL,
            Cond::Sql,
            a(0).into_iter().collect(),
            name,
            false,
        ));
    }
}

/// Calls whose result is safe for some sink kinds (a bit mask; `ALL` means
/// the result carries no input at all).
pub(crate) fn sanitizer(lang: Language, name: &str, method: &str) -> Option<u16> {
    let all = Some(kind::ALL);
    match lang {
        Language::Python => match name {
            "int" | "float" | "bool" | "len" | "hash" | "abs" | "round" | "isinstance"
            | "uuid.uuid4" | "ast.literal_eval" | "os.path.exists" | "os.path.isfile"
            | "os.path.isdir" | "os.path.getsize" | "id" | "ord" => all,
            "shlex.quote" | "pipes.quote" | "shlex.join" => Some(kind::CMD),
            "os.path.basename"
            | "werkzeug.utils.secure_filename"
            | "secure_filename"
            | "werkzeug.security.safe_join"
            | "werkzeug.utils.safe_join"
            | "safe_join"
            | "posixpath.basename" => Some(kind::PATH),
            "re.escape" | "regex.escape" => Some(kind::REGEX),
            "urllib.parse.quote"
            | "urllib.parse.quote_plus"
            | "urllib.parse.urlencode"
            | "quote"
            | "quote_plus" => Some(kind::SSRF),
            _ => {
                if name.starts_with("hashlib.")
                    || matches!(
                        method,
                        "hexdigest"
                            | "digest"
                            | "isdigit"
                            | "isalnum"
                            | "isalpha"
                            | "count"
                            | "exists"
                            | "is_file"
                            | "is_dir"
                    )
                {
                    all
                } else {
                    None
                }
            }
        },
        Language::JavaScript | Language::TypeScript | Language::Tsx => match name {
            "Number" | "parseInt" | "parseFloat" | "Boolean" | "Number.parseInt"
            | "Number.parseFloat" | "Math.floor" | "Math.round" | "Array.isArray" | "isNaN"
            | "crypto.randomUUID" | "fs.existsSync" => all,
            "path.basename" | "sanitize-filename" | "sanitizeFilename" => Some(kind::PATH),
            "encodeURIComponent" | "querystring.escape" => {
                Some(kind::SSRF | kind::PATH | kind::CMD)
            }
            "escapeRegExp"
            | "lodash.escapeRegExp"
            | "escape-string-regexp"
            | "escapeStringRegexp"
            | "_.escapeRegExp" => Some(kind::REGEX),
            "shell-quote.quote" | "shellescape" | "shell-escape" | "shellQuote.quote" => {
                Some(kind::CMD)
            }
            _ => {
                if matches!(
                    method,
                    "includes" | "startsWith" | "endsWith" | "test" | "has" | "indexOf" | "digest"
                ) || name.starts_with("crypto.createHash")
                {
                    all
                } else {
                    None
                }
            }
        },
        Language::Go => match name {
            "strconv.Atoi" | "strconv.ParseInt" | "strconv.ParseBool" | "strconv.ParseFloat"
            | "strconv.ParseUint" | "strings.HasPrefix" | "strings.HasSuffix"
            | "strings.Contains" | "len" | "uuid.New" => all,
            "filepath.Base" | "path.Base" => Some(kind::PATH),
            "url.PathEscape" | "url.QueryEscape" => Some(kind::SSRF | kind::PATH | kind::CMD),
            "regexp.QuoteMeta" => Some(kind::REGEX),
            _ => None,
        },
        Language::Rust => {
            if matches!(method, "file_name" | "file_stem") {
                Some(kind::PATH)
            } else if matches!(
                method,
                "len"
                    | "is_empty"
                    | "starts_with"
                    | "ends_with"
                    | "contains"
                    | "exists"
                    | "is_file"
                    | "is_dir"
            ) {
                all
            } else if name.ends_with("regex.escape") || name == "escape" {
                Some(kind::REGEX)
            } else if name.ends_with("shell_escape.escape")
                || name.ends_with("shlex.try_quote")
                || name.ends_with("shlex.quote")
            {
                Some(kind::CMD)
            } else {
                None
            }
        }
    }
}

/// Calls whose result carries no input: predicates, sizes, I/O results.
pub(crate) fn non_propagating(lang: Language, name: &str, method: &str) -> bool {
    match lang {
        Language::Python => {
            matches!(
                name,
                "print"
                    | "open"
                    | "logging.info"
                    | "logging.debug"
                    | "logging.warning"
                    | "logging.error"
                    | "time.time"
                    | "datetime.now"
                    | "datetime.datetime.now"
            ) || matches!(
                method,
                "startswith"
                    | "endswith"
                    | "is_relative_to"
                    | "exists"
                    | "is_file"
                    | "is_dir"
                    | "read"
                    | "readlines"
                    | "info"
                    | "debug"
                    | "warning"
                    | "error"
            )
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            matches!(name, "console.log" | "console.error" | "Date.now")
                || matches!(
                    method,
                    "readFileSync"
                        | "readFile"
                        | "existsSync"
                        | "json"
                        | "text"
                        | "isFile"
                        | "isDirectory"
                )
        }
        Language::Go => matches!(
            name,
            "fmt.Println"
                | "fmt.Printf"
                | "log.Printf"
                | "log.Println"
                | "os.ReadFile"
                | "ioutil.ReadFile"
                | "errors.New"
                | "fmt.Errorf"
        ),
        Language::Rust => matches!(
            method,
            "read_to_string" | "is_some" | "is_none" | "is_ok" | "is_err"
        ),
    }
}
