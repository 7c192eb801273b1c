//! The restart storm in small (the benchmark runs it with 10,000 clients): a few hundred
//! clients chatting, the release server killed with SIGKILL and started again; every client
//! must come back by itself (the web app's own connection state machine) and resume, and
//! every message written before, during and after must be stored exactly once.

use std::process::Command;

#[test]
fn every_client_resumes_after_a_kill_and_nothing_is_lost_or_doubled() {
    let server = kefu_testkit::server::release_binary();
    let output = Command::new(env!("CARGO_BIN_EXE_kefu-load"))
        .args(["--storm", "--clients", "300", "--storm-chat-every-ms", "2000", "--storm-down-ms", "1000"])
        .arg("--server-bin")
        .arg(&server)
        .output()
        .expect("run kefu-load");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "storm failed: {report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("clients back (ready) of 301: 301"), "{report}");
    let written: usize = report
        .lines()
        .find_map(|l| l.strip_prefix("messages written "))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("messages written");
    assert!(written >= 300, "the clients were chatting: {written}");
    assert!(report.contains("lost 0, doubled 0; clients unverified 0"), "{report}");
}
