//! The pages through WebDriver, by role: [`find`] reads what a page shows, [`act`] does what a
//! person does, [`check`] waits until a page shows something. They rely on the stable hooks
//! documented in docs/architecture.md; the scripts they run are in [`scripts`];
//! [`accessible`] checks a page against WCAG 2.1 AA with axe-core.

pub mod accessible;
pub mod act;
pub mod check;
pub mod find;
pub mod scripts;

use std::time::Duration;

pub use accessible::assert_accessible;
pub use act::*;
pub use check::*;
pub use find::*;

/// How long a page may take to show what a test waits for.
pub const LOAD: Duration = Duration::from_secs(20);

/// Runs `script` in the page with `args`; panics when the page cannot run it.
pub async fn run(
    client: &fantoccini::Client,
    script: &str,
    args: Vec<serde_json::Value>,
) -> serde_json::Value {
    client.execute(script, args).await.unwrap_or_else(|err| panic!("run a script in the page: {err}"))
}
