//! The pictures: PNG files that decode to the layout and the grey levels documented, a loss
//! plot whose curves are where the data say, and typed errors for bad input.
#![cfg(feature = "pictures")]

mod common;

use autoencoders::pictures::{
    CLASS_PALETTE, LinePlot, MAX_SIDE, PALETTE, Picture, PixelFormat, TileGrid, filter_grid,
    image_grid, loss_curves, reconstruction_grid,
};
use autoencoders::{Adam, DenseBuilder, Error, History, KlSparsity, TrainingConfig};
use nalgebra::DMatrix;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A fresh, empty folder for one test's files, removed when the test passes (and kept for a
/// look when it fails).
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "autoencoders-pictures-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl std::ops::Deref for Folder {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Folder {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A decoded PNG file: width, height, colour type and pixels.
struct Decoded {
    width: usize,
    height: usize,
    color: png::ColorType,
    data: Vec<u8>,
}

impl Decoded {
    fn channels(&self) -> usize {
        match self.color {
            png::ColorType::Grayscale => 1,
            png::ColorType::Rgb => 3,
            other => panic!("unexpected colour type {other:?}"),
        }
    }

    fn gray(&self, x: usize, y: usize) -> u8 {
        assert_eq!(self.color, png::ColorType::Grayscale);
        self.data[y * self.width + x]
    }

    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        assert_eq!(self.color, png::ColorType::Rgb);
        let i = 3 * (y * self.width + x);
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

fn decode(path: &Path) -> Decoded {
    let mut reader = png::Decoder::new(BufReader::new(File::open(path).unwrap()))
        .read_info()
        .unwrap();
    let mut data = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut data).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    data.truncate(info.buffer_size());
    Decoded {
        width: info.width as usize,
        height: info.height as usize,
        color: info.color_type,
        data,
    }
}

/// Saves `picture` into `folder` as `name`, decodes it and checks it round-trips.
fn save_and_decode(picture: &Picture, folder: &Path, name: &str) -> Decoded {
    let path = folder.join(name);
    picture.save_png(&path).unwrap();
    let decoded = decode(&path);
    assert_eq!(
        (decoded.width, decoded.height),
        (picture.width(), picture.height())
    );
    assert_eq!(decoded.channels(), picture.format().channels());
    assert_eq!(decoded.data, picture.data());
    decoded
}

#[test]
fn filter_grid_lays_out_tiles_with_one_pixel_borders() {
    let dir = Folder::new("filter-layout");
    // 5 filters of 2 × 3: display_network's near-square grid is 3 columns by 2 rows.
    let weights = DMatrix::from_fn(5, 6, |i, j| ((i * 6 + j) as f64).sin());
    let png = save_and_decode(
        &filter_grid(&weights, &TileGrid::new(2, 3)).unwrap(),
        &dir,
        "filters.png",
    );
    assert_eq!(png.color, png::ColorType::Grayscale);
    assert_eq!((png.width, png.height), (1 + 3 * (3 + 1), 1 + 2 * (2 + 1)));
    // Borders and the empty sixth cell are black.
    for x in 0..png.width {
        assert_eq!(png.gray(x, 0), 0);
        assert_eq!(png.gray(x, 3), 0);
    }
    for y in 0..png.height {
        assert_eq!(png.gray(0, y), 0);
        assert_eq!(png.gray(4, y), 0);
    }
    for (x, y) in [(9, 4), (11, 5)] {
        assert_eq!(png.gray(x, y), 0, "empty cell at ({x}, {y})");
    }

    // Scale 2 doubles the tiles, not the borders; explicit columns are honoured.
    let scaled = filter_grid(&weights, &TileGrid::new(2, 3).with_scale(2).with_columns(5)).unwrap();
    assert_eq!(
        (scaled.width(), scaled.height()),
        (1 + 5 * (6 + 1), 1 + 4 + 1)
    );
    let original = filter_grid(&weights, &TileGrid::new(2, 3).with_columns(5)).unwrap();
    for (x, y) in [(0, 0), (2, 1), (1, 0)] {
        let small = original.pixel(1 + x, 1 + y).unwrap();
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            assert_eq!(scaled.pixel(1 + 2 * x + dx, 1 + 2 * y + dy).unwrap(), small);
        }
    }
    // More columns than filters: one row, as wide as the filters need.
    let wide = filter_grid(&weights, &TileGrid::new(2, 3).with_columns(50)).unwrap();
    assert_eq!((wide.width(), wide.height()), (1 + 5 * 4, 1 + 3));
}

#[test]
fn a_single_positive_spike_is_one_white_pixel_on_grey() {
    let dir = Folder::new("spike");
    let mut weights = DMatrix::zeros(2, 9);
    weights[(0, 4)] = 0.7_f32; // the centre of a 3 × 3 tile
    weights[(1, 4)] = -0.002_f32; // the same spike, negative and tiny
    let png = save_and_decode(
        &filter_grid(&weights, &TileGrid::new(3, 3)).unwrap(),
        &dir,
        "spike.png",
    );
    assert_eq!((png.width, png.height), (9, 5));
    // After subtracting the tile's mean (0.7 / 9) and dividing by the largest magnitude
    // (0.7 · 8/9), the spike is 1 and every other pixel −1/8: grey level (1 − 1/8)/2 · 255.
    let grey = |v: f64| ((v + 1.0) / 2.0 * 255.0).round() as u8;
    for y in 0..3 {
        for x in 0..3 {
            let (first, second) = (png.gray(1 + x, 1 + y), png.gray(5 + x, 1 + y));
            if (x, y) == (1, 1) {
                assert_eq!((first, second), (255, 0));
            } else {
                assert_eq!(first, grey(-1.0 / 8.0));
                assert_eq!(second, grey(1.0 / 8.0));
            }
        }
    }
}

#[test]
fn tiles_are_normalised_each_on_its_own() {
    let row: Vec<f64> = (0..12).map(|i| f64::from(i * i % 7) - 2.5).collect();
    let mut weights = DMatrix::zeros(3, 12);
    for (j, &v) in row.iter().enumerate() {
        weights[(0, j)] = v;
        weights[(1, j)] = 1e-6 * v + 40.0; // scaled and shifted: the same picture
    }
    weights.row_mut(2).fill(3.0); // flat: uniform mid-grey
    let grid = TileGrid::new(3, 4).with_columns(3);
    let picture = filter_grid(&weights, &grid).unwrap();
    assert_eq!(picture.format(), PixelFormat::Gray);
    let mut levels = Vec::new();
    for y in 0..3 {
        for x in 0..4 {
            let first = picture.pixel(1 + x, 1 + y).unwrap()[0];
            let second = picture.pixel(6 + x, 1 + y).unwrap()[0];
            assert!(
                first.abs_diff(second) <= 1,
                "({x}, {y}): {first} vs {second}"
            );
            assert_eq!(picture.pixel(11 + x, 1 + y).unwrap(), [128]);
            levels.push(first);
        }
    }
    // The largest deviation from the mean reaches black or white.
    assert!(levels.contains(&0) || levels.contains(&255));
}

#[test]
fn reconstruction_grid_shows_originals_above_reconstructions() {
    let dir = Folder::new("reconstructions");
    // 12 samples of 2 × 2 pixels: rows of 10, so two pairs of rows, the second one 2 wide.
    let originals = DMatrix::from_fn(12, 4, |i, j| (i * 4 + j) as f64 / 47.0);
    let reconstructions = originals.map(|v| 1.0 - v);
    let png = save_and_decode(
        &reconstruction_grid(&originals, &reconstructions, &TileGrid::new(2, 2)).unwrap(),
        &dir,
        "reconstructions.png",
    );
    let pitch = 3; // 2 pixels of tile, 1 of border
    let pair = 2 * pitch + 3; // two rows of tiles, then a gap of 3
    assert_eq!((png.width, png.height), (1 + 10 * pitch, 2 * pair + 1 - 3));
    let level = |v: f64| (v * 255.0).round() as u8;
    for k in 0..12 {
        let (x0, y0) = (1 + (k % 10) * pitch, 1 + (k / 10) * pair);
        for j in 0..4 {
            let (x, y) = (x0 + j % 2, y0 + j / 2);
            assert_eq!(png.gray(x, y), level(originals[(k, j)]), "sample {k}");
            assert_eq!(png.gray(x, y + pitch), level(reconstructions[(k, j)]));
        }
    }
    // Borders, the gap between pairs and the empty cells are mid-grey.
    let background = png.gray(0, 0);
    assert_eq!(background, 96);
    assert_eq!(png.gray(5, 2 * pitch + 1), background);
    assert_eq!(png.gray(1 + 5 * pitch, 1 + pair), background);
}

#[test]
fn image_grid_draws_each_row_as_a_tile_near_square() {
    // 6 images of 1 × 2 pixels: ⌈√6⌉ = 3 columns, 2 rows; values clipped to [0, 1].
    let images = DMatrix::from_fn(6, 2, |i, j| (i as f64 - 1.0) / 3.0 + j as f64 * 0.5);
    let picture = image_grid(&images, &TileGrid::new(1, 2)).unwrap();
    let (pitch_x, pitch_y) = (3, 2);
    assert_eq!(
        (picture.width(), picture.height()),
        (1 + 3 * pitch_x, 1 + 2 * pitch_y)
    );
    for k in 0..6 {
        for j in 0..2 {
            let v = images[(k, j)].clamp(0.0, 1.0);
            let (x, y) = (1 + (k % 3) * pitch_x + j, 1 + (k / 3) * pitch_y);
            assert_eq!(
                picture.pixel(x, y).unwrap(),
                [(v * 255.0).round() as u8],
                "{k}, {j}"
            );
        }
    }
    assert_eq!(picture.pixel(0, 0).unwrap(), [96]);
    assert!(matches!(
        image_grid(&DMatrix::<f64>::zeros(2, 3), &TileGrid::new(1, 2)),
        Err(Error::TileShape { .. })
    ));
}

#[test]
fn a_scatter_plot_puts_each_class_in_its_colour_and_refuses_bad_points() {
    // Two clusters far apart, 400 points each on a grid: class 3 at the bottom left, class 7
    // at the top right.
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for i in 0..400 {
        let (dx, dy) = ((i % 20) as f64 * 0.015, (i / 20) as f64 * 0.015);
        points.push((-1.0 + dx, -1.0 + dy));
        labels.push(3);
        points.push((1.0 - dx, 1.0 - dy));
        labels.push(17); // class 7, by label % 10
    }
    let plot = LinePlot::default().with_size(400, 400);
    let picture = plot.render_scatter(&points, &labels).unwrap();
    assert_eq!((picture.width(), picture.height()), (400, 400));
    let colour_count = |c: [u8; 3]| {
        (0..400)
            .flat_map(|y| (0..400).map(move |x| (x, y)))
            .filter(|&(x, y)| picture.pixel(x, y).unwrap() == c)
            .collect::<Vec<_>>()
    };
    let (threes, sevens) = (
        colour_count(CLASS_PALETTE[3]),
        colour_count(CLASS_PALETTE[7]),
    );
    assert!(!threes.is_empty() && !sevens.is_empty());
    // Nearly all of each colour lies on its cluster's side: the rest is its legend sample.
    let left_bottom = threes.iter().filter(|&&(x, y)| x < 200 && y > 200).count();
    let right_top = sevens.iter().filter(|&&(x, y)| x > 200 && y < 200).count();
    assert!(
        left_bottom * 10 > threes.len() * 9,
        "{left_bottom} of {}",
        threes.len()
    );
    assert!(
        right_top * 10 > sevens.len() * 9,
        "{right_top} of {}",
        sevens.len()
    );
    assert!(
        colour_count(CLASS_PALETTE[0]).is_empty(),
        "no class 0 drawn"
    );
    assert!(matches!(
        plot.render_scatter(&points, &labels[1..]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        plot.render_scatter(&[], &[]),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        plot.render_scatter(&[(0.0, f64::NAN)], &[0]),
        Err(Error::NonFiniteSeries { index: 0, .. })
    ));
}

#[test]
fn reconstruction_values_are_clipped_to_the_unit_interval() {
    let originals = DMatrix::from_row_slice(1, 2, &[1.7_f32, -0.2]);
    let reconstructions = DMatrix::from_row_slice(1, 2, &[0.5_f32, 30.0]);
    let picture = reconstruction_grid(&originals, &reconstructions, &TileGrid::new(1, 2)).unwrap();
    assert_eq!(picture.pixel(1, 1).unwrap(), [255]);
    assert_eq!(picture.pixel(2, 1).unwrap(), [0]);
    assert_eq!(picture.pixel(1, 3).unwrap(), [128]);
    assert_eq!(picture.pixel(2, 3).unwrap(), [255]);
}

#[cfg(feature = "bundled-digits")]
#[test]
fn bundled_digits_keep_their_grey_levels() {
    let digits = autoencoders::data::bundled_digits::<f32>().unwrap();
    let test = digits.test_images.rows(0, 4).into_owned();
    let picture = reconstruction_grid(&test, &test, &TileGrid::new(28, 28)).unwrap();
    assert_eq!(
        (picture.width(), picture.height()),
        (1 + 4 * 29, 1 + 2 * 29)
    );
    for k in 0..4 {
        for r in 0..28 {
            for c in 0..28 {
                let byte = (test[(k, r * 28 + c)] * 255.0).round() as u8;
                let x = 1 + k * 29 + c;
                assert_eq!(picture.pixel(x, 1 + r).unwrap(), [byte]);
                assert_eq!(picture.pixel(x, 30 + r).unwrap(), [byte]);
            }
        }
    }
}

/// Pixels of `picture` exactly in `color`, as `(x, y)`.
fn pixels_in(png: &Decoded, color: [u8; 3]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for y in 0..png.height {
        for x in 0..png.width {
            if png.rgb(x, y) == color {
                found.push((x, y));
            }
        }
    }
    found
}

/// A short training run with a validation set and a regularizer: all three curves.
fn trained_history() -> History {
    let mut rng = common::rng(5);
    let x = common::uniform(200, 6, 0.0, 1.0, &mut rng);
    let validation = common::uniform(50, 6, 0.0, 1.0, &mut rng);
    let mut model = DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut rng)
        .unwrap()
        .with_regularizer(KlSparsity::new(0.1, 0.5).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(12)
        .with_batch_size(20);
    model
        .fit_with(
            &x,
            Some(&validation),
            &config,
            &mut Adam::new(3e-2).unwrap(),
            &mut rng,
            &mut (),
        )
        .unwrap()
}

#[test]
fn loss_plot_draws_every_curve_across_the_plot() {
    let dir = Folder::new("losses");
    let history = trained_history();
    let png = save_and_decode(&loss_curves(&history).unwrap(), &dir, "losses.png");
    assert_eq!(png.color, png::ColorType::Rgb);
    assert_eq!((png.width, png.height), (800, 500));
    assert_eq!(png.rgb(0, 0), [255, 255, 255]);
    // Objective, reconstruction and validation curves, each in its colour.
    for color in &PALETTE[..3] {
        let pixels = pixels_in(&png, *color);
        assert!(pixels.len() > 100, "{color:?}: {} pixels", pixels.len());
    }
    // Continuous lines: every column in the middle of the plot has coloured pixels (the
    // background, grid, axes and text are all grey).
    let coloured = |p: [u8; 3]| p.iter().max().unwrap() - p.iter().min().unwrap() > 60;
    for x in 150..=450 {
        let count = (0..png.height).filter(|&y| coloured(png.rgb(x, y))).count();
        assert!(count >= 2, "column {x} has {count} coloured pixels");
    }
    assert!(pixels_in(&png, PALETTE[3]).is_empty());
    // Dark text and axes.
    assert!(
        png.data
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 100))
            .count()
            > 500
    );
}

#[test]
fn plotted_curves_follow_the_data() {
    let dir = Folder::new("series");
    let falling: Vec<f64> = (0..20).map(|i| 10.0 / f64::from(i + 1)).collect();
    let rising: Vec<f64> = (0..20).map(f64::from).collect();
    let plot = LinePlot::default()
        .with_size(640, 400)
        .with_x_label("step")
        .with_y_label("value");
    let png = save_and_decode(
        &plot
            .render(&[("falling", falling.clone()), ("rising", rising)])
            .unwrap(),
        &dir,
        "series.png",
    );
    assert_eq!((png.width, png.height), (640, 400));
    // Pixel rows grow downwards: a falling series sits higher on the left than on the right,
    // a rising one lower (the legend avoids the curves, so it is in neither band).
    let mean_row = |color, columns: std::ops::Range<usize>| {
        let rows: Vec<usize> = pixels_in(&png, color)
            .into_iter()
            .filter(|p| columns.contains(&p.0))
            .map(|p| p.1)
            .collect();
        assert!(!rows.is_empty());
        rows.iter().sum::<usize>() as f64 / rows.len() as f64
    };
    // (The legend's line samples lie within 110 pixels of a side.)
    assert!(mean_row(PALETTE[0], 200..250) < mean_row(PALETTE[0], 420..470));
    assert!(mean_row(PALETTE[1], 200..250) > mean_row(PALETTE[1], 420..470));

    // A single point still shows, as a dot in the middle of the plot.
    let one = LinePlot::default().render(&[("one", [2.5])]).unwrap();
    let dot = (300..550).any(|x| (150..350).any(|y| one.pixel(x, y).unwrap() == PALETTE[0]));
    assert!(dot);
}

#[test]
fn bad_tile_shapes_and_sizes_are_typed_errors() {
    let weights = DMatrix::from_element(4, 10, 0.5_f64);
    let err = filter_grid(&weights, &TileGrid::new(3, 3)).unwrap_err();
    assert!(matches!(
        err,
        Error::TileShape {
            height: 3,
            width: 3,
            input_dim: 10
        }
    ));
    assert_eq!(
        err.to_string(),
        "tiles of 3×3 pixels cannot show rows of 10 values"
    );
    let err = reconstruction_grid(&weights, &weights, &TileGrid::new(5, 5)).unwrap_err();
    assert!(matches!(err, Error::TileShape { input_dim: 10, .. }));
    // Products that overflow are a mismatch, not a panic.
    let err = filter_grid(&weights, &TileGrid::new(usize::MAX, 2)).unwrap_err();
    assert!(matches!(err, Error::TileShape { .. }));
    for grid in [
        TileGrid::new(0, 10),
        TileGrid::new(10, 0),
        TileGrid::new(2, 5).with_columns(0),
        TileGrid::new(2, 5).with_scale(0),
    ] {
        assert!(matches!(
            filter_grid(&weights, &grid).unwrap_err(),
            Error::ZeroDimension { .. }
        ));
    }
    let err = filter_grid(&weights, &TileGrid::new(2, 5).with_scale(MAX_SIDE)).unwrap_err();
    assert!(matches!(
        err,
        Error::PictureTooLarge {
            limit: MAX_SIDE,
            ..
        }
    ));
    let err = filter_grid(
        &DMatrix::from_element(1, 1, 0.5_f64),
        &TileGrid::new(1, 1).with_scale(usize::MAX),
    )
    .unwrap_err();
    assert!(matches!(err, Error::PictureTooLarge { .. }));
}

#[test]
fn empty_and_non_finite_data_are_typed_errors() {
    let grid = TileGrid::new(2, 2);
    assert!(matches!(
        filter_grid(&DMatrix::<f32>::zeros(0, 4), &grid).unwrap_err(),
        Error::EmptyData { .. }
    ));
    let mut weights = DMatrix::from_element(3, 4, 0.1_f64);
    weights[(2, 1)] = f64::NAN;
    assert!(matches!(
        filter_grid(&weights, &grid).unwrap_err(),
        Error::NonFiniteData {
            row: 2,
            column: 1,
            ..
        }
    ));
    let good = DMatrix::from_element(3, 4, 0.1_f64);
    assert!(matches!(
        reconstruction_grid(&good, &weights, &grid).unwrap_err(),
        Error::NonFiniteData { row: 2, .. }
    ));
    assert!(matches!(
        reconstruction_grid(&good, &DMatrix::zeros(2, 4), &grid).unwrap_err(),
        Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        }
    ));
    assert!(matches!(
        reconstruction_grid(&good, &DMatrix::zeros(3, 9), &grid).unwrap_err(),
        Error::DimensionMismatch {
            expected: 4,
            found: 9,
            ..
        }
    ));
    assert!(matches!(
        reconstruction_grid(&DMatrix::<f64>::zeros(0, 4), &DMatrix::zeros(0, 4), &grid)
            .unwrap_err(),
        Error::EmptyData { .. }
    ));

    let plot = LinePlot::default();
    let no_series: [(&str, Vec<f64>); 0] = [];
    assert!(matches!(
        plot.render(&no_series).unwrap_err(),
        Error::EmptyData { .. }
    ));
    assert!(matches!(
        plot.render(&[("a", vec![1.0]), ("b", vec![])]).unwrap_err(),
        Error::EmptyData { .. }
    ));
    let err = plot
        .render(&[("fine", vec![1.0, 2.0]), ("bad", vec![1.0, 2.0, f64::NAN])])
        .unwrap_err();
    assert!(matches!(&err, Error::NonFiniteSeries { series, index: 2 } if series == "bad"));
    assert!(matches!(
        plot.render(&[("inf", [f64::INFINITY])]).unwrap_err(),
        Error::NonFiniteSeries { index: 0, .. }
    ));
    let empty = History {
        epochs: Vec::new(),
        stop_reason: autoencoders::StopReason::Completed,
        best_epoch: None,
    };
    assert!(matches!(
        loss_curves(&empty).unwrap_err(),
        Error::EmptyData { .. }
    ));
    for small in [
        LinePlot::default().with_size(100, 500),
        LinePlot::default().with_size(800, 0),
    ] {
        assert!(matches!(
            small.render(&[("a", [1.0])]).unwrap_err(),
            Error::InvalidHyperParameter { .. }
        ));
    }
}

#[test]
fn extreme_values_draw_without_panicking() {
    let huge = [f64::MAX, -f64::MAX, 0.0, f64::MIN_POSITIVE];
    let picture = LinePlot::default().render(&[("huge", huge)]).unwrap();
    assert_eq!(picture.width(), 800);
    let flat = LinePlot::default()
        .render(&[("flat", [1e-300; 3]), ("zero", [0.0; 3])])
        .unwrap();
    assert!(flat.data().chunks(3).any(|p| p == PALETTE[0]));
    let weights = DMatrix::from_row_slice(2, 2, &[f64::MAX, -f64::MAX, f64::MIN_POSITIVE, 0.0]);
    let filters = filter_grid(&weights, &TileGrid::new(1, 2)).unwrap();
    assert_eq!(filters.pixel(1, 1).unwrap(), [255]);
    assert_eq!(filters.pixel(2, 1).unwrap(), [0]);
    let names = LinePlot::default()
        .with_title("Σ ünïcode → ?")
        .render(&[(
            "a name far longer than any legend has room for, and then some more",
            [1.0, 2.0],
        )])
        .unwrap();
    assert_eq!(names.height(), 500);
}

#[test]
fn saving_replaces_the_file_and_leaves_nothing_else() {
    let dir = Folder::new("save");
    let path = dir.join("picture.png");
    let grid = TileGrid::new(1, 1);
    let grey = filter_grid(&DMatrix::from_element(1, 1, 0.0_f64), &grid).unwrap();
    let spikes = filter_grid(&DMatrix::from_row_slice(2, 1, &[1.0_f64, -1.0]), &grid).unwrap();
    grey.save_png(&path).unwrap();
    spikes.save_png(&path).unwrap();
    assert_eq!(decode(&path).data, spikes.data());
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "temporary files left behind");

    let missing = dir.join("no such folder").join("picture.png");
    let err = grey.save_png(&missing).unwrap_err();
    assert!(matches!(&err, Error::Io { file, .. } if file.contains("no such folder")));
    assert!(matches!(grey.save_png(&dir).unwrap_err(), Error::Io { .. }));
    assert!(matches!(grey.save_png("").unwrap_err(), Error::Io { .. }));
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "a failed save left files behind");
}
