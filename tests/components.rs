//! Component tests in headless Chromium (wasm-bindgen-test): the stable hooks that tests and
//! assistive technology rely on, and text rendered as text.
#![cfg(target_arch = "wasm32")]

use kefu::{MessageList, StatusIndicator};
use kefu_core::connection::Status;
use kefu_core::i18n::EN;
use kefu_core::timeline::{Delivery, Entry, From};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::HtmlElement {
    let document = document();
    let element = document.create_element("div").expect("create div");
    document.body().expect("body").append_child(&element).expect("append");
    element.unchecked_into()
}

/// Lets effects and DOM updates run.
async fn settle() {
    gloo_timers::future::TimeoutFuture::new(20).await;
}

fn entry(id: u64, from: From, text: &str, delivery: Delivery) -> Entry {
    Entry {
        id,
        from,
        uid: 5,
        username: "user5".into(),
        avatar: String::new(),
        time: "2026-11-26 10:00:00".into(),
        text: text.into(),
        delivery,
        ..Entry::default()
    }
}

#[wasm_bindgen_test]
async fn status_indicator_has_role_state_and_a_text_label() {
    let root = container();
    let state = RwSignal::new((Status::Connecting, false));
    leptos::mount::mount_to(root.clone(), move || {
        view! {
            <StatusIndicator
                status=Signal::derive(move || state.get().0)
                label=Signal::derive(move || { let (s, r) = state.get(); EN.status_label(s, r).to_owned() })
            />
        }
    })
    .forget();
    settle().await;
    let status = root.query_selector("[role=status]").expect("query").expect("status element");
    assert_eq!(status.get_attribute("data-state").as_deref(), Some("connecting"));
    assert_eq!(status.text_content().as_deref(), Some(EN.connecting));

    state.set((Status::Online, false));
    settle().await;
    assert_eq!(status.get_attribute("data-state").as_deref(), Some("online"));
    assert_eq!(status.text_content().as_deref(), Some(EN.online));

    state.set((Status::Offline, true));
    settle().await;
    assert_eq!(status.get_attribute("data-state").as_deref(), Some("offline"));
    assert_eq!(status.text_content().as_deref(), Some(EN.reconnecting));
}

#[wasm_bindgen_test]
async fn message_list_marks_senders_and_delivery_and_renders_markup_as_text() {
    let root = container();
    let entries = RwSignal::new(vec![
        entry(1, From::Agent, "hello", Delivery::Sent),
        entry(2, From::Me, "<b>not bold</b><script>window.__x=1</script>", Delivery::Sending),
        entry(3, From::System, "用户信息不存在!", Delivery::Sent),
    ]);
    let retried = RwSignal::new(None::<u64>);
    leptos::mount::mount_to(root.clone(), move || {
        kefu::use_texts(&EN);
        view! { <MessageList entries=entries.into() on_retry=Callback::new(move |id| retried.set(Some(id))) /> }
    })
    .forget();
    settle().await;
    let log = root.query_selector("[role=log]").expect("query").expect("log element");
    let items = log.query_selector_all("[data-from]").expect("items");
    assert_eq!(items.length(), 3);
    let attrs = |index: u32, name: &str| {
        items.item(index).expect("item").unchecked_into::<web_sys::Element>().get_attribute(name)
    };
    assert_eq!(attrs(0, "data-from").as_deref(), Some("agent"));
    assert_eq!(attrs(1, "data-from").as_deref(), Some("me"));
    assert_eq!(attrs(1, "data-delivery").as_deref(), Some("sending"));
    assert_eq!(attrs(2, "data-from").as_deref(), Some("system"));
    assert!(log.query_selector("b, script").expect("query").is_none(), "markup not interpreted");
    let bubble = log.query_selector("[data-from=me] .bubble").expect("query").expect("bubble");
    assert_eq!(bubble.text_content().as_deref(), Some("<b>not bold</b><script>window.__x=1</script>"));

    // Grouped under the day, with short times (the full one on hover), and the agent's name
    // on the first of their messages.
    let days: Vec<String> = (0..log.query_selector_all(".day").expect("days").length())
        .filter_map(|i| log.query_selector_all(".day").ok()?.item(i)?.text_content())
        .collect();
    assert_eq!(days.len(), 1, "{days:?}");
    assert!(days[0] == "26 Nov" || days[0] == "Today" || days[0] == "Yesterday", "{days:?}");
    let time = log.query_selector("[data-from=agent] .msg-time").expect("query").expect("time");
    assert_eq!(time.text_content().as_deref(), Some("10:00"));
    assert_eq!(time.get_attribute("title").as_deref(), Some("2026-11-26 10:00:00"));
    let name = log.query_selector("[data-from=agent] .msg-name").expect("query").expect("agent name");
    assert_eq!(name.text_content().as_deref(), Some("user5"));

    // A failed message offers a retry that reports its id.
    entries.update(|list| list[1].delivery = Delivery::Failed);
    settle().await;
    let retry =
        log.query_selector("[data-delivery=failed] button.retry").expect("query").expect("retry button");
    retry.unchecked_into::<web_sys::HtmlElement>().click();
    assert_eq!(retried.get_untracked(), Some(2));
}

#[wasm_bindgen_test]
async fn visitor_status_says_connection_and_agents_in_one_place() {
    let root = container();
    let agents = RwSignal::new(None::<bool>);
    let status = RwSignal::new(Status::Online);
    leptos::mount::mount_to(root.clone(), move || {
        view! {
            <StatusIndicator
                status=status.into()
                label=Signal::derive(move || EN.visitor_status(status.get(), false, agents.get()).to_owned())
                agents=agents.into()
                detail=Signal::derive(move || (agents.get() == Some(false)).then(|| EN.away_detail.to_owned()))
            />
        }
    })
    .forget();
    settle().await;
    let element = root.query_selector("[role=status]").expect("query").expect("status");
    assert_eq!(element.get_attribute("data-agents").as_deref(), Some("unknown"));
    assert_eq!(element.get_attribute("data-away"), None);
    agents.set(Some(false));
    settle().await;
    assert_eq!(element.get_attribute("data-agents").as_deref(), Some("away"));
    assert_eq!(element.get_attribute("data-away").as_deref(), Some("true"));
    assert_eq!(element.text_content().as_deref(), Some(EN.agents_away));
    assert_eq!(element.get_attribute("title").as_deref(), Some(EN.away_detail));
    // Offline, the connection is what matters: not "away".
    status.set(Status::Offline);
    settle().await;
    assert_eq!(element.get_attribute("data-away"), None);
    assert_eq!(element.text_content().as_deref(), Some(EN.offline));
    agents.set(Some(true));
    status.set(Status::Online);
    settle().await;
    assert_eq!(element.get_attribute("data-agents").as_deref(), Some("online"));
    assert_eq!(element.text_content().as_deref(), Some(EN.agents_here));
}

#[wasm_bindgen_test]
async fn message_list_greets_first_and_names_each_run_of_agent_messages() {
    let root = container();
    let mut second_agent = entry(3, From::Agent, "me too", Delivery::Sent);
    second_agent.username = "Bo".into();
    let entries = RwSignal::new(vec![
        entry(1, From::Agent, "hello", Delivery::Sent),
        entry(2, From::Agent, "still me", Delivery::Sent),
        second_agent,
    ]);
    leptos::mount::mount_to(root.clone(), move || {
        kefu::use_texts(&EN);
        view! {
            <MessageList
                entries=entries.into()
                on_retry=Callback::new(|_| {})
                welcome=Signal::derive(|| "Welcome <b>in</b>".to_owned())
            />
        }
    })
    .forget();
    settle().await;
    let log = root.query_selector("[role=log]").expect("query").expect("log");
    let first = log.first_element_child().expect("first item");
    assert_eq!(first.get_attribute("data-welcome").as_deref(), Some("true"));
    assert_eq!(first.text_content().as_deref(), Some("Welcome <b>in</b>"), "as text");
    let names = log.query_selector_all(".msg-name").expect("names");
    let names: Vec<String> = (0..names.length()).filter_map(|i| names.item(i)?.text_content()).collect();
    assert_eq!(names, vec!["user5".to_owned(), "Bo".to_owned()]);
}
