//! Reading the folder: which messages are not yet processed, each fetched and handed to
//! [`Bounces::receive`](crate::bounces::Bounces::receive), and what was recorded moved or
//! flagged, by its UID only.

use std::collections::HashSet;
use std::ops::ControlFlow;

use async_imap::Session;
use async_imap::types::{Fetch, Flag};
use futures_util::TryStreamExt;

use super::{BATCH, MailboxError, PROCESSED_KEYWORD, PollReport, Poller, Stream, envelope_of};
use crate::bounces::{BounceError, Handled};
use crate::domain::EventSource;
use crate::store::EventOutcome;

/// What becomes of a processed message.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Disposal {
    /// `UID MOVE` to the folder (RFC 6851).
    Move(String),
    /// `UID COPY`, `\Deleted`, `UID EXPUNGE` of that UID (UIDPLUS, RFC 4315).
    CopyAndExpunge(String),
    /// `\Seen` and the keyword (`keyword`: the server keeps keywords).
    Flag { keyword: bool },
}

impl Poller {
    /// Read the folder's messages not yet processed (a [`BATCH`] at most): record each
    /// report and move or flag it; leave other mail as it was.
    pub(super) async fn read_folder<T: Stream>(
        &mut self,
        session: &mut Session<T>,
    ) -> Result<PollReport, MailboxError> {
        let disposal = self.select_folder(session).await?;
        let uids = self.unprocessed(session, &disposal).await?;
        let mut report = PollReport::default();
        if uids.is_empty() {
            return Ok(report);
        }
        for (uid, size) in self.sizes(session, &uids).await? {
            if size as usize > self.max_bytes {
                tracing::warn!(
                    uid,
                    size,
                    max = self.max_bytes,
                    "mailbox: a message larger than inbound.max_message_bytes, left unread where it is"
                );
                self.passed_over.1.insert(uid);
                report.too_big += 1;
                continue;
            }
            let fetched = self.fetch_message(session, uid).await?;
            // The server may add FETCH responses of its own (another message's flags).
            let Some(raw) = fetched
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
            else {
                continue; // Expunged meanwhile.
            };
            if self
                .record(session, uid, raw, &disposal, &mut report)
                .await?
                .is_break()
            {
                break;
            }
        }
        Ok(report)
    }

    /// Select the folder, and say how processed mail leaves it (by the server's
    /// capabilities and the folder's permanent flags). Under a new UIDVALIDITY the messages
    /// passed over are forgotten.
    async fn select_folder<T: Stream>(
        &mut self,
        session: &mut Session<T>,
    ) -> Result<Disposal, MailboxError> {
        let caps = self
            .within("CAPABILITY", async {
                session
                    .capabilities()
                    .await
                    .map_err(|e| self.imap_error("CAPABILITY", e))
            })
            .await?;
        let disposal = self
            .disposal(session, caps.has_str("MOVE"), caps.has_str("UIDPLUS"))
            .await?;
        let folder = self.target.folder.clone();
        let mailbox = self
            .within("SELECT", async {
                session
                    .select(&folder)
                    .await
                    .map_err(|e| self.imap_error(&format!("SELECT {folder}"), e))
            })
            .await?;
        let keyword = mailbox.permanent_flags.iter().any(|f| {
            matches!(f, Flag::MayCreate)
                || matches!(f, Flag::Custom(k) if k.eq_ignore_ascii_case(PROCESSED_KEYWORD))
        });
        let disposal = match disposal {
            Disposal::Flag { .. } => Disposal::Flag { keyword },
            d => d,
        };
        let validity = mailbox.uid_validity.unwrap_or(0);
        if self.passed_over.0 != validity {
            // New UIDs for the same folder (RFC 3501 §2.3.1.1): judge everything anew.
            self.passed_over = (validity, HashSet::new());
        }
        Ok(disposal)
    }

    /// The UIDs of the messages not yet processed nor passed over, in order, a [`BATCH`] at
    /// most.
    async fn unprocessed<T: Stream>(
        &mut self,
        session: &mut Session<T>,
        disposal: &Disposal,
    ) -> Result<Vec<u32>, MailboxError> {
        // Every message not yet processed: what is processed is moved out, or carries the
        // keyword (or, where keywords are not kept, \Seen). Not "UNSEEN" alone: a person
        // reading the mailbox must not hide a bounce from us.
        let query = match disposal {
            Disposal::Flag { keyword: false } => "UNDELETED UNSEEN".to_string(),
            _ => format!("UNDELETED UNKEYWORD {PROCESSED_KEYWORD}"),
        };
        let found = self
            .within("SEARCH", async {
                session
                    .uid_search(&query)
                    .await
                    .map_err(|e| self.imap_error("UID SEARCH", e))
            })
            .await?;
        // Forget the messages that left the folder.
        self.passed_over.1.retain(|u| found.contains(u));
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|u| !self.passed_over.1.contains(u))
            .collect();
        uids.sort_unstable();
        uids.truncate(BATCH);
        Ok(uids)
    }

    /// (UID, size) of each of `uids` (sorted) the server still has, by UID.
    async fn sizes<T: Stream>(
        &self,
        session: &mut Session<T>,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>, MailboxError> {
        let sizes: Vec<Fetch> = self
            .within("FETCH sizes", async {
                session
                    .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
                    .await
                    .map_err(|e| self.imap_error("UID FETCH", e))?
                    .try_collect()
                    .await
                    .map_err(|e| self.imap_error("UID FETCH", e))
            })
            .await?;
        let mut sized: Vec<(u32, u32)> = sizes
            .iter()
            .filter_map(|f| Some((f.uid?, f.size?)))
            .filter(|(uid, _)| uids.binary_search(uid).is_ok())
            .collect();
        sized.sort_unstable();
        sized.dedup_by_key(|(uid, _)| *uid);
        Ok(sized)
    }

    /// One message, fetched whole without setting `\Seen`.
    async fn fetch_message<T: Stream>(
        &self,
        session: &mut Session<T>,
        uid: u32,
    ) -> Result<Vec<Fetch>, MailboxError> {
        self.within("FETCH a message", async {
            session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await
                .map_err(|e| self.imap_error("UID FETCH", e))?
                .try_collect()
                .await
                .map_err(|e| self.imap_error("UID FETCH", e))
        })
        .await
    }

    /// Hand one message to [`Bounces::receive`], count what became of it in `report`, and
    /// move or flag it once recorded. `Break` when the database failed: the rest wait too.
    async fn record<T: Stream>(
        &mut self,
        session: &mut Session<T>,
        uid: u32,
        raw: &[u8],
        disposal: &Disposal,
        report: &mut PollReport,
    ) -> Result<ControlFlow<()>, MailboxError> {
        let envelope = envelope_of(raw);
        match self
            .bounces
            .receive(raw, &envelope, EventSource::Mailbox)
            .await
        {
            Ok(Handled::Recorded { outcome, .. }) => {
                if outcome == EventOutcome::Duplicate {
                    report.already_recorded += 1;
                } else {
                    report.recorded += 1;
                }
                if let Err(e) = self.dispose(session, uid, disposal).await {
                    if matches!(e, MailboxError::Imap { .. }) {
                        // Refused (NO/BAD): it is read again next time, recorded once.
                        tracing::warn!(uid, error = %e, "mailbox: a recorded report could not be moved or flagged");
                        report.not_moved += 1;
                    } else {
                        return Err(e);
                    }
                }
            }
            Ok(Handled::Ignored(reason)) => {
                tracing::info!(uid, %reason, "mailbox: not a bounce or complaint, left where it is");
                self.passed_over.1.insert(uid);
                report.left_alone += 1;
            }
            Err(e @ (BounceError::NoTag | BounceError::Report(_))) => {
                tracing::warn!(uid, error = %e, "mailbox: a report not for us, left where it is");
                self.passed_over.1.insert(uid);
                report.left_alone += 1;
            }
            Err(BounceError::Store(e)) => {
                // The database is likely down: the rest wait too.
                tracing::error!(uid, error = %e, "mailbox: could not record a report; it stays for the next poll");
                report.left_for_retry += 1;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// How processed mail leaves the folder: by the capabilities and the processed folder,
    /// which is made here if missing.
    async fn disposal<T: Stream>(
        &self,
        session: &mut Session<T>,
        has_move: bool,
        has_uidplus: bool,
    ) -> Result<Disposal, MailboxError> {
        let folder = self.processed_folder.clone();
        if folder.is_empty() {
            return Ok(Disposal::Flag { keyword: true });
        }
        if !has_move && !has_uidplus {
            tracing::warn!(
                mailbox = %self.target,
                "the mailbox server has neither MOVE nor UIDPLUS: processed mail is flagged, not moved (a plain EXPUNGE could remove others' mail)"
            );
            return Ok(Disposal::Flag { keyword: true });
        }
        let exists = self
            .within("LIST", async {
                session
                    .list(Some(""), Some(&folder))
                    .await
                    .map_err(|e| self.imap_error("LIST", e))?
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| self.imap_error("LIST", e))
            })
            .await?
            .iter()
            .any(|n| n.name() == folder);
        if !exists {
            let created = self
                .within("CREATE", async {
                    session
                        .create(&folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("CREATE {folder}"), e))
                })
                .await;
            match created {
                Ok(()) => tracing::info!(folder, "mailbox: created the folder for processed mail"),
                Err(e @ MailboxError::Imap { .. }) => {
                    tracing::warn!(error = %e, "mailbox: cannot make the folder for processed mail; processed mail is flagged instead");
                    return Ok(Disposal::Flag { keyword: true });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(if has_move {
            Disposal::Move(folder)
        } else {
            Disposal::CopyAndExpunge(folder)
        })
    }

    /// Move or flag one processed message, by its UID only.
    async fn dispose<T: Stream>(
        &self,
        session: &mut Session<T>,
        uid: u32,
        disposal: &Disposal,
    ) -> Result<(), MailboxError> {
        let set = uid.to_string();
        let store = |flags: &str| format!("+FLAGS.SILENT ({flags})");
        match disposal {
            Disposal::Move(folder) => {
                self.within("MOVE", async {
                    session
                        .uid_mv(&set, folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("UID MOVE to {folder}"), e))
                })
                .await
            }
            Disposal::CopyAndExpunge(folder) => {
                self.within("COPY", async {
                    session
                        .uid_copy(&set, folder)
                        .await
                        .map_err(|e| self.imap_error(&format!("UID COPY to {folder}"), e))
                })
                .await?;
                self.flag(session, &set, &store("\\Deleted")).await?;
                self.within("EXPUNGE", async {
                    session
                        .uid_expunge(&set)
                        .await
                        .map_err(|e| self.imap_error("UID EXPUNGE", e))?
                        .try_collect::<Vec<_>>()
                        .await
                        .map_err(|e| self.imap_error("UID EXPUNGE", e))
                })
                .await
                .map(drop)
            }
            Disposal::Flag { keyword: true } => {
                self.flag(
                    session,
                    &set,
                    &store(&format!("\\Seen {PROCESSED_KEYWORD}")),
                )
                .await
            }
            Disposal::Flag { keyword: false } => self.flag(session, &set, &store("\\Seen")).await,
        }
    }

    async fn flag<T: Stream>(
        &self,
        session: &mut Session<T>,
        set: &str,
        query: &str,
    ) -> Result<(), MailboxError> {
        self.within("STORE", async {
            session
                .uid_store(set, query)
                .await
                .map_err(|e| self.imap_error("UID STORE", e))?
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| self.imap_error("UID STORE", e))
        })
        .await
        .map(drop)
    }
}

/// An IMAP sequence set for sorted UIDs, runs written `a:b`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
    }
}
