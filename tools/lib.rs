//! The workspace member that holds the `train`, `vae` and `experiments` examples, the criterion
//! benches and the property tests of `autoencoders`: the targets whose dependencies (clap,
//! criterion, proptest) a user who only wants the library, or its quickstart, need not compile.
//!
//! Their files live in the repository's `examples/`, `benches/` and `tests/` folders; this
//! library holds what the command-line tools share: reading samples, the two kinds of
//! failure and their exit codes, and the check that an output does not overwrite an input.

pub mod model_flags;

use autoencoders::Scalar;
use autoencoders::data::{CsvOptions, LabelColumn, parse_csv, parse_idx};
use nalgebra::DMatrix;
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

/// A failure caused by the command line (exit code 2) or by the run itself (exit code 1).
pub enum Failure {
    /// A bad flag or combination of flags.
    Usage(String),
    /// Anything else.
    Run(Box<dyn Error>),
}

impl<E: Error + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Run(Box::new(e))
    }
}

/// Prints a failure and gives its exit code: 0 for success, 2 for a usage error, 1 otherwise.
pub fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Turns an invalid hyper-parameter (a bad flag value) into a usage error.
pub fn flag<T>(result: autoencoders::Result<T>, flag: &str) -> Result<T, Failure> {
    result.map_err(|e| Failure::Usage(format!("--{flag}: {e}")))
}

/// Samples read from a file, with the image shape the file implies.
pub struct Samples<T: Scalar> {
    /// One sample per row.
    pub x: DMatrix<T>,
    /// `(height, width)` of an IDX file of images.
    pub image_shape: Option<(usize, usize)>,
    /// Whether the file held bytes (an IDX file of `u8`).
    pub bytes: bool,
    /// The labels of a CSV file's label column, when one was given.
    pub labels: Option<Vec<usize>>,
}

/// Reads an IDX file (gzipped or not, recognised by its magic number) or else a CSV of
/// numbers, with `label_column` (CSV only) left out of the features.
pub fn read_samples<T: Scalar>(
    path: &Path,
    label_column: Option<LabelColumn>,
) -> Result<Samples<T>, Failure> {
    let raw = autoencoders::data::read_bytes(path)?;
    let name = path.display().to_string();
    let looks_like_idx =
        raw.len() >= 4 && raw[0] == 0 && raw[1] == 0 && [8, 9, 11, 12, 13, 14].contains(&raw[2]);
    if looks_like_idx {
        if label_column.is_some() {
            return Err(Failure::Usage(
                "--label-column applies to CSV files only".into(),
            ));
        }
        let array = parse_idx(&raw, &name)?;
        let image_shape = match array.dims.as_slice() {
            [_, h, w] => Some((*h, *w)),
            _ => None,
        };
        let bytes = matches!(array.data, autoencoders::data::IdxData::U8(_));
        Ok(Samples {
            x: array.to_matrix(),
            image_shape,
            bytes,
            labels: None,
        })
    } else {
        let text = String::from_utf8(raw)
            .map_err(|_| Failure::Run(format!("{name}: neither IDX nor UTF-8 CSV").into()))?;
        let options = CsvOptions::default().with_label_column(label_column.unwrap_or_default());
        let table = parse_csv::<T>(&text, &name, &options)?;
        Ok(Samples {
            x: table.features,
            image_shape: None,
            bytes: false,
            labels: table.labels,
        })
    }
}

/// Reads a file of class labels: an IDX file of one dimension (gzipped or not).
pub fn read_labels(path: &Path) -> Result<Vec<usize>, Failure> {
    let name = path.display().to_string();
    let array = autoencoders::data::read_idx(path)?;
    if array.dims.len() != 1 {
        return Err(Failure::Run(
            format!("{name}: a label file is an IDX file of one dimension").into(),
        ));
    }
    Ok(array.to_labels(&name)?)
}

/// Whether `output` names the existing file `input` (through any relative path, `..` or
/// symbolic link). An output that does not exist yet is compared through its folder.
pub fn same_file(output: &Path, input: &Path) -> bool {
    let Ok(input) = input.canonicalize() else {
        return false;
    };
    if let Ok(output) = output.canonicalize() {
        return output == input;
    }
    match (folder_of(output).canonicalize(), output.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name) == input,
        _ => false,
    }
}

/// The folder a file path names its file in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether writing `output` would overwrite one of the `inputs` ([`same_file`]).
pub fn overwrites_input(output: &Path, inputs: &[Option<&Path>]) -> bool {
    inputs
        .iter()
        .flatten()
        .any(|input| same_file(output, input))
}

/// The value of a `--label-column` flag: a column index from 0, or `last`.
pub fn parse_label_column(s: &str) -> Result<LabelColumn, String> {
    if s == "last" {
        return Ok(LabelColumn::Last);
    }
    s.parse::<usize>()
        .map(LabelColumn::Index)
        .map_err(|_| format!("expected a column index from 0 or `last`, found `{s}`"))
}

/// The first `limit` rows of `x` (all of them without a limit).
pub fn first_rows<T: Scalar>(x: DMatrix<T>, limit: Option<usize>) -> DMatrix<T> {
    match limit {
        Some(n) if n < x.nrows() => x.rows(0, n).into_owned(),
        _ => x,
    }
}

/// Refuses a `--save` path that names one of the `inputs`, and `--pictures` in a build without
/// the `pictures` feature (`pictures_built`, the caller's `cfg!(feature = "pictures")`), as
/// usage errors naming `example`.
pub fn check_outputs(
    example: &str,
    save: Option<&Path>,
    inputs: &[Option<&Path>],
    pictures: bool,
    pictures_built: bool,
) -> Result<(), Failure> {
    if let Some(save) = save
        && overwrites_input(save, inputs)
    {
        return Err(Failure::Usage(format!(
            "--save {} would overwrite an input file; save to another path",
            save.display()
        )));
    }
    if pictures && !pictures_built {
        return Err(Failure::Usage(format!(
            "--pictures needs the `pictures` feature: cargo run --release --features pictures --example {example} -- …"
        )));
    }
    Ok(())
}
