//! CSV files of numbers: one sample per row, an optional header, an optional label column.

use super::Table;
use super::idx::maybe_gunzip;
use crate::validate::check_param;
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use std::path::Path;

/// Longest field text kept in an [`Error::InvalidField`].
const MAX_FIELD_CHARS: usize = 32;

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
/// Labels must be non-negative integers (`7`, or `7.0` as NumPy writes them).
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
/// The format read is deliberately simple: one sample per line; fields split at every
/// delimiter (at every run of spaces and tabs when the delimiter is a space); each field
/// trimmed of surrounding whitespace and of one pair of surrounding double quotes. Quoted
/// fields that contain the delimiter are not supported. Blank lines are skipped, a leading
/// UTF-8 byte-order mark is ignored, and line ends may be `\n` or `\r\n`.
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
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&file, e))?;
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
/// Each names `source_name`, and lines and columns count from 1:
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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(index, row)| (index + 1, row))
        .filter(|(_, row)| !row.trim().is_empty());
    let no_data = || Error::NoDataRows {
        file: source_name.to_owned(),
    };
    let (first_line, first_row) = rows.next().ok_or_else(no_data)?;

    let mut fields: Vec<&str> = Vec::new();
    split(first_row, options.delimiter, &mut fields);
    let width = fields.len();
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
        HeaderMode::Auto => fields.iter().all(|f| f.parse::<f64>().is_err()),
    };

    let mut reader = RowReader::<T> {
        file: source_name,
        width,
        label,
        values: Vec::new(),
        labels: Vec::new(),
    };
    let feature_names = if has_header {
        let names = fields.iter().enumerate().filter(|&(i, _)| Some(i) != label);
        Some(names.map(|(_, name)| (*name).to_owned()).collect())
    } else {
        reader.push(first_line, &fields)?;
        None
    };
    for (line, row) in rows {
        split(row, options.delimiter, &mut fields);
        reader.push(line, &fields)?;
    }

    let samples = reader.labels.len();
    if samples == 0 {
        return Err(no_data());
    }
    let input_dim = width - usize::from(label.is_some());
    Ok(Table {
        features: DMatrix::from_row_slice(samples, input_dim, &reader.values),
        labels: label.map(|_| reader.labels),
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

/// Splits `row` into cleaned fields, replacing the contents of `fields`.
fn split<'a>(row: &'a str, delimiter: u8, fields: &mut Vec<&'a str>) {
    fields.clear();
    if delimiter == b' ' {
        fields.extend(row.split([' ', '\t']).filter(|f| !f.is_empty()).map(clean));
    } else {
        fields.extend(row.split(char::from(delimiter)).map(clean));
    }
}

/// Trims whitespace, then one pair of surrounding double quotes.
fn clean(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

/// Accumulates parsed rows.
struct RowReader<'a, T> {
    file: &'a str,
    width: usize,
    label: Option<usize>,
    /// Features, row-major.
    values: Vec<T>,
    /// One per row pushed, labels or not, so its length counts the rows.
    labels: Vec<usize>,
}

impl<T: Scalar> RowReader<'_, T> {
    fn push(&mut self, line: usize, fields: &[&str]) -> Result<()> {
        if fields.len() != self.width {
            return Err(Error::RaggedRow {
                file: self.file.to_owned(),
                line,
                expected: self.width,
                found: fields.len(),
            });
        }
        let mut label = 0;
        for (index, field) in fields.iter().enumerate() {
            let invalid = |expected| Error::InvalidField {
                file: self.file.to_owned(),
                line,
                column: index + 1,
                found: shorten(field),
                expected,
            };
            if Some(index) == self.label {
                label =
                    parse_label(field).ok_or_else(|| invalid("a non-negative integer label"))?;
                continue;
            }
            let value: f64 = field.parse().map_err(|_| invalid("a number"))?;
            if !value.is_finite() {
                return Err(invalid("a finite number (NaN and infinities are refused)"));
            }
            let value = T::cast(value);
            if !value.is_finite() {
                return Err(invalid("a number within the range of f32"));
            }
            self.values.push(value);
        }
        self.labels.push(label);
        Ok(())
    }
}

/// A non-negative integer written as an integer (`7`) or as an integral number (`7.0`, `7e0`).
fn parse_label(field: &str) -> Option<usize> {
    if let Ok(label) = field.parse::<usize>() {
        return Some(label);
    }
    let value: f64 = field.parse().ok()?;
    // Beyond 2^53 an f64 no longer holds every integer, so the label would not be the one written.
    let exact = value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_992.0;
    exact.then_some(value as usize)
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
