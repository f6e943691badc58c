#!/usr/bin/env python3
"""k-means Lloyd iterations: sextant-segment against scikit-learn, same data, same machine.

Generates a seeded n x d Gaussian-mixture matrix with numpy, picks initial centroids with
scikit-learn's k-means++ (seeded), writes both as raw little-endian float64 files, then times

* scikit-learn: KMeans(n_clusters=k, init=<those centroids>, n_init=1, max_iter=N, tol=0,
  algorithm="lloyd").fit(X)  -- the seeding is not part of the comparison;
* sextant-segment: `cargo run --release --example kmeans_bench -p sextant-segment` with the same
  files, i.e. `sextant_segment::lloyd(data, init, N, 0.0)`.

tol = 0 makes both run exactly N iterations (unless the assignment stops changing, which both
detect identically); the iteration counts are printed so this can be checked. The two sides
run alternately --repeats times and each side's fastest run is reported (the machine may be
shared); for the Rust side only the clustering is timed, not process start or reading the file.
Prints a markdown table: implementation, seconds, inertia, relative inertia difference.

Uses whatever python runs it (it needs numpy and scikit-learn importable), e.g.

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install numpy scikit-learn
    /tmp/skvenv/bin/python crates/segment/bench/kmeans_vs_sklearn.py

Cargo builds into $CARGO_TARGET_DIR when set (as always).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--max-iter", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", help="where to write the matrices (default: a temp dir)")
    args = p.parse_args()

    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans, kmeans_plusplus

    try:
        from threadpoolctl import threadpool_info

        sk_threads = ",".join(
            f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()
        )
    except Exception:  # noqa: BLE001 - informational only
        sk_threads = "?"

    rng = np.random.default_rng(args.seed)
    n, d, k = args.rows, args.cols, args.k
    # A mixture of 2k overlapping Gaussian blobs of different sizes and spreads: k-means has
    # real work to do and does not converge in a handful of iterations.
    means = rng.normal(0.0, 4.0, size=(2 * k, d))
    scales = rng.uniform(0.5, 2.5, size=2 * k)
    weights = rng.dirichlet(np.ones(2 * k))
    comp = rng.choice(2 * k, size=n, p=weights)
    X = means[comp] + rng.normal(size=(n, d)) * scales[comp, None]
    X = np.ascontiguousarray(X, dtype="<f8")
    init, _ = kmeans_plusplus(X, n_clusters=k, random_state=args.seed)
    init = np.ascontiguousarray(init, dtype="<f8")

    tmp = None
    if args.workdir:
        work = pathlib.Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kmeans-bench-")
        work = pathlib.Path(tmp.name)
    data_path, init_path = work / "X.bin", work / "init.bin"
    X.tofile(data_path)
    init.tofile(init_path)

    workspace = pathlib.Path(__file__).resolve().parents[3]
    cmd = [
        "cargo", "run", "--quiet", "--release", "--example", "kmeans_bench",
        "-p", "sextant-segment", "--",
        "--data", str(data_path), "--init", str(init_path), "--cols", str(d),
        "--max-iter", str(args.max_iter), "--tol", "0", "--repeats", "1",
    ]
    # Build first (untimed), so the first timed round does not include compilation.
    build = ["cargo", "build", "--quiet", "--release", "--example", "kmeans_bench", "-p", "sextant-segment"]
    subprocess.run(build, cwd=workspace, check=True)

    # Interleave the two sides, so a busy machine slows both alike; keep each side's fastest.
    sk_best, rs_best, km, rs = float("inf"), float("inf"), None, None
    for _ in range(args.repeats):
        t = time.perf_counter()
        km = KMeans(
            n_clusters=k, init=init, n_init=1, max_iter=args.max_iter, tol=0.0, algorithm="lloyd"
        ).fit(X)
        sk_best = min(sk_best, time.perf_counter() - t)
        out = subprocess.run(cmd, cwd=workspace, check=True, capture_output=True, text=True)
        rs = json.loads(out.stdout.strip().splitlines()[-1])
        rs_best = min(rs_best, rs["seconds"])
    sk_inertia, sk_iter = float(km.inertia_), int(km.n_iter_)
    rs["seconds"] = rs_best
    if tmp:
        tmp.cleanup()

    rel = abs(rs["inertia"] - sk_inertia) / sk_inertia
    print(f"data: {n} x {d}, k = {k}, max_iter = {args.max_iter}, tol = 0, n_init = 1, "
          f"init = the same k-means++ centroids; best of {args.repeats}; "
          f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__} ({sk_threads}); rayon threads {rs['threads']}; "
          f"{os.cpu_count()} CPUs")
    print()
    print("| implementation | seconds | iterations | inertia | relative inertia difference |")
    print("|---|---:|---:|---:|---:|")
    print(f"| scikit-learn KMeans (lloyd) | {sk_best:.3f} | {sk_iter} | {sk_inertia:.6e} | - |")
    print(f"| sextant-segment lloyd | {rs['seconds']:.3f} | {rs['iterations']} | "
          f"{rs['inertia']:.6e} | {rel:.2e} |")
    print()
    print(f"speed: sextant-segment takes {rs['seconds'] / sk_best:.2f}x scikit-learn's time")
    ok = rel <= 1e-3 and rs["seconds"] <= 0.5 * sk_best
    print("target (<= 0.5x time, inertia within 0.1%):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
