//! A throwaway PostgreSQL (Debian's package, `scripts/setup.sh --postgres`) for tests: one
//! cluster per test process, started on first use on a free port in a temporary folder,
//! stopped by PID when the process exits; every caller gets a fresh database in it. A test
//! that restarts PostgreSQL starts one of its own ([`Own`]).
//! PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::free_port;

struct Cluster {
    port: u16,
    dir: PathBuf,
    pid: i32,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The URL of a new, empty database (`postgres://kefu@127.0.0.1:PORT/NAME`).
pub fn fresh_database(name: &str) -> String {
    let cluster = CLUSTER.get_or_init(start);
    let n = DATABASES.fetch_add(1, Ordering::Relaxed);
    let database: String = format!("{name}_{n}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let port = cluster.port.to_string();
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "kefu",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
        ])
        .arg(format!("CREATE DATABASE {database}"))
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "create database {database}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("postgres://kefu@127.0.0.1:{}/{database}", cluster.port)
}

/// Stops the cluster (immediate shutdown) and removes its folder; runs at process exit.
extern "C" fn stop() {
    if let Some(cluster) = CLUSTER.get() {
        // SAFETY: kill(2) on the postmaster this process started.
        unsafe {
            libc::kill(cluster.pid, libc::SIGQUIT);
        }
        let _ = std::fs::remove_dir_all(&cluster.dir);
    }
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(Result::ok).map(|entry| entry.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").is_file());
    versions.sort();
    versions.pop().expect("no PostgreSQL in /usr/lib/postgresql: run scripts/setup.sh --postgres")
}

/// Runs `program` with `args`, as the `postgres` user when this process is root.
fn run(program: &Path, args: &[&str]) {
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    let output = command.args(args).output().expect("run a PostgreSQL program");
    assert!(
        output.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start() -> Cluster {
    let cluster = start_in(&std::env::temp_dir().join(format!("kefu-postgres-{}", std::process::id())));
    // SAFETY: registers a plain function; it runs once, at exit.
    unsafe {
        libc::atexit(stop);
    }
    cluster
}

/// A PostgreSQL cluster of a test's own, which it may restart; stopped and removed when
/// dropped. (The shared one serves every other test of the process and stays up.)
pub struct Own {
    cluster: Cluster,
}

impl Own {
    pub fn start(name: &str) -> Own {
        let dir = std::env::temp_dir().join(format!("kefu-postgres-{}-{name}", std::process::id()));
        Own { cluster: start_in(&dir) }
    }

    /// Its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://kefu@127.0.0.1:{}/postgres", self.cluster.port)
    }

    /// An outage: the server stopped at once (as if it crashed), until [`Own::start_again`].
    pub fn stop(&mut self) {
        let data = self.cluster.dir.join("data").display().to_string();
        run(&bin_dir().join("pg_ctl"), &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Back after [`Own::stop`], on the same port.
    pub fn start_again(&mut self) {
        let data = self.cluster.dir.join("data").display().to_string();
        let log = self.cluster.dir.join("log").display().to_string();
        let options = options(self.cluster.port, &self.cluster.dir);
        run(&bin_dir().join("pg_ctl"), &["-D", &data, "-o", &options, "-l", &log, "-w", "start"]);
        self.cluster.pid = postmaster_pid(&self.cluster.dir.join("data"));
    }

    /// A fast stop (clients disconnected, transactions rolled back) and a start on the same
    /// port: what a restart by the operator does.
    pub fn restart(&mut self) {
        let data = self.cluster.dir.join("data").display().to_string();
        run(&bin_dir().join("pg_ctl"), &["-D", &data, "-m", "fast", "-w", "stop"]);
        let log = self.cluster.dir.join("log").display().to_string();
        let options = options(self.cluster.port, &self.cluster.dir);
        run(&bin_dir().join("pg_ctl"), &["-D", &data, "-o", &options, "-l", &log, "-w", "start"]);
        self.cluster.pid = postmaster_pid(&self.cluster.dir.join("data"));
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the postmaster this test started.
        unsafe {
            libc::kill(self.cluster.pid, libc::SIGQUIT);
        }
        let _ = std::fs::remove_dir_all(&self.cluster.dir);
    }
}

fn options(port: u16, dir: &Path) -> String {
    // Tests never survive a power cut: no waiting for the disk (a killed server's commits are
    // still kept by the operating system).
    format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        dir.display()
    )
}

fn postmaster_pid(data: &Path) -> i32 {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok())
        .expect("the postmaster's PID")
}

fn start_in(dir: &Path) -> Cluster {
    let bin = bin_dir();
    let dir = dir.to_path_buf();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cluster folder");
    if unsafe { libc::geteuid() } == 0 {
        let status = Command::new("chown").arg("postgres").arg(&dir).status().expect("chown");
        assert!(status.success(), "chown postgres {}", dir.display());
    }
    let data = dir.join("data");
    let data_arg = data.display().to_string();
    run(&bin.join("initdb"), &["-D", &data_arg, "-A", "trust", "-U", "kefu", "--no-sync", "-E", "UTF8"]);
    let port = free_port();
    let options = options(port, &dir);
    let log = dir.join("log").display().to_string();
    run(&bin.join("pg_ctl"), &["-D", &data_arg, "-o", &options, "-l", &log, "-w", "start"]);
    let pid = postmaster_pid(&data);
    Cluster { port, dir, pid }
}
