use crate::{Error, Result};

/// A row-major matrix of pooled features: one row per image.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl Features {
    /// Wraps `data` (row-major, `rows × dim`), refusing non-finite values so that a broken
    /// weights file or image surfaces here rather than as NaN metrics later.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != rows * dim {
            return Err(Error::ShapeMismatch { rows, dim, expected: rows * dim, got: data.len() });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { row: pos / dim.max(1) });
        }
        Ok(Self { rows, dim, data })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The whole matrix, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1)).take(self.rows)
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Features {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Features { rows: indices.len(), dim: self.dim, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_wrong_length_and_non_finite_values() {
        assert!(matches!(Features::new(2, 3, vec![0.0; 5]), Err(Error::ShapeMismatch { .. })));
        let err = Features::new(2, 2, vec![0.0, 1.0, f32::NAN, 2.0]).unwrap_err();
        assert_eq!(err, Error::NonFinite { row: 1 });
    }

    #[test]
    fn select_keeps_requested_order() {
        let f = Features::new(3, 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let s = f.select(&[2, 0]);
        assert_eq!(s.rows(), 2);
        assert_eq!(s.row(0), &[4.0, 5.0]);
        assert_eq!(s.row(1), &[0.0, 1.0]);
        assert_eq!(f.iter_rows().count(), 3);
    }
}
