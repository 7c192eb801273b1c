//! Not a check run in CI: stages a conversation and saves the README screenshots.
//! `cargo test -p kefu --test e2e readme_screenshots -- --ignored` (after scripts/build.sh).

use fantoccini::Locator;
use kefu_testkit::browser::with_sessions;
use kefu_testkit::fantoccini;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;

/// Not a check run in CI: stages a conversation and saves the README screenshots.
/// `cargo test -p kefu --test e2e readme_screenshots -- --ignored` (after scripts/build.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn readme_screenshots() {
    let server = Server::start();
    // Users of an embedding app, signed in under their names.
    let named = |uid: i64, name: &str| server.named_user_url(uid, Some(name), "lang=zh");
    let (user_url, other_url, agent_url) = (named(5, "王芳"), named(6, "李明"), server.url("/agent?lang=zh"));
    let sessions = [("zh-CN", (390, 720)), ("zh-CN", (390, 720)), ("zh-CN", (1100, 640))];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
    with_sessions(&sessions, move |browsers| async move {
        let (user, other, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        std::fs::create_dir_all(&dir).expect("docs/img");
        agent.goto(&agent_url).await.expect("agent");
        agent.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("sign-in form");
        std::fs::write(dir.join("sign-in.png"), agent.screenshot().await.expect("shot")).expect("write");
        page::open_console(agent, &agent_url).await;
        user.goto(&user_url).await.expect("user");
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
        std::fs::write(dir.join("user-page.png"), user.screenshot().await.expect("shot")).expect("write");
        std::fs::write(dir.join("agent-console.png"), agent.screenshot().await.expect("shot"))
            .expect("write");
    })
    .await;
}
