//! `/healthz` (process up) and `/readyz` (the database takes a write), as a load balancer
//! checks them: ready, then not ready while another process holds the database's write lock,
//! then ready again; a crowd of checks costs the database one check a second.

use std::str::FromStr;
use std::time::{Duration, Instant};

use kefu_testkit::server::Server;
use kefu_testkit::{eventually, http};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

fn get(server: &Server, path: &str) -> (u16, String) {
    let mut response = http().get(&server.url(path)).call().expect("GET");
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_until_the_database_cannot_take_a_write_and_again_after() {
    let server = Server::start();
    assert_eq!(get(&server, "/healthz"), (200, "ok".to_owned()));
    assert_eq!(get(&server, "/readyz"), (200, "ready".to_owned()));

    // Another process takes the database's write lock and keeps it.
    let url = format!("sqlite://{}", server.database.display());
    let mut other = SqliteConnectOptions::from_str(&url).expect("url").connect().await.expect("connect");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.expect("take the write lock");
    let refused = eventually("readyz says not ready", Duration::from_secs(10), || async {
        let (status, body) = tokio::task::spawn_blocking({
            let url = server.url("/readyz");
            move || {
                let mut response = http().get(&url).call().expect("GET");
                (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
            }
        })
        .await
        .expect("join");
        (status == 503).then_some(body)
    })
    .await;
    assert!(refused.contains("database"), "says why: {refused}");
    // Still alive, only not ready.
    assert_eq!(get(&server, "/healthz"), (200, "ok".to_owned()));
    // A crowd of checks while the database is stuck: each fresh check waits up to 2 s, so 200
    // of them one after another would take 400 s; answered from one check a second, they
    // take a few seconds.
    let url = server.url("/readyz");
    let started = Instant::now();
    let answers: Vec<u16> = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let callers: Vec<_> = (0..8)
                .map(|_| {
                    let url = url.clone();
                    scope.spawn(move || {
                        (0..25)
                            .map(|_| http().get(&url).call().map(|r| r.status().as_u16()).unwrap_or(0))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            callers.into_iter().flat_map(|c| c.join().expect("caller")).collect()
        })
    })
    .await
    .expect("join");
    let took = started.elapsed();
    assert_eq!(answers.len(), 200);
    assert!(answers.iter().all(|&status| status == 503), "{answers:?}");
    assert!(took < Duration::from_secs(30), "200 checks took {took:?}: not answered from one check a second");

    sqlx::query("ROLLBACK").execute(&mut other).await.expect("give the lock back");
    other.close().await.expect("close");
    eventually("ready again", Duration::from_secs(10), || async {
        let (status, _) = get(&server, "/readyz");
        (status == 200).then_some(())
    })
    .await;
}
