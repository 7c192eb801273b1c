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
        Balancer::run("deploy/haproxy.cfg", &[server_port])
    }

    /// HAProxy in front of three instances (`deploy/haproxy-cluster.cfg`).
    pub fn start_cluster(server_ports: [u16; 3]) -> Balancer {
        Balancer::run("deploy/haproxy-cluster.cfg", &server_ports)
    }

    fn run(config: &str, server_ports: &[u16]) -> Balancer {
        let port = free_port();
        let mut command = Command::new("haproxy");
        command.arg("-db").arg("-f").arg(repo_root().join(config));
        command.env("KEFU_LB_BIND", format!("127.0.0.1:{port}"));
        for (n, server_port) in server_ports.iter().enumerate() {
            command.env(format!("KEFU_SERVER_{}", n + 1), format!("127.0.0.1:{server_port}"));
        }
        let child = command
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
