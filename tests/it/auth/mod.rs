//! Identity: registration, login, token refresh and reuse detection,
//! logout, password change and reset, rejected tokens, login throttling,
//! partner tokens and the CLI.

mod access;
mod registration;
mod resets;
mod sessions;

use std::time::Duration;

use emporium::domain::identity::{
    jwt::{Claims, JwtKeys},
    permission::Role,
};
use serde_json::{Value, json};

use crate::{
    accounts::{self, PASSWORD},
    harness::{Options, TestApp, first_code, header},
};

const ME: &str = "{ me { id email firstName addresses { id } } }";

/// An app without a catalog, served on a runtime of its own: for races.
async fn app_apart() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(0),
        own_runtime: true,
        ..Default::default()
    })
    .await
}

/// The string at `value`, which must be there.
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

async fn wait_for_mails(app: &TestApp, n: usize) -> Vec<emporium::infra::mail::Mail> {
    for _ in 0..1500 {
        let mails = app.mails();
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.mails()
}

/// The reset token in the mail.
fn reset_token(mail: &emporium::infra::mail::Mail) -> String {
    mail.body
        .lines()
        .find_map(|l| l.strip_prefix("Your reset token: "))
        .unwrap_or_else(|| panic!("no token in {}", mail.body))
        .to_owned()
}

async fn refresh(app: &TestApp, token: &str) -> Value {
    app.query(
        "mutation($t: String!) { customerTokenRefresh(refreshToken: $t) { tokens { accessToken refreshToken } userErrors { field code message } } }",
        json!({ "t": token }),
    )
    .await["customerTokenRefresh"]
        .clone()
}

/// A minimal SMTP server on a loopback port that records each message.
async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (listener, addr) = crate::harness::loopback().await;
    let port = addr.port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(std::mem::take(body));
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, rx)
}
