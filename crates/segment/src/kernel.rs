//! The hot loop: nearest centroid for every row, one Lloyd pass, the inertia.
//!
//! Layout. Centroids are packed *feature-major in blocks of [`LANES`] centroids*: for block `b`
//! and feature `j`, the eight values `c[b*8 + 0..8][j]` are contiguous. For one row `x` the
//! kernel then computes eight squared distances at once,
//! `acc[l] += (x[j] - c[j][l])²` over `j`, which the compiler turns into two 256-bit vector
//! lanes per feature (AVX2) with no shuffles and no square roots. Padding lanes of the last
//! block are computed but never considered by the argmin.
//!
//! Two kernels rank the centroids. The portable one sums squared differences directly. The
//! AVX2 one ranks by `‖c‖² − 2 x·c` (half the floating-point work) and then computes the exact
//! squared difference sum to the winner only (see [`avx2`]). Either way the distances and the
//! inertia reported are exact sums of squared differences, never the cancellation-prone
//! expansion, and no square root is taken. Lloyd iterations only need labels, so they use the
//! ranking alone ([`lloyd_pass`]); inertia, predictions and the empty-cluster search compute
//! the exact distance ([`inertia_pass`], [`assign_all`], [`nearest`]).
//!
//! Dispatch. On x86-64 the kernel is compiled twice: a baseline (SSE2) copy and a copy inside
//! a `#[target_feature(enable = "avx2,fma")]` function, chosen at run time with
//! `is_x86_feature_detected!` (cached by std). The FMA copy rounds differently in the last bit,
//! so results are bit-for-bit reproducible on one machine, not across CPU generations.
//!
//! Parallelism. Rows are cut into fixed chunks of [`CHUNK_ROWS`] (independent of the number of
//! threads); rayon maps each chunk to its own partial sums, and the partials are added up
//! sequentially in chunk order. The result therefore does not depend on the thread count or
//! on work stealing: same input, same bits.

use rayon::prelude::*;

/// Centroids per block; eight `f64` are two AVX2 registers (one AVX-512 register).
pub(crate) const LANES: usize = 8;
/// Rows per parallel work item. 2048 × 8 features × 8 bytes = 128 KiB: large enough to amortise
/// scheduling, small enough for good balance on 1M rows.
pub(crate) const CHUNK_ROWS: usize = 2048;

/// Centroids packed for the kernel (see the module docs).
pub(crate) struct Packed {
    pub k: usize,
    pub d: usize,
    blocks: usize,
    ct: Vec<f64>,
    /// Per block, 0 for a real centroid and +∞ for a padding lane, added before the argmin.
    pad: Vec<[f64; LANES]>,
    /// `-2 c`, packed like `ct` (for the expanded distance of the AVX2 kernel).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    ct_m2: Vec<f64>,
    /// Per block, `‖c‖²` per lane, +∞ for padding lanes.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    norms: Vec<[f64; LANES]>,
    /// The centroids row-major, for the exact distance to the winner.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    rows: Vec<f64>,
}

impl Packed {
    /// Packs `k` centroids of `d` features given row-major in `flat` (`k * d` values).
    pub fn new(flat: &[f64], k: usize, d: usize) -> Self {
        debug_assert_eq!(flat.len(), k * d);
        let blocks = k.div_ceil(LANES);
        let mut ct = vec![0.0; blocks * d * LANES];
        let mut pad = vec![[f64::INFINITY; LANES]; blocks];
        let mut norms = vec![[f64::INFINITY; LANES]; blocks];
        for c in 0..k {
            let (b, l) = (c / LANES, c % LANES);
            pad[b][l] = 0.0;
            let row = &flat[c * d..(c + 1) * d];
            norms[b][l] = row.iter().map(|v| v * v).sum();
            for (j, &v) in row.iter().enumerate() {
                ct[(b * d + j) * LANES + l] = v;
            }
        }
        let ct_m2 = ct.iter().map(|v| -2.0 * v).collect();
        Self {
            k,
            d,
            blocks,
            ct,
            pad,
            ct_m2,
            norms,
            rows: flat.to_vec(),
        }
    }
}

/// Index and value of the smallest of eight values; ties go to the lower index. A balanced
/// tree of selects (depth 3) instead of a serial scan, so it does not form a long dependency
/// chain.
#[inline(always)]
fn argmin8(a: &[f64; LANES]) -> (usize, f64) {
    #[inline(always)]
    fn pick(x: (usize, f64), y: (usize, f64)) -> (usize, f64) {
        if y.1 < x.1 { y } else { x }
    }
    let q0 = pick((0, a[0]), (1, a[1]));
    let q1 = pick((2, a[2]), (3, a[3]));
    let q2 = pick((4, a[4]), (5, a[5]));
    let q3 = pick((6, a[6]), (7, a[7]));
    pick(pick(q0, q1), pick(q2, q3))
}

/// Portable kernel: nearest centroid and squared distance of one row (ties: lower index).
/// The compiler vectorises the eight-lane inner loop with whatever the baseline target offers.
#[inline(always)]
fn nearest_portable(x: &[f64], p: &Packed) -> (usize, f64) {
    let d = p.d;
    let mut best = (0usize, f64::INFINITY);
    for b in 0..p.blocks {
        let block = &p.ct[b * d * LANES..(b + 1) * d * LANES];
        let mut acc = p.pad[b];
        for (c, &xj) in block.chunks_exact(LANES).zip(x) {
            for l in 0..LANES {
                let t = xj - c[l];
                acc[l] += t * t;
            }
        }
        let (l, v) = argmin8(&acc);
        if v < best.1 {
            best = (b * LANES + l, v);
        }
    }
    best
}

fn scan_portable<F: FnMut(usize, &[f64], usize, f64)>(rows: &[f64], p: &Packed, mut visit: F) {
    for (i, x) in rows.chunks_exact(p.d).enumerate() {
        let (c, dist) = nearest_portable(x, p);
        visit(i, x, c, dist);
    }
}

/// The AVX2 + FMA kernel, written with `std::arch` intrinsics: four rows at a time (four
/// independent dependency chains, each centroid vector loaded once for all four), eight
/// centroids per block in two 256-bit registers per row, and a vectorised argmin (horizontal
/// min, compare, movemask, lowest set bit — ties go to the lower index).
///
/// To halve the floating-point work of the search it ranks centroids by the expanded form
/// `‖c‖² − 2 x·c` (one FMA per feature and lane instead of a subtraction and an FMA; the
/// `‖x‖²` term is the same for every centroid), then computes the *exact* squared distance
/// `Σ (x_j − c_j)²` to the winner only. The ranking can differ from exact arithmetic only
/// between centroids whose distances agree to about `1e-16 · (‖x‖² + ‖c‖²)`, i.e. exact ties
/// for all practical purposes (scikit-learn ranks the same way); the distances and the inertia
/// it reports are exact sums of squared differences.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{LANES, Packed};

    const ROWS: usize = 4;

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn argmin(lo: __m256d, hi: __m256d) -> (usize, f64) {
        let m = _mm256_min_pd(lo, hi);
        let m = _mm256_min_pd(m, _mm256_permute2f128_pd::<0x01>(m, m));
        let m = _mm256_min_pd(m, _mm256_permute_pd::<0b0101>(m));
        let eq_lo = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(lo, m));
        let eq_hi = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(hi, m));
        let mask = (eq_lo | (eq_hi << 4)) as u32;
        if mask == 0 {
            // Only possible with NaN distances: report "no centroid is close".
            return (0, f64::INFINITY);
        }
        (mask.trailing_zeros() as usize, _mm256_cvtsd_f64(m))
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(v: &[f64; 4]) -> __m256d {
        // SAFETY: `v` is four readable f64; `loadu` has no alignment requirement.
        unsafe { _mm256_loadu_pd(v.as_ptr()) }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn split(v: &[f64]) -> (&[f64; 4], &[f64; 4]) {
        let (lo, hi) = v.split_at(4);
        (
            lo.try_into().expect("4 values"),
            hi[..4].try_into().expect("4 values"),
        )
    }

    /// Exact squared distance of two rows of equal length.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn exact(x: &[f64], c: &[f64]) -> f64 {
        let mut acc = _mm256_setzero_pd();
        let mut xs = x.chunks_exact(4);
        let mut cs = c.chunks_exact(4);
        for (a, b) in (&mut xs).zip(&mut cs) {
            let t = _mm256_sub_pd(
                load(a.try_into().expect("4 values")),
                load(b.try_into().expect("4 values")),
            );
            acc = _mm256_fmadd_pd(t, t, acc);
        }
        let mut lanes = [0.0f64; 4];
        // SAFETY: `lanes` has room for four f64.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), acc) };
        let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        for (a, b) in xs.remainder().iter().zip(cs.remainder()) {
            let t = a - b;
            sum = t.mul_add(t, sum);
        }
        sum
    }

    /// `R` rows (row-major, `p.d` columns each) against every centroid block.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn nearest_rows<const EXACT: bool, const R: usize>(g: &[f64], p: &Packed) -> [(usize, f64); R] {
        let d = p.d;
        assert_eq!(g.len(), R * d);
        let mut best = [(0usize, f64::INFINITY); R];
        for b in 0..p.blocks {
            let block = &p.ct_m2[b * d * LANES..(b + 1) * d * LANES];
            let (nl, nh) = split(&p.norms[b]);
            let mut lo = [load(nl); R];
            let mut hi = [load(nh); R];
            for (j, c) in block.chunks_exact(LANES).enumerate() {
                let (cl, ch) = split(c);
                let (cl, ch) = (load(cl), load(ch));
                for r in 0..R {
                    let x = _mm256_set1_pd(g[r * d + j]);
                    lo[r] = _mm256_fmadd_pd(x, cl, lo[r]);
                    hi[r] = _mm256_fmadd_pd(x, ch, hi[r]);
                }
            }
            for r in 0..R {
                let (l, v) = argmin(lo[r], hi[r]);
                if v < best[r].1 {
                    best[r] = (b * LANES + l, v);
                }
            }
        }
        if !EXACT {
            return best;
        }
        let mut out = [(0usize, f64::INFINITY); R];
        for r in 0..R {
            let (c, v) = best[r];
            if v.is_finite() {
                out[r] = (
                    c,
                    exact(&g[r * d..(r + 1) * d], &p.rows[c * d..(c + 1) * d]),
                );
            }
        }
        out
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn scan<const EXACT: bool, F: FnMut(usize, &[f64], usize, f64)>(
        rows: &[f64],
        p: &Packed,
        mut visit: F,
    ) {
        let d = p.d;
        let mut i = 0;
        let mut groups = rows.chunks_exact(ROWS * d);
        for g in &mut groups {
            let res = nearest_rows::<EXACT, ROWS>(g, p);
            for (r, &(c, dist)) in res.iter().enumerate() {
                visit(i + r, &g[r * d..(r + 1) * d], c, dist);
            }
            i += ROWS;
        }
        for x in groups.remainder().chunks_exact(d) {
            let [(c, dist)] = nearest_rows::<EXACT, 1>(x, p);
            visit(i, x, c, dist);
            i += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Calls `visit(row_index_in_slice, row, nearest, distance)` for every row of `rows`
/// (row-major, `p.d` columns), with the fastest kernel this CPU supports. With `EXACT` the
/// distance is the exact squared Euclidean distance to the nearest centroid; without it the
/// distance is only a ranking score (the label is the same either way).
#[inline]
pub(crate) fn scan<const EXACT: bool, F: FnMut(usize, &[f64], usize, f64)>(
    rows: &[f64],
    p: &Packed,
    visit: F,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        return unsafe { avx2::scan::<EXACT, F>(rows, p, visit) };
    }
    scan_portable(rows, p, visit)
}

/// Nearest centroid of one row and the exact squared distance, with exactly the ranking of
/// [`scan`].
pub(crate) fn nearest(x: &[f64], p: &Packed) -> (usize, f64) {
    let mut out = (0, f64::INFINITY);
    scan::<true, _>(x, p, |_, _, c, d| out = (c, d));
    out
}

/// Per-cluster sums and counts of one Lloyd assignment step.
pub(crate) struct Pass {
    /// Per-cluster sums of the assigned rows, `k * d` row-major.
    pub sums: Vec<f64>,
    pub counts: Vec<usize>,
}

/// Assigns every row of `data` (row-major, `p.d` columns) to its nearest centroid and
/// accumulates per-cluster sums and counts (no distances: the ranking-only kernel).
pub(crate) fn lloyd_pass(data: &[f64], p: &Packed) -> Pass {
    let (k, d) = (p.k, p.d);
    let parts: Vec<Pass> = data
        .par_chunks(CHUNK_ROWS * d)
        .map(|rows| {
            let mut acc = Pass {
                sums: vec![0.0; k * d],
                counts: vec![0; k],
            };
            scan::<false, _>(rows, p, |_, x, c, _| {
                acc.counts[c] += 1;
                for (s, &v) in acc.sums[c * d..(c + 1) * d].iter_mut().zip(x) {
                    *s += v;
                }
            });
            acc
        })
        .collect();
    let mut pass = Pass {
        sums: vec![0.0; k * d],
        counts: vec![0; k],
    };
    for part in parts {
        for (s, v) in pass.sums.iter_mut().zip(&part.sums) {
            *s += v;
        }
        for (c, v) in pass.counts.iter_mut().zip(&part.counts) {
            *c += v;
        }
    }
    pass
}

/// Inertia (sum of exact squared distances to the nearest centroid) and, per chunk, the row
/// farthest from its centroid as `(squared distance, row)`.
pub(crate) fn inertia_pass(data: &[f64], p: &Packed) -> (f64, Vec<(f64, usize)>) {
    let parts: Vec<(f64, (f64, usize))> = data
        .par_chunks(CHUNK_ROWS * p.d)
        .enumerate()
        .map(|(ci, rows)| {
            let base = ci * CHUNK_ROWS;
            let mut inertia = 0.0;
            let mut far = (-1.0, base);
            scan::<true, _>(rows, p, |i, _, _, dist| {
                inertia += dist;
                if dist > far.0 {
                    far = (dist, base + i);
                }
            });
            (inertia, far)
        })
        .collect();
    let inertia = parts.iter().map(|p| p.0).sum();
    (inertia, parts.into_iter().map(|p| p.1).collect())
}

/// Nearest centroid and exact squared distance for every row, in parallel.
pub(crate) fn assign_all(data: &[f64], p: &Packed) -> Vec<(usize, f64)> {
    let rows = data.len() / p.d.max(1);
    let mut out = vec![(0usize, 0.0f64); rows];
    out.par_chunks_mut(CHUNK_ROWS)
        .zip(data.par_chunks(CHUNK_ROWS * p.d))
        .for_each(|(o, rows)| scan::<true, _>(rows, p, |i, _, c, dist| o[i] = (c, dist)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(x: &[f64], cents: &[Vec<f64>]) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (i, c) in cents.iter().enumerate() {
            let d: f64 = x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
            if d < best.1 {
                best = (i, d);
            }
        }
        best
    }

    #[test]
    fn kernel_matches_brute_force_for_odd_k_and_d() {
        for (k, d) in [(1, 1), (3, 2), (8, 8), (9, 3), (17, 5)] {
            let cents: Vec<Vec<f64>> = (0..k)
                .map(|c| {
                    (0..d)
                        .map(|j| ((c * 7 + j * 3) % 11) as f64 - 5.0)
                        .collect()
                })
                .collect();
            let flat: Vec<f64> = cents.concat();
            let p = Packed::new(&flat, k, d);
            for r in 0..50 {
                let x: Vec<f64> = (0..d)
                    .map(|j| ((r * 13 + j * 5) % 17) as f64 * 0.7 - 6.0)
                    .collect();
                let (c, dist) = nearest(&x, &p);
                let (bc, bd) = brute(&x, &cents);
                assert!((dist - bd).abs() < 1e-9, "k={k} d={d}");
                // Equal distances may pick either index only if they are tied.
                let dc: f64 = x
                    .iter()
                    .zip(&cents[c])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                assert!((dc - bd).abs() < 1e-9 && c <= bc.max(c));
            }
        }
    }

    #[test]
    fn portable_and_dispatched_kernels_agree() {
        for (k, d) in [(2, 3), (8, 8), (11, 4)] {
            let flat: Vec<f64> = (0..k * d)
                .map(|i| ((i * 37) % 23) as f64 * 0.5 - 5.0)
                .collect();
            let p = Packed::new(&flat, k, d);
            let rows: Vec<f64> = (0..101 * d)
                .map(|i| ((i * 53) % 29) as f64 * 0.4 - 5.5)
                .collect();
            let mut fast = Vec::new();
            scan::<true, _>(&rows, &p, |_, _, c, dist| fast.push((c, dist)));
            let mut portable = Vec::new();
            scan_portable(&rows, &p, |_, _, c, dist| portable.push((c, dist)));
            assert_eq!(fast.len(), 101);
            for (a, b) in fast.iter().zip(&portable) {
                assert_eq!(a.0, b.0, "k={k} d={d}");
                assert!((a.1 - b.1).abs() <= 1e-12 * b.1.max(1.0));
            }
            let mut ranked = Vec::new();
            scan::<false, _>(&rows, &p, |_, _, c, _| ranked.push(c));
            assert!(ranked.iter().zip(&fast).all(|(a, b)| *a == b.0));
        }
    }
}
