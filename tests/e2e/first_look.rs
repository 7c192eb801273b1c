//! What a person sees first (reference server): the service's name and greeting set by the
//! operator, one status that says both the link and whether an agent is there, messages under
//! day headings with short times and the agent's name, a composer that takes several lines;
//! in the console, who is signed in, an availability switch, alert switches that read as
//! off rather than disabled, and short relative times beside full names.

use fantoccini::{Client, Locator};
use kefu_testkit::browser::with_sessions;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, fantoccini, AGENT};

async fn text_of(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).text().await.expect("text")
}

async fn attr_of(client: &Client, css: &str, name: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).attr(name).await.expect("attr")
}

/// A script's answer as a string.
async fn eval(client: &Client, script: &str) -> String {
    let value = page::run(client, script, vec![]).await;
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_page_greets_and_says_one_status() {
    let server = Server::start_with(&[
        "--service-name-en",
        "Acme Help",
        "--welcome-en",
        "Hi! Ask <b>us</b> anything.",
    ]);
    let user_url = server.named_user_url(41, Some("Ann Example"), "lang=en");
    let agent_url = server.url("/agent?lang=en");
    let sessions = [("en-US", (375, 667)), ("en-US", (1280, 800))];
    with_sessions(&sessions, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_online(user, &user_url).await;
        assert_eq!(text_of(user, ".bar .title").await, "Acme Help");
        assert_eq!(text_of(user, "[data-welcome]").await, "Hi! Ask <b>us</b> anything.", "as text");
        // Nobody there: one amber message, not "Online" beside a warning.
        eventually("agents away", LOAD, || async {
            (attr_of(user, "[role=status]", "data-agents").await.as_deref() == Some("away")).then_some(())
        })
        .await;
        assert_eq!(text_of(user, "[role=status]").await, kefu_core::i18n::EN.agents_away);
        assert!(!page::shown(user, ".away").await, "no second, contradicting banner");

        page::open_console(agent, &agent_url).await;
        eventually("agents online", LOAD, || async {
            (attr_of(user, "[role=status]", "data-agents").await.as_deref() == Some("online")).then_some(())
        })
        .await;
        assert_eq!(text_of(user, "[role=status]").await, kefu_core::i18n::EN.agents_here);

        // Shift+Enter makes a new line, Enter sends (a desktop keyboard).
        let input = user.find(Locator::Css("textarea.composer-input")).await.expect("a textarea");
        input.send_keys("line one\u{E008}\u{E007}\u{E000}line two\u{E007}").await.expect("type");
        page::wait_message(user, "me", "line one\nline two", "sent").await;
        page::open_conversation(agent, 41).await;
        page::wait_message(agent, "user", "line one\nline two", "sent").await;
        page::type_and_send(agent, "Hello Ann").await;
        page::wait_message(user, "agent", "Hello Ann", "sent").await;

        // Grouped under "Today", short times with the full one on hover, the agent named.
        assert_eq!(text_of(user, "[role=log] .day").await, "Today");
        let time = text_of(user, "[role=log] [data-from=me] .msg-time").await;
        assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{time}");
        let full = attr_of(user, "[role=log] [data-from=me] .msg-time", "title").await.expect("title");
        assert_eq!((full.len(), &full[11..16]), (19, time.as_str()), "{full}");
        assert_eq!(text_of(user, "[role=log] [data-from=agent] .msg-name").await, AGENT);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_says_who_is_signed_in_and_reads_like_a_console() {
    let server = Server::start();
    let long_name = "Maximilian Alexander Featherstonehaugh-Worthington";
    let user_url = server.named_user_url(42, Some(long_name), "lang=en");
    let agent_url = server.url("/agent?lang=en");
    let sessions = [("en-US", (375, 667)), ("en-US", (1280, 800))];
    with_sessions(&sessions, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_user_and_console(user, &user_url, agent, &agent_url).await;
        assert_eq!(attr_of(agent, ".signed-in", "data-agent").await.as_deref(), Some(AGENT));
        assert!(text_of(agent, ".signed-in").await.contains(AGENT));

        // Availability, in the agents' words.
        let switch = ".bar button.availability[role=switch]";
        assert_eq!(text_of(agent, switch).await, "Available");
        agent.find(Locator::Css(switch)).await.expect("switch").click().await.expect("go away");
        eventually("away", LOAD, || async {
            (attr_of(agent, switch, "aria-checked").await.as_deref() == Some("false")).then_some(())
        })
        .await;
        assert_eq!(text_of(agent, switch).await, "Away");
        agent.find(Locator::Css(switch)).await.expect("switch").click().await.expect("come back");
        page::wait_status(agent, "online", LOAD).await;

        // An alert switch that is off looks off (a grey track), not disabled (faded text).
        let look = "const b = document.querySelector('button.sound-switch'); \
             return [getComputedStyle(b).opacity, getComputedStyle(b.querySelector('.switch-track')).backgroundColor, \
             getComputedStyle(b).color, b.getAttribute('aria-pressed')].join('|');";
        let off = eval(agent, look).await;
        assert!(off.starts_with("1|") && off.ends_with("|false"), "{off}");
        agent.find(Locator::Css("button.sound-switch")).await.expect("sound").click().await.expect("on");
        let on = eventually("sound on", LOAD, || async {
            let on = eval(agent, look).await;
            on.ends_with("|true").then_some(on)
        })
        .await;
        let track = |s: &str| s.split('|').nth(1).map(str::to_owned);
        assert_ne!(track(&off), track(&on), "the track changes colour");
        assert_eq!(off.split('|').nth(2), on.split('|').nth(2), "the label stays as readable");

        // The list: the whole name, and a short relative time with the full one on hover.
        page::type_and_send(user, "hi").await;
        let row = "button.conversation-item[data-uid='42']";
        eventually("the row's preview", LOAD, || async {
            text_of(agent, &format!("{row} .conversation-preview")).await.contains("hi").then_some(())
        })
        .await;
        assert_eq!(text_of(agent, &format!("{row} .conversation-name")).await, long_name);
        let clipped = eval(
            agent,
            "const n = document.querySelector(\"button.conversation-item[data-uid='42'] .conversation-name\"); \
             return String(n.scrollWidth > n.clientWidth);",
        )
        .await;
        assert_eq!(clipped, "false", "the name is not cut");
        assert_eq!(text_of(agent, &format!("{row} .conversation-time")).await, "now");
        let full = attr_of(agent, &format!("{row} .conversation-time"), "title").await.expect("title");
        assert_eq!(full.len(), 19, "{full}");

        // The open conversation has a header naming the user, and whether they are online.
        page::open_conversation(agent, 42).await;
        eventually("the conversation's header", LOAD, || async {
            (text_of(agent, ".conversation-header .conversation-title").await == long_name).then_some(())
        })
        .await;
        assert_eq!(attr_of(agent, ".conversation-header", "data-uid").await.as_deref(), Some("42"));
        assert_eq!(attr_of(agent, ".conversation-header .conversation-presence", "data-online").await.as_deref(), Some("true"));
    })
    .await;
}
