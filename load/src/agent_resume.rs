//! `--agent-resume N`: an agent console's first load against a server with many
//! conversations, N times: the agent resumes with no positions, so the server pages every
//! conversation (`history`, [`AGENT_FIRST_PAGE`] messages each) and then says `ready`.
//! Measures resume → `ready` and counts the pages and messages; the script around it
//! (`scripts/bench-agent-resume.sh`) reads the server's CPU time from `/proc`.
//!
//! [`AGENT_FIRST_PAGE`]: the reference server's first page for an agent (20 messages).

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{ClientMessage, ServerMessage};
use kefu_protocol::AGENT_UID;
use tokio_tungstenite::tungstenite::Message;

use crate::{Args, Samples};

pub(crate) async fn run(args: &Args, rounds: u32) -> Result<(), String> {
    let token = args.agent_token.clone().ok_or("--agent-resume needs --agent-token")?;
    let mut to_ready = Samples::default();
    let (mut pages, mut messages) = (0, 0);
    for _ in 0..rounds {
        let mut socket = crate::open(&args.url, AGENT_UID, Some(token.clone())).await?;
        let started = Instant::now();
        socket
            .send(Message::text(ClientMessage::Resume { after: vec![] }.encode()))
            .await
            .map_err(|e| e.to_string())?;
        (pages, messages) = (0, 0);
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => match ServerMessage::decode(text.as_str()) {
                    Ok(ServerMessage::History { messages: page, .. }) => {
                        pages += 1;
                        messages += page.len();
                    }
                    Ok(ServerMessage::Ready) => break,
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.to_string()),
                None => return Err("closed before ready".into()),
            }
        }
        to_ready.0.push(started.elapsed().as_micros() as u64);
    }
    println!("{rounds} agent resumes with no positions: {pages} pages, {messages} messages each");
    to_ready.report("resume -> ready");
    Ok(())
}
