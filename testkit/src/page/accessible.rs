//! The accessibility check of every page and state: axe-core (npm `axe-core`, installed by
//! `scripts/setup.sh --browser` into `.tools/axe-core`) injected into the page and run with the
//! WCAG 2.1 A and AA rules; any violation fails the test, with what and where.

use std::sync::OnceLock;

use fantoccini::Client;

use super::run;
use crate::repo_root;

/// axe-core's script, read once.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = repo_root().join(".tools/axe-core/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!("axe-core is not at {} ({err}): run scripts/setup.sh --browser", path.display())
        })
    })
}

/// Runs axe-core on the page as it is now (WCAG 2.1 A/AA); the violations, one line each.
pub async fn violations(client: &Client) -> Vec<String> {
    // Injected once per document: a reload or a new page needs it again.
    run(client, "if (!window.axe) { (0, eval)(arguments[0]); } return true;", vec![axe_source().into()])
        .await;
    let found = run(
        client,
        "return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }) \
           .then(r => r.violations.flatMap(v => v.nodes.map(n => \
             v.id + ' (' + v.impact + '): ' + n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\\s+/g, ' '))));",
        vec![],
    )
    .await;
    serde_json::from_value(found).unwrap_or_else(|err| panic!("axe-core's answer: {err}"))
}

/// Fails the test if the page, as it is now (`state` says which), breaks a WCAG 2.1 A/AA rule.
pub async fn assert_accessible(client: &Client, state: &str) {
    let found = violations(client).await;
    assert!(found.is_empty(), "accessibility (axe-core, WCAG 2.1 AA) of {state}:\n{}", found.join("\n"));
}
