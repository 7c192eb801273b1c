//! `--probe N`: what one client feels of the server's write path, one frame at a time:
//! resume → `ready` (and the gap between the last replayed message and `ready`), and send →
//! `ack` (and the gap between the echo and the ack). Both pairs are written by the server
//! back to back; a gap of tens of milliseconds between them is Nagle's algorithm waiting for
//! the client's delayed ACK (`TCP_NODELAY` off).

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{ClientMessage, Position, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

use crate::{connect, token_for, Args, Samples};

/// Messages replayed on each probed resume.
const REPLAYED: u64 = 10;

pub(crate) async fn run(args: &Args, rounds: u32) -> Result<(), String> {
    let uid = args.first_uid;
    let token = token_for(args, uid);
    // The conversation to replay from.
    let mut socket = connect(&args.url, uid, token.clone()).await?;
    let mut last_seq = 0;
    for n in 0..REPLAYED * 2 {
        let frame =
            ClientMessage::Send { id: format!("p{n}"), conversation: None, text: format!("probe {n}") };
        socket.send(Message::text(frame.encode())).await.map_err(|e| e.to_string())?;
        loop {
            if let ServerMessage::Ack { seq, .. } = next(&mut socket).await? {
                last_seq = seq;
                break;
            }
        }
    }
    drop(socket);

    let (mut to_ready, mut last_to_ready) = (Samples::default(), Samples::default());
    for _ in 0..rounds {
        let mut socket = crate::open(&args.url, uid, token.clone()).await?;
        let after = vec![Position {
            conversation: kefu_protocol::v1::ConversationId::new(uid).expect("a user id"),
            seq: last_seq - REPLAYED,
        }];
        let started = Instant::now();
        socket
            .send(Message::text(ClientMessage::Resume { after }.encode()))
            .await
            .map_err(|e| e.to_string())?;
        let mut last_message = started;
        loop {
            match next(&mut socket).await? {
                ServerMessage::Message(_) => last_message = Instant::now(),
                ServerMessage::Ready => break,
                _ => {}
            }
        }
        to_ready.0.push(started.elapsed().as_micros() as u64);
        last_to_ready.0.push(last_message.elapsed().as_micros() as u64);
    }

    let (mut to_ack, mut echo_to_ack) = (Samples::default(), Samples::default());
    let mut socket = connect(&args.url, uid, token).await?;
    for n in 0..rounds {
        let frame =
            ClientMessage::Send { id: format!("q{n}"), conversation: None, text: format!("probe {n}") };
        let started = Instant::now();
        socket.send(Message::text(frame.encode())).await.map_err(|e| e.to_string())?;
        let mut echo = None;
        loop {
            match next(&mut socket).await? {
                ServerMessage::Message(_) => echo = Some(Instant::now()),
                ServerMessage::Ack { .. } => break,
                _ => {}
            }
        }
        to_ack.0.push(started.elapsed().as_micros() as u64);
        if let Some(echo) = echo {
            echo_to_ack.0.push(echo.elapsed().as_micros() as u64);
        }
    }
    println!("{rounds} resumes replaying {REPLAYED} messages each, then {rounds} sends, one at a time");
    to_ready.report("resume -> ready");
    last_to_ready.report("last replayed message -> ready");
    to_ack.report("send -> ack");
    echo_to_ack.report("echo -> ack");
    Ok(())
}

async fn next(socket: &mut crate::Socket) -> Result<ServerMessage, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Ok(frame) = ServerMessage::decode(text.as_str()) {
                    return Ok(frame);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.to_string()),
            None => return Err("closed".into()),
        }
    }
}
