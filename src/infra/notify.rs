//! The customer notification worker: claims due notifications
//! ([`crate::domain::notifications::queue`]), renders each from the
//! shop's templates and sends it through the [`Mailer`]; a send that
//! fails stays pending, due again after an exponential backoff, until the
//! mail server takes it.
//!
//! A mail the server accepted is recorded sent with its `notified`
//! timeline entry in one transaction. Were the node to die between the
//! two, the claim's lease runs out and the mail goes again: delivery is
//! at least once, and exactly once whenever the node survives the send.

use std::{sync::Arc, time::Duration};

use entity::notification;
use sea_orm::DatabaseConnection;

use crate::{
    domain::{
        clock::Clock,
        error::DomainResult,
        notifications::{
            context,
            queue::{self, Retry},
            templates,
        },
    },
    infra::mail::{Mail, Mailer},
};

/// Notifications claimed per round.
const CLAIM: u64 = 16;
/// How long a claimed notification stays hidden from other workers: a
/// send, the mail server's timeouts included, with room to record it.
const LEASE: Duration = Duration::from_secs(300);

/// Sends notifications.
pub struct Worker {
    db: DatabaseConnection,
    mailer: Arc<dyn Mailer>,
    retry: Retry,
    poll: Duration,
    clock: Clock,
    shop: String,
}

impl Worker {
    /// A worker on `db` (the background pool) sending through `mailer`;
    /// notifications fall due by `clock`; `shop` names the shop in mails.
    pub fn new(
        db: DatabaseConnection,
        mailer: Arc<dyn Mailer>,
        (retry, poll): (Retry, Duration),
        clock: Clock,
        shop: String,
    ) -> Self {
        Self {
            db,
            mailer,
            retry,
            poll,
            clock,
            shop,
        }
    }

    /// Claims one round of due notifications and sends them, one after
    /// the other; returns how many it claimed.
    pub async fn run_once(&self) -> DomainResult<usize> {
        let claimed = queue::claim(&self.db, CLAIM, LEASE, self.clock.now()).await?;
        let n = claimed.len();
        for c in claimed {
            self.send(&c).await?;
        }
        Ok(n)
    }

    async fn send(&self, n: &notification::Model) -> DomainResult<()> {
        let Some((to, ctx)) = context::load(&self.db, n, &self.shop).await? else {
            queue::record_skipped(&self.db, n, "nothing to send", self.clock.now()).await?;
            return Ok(());
        };
        let Some(kind) = queue::kind_of(n) else {
            return queue::record_skipped(&self.db, n, "unknown kind", self.clock.now()).await;
        };
        let rendered = match templates::render_for(&self.db, kind, &ctx).await? {
            Ok(r) => r,
            Err(why) => {
                tracing::error!(notification = n.id, error = %why, "a notification does not render");
                queue::record_failed(&self.db, n, &why, self.retry, self.clock.now()).await?;
                return Ok(());
            }
        };
        let mail = Mail {
            to: to.clone(),
            subject: rendered.subject.clone(),
            body: rendered.text,
            html: Some(rendered.html),
        };
        match self.mailer.send(mail).await {
            Ok(()) => {
                queue::record_sent(&self.db, n, &to, &rendered.subject, self.clock.now()).await?;
                crate::infra::metrics::notification("sent");
            }
            Err(e) => {
                let next =
                    queue::record_failed(&self.db, n, &e.to_string(), self.retry, self.clock.now())
                        .await?;
                crate::infra::metrics::notification("failed");
                tracing::warn!(notification = n.id, kind = %kind, error = %e, retry_at = %next, "a notification could not be sent; retrying");
            }
        }
        Ok(())
    }
}

/// The display name of a `From` address (`Shop <no-reply@shop>`: `Shop`),
/// else the address.
pub fn shop_name(mail_from: &str) -> String {
    match mail_from.split_once('<') {
        Some((name, _)) if !name.trim().is_empty() => name.trim().trim_matches('"').to_owned(),
        _ => mail_from.trim().trim_matches(['<', '>']).to_owned(),
    }
}

/// Sends until the task is dropped: at once while there is a backlog,
/// otherwise every `poll`.
pub async fn run(worker: Worker) {
    loop {
        match worker.run_once().await {
            Ok(n) if n as u64 == CLAIM => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notification round failed; retrying"),
        }
        tokio::time::sleep(worker.poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shop_is_named_by_the_sender() {
        assert_eq!(
            shop_name("Linen & Co <no-reply@linen.example>"),
            "Linen & Co"
        );
        assert_eq!(shop_name("\"emporium\" <no-reply@localhost>"), "emporium");
        assert_eq!(shop_name("no-reply@localhost"), "no-reply@localhost");
    }
}
