//! A dense row-major matrix and the per-feature standardizer.
//!
//! [`Matrix`] is deliberately minimal: one contiguous `Vec<f64>` in row-major order, so a row is a
//! slice and the k-means kernel can stream rows without indirection. [`Standardizer`] is the
//! z-score transform (population standard deviation, like scikit-learn's `StandardScaler`);
//! it ignores non-finite values when fitting so it can be fitted before imputation.

use serde::{Deserialize, Serialize};

use crate::SegmentError;

/// Dense row-major matrix: value `(r, c)` is `data[r * cols + c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    /// A matrix over `data` (row-major). Fails when `data.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, SegmentError> {
        let expected = rows.checked_mul(cols).ok_or(SegmentError::Shape {
            rows,
            cols,
            expected: usize::MAX,
            got: data.len(),
        })?;
        if expected != data.len() {
            return Err(SegmentError::Shape {
                rows,
                cols,
                expected,
                got: data.len(),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix from equally long rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, SegmentError> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for row in rows {
            if row.len() != cols {
                return Err(SegmentError::FeatureCount {
                    expected: cols,
                    got: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Self::new(rows.len(), cols, data)
    }

    /// Row `r` as a slice. Panics when `r >= rows` (a caller bug).
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Iterator over the rows.
    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        // `chunks_exact(0)` panics; a matrix without columns has no meaningful rows here.
        self.data.chunks_exact(self.cols.max(1))
    }

    /// The sub-matrix made of the given rows, in the given order.
    pub fn select_rows(&self, rows: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Matrix {
            rows: rows.len(),
            cols: self.cols,
            data,
        }
    }

    /// The first non-finite value, if any, as [`SegmentError::NonFinite`].
    pub fn check_finite(&self) -> Result<(), SegmentError> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(SegmentError::NonFinite {
                row: i / self.cols.max(1),
                col: i % self.cols.max(1),
            }),
        }
    }
}

/// Per-feature z-score transform: `(x - mean) / std`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits means and population standard deviations per column, over the finite values of
    /// each column. A column with zero spread (or no finite value) gets `std = 1`, so it maps
    /// to a constant instead of dividing by zero; a column with no finite value gets `mean = 0`.
    pub fn fit(data: &Matrix) -> Self {
        let cols = data.cols;
        let mut count = vec![0usize; cols];
        let mut sum = vec![0.0f64; cols];
        for row in data.iter_rows() {
            for (c, &v) in row.iter().enumerate() {
                if v.is_finite() {
                    count[c] += 1;
                    sum[c] += v;
                }
            }
        }
        let mean: Vec<f64> = (0..cols)
            .map(|c| {
                if count[c] == 0 {
                    0.0
                } else {
                    sum[c] / count[c] as f64
                }
            })
            .collect();
        // Second pass over deviations: numerically safer than E[x²] − E[x]².
        let mut ss = vec![0.0f64; cols];
        for row in data.iter_rows() {
            for (c, &v) in row.iter().enumerate() {
                if v.is_finite() {
                    let d = v - mean[c];
                    ss[c] += d * d;
                }
            }
        }
        let std = (0..cols)
            .map(|c| {
                let s = if count[c] == 0 {
                    0.0
                } else {
                    (ss[c] / count[c] as f64).sqrt()
                };
                if s > 1e-12 * mean[c].abs().max(1.0) {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Self { mean, std }
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Standardizes one row. Panics if `row.len() != self.dim()` (a caller bug).
    pub fn transform_row(&self, row: &[f64]) -> Vec<f64> {
        assert_eq!(
            row.len(),
            self.dim(),
            "row length must match the standardizer"
        );
        row.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(&v, (&m, &s))| (v - m) / s)
            .collect()
    }

    /// Maps a standardized row back to raw units.
    pub fn inverse_row(&self, z: &[f64]) -> Vec<f64> {
        assert_eq!(
            z.len(),
            self.dim(),
            "row length must match the standardizer"
        );
        z.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(&v, (&m, &s))| v * s + m)
            .collect()
    }

    /// Standardizes every row of a matrix with the same number of columns.
    pub fn transform(&self, data: &Matrix) -> Matrix {
        assert_eq!(
            data.cols,
            self.dim(),
            "matrix width must match the standardizer"
        );
        let mut out = Vec::with_capacity(data.data.len());
        for row in data.iter_rows() {
            for (c, &v) in row.iter().enumerate() {
                out.push((v - self.mean[c]) / self.std[c]);
            }
        }
        Matrix {
            rows: data.rows,
            cols: data.cols,
            data: out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert!(Matrix::new(2, 3, vec![0.0; 6]).is_ok());
        assert!(matches!(
            Matrix::new(2, 3, vec![0.0; 5]),
            Err(SegmentError::Shape {
                expected: 6,
                got: 5,
                ..
            })
        ));
    }

    #[test]
    fn standardizer_centres_and_scales() {
        let m = Matrix::from_rows(&[
            vec![1.0, 10.0, 5.0],
            vec![2.0, 20.0, 5.0],
            vec![3.0, 30.0, 5.0],
        ])
        .unwrap();
        let s = Standardizer::fit(&m);
        assert_eq!(s.mean, vec![2.0, 20.0, 5.0]);
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((s.std[0] - sd).abs() < 1e-12);
        assert!((s.std[1] - 10.0 * sd).abs() < 1e-12);
        assert_eq!(s.std[2], 1.0, "constant column keeps std 1");
        let z = s.transform(&m);
        for c in 0..3 {
            let col: Vec<f64> = (0..3).map(|r| z.row(r)[c]).collect();
            let mean = col.iter().sum::<f64>() / 3.0;
            assert!(mean.abs() < 1e-12);
        }
        assert!((z.row(2)[0] - 1.0 / sd).abs() < 1e-12);
        assert_eq!(z.row(0)[2], 0.0);
        let back = s.inverse_row(z.row(1));
        for (a, b) in back.iter().zip(m.row(1)) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn standardizer_ignores_nan() {
        let m = Matrix::from_rows(&[
            vec![1.0, f64::NAN],
            vec![3.0, f64::NAN],
            vec![f64::NAN, f64::NAN],
        ])
        .unwrap();
        let s = Standardizer::fit(&m);
        assert_eq!(s.mean, vec![2.0, 0.0]);
        assert_eq!(s.std, vec![1.0, 1.0]);
    }
}
