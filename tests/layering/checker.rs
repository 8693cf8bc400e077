//! The layering checker behind `tests/layering.rs`: parses a crate's `src/` tree with `syn` and
//! lists every reference from one module to another, then judges each against a rule table.
//!
//! What it reads:
//! - The module tree as the compiler builds it: from `src/lib.rs` (and `src/main.rs`, whose
//!   `dagr::` paths name the library) through `mod x;` (`x.rs`, `x/mod.rs`, `#[path]`) and inline
//!   `mod x { }` blocks. A file under `src/` that no `mod` reaches is reported, so that a file the
//!   walk misses cannot pass unchecked.
//! - Every path that names a crate module: `use crate::…`, `use super::…` (resolved against the
//!   module's path), `use self::…`, nested trees `use crate::{a, b::{c, self}}`, renames and globs,
//!   paths in types, expressions, patterns and trait bounds (`crate::engine::report::now()`,
//!   `super::super::x::Y`), paths that start with a child module's name, and `crate::`/`super::`/
//!   `self::` chains found by scanning macro bodies token by token (`format!("{}", crate::x::y())`).
//!
//! What it skips, deliberately:
//! - Test code: items under `#[cfg(test)]` (or `cfg(all(test, …))`), including `#[cfg(test)] mod
//!   tests;` files and their submodules. Test code is not part of the library, and tests may build
//!   fixtures from any layer. The files are still walked, so they count as reached.
//! - Attributes and doc comments, visibilities (`pub(in crate::x)`), paths that begin with `::` or
//!   with an external crate, and paths through a name brought in by `use` (`use crate::engine::stage;
//!   stage::X`): the `use` itself is the counted reference.
//! - Features: `#[cfg(feature = …)]` code is read like any other.
//!
//! Cost: one parse of each file (about 150 files, well under a second); no build of the crate.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// The library's crate name, as `src/main.rs` writes it.
const LIB_NAME: &str = "dagr";

/// One line of the rule table: references from modules under `from` to paths under `to`.
/// A prefix is a module path such as `engine::stage`; `*` matches every module.
pub struct Rule {
    pub from: &'static str,
    pub to: &'static str,
    pub allow: bool,
    pub why: &'static str,
}

pub const fn allow(from: &'static str, to: &'static str, why: &'static str) -> Rule {
    Rule { from, to, allow: true, why }
}

pub const fn deny(from: &'static str, to: &'static str, why: &'static str) -> Rule {
    Rule { from, to, allow: false, why }
}

/// One reference from a module to a crate path.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The file, relative to the checked crate's root (`src/vcf/writer/mod.rs`).
    pub file: String,
    pub line: usize,
    /// The referencing module (`vcf::writer`; `main` for `src/main.rs`, empty for `src/lib.rs`).
    pub from: Vec<String>,
    /// The absolute target below `crate` (`call::types::CalledVariant`).
    pub to: Vec<String>,
    /// The path as written (`super::super::call::types::CalledVariant`).
    pub written: String,
}

pub struct Violation<'r> {
    pub reference: Reference,
    /// The rule that denies it; `None` when no rule matches (not allowed means denied).
    pub rule: Option<&'r Rule>,
}

pub struct Report<'r> {
    pub references: Vec<Reference>,
    pub violations: Vec<Violation<'r>>,
    /// Parse errors, module files not found, and `.rs` files under `src/` that no `mod` reaches.
    pub problems: Vec<String>,
}

/// Walks `root/src` and judges every reference between layer units against `rules`.
/// Within a unit (the first segment of a module path) every reference is allowed. Across units,
/// the rule whose `to` prefix is longest wins, then the one whose `from` prefix is longest, and
/// on a full tie `deny` wins; a reference no rule matches is denied.
pub fn check<'r>(root: &Path, rules: &'r [Rule]) -> Report<'r> {
    let mut walk = Walk {
        root: root.to_path_buf(),
        crate_root: Vec::new(),
        lib_alias: None,
        references: Vec::new(),
        problems: Vec::new(),
        reached: HashSet::new(),
    };
    let src = root.join("src");
    for (name, crate_root, lib_alias) in [("lib.rs", vec![], None), ("main.rs", vec!["main".into()], Some(LIB_NAME))] {
        if src.join(name).exists() {
            (walk.crate_root, walk.lib_alias) = (crate_root, lib_alias);
            walk.file(src.join(name), walk.crate_root.clone(), true, false);
        }
    }
    for file in rust_files(&src) {
        if !walk.reached.contains(&file) {
            walk.problems.push(format!(
                "{}: no `mod` reaches this file (dead code, or a module form this checker does not follow)",
                walk.rel(&file)
            ));
        }
    }
    let violations = walk.references.iter().filter_map(|r| {
        let rule = judge(rules, &r.from, &r.to);
        let allowed = unit(&r.from) == unit(&r.to) || rule.is_some_and(|rule| rule.allow);
        (!allowed).then(|| Violation { reference: r.clone(), rule })
    });
    let mut seen = BTreeSet::new();
    let violations = violations
        .filter(|v| seen.insert((v.reference.file.clone(), v.reference.line, v.reference.to.clone())))
        .collect();
    Report { references: walk.references, violations, problems: walk.problems }
}

/// The layer unit of a path: its top-level module, or `crate` for the root module and its items
/// (`VERSION`; a lowercase root function would count as a module).
pub fn unit(path: &[String]) -> &str {
    match path.first() {
        Some(first) if first.starts_with(|c: char| c.is_lowercase()) => first,
        _ => "crate",
    }
}

fn judge<'r>(rules: &'r [Rule], from: &[String], to: &[String]) -> Option<&'r Rule> {
    let matched = |prefix: &str, path: &[String]| -> Option<usize> {
        if prefix == "*" {
            return Some(0);
        }
        let parts: Vec<&str> = prefix.split("::").collect();
        (parts.len() <= path.len() && parts.iter().zip(path).all(|(a, b)| a == b)).then_some(parts.len())
    };
    rules
        .iter()
        .filter_map(|rule| Some(((matched(rule.to, to)?, matched(rule.from, from)?, !rule.allow), rule)))
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, rule)| rule)
}

/// Per referencing unit, the units it references and how often (references within a unit left out).
pub fn graph(references: &[Reference]) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut graph: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in references {
        let (from, to) = (unit(&r.from), unit(&r.to));
        if from != to {
            *graph.entry(from.to_string()).or_default().entry(to.to_string()).or_default() += 1;
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

struct Walk {
    root: PathBuf,
    /// The crate being walked: `[]` for the library, `[main]` for the binary, whose `dagr::` paths
    /// (`lib_alias`) name the library.
    crate_root: Vec<String>,
    lib_alias: Option<&'static str>,
    references: Vec<Reference>,
    problems: Vec<String>,
    reached: HashSet<PathBuf>,
}

impl Walk {
    fn rel(&self, file: &Path) -> String {
        file.strip_prefix(&self.root).unwrap_or(file).display().to_string()
    }

    /// Reads one module file and, depth first, the module files it declares. `mod_rs`: the file
    /// holds its children in its own folder (`lib.rs`, `main.rs`, `mod.rs`, a `#[path]` target).
    fn file(&mut self, file: PathBuf, module: Vec<String>, mod_rs: bool, in_test: bool) {
        if !self.reached.insert(file.clone()) {
            return;
        }
        let parsed = fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| syn::parse_file(&text).map_err(|e| format!("line {}: {e}", e.span().start().line)));
        let ast = match parsed {
            Ok(ast) => ast,
            Err(e) => return self.problems.push(format!("{}: cannot parse: {e}", self.rel(&file))),
        };
        let folder = file.parent().unwrap_or(Path::new("")).to_path_buf();
        let child_dir = if mod_rs { folder.clone() } else { folder.join(file.file_stem().unwrap_or_default()) };
        let mut visitor = Visitor {
            file: self.rel(&file),
            file_dir: folder,
            scopes: vec![Scope { module: module.clone(), children: mod_names(&ast.items), dir: child_dir }],
            crate_root: self.crate_root.clone(),
            lib_alias: self.lib_alias,
            in_test,
            references: &mut self.references,
            pending: Vec::new(),
        };
        visitor.visit_file(&ast);
        let pending = visitor.pending;
        for Pending { candidates, module, mod_rs, in_test, declared } in pending {
            match candidates.iter().position(|c| c.exists()) {
                Some(i) => self.file(candidates[i].clone(), module, mod_rs || i == 1, in_test),
                None => self.problems.push(format!("{declared}: module file not found: {}", self.rel(&candidates[0]))),
            }
        }
    }
}

/// A `mod x;` to load after the current file: the files that may hold it, in order.
struct Pending {
    candidates: Vec<PathBuf>,
    module: Vec<String>,
    mod_rs: bool,
    in_test: bool,
    declared: String,
}

/// A module being visited: its path, the names of its child modules, the folder of their files.
struct Scope {
    module: Vec<String>,
    children: HashSet<String>,
    dir: PathBuf,
}

struct Visitor<'w> {
    file: String,
    file_dir: PathBuf,
    scopes: Vec<Scope>,
    crate_root: Vec<String>,
    lib_alias: Option<&'static str>,
    in_test: bool,
    references: &'w mut Vec<Reference>,
    pending: Vec<Pending>,
}

fn mod_names(items: &[syn::Item]) -> HashSet<String> {
    items.iter().filter_map(|i| if let syn::Item::Mod(m) = i { Some(m.ident.to_string()) } else { None }).collect()
}

/// `#[cfg(test)]` or `#[cfg(all(…, test, …))]`; `cfg(not(test))` and `cfg(any(test, …))` are not test-only.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let syn::Meta::List(list) = &a.meta else { return false };
        let tokens = list.tokens.to_string().replace(' ', "");
        a.path().is_ident("cfg")
            && (tokens == "test"
                || (tokens.starts_with("all(") && tokens.split([',', '(', ')']).any(|t| t == "test"))
                    && !tokens.contains("not("))
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
            ..
        }) => Some(s.value()),
        _ => None,
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

impl Visitor<'_> {
    /// The absolute path (below the library's `crate`) that `segments` names, if it is in the crate.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let scope = self.scopes.last()?;
        let (base, rest) = match segments.first()?.as_str() {
            "crate" => (self.crate_root.clone(), &segments[1..]),
            first if Some(first) == self.lib_alias => (Vec::new(), &segments[1..]),
            "self" | "super" => {
                let mut base = scope.module.clone();
                let skip = usize::from(segments[0] == "self");
                let supers = segments[skip..].iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    base.pop()?;
                }
                (base, &segments[skip + supers..])
            }
            first if scope.children.contains(first) => (scope.module.clone(), segments),
            _ => return None,
        };
        let path: Vec<String> = base.into_iter().chain(rest.iter().cloned()).collect();
        (!path.is_empty()).then_some(path)
    }

    fn record(&mut self, segments: &[String], span: Span) {
        if self.in_test {
            return;
        }
        if let Some(to) = self.resolve(segments) {
            let from = self.scopes.last().map(|s| s.module.clone()).unwrap_or_default();
            self.references.push(Reference {
                file: self.file.clone(),
                line: span.start().line,
                from,
                to,
                written: segments.join("::"),
            });
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let leaf = |this: &mut Self, prefix: &mut Vec<String>, ident: &syn::Ident| {
            let is_self = ident == "self";
            if !is_self {
                prefix.push(ident.to_string());
            }
            this.record(prefix, ident.span());
            if !is_self {
                prefix.pop();
            }
        };
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => leaf(self, prefix, &n.ident),
            syn::UseTree::Rename(r) => leaf(self, prefix, &r.ident),
            syn::UseTree::Glob(g) => self.record(prefix, g.star_token.spans[0]),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    /// Finds `a::b::c` chains in a macro body (syn does not parse macro arguments).
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let colons = |i: usize| matches!((tokens.get(i), tokens.get(i + 1)), (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':');
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Ident(first) if !(i >= 2 && colons(i - 2)) => {
                    let mut segments = vec![first.to_string()];
                    while colons(i + 1) && matches!(tokens.get(i + 3), Some(TokenTree::Ident(_))) {
                        segments.push(tokens[i + 3].to_string());
                        i += 3;
                    }
                    if segments.len() > 1 {
                        self.record(&segments, first.span());
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        match item {
            syn::Item::Mod(m) => self.visit_item_mod(m),
            _ if is_test(item_attrs(item)) => {}
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_test(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let in_test = self.in_test || is_test(&m.attrs);
        let Some(scope) = self.scopes.last() else { return };
        let module: Vec<String> = scope.module.iter().cloned().chain([m.ident.to_string()]).collect();
        let name = path_attr(&m.attrs).unwrap_or_else(|| m.ident.to_string());
        match &m.content {
            Some((_, items)) => {
                let dir = scope.dir.join(&name);
                let outer = std::mem::replace(&mut self.in_test, in_test);
                self.scopes.push(Scope { module, children: mod_names(items), dir });
                items.iter().for_each(|item| self.visit_item(item));
                self.scopes.pop();
                self.in_test = outer;
            }
            None => {
                let declared = format!("{}:{}", self.file, m.ident.span().start().line);
                let (candidates, mod_rs) = match path_attr(&m.attrs) {
                    Some(p) if self.scopes.len() == 1 => (vec![self.file_dir.join(p)], true),
                    Some(p) => (vec![scope.dir.join(p)], true),
                    None => (vec![scope.dir.join(format!("{name}.rs")), scope.dir.join(&name).join("mod.rs")], false),
                };
                self.pending.push(Pending { candidates, module, mod_rs, in_test, declared });
            }
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.record(&segments, path.segments[0].ident.span());
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        self.scan_tokens(mac.tokens.clone());
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}
