//! The team inbox in the console, two agents in two browsers and a visitor in a third: the
//! views and their counts, who has each conversation, take, a private note (seen by the other
//! agent, never by the visitor, not even after a reload), canned replies (`/` + shortcut
//! inserts the text with the visitor's name, never sends; edited in one console, the other's
//! picker follows), resolve by key and reopen by the visitor's message, the keys' help
//! overlay, and axe-core over it all.

use fantoccini::{Client, Locator};
use kefu_testkit::browser::with_browsers;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, fantoccini, AGENT_PASSWORD};

/// A view's count as the console shows it.
async fn count(agent: &Client, view: &str) -> String {
    let script = "const c = document.querySelector(`.view[data-view='${arguments[0]}'] .view-count`); \
                  return c ? c.dataset.count : null;";
    page::run(agent, script, vec![view.into()]).await.as_str().unwrap_or_default().to_owned()
}

async fn wait_count(agent: &Client, view: &str, want: &str) {
    eventually(&format!("{view} count {want}"), LOAD, || async {
        (count(agent, view).await == want).then_some(())
    })
    .await
}

/// `data-assignee` of the open conversation's actions.
async fn assignee(agent: &Client) -> String {
    let script = "const a = document.querySelector('.team-actions'); return a ? a.dataset.assignee : null;";
    page::run(agent, script, vec![]).await.as_str().unwrap_or_default().to_owned()
}

async fn click(agent: &Client, css: &str) {
    let button =
        agent.wait().at_most(LOAD).for_element(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
    button.click().await.unwrap_or_else(|err| panic!("click {css}: {err}"));
}

async fn type_into(agent: &Client, css: &str, text: &str) {
    let field =
        agent.wait().at_most(LOAD).for_element(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
    field.send_keys(text).await.unwrap_or_else(|err| panic!("type into {css}: {err}"));
}

/// The notes in the open conversation (text of each).
async fn notes(client: &Client) -> Vec<String> {
    page::messages(client)
        .await
        .into_iter()
        .filter(|(from, ..)| from == "note")
        .map(|(_, text, _)| text)
        .collect()
}

/// Until `agent` shows the note `text` as stored (no longer *sending*).
async fn wait_note_stored(agent: &Client, text: &str) {
    eventually(&format!("the note {text:?} stored"), LOAD, || async {
        let shown = page::messages(agent).await;
        shown
            .iter()
            .any(|(from, shown, delivery)| from == "note" && shown == text && delivery != "sending")
            .then_some(())
    })
    .await
}

/// The canned replies the picker offers (shortcuts).
async fn picker(agent: &Client) -> Vec<String> {
    let script = "return [...document.querySelectorAll('.canned-option')].map(o => o.dataset.shortcut + '=' + o.textContent);";
    serde_json::from_value(page::run(agent, script, vec![]).await).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_share_the_inbox_with_notes_canned_replies_and_keys() {
    let server = Server::start();
    // In English, so the timeline's words are known.
    let mei_url = server.url("/agent?lang=en");
    let agent_url = server.url("/agent?lang=en");
    let user_url = server.named_user_url(91, Some("Xiao Ming"), "");
    // A second agent account, with room for none by auto-assignment: the first gets the visitor.
    server.add_agent("mei", Some(0)).await;
    with_browsers(3, move |browsers| async move {
        let (user, agent, mei) = (&browsers[0], &browsers[1], &browsers[2]);
        page::open_console(agent, &agent_url).await;
        mei.goto(&mei_url).await.expect("open mei's console");
        page::sign_in(mei, "mei", AGENT_PASSWORD).await;
        page::wait_status(agent, "online", LOAD).await;
        page::wait_status(mei, "online", LOAD).await;

        page::open_online(user, &user_url).await;
        page::type_and_send(user, "my parcel never came").await;
        page::wait_message(user, "me", "my parcel never came", "sent").await;
        // Auto-assigned to the one with room; both consoles count it.
        wait_count(agent, "mine", "1").await;
        wait_count(mei, "all", "1").await;
        wait_count(mei, "mine", "0").await;
        page::open_conversation(mei, 91).await;
        eventually("mei sees who has it", LOAD, || async { (assignee(mei).await == "agent").then_some(()) })
            .await;
        page::assert_accessible(mei, "console with the team inbox").await;

        // The agent writes a private note.
        page::open_conversation(agent, 91).await;
        click(agent, ".mode-note").await;
        type_into(agent, ".composer-input", "VIP customer, refund approved\n").await;
        wait_note_stored(agent, "VIP customer, refund approved").await;
        eventually("mei sees the note", LOAD, || async {
            notes(mei).await.contains(&"VIP customer, refund approved".to_owned()).then_some(())
        })
        .await;
        // A reply after it reaches the visitor; the note never does, live or after a reload.
        click(agent, ".mode-reply").await;
        type_into(agent, ".composer-input", "We are on it\n").await;
        page::wait_message(user, "agent", "We are on it", "sent").await;
        assert!(!page::texts(user).await.iter().any(|t| t.contains("VIP")), "the visitor saw the note");
        user.refresh().await.expect("reload");
        page::wait_status(user, "online", LOAD).await;
        page::wait_message(user, "agent", "We are on it", "sent").await;
        assert!(
            !page::texts(user).await.iter().any(|t| t.contains("VIP")),
            "the note came back after a reload"
        );
        let html = user.source().await.expect("page source");
        assert!(!html.contains("VIP customer"), "the note is nowhere in the visitor's page");

        // Canned replies: the agent adds one; mei's picker offers it, Enter inserts it filled.
        click(agent, ".canned-toggle").await;
        type_into(agent, ".canned-shortcut", "thanks").await;
        type_into(agent, ".canned-text", "Thank you, {name}!").await;
        click(agent, ".canned-save").await;
        page::assert_accessible(agent, "canned replies open").await;
        type_into(mei, ".composer-input", "/than").await;
        eventually("mei's picker offers it", LOAD, || async {
            picker(mei).await.iter().any(|o| o.starts_with("thanks=")).then_some(())
        })
        .await;
        type_into(mei, ".composer-input", "\n").await;
        eventually("the text is inserted, the name filled in", LOAD, || async {
            (page::input_value(mei).await == "Thank you, Xiao Ming!").then_some(())
        })
        .await;
        // Inserted, not sent.
        assert!(!page::texts(user).await.iter().any(|t| t.contains("Thank you")));
        // Edited in the agent's console: mei's picker shows the change.
        click(agent, ".canned-item[data-shortcut='thanks'] .canned-edit").await;
        let text = agent.find(Locator::Css(".canned-text")).await.expect("text field");
        text.clear().await.expect("clear");
        text.send_keys("Many thanks, {name}.").await.expect("type");
        click(agent, ".canned-save").await;
        let input = mei.find(Locator::Css(".composer-input")).await.expect("input");
        input.clear().await.expect("clear");
        input.send_keys("/thanks").await.expect("type");
        eventually("mei's picker follows the edit", LOAD, || async {
            picker(mei).await.iter().any(|o| o.contains("Many thanks")).then_some(())
        })
        .await;
        input.clear().await.expect("clear");

        // Keys: `?` opens the help (checked by axe-core), Esc closes it; `e` resolves.
        let row = agent.find(Locator::Css("button.conversation-item[data-uid='91']")).await.expect("row");
        row.send_keys("?").await.expect("press ?");
        agent.wait().at_most(LOAD).for_element(Locator::Css(".overlay[role=dialog]")).await.expect("help");
        page::assert_accessible(agent, "keyboard help").await;
        click(agent, ".close-help").await;
        let row = agent.find(Locator::Css("button.conversation-item[data-uid='91']")).await.expect("row");
        row.send_keys("e").await.expect("press e");
        wait_count(agent, "resolved", "1").await;
        wait_count(mei, "resolved", "1").await;
        // The timeline says so, to agents (the console's language is the browser's: English).
        eventually("the resolution in the timeline", LOAD, || async {
            page::team_events(agent).await.iter().any(|e| e == "Resolved by agent").then_some(())
        })
        .await;
        wait_count(agent, "mine", "0").await;
        // The visitor writes again: reopened, back to the same agent.
        page::type_and_send(user, "still nothing").await;
        wait_count(agent, "mine", "1").await;
        wait_count(agent, "resolved", "0").await;
        let rows = page::conversation_rows(agent).await;
        assert!(rows.iter().any(|(uid, _)| uid == "91"), "back in the list: {rows:?}");
        eventually("the reopening in the timeline", LOAD, || async {
            page::team_events(agent).await.iter().any(|e| e == "Reopened: new message").then_some(())
        })
        .await;

        // The agent gives it back: mei has no room for auto-assignment, so it waits
        // unassigned (never bounced back to the agent); mei takes it.
        let select = agent.find(Locator::Css(".team-actions select.assign")).await.expect("assign");
        select.select_by_value("").await.expect("give it back");
        wait_count(mei, "unassigned", "1").await;
        page::open_conversation(mei, 91).await;
        click(mei, ".team-actions .take").await;
        eventually("the agent sees mei has it", LOAD, || async {
            (assignee(agent).await == "mei").then_some(())
        })
        .await;
        wait_count(agent, "mine", "0").await;
        wait_count(mei, "mine", "1").await;
        wait_count(agent, "unassigned", "0").await;
        // And hands it back to the agent with the list.
        let select = mei.find(Locator::Css(".team-actions select.assign")).await.expect("assign");
        select.select_by_value("agent").await.expect("hand it over");
        wait_count(agent, "mine", "1").await;
    })
    .await;
}

/// What the console keeps of its notes in the browser (each key's value).
const KEPT_NOTES: &str =
    "return Object.keys(localStorage).filter(k => k.startsWith('kefu.notes.')).map(k => localStorage.getItem(k));";

/// A note written while the chat server is down waits in the browser: it is still there
/// after a reload, and is stored once when the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_written_offline_survives_a_reload_and_is_stored_once() {
    let (pages, url, agent_url, (control_task, control)) = crate::pages_apart_from_chat(93);
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "my order is late").await;
        page::open_console(agent, &agent_url).await;
        page::open_conversation(agent, 93).await;
        page::wait_message(agent, "user", "my order is late", "sent").await;

        control.ask("kill").await;
        page::wait_status(agent, "offline", LOAD).await;
        click(agent, ".mode-note").await;
        type_into(agent, ".composer-input", "written offline\n").await;
        page::wait_message(agent, "note", "written offline", "sending").await;
        // Reloaded while the server is down, then opened again once it is back: the note
        // reaches it from what the browser kept, nothing else had it.
        agent.refresh().await.expect("reload");
        eventually("the console page loaded again", LOAD, || async {
            let script = "return !!document.querySelector('.agent-page, form.sign-in');";
            page::run(agent, script, vec![]).await.as_bool().filter(|loaded| *loaded)
        })
        .await;
        let kept = page::run(agent, KEPT_NOTES, vec![]).await;
        assert!(kept.to_string().contains("written offline"), "kept: {kept}");
        control.ask("start").await;
        page::open_console(agent, &agent_url).await;
        page::wait_status(agent, "online", LOAD).await;
        page::open_conversation(agent, 93).await;
        wait_note_stored(agent, "written offline").await;
        // Once: after another reload, one note, and nothing left waiting.
        agent.refresh().await.expect("reload");
        page::open_conversation(agent, 93).await;
        page::wait_message(agent, "user", "my order is late", "sent").await;
        eventually("the stored note shown once", LOAD, || async {
            let notes = notes(agent).await;
            (notes == ["written offline"]).then_some(())
        })
        .await;
        let kept = page::run(agent, KEPT_NOTES, vec![]).await;
        assert_eq!(kept, serde_json::json!(["[]"]), "nothing left waiting in the browser");
    })
    .await;
    control_task.abort();
    drop(pages);
}
