//! Checking agents' passwords with bounded resources. Argon2id is meant to be expensive (the
//! default costs 19 MiB and tens of milliseconds per check), so checks run on a fixed number of
//! worker threads behind a short queue: a crowd of sign-ins waits its turn or is told to come
//! back (never more memory, never more threads). Each check's memory is returned to the
//! system when it ends ([`return_large_allocations`]).

use std::sync::mpsc;

use argon2::password_hash::{PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The workers are all busy and the queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-ins at once; try again in a moment")]
pub struct Busy;

struct Job {
    password: String,
    hash: String,
    reply: tokio::sync::oneshot::Sender<bool>,
}

/// The pool of password checkers.
pub struct Verifier {
    jobs: mpsc::SyncSender<Job>,
}

impl Verifier {
    /// Starts `workers` threads (at least one) behind a queue of `queue` waiting checks.
    pub fn start(workers: usize, queue: usize) -> Verifier {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..workers.max(1) {
            let receiver = receiver.clone();
            let spawned =
                std::thread::Builder::new().name(format!("kefu-passwords-{n}")).spawn(move || loop {
                    let job = match receiver.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    let Ok(job) = job else { return };
                    let _ = job.reply.send(verify(&job.password, &job.hash));
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a password worker");
            }
        }
        Verifier { jobs }
    }

    /// Whether `password` matches `stored_hash`; [`Busy`] when the queue is full.
    pub async fn verify(&self, password: String, stored_hash: String) -> Result<bool, Busy> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs.try_send(Job { password, hash: stored_hash, reply }).map_err(|_| Busy)?;
        answer.await.map_err(|_| Busy)
    }
}

/// Makes the C allocator hand large blocks (Argon2's 19 MiB) straight back to the system
/// when they are freed. glibc raises its mmap threshold after such a block is freed, so that
/// the next one comes from the heap and stays there; a fixed threshold turns that off.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tuning parameter of glibc's allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Verifies `password` against a PHC string, with memory of its own (freed at the end).
fn verify(password: &str, stored_hash: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored_hash) else { return false };
    let (Ok(algorithm), Ok(params), Some(expected)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash), hash.hash)
    else {
        return false;
    };
    let version = hash.version.and_then(|v| Version::try_from(v).ok()).unwrap_or_default();
    let Some(salt) = hash.salt else { return false };
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut memory = vec![Block::new(); params.block_count()];
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory).is_err() {
        return false;
    }
    // Output's comparison takes the same time whatever the bytes.
    argon2::password_hash::Output::new(&out).is_ok_and(|out| out == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_like_argon2_itself_and_refuses_malformed_hashes() {
        let verifier = Verifier::start(2, 8);
        let hash = crate::auth::hash_password("correct horse").expect("hash");
        assert_eq!(verifier.verify("correct horse".into(), hash.clone()).await, Ok(true));
        assert_eq!(verifier.verify("wrong horse".into(), hash).await, Ok(false));
        assert_eq!(verifier.verify("x".into(), "not a hash".into()).await, Ok(false));
    }

    #[tokio::test]
    async fn a_crowd_past_the_queue_is_told_to_come_back() {
        let verifier = std::sync::Arc::new(Verifier::start(1, 2));
        let hash = crate::auth::hash_password("pw").expect("hash");
        let checks: Vec<_> = (0..20)
            .map(|_| {
                let (verifier, hash) = (verifier.clone(), hash.clone());
                tokio::spawn(async move { verifier.verify("pw".into(), hash).await })
            })
            .collect();
        let mut outcomes = vec![];
        for check in checks {
            outcomes.push(check.await.expect("task"));
        }
        assert!(outcomes.contains(&Err(Busy)), "some were turned away");
        // At least the queue's two got in (a third if the worker had already taken one when
        // the rest arrived; on a busy machine it may not have).
        assert!(outcomes.iter().filter(|o| **o == Ok(true)).count() >= 2, "{outcomes:?}");
    }
}
