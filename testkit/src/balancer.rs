//! HAProxy (Debian's package) in front of test servers, run with the repository's own
//! `deploy/haproxy.cfg` on a free port, stopped by PID.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, repo_root};

pub struct Balancer {
    pub port: u16,
    child: Child,
}

impl Balancer {
    /// HAProxy on a free port in front of the server listening on `server_port`; returns
    /// once it accepts connections.
    pub fn start(server_port: u16) -> Balancer {
        let port = free_port();
        let config = repo_root().join("deploy/haproxy.cfg");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("KEFU_LB_BIND", format!("127.0.0.1:{port}"))
            .env("KEFU_SERVER_1", format!("127.0.0.1:{server_port}"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start haproxy (scripts/setup.sh --balancer installs it)");
        let balancer = Balancer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        balancer
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn ws_url(&self, uid: &str) -> String {
        format!("ws://127.0.0.1:{}{}{uid}", self.port, kefu_protocol::ENDPOINT_PREFIX)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
