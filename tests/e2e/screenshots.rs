//! Not a check run in CI: stages a conversation and saves the README screenshots.
//! `cargo test -p kefu --test e2e readme_screenshots -- --ignored` (after scripts/build.sh).

use fantoccini::Locator;
use kefu_testkit::browser::{with_sessions, Cdp};
use kefu_testkit::fantoccini;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;

/// Not a check run in CI: stages a conversation and saves the README screenshots.
/// `cargo test -p kefu --test e2e readme_screenshots -- --ignored` (after scripts/build.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn readme_screenshots() {
    let server = Server::start_with(&[
        "--service-name-zh",
        "悦购商城客服",
        "--welcome-zh",
        "您好，欢迎来到悦购商城！订单、物流、售后问题都可以在这里问我们，客服一般几分钟内回复。",
    ]);
    // Users of an embedding app, signed in under their names.
    let named = |uid: i64, name: &str| server.named_user_url(uid, Some(name), "lang=zh");
    let (user_url, other_url, agent_url) = (named(5, "王芳"), named(6, "李明"), server.url("/agent?lang=zh"));
    // A phone (375×667) and a desktop console (1280×800).
    let sessions = [("zh-CN", (375, 667)), ("zh-CN", (375, 667)), ("zh-CN", (1280, 800))];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
    with_sessions(&sessions, move |browsers| async move {
        let (user, other, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        std::fs::create_dir_all(&dir).expect("docs/img");
        // Headless windows are at least 500 px wide and lose some height: emulate the screens.
        for (client, (width, height), mobile) in [(user, (375, 667), true), (other, (375, 667), true), (agent, (1280, 800), false)] {
            let metrics = serde_json::json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
            client.issue_cmd(Cdp { cmd: "Emulation.setDeviceMetricsOverride", params: metrics }).await.expect("screen size");
        }
        agent.goto(&agent_url).await.expect("agent");
        agent.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("sign-in form");
        std::fs::write(dir.join("sign-in.png"), agent.screenshot().await.expect("shot")).expect("write");
        // Before any agent is there: the visitor's one status says so.
        user.goto(&user_url).await.expect("user");
        user.wait().at_most(LOAD).for_element(Locator::Css("[data-agents=away]")).await.expect("away");
        std::fs::write(dir.join("user-away.png"), user.screenshot().await.expect("shot")).expect("write");
        page::open_console(agent, &agent_url).await;
        user.wait().at_most(LOAD).for_element(Locator::Css("[data-agents=online]")).await.expect("online");
        other.goto(&other_url).await.expect("other user");
        for client in [agent, user, other] {
            page::wait_status(client, "online", LOAD).await;
        }
        page::type_and_send(user, "你好，我的订单三天了还没发货").await;
        page::type_and_send(other, "请问可以开发票吗？").await;
        page::open_conversation(agent, 5).await;
        page::type_and_send(agent, "您好！我帮您查一下，请稍等 🙏").await;
        page::wait_message(user, "agent", "您好！我帮您查一下，请稍等 🙏", "sent").await;
        page::type_and_send(user, "好的，谢谢 👍").await;
        page::wait_message(agent, "user", "好的，谢谢 👍", "sent").await;
        // Read receipts settle before the pictures.
        kefu_testkit::eventually("the reply read", LOAD, || async {
            page::read_mark(agent, "您好！我帮您查一下，请稍等 🙏").await.then_some(())
        })
        .await;
        std::fs::write(dir.join("user-page.png"), user.screenshot().await.expect("shot")).expect("write");
        std::fs::write(dir.join("agent-console.png"), agent.screenshot().await.expect("shot"))
            .expect("write");
        // The team inbox: a private note under the reply, seen by agents only.
        agent.find(Locator::Css(".mode-note")).await.expect("note switch").click().await.expect("click");
        page::type_and_send(agent, "老客户，已核实订单号 20261207-88，优先处理").await;
        kefu_testkit::eventually("the note stored", LOAD, || async {
            let shown = page::messages(agent).await;
            shown.iter().any(|(from, _, delivery)| from == "note" && delivery != "sending").then_some(())
        })
        .await;
        std::fs::write(dir.join("team-inbox.png"), agent.screenshot().await.expect("shot")).expect("write");

        // Friends: 王芳 adds 李明 by id; he accepts and writes; her list, then their chat.
        for (client, css) in [(user, "[data-tab=friends]"), (other, "[data-tab=friends]")] {
            client.wait().at_most(LOAD).for_element(Locator::Css(css)).await.expect("tab").click().await.expect("click");
        }
        let id = user.wait().at_most(LOAD).for_element(Locator::Css(".add-friend input[name=uid]")).await.expect("id");
        id.send_keys("6").await.expect("type");
        let note = user.find(Locator::Css(".add-friend input[name=note]")).await.expect("note");
        note.send_keys("我是王芳，上次一起拼单的").await.expect("type");
        user.find(Locator::Css(".add-friend button")).await.expect("add").click().await.expect("click");
        let accept = other.wait().at_most(LOAD).for_element(Locator::Css("[data-incoming='5'] .accept")).await.expect("request");
        accept.click().await.expect("accept");
        let row = other.wait().at_most(LOAD).for_element(Locator::Css("[data-friend='5']")).await.expect("friend");
        row.click().await.expect("open");
        page::type_and_send(other, "你好王芳！这家店的发票开好了吗？").await;
        page::wait_message(other, "me", "你好王芳！这家店的发票开好了吗？", "sent").await;
        user.wait().at_most(LOAD).for_element(Locator::Css("[data-friend='6'] .unread")).await.expect("unread");
        std::fs::write(dir.join("friends.png"), user.screenshot().await.expect("shot")).expect("write");
        user.find(Locator::Css("[data-friend='6']")).await.expect("friend").click().await.expect("open");
        page::type_and_send(user, "开好了，刚收到 😄").await;
        page::wait_message(other, "user", "开好了，刚收到 😄", "sent").await;
        kefu_testkit::eventually("read by 李明", LOAD, || async {
            page::read_mark(user, "开好了，刚收到 😄").await.then_some(())
        })
        .await;
        std::fs::write(dir.join("peer-chat.png"), user.screenshot().await.expect("shot")).expect("write");
    })
    .await;
}
