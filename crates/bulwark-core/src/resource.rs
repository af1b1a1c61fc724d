use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use crate::{BoxFuture, CallContext, ResourceBody, ToolError};

/// One item of a `resources/read` result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContent {
    pub uri: String,
    pub mime_type: Option<String>,
    pub body: ResourceBody,
}

/// What reading a resource yields.
pub type ReadResult = Result<Vec<ResourceContent>, ToolError>;

/// Reads a resource. `vars` holds the values of a template's `{placeholders}`
/// (empty for a fixed resource).
pub trait ResourceHandler: Send + Sync + 'static {
    fn read(
        &self,
        ctx: CallContext,
        uri: String,
        vars: BTreeMap<String, String>,
    ) -> BoxFuture<ReadResult>;
}

impl<F, Fut> ResourceHandler for F
where
    F: Fn(CallContext, String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ReadResult> + Send + 'static,
{
    fn read(
        &self,
        ctx: CallContext,
        uri: String,
        vars: BTreeMap<String, String>,
    ) -> BoxFuture<ReadResult> {
        Box::pin(self(ctx, uri, vars))
    }
}

/// A fixed resource, declared once.
#[derive(Clone)]
pub struct ResourceDef {
    pub uri: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub title: Option<Cow<'static, str>>,
    pub description: Option<Cow<'static, str>>,
    pub mime_type: Option<Cow<'static, str>>,
    pub profiles: Vec<Cow<'static, str>>,
    pub handler: Arc<dyn ResourceHandler>,
}

/// A family of resources addressed by an RFC 6570 level-1 template such as
/// `test://template/{id}/data`.
#[derive(Clone)]
pub struct ResourceTemplateDef {
    pub uri_template: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub title: Option<Cow<'static, str>>,
    pub description: Option<Cow<'static, str>>,
    pub mime_type: Option<Cow<'static, str>>,
    pub profiles: Vec<Cow<'static, str>>,
    pub handler: Arc<dyn ResourceHandler>,
}

impl ResourceTemplateDef {
    /// Match a URI against the template and return the placeholder values.
    ///
    /// Hand-written because only level-1 templates (`{name}` expanding to one
    /// path segment) are used, and a full RFC 6570 crate buys nothing for that.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut vars = BTreeMap::new();
        let mut rest = uri;
        let mut template = self.uri_template.as_ref();
        while let Some(open) = template.find('{') {
            let literal = &template[..open];
            rest = rest.strip_prefix(literal)?;
            let close = template[open..].find('}')? + open;
            let name = &template[open + 1..close];
            template = &template[close + 1..];
            // The value runs to the next literal character of the template.
            let stop = template.chars().next();
            let end = match stop {
                Some(c) => rest.find(c)?,
                None => rest.len(),
            };
            let value = &rest[..end];
            if value.is_empty() || value.contains('/') {
                return None;
            }
            vars.insert(name.to_string(), value.to_string());
            rest = &rest[end..];
        }
        (rest == template).then_some(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(t: &'static str) -> ResourceTemplateDef {
        ResourceTemplateDef {
            uri_template: t.into(),
            name: "t".into(),
            title: None,
            description: None,
            mime_type: None,
            profiles: vec![],
            handler: Arc::new(
                |_c: CallContext, _u: String, _v: BTreeMap<String, String>| async { Ok(vec![]) },
            ),
        }
    }

    #[test]
    fn level_one_templates_match_one_segment() {
        let t = template("test://template/{id}/data");
        assert_eq!(t.matches("test://template/42/data").unwrap()["id"], "42");
        assert!(t.matches("test://template//data").is_none());
        assert!(t.matches("test://template/a/b/data").is_none());
        assert!(t.matches("test://template/42/other").is_none());
        assert!(t.matches("test://static-text").is_none());
        let t = template("file:///{name}");
        assert_eq!(t.matches("file:///x.txt").unwrap()["name"], "x.txt");
    }
}
