"""scikit-learn's HistGradientBoostingClassifier on the table sextant exported, and the
comparison with sextant's own figures (its CV JSON and its `model train` lines)."""
import csv
import json
import re
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    feats = [i for i, h in enumerate(header) if h not in ("customer_id", "label")]
    x = np.array([[float(row[i]) if row[i] != "" else np.nan for i in feats] for row in rows])
    y = np.array([int(row[header.index("label")]) for row in rows])
    return x, y


def main():
    table, cv_json, fit_txt = sys.argv[1:4]
    x, y = load(table)
    # ROC-AUC of the pooled out-of-fold predictions, as sextant reports it.
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(x, y):
        m = HistGradientBoostingClassifier(random_state=42).fit(x[train], y[train])
        oof[test] = m.predict_proba(x[test])[:, 1]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        HistGradientBoostingClassifier(random_state=42).fit(x, y)
        times.append(time.perf_counter() - t)
    with open(cv_json) as f:
        ev = json.load(f)
    ours = {m["model"]: m["metrics"]["roc_auc"] for m in ev["models"]}
    with open(fit_txt) as f:
        secs = [float(s) for s in re.findall(r"in ([0-9.]+) s", f.read())]
    print(f"{len(y)} rows x {x.shape[1]} features, {int(y.sum())} positive")
    print(f"{'model':<40} {'5-fold ROC-AUC':>15} {'fit, best of 3':>15}")
    print(f"{'sextant gbdt (perpetual, budget 0.5)':<40} {ours.get('gbdt', float('nan')):>15.4f} {min(secs):>13.2f} s")
    print(f"{'sextant logistic baseline':<40} {ours.get('logistic', float('nan')):>15.4f}")
    print(f"{'sklearn ' + sklearn.__version__ + ' HistGradientBoosting':<40} {roc_auc_score(y, oof):>15.4f} {min(times):>13.2f} s")
    print("(pooled out-of-fold ROC-AUC; sextant's 5 folds are its own stratified split)")


main()
