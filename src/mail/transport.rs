//! Where a finished message goes: the seam between making a mail and sending it. The SMTP
//! pool (`smtp/`) and the `.eml` folder implement it; delivery's rules (retry, defer,
//! bounce) only see what a send answered, so they are tested with a transport that
//! answers from a script.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use lettre::address::Envelope;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::{SendError, SetupError};

/// A send under way. Boxed so that the mailer can hold any transport behind one pointer.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

pub trait Transport: Send + Sync {
    /// Send one message, formatted (and signed) as it goes out, to the envelope's
    /// recipients.
    fn send<'a>(&'a self, envelope: &'a Envelope, bytes: &'a [u8]) -> Sending<'a>;

    /// Where mail goes, for the operator (logged at start).
    fn describe(&self) -> String;

    /// The folder messages are written to, if that is where they go.
    fn folder(&self) -> Option<&Path> {
        None
    }
}

/// No relay configured: each message becomes an `.eml` file in a folder, nothing is lost.
pub struct EmlFolder {
    folder: PathBuf,
    files: AsyncFileTransport<Tokio1Executor>,
}

impl EmlFolder {
    /// Creates the folder if missing.
    pub fn new(folder: PathBuf) -> Result<Self, SetupError> {
        std::fs::create_dir_all(&folder).map_err(|source| SetupError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
        Ok(Self {
            files: AsyncFileTransport::new(&folder),
            folder,
        })
    }
}

impl Transport for EmlFolder {
    fn send<'a>(&'a self, envelope: &'a Envelope, bytes: &'a [u8]) -> Sending<'a> {
        Box::pin(async move {
            self.files
                .send_raw(envelope, bytes)
                .await
                .map(|_| ())
                // A full disk or a removed folder may be mended: the mail waits.
                .map_err(|e| {
                    SendError::Transient(format!(
                        "writing the .eml file in {}: {e}",
                        self.folder.display()
                    ))
                })
        })
    }

    fn describe(&self) -> String {
        format!(
            "no SMTP relay configured: mail is written as .eml files to {}",
            self.folder.display()
        )
    }

    fn folder(&self) -> Option<&Path> {
        Some(&self.folder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_eml_folder_writes_each_message_as_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("mail");
        let t = EmlFolder::new(folder.clone()).unwrap();
        assert_eq!(t.folder(), Some(folder.as_path()));
        assert!(t.describe().contains(&folder.display().to_string()));
        let envelope = Envelope::new(
            Some("from@example.org".parse().unwrap()),
            vec!["to@example.org".parse().unwrap()],
        )
        .unwrap();
        let bytes = b"Subject: hi\r\n\r\nbody\r\n";
        t.send(&envelope, bytes).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(std::fs::read(&files[0]).unwrap(), bytes);

        // A folder gone since start: the mail waits, and the error names the folder.
        std::fs::remove_dir_all(&folder).unwrap();
        let e = t.send(&envelope, bytes).await.unwrap_err();
        assert!(
            matches!(&e, SendError::Transient(why) if why.contains(&folder.display().to_string())),
            "{e}"
        );
    }

    #[test]
    fn a_mail_folder_that_cannot_be_made_is_a_setup_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let Err(e) = EmlFolder::new(file.join("mail")) else {
            panic!("a folder inside a file cannot be made");
        };
        let shown = e.to_string();
        assert!(
            shown.contains("cannot create the mail folder") && shown.contains("data_dir"),
            "{shown}"
        );
    }
}
