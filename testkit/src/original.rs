//! The original backend (its endpoint logic on Tomcat 9) as a process on a free port, for the
//! pages' compatibility tests: built once per test run into `target/original-classes`,
//! started with Debian's Java, stopped (or signalled) by PID. It is not our code, so it is not
//! in this repository: it is taken from `../shared/original-backend/` beside the clone (where
//! CI has it), or from the folder `KEFU_ORIGINAL_BACKEND` names; where neither holds it, a
//! test that needs it fails and says where it looked.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{free_port, repo_root};

fn classes_dir() -> PathBuf {
    repo_root().join("target/original-classes")
}

/// The environment variable that names the original backend's folder.
pub const ORIGINAL_BACKEND_VAR: &str = "KEFU_ORIGINAL_BACKEND";

/// Where the original backend's folder is (its `build.sh`, `run.sh`, `src/`), or why not.
pub fn backend_dir() -> Result<PathBuf, String> {
    backend_dir_from(std::env::var_os(ORIGINAL_BACKEND_VAR))
}

fn backend_dir_from(named: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let dir = match named {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/original-backend"),
    };
    if dir.join("build.sh").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "the original backend is not at {} (no build.sh): it is not part of this repository; \
             put shared/original-backend beside the clone or set {ORIGINAL_BACKEND_VAR} to its folder",
            dir.display()
        ))
    }
}

/// Compiles the original backend once per test process (a few seconds).
fn build() -> &'static Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = classes_dir();
        // Several test binaries may build at once: each into a folder of its own, then moved.
        let staging = dir.with_extension(format!("build-{}", std::process::id()));
        let output = Command::new("sh")
            .arg(backend_dir()?.join("build.sh"))
            .env("ORIGINAL_CLASSES_DIR", &staging)
            .output()
            .map_err(|err| format!("cannot run the original backend's build: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "building the original backend failed (scripts/setup.sh --original installs Java and Tomcat 9): {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir).or_else(|_| if dir.join("classpath.txt").is_file() { Ok(()) } else { Err(()) })
            .map_err(|()| "cannot place the original backend's classes".to_owned())?;
        Ok(dir)
    })
}

/// A running original backend.
pub struct Original {
    child: Child,
    pub port: u16,
    work: PathBuf,
}

impl Original {
    /// Starts it on a free port and waits until it says READY.
    pub fn start() -> Original {
        Original::start_on(free_port())
    }

    fn start_on(port: u16) -> Original {
        let classes = build().as_ref().unwrap_or_else(|err| panic!("{err}"));
        let classpath = std::fs::read_to_string(classes.join("classpath.txt")).expect("classpath");
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let work = std::env::temp_dir().join(format!("kefu-original-{}-{port}-{n}", std::process::id()));
        std::fs::create_dir_all(&work).expect("work folder");
        let mut child = Command::new("java")
            .arg("-Dfile.encoding=UTF-8")
            .arg("-cp")
            .arg(format!("{}:{}", classes.display(), classpath.trim()))
            .args(["original.Main", &port.to_string(), "127.0.0.1"])
            .env("ORIGINAL_WORK_DIR", &work)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start java (scripts/setup.sh --original installs it)");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("READY") => break,
                Some(Ok(_)) => {}
                _ => {
                    let _ = child.kill();
                    panic!("the original backend did not start");
                }
            }
            assert!(Instant::now() < deadline, "the original backend took too long to start");
        }
        std::thread::spawn(move || lines.for_each(drop));
        Original { child, port, work }
    }

    /// The WebSocket base for `?server=`.
    pub fn ws_base(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, kefu_protocol::ENDPOINT_PREFIX)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal`, unless it has already ended (its PID may belong to another process).
    pub fn signal(&mut self, signal: i32) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe {
                libc::kill(self.pid(), signal);
            }
        }
    }

    /// Waits for it to end after a signal.
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }

    /// Starts it again on the same port (after it stopped).
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpListener::bind(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "port {} stays busy", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        let fresh = Original::start_on(self.port);
        let old = std::mem::replace(self, fresh);
        drop(old);
    }
}

impl Drop for Original {
    fn drop(&mut self) {
        // A stopped (SIGSTOP) JVM must be woken to die.
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_original_backend_is_said_with_where_it_was_looked_for() {
        let empty = std::env::temp_dir().join(format!("kefu-no-original-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("folder");
        let err = backend_dir_from(Some(empty.clone().into())).expect_err("no build.sh there");
        assert!(err.contains(&empty.display().to_string()) && err.contains(ORIGINAL_BACKEND_VAR), "{err}");
        let _ = std::fs::remove_dir(&empty);
        // Beside the clone, where CI lays shared/, it is found.
        if repo_root().join("../shared/original-backend/build.sh").is_file() {
            assert!(backend_dir_from(None).is_ok());
        }
    }
}
