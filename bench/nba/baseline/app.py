"""Baseline: a minimal, faithful version of the stack the design deck (seed 002) names.

Python + Flask REST API, pandas for the customer table, scikit-learn StandardScaler + KMeans
personas (k=5), and rule-based product mapping per cluster, with per-customer eligibility
filtering. It exists only to be load-tested side by side with Sextant (bench/nba/run.sh).

At start (in the gunicorn master with --preload, so both workers share the fitted model):
  * pandas reads the seed-002 customers.csv (BASELINE_CUSTOMERS_CSV) and indexes it by id;
  * the categoricals are encoded (ordinal: Budget<Moderate<Lavish, Low<Medium<High);
  * StandardScaler + KMeans(n_clusters=5, n_init=3, random_state=42) are fitted;
  * a rule table maps each cluster, by its centroid (income, risk, spending), to products of the
    Sextant demo catalog (products.csv next to customers.csv, else the built-in copy below).

Per request (GET /v1/customers/<id>/recommendations?limit=3&channel=app, Bearer key from
BASELINE_KEY): look the customer up in the DataFrame, scale the row, KMeans.predict it, apply
the cluster's rules, drop products the customer is not eligible for (min income, product risk
above the customer's risk profile), return the first `limit`.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

CSV_PATH = os.environ.get("BASELINE_CUSTOMERS_CSV", "customers.csv")
API_KEY = os.environ.get("BASELINE_KEY", "")
if not API_KEY:
    raise SystemExit("BASELINE_KEY is not set")

SPENDING = {"Budget": 0, "Moderate": 1, "Lavish": 2}
LEVEL = {"Low": 0, "Medium": 1, "High": 2}
CHANNELS = {"app", "web", "branch", "email", "call_center", "sms", "push"}
FEATURES = [
    "Age",
    "Income",
    "Spending_Code",
    "Risk_Code",
    "Transactions",
    "Sentiment_Score",
    "Engagement_Code",
]

# The Sextant demo catalog (crates/synth/src/catalog.rs): id -> (family, risk, min annual income
# in EUR, description). Used if products.csv is not next to customers.csv.
BUILTIN_CATALOG = {
    "P-CUR-BASIC": ("current", "Low", 0, "Free current account with debit card and mobile banking"),
    "P-CUR-PLUS": ("current", "Low", 40000, "Premium current account with travel insurance and free cash abroad"),
    "P-CC-STUDENT": ("credit_card", "Low", 0, "No-fee credit card for students"),
    "P-CC-CLASSIC": ("credit_card", "Low", 15000, "Everyday credit card with 6 weeks interest-free"),
    "P-CC-GOLD": ("credit_card", "Low", 45000, "Credit card with purchase protection and 1% cashback on travel"),
    "P-CC-PLAT": ("credit_card", "Low", 90000, "Premium travel card with lounge access and no foreign fees"),
    "P-PL-FLEX": ("personal_loan", "Medium", 18000, "Personal loan 2,000-50,000 EUR over 12-84 months"),
    "P-PL-CONSOL": ("personal_loan", "Medium", 24000, "Combine cards and overdrafts into one lower monthly payment"),
    "P-MTG-FIX10": ("mortgage", "Low", 45000, "Home loan with the rate fixed for 10 years"),
    "P-MTG-FIX20": ("mortgage", "Low", 55000, "Home loan with the rate fixed for 20 years"),
    "P-AUTO": ("auto_loan", "Low", 20000, "Auto loan"),
    "P-SAV-EASY": ("savings", "Low", 0, "Easy access savings"),
    "P-SAV-GOAL": ("savings", "Low", 0, "Goal saver"),
    "P-TD-12": ("term_deposit", "Low", 0, "Term deposit 12 months"),
    "P-TD-36": ("term_deposit", "Low", 0, "Term deposit 36 months"),
    "P-INV-LOW": ("investment", "Low", 20000, "Defensive portfolio"),
    "P-INV-MED": ("investment", "Medium", 35000, "Balanced portfolio"),
    "P-INV-HIGH": ("investment", "High", 50000, "Growth portfolio"),
    "P-INS-HOME": ("insurance", "Low", 0, "Home contents insurance"),
    "P-INS-LIFE": ("insurance", "Low", 25000, "Term life insurance"),
}

# Rule-based mapping: persona archetype -> products in priority order. Long enough that the
# per-customer filter still leaves `limit` products for almost everyone.
RULES = {
    "affluent_growth": ["P-INV-HIGH", "P-CC-PLAT", "P-INV-MED", "P-MTG-FIX20", "P-CC-GOLD", "P-CUR-PLUS", "P-INV-LOW", "P-SAV-GOAL"],
    "affluent_spender": ["P-CC-PLAT", "P-CC-GOLD", "P-CUR-PLUS", "P-MTG-FIX20", "P-INV-LOW", "P-INS-LIFE", "P-SAV-GOAL", "P-CC-CLASSIC"],
    "affluent_saver": ["P-CC-GOLD", "P-MTG-FIX10", "P-INV-LOW", "P-CUR-PLUS", "P-TD-36", "P-INS-LIFE", "P-SAV-GOAL", "P-CC-CLASSIC"],
    "mid_growth": ["P-INV-MED", "P-PL-FLEX", "P-INV-LOW", "P-CC-CLASSIC", "P-AUTO", "P-SAV-GOAL", "P-INS-HOME", "P-SAV-EASY"],
    "mid_spender": ["P-CC-CLASSIC", "P-PL-FLEX", "P-AUTO", "P-INV-MED", "P-SAV-GOAL", "P-INS-HOME", "P-CC-STUDENT", "P-SAV-EASY"],
    "mid_saver": ["P-SAV-GOAL", "P-INV-LOW", "P-TD-12", "P-CC-CLASSIC", "P-INS-LIFE", "P-INS-HOME", "P-SAV-EASY", "P-CUR-BASIC"],
    "budget_growth": ["P-PL-FLEX", "P-CC-CLASSIC", "P-INV-LOW", "P-SAV-GOAL", "P-CC-STUDENT", "P-SAV-EASY", "P-CUR-BASIC"],
    "budget_spender": ["P-PL-CONSOL", "P-CC-CLASSIC", "P-SAV-EASY", "P-CC-STUDENT", "P-INS-HOME", "P-CUR-BASIC", "P-SAV-GOAL"],
    "budget_saver": ["P-SAV-EASY", "P-SAV-GOAL", "P-TD-12", "P-CC-STUDENT", "P-CUR-BASIC", "P-INS-HOME", "P-INV-LOW"],
}


def load_catalog(csv_path: str) -> dict[str, tuple[str, int, str]]:
    """product_id -> (risk level, min annual income EUR, description)."""
    products = Path(csv_path).with_name("products.csv")
    if products.exists():
        p = pd.read_csv(products)
        out = {}
        for row in p.itertuples(index=False):
            min_minor = 0 if pd.isna(row.min_income_minor) else int(row.min_income_minor)
            out[row.product_id] = (row.risk_level, min_minor // 100, row.description)
        return out
    return {k: (v[1], v[2], v[3]) for k, v in BUILTIN_CATALOG.items()}


def archetype(income: float, risk: float, spending: float, income_median: float) -> str:
    """The rule that assigns a persona archetype to a cluster from its centroid."""
    tier = "affluent" if income >= 1.5 * income_median else "mid" if income >= 0.8 * income_median else "budget"
    style = "growth" if risk >= 1.0 else "spender" if spending >= 1.0 else "saver"
    return f"{tier}_{style}"


def build():
    df = pd.read_csv(CSV_PATH)
    df["Spending_Code"] = df["Spending_Habit"].map(SPENDING)
    df["Risk_Code"] = df["Risk_Profile"].map(LEVEL)
    df["Engagement_Code"] = df["Engagement_Level"].map(LEVEL)
    df = df.dropna(subset=FEATURES).set_index("Customer_ID")
    scaler = StandardScaler()
    x = scaler.fit_transform(df[FEATURES])
    kmeans = KMeans(n_clusters=5, n_init=3, random_state=42).fit(x)
    centroids = pd.DataFrame(scaler.inverse_transform(kmeans.cluster_centers_), columns=FEATURES)
    median_income = float(df["Income"].median())
    catalog = load_catalog(CSV_PATH)
    rules = {}
    for c, ctr in centroids.iterrows():
        kind = archetype(ctr["Income"], ctr["Risk_Code"], ctr["Spending_Code"], median_income)
        label = (
            f"cluster {c} ({kind.replace('_', ' ')}: income ~EUR {ctr['Income'] / 1000:.0f}k, "
            f"risk {ctr['Risk_Code']:.1f}/2, spending {ctr['Spending_Code']:.1f}/2)"
        )
        rules[int(c)] = [(pid, label) for pid in RULES[kind] if pid in catalog]
    return df, scaler, kmeans, catalog, rules


DF, SCALER, KMEANS, CATALOG, CLUSTER_RULES = build()
app = Flask(__name__)


def problem(status: int, title: str):
    resp = jsonify({"type": "about:blank", "title": title, "status": status})
    resp.status_code = status
    return resp


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "customers": int(len(DF)), "pid": os.getpid()})


@app.get("/v1/customers/<int:customer_id>/recommendations")
def recommendations(customer_id: int):
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not hmac.compare_digest(auth[7:].encode(), API_KEY.encode()):
        return problem(401, "unauthorized")
    try:
        limit = int(request.args.get("limit", 3))
    except ValueError:
        return problem(400, "limit must be a whole number")
    if not 1 <= limit <= 20:
        return problem(400, "limit must be between 1 and 20")
    channel = request.args.get("channel", "app")
    if channel not in CHANNELS:
        return problem(400, "unknown channel")
    if customer_id not in DF.index:
        return problem(404, "customer not found")

    row = DF.loc[[customer_id], FEATURES]  # one-row DataFrame, as the deck's API would
    cluster = int(KMEANS.predict(SCALER.transform(row))[0])
    income = float(row["Income"].iloc[0])
    risk = int(row["Risk_Code"].iloc[0])
    recs = []
    for pid, label in CLUSTER_RULES[cluster]:
        p_risk, p_min_income, desc = CATALOG[pid]
        if income < p_min_income or LEVEL.get(p_risk, 2) > risk:
            continue
        recs.append({"product_id": pid, "reason": f"{desc}; suggested for {label}"})
        if len(recs) == limit:
            break
    return jsonify({"customer_id": customer_id, "cluster": cluster, "channel": channel, "recommendations": recs})


if __name__ == "__main__":  # development only; the benchmark serves it with gunicorn
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8090")))
