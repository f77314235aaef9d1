//! CSV files of numbers: one sample per row, an optional header, an optional label column.
//!
//! The text is split into fields by `csv-core`, the parser under the `csv` crate (RFC 4180
//! quoting), one field at a time: each field is checked and converted as soon as it is read.
//! Memory holds the numbers read so far and one field, never a row's worth of fields, and a
//! header's names are made only after every data row under it has been read, so a header of
//! absurd width costs nothing until data rows of that width have been read too.

use super::Table;
use super::idx::maybe_gunzip;
use crate::validate::check_param;
use crate::{Error, Result, Scalar};
use csv_core::{ReadFieldResult, Terminator};
use nalgebra::DMatrix;
use std::borrow::Cow;
use std::path::Path;

/// Longest field text kept in an [`Error::InvalidField`].
const MAX_FIELD_CHARS: usize = 32;

/// The UTF-8 byte-order mark, which csv-core skips at the start of the text.
const BYTE_ORDER_MARK: &[u8] = "\u{feff}".as_bytes();

/// Bytes of text translated at a time when tabs are read as spaces.
const CHUNK_BYTES: usize = 8 << 10;

/// Whether the first row of a CSV file names the columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum HeaderMode {
    /// The first row is a header when none of its fields is a number. A first row that mixes
    /// numbers and text is read as data, so it fails on its first non-numeric field instead of
    /// being dropped in silence; say [`HeaderMode::Present`] for such a header.
    #[default]
    Auto,
    /// The first row is a header, whatever it holds.
    Present,
    /// Every row is data.
    Absent,
}

/// Which column of a CSV file, if any, holds the class labels.
///
/// Labels must be non-negative integers that fit a `usize`: `7`, or an integral number such as
/// `7.0` or `7e0` as NumPy writes them. They are read exactly from their digits, never through
/// a float, so `9007199254740993.0` is 9007199254740993 (an `f64` would round it to 2^53) and
/// `7.0000000000000001` is refused as not an integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum LabelColumn {
    /// Every column is a feature.
    #[default]
    None,
    /// The column at this index, from 0 (`Index(0)` is the first column).
    Index(usize),
    /// The last column.
    Last,
}

/// How to read a CSV file of numbers.
///
/// Defaults: header [`HeaderMode::Auto`], label column [`LabelColumn::None`], delimiter `b','`.
///
/// The text is read as CSV (RFC 4180) by `csv-core`: one sample per row, rows ending at `\n`
/// or `\r\n`. A field that starts with `"` is quoted: it ends at the next lone `"`, may hold the
/// delimiter and line breaks, and writes `""` for one `"` (`"width, cm"` is one field; a quoted
/// number such as `"3.5"` is the number 3.5; `"1,5"` is one field that is not a number). Blank
/// and whitespace-only lines are skipped, and a leading UTF-8 byte-order mark is ignored.
///
/// Each field is then trimmed of surrounding whitespace (a quoted field of what its quotes
/// enclose). A field with whitespace before its opening quote, as in `1, "2"`, is not quoted
/// for CSV; it is read as this crate read every field before it used csv-core: trimmed, then
/// one pair of surrounding double quotes removed. Such a field cannot hold the delimiter.
///
/// With a space as the delimiter, fields are split at every run of spaces and tabs (tabs count
/// as spaces, also inside quotes), and the empty fields between them are skipped; a quoted
/// field (even `""`) is kept.
///
/// ```
/// use autoencoders::data::{CsvOptions, HeaderMode, LabelColumn};
///
/// let options = CsvOptions::default()
///     .with_header(HeaderMode::Present)
///     .with_label_column(LabelColumn::Index(0))
///     .with_delimiter(b';');
/// assert_eq!(options.delimiter(), b';');
/// assert!(options.validate().is_ok());
/// assert!(CsvOptions::default().with_delimiter(b'.').validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields, default)
)]
pub struct CsvOptions {
    header: HeaderMode,
    label_column: LabelColumn,
    delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: HeaderMode::Auto,
            label_column: LabelColumn::None,
            delimiter: b',',
        }
    }
}

impl CsvOptions {
    /// Whether the first row is a header.
    pub fn with_header(mut self, header: HeaderMode) -> Self {
        self.header = header;
        self
    }

    /// Which column holds the labels.
    pub fn with_label_column(mut self, label_column: LabelColumn) -> Self {
        self.label_column = label_column;
        self
    }

    /// The byte between fields: an ASCII punctuation character, a space or a tab, other than
    /// `"`, `.`, `+` and `-` (which belong to fields).
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Whether the first row is a header.
    pub fn header(&self) -> HeaderMode {
        self.header
    }

    /// Which column holds the labels.
    pub fn label_column(&self) -> LabelColumn {
        self.label_column
    }

    /// The byte between fields.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Checks the options; [`read_csv`] and [`parse_csv`] call it first.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] (naming `delimiter`, its value the byte) for a
    /// delimiter that is not a space, a tab or ASCII punctuation, or that is one of `"`, `.`,
    /// `+`, `-`.
    pub fn validate(&self) -> Result<()> {
        let d = self.delimiter;
        check_param(
            "delimiter",
            f64::from(d),
            (d == b' ' || d == b'\t' || d.is_ascii_punctuation()) && !b"\".+-".contains(&d),
            "an ASCII punctuation byte, a space or a tab, other than '\"', '.', '+' and '-'",
        )
    }
}

/// Reads a CSV file of numbers, gzip-compressed or not (detected from its first bytes, not
/// its name), into a feature matrix with optional labels. Values are converted, not scaled.
///
/// ```no_run
/// use autoencoders::data::{CsvOptions, LabelColumn, read_csv};
///
/// let options = CsvOptions::default().with_label_column(LabelColumn::Index(0));
/// let train = read_csv::<f32>("mnist_train.csv.gz", &options)?;
/// assert_eq!(train.features.ncols(), 784);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Shapes
/// Returns `features` of `n × input_dim`, `n` the data rows and `input_dim` the fields per row
/// less the label column.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::MalformedFile`] for a truncated or
/// corrupt gzip stream or text that is not UTF-8 (with the byte offset); otherwise as
/// [`parse_csv`]. Every error names the file.
pub fn read_csv<T: Scalar>(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Table<T>> {
    options.validate()?;
    let path = path.as_ref();
    let (bytes, file) = crate::files::read_regular(path)?;
    let bytes = maybe_gunzip(bytes, &file)?;
    let text = String::from_utf8(bytes).map_err(|e| Error::MalformedFile {
        file: file.clone(),
        offset: e.utf8_error().valid_up_to() as u64,
        problem: "not valid UTF-8 text",
    })?;
    parse_csv(&text, &file, options)
}

/// Parses the text of a CSV file of numbers; `source_name` names it in errors.
///
/// Every field (but the label) must be a finite number in the range of `T`: `1`, `-2.5`,
/// `3e-4`, `.5`. NaN and infinities are refused, since nothing in the crate trains on them.
///
/// ```
/// use autoencoders::Error;
/// use autoencoders::data::{CsvOptions, parse_csv};
///
/// let table = parse_csv::<f64>("1, 2\n3, 4\n", "inline", &CsvOptions::default())?;
/// assert_eq!(table.features[(1, 0)], 3.0);
/// assert_eq!(table.labels, None);
///
/// let ragged = parse_csv::<f64>("1,2\n3\n", "inline", &CsvOptions::default());
/// assert!(matches!(ragged, Err(Error::RaggedRow { line: 2, expected: 2, found: 1, .. })));
/// # Ok::<(), Error>(())
/// ```
///
/// # Shapes
/// As [`read_csv`].
///
/// # Errors
/// Each names `source_name`, and lines and columns count from 1 (lines of the text, also those
/// inside quoted fields; a row or field is on the line where it starts):
/// - [`Error::InvalidHyperParameter`] when `options` are invalid;
/// - [`Error::NoDataRows`] for text without a data row;
/// - [`Error::RaggedRow`] (with the line) for a row whose field count differs from the first
///   row's (header or data);
/// - [`Error::InvalidField`] (with line and column) for a field that is not a number, is NaN or
///   infinite, or overflows `T`, and for a label that is not a non-negative integer;
/// - [`Error::LabelColumnOutOfRange`] for a label column beyond the row, or that would leave
///   no feature column.
pub fn parse_csv<T: Scalar>(
    text: &str,
    source_name: &str,
    options: &CsvOptions,
) -> Result<Table<T>> {
    options.validate()?;
    let no_data = || Error::NoDataRows {
        file: source_name.to_owned(),
    };
    let mut buffers = Buffers::default();
    let mut reader = FieldReader::new(text, options.delimiter);

    // The first row is read once to learn its width and whether it is a header, then again
    // from the start of the text: as data, or (a header) for its names after the data rows.
    let mut numeric = false;
    let width = reader
        .next_record(&mut buffers, |field| {
            numeric |= field.text.parse::<f64>().is_ok();
        })
        .ok_or_else(no_data)?
        .width;
    let label =
        label_index(options.label_column, width).ok_or_else(|| Error::LabelColumnOutOfRange {
            file: source_name.to_owned(),
            column: match options.label_column {
                LabelColumn::Index(i) => i.saturating_add(1),
                _ => width,
            },
            fields: width,
        })?;
    let has_header = match options.header {
        HeaderMode::Present => true,
        HeaderMode::Absent => false,
        HeaderMode::Auto => !numeric,
    };
    if !has_header {
        reader = FieldReader::new(text, options.delimiter);
    }

    let mut rows = Rows::<T> {
        width,
        label,
        values: Vec::new(),
        labels: Vec::new(),
        row_label: 0,
        problem: None,
    };
    while let Some(record) = reader.next_record(&mut buffers, |field| rows.field(field)) {
        rows.end_row(record)
            .map_err(|problem| problem.into_error(text, source_name))?;
    }
    let samples = rows.labels.len();
    if samples == 0 {
        return Err(no_data());
    }
    let input_dim = width - usize::from(label.is_some());
    let features = DMatrix::from_row_slice(samples, input_dim, &rows.values);
    drop(rows.values);
    let feature_names = has_header.then(|| {
        let mut names = Vec::with_capacity(input_dim);
        let mut header = FieldReader::new(text, options.delimiter);
        header.next_record(&mut buffers, |field| {
            if Some(field.column) != label {
                names.push(field.text.to_owned());
            }
        });
        names
    });
    Ok(Table {
        features,
        labels: label.map(|_| rows.labels),
        feature_names,
    })
}

/// The label column's index in rows of `width` fields: `Some(None)` for no label column,
/// `None` when the column is missing or would leave no feature.
fn label_index(label_column: LabelColumn, width: usize) -> Option<Option<usize>> {
    let index = match label_column {
        LabelColumn::None => return Some(None),
        LabelColumn::Index(index) => index,
        LabelColumn::Last => width.checked_sub(1)?,
    };
    (index < width && width >= 2).then_some(Some(index))
}

/// Reads a text's fields one at a time with csv-core, keeping byte offsets into the text.
///
/// To read a row again, a new one reads from the start of the text. (A clone of csv-core's
/// reader would not do: in csv-core 0.1.13 cloning it does not copy its parsing tables.)
struct FieldReader<'a> {
    core: csv_core::Reader,
    text: &'a str,
    /// Bytes of `text` that `core` has consumed.
    consumed: usize,
    /// Whether the delimiter is a space: tabs are then fed to `core` as spaces, and unquoted
    /// empty fields are skipped.
    spaces: bool,
}

/// The buffers a [`FieldReader`] reads into, kept apart so that successive readers share them.
#[derive(Default)]
struct Buffers {
    /// The current field's text, unquoted, from the start.
    field: Vec<u8>,
    /// With a space delimiter, `text[chunk_start..chunk_start + chunk.len()]` with tabs
    /// turned into spaces.
    chunk: Vec<u8>,
    chunk_start: usize,
}

/// A field of a row, as handed to the visitor of [`FieldReader::next_record`].
struct Field<'t> {
    /// Its position in the row, from 0, counting only the fields kept.
    column: usize,
    /// Its text, unquoted and trimmed.
    text: &'t str,
    /// The byte offset in the text where it starts.
    start: usize,
}

/// A row read by [`FieldReader::next_record`].
struct Record {
    /// The byte offset in the text where it starts.
    start: usize,
    /// Its fields.
    width: usize,
}

impl<'a> FieldReader<'a> {
    fn new(text: &'a str, delimiter: u8) -> Self {
        // Said in full, since the offsets kept here rely on them: csv-core skips `\n` at the
        // start of a row (nothing else: no comments), and a field is quoted only when its
        // first byte is `"`.
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(Terminator::Any(b'\n'))
            .quote(b'"')
            .quoting(true)
            .double_quote(true)
            .escape(None)
            .comment(None)
            .build();
        Self {
            core,
            text,
            consumed: 0,
            spaces: delimiter == b' ',
        }
    }

    /// Reads the next row that is not blank, handing `visit` each of its fields in turn;
    /// `None` at the end of the text.
    fn next_record(
        &mut self,
        buffers: &mut Buffers,
        mut visit: impl FnMut(&Field<'_>),
    ) -> Option<Record> {
        let bytes = self.text.as_bytes();
        loop {
            let (start, blank) = self.record_start();
            let mut width = 0;
            let mut field_start = start;
            loop {
                let (len, record_end) = self.next_field(buffers)?;
                let quoted = bytes.get(field_start) == Some(&b'"');
                let output = buffers.field.get(..len).unwrap_or_default();
                let raw = match self.text.get(field_start..field_start + len) {
                    // csv-core copies an unquoted field from the text unchanged: it is that
                    // slice of the text, already known to be UTF-8.
                    Some(raw) if !quoted && raw.as_bytes() == output => Cow::Borrowed(raw),
                    // Never lossy: csv-core takes only ASCII bytes out of the UTF-8 text.
                    _ => String::from_utf8_lossy(output),
                };
                let text = clean(&raw, quoted);
                if !blank && (quoted || !self.spaces || !text.is_empty()) {
                    visit(&Field {
                        column: width,
                        text,
                        start: field_start,
                    });
                    width += 1;
                }
                field_start = self.consumed;
                if record_end {
                    break;
                }
            }
            // A row of skipped fields only (possible with a space delimiter) is blank too.
            if width > 0 {
                return Some(Record { start, width });
            }
        }
    }

    /// Where the next row's text starts (past what csv-core skips before it: the byte-order
    /// mark at the start of the text, then empty lines), and whether its line is blank: only
    /// whitespace up to the next `\n` or the end, so that csv-core reads it as one row.
    fn record_start(&self) -> (usize, bool) {
        let bytes = self.text.as_bytes();
        let mut at = self.consumed;
        if at == 0 && bytes.starts_with(BYTE_ORDER_MARK) {
            at = BYTE_ORDER_MARK.len();
        }
        while bytes.get(at) == Some(&b'\n') {
            at += 1;
        }
        let blank = self.text.get(at..).is_some_and(|rest| {
            rest.chars()
                .find(|&c| c == '\n' || !c.is_whitespace())
                .is_none_or(|c| c == '\n')
        });
        (at, blank)
    }

    /// Reads one field into `buffers.field`: its length and whether it ends its row; `None`
    /// at the end of the text.
    fn next_field(&mut self, buffers: &mut Buffers) -> Option<(usize, bool)> {
        let Buffers {
            field,
            chunk,
            chunk_start,
        } = buffers;
        let bytes = self.text.as_bytes();
        let mut len = 0;
        loop {
            if len == field.len() {
                field.resize((2 * len).max(64), 0);
            }
            let rest = bytes.get(self.consumed..).unwrap_or_default();
            // An empty input tells csv-core that the text has ended.
            let input = if self.spaces && !rest.is_empty() {
                let offset = match self.consumed.checked_sub(*chunk_start) {
                    Some(offset) if offset < chunk.len() => offset,
                    _ => {
                        chunk.clear();
                        let next = rest.iter().take(CHUNK_BYTES);
                        chunk.extend(next.map(|&b| if b == b'\t' { b' ' } else { b }));
                        *chunk_start = self.consumed;
                        0
                    }
                };
                chunk.get(offset..).unwrap_or_default()
            } else {
                rest
            };
            let output = field.get_mut(len..).unwrap_or_default();
            let (result, read, written) = self.core.read_field(input, output);
            self.consumed += read;
            len += written;
            match result {
                ReadFieldResult::Field { record_end } => return Some((len, record_end)),
                ReadFieldResult::End => return None,
                // At the end of the text csv-core answers `Field` or `End`; this only guards
                // against a loop.
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull if input.is_empty() => {
                    return None;
                }
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
            }
        }
    }
}

/// A field's text as read: trimmed, and, when it was not quoted for CSV (not starting with
/// `"`), rid of one pair of surrounding double quotes, as in `1, "2"`.
fn clean(field: &str, quoted: bool) -> &str {
    let field = field.trim();
    if quoted {
        return field;
    }
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

/// The data rows read so far, and the row being read.
struct Rows<T> {
    width: usize,
    label: Option<usize>,
    /// Features, row-major.
    values: Vec<T>,
    /// One per row read, labels or not, so its length counts the rows.
    labels: Vec<usize>,
    /// The label of the row being read.
    row_label: usize,
    /// The first bad field of the row being read.
    problem: Option<Problem>,
}

/// What is wrong with a row, with byte offsets where an [`Error`] has lines.
enum Problem {
    Field {
        start: usize,
        column: usize,
        found: String,
        expected: &'static str,
    },
    Ragged {
        start: usize,
        expected: usize,
        found: usize,
    },
}

impl Problem {
    fn into_error(self, text: &str, file: &str) -> Error {
        let line = |offset: usize| {
            let before = text.as_bytes().get(..offset).unwrap_or_default();
            1 + before.iter().filter(|&&b| b == b'\n').count()
        };
        match self {
            Problem::Field {
                start,
                column,
                found,
                expected,
            } => Error::InvalidField {
                file: file.to_owned(),
                line: line(start),
                column,
                found,
                expected,
            },
            Problem::Ragged {
                start,
                expected,
                found,
            } => Error::RaggedRow {
                file: file.to_owned(),
                line: line(start),
                expected,
                found,
            },
        }
    }
}

impl<T: Scalar> Rows<T> {
    /// Converts one field of the row being read, unless the row already has a problem or too
    /// many fields.
    fn field(&mut self, field: &Field<'_>) {
        if self.problem.is_some() || field.column >= self.width {
            return;
        }
        let expected = if Some(field.column) == self.label {
            match parse_label(field.text) {
                Some(label) => {
                    self.row_label = label;
                    return;
                }
                None => "a non-negative integer label",
            }
        } else {
            match field.text.parse::<f64>() {
                Err(_) => "a number",
                Ok(value) if !value.is_finite() => {
                    "a finite number (NaN and infinities are refused)"
                }
                Ok(value) => {
                    let value = T::cast(value);
                    if value.is_finite() {
                        self.values.push(value);
                        return;
                    }
                    "a number within the range of f32"
                }
            }
        };
        self.problem = Some(Problem::Field {
            start: field.start,
            column: field.column + 1,
            found: shorten(field.text),
            expected,
        });
    }

    /// Ends the row being read: a row of the wrong width is refused before any bad field in
    /// it.
    fn end_row(&mut self, record: Record) -> Result<(), Problem> {
        if record.width != self.width {
            return Err(Problem::Ragged {
                start: record.start,
                expected: self.width,
                found: record.width,
            });
        }
        if let Some(problem) = self.problem.take() {
            return Err(problem);
        }
        self.labels.push(std::mem::take(&mut self.row_label));
        Ok(())
    }
}

/// A non-negative integer that fits a `usize`, written as an integer (`7`, `+7`) or as a
/// decimal number of integral value (`7.0`, `7e0`, `0.7e1`), read exactly from its digits.
fn parse_label(field: &str) -> Option<usize> {
    if let Ok(label) = field.parse::<usize>() {
        return Some(label);
    }
    // [sign] digits [. digits] [(e|E) [sign] digits], with a digit before or after the point.
    let (negative, unsigned) = match field.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, field.strip_prefix('+').unwrap_or(field)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, parse_exponent(exponent)?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    // The value is digits × 10^(exponent − fraction digits), `digits` all the mantissa's.
    let digits = || whole.bytes().chain(fraction.bytes());
    let total = whole.len() + fraction.len();
    let leading_zeros = digits().take_while(|&b| b == b'0').count();
    if leading_zeros == total {
        return Some(0); // zero, whatever its sign and exponent
    }
    let trailing_zeros = digits().rev().take_while(|&b| b == b'0').count();
    let significant = total - leading_zeros - trailing_zeros;
    let scale = exponent
        .saturating_sub(i64::try_from(fraction.len()).ok()?)
        .saturating_add(i64::try_from(trailing_zeros).ok()?);
    // A fraction (scale < 0: the last significant digit is not 0) or more digits than a
    // `usize` holds.
    let scale = usize::try_from(scale).ok()?;
    if negative || significant.saturating_add(scale) > 20 {
        return None;
    }
    let mut value = digits()
        .skip(leading_zeros)
        .take(significant)
        .try_fold(0usize, |value, b| {
            value.checked_mul(10)?.checked_add(usize::from(b - b'0'))
        })?;
    for _ in 0..scale {
        value = value.checked_mul(10)?;
    }
    Some(value)
}

/// An exponent `[sign] digits`, saturated at the range of `i64`.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0i64, |value, b| {
        value.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// The field as kept in an error: at most [`MAX_FIELD_CHARS`] characters.
fn shorten(field: &str) -> String {
    match field.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => format!("{}…", &field[..end]),
        None => field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, options: CsvOptions) -> Result<Table<f64>> {
        parse_csv(text, "t.csv", &options)
    }

    fn default(text: &str) -> Result<Table<f64>> {
        parse(text, CsvOptions::default())
    }

    #[test]
    fn reads_numbers_in_every_spelling() {
        let t = default("1,-2.5,3e-4\n.5, +7 ,\"8\"\r\n").unwrap();
        assert_eq!(
            t.features,
            DMatrix::from_row_slice(2, 3, &[1.0, -2.5, 3e-4, 0.5, 7.0, 8.0])
        );
        assert_eq!((t.labels, t.feature_names), (None, None));
    }

    #[test]
    fn skips_blank_lines_and_a_byte_order_mark_but_counts_them() {
        let t = default("\u{feff}\n1,2\n\n   \n3,4\n\n").unwrap();
        assert_eq!(t.features.shape(), (2, 2));
        match default("\u{feff}\n1,2\n\n3,x\n") {
            Err(Error::InvalidField { line, column, .. }) => assert_eq!((line, column), (4, 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detects_a_header_only_when_no_field_is_a_number() {
        let t = default("\"x\", y ,z\n1,2,3\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["x", "y", "z"]);
        assert_eq!(t.features.nrows(), 1);
        // A mixed first row is data with a bad field, not a header dropped in silence.
        match default("id,1,2\n1,2,3\n") {
            Err(Error::InvalidField {
                line,
                column,
                found,
                ..
            }) => assert_eq!((line, column, found.as_str()), (1, 1, "id")),
            other => panic!("{other:?}"),
        }
        let present = CsvOptions::default().with_header(HeaderMode::Present);
        assert_eq!(
            parse("id,1,2\n1,2,3\n", present).unwrap().features.nrows(),
            1
        );
        let absent = CsvOptions::default().with_header(HeaderMode::Absent);
        assert!(matches!(
            parse("x,y\n1,2\n", absent),
            Err(Error::InvalidField { line: 1, .. })
        ));
    }

    #[test]
    fn takes_labels_from_any_column() {
        let first = CsvOptions::default().with_label_column(LabelColumn::Index(0));
        let t = parse("label,a,b\n3,0.1,0.2\n7.0,0.3,0.4\n", first).unwrap();
        assert_eq!(t.labels, Some(vec![3, 7]));
        assert_eq!(t.feature_names.unwrap(), ["a", "b"]);
        assert_eq!(
            t.features,
            DMatrix::from_row_slice(2, 2, &[0.1, 0.2, 0.3, 0.4])
        );
        let middle = CsvOptions::default().with_label_column(LabelColumn::Index(1));
        let t = parse("1,2,3\n4,5,6\n", middle).unwrap();
        assert_eq!(t.labels, Some(vec![2, 5]));
        assert_eq!(
            t.features,
            DMatrix::from_row_slice(2, 2, &[1.0, 3.0, 4.0, 6.0])
        );
    }

    #[test]
    fn refuses_labels_that_are_not_class_numbers() {
        let last = CsvOptions::default().with_label_column(LabelColumn::Last);
        for bad in ["-1", "1.5", "x", "NaN", "1e300"] {
            match parse(&format!("0.5,1\n0.5,{bad}\n"), last) {
                Err(Error::InvalidField {
                    line,
                    column,
                    expected,
                    ..
                }) => {
                    assert_eq!((line, column), (2, 2), "{bad}");
                    assert!(expected.contains("non-negative integer"), "{expected}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_a_label_column_that_is_missing_or_alone() {
        for (text, column) in [
            ("1,2\n", LabelColumn::Index(2)),
            ("1\n", LabelColumn::Last),
            ("1\n", LabelColumn::Index(0)),
        ] {
            let options = CsvOptions::default().with_label_column(column);
            assert!(
                matches!(
                    parse(text, options),
                    Err(Error::LabelColumnOutOfRange { .. })
                ),
                "{column:?}"
            );
        }
        let huge = CsvOptions::default().with_label_column(LabelColumn::Index(usize::MAX));
        assert!(matches!(
            parse("1,2\n", huge),
            Err(Error::LabelColumnOutOfRange {
                column: usize::MAX,
                ..
            })
        ));
    }

    #[test]
    fn names_line_and_column_of_bad_fields() {
        let problem = |text: &str| match default(text) {
            Err(Error::InvalidField {
                file,
                line,
                column,
                found,
                expected,
            }) => {
                assert_eq!(file, "t.csv");
                (line, column, found, expected)
            }
            other => panic!("{text:?}: {other:?}"),
        };
        let (line, column, found, _) = problem("1,2,3\n4,five,6\n");
        assert_eq!((line, column, found.as_str()), (2, 2, "five"));
        assert_eq!(problem("1,,3\n").2, "");
        assert!(problem("1,2\n3,nan\n").3.contains("finite"));
        assert!(problem("1,2\n3,-inf\n").3.contains("finite"));
        assert!(problem("1,2\n3,1e999\n").3.contains("finite"));
        assert_eq!(problem("1\n1;2\n").3, "a number");
        let long = problem(&format!("1,{}\n", "x".repeat(100))).2;
        assert_eq!(long.chars().count(), MAX_FIELD_CHARS + 1);
    }

    #[test]
    fn refuses_values_beyond_f32() {
        let options = CsvOptions::default();
        assert!(parse_csv::<f64>("1e300\n", "t", &options).is_ok());
        match parse_csv::<f32>("1\n1e300\n", "t", &options) {
            Err(Error::InvalidField { line, expected, .. }) => {
                assert_eq!(line, 2);
                assert!(expected.contains("f32"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_the_line_of_a_ragged_row() {
        for (text, line, found) in [
            ("1,2,3\n4,5,6\n7,8\n", 3, 2),
            ("1,2\n4,5,6\n", 2, 3),
            ("a,b\n1,2\n\n1,2,3\n", 4, 3),
        ] {
            match default(text) {
                Err(Error::RaggedRow {
                    line: l, found: f, ..
                }) => assert_eq!((l, f), (line, found), "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn needs_a_data_row() {
        for text in ["", "\n\n", "  \r\n", "\u{feff}", "x,y\n", "x,y\n\n"] {
            assert!(
                matches!(default(text), Err(Error::NoDataRows { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn quoted_fields_may_hold_the_delimiter_quotes_and_line_breaks() {
        let t = default("\"width, cm\",\"a \"\"b\"\"\"\n\"3.5\",4\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["width, cm", "a \"b\""]);
        assert_eq!(t.features, DMatrix::from_row_slice(1, 2, &[3.5, 4.0]));
        // A quoted field with the delimiter is one field, and not a number.
        match default("1,2\n\"1,5\",2\n") {
            Err(Error::InvalidField {
                line,
                column,
                found,
                ..
            }) => assert_eq!((line, column, found.as_str()), (2, 1, "1,5")),
            other => panic!("{other:?}"),
        }
        // Lines count every line of the text, also those inside a quoted field.
        let t = default("\"two\nlines\",b\n1,2\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["two\nlines", "b"]);
        match default("a,b,c\n1,\"2\n\",x\n") {
            Err(Error::InvalidField { line, column, .. }) => assert_eq!((line, column), (3, 3)),
            other => panic!("{other:?}"),
        }
        // Trimmed inside the quotes too.
        assert_eq!(default("\" 2 \",1\n").unwrap().features[(0, 0)], 2.0);
    }

    #[test]
    fn a_field_with_spaces_before_its_quote_loses_one_pair_of_quotes() {
        let t = default("\"x\", \"y\"\n1, \"2\"\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["x", "y"]);
        assert_eq!(t.features, DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
        // Such a field is not quoted for CSV, so the delimiter still splits it.
        assert!(matches!(
            default("1,2\n1, \"2,5\"\n"),
            Err(Error::RaggedRow {
                line: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn rows_end_at_line_feeds_with_or_without_carriage_returns() {
        let t = default("a,\"b\"\r\n1,2\r\n\r\n3,4\r\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["a", "b"]);
        assert_eq!(t.features.shape(), (2, 2));
        match default("1,2\r\n\r\n3,\r\n") {
            Err(Error::InvalidField {
                line,
                column,
                found,
                ..
            }) => assert_eq!((line, column, found.as_str()), (3, 2, "")),
            other => panic!("{other:?}"),
        }
        // A carriage return alone ends no row.
        assert!(matches!(
            default("0,1\r2,3\n"),
            Err(Error::InvalidField {
                line: 1,
                column: 2,
                ..
            })
        ));
    }

    #[test]
    fn skips_one_byte_order_mark_only() {
        let t = default("\u{feff}\"a\",b\r\n1,2\r\n").unwrap();
        assert_eq!(t.feature_names.unwrap(), ["a", "b"]);
        match default("\u{feff}\u{feff}1,2\n") {
            Err(Error::InvalidField { line, found, .. }) => {
                assert_eq!((line, found.as_str()), (1, "\u{feff}1"));
            }
            other => panic!("{other:?}"),
        }
        // Not after a blank line either.
        assert!(matches!(
            default("\n\u{feff}1,2\n"),
            Err(Error::InvalidField { line: 2, .. })
        ));
    }

    #[test]
    fn refuses_a_ragged_row_before_its_bad_fields() {
        for (text, found) in [("1,2\nx,2,3\n", 3), ("1,2\nx\n", 1)] {
            assert!(
                matches!(default(text), Err(Error::RaggedRow { line: 2, found: f, .. }) if f == found),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_space_delimiter_keeps_quoted_fields() {
        let space = CsvOptions::default().with_delimiter(b' ');
        let t = parse("\"a b\"\t \"c\td\"\n1\t2\n", space).unwrap();
        assert_eq!(t.feature_names.unwrap(), ["a b", "c d"]);
        assert_eq!(t.features, DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
        match parse("1 2 3\n1 \"\"  3\n", space) {
            Err(Error::InvalidField {
                line,
                column,
                found,
                ..
            }) => assert_eq!((line, column, found.as_str()), (2, 2, "")),
            other => panic!("{other:?}"),
        }
        // Tabs past the first chunk of translated text, and a row ending in spaces and `\r`.
        let long = format!("{}\n", ["1"; 5000].join("\t"));
        assert_eq!(parse(&long, space).unwrap().features.shape(), (1, 5000));
        assert_eq!(parse("1 2 \r\n", space).unwrap().features.shape(), (1, 2));
    }

    #[test]
    fn reads_labels_exactly() {
        let cases: [(&str, Option<usize>); 22] = [
            ("7", Some(7)),
            ("+7", Some(7)),
            ("7.0", Some(7)),
            ("7.", Some(7)),
            ("7e0", Some(7)),
            ("0.7e1", Some(7)),
            ("700e-2", Some(7)),
            ("7.00E+2", Some(700)),
            ("-0.0", Some(0)),
            ("0e999999999999999999999", Some(0)),
            ("9007199254740993", Some(9_007_199_254_740_993)),
            ("9007199254740993.0", Some(9_007_199_254_740_993)),
            ("9.007199254740993e15", Some(9_007_199_254_740_993)),
            ("18446744073709551615.0", Some(usize::MAX)),
            ("18446744073709551616.0", None),
            ("7.0000000000000001", None),
            ("1e20", None),
            ("-1", None),
            (".5", None),
            ("1e", None),
            ("e1", None),
            ("inf", None),
        ];
        for (text, label) in cases {
            assert_eq!(parse_label(text), label, "{text}");
        }
        let last = CsvOptions::default().with_label_column(LabelColumn::Last);
        let t = parse("0.5,9007199254740993.0\n", last).unwrap();
        assert_eq!(t.labels, Some(vec![9_007_199_254_740_993]));
    }

    #[test]
    fn splits_on_other_delimiters() {
        let tab = CsvOptions::default().with_delimiter(b'\t');
        assert_eq!(parse("1\t2\n3\t4\n", tab).unwrap().features.shape(), (2, 2));
        let space = CsvOptions::default().with_delimiter(b' ');
        let t = parse("  1   2\t 3\n4 5 6  \n", space).unwrap();
        assert_eq!(
            t.features,
            DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        let semicolon = CsvOptions::default().with_delimiter(b';');
        assert_eq!(
            parse("1,5;2\n", semicolon).unwrap_err().to_string(),
            "t.csv: line 1, column 1: expected a number, found \"1,5\""
        );
        for bad in [b'.', b'-', b'+', b'"', b'a', b'1', b'\n', 0xC3] {
            assert!(
                CsvOptions::default()
                    .with_delimiter(bad)
                    .validate()
                    .is_err(),
                "{bad}"
            );
        }
    }
}
