//! k-means, silhouette and choose_k against data whose answer is known.

mod common;

use common::{blobs, rng, same_partition, three_blobs};
use rand::Rng;
use sextant_segment::{KMeansConfig, Matrix, choose_k, kmeans, lloyd, silhouette};

fn labels(model: &sextant_segment::KMeansModel, data: &Matrix) -> Vec<usize> {
    model
        .predict_all(data)
        .unwrap()
        .into_iter()
        .map(|p| p.0)
        .collect()
}

#[test]
fn recovers_well_separated_blobs_and_is_deterministic() {
    let (data, truth) = three_blobs(1);
    let cfg = KMeansConfig {
        k: 3,
        seed: 7,
        ..KMeansConfig::default()
    };
    let a = kmeans(&data, &cfg).unwrap();
    assert!(same_partition(&labels(&a, &data), &truth));
    let b = kmeans(&data, &cfg).unwrap();
    assert_eq!(a, b, "same seed, same model, bit for bit");
    // Inertia is the sum of squared distances of the rows to their centroids.
    let direct: f64 = data.iter_rows().map(|r| a.predict(r).1).sum();
    assert!((direct - a.inertia).abs() <= 1e-9 * a.inertia);
}

#[test]
fn restarts_never_lose_to_a_single_run() {
    // Overlapping blobs, many clusters: local optima differ between seedings.
    let centres: Vec<Vec<f64>> = (0..12)
        .map(|i| vec![(i % 4) as f64 * 2.0, (i / 4) as f64 * 2.0])
        .collect();
    let (data, _) = blobs(&centres, 60, 0.9, 3);
    for seed in 0..5 {
        let one = kmeans(
            &data,
            &KMeansConfig {
                k: 12,
                restarts: 1,
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        let five = kmeans(
            &data,
            &KMeansConfig {
                k: 12,
                restarts: 5,
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            five.inertia <= one.inertia,
            "seed {seed}: {} > {}",
            five.inertia,
            one.inertia
        );
    }
}

#[test]
fn result_does_not_depend_on_thread_count() {
    let (data, _) = blobs(
        &[vec![0.0; 4], vec![3.0; 4], vec![-3.0, 3.0, 0.0, 1.0]],
        5000,
        1.5,
        9,
    );
    let cfg = KMeansConfig {
        k: 5,
        restarts: 2,
        seed: 11,
        ..Default::default()
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| kmeans(&data, &cfg).unwrap())
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn lloyd_with_zero_tol_runs_exactly_max_iter_unless_nothing_moves() {
    let centres: Vec<Vec<f64>> = (0..6)
        .map(|i| vec![i as f64, (i * i) as f64 * 0.3])
        .collect();
    let (data, _) = blobs(&centres, 300, 2.0, 5);
    let init: Vec<Vec<f64>> = (0..6).map(|i| data.row(i).to_vec()).collect();
    let m = lloyd(&data, &init, 3, 0.0).unwrap();
    assert_eq!(m.iterations, 3);
    // Converged: another run from the result does not move and stops after one iteration.
    let done = lloyd(&data, &init, 500, 0.0).unwrap();
    assert!(done.iterations < 500);
    let again = lloyd(&data, &done.centroids, 500, 0.0).unwrap();
    assert_eq!(again.iterations, 1);
    assert_eq!(again.centroids, done.centroids);
    assert!(m.inertia >= done.inertia);
}

#[test]
fn choose_k_picks_three_on_three_blobs() {
    let (data, _) = three_blobs(2);
    let (k, scores) = choose_k(
        &data,
        2..=6,
        &KMeansConfig {
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(k, 3, "{scores:?}");
    assert_eq!(scores.len(), 5);
    // Elbow data: inertia falls with k.
    assert!(
        scores.windows(2).all(|w| w[1].2 <= w[0].2 * 1.0001),
        "{scores:?}"
    );
    // One blob: no split helps, so 1 is chosen from 1..=4.
    let (one, _) = blobs(&[vec![0.0, 0.0, 0.0]], 400, 1.0, 4);
    let (k, scores) = choose_k(
        &one,
        1..=4,
        &KMeansConfig {
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(k, 1, "{scores:?}");
    assert_eq!(scores[0], (1, 0.0, scores[0].2));
}

#[test]
fn silhouette_is_one_on_perfect_clusters_and_zero_on_noise() {
    let (data, truth) = blobs(
        &[vec![0.0, 0.0], vec![1000.0, 0.0], vec![0.0, 1000.0]],
        100,
        0.5,
        6,
    );
    let s = silhouette(&data, &truth, 3, 0, 0);
    assert!(s > 0.99, "{s}");
    // Sampling gives nearly the same answer.
    let s_sampled = silhouette(&data, &truth, 3, 120, 3);
    assert!(s_sampled > 0.99, "{s_sampled}");

    let mut r = rng(8);
    let n = 1500;
    let noise: Vec<f64> = (0..n * 3).map(|_| r.random::<f64>()).collect();
    let noise = Matrix::new(n, 3, noise).unwrap();
    let random_labels: Vec<usize> = (0..n).map(|_| r.random_range(0..4)).collect();
    let s = silhouette(&noise, &random_labels, 4, 1000, 1);
    assert!(s.abs() < 0.05, "{s}");
    // A single cluster has no silhouette.
    assert_eq!(silhouette(&noise, &vec![0; n], 1, 100, 1), 0.0);
}
