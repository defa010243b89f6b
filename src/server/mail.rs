//! The confirmation e-mail: for a user added with `--email`, each submitted request gets a
//! one-time link `{public_url}/v1/confirm/{token}`, sent over SMTP (lettre) to the relay named
//! by `[smtp]` in server.toml.
//!
//! Avoids: sending mail across the network in clear (the relay must be on this machine, checked
//! when the configuration is read; it carries the mail on) and blocking the API's runtime (the
//! caller runs [`send_link`] on a blocking thread; the SMTP exchange has a timeout).

use super::config::SmtpConfig;
use lettre::message::Mailbox;
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// How long one SMTP exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a confirmation e-mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server has no `[smtp]` table or no `public_url`.
    #[error(
        "this server is not set up to send e-mail (server.toml lacks `public_url` or the [smtp] table): ask its operator"
    )]
    NotConfigured,
    /// An address the message builder refused.
    #[error("the address `{0}` is not an e-mail address")]
    Address(String),
    /// The message could not be built.
    #[error("the confirmation e-mail could not be composed: {0}")]
    Compose(#[from] lettre::error::Error),
    /// The relay refused it or could not be reached.
    #[error("the SMTP relay at {0} did not take the confirmation e-mail: {1}")]
    Send(String, lettre::transport::smtp::Error),
}

/// The link that confirms the request whose token is `token`.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{public_url}/v1/confirm/{token}")
}

/// Sends `to` the link confirming `request` (which expires at `expires`, RFC 3339).
pub fn send_link(
    smtp: Option<&SmtpConfig>,
    public_url: Option<&str>,
    to: &str,
    request: &str,
    token: &str,
    expires: &str,
) -> Result<(), MailError> {
    let (Some(smtp), Some(url)) = (smtp, public_url) else {
        return Err(MailError::NotConfigured);
    };
    let address = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|_| MailError::Address(a.to_string()))
    };
    let message = Message::builder()
        .from(address(&smtp.from)?)
        .to(address(to)?)
        .subject(format!("Confirm co-signing request {request}"))
        .body(format!(
            "A wallet of yours asked the satellite to co-sign a transaction (request {request}).\n\n\
             To confirm it, open this link before {expires}:\n\n{}\n\n\
             The link works once. If you did not ask for this, do not open it: the request \
             expires unconfirmed, and tell the server's operator.\n",
            link(url, token)
        ))?;
    let relay = format!("{}:{}", smtp.host, smtp.port);
    SmtpTransport::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(TIMEOUT))
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| MailError::Send(relay, e))
}
