//! Exact k-nearest-neighbour distances by blocked search: candidate neighbours come from
//! `‖m‖² − 2·q·m` over blocks of queries × memory rows, one `gemm` product per block pair in
//! `f32` (queries blocks in parallel); the few best candidates of each query are then re-measured
//! exactly in `f64`, so the scores do not carry `f32` cancellation error.

use rayon::prelude::*;

use crate::linalg::{View, product_into};
use crate::model::Distance;
use crate::{Error, Features, Result};

/// Query rows per parallel task and memory rows per product: a 128 × 1024 `f32` block of
/// candidate keys (512 KiB) stays in cache next to its two operands.
const QUERY_BLOCK: usize = 128;
const MEMORY_BLOCK: usize = 1024;
/// Candidates kept beyond `k`, re-measured exactly: a neighbour whose `f32` key is within
/// rounding of the `k`-th is not lost.
const SPARE_CANDIDATES: usize = 4;

/// A memory of feature rows to search.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NeighbourIndex {
    distance: Distance,
    /// The rows as given, for the exact re-measurement.
    rows: Features,
    /// For cosine, the rows scaled to unit length (zero rows stay zero); Euclidean searches
    /// `rows` as they are.
    unit_rows: Option<Vec<f32>>,
    /// Per searched row, the key offset: `‖m‖²` for Euclidean, 0 for cosine (where the key
    /// `−2·q·m` already orders by `1 − cos`).
    offsets: Vec<f32>,
}

impl NeighbourIndex {
    pub fn new(rows: Features, distance: Distance) -> Self {
        let (unit_rows, offsets) = match distance {
            Distance::Euclidean => (None, rows.iter_rows().map(|r| r.iter().map(|v| v * v).sum()).collect()),
            Distance::Cosine => (Some(unit_length(&rows)), vec![0.0; rows.rows()]),
        };
        Self { distance, rows, unit_rows, offsets }
    }

    /// The rows as searched.
    fn searched_rows(&self) -> &[f32] {
        self.unit_rows.as_deref().unwrap_or(self.rows.as_slice())
    }

    pub fn len(&self) -> usize {
        self.rows.rows()
    }

    /// For each query row, the mean of its distances to the `k` nearest memory rows
    /// (`1 ≤ k ≤ len`, checked by the models).
    pub fn mean_k_nearest(&self, queries: &Features, k: usize) -> Result<Vec<f64>> {
        let dim = self.rows.dim();
        if queries.dim() != dim {
            return Err(Error::DimensionMismatch { expected: dim, got: queries.dim() });
        }
        debug_assert!(k >= 1 && k <= self.len());
        let q_search = match self.distance {
            Distance::Euclidean => std::borrow::Cow::Borrowed(queries.as_slice()),
            Distance::Cosine => std::borrow::Cow::Owned(unit_length(queries)),
        };
        let keep = (k + SPARE_CANDIDATES).min(self.len());
        let mut out = vec![0.0; queries.rows()];
        out.par_chunks_mut(QUERY_BLOCK).enumerate().for_each(|(block, out)| {
            let first = block * QUERY_BLOCK;
            let q_rows = &q_search[first * dim..(first + out.len()) * dim];
            let candidates = self.candidates(q_rows, out.len(), keep);
            for (i, (slot, best)) in out.iter_mut().zip(candidates.chunks_exact(keep)).enumerate() {
                let query = queries.row(first + i);
                let mut exact: Vec<f64> = best.iter().map(|&(_, m)| self.distance.between(query, self.rows.row(m as usize))).collect();
                exact.sort_by(f64::total_cmp);
                *slot = exact[..k].iter().sum::<f64>() / k as f64;
            }
        });
        Ok(out)
    }

    /// The `keep` lowest-key memory rows of each of `n` queries, `(key, row)`, ascending.
    fn candidates(&self, q_rows: &[f32], n: usize, keep: usize) -> Vec<(f32, u32)> {
        let dim = self.rows.dim();
        let mut best = vec![(f32::INFINITY, 0u32); n * keep];
        let mut dots = vec![0.0f32; n * MEMORY_BLOCK];
        for start in (0..self.len()).step_by(MEMORY_BLOCK) {
            let m = MEMORY_BLOCK.min(self.len() - start);
            let memory = View::row_major(&self.searched_rows()[start * dim..(start + m) * dim], m, dim);
            let dots = &mut dots[..n * m];
            product_into(View::row_major(q_rows, n, dim), memory.transposed(), 1.0, dots);
            for (row_dots, best) in dots.chunks_exact(m).zip(best.chunks_exact_mut(keep)) {
                for (j, &dot) in row_dots.iter().enumerate() {
                    let key = self.offsets[start + j] - 2.0 * dot;
                    if key < best[keep - 1].0 {
                        insert_sorted(best, (key, (start + j) as u32));
                    }
                }
            }
        }
        best
    }
}

/// Inserts into an ascending, full list, dropping its last entry.
fn insert_sorted(best: &mut [(f32, u32)], item: (f32, u32)) {
    let mut i = best.len() - 1;
    while i > 0 && best[i - 1].0 > item.0 {
        best[i] = best[i - 1];
        i -= 1;
    }
    best[i] = item;
}

/// The rows scaled to unit length (zero rows stay zero): cosine distance orders as Euclidean
/// distance between these.
pub(crate) fn unit_length(rows: &Features) -> Vec<f32> {
    rows.iter_rows()
        .flat_map(|r| {
            let norm = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            let scale = if norm == 0.0 { 0.0 } else { (1.0 / norm) as f32 };
            r.iter().map(move |&v| v * scale)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn random(rows: usize, dim: usize, seed: u64) -> Features {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Features::new(rows, dim, (0..rows * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).unwrap()
    }

    /// The plain O(n·m·d) search, in f64, as the reference.
    fn brute_force(memory: &Features, queries: &Features, k: usize, distance: Distance) -> Vec<f64> {
        queries
            .iter_rows()
            .map(|q| {
                let mut d: Vec<f64> = memory.iter_rows().map(|m| distance.between(q, m)).collect();
                d.sort_by(f64::total_cmp);
                d[..k].iter().sum::<f64>() / k as f64
            })
            .collect()
    }

    #[test]
    fn blocked_search_equals_brute_force_across_block_edges() {
        // Sizes straddle QUERY_BLOCK and MEMORY_BLOCK so that partial blocks are exercised.
        let memory = random(MEMORY_BLOCK + 37, 9, 1);
        let queries = random(QUERY_BLOCK + 5, 9, 2);
        for distance in Distance::ALL {
            let index = NeighbourIndex::new(memory.clone(), distance);
            for k in [1, 3] {
                let got = index.mean_k_nearest(&queries, k).unwrap();
                let want = brute_force(&memory, &queries, k, distance);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-12 * w.max(1.0), "{distance} k={k}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn a_query_in_memory_is_at_distance_zero_and_zero_rows_are_orthogonal() {
        let memory = Features::new(3, 2, vec![1.0, 2.0, 0.0, 0.0, -4.0, 1.0]).unwrap();
        let queries = Features::new(2, 2, vec![1.0, 2.0, 0.0, 0.0]).unwrap();
        let euclid = NeighbourIndex::new(memory.clone(), Distance::Euclidean).mean_k_nearest(&queries, 1).unwrap();
        assert_eq!(euclid, vec![0.0, 0.0]);
        let cosine = NeighbourIndex::new(memory, Distance::Cosine).mean_k_nearest(&queries, 1).unwrap();
        assert!(cosine[0].abs() < 1e-15);
        assert_eq!(cosine[1], 1.0, "a zero query is at cosine distance 1 from everything");
        let err = NeighbourIndex::new(random(4, 3, 0), Distance::Euclidean).mean_k_nearest(&random(1, 2, 0), 1).unwrap_err();
        assert_eq!(err, Error::DimensionMismatch { expected: 3, got: 2 });
    }
}
