//! The checks behind the fuzz targets. Each reader must return `Ok` or `Err` for any input,
//! never panic, and an `Ok` must be consistent with the input: a failed check panics, which
//! libFuzzer reports as a crash and saves the input.

use autoencoders::data::{
    CsvOptions, HeaderMode, IdxArray, IdxData, LabelColumn, Table, parse_csv, parse_idx,
};
use autoencoders::rand::SeedableRng;
use autoencoders::{DynamicAutoencoder, Error, Scalar};

/// Loads `data` as a model file in both dtypes.
pub fn model_file(data: &[u8]) {
    model_file_as::<f32>(data);
    model_file_as::<f64>(data);
}

fn model_file_as<T: Scalar>(data: &[u8]) {
    let model = match DynamicAutoencoder::<T>::from_safetensors(data, "fuzz") {
        Ok(model) => model,
        Err(Error::ModelFile { .. }) => return,
        Err(other) => panic!("a model file error must be Error::ModelFile, got {other:?}"),
    };
    // A model that loads holds exactly the values of the file: saved again, the data section
    // is the input's; and the saved file loads to the same model.
    let saved = model.to_safetensors().expect("a loaded model saves");
    assert_eq!(data_section(&saved), data_section(data));
    let reloaded =
        DynamicAutoencoder::<T>::from_safetensors(&saved, "saved").expect("a saved model loads");
    assert_eq!(reloaded.to_safetensors().expect("saves"), saved);
}

fn data_section(file: &[u8]) -> &[u8] {
    let header_len = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    &file[8 + header_len..]
}

/// Parses `data` as an IDX file.
pub fn idx(data: &[u8]) {
    let array = match parse_idx(data, "fuzz") {
        Ok(array) => array,
        Err(Error::MalformedFile { offset, .. }) => {
            assert!(offset as usize <= data.len());
            return;
        }
        Err(other) => panic!("parse_idx must fail with MalformedFile, got {other:?}"),
    };
    assert_eq!(
        idx_bytes(&array),
        data,
        "the array does not write back to its file"
    );
    let matrix = array.to_matrix::<f32>();
    let rest = array.dims[1..]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .expect("parse_idx refuses sample sizes that overflow");
    assert_eq!(matrix.shape(), (array.dims[0], rest));
    if let Err(Error::MalformedFile { offset, .. }) = array.to_labels("fuzz") {
        assert!((offset as usize) < data.len());
    }
}

/// An IDX file holding `array`.
fn idx_bytes(array: &IdxArray) -> Vec<u8> {
    let (code, body): (u8, Vec<u8>) = match &array.data {
        IdxData::U8(v) => (0x08, v.clone()),
        IdxData::I8(v) => (0x09, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::I16(v) => (0x0B, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::I32(v) => (0x0C, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::F32(v) => (0x0D, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::F64(v) => (0x0E, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        other => panic!("an element type the fuzzer does not know: {other:?}"),
    };
    let mut bytes = vec![0, 0, code, array.dims.len() as u8];
    for &d in &array.dims {
        let d = u32::try_from(d).expect("IDX sizes are u32");
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(&body);
    bytes
}

/// Parses the text after the first byte as CSV, with options taken from the first byte:
/// bits 0–1 the header mode, bits 2–3 the label column, bits 4–6 the delimiter.
pub fn csv(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    // Text that is not UTF-8 never reaches `parse_csv` (`read_csv` refuses it first).
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let header =
        [HeaderMode::Auto, HeaderMode::Present, HeaderMode::Absent][usize::from(choice & 3) % 3];
    let label = [
        LabelColumn::None,
        LabelColumn::Last,
        LabelColumn::Index(0),
        LabelColumn::Index(1),
    ][usize::from(choice >> 2 & 3)];
    let delimiter = b",;\t |:,,"[usize::from(choice >> 4 & 7)];
    let options = CsvOptions::default()
        .with_header(header)
        .with_label_column(label)
        .with_delimiter(delimiter);
    csv_as::<f64>(text, &options);
    csv_as::<f32>(text, &options);
}

fn csv_as<T: Scalar>(text: &str, options: &CsvOptions) {
    let table = match parse_csv::<T>(text, "fuzz", options) {
        Ok(table) => table,
        Err(
            Error::InvalidField { .. }
            | Error::RaggedRow { .. }
            | Error::NoDataRows { .. }
            | Error::LabelColumnOutOfRange { .. },
        ) => return,
        Err(other) => panic!("parse_csv failed with an error it does not document: {other:?}"),
    };
    let (n, d) = table.features.shape();
    assert!(n >= 1 && d >= 1, "an empty table {n} × {d}");
    assert!(n <= text.lines().filter(|l| !l.trim().is_empty()).count());
    assert!(table.features.iter().all(|v| v.is_finite()));
    if let Some(names) = &table.feature_names {
        assert_eq!(names.len(), d);
    }
    let label = match options.label_column() {
        LabelColumn::None => None,
        LabelColumn::Index(i) => Some(i),
        _ => Some(d),
    };
    assert_eq!(table.labels.as_ref().map(Vec::len), label.map(|_| n));
    // What was read writes back and reads again to the same numbers.
    let again = parse_csv::<T>(
        &csv_text(&table, label, options.delimiter()),
        "again",
        &options.with_header(HeaderMode::Absent),
    )
    .expect("a table written back reads again");
    assert_eq!(again.features, table.features);
    assert_eq!(again.labels, table.labels);
}

/// A table as CSV: no header, labels in column `label` (if any).
fn csv_text<T: Scalar>(table: &Table<T>, label: Option<usize>, delimiter: u8) -> String {
    let delimiter = char::from(delimiter).to_string();
    let mut text = String::new();
    for r in 0..table.features.nrows() {
        let mut fields: Vec<String> = table
            .features
            .row(r)
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        if let (Some(at), Some(labels)) = (label, &table.labels) {
            fields.insert(at, labels[r].to_string());
        }
        text.push_str(&fields.join(&delimiter));
        text.push('\n');
    }
    text
}

/// Loads `data` as each of the other record kinds: the four checkpoints, the deep autoencoder,
/// the pretrained stack, the stacked encoder, the classifier, and the parameters of a small VAE
/// (6 inputs, 4 hidden, 2 latents, as in `seeds/records/`). Each must load or fail with
/// `Error::ModelFile`; what loads must save back to a file that loads.
pub fn records(data: &[u8]) {
    use autoencoders::{
        Activation, Checkpoint, Classifier, ClassifierCheckpoint, DeepAutoencoder, DenseVae,
        Likelihood, PretrainedStack, PretrainingCheckpoint, StackedEncoder, VaeCheckpoint,
    };
    fn refused<V>(result: Result<V, Error>) -> Option<V> {
        match result {
            Ok(value) => Some(value),
            Err(Error::ModelFile { .. }) => None,
            Err(other) => panic!("a model file error must be Error::ModelFile, got {other:?}"),
        }
    }
    let name = "fuzz";
    refused(Checkpoint::<f32>::from_safetensors(data, name));
    refused(ClassifierCheckpoint::<f32>::from_safetensors(data, name));
    refused(VaeCheckpoint::<f32>::from_safetensors(data, name));
    refused(PretrainingCheckpoint::<f32>::from_safetensors(data, name));
    if let Some(deep) = refused(DeepAutoencoder::<f32>::from_safetensors(data, name)) {
        let saved = deep.to_safetensors().expect("a loaded model saves");
        DeepAutoencoder::<f32>::from_safetensors(&saved, "saved").expect("a saved model loads");
    }
    if let Some(stack) = refused(PretrainedStack::<f32>::from_safetensors(data, name)) {
        let saved = stack.to_safetensors().expect("a loaded stack saves");
        PretrainedStack::<f32>::from_safetensors(&saved, "saved").expect("a saved stack loads");
    }
    if let Some(encoder) = refused(StackedEncoder::<f32>::from_safetensors(data, name)) {
        let saved = encoder.to_safetensors().expect("a loaded stack saves");
        StackedEncoder::<f32>::from_safetensors(&saved, "saved").expect("a saved stack loads");
    }
    if let Some(classifier) = refused(Classifier::<StackedEncoder<f32>>::from_safetensors(
        data, name,
    )) {
        let saved = classifier
            .to_safetensors()
            .expect("a loaded classifier saves");
        Classifier::<StackedEncoder<f32>>::from_safetensors(&saved, "saved")
            .expect("a saved classifier loads");
    }
    let mut rng = autoencoders::rand::rngs::ChaCha8Rng::seed_from_u64(0);
    let mut vae = DenseVae::<f32>::dense(
        6,
        &[4],
        2,
        Activation::Relu,
        Likelihood::Bernoulli,
        &mut rng,
    )
    .expect("a small VAE builds");
    let before = vae.parameters_to_safetensors().expect("saves");
    match vae.load_parameters_from_safetensors(data, name) {
        Ok(()) => {
            let saved = vae.parameters_to_safetensors().expect("a loaded VAE saves");
            let mut again = DenseVae::<f32>::dense(
                6,
                &[4],
                2,
                Activation::Relu,
                Likelihood::Bernoulli,
                &mut rng,
            )
            .expect("builds");
            again
                .load_parameters_from_safetensors(&saved, "saved")
                .expect("a saved VAE loads");
            assert_eq!(again.parameters(), vae.parameters());
        }
        Err(Error::ModelFile { .. }) => {
            // A refused file leaves the model as it was.
            assert_eq!(vae.parameters_to_safetensors().expect("saves"), before);
        }
        Err(other) => panic!("a parameters file error must be Error::ModelFile, got {other:?}"),
    }
}
