//! Reading an import file: CSV with a header row, each row checked on its own so that one bad
//! row is reported by its line and the others still count. No I/O: the bytes are given.

use std::collections::HashMap;

use crate::domain::{
    Column, EmailAddress, ListedStatus, SubscriptionInput, looks_like_formula, parse_consent_time,
    unquote_cell,
};

/// A row longer than this is refused whole (a real row is well under 1 kB; a 10 MB "row" is a
/// broken file or an attack, and is not stored).
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// One row as read: the address and what the file says of it.
#[derive(Clone, Debug)]
pub struct FileRow {
    /// Where the row starts in the file (a quoted cell may span lines), from 1.
    pub line: u64,
    pub email: EmailAddress,
    /// Interests and delivery preferences as the form takes them (`email` filled in).
    pub input: SubscriptionInput,
    pub listed: Option<ListedStatus>,
    pub consented_at: Option<i64>,
    pub consent_ip: Option<String>,
    pub consent_source: Option<String>,
}

impl FileRow {
    /// Does the row name any interest (before defaults are applied)?
    pub fn has_interests(&self) -> bool {
        let i = &self.input;
        !i.topics.is_empty()
            || [&i.keywords, &i.authors, &i.liked, &i.categories]
                .iter()
                .any(|s| !s.trim().is_empty())
    }
}

/// A row that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "the file is empty: it needs a header row (email, topics, keywords, …) and a row per address"
    )]
    Empty,
    #[error(
        "no column of addresses: the header row needs one named email (or \"Email Address\"); it has: {0}"
    )]
    NoEmailColumn(String),
    #[error("the header row is not UTF-8 text: save the file as UTF-8 CSV")]
    HeaderNotUtf8,
    #[error("the header row names {0} twice")]
    DuplicateColumn(String),
    #[error("this is not CSV: {0}")]
    Csv(String),
}

/// The file read: each header and the column it was taken as (`None`: ignored), and every
/// row, good or bad, in file order.
#[derive(Debug)]
pub struct ImportFile {
    pub columns: Vec<(String, Option<Column>)>,
    pub rows: Vec<Result<FileRow, RowError>>,
}

/// Read `data` as CSV (comma-separated, `"` quotes, a UTF-8 byte order mark allowed). Times
/// of consent after `now` are refused. An address given twice (in any case) is an error on
/// its later lines.
pub fn read(data: &[u8], now: i64) -> Result<ImportFile, FileError> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(FileError::Empty),
        Some(Err(e)) => return Err(FileError::Csv(e.to_string())),
        Some(Ok(h)) => h,
    };
    let mut columns = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let name = std::str::from_utf8(cell).map_err(|_| FileError::HeaderNotUtf8)?;
        let name = name.trim().to_string();
        let column = Column::from_header(&name);
        if let Some(c) = column
            && columns.iter().any(|(_, seen)| *seen == Some(c))
        {
            return Err(FileError::DuplicateColumn(name));
        }
        columns.push((name, column));
    }
    if !columns.iter().any(|(_, c)| *c == Some(Column::Email)) {
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        return Err(FileError::NoEmailColumn(names.join(", ")));
    }
    let mut rows = Vec::new();
    let mut first_line: HashMap<EmailAddress, u64> = HashMap::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                rows.push(Err(RowError {
                    line,
                    message: format!("not CSV: {e}"),
                }));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let row = read_row(&record, &columns, line, now).and_then(|row| {
            match first_line.get(&row.email) {
                Some(first) => Err(RowError {
                    line,
                    message: format!("{} is on line {first} already", row.email),
                }),
                None => {
                    first_line.insert(row.email.clone(), line);
                    Ok(row)
                }
            }
        });
        rows.push(row);
    }
    Ok(ImportFile { columns, rows })
}

fn read_row(
    record: &csv::ByteRecord,
    columns: &[(String, Option<Column>)],
    line: u64,
    now: i64,
) -> Result<FileRow, RowError> {
    let err = |message: String| RowError { line, message };
    let bytes = record.as_slice().len();
    if bytes > MAX_ROW_BYTES {
        return Err(err(format!(
            "the row is {bytes} bytes long; at most {MAX_ROW_BYTES} are read"
        )));
    }
    if record.len() > columns.len() {
        return Err(err(format!(
            "{} cells, but the header names {} columns (an unquoted comma?)",
            record.len(),
            columns.len()
        )));
    }
    let mut input = SubscriptionInput::default();
    let (mut email, mut listed) = (None, None);
    let (mut consented, mut confirmed, mut created) = (None, None, None);
    let (mut consent_ip, mut consent_source) = (None, None);
    for (raw, (name, column)) in record.iter().zip(columns) {
        let Some(column) = column else { continue };
        let cell = std::str::from_utf8(raw).map_err(|_| {
            err(format!(
                "column {name} is not UTF-8 text: save the file as UTF-8 CSV"
            ))
        })?;
        if looks_like_formula(cell) {
            return Err(err(format!(
                "column {name} starts like a spreadsheet formula ({:?}): not imported",
                cell.chars().take(20).collect::<String>()
            )));
        }
        let cell = unquote_cell(cell.trim()).trim();
        if cell.is_empty() {
            continue;
        }
        let some = || Some(cell.to_string());
        match column {
            Column::Email => {
                email = Some(
                    EmailAddress::parse(cell).map_err(|e| err(format!("{name} {cell:?}: {e}")))?,
                );
            }
            Column::Topics => {
                input.topics = cell
                    .split([',', ';', ' ', '\n'])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            Column::Keywords => input.keywords = cell.to_string(),
            Column::Authors => input.authors = cell.to_string(),
            Column::Categories => input.categories = cell.to_string(),
            Column::Liked => input.liked = cell.to_string(),
            Column::MutedAuthors => input.muted_authors = cell.to_string(),
            Column::Trending => input.trending = some(),
            Column::SendWhenEmpty => {
                input.send_when_empty = Some(match cell.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(err(format!("{name} {cell:?}: true or false"))),
                });
            }
            Column::Frequency => input.frequency = some(),
            Column::Weekday => input.weekday = some(),
            Column::DeliveryHour => input.delivery_hour = some(),
            Column::Timezone => input.timezone = some(),
            Column::PapersPerDigest => input.papers_per_digest = some(),
            Column::Status => {
                listed = Some(
                    cell.parse::<ListedStatus>()
                        .map_err(|e| err(format!("{name}: {e}")))?,
                );
            }
            Column::ConsentedAt | Column::ConfirmedAt | Column::CreatedAt => {
                let t = parse_consent_time(cell, now).map_err(|e| err(format!("{name}: {e}")))?;
                *match column {
                    Column::ConfirmedAt => &mut confirmed,
                    Column::CreatedAt => &mut created,
                    _ => &mut consented,
                } = Some(t);
            }
            Column::ConsentIp | Column::ConfirmIp => {
                // An address, or one word (paperboy's export says `cli` for a reader an
                // operator added).
                let ip = match cell.parse::<std::net::IpAddr>() {
                    Ok(ip) => ip.to_string(),
                    Err(_)
                        if cell.len() <= 40
                            && cell
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) =>
                    {
                        cell.to_string()
                    }
                    Err(_) => return Err(err(format!("{name} {cell:?} is not an IP address"))),
                };
                if column == &Column::ConfirmIp || consent_ip.is_none() {
                    consent_ip = Some(ip);
                }
            }
            Column::ConsentSource => {
                consent_source = Some(cell.chars().take(200).collect());
            }
        }
    }
    let email = email.ok_or_else(|| err("no address in this row".into()))?;
    input.email = email.as_str().to_string();
    Ok(FileRow {
        line,
        email,
        input,
        listed,
        // Mailchimp gives both: the confirmation of a double opt-in is the consent.
        consented_at: confirmed.or(consented).or(created),
        consent_ip,
        consent_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn errors(file: &ImportFile) -> Vec<(u64, String)> {
        file.rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.line, e.message.clone()))
            .collect()
    }

    #[test]
    fn reads_paperboys_columns_and_reports_bad_rows_by_line() {
        let data = "email,topics,keywords,status,consented_at,name\n\
                    ada@example.com,llm;agents,\"diffusion, -medical\",active,2026-05-08,Ada\n\
                    ADA@Example.com,,,active,2026-05-08,\n\
                    not-an-address,,,,,\n\
                    bob@example.com,,\"two\nlines\",unknown,,\n\
                    carol@example.com,,=cmd|' /C calc'!A0,,,\n\
                    dan@example.com,,'-survey,,yesterday,\n\
                    erin@example.com,a,b,c,d,e,f\n";
        let file = read(data.as_bytes(), NOW).unwrap();
        assert_eq!(file.columns[5], ("name".to_string(), None));
        let ok: Vec<&FileRow> = file.rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 1, "{:?}", file.rows);
        assert_eq!(ok[0].input.topics, ["llm", "agents"]);
        assert_eq!(ok[0].input.keywords, "diffusion, -medical");
        assert_eq!(ok[0].consented_at, Some(1_778_198_400));
        let errors = errors(&file);
        let lines: Vec<u64> = errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, [3, 4, 5, 7, 8, 9], "{errors:?}");
        assert!(errors[0].1.contains("on line 2 already"), "{errors:?}");
        assert!(errors[1].1.contains("not-an-address"), "{errors:?}");
        // A quoted line break is one row, reported at its first line.
        assert!(errors[2].1.contains("unknown status"), "{errors:?}");
        assert!(errors[3].1.contains("spreadsheet formula"), "{errors:?}");
        assert!(errors[4].1.contains("not a time"), "{errors:?}");
        assert!(errors[5].1.contains("7 cells"), "{errors:?}");
    }

    #[test]
    fn reads_listmonk_and_mailchimp_exports() {
        let listmonk = "uuid,email,name,attributes,status,created_at,updated_at\n\
            5e9c7a8a-0000-4000-8000-000000000001,ada@example.com,Ada,\"{\"\"city\"\": \"\"Bengaluru\"\"}\",enabled,2020-02-09 12:51:48.213946+05:30,2020-02-09 12:51:48+05:30\n\
            5e9c7a8a-0000-4000-8000-000000000002,bob@example.com,Bob,{},blocklisted,2020-02-10 08:00:00+00:00,2020-02-10 08:00:00+00:00\n";
        let file = read(listmonk.as_bytes(), NOW).unwrap();
        let rows: Vec<&FileRow> = file.rows.iter().map(|r| r.as_ref().unwrap()).collect();
        assert_eq!(rows[0].listed, Some(ListedStatus::Subscribed));
        assert_eq!(rows[0].consented_at, Some(1_581_232_908));
        assert_eq!(rows[1].listed, Some(ListedStatus::Suppressed));
        let mailchimp = "\u{feff}Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS\n\
            ada@example.com,Ada,Lovelace,2,2019-03-26 17:20:46,,2019-03-26 17:21:30,192.0.2.7,,,,,Europe/London,GB,,2019-03-26 17:21:30,123,abc,,\"a,b\"\n";
        let file = read(mailchimp.as_bytes(), NOW).unwrap();
        let row = file.rows[0].as_ref().unwrap();
        assert_eq!(row.consented_at, Some(1_553_620_890), "CONFIRM_TIME wins");
        assert_eq!(row.consent_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(row.input.timezone.as_deref(), Some("Europe/London"));
        let ignored: Vec<&str> = file
            .columns
            .iter()
            .filter(|c| c.1.is_none())
            .map(|c| c.0.as_str())
            .collect();
        assert!(ignored.contains(&"First Name") && ignored.contains(&"TAGS"));
    }

    #[test]
    fn bad_files_are_refused_whole_and_bad_bytes_by_row() {
        assert!(matches!(read(b"", NOW), Err(FileError::Empty)));
        let err = read(b"name,city\nAda,London\n", NOW).unwrap_err();
        assert!(err.to_string().contains("name, city"), "{err}");
        assert!(matches!(
            read(b"email,Email Address\n", NOW),
            Err(FileError::DuplicateColumn(_))
        ));
        assert!(matches!(
            read(b"em\xffail\n", NOW),
            Err(FileError::HeaderNotUtf8)
        ));
        // Latin-1 in one row; a 10 MB row; both refused by line, the good row kept.
        let mut data = b"email,keywords\nz\xfcrich@example.com,graph\n".to_vec();
        data.extend_from_slice(b"big@example.com,");
        data.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
        data.extend_from_slice(b"\ngood@example.com,graph\n");
        let file = read(&data, NOW).unwrap();
        let errors = errors(&file);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].1.contains("UTF-8") || errors[0].1.contains("address"));
        assert!(errors[1].1.contains("bytes long"), "{errors:?}");
        assert_eq!(file.rows.len(), 3);
        assert!(file.rows[2].is_ok());
    }
}
