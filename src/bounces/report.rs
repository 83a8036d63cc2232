//! What a bounce or complaint mail says, read without I/O: RFC 3464 delivery status
//! notifications (`multipart/report; report-type=delivery-status`, and RFC 6533's
//! `global-delivery-status`), RFC 5965 ARF complaints (parsed by mail-auth), and the common
//! non-standard bounces (plain text from a mailer daemon). MIME is mail-parser's, ARF is
//! mail-auth's. What is ours: the DSN's fields (header-like blocks, which neither crate
//! reads: mail-auth's field iterator is private), which of those a mail is, and what each
//! recipient's status means for us.
//!
//! An auto-reply ("I am away") reaches a bounce address too: it is none of these, and is
//! told apart ([`ReportError::NotAReport`]) so that it never counts as a bounce.

use mail_auth::report::{Feedback, FeedbackType};
use mail_parser::{MessageParser, MimeHeaders};

use crate::domain::{MailEventKind, StatusCode};

/// The most recipients read from one DSN: ours carry one each.
const MAX_RECIPIENTS: usize = 100;

/// What one report says of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: MailEventKind,
    /// The address it is about (`Final-Recipient`, ARF's `Original-Rcpt-To`), when given.
    pub recipient: Option<String>,
    pub status: Option<StatusCode>,
    /// What the far server said (`Diagnostic-Code`, or the bounce's own words).
    pub diagnostic: Option<String>,
}

/// Which form the report took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Dsn,
    Arf,
    /// A bounce in prose (qmail's "failure notice", Exchange's older ones...).
    Plain,
}

/// A bounce or complaint mail, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub format: ReportFormat,
    /// The report's own Message-ID: the same report seen twice is recorded once.
    pub id: Option<String>,
    /// One per recipient the report is about, in its order; never empty.
    pub notices: Vec<Notice>,
}

impl Report {
    /// The notice that matters most for one reader: a complaint, else a hard bounce, else
    /// a soft one, else a delay.
    pub fn worst(&self) -> &Notice {
        let rank = |k: MailEventKind| match k {
            MailEventKind::Complaint => 3,
            MailEventKind::HardBounce => 2,
            MailEventKind::SoftBounce => 1,
            MailEventKind::Delayed => 0,
        };
        self.notices
            .iter()
            .max_by_key(|n| rank(n.kind))
            .expect("a report has a notice")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("not a mail: no header could be read")]
    NotAMail,
    /// A mail, but neither a bounce nor a complaint (an auto-reply, a person writing).
    #[error("neither a bounce nor a complaint ({0})")]
    NotAReport(String),
    /// A report that says nothing we act on: every recipient delivered or relayed, or a
    /// "not spam" feedback report.
    #[error("a report with nothing to act on ({0})")]
    NothingToDo(String),
    #[error("a malformed report: {0}")]
    Malformed(String),
}

/// Read a bounce or complaint mail. `null_sender`: it arrived with an empty envelope sender
/// (`MAIL FROM:<>`), as every bounce does (RFC 5321 §4.5.5) and no person's mail does.
pub fn read(raw: &[u8], null_sender: bool) -> Result<Report, ReportError> {
    let message = MessageParser::new()
        .parse(raw)
        .filter(|m| !m.root_part().headers.is_empty())
        .ok_or(ReportError::NotAMail)?;
    let id = message.message_id().map(str::to_string);
    let root = message.root_part();
    let report_type = root
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let notices = match report_type.as_deref() {
        Some("delivery-status" | "global-delivery-status") => {
            // RFC 3464 labels the status part `message/delivery-status`; some mailers write
            // `text/delivery-status`, with the same fields: read those as well.
            let status = message
                .parts
                .iter()
                .find(|p| {
                    p.content_type().is_some_and(|ct| {
                        (ct.ctype().eq_ignore_ascii_case("message")
                            || ct.ctype().eq_ignore_ascii_case("text"))
                            && ct.subtype().is_some_and(|s| {
                                s.eq_ignore_ascii_case("delivery-status")
                                    || s.eq_ignore_ascii_case("global-delivery-status")
                            })
                    })
                })
                .ok_or_else(|| {
                    ReportError::Malformed("a delivery report without its status part".into())
                })?;
            return dsn(status.contents()).map(|notices| Report {
                format: ReportFormat::Dsn,
                id,
                notices,
            });
        }
        Some("feedback-report") => {
            let feedback = Feedback::parse_rfc5322(raw)
                .map_err(|e| ReportError::Malformed(format!("feedback report: {e:?}")))?;
            return arf(&feedback).map(|notice| Report {
                format: ReportFormat::Arf,
                id,
                notices: vec![notice],
            });
        }
        _ => plain(&message, null_sender)?,
    };
    Ok(Report {
        format: ReportFormat::Plain,
        id,
        notices,
    })
}

/// The per-recipient blocks of a `message/delivery-status` body.
fn dsn(body: &[u8]) -> Result<Vec<Notice>, ReportError> {
    let blocks = field_blocks(&String::from_utf8_lossy(body));
    let get = |block: &[(String, String)], name: &str| {
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut notices = Vec::new();
    let mut seen = Vec::new();
    for block in blocks.iter().skip(1) {
        let Some(action) = get(block, "action") else {
            continue;
        };
        let action = action.to_ascii_lowercase();
        let diagnostic = get(block, "diagnostic-code").map(|d| strip_type(&d).to_string());
        let status = get(block, "status")
            .and_then(|s| StatusCode::parse(&s))
            .or_else(|| diagnostic.as_deref().and_then(StatusCode::find));
        let kind = match action.as_str() {
            // "failed" is final; a 4.x.x status there is a transient failure given up on.
            "failed" => match status {
                Some(s) if s.class == 4 => MailEventKind::SoftBounce,
                _ => MailEventKind::HardBounce,
            },
            "delayed" => MailEventKind::Delayed,
            other => {
                seen.push(other.to_string());
                continue;
            }
        };
        let recipient = get(block, "final-recipient")
            .or_else(|| get(block, "original-recipient"))
            .map(|r| bare(strip_type(&r)));
        notices.push(Notice {
            kind,
            recipient,
            status,
            diagnostic,
        });
    }
    if notices.is_empty() {
        return Err(if seen.is_empty() {
            ReportError::Malformed("a delivery report without a recipient's Action".into())
        } else {
            ReportError::NothingToDo(format!("actions: {}", seen.join(", ")))
        });
    }
    Ok(notices)
}

fn arf(feedback: &Feedback<'_>) -> Result<Notice, ReportError> {
    match feedback.feedback_type {
        FeedbackType::Abuse | FeedbackType::Fraud | FeedbackType::Other | FeedbackType::Virus => {
            Ok(Notice {
                kind: MailEventKind::Complaint,
                recipient: feedback.original_rcpt_to.as_deref().map(bare),
                status: None,
                diagnostic: Some(format!(
                    "feedback report: {}{}",
                    feedback_name(feedback.feedback_type),
                    feedback
                        .user_agent
                        .as_deref()
                        .map(|ua| format!(" from {ua}"))
                        .unwrap_or_default()
                )),
            })
        }
        other => Err(ReportError::NothingToDo(format!(
            "feedback type {}",
            feedback_name(other)
        ))),
    }
}

fn feedback_name(t: FeedbackType) -> &'static str {
    match t {
        FeedbackType::Abuse => "abuse",
        FeedbackType::AuthFailure => "auth-failure",
        FeedbackType::Fraud => "fraud",
        FeedbackType::NotSpam => "not-spam",
        FeedbackType::Other => "other",
        FeedbackType::Virus => "virus",
    }
}

/// A bounce that is not a DSN: from a mailer daemon (or with a null sender) and saying so.
fn plain(
    message: &mail_parser::Message<'_>,
    null_sender: bool,
) -> Result<Vec<Notice>, ReportError> {
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let daemon = ["mailer-daemon@", "postmaster@", "mail-daemon@"]
        .iter()
        .any(|p| from.starts_with(p));
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    let says_so = [
        "undeliver",
        "delivery status notification",
        "delivery failure",
        "failure notice",
        "returned mail",
        "mail delivery failed",
        "delivery has failed",
        "could not be delivered",
    ]
    .iter()
    .any(|w| subject.contains(w));
    // An auto-reply comes with a null sender too (RFC 3834), but from a person's address;
    // bounces say `auto-replied` as well (Postfix does), so that alone decides nothing.
    let auto_reply = message
        .header_raw("Auto-Submitted")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("auto-replied"));
    if !(says_so && (daemon || (null_sender && !auto_reply))) {
        return Err(ReportError::NotAReport(format!(
            "from {from:?}, subject {:?}",
            message.subject().unwrap_or_default()
        )));
    }
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let status = StatusCode::find(&text);
    // Without an enhanced code, a basic 5xx reply quoted alone on a line is permanent.
    let permanent_reply = text.lines().any(|l| {
        let l = l.trim_start();
        l.len() > 3
            && l.as_bytes()[0] == b'5'
            && l.as_bytes()[1..3].iter().all(u8::is_ascii_digit)
            && matches!(l.as_bytes()[3], b' ' | b'-')
    });
    let kind = match status {
        Some(s) if s.class == 5 => MailEventKind::HardBounce,
        Some(s) if s.class == 2 => {
            return Err(ReportError::NothingToDo(format!("status {s}")));
        }
        None if permanent_reply => MailEventKind::HardBounce,
        _ => MailEventKind::SoftBounce,
    };
    let diagnostic = text
        .lines()
        .map(str::trim)
        .find(|l| status.is_some_and(|s| l.contains(&s.to_string())) || l.contains("550"))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(str::to_string);
    Ok(vec![Notice {
        kind,
        recipient: None,
        status,
        diagnostic,
    }])
}

/// Header-like blocks separated by blank lines (RFC 3464 §2.1): each a list of (lower-case
/// name, unfolded value). A line that is neither a field nor a continuation is skipped; at
/// most [`MAX_RECIPIENTS`] + 1 blocks are read.
fn field_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
                if blocks.len() > MAX_RECIPIENTS {
                    return blocks;
                }
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// An address without its angle brackets.
fn bare(address: &str) -> String {
    address.trim().trim_matches(['<', '>']).trim().to_string()
}

/// `rfc822; a@b.org` → `a@b.org`; `smtp; 550 ...` → `550 ...`.
fn strip_type(v: &str) -> &str {
    match v.split_once(';') {
        Some((t, rest)) if !t.contains(' ') && t.len() < 16 => rest.trim(),
        _ => v.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POSTFIX_DSN: &str = include_str!("../../tests/fixtures/bounces/postfix-5xx.eml");

    #[test]
    fn a_postfix_dsn_names_the_recipient_status_and_diagnostic() {
        let r = read(POSTFIX_DSN.as_bytes(), true).unwrap();
        assert_eq!(r.format, ReportFormat::Dsn);
        assert_eq!(r.notices.len(), 1);
        let n = r.worst();
        assert_eq!(n.kind, MailEventKind::HardBounce);
        assert_eq!(n.recipient.as_deref(), Some("gone@example.net"));
        assert_eq!(n.status.map(|s| s.to_string()).as_deref(), Some("5.3.0"));
        assert_eq!(
            n.diagnostic.as_deref(),
            Some("500 5.3.0 Error: command failed")
        );
        assert_eq!(
            r.id.as_deref(),
            Some("20261130204302.1910498E06F@relay.paperboy.test")
        );
    }

    #[test]
    fn postfix_giving_up_on_a_4xx_is_a_soft_bounce() {
        let raw = include_str!("../../tests/fixtures/bounces/postfix-4xx-expired.eml");
        let r = read(raw.as_bytes(), true).unwrap();
        assert_eq!(r.worst().kind, MailEventKind::SoftBounce);
        assert_eq!(
            r.worst().status.map(|s| s.to_string()).as_deref(),
            Some("4.3.0")
        );
    }

    fn dsn_mail(blocks: &str) -> String {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.org\r\n\
             Subject: Delivery Status Notification\r\nMessage-ID: <r1@mx.example.net>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\n{blocks}\r\n--b--\r\n"
        )
    }

    #[test]
    fn actions_and_status_classes_give_the_kind() {
        let mail = dsn_mail(
            "Reporting-MTA: dns; mx.example.net\r\n\r\n\
             Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 4.4.7\r\n\
             Diagnostic-Code: smtp; 451 4.4.7\r\n  queue lifetime exceeded\r\n\r\n\
             Final-Recipient: rfc822; b@example.net\r\nAction: delayed\r\nStatus: 4.2.2\r\n\r\n\
             Final-Recipient: rfc822; c@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
             Final-Recipient: rfc822; d@example.net\r\nAction: FAILED\r\n\
             Diagnostic-Code: smtp; 554 5.7.1 blocked\r\n",
        );
        let r = read(mail.as_bytes(), false).unwrap();
        let kinds: Vec<_> = r
            .notices
            .iter()
            .map(|n| (n.recipient.clone().unwrap(), n.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("a@example.net".into(), MailEventKind::SoftBounce),
                ("b@example.net".into(), MailEventKind::Delayed),
                ("d@example.net".into(), MailEventKind::HardBounce),
            ]
        );
        // The folded diagnostic reads as one line; a status missing from its field is
        // taken from the diagnostic.
        assert_eq!(
            r.notices[0].diagnostic.as_deref(),
            Some("451 4.4.7 queue lifetime exceeded")
        );
        assert_eq!(
            r.notices[2].status.map(|s| s.to_string()).as_deref(),
            Some("5.7.1")
        );
        assert_eq!(r.worst().kind, MailEventKind::HardBounce);
    }

    #[test]
    fn a_report_of_deliveries_only_or_without_recipients_is_told_apart() {
        let delivered = dsn_mail(
            "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@x.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n",
        );
        assert!(matches!(
            read(delivered.as_bytes(), true),
            Err(ReportError::NothingToDo(_))
        ));
        let empty = dsn_mail("Reporting-MTA: dns; mx\r\n");
        assert!(matches!(
            read(empty.as_bytes(), true),
            Err(ReportError::Malformed(_))
        ));
    }

    #[test]
    fn an_arf_complaint_is_a_complaint() {
        let arf = include_str!("../../tests/fixtures/bounces/arf-abuse.eml");
        let r = read(arf.as_bytes(), false).unwrap();
        assert_eq!(r.format, ReportFormat::Arf);
        assert_eq!(r.worst().kind, MailEventKind::Complaint);
        assert_eq!(r.worst().recipient.as_deref(), Some("reader@example.net"));
        let not_spam = arf.replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        assert!(matches!(
            read(not_spam.as_bytes(), false),
            Err(ReportError::NothingToDo(_))
        ));
    }

    #[test]
    fn a_prose_bounce_counts_and_an_auto_reply_does_not() {
        let qmail = "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+x@example.org\r\n\
            Subject: failure notice\r\n\r\nHi. This is the qmail-send program.\r\n\
            I'm afraid I wasn't able to deliver your message.\r\n\r\n\
            <gone@example.net>:\r\n192.0.2.1 does not like recipient.\r\n\
            Remote host said: 550 5.1.1 no such user\r\n";
        let r = read(qmail.as_bytes(), false).unwrap();
        assert_eq!(r.format, ReportFormat::Plain);
        assert_eq!(r.worst().kind, MailEventKind::HardBounce);
        assert_eq!(
            r.worst().diagnostic.as_deref(),
            Some("Remote host said: 550 5.1.1 no such user")
        );
        let full = qmail.replace("550 5.1.1 no such user", "452 4.2.2 mailbox full");
        assert_eq!(
            read(full.as_bytes(), false).unwrap().worst().kind,
            MailEventKind::SoftBounce
        );
        let away = "From: reader@example.net\r\nTo: bounces+x@example.org\r\n\
            Subject: Out of office: undeliverable mail\r\nAuto-Submitted: auto-replied\r\n\r\n\
            I am away until Monday.\r\n";
        assert!(matches!(
            read(away.as_bytes(), true),
            Err(ReportError::NotAReport(_))
        ));
        let person =
            "From: reader@example.net\r\nTo: bounces@example.org\r\nSubject: hello\r\n\r\nhi\r\n";
        assert!(matches!(
            read(person.as_bytes(), false),
            Err(ReportError::NotAReport(_))
        ));
        assert_eq!(read(b"", true), Err(ReportError::NotAMail));
    }

    proptest! {
        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = read(&bytes, true);
        }

        #[test]
        fn no_status_block_panics(blocks in "[A-Za-z:;. \r\n0-9@-]{0,600}") {
            let _ = read(dsn_mail(&blocks).as_bytes(), true);
        }
    }
}
