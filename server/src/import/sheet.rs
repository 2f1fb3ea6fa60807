//! Reading a paper import's CSV into rows: the encoding, the header, the shape of each
//! row. What a row's values mean is `rows.rs`'s business.
//!
//! Accepted: UTF-8 with or without a byte order mark, CRLF or LF line ends, fields
//! quoted as RFC 4180 says (a quoted field may hold commas, quotes doubled, and line
//! breaks), the header's columns in any order, named in any case with spaces around
//! them ignored. A row whose fields are all empty (a spreadsheet's trailing rows) is
//! skipped. Rows are numbered as a spreadsheet shows them: the header is row 1, the
//! first signer row 2 (a quoted field spanning lines is still one row; blank lines are
//! not counted).
//!
//! No error here quotes the file: a header cell that is not a column is named by its
//! position, since a file without a header would put a signer's name there.

use csv::{ReaderBuilder, StringRecord};

use super::{Column, FileError, RowProblem};

/// A file whose header and rows have the right shape.
pub struct Sheet {
    /// Each column's position in the file's rows, by [`Column::index`].
    positions: [Option<usize>; Column::ALL.len()],
    pub rows: Vec<Row>,
    /// Rows refused for their shape (the wrong number of fields).
    pub problems: Vec<RowProblem>,
}

/// One row of signer data.
pub struct Row {
    /// The row's number as a spreadsheet shows it (the header is row 1).
    pub number: u64,
    fields: StringRecord,
}

impl Sheet {
    /// The cell of `column` in `row`, trimmed; `None` when the file has no such column
    /// or the cell is empty.
    pub fn get<'a>(&self, row: &'a Row, column: Column) -> Option<&'a str> {
        let position = self.positions[column.index()]?;
        let cell = row.fields.get(position)?.trim();
        (!cell.is_empty()).then_some(cell)
    }

    /// Whether the file has `column`.
    pub fn has(&self, column: Column) -> bool {
        self.positions[column.index()].is_some()
    }

    /// Signer rows in the file, well-formed or not.
    pub fn row_count(&self) -> usize {
        self.rows.len() + self.problems.len()
    }
}

/// Reads `body` as a sheet of at most `max_rows` signer rows.
pub fn read(body: &[u8], max_rows: usize) -> Result<Sheet, FileError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::bad_request(
            "empty_file",
            "the file is empty: send a header line (name,postcode,...) and one row per signer"
                .into(),
        ));
    }
    if let Err(e) = std::str::from_utf8(body) {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        return Err(FileError::bad_request(
            "invalid_encoding",
            format!(
                "line {line} is not UTF-8; save the file as CSV in UTF-8 (\"CSV UTF-8\" in \
                 a spreadsheet)"
            ),
        ));
    }
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        // The body is UTF-8 and in memory, so reading cannot fail; a body of blank
        // lines has no record.
        Some(Err(_)) | None => {
            return Err(FileError::bad_request(
                "empty_file",
                "the file has no header line".into(),
            ))
        }
    };
    let positions = read_header(&header)?;
    let width = header.len();
    let mut sheet = Sheet {
        positions,
        rows: Vec::new(),
        problems: Vec::new(),
    };
    for record in records {
        let Ok(fields) = record else {
            return Err(FileError::bad_request(
                "malformed_csv",
                format!(
                    "the file could not be read as CSV after row {}",
                    sheet.row_count() + 1
                ),
            ));
        };
        if fields.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        if sheet.row_count() == max_rows {
            return Err(FileError {
                status: 413,
                reason: "too_many_rows",
                detail: format!(
                    "the file has more than {max_rows} signer rows; split it into batches \
                     of at most {max_rows}"
                ),
            });
        }
        let number = fields.position().map_or(0, |p| p.record()) + 1;
        if fields.len() != width {
            sheet.problems.push(RowProblem {
                row: number,
                column: None,
                reason: "wrong_field_count",
                detail: format!(
                    "has {} fields; the header has {width} (a comma in a value needs the \
                     value in double quotes)",
                    fields.len()
                ),
            });
            continue;
        }
        sheet.rows.push(Row { number, fields });
    }
    if sheet.row_count() == 0 {
        return Err(FileError::bad_request(
            "no_rows",
            "the file has a header but no signer rows".into(),
        ));
    }
    Ok(sheet)
}

/// Each column's position, from the header.
fn read_header(header: &StringRecord) -> Result<[Option<usize>; Column::ALL.len()], FileError> {
    let mut positions = [None; Column::ALL.len()];
    for (position, cell) in header.iter().enumerate() {
        let Some(column) = Column::from_header(cell) else {
            return Err(FileError::bad_request(
                "unknown_column",
                format!(
                    "column {} of the header is not one of: {} (is the header line \
                     missing?)",
                    position + 1,
                    Column::names()
                ),
            ));
        };
        if let Some(first) = positions[column.index()] {
            return Err(FileError::bad_request(
                "duplicate_column",
                format!(
                    "columns {} and {} of the header are both {}",
                    first + 1,
                    position + 1,
                    column.name()
                ),
            ));
        }
        positions[column.index()] = Some(position);
    }
    if let Some(missing) = Column::ALL
        .iter()
        .find(|c| c.required() && positions[c.index()].is_none())
    {
        return Err(FileError::bad_request(
            "missing_column",
            format!(
                "the header has no {} column; name and postcode are required",
                missing.name()
            ),
        ));
    }
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(text: &[u8]) -> Sheet {
        read(text, 100).unwrap_or_else(|e| panic!("refused: {} {}", e.reason, e.detail))
    }

    fn refused(text: &[u8]) -> FileError {
        match read(text, 100) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    fn cells(sheet: &Sheet, column: Column) -> Vec<Option<&str>> {
        sheet
            .rows
            .iter()
            .map(|row| sheet.get(row, column))
            .collect()
    }

    #[test]
    fn reads_lf_crlf_and_a_bom_alike() {
        let lf = b"name,postcode\nAda One,NE1 7RU\nBo Two,LS1 1AA\n".to_vec();
        let crlf = b"name,postcode\r\nAda One,NE1 7RU\r\nBo Two,LS1 1AA\r\n".to_vec();
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(&crlf);
        let no_final_newline = b"name,postcode\nAda One,NE1 7RU\nBo Two,LS1 1AA".to_vec();
        for text in [lf, crlf, bom, no_final_newline] {
            let sheet = sheet(&text);
            assert_eq!(
                cells(&sheet, Column::Name),
                [Some("Ada One"), Some("Bo Two")]
            );
            assert_eq!(
                cells(&sheet, Column::Postcode),
                [Some("NE1 7RU"), Some("LS1 1AA")]
            );
            assert_eq!(
                sheet.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
                [2, 3]
            );
        }
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let text = b"name,address,postcode\n\"Doe, Jane\",\"1 \"\"The\"\" Street,\r\nFlat 2\nLeeds\",LS1 1AA\nBo,,NE1 7RU\n";
        let sheet = sheet(text);
        assert_eq!(cells(&sheet, Column::Name), [Some("Doe, Jane"), Some("Bo")]);
        assert_eq!(
            cells(&sheet, Column::Address),
            [Some("1 \"The\" Street,\r\nFlat 2\nLeeds"), None]
        );
        assert_eq!(
            cells(&sheet, Column::Postcode),
            [Some("LS1 1AA"), Some("NE1 7RU")]
        );
        // The quoted field spanning lines is one row: the next is row 3.
        assert_eq!(
            sheet.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn columns_in_any_order_and_case() {
        let text = b" Postcode ,consent_to_share,EMAIL,Name\nNE1 7RU,yes,a@example.org,Ada\n";
        let sheet = sheet(text);
        assert_eq!(cells(&sheet, Column::Name), [Some("Ada")]);
        assert_eq!(cells(&sheet, Column::Postcode), [Some("NE1 7RU")]);
        assert_eq!(cells(&sheet, Column::Email), [Some("a@example.org")]);
        assert_eq!(cells(&sheet, Column::ConsentToShare), [Some("yes")]);
        assert!(!sheet.has(Column::Ward));
        assert_eq!(cells(&sheet, Column::Ward), [None]);
    }

    #[test]
    fn blank_rows_are_skipped_and_short_rows_reported() {
        let text =
            b"name,postcode,ward\nAda,NE1 7RU,\n,,\n\nBo,LS1 1AA\nCy,B1 1AA,,extra\nDi,M1 1AA,\n";
        let sheet = sheet(text);
        assert_eq!(cells(&sheet, Column::Name), [Some("Ada"), Some("Di")]);
        let problems: Vec<(u64, &str)> = sheet.problems.iter().map(|p| (p.row, p.reason)).collect();
        // ",," (row 3) is skipped but keeps its number, as in a spreadsheet; the blank
        // line is no row at all.
        assert_eq!(
            problems,
            [(4, "wrong_field_count"), (5, "wrong_field_count")]
        );
        assert_eq!(sheet.row_count(), 4);
    }

    #[test]
    fn file_problems_have_their_reasons() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty_file"),
            (b"\xEF\xBB\xBF", "empty_file"),
            (b" \r\n\n", "empty_file"),
            (b"name,postcode\nAda,NE1 \xff7RU\n", "invalid_encoding"),
            (b"name,postcode\n", "no_rows"),
            (b"name,postcode\n,\n", "no_rows"),
            (
                b"name,postcode,shoe_size\nAda,NE1 7RU,9\n",
                "unknown_column",
            ),
            (b"Ada Lovelace,NE1 7RU\n", "unknown_column"),
            (b"name,postcode,,\nAda,NE1 7RU,,\n", "unknown_column"),
            (b"name,postcode,Name\nAda,NE1 7RU,Ada\n", "duplicate_column"),
            (b"name,email\nAda,a@example.org\n", "missing_column"),
            (b"postcode\nNE1 7RU\n", "missing_column"),
        ];
        for (text, reason) in cases {
            let e = refused(text);
            assert_eq!(
                e.reason,
                *reason,
                "{:?}: {}",
                String::from_utf8_lossy(text),
                e.detail
            );
            assert_eq!(e.status, 400);
            for value in ["Ada", "Lovelace", "NE1", "shoe", "a@example"] {
                assert!(!e.detail.contains(value), "{} quotes the file", e.detail);
            }
        }
        let e = refused(b"name,postcode\nAda,NE1 7RU\n\xff\n");
        assert!(e.detail.contains("line 3"), "{}", e.detail);
    }

    #[test]
    fn more_rows_than_the_maximum_are_refused() {
        let mut text = b"name,postcode\n".to_vec();
        for n in 0..101 {
            text.extend_from_slice(format!("Signer {n},NE1 7RU\n").as_bytes());
        }
        let e = refused(&text);
        assert_eq!((e.status, e.reason), (413, "too_many_rows"));
        text.truncate(text.len() - "Signer 100,NE1 7RU\n".len());
        assert_eq!(sheet(&text).rows.len(), 100);
    }
}
