//! Outgoing mail behind the [`Mailer`] interface.
//!
//! - [`SmtpMailer`] sends through the SMTP server of `EMPORIUM_SMTP_URL`.
//! - [`OutboxMailer`] is used otherwise: it keeps the latest mails in memory
//!   (tests read them there), logs that a mail was queued without its body
//!   (bodies carry one-time secrets), and writes each mail to
//!   `EMPORIUM_MAIL_DIR` as an `.eml` file when that is set, for development.

use std::{collections::VecDeque, path::PathBuf, sync::Mutex};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

/// One mail: plain text, with an HTML alternative when `html` is set
/// (sent as `multipart/alternative`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// HTML body, the alternative to `body` for clients that show HTML.
    pub html: Option<String>,
}

impl Mail {
    /// A plain-text mail.
    pub fn text(
        to: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            to: to.into(),
            subject: subject.into(),
            body: body.into(),
            html: None,
        }
    }
}

/// Sends mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends (or queues) one mail.
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;

    /// The in-memory outbox, for mailers that keep one.
    fn outbox(&self) -> Option<&OutboxMailer> {
        None
    }
}

fn message(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    let builder = Message::builder()
        .from(from.clone())
        .to(mail.to.parse()?)
        .subject(mail.subject.clone());
    Ok(match &mail.html {
        None => builder.body(mail.body.clone())?,
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.body.clone(),
            html.clone(),
        ))?,
    })
}

/// Mail through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for an `smtp://` or `smtps://` URL (credentials and
    /// `?tls=required` in the URL, as lettre reads them).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        Ok(Self {
            transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build(),
            from: from.parse()?,
        })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        self.transport.send(message(&self.from, &mail)?).await?;
        Ok(())
    }
}

/// Mails this outbox keeps.
const KEEP: usize = 200;

/// Mail kept in memory (and optionally written to a directory), never sent.
pub struct OutboxMailer {
    mails: Mutex<VecDeque<Mail>>,
    dir: Option<PathBuf>,
    from: Mailbox,
}

impl OutboxMailer {
    /// An outbox that also writes `.eml` files into `dir` if given.
    pub fn new(dir: Option<PathBuf>, from: &str) -> anyhow::Result<Self> {
        Ok(Self {
            mails: Mutex::new(VecDeque::new()),
            dir,
            from: from.parse()?,
        })
    }

    /// The mails queued so far, oldest first (at most the latest 200).
    pub fn sent(&self) -> Vec<Mail> {
        self.mails
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }
}

fn masked(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().next().unwrap_or('*'))
        }
        None => "***".into(),
    }
}

#[async_trait::async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        if let Some(dir) = &self.dir {
            let msg = message(&self.from, &mail)?;
            tokio::fs::create_dir_all(dir).await?;
            let name = format!(
                "{}-{}.eml",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
                uuid::Uuid::new_v4().simple()
            );
            tokio::fs::write(dir.join(&name), msg.formatted()).await?;
            tracing::info!(to = %masked(&mail.to), subject = %mail.subject, file = %name, "mail written to EMPORIUM_MAIL_DIR");
        } else {
            tracing::info!(to = %masked(&mail.to), subject = %mail.subject, "mail kept in the in-memory outbox (no EMPORIUM_SMTP_URL); body not logged");
        }
        if let Ok(mut mails) = self.mails.lock() {
            if mails.len() == KEEP {
                mails.pop_front();
            }
            mails.push_back(mail);
        }
        Ok(())
    }

    fn outbox(&self) -> Option<&OutboxMailer> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_mail_and_writes_files() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let outbox = OutboxMailer::new(Some(dir.path().to_owned()), "shop <no-reply@example.com>")?;
        outbox
            .send(Mail::text("ada@example.com", "Hello", "token: abc"))
            .await?;
        assert_eq!(outbox.sent().len(), 1);
        let files: Vec<_> = std::fs::read_dir(dir.path())?.collect();
        assert_eq!(files.len(), 1);
        outbox
            .send(Mail {
                html: Some("<p>Hello &amp; welcome</p>".into()),
                ..Mail::text("ada@example.com", "Hello", "Hello and welcome")
            })
            .await?;
        let mut texts = Vec::new();
        for f in std::fs::read_dir(dir.path())? {
            texts.push(std::fs::read_to_string(f?.path())?);
        }
        let both = texts
            .iter()
            .find(|t| t.contains("multipart/alternative"))
            .ok_or_else(|| anyhow::anyhow!("no multipart mail written: {texts:?}"))?;
        assert!(
            both.contains("text/plain") && both.contains("text/html"),
            "{both}"
        );
        assert_eq!(masked("ada@example.com"), "a***@example.com");
        Ok(())
    }
}
