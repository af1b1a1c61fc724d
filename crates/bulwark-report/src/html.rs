//! The HTML report: one self-contained page (inline CSS, no scripts, a
//! Content-Security-Policy that forbids fetching anything) rendered by
//! minijinja with HTML auto-escaping, so every piece of case text is escaped
//! where it is interpolated.

use std::sync::OnceLock;

use minijinja::Environment;

use crate::view::Report;

const TEMPLATE: &str = include_str!("report.html");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // The `.html` name turns HTML auto-escaping on.
        env.add_template("report.html", TEMPLATE)
            .expect("the built-in report template parses");
        env
    })
}

pub fn render(report: &Report) -> Result<String, minijinja::Error> {
    env()
        .get_template("report.html")?
        .render(minijinja::context! { r => report })
}
