use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::profile::valid_profile_name;
use crate::{
    ALL_PROFILE, CORE_PROFILE, ProfileDef, ProfileError, ProfileFile, ProfileSet, PromptDef,
    ResourceDef, ResourceTemplateDef, ToolDef,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("tool `{0}` is declared twice")]
    DuplicateTool(String),
    #[error("tool name `{0}` is not allowed: use 1-128 characters from A-Z a-z 0-9 _ - . :")]
    BadToolName(String),
    #[error("resource `{0}` is declared twice")]
    DuplicateResource(String),
    #[error("prompt `{0}` is declared twice")]
    DuplicatePrompt(String),
    #[error("unknown profile `{name}`; valid profiles: {}", valid.join(", "))]
    UnknownProfile { name: String, valid: Vec<String> },
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Collects declarations from every domain crate, then freezes them.
#[derive(Default)]
pub struct RegistryBuilder {
    upstream: Option<Arc<dyn UpstreamTools>>,
    tools: Vec<ToolDef>,
    resources: Vec<ResourceDef>,
    templates: Vec<ResourceTemplateDef>,
    prompts: Vec<PromptDef>,
    descriptions: BTreeMap<String, (String, bool)>,
}

impl RegistryBuilder {
    pub fn tool(&mut self, tool: ToolDef) -> &mut Self {
        self.tools.push(tool);
        self
    }

    pub fn tools(&mut self, tools: impl IntoIterator<Item = ToolDef>) -> &mut Self {
        self.tools.extend(tools);
        self
    }

    pub fn resource(&mut self, resource: ResourceDef) -> &mut Self {
        self.resources.push(resource);
        self
    }

    pub fn resource_template(&mut self, template: ResourceTemplateDef) -> &mut Self {
        self.templates.push(template);
        self
    }

    pub fn prompt(&mut self, prompt: PromptDef) -> &mut Self {
        self.prompts.push(prompt);
        self
    }

    /// Describe a built-in profile. `isolated` profiles get no `core` tools and
    /// stay out of `all`.
    /// Where `server:tool` entries of profiles files come from (the gateway).
    pub fn upstream_tools(&mut self, source: Arc<dyn UpstreamTools>) -> &mut Self {
        self.upstream = Some(source);
        self
    }

    pub fn profile(&mut self, name: &str, description: &str, isolated: bool) -> &mut Self {
        self.descriptions
            .insert(name.to_string(), (description.to_string(), isolated));
        self
    }

    /// Freeze the declarations with the built-in profiles, then apply a profiles
    /// file if one is given.
    pub fn build(self, file: Option<&ProfileFile>) -> Result<Registry, RegistryError> {
        let mut tools = BTreeMap::new();
        for tool in self.tools {
            if !valid_tool_name(&tool.name) {
                return Err(RegistryError::BadToolName(tool.name.into_owned()));
            }
            let name = tool.name.to_string();
            if tools.insert(name.clone(), tool).is_some() {
                return Err(RegistryError::DuplicateTool(name));
            }
        }
        let mut seen = BTreeSet::new();
        for uri in self
            .resources
            .iter()
            .map(|r| &r.uri)
            .chain(self.templates.iter().map(|t| &t.uri_template))
        {
            if !seen.insert(uri.to_string()) {
                return Err(RegistryError::DuplicateResource(uri.to_string()));
            }
        }
        let mut seen = BTreeSet::new();
        for prompt in &self.prompts {
            if !seen.insert(prompt.name.to_string()) {
                return Err(RegistryError::DuplicatePrompt(prompt.name.to_string()));
            }
        }

        // Built-in profiles: every profile a declaration names, plus described ones.
        let mut set = ProfileSet::default();
        let ensure = |set: &mut ProfileSet, name: &str| {
            set.profiles.entry(name.to_string()).or_insert_with(|| {
                let (description, isolated) = self
                    .descriptions
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| (format!("Tools in the `{name}` profile"), false));
                ProfileDef {
                    name: name.to_string(),
                    description,
                    tools: BTreeSet::new(),
                    isolated,
                }
            });
        };
        ensure(&mut set, CORE_PROFILE);
        for name in self.descriptions.keys() {
            ensure(&mut set, name);
        }
        for tool in tools.values() {
            for profile in &tool.profiles {
                if profile == ALL_PROFILE || !valid_profile_name(profile) {
                    return Err(ProfileError::BadName(profile.to_string()).into());
                }
                ensure(&mut set, profile);
                if let Some(def) = set.profiles.get_mut(profile.as_ref()) {
                    def.tools.insert(tool.name.to_string());
                }
            }
        }
        if let Some(file) = file {
            let known: BTreeSet<String> = tools.keys().cloned().collect();
            set.apply(file, &known)?;
        }

        let registry = Registry {
            upstream: self.upstream,
            tools,
            resources: self.resources,
            templates: self.templates,
            prompts: self.prompts,
            profile_set: set,
            resolved: BTreeMap::new(),
        };
        Ok(registry.resolve_all())
    }
}

/// MCP tool names: 1-128 characters, letters, digits, `_`, `-`, `.`; bulwark also
/// allows `:` for gateway tools named `server:tool`.
fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Every declaration, frozen, with each profile resolved once.
pub struct Registry {
    upstream: Option<Arc<dyn UpstreamTools>>,
    tools: BTreeMap<String, ToolDef>,
    resources: Vec<ResourceDef>,
    templates: Vec<ResourceTemplateDef>,
    prompts: Vec<PromptDef>,
    profile_set: ProfileSet,
    resolved: BTreeMap<String, Arc<Profile>>,
}

/// Tools that come and go at run time: the gateway's upstream tools, placed in
/// profiles by `server:tool` or `server:*` entries of a profiles file. Only
/// tools that may be called now (approved, not blocked) are offered.
pub trait UpstreamTools: Send + Sync + 'static {
    /// The tools matching any of `patterns`, sorted by name.
    fn list(&self, patterns: &[String]) -> Vec<ToolDef>;
    /// The tool called `name`, when it may be offered now.
    fn get(&self, name: &str) -> Option<ToolDef>;
}

/// A resolved profile: what one MCP endpoint offers, in listing order.
#[derive(Clone)]
pub struct Profile {
    /// `server:tool` / `server:*` entries, matched against [`Profile::upstream`].
    pub upstream_patterns: Vec<String>,
    upstream: Option<Arc<dyn UpstreamTools>>,
    pub name: String,
    pub description: String,
    pub isolated: bool,
    /// Sorted by name: listing order is deterministic.
    pub tools: Vec<ToolDef>,
    index: HashMap<String, usize>,
    pub resources: Vec<ResourceDef>,
    pub templates: Vec<ResourceTemplateDef>,
    pub prompts: Vec<PromptDef>,
}

impl Profile {
    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.index.get(name).map(|&i| &self.tools[i])
    }

    /// Whether this profile places upstream tools (its listing changes at run time).
    pub fn has_upstream_tools(&self) -> bool {
        self.upstream.is_some() && !self.upstream_patterns.is_empty()
    }

    /// The upstream tools this profile offers now.
    pub fn upstream_tools(&self) -> Vec<ToolDef> {
        match &self.upstream {
            Some(source) if !self.upstream_patterns.is_empty() => {
                source.list(&self.upstream_patterns)
            }
            _ => Vec::new(),
        }
    }

    /// The upstream tool `name`, if this profile places it and it may be called now.
    pub fn upstream_tool(&self, name: &str) -> Option<ToolDef> {
        let source = self.upstream.as_ref()?;
        self.upstream_patterns
            .iter()
            .any(|p| crate::profile::upstream_pattern_matches(p, name))
            .then(|| source.get(name))
            .flatten()
    }

    /// Where a tool sits in the listing order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn prompt(&self, name: &str) -> Option<&PromptDef> {
        self.prompts.iter().find(|p| p.name == name)
    }

    pub fn resource(&self, uri: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.uri == uri)
    }
}

impl Registry {
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    fn resolve_all(mut self) -> Self {
        let core = self
            .profile_set
            .profiles
            .get(CORE_PROFILE)
            .map(|p| p.tools.clone())
            .unwrap_or_default();
        let mut all_tools = BTreeSet::new();
        let mut all_members = BTreeSet::new();
        let mut resolved = BTreeMap::new();
        for (name, def) in &self.profile_set.profiles {
            let mut names = def.tools.clone();
            let mut members = BTreeSet::from([name.clone()]);
            if !def.isolated {
                names.extend(core.iter().cloned());
                members.insert(CORE_PROFILE.to_string());
                all_tools.extend(names.iter().cloned());
                all_members.insert(name.clone());
            }
            resolved.insert(
                name.clone(),
                Arc::new(self.make_profile(name, &def.description, def.isolated, &names, &members)),
            );
        }
        all_members.insert(CORE_PROFILE.to_string());
        let all = self.make_profile(
            ALL_PROFILE,
            "Every tool of every profile except isolated ones",
            false,
            &all_tools,
            &all_members,
        );
        resolved.insert(ALL_PROFILE.to_string(), Arc::new(all));
        self.resolved = resolved;
        self
    }

    fn make_profile(
        &self,
        name: &str,
        description: &str,
        isolated: bool,
        tool_names: &BTreeSet<String>,
        members: &BTreeSet<String>,
    ) -> Profile {
        let tools: Vec<ToolDef> = tool_names
            .iter()
            .filter_map(|n| self.tools.get(n).cloned())
            .collect();
        let upstream_patterns: Vec<String> = tool_names
            .iter()
            .filter(|n| n.contains(':') && !self.tools.contains_key(n.as_str()))
            .cloned()
            .collect();
        let index = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.to_string(), i))
            .collect();
        let belongs = |profiles: &[std::borrow::Cow<'static, str>]| {
            profiles.iter().any(|p| members.contains(p.as_ref()))
        };
        let mut resources: Vec<ResourceDef> = self
            .resources
            .iter()
            .filter(|r| belongs(&r.profiles))
            .cloned()
            .collect();
        resources.sort_by(|a, b| a.uri.cmp(&b.uri));
        let mut templates: Vec<ResourceTemplateDef> = self
            .templates
            .iter()
            .filter(|t| belongs(&t.profiles))
            .cloned()
            .collect();
        templates.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
        let mut prompts: Vec<PromptDef> = self
            .prompts
            .iter()
            .filter(|p| belongs(&p.profiles))
            .cloned()
            .collect();
        prompts.sort_by(|a, b| a.name.cmp(&b.name));
        Profile {
            upstream: self.upstream.clone(),
            upstream_patterns,
            name: name.to_string(),
            description: description.to_string(),
            isolated,
            tools,
            index,
            resources,
            templates,
            prompts,
        }
    }

    /// The resolved profile, or an error that lists the valid names.
    pub fn profile(&self, name: &str) -> Result<Arc<Profile>, RegistryError> {
        self.resolved
            .get(name)
            .cloned()
            .ok_or_else(|| RegistryError::UnknownProfile {
                name: name.to_string(),
                valid: self.profile_names(),
            })
    }

    /// Every profile name, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        self.resolved.keys().cloned().collect()
    }

    pub fn profiles(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.resolved.values()
    }

    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.tools.get(name)
    }

    /// Every tool, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &ToolDef> {
        self.tools.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileEntry;

    fn tool(name: &'static str, profiles: &[&'static str]) -> ToolDef {
        ToolDef::new(name, "test tool").profiles(profiles)
    }

    fn sample() -> RegistryBuilder {
        let mut b = Registry::builder();
        b.tool(tool("test_tool", &["core"]))
            .tool(tool("get_processes", &["live_investigation"]))
            .tool(tool("isolate_network", &["threat_response"]))
            .tool(tool(
                "is_isolated",
                &["live_investigation", "threat_response"],
            ))
            .tool(tool("test_simple_text", &["conformance"]))
            .profile("conformance", "fixtures", true);
        b
    }

    fn names(p: &Profile) -> Vec<&str> {
        p.tools.iter().map(|t| t.name.as_ref()).collect()
    }

    /// Upstream tools as the gateway would offer them: `srv:a`, `srv:b`, `other:c`.
    struct FakeUpstream;

    impl UpstreamTools for FakeUpstream {
        fn list(&self, patterns: &[String]) -> Vec<ToolDef> {
            ["other:c", "srv:a", "srv:b"]
                .into_iter()
                .filter(|n| {
                    patterns
                        .iter()
                        .any(|p| crate::upstream_pattern_matches(p, n))
                })
                .map(|n| ToolDef::new(n, "upstream"))
                .collect()
        }
        fn get(&self, name: &str) -> Option<ToolDef> {
            ["other:c", "srv:a", "srv:b"]
                .contains(&name)
                .then(|| ToolDef::new(name.to_owned(), "upstream"))
        }
    }

    fn file_with(tools: &[&str]) -> ProfileFile {
        let mut file = ProfileFile::default();
        file.profiles.insert(
            "ops".into(),
            ProfileEntry {
                tools: tools.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            },
        );
        file
    }

    #[test]
    fn upstream_tools_are_placed_by_pattern_and_resolved_at_call_time() {
        let mut b = sample();
        b.upstream_tools(Arc::new(FakeUpstream));
        let r = b
            .build(Some(&file_with(&["get_processes", "srv:*", "other:c"])))
            .unwrap();
        let ops = r.profile("ops").unwrap();
        assert_eq!(names(&ops), ["get_processes", "test_tool"], "static part");
        assert!(ops.has_upstream_tools());
        let listed: Vec<String> = ops
            .upstream_tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(listed, ["other:c", "srv:a", "srv:b"]);
        assert!(ops.upstream_tool("srv:b").is_some());
        assert!(
            ops.upstream_tool("srv:zzz").is_none(),
            "placed but not offered"
        );
        // `all` is the union: it places them too; other profiles do not.
        assert!(r.profile("all").unwrap().upstream_tool("srv:a").is_some());
        let live = r.profile("live_investigation").unwrap();
        assert!(!live.has_upstream_tools());
        assert!(live.upstream_tool("srv:a").is_none());

        let r = sample().build(Some(&file_with(&["srv:a"]))).unwrap();
        let ops = r.profile("ops").unwrap();
        assert!(
            ops.upstream_tool("srv:a").is_none(),
            "no source, nothing offered"
        );
        assert!(ops.upstream_tools().is_empty());
    }

    #[test]
    fn malformed_upstream_patterns_are_refused_with_the_shape_to_use() {
        for bad in [
            "srv:", ":tool", "srv:a:b", "s rv:a", "srv:a*", "srv:*x", "a@b:c",
        ] {
            let err = sample().build(Some(&file_with(&[bad]))).err().unwrap();
            let text = err.to_string();
            assert!(text.contains("SERVER:TOOL"), "{bad}: {text}");
            assert!(text.contains(bad), "{bad}: {text}");
        }
        assert!(crate::upstream_pattern_matches("srv:*", "srv:x"));
        assert!(!crate::upstream_pattern_matches("srv:*", "srv2:x"));
        assert!(!crate::upstream_pattern_matches("srv:*", "srv:"));
        assert!(crate::upstream_pattern_matches("srv:x", "srv:x"));
        assert!(!crate::upstream_pattern_matches("srv:x", "srv:xy"));
    }

    #[test]
    fn core_joins_every_profile_but_isolated_ones() {
        let r = sample().build(None).unwrap();
        assert_eq!(
            names(&r.profile("live_investigation").unwrap()),
            ["get_processes", "is_isolated", "test_tool"]
        );
        assert_eq!(
            names(&r.profile("conformance").unwrap()),
            ["test_simple_text"]
        );
        assert_eq!(
            names(&r.profile("all").unwrap()),
            [
                "get_processes",
                "is_isolated",
                "isolate_network",
                "test_tool"
            ]
        );
    }

    #[test]
    fn unknown_profile_lists_valid_ones() {
        let r = sample().build(None).unwrap();
        let err = r.profile("nope").err().unwrap().to_string();
        assert!(err.contains("unknown profile `nope`"), "{err}");
        assert!(
            err.contains("all, conformance, core, live_investigation, threat_response"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_and_malformed_names_are_rejected() {
        let mut b = sample();
        b.tool(tool("test_tool", &["core"]));
        assert_eq!(
            b.build(None).err().unwrap(),
            RegistryError::DuplicateTool("test_tool".into())
        );
        let mut b = sample();
        b.tool(tool("bad name", &["core"]));
        assert!(matches!(b.build(None), Err(RegistryError::BadToolName(_))));
        let mut b = sample();
        b.tool(tool("x", &["all"]));
        assert!(matches!(
            b.build(None),
            Err(RegistryError::Profile(ProfileError::BadName(_)))
        ));
    }

    #[test]
    fn profiles_file_adds_and_replaces_profiles() {
        let mut file = ProfileFile::default();
        file.profiles.insert(
            "triage".into(),
            ProfileEntry {
                description: Some("first look".into()),
                include: vec!["live_investigation".into()],
                exclude: vec!["is_isolated".into()],
                ..Default::default()
            },
        );
        file.profiles.insert(
            "threat_response".into(),
            ProfileEntry {
                tools: vec!["isolate_network".into()],
                ..Default::default()
            },
        );
        let r = sample().build(Some(&file)).unwrap();
        let triage = r.profile("triage").unwrap();
        assert_eq!(names(&triage), ["get_processes", "test_tool"]);
        assert_eq!(triage.description, "first look");
        assert_eq!(
            names(&r.profile("threat_response").unwrap()),
            ["isolate_network", "test_tool"]
        );
        // `all` still unions everything, including the new profile.
        assert!(names(&r.profile("all").unwrap()).contains(&"is_isolated"));
    }

    #[test]
    fn profiles_file_errors_say_what_is_wrong() {
        let parse = |text: &str| -> Result<Registry, RegistryError> {
            let file: ProfileFile = toml::from_str(text).unwrap();
            sample().build(Some(&file))
        };
        let err = parse("[profiles.x]\ntools = [\"no_such_tool\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("unknown tool `no_such_tool`") && err.contains("get_processes"),
            "{err}"
        );
        let err = parse("[profiles.x]\ninclude = [\"nope\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown profile `nope`"), "{err}");
        let err = parse("[profiles.all]\ntools = []")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("union"), "{err}");
        let err = parse("[profiles.Bad]\ntools = []")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not allowed"), "{err}");
        assert!(toml::from_str::<ProfileFile>("[profiles.x]\ntoolz = []").is_err());
    }

    #[test]
    fn listing_order_is_deterministic() {
        let a = sample().build(None).unwrap();
        let mut b = Registry::builder();
        // Same declarations in reverse order.
        b.tool(tool("test_simple_text", &["conformance"]))
            .tool(tool(
                "is_isolated",
                &["live_investigation", "threat_response"],
            ))
            .tool(tool("isolate_network", &["threat_response"]))
            .tool(tool("get_processes", &["live_investigation"]))
            .tool(tool("test_tool", &["core"]))
            .profile("conformance", "fixtures", true);
        let b = b.build(None).unwrap();
        for name in a.profile_names() {
            assert_eq!(
                names(&a.profile(&name).unwrap()),
                names(&b.profile(&name).unwrap())
            );
        }
    }
}
