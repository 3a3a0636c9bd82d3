//! The dense kernels: matrix products through `gemm` (built at opt-level 3 even in the dev
//! profile, so heavy products stay fast in tests), and a Cholesky factor for Mahalanobis
//! distances.

/// A matrix view: element `(r, c)` is `data[r·row_stride + c·col_stride]`, so a transpose is
/// the same data with the strides swapped.
#[derive(Clone, Copy)]
pub(crate) struct View<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> View<'a, T> {
    /// A row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    pub fn transposed(self) -> Self {
        Self { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    fn last_index(&self) -> Option<usize> {
        (self.rows > 0 && self.cols > 0).then(|| (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride)
    }
}

/// `dst = lhs · rhs`, `dst` row-major `lhs.rows × rhs.cols`, single-threaded (callers
/// parallelise over blocks). `T` is `f32` or `f64`.
pub(crate) fn product_into<T: Copy + 'static>(lhs: View<T>, rhs: View<T>, one: T, dst: &mut [T]) {
    assert_eq!(lhs.cols, rhs.rows, "inner dimensions of a product");
    assert_eq!(dst.len(), lhs.rows * rhs.cols, "product destination size");
    assert!(lhs.last_index().is_none_or(|i| i < lhs.data.len()), "lhs view within its data");
    assert!(rhs.last_index().is_none_or(|i| i < rhs.data.len()), "rhs view within its data");
    if dst.is_empty() {
        return;
    }
    // SAFETY: the assertions above keep every element gemm reads inside `lhs.data` and
    // `rhs.data` and every element it writes inside `dst`; `read_dst = false`, so `dst` need
    // not be initialised to anything in particular.
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst.as_mut_ptr(),
            1,
            rhs.cols as isize,
            false,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            one,
            one,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `XᵀX` (`d × d`, row-major) of a row-major `n × d` matrix.
pub(crate) fn gram(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    let view = View::row_major(x, n, d);
    let mut out = vec![0.0; d * d];
    product_into(view.transposed(), view, 1.0, &mut out);
    out
}

/// The lower Cholesky factor `L` of a symmetric positive-definite matrix, `A = L·Lᵀ`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cholesky {
    dim: usize,
    /// Row-major, upper triangle zero.
    lower: Vec<f64>,
}

impl Cholesky {
    /// Factors a row-major `d × d` symmetric matrix (only its lower triangle is read); `None`
    /// when it is not numerically positive definite.
    pub fn factor(mut a: Vec<f64>, dim: usize) -> Option<Self> {
        // Cholesky–Banachiewicz in place, row by row: the inner products run over contiguous
        // row prefixes.
        for i in 0..dim {
            for j in 0..=i {
                let value = {
                    let row_i = &a[i * dim..(i + 1) * dim];
                    let row_j = &a[j * dim..(j + 1) * dim];
                    let s = row_i[j] - dot(&row_i[..j], &row_j[..j]);
                    if j < i {
                        s / row_j[j]
                    } else if s > 0.0 && s.is_finite() {
                        s.sqrt()
                    } else {
                        return None;
                    }
                };
                a[i * dim + j] = value;
            }
            a[i * dim + i + 1..(i + 1) * dim].fill(0.0);
        }
        Some(Self { dim, lower: a })
    }

    /// `‖L⁻¹ v‖`, the Mahalanobis norm of `v` under `A`; `v` is overwritten by `L⁻¹ v`.
    pub fn whitened_norm(&self, v: &mut [f64]) -> f64 {
        debug_assert_eq!(v.len(), self.dim);
        for i in 0..self.dim {
            let row = &self.lower[i * self.dim..(i + 1) * self.dim];
            v[i] = (v[i] - dot(&row[..i], &v[..i])) / row[i];
        }
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// The smallest diagonal entry of `L` (its square bounds how close to singular `A` is).
    #[cfg(test)]
    pub fn min_pivot(&self) -> f64 {
        (0..self.dim).map(|i| self.lower[i * self.dim + i]).fold(f64::INFINITY, f64::min)
    }
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_follow_the_strides() {
        // a = [[1, 2, 3], [4, 5, 6]], b = [[1, 0], [0, 1], [1, 1]]
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut ab = [0.0f32; 4];
        product_into(View::row_major(&a, 2, 3), View::row_major(&b, 3, 2), 1.0, &mut ab);
        assert_eq!(ab, [4.0, 5.0, 10.0, 11.0]);
        let mut aat = [0.0f32; 4];
        let av = View::row_major(&a, 2, 3);
        product_into(av, av.transposed(), 1.0, &mut aat);
        assert_eq!(aat, [14.0, 32.0, 32.0, 77.0]);
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(gram(&x, 3, 2), vec![35.0, 44.0, 44.0, 56.0]);
    }

    #[test]
    fn cholesky_factors_and_whitens() {
        // A = [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]].
        let c = Cholesky::factor(vec![4.0, 2.0, 2.0, 3.0], 2).unwrap();
        assert_eq!(c.lower[..3], [2.0, 0.0, 1.0]);
        assert!((c.lower[3] - 2f64.sqrt()).abs() < 1e-15);
        // vᵀA⁻¹v for v = (2, 1): A⁻¹ = [[3, −2], [−2, 4]] / 8 → (12 − 8 + 4) / 8 = 1.
        assert!((c.whitened_norm(&mut [2.0, 1.0]) - 1.0).abs() < 1e-15);
        assert!(Cholesky::factor(vec![1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
        assert!(Cholesky::factor(vec![1.0, 1.0, 1.0, 1.0], 2).is_none(), "singular");
    }
}
