//! The binary end to end: generate → import → keys → serve → shut down, determinism of the
//! generator, and clear errors for bad files, flags and configuration.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn sextant(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sextant"));
    c.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("SEXTANT_DATABASE");
    c
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "labels"] {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names.into_iter().filter(|p| p.is_file()) {
            out.push((
                p.display()
                    .to_string()
                    .replace(&dir.display().to_string(), ""),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn generator_is_deterministic_for_a_seed() {
    let t = tempfile::tempdir().unwrap();
    for (out, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        ok(sextant(t.path()).args([
            "generate",
            "--customers",
            "60",
            "--months",
            "3",
            "--seed",
            seed,
            "--out",
            out,
        ]));
    }
    let (a, b, c) = (
        files(&t.path().join("a")),
        files(&t.path().join("b")),
        files(&t.path().join("c")),
    );
    assert!(
        a.len() >= 10,
        "{:?}",
        a.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(a, b, "same seed, same bytes");
    let tx = |v: &Vec<(String, Vec<u8>)>| {
        v.iter()
            .find(|f| f.0.ends_with("transactions.csv"))
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(tx(&a), tx(&c), "another seed, another bank");
}

fn http_get(addr: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    (status, resp)
}

#[test]
fn generate_import_keys_serve_and_shut_down() {
    let t = tempfile::tempdir().unwrap();
    ok(sextant(t.path()).args([
        "generate",
        "--customers",
        "40",
        "--months",
        "2",
        "--out",
        "bank",
    ]));
    let out = ok(sextant(t.path()).args(["import", "bank", "bank", "--quiet"]));
    assert!(out.contains("transactions.csv:"), "{out}");
    assert!(
        t.path().join("sextant.db").exists(),
        "the default database is ./sextant.db"
    );
    // Re-importing the whole bank adds nothing new.
    let again = ok(sextant(t.path()).args(["import", "bank", "bank", "--quiet"]));
    assert!(again.lines().all(|l| l.contains("(0 new)")), "{again}");

    let key = ok(sextant(t.path()).args(["keys", "create", "--role", "analyst"]))
        .trim()
        .to_string();
    assert!(key.starts_with("sx_"));
    let own =
        ok(sextant(t.path()).args(["keys", "create", "--role", "customer", "--customer", "1"]))
            .trim()
            .to_string();
    let listed = ok(sextant(t.path()).args(["keys", "list"]));
    assert!(!listed.contains(&key[20..]), "secrets are never listed");
    assert_eq!(listed.lines().count(), 2);

    let mut child = sextant(t.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(http_get(&addr, "/healthz", None).0, 200);
    assert_eq!(http_get(&addr, "/v1/customers", None).0, 401);
    let (status, body) = http_get(&addr, "/v1/customers?limit=2", Some(&key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"next_cursor\""));
    assert_eq!(http_get(&addr, "/v1/customers/1", Some(&own)).0, 200);
    assert_eq!(http_get(&addr, "/v1/customers/2", Some(&own)).0, 403);

    // Graceful shutdown on SIGTERM.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {logs}");

    let verified = ok(sextant(t.path()).args(["audit", "verify"]));
    assert!(verified.starts_with("audit log intact:"), "{verified}");
}

#[test]
fn bad_input_flags_and_config_are_named() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("c.csv"),
        "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level\n1,A,old,1,Budget,Low,1,0,Low\n",
    )
    .unwrap();
    let err = fails(sextant(t.path()).args(["import", "customers", "c.csv", "--quiet"]));
    assert!(
        err.contains("c.csv: 1 of 1 rows are invalid; nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("line 2, column Age: 'old' is not a whole number of years"),
        "{err}"
    );
    let err = fails(sextant(t.path()).args(["import", "customers", "missing.csv"]));
    assert!(err.contains("missing.csv"), "{err}");
    let err = fails(sextant(t.path()).args(["keys", "create", "--role", "customer"]));
    assert!(err.contains("needs --customer"), "{err}");
    let err = fails(sextant(t.path()).args(["keys", "create", "--role", "boss"]));
    assert!(err.contains("unknown role 'boss'"), "{err}");
    let err = fails(sextant(t.path()).args(["generate", "--customers", "0", "--out", "x"]));
    assert!(err.contains("customers"), "{err}");
    let err = fails(
        sextant(t.path())
            .env("SEXTANT__SERVER__BIND", "nowhere")
            .args(["migrate"]),
    );
    assert!(err.contains("server.bind"), "{err}");
    std::fs::write(t.path().join("sextant.toml"), "[server]\nport = 1\n").unwrap();
    let err = fails(sextant(t.path()).args(["migrate"]));
    assert!(err.contains("port"), "{err}");
}

#[test]
fn fairness_audit_on_a_csv_with_a_threshold_gate() {
    let t = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fairness/tests/fixtures/credit.csv");
    let fixture = fixture.to_str().unwrap();
    let table = ok(sextant(t.path()).args([
        "audit",
        "fairness",
        "--data",
        fixture,
        "--pred",
        "approved",
        "--label",
        "repaid",
        "--protected",
        "gender,region",
        "--bootstrap",
        "100",
    ]));
    assert!(
        table.contains("gender: 3 group(s), 150 record(s)"),
        "{table}"
    );
    assert!(table.contains("FLAG four-fifths rule"), "{table}");
    let json = ok(sextant(t.path()).args([
        "audit",
        "fairness",
        "--data",
        fixture,
        "--pred",
        "approved",
        "--protected",
        "gender",
        "--json",
        "--bootstrap",
        "50",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["attribute"], "gender");
    std::fs::write(
        t.path().join("gate.toml"),
        "min_disparate_impact_ratio = 0.8\n",
    )
    .unwrap();
    let err = fails(sextant(t.path()).args([
        "audit",
        "fairness",
        "--data",
        fixture,
        "--pred",
        "approved",
        "--protected",
        "gender",
        "--bootstrap",
        "50",
        "--thresholds",
        "gate.toml",
    ]));
    assert!(err.contains("fairness threshold(s) violated"), "{err}");
    let err = fails(sextant(t.path()).args([
        "audit",
        "fairness",
        "--data",
        fixture,
        "--pred",
        "nope",
        "--protected",
        "gender",
    ]));
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn pii_is_encrypted_on_disk_and_the_key_rotates() {
    let t = tempfile::tempdir().unwrap();
    ok(sextant(t.path()).args([
        "generate",
        "--customers",
        "30",
        "--months",
        "1",
        "--out",
        "bank",
    ]));
    ok(sextant(t.path()).args(["import", "bank", "bank", "--quiet"]));
    let email = std::fs::read_to_string(t.path().join("bank/customers_full.csv")).unwrap();
    let first_email = email
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .find(|f| f.contains('@'))
        .unwrap()
        .to_string();
    let contains = |needle: &str| {
        ["sextant.db", "sextant.db-wal"].iter().any(|f| {
            std::fs::read(t.path().join(f))
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
    };
    assert!(
        !contains(&first_email),
        "e-mail addresses are encrypted at rest"
    );
    let before = std::fs::read_to_string(t.path().join("sextant.enc.key")).unwrap();
    let out = ok(sextant(t.path()).args(["keys", "rotate-encryption"]));
    assert!(out.starts_with("re-encrypted 30 customers"), "{out}");
    let after = std::fs::read_to_string(t.path().join("sextant.enc.key")).unwrap();
    assert_ne!(before, after);
    let retired: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().into_string().unwrap()))
        .filter(|n| n.starts_with("sextant.enc.key.old."))
        .collect();
    assert_eq!(retired.len(), 1);
    let export = ok(sextant(t.path()).args(["customer", "export", "1"]));
    let v: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert_eq!(v["customer"]["name"], "Customer_1");
    assert_eq!(v["customer"]["email"], first_email);
    let erased = ok(sextant(t.path()).args(["customer", "erase", "1", "--yes"]));
    assert!(erased.contains("the audit log keeps cust_"), "{erased}");
    let err = fails(sextant(t.path()).args(["customer", "export", "1"]));
    assert!(err.contains("no customer '1'"), "{err}");
    ok(sextant(t.path()).args(["audit", "verify"]));
    let audit = ok(sextant(t.path()).args(["audit", "export", "--from", "2000-01-01T00:00:00Z"]));
    assert!(
        audit.lines().any(|l| l.contains("\"dsr.erase\"")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"keys.rotate_encryption\""))
    );
}

#[test]
fn models_train_explain_and_promote_behind_a_fairness_gate() {
    let t = tempfile::tempdir().unwrap();
    // Group B's scores run lower, so the model approves it less often.
    let mut csv = String::from("id,x,z,gender,target\n");
    for i in 0..400u32 {
        let b = i % 2 == 1;
        let x = f64::from((i * 37) % 100) / 100.0 * if b { 0.8 } else { 1.0 };
        let target = if x > 0.5 { "yes" } else { "no" };
        csv.push_str(&format!(
            "r{i},{x},{},{},{target}\n",
            (i * 13) % 7,
            if b { "B" } else { "A" }
        ));
    }
    std::fs::write(t.path().join("d.csv"), csv).unwrap();
    let err = fails(sextant(t.path()).args([
        "model", "evaluate", "--data", "d.csv", "--target", "target", "--id", "id",
    ]));
    assert!(
        err.contains("column 'gender' is a protected attribute"),
        "{err}"
    );
    let table = ok(sextant(t.path()).args([
        "model",
        "evaluate",
        "--data",
        "d.csv",
        "--target",
        "target",
        "--id",
        "id",
        "--exclude",
        "gender",
        "--folds",
        "3",
    ]));
    assert!(
        table.contains("gbdt") && table.contains("logistic") && table.contains("ROC-AUC"),
        "{table}"
    );
    let out = ok(sextant(t.path()).args([
        "model",
        "train",
        "--data",
        "d.csv",
        "--target",
        "target",
        "--id",
        "id",
        "--exclude",
        "gender",
        "--name",
        "approve",
    ]));
    assert!(out.starts_with("registered approve:1"), "{out}");
    let explained = ok(sextant(t.path()).args([
        "model",
        "explain",
        "--model",
        "approve:1",
        "--data",
        "d.csv",
        "--row",
        "3",
    ]));
    assert!(
        explained.contains("Σ SHAP") && explained.contains("x = "),
        "{explained}"
    );
    std::fs::write(
        t.path().join("strict.toml"),
        "min_disparate_impact_ratio = 0.8\n",
    )
    .unwrap();
    let err = fails(sextant(t.path()).args([
        "model",
        "promote",
        "approve:1",
        "--thresholds",
        "strict.toml",
        "--fairness-data",
        "d.csv",
        "--protected",
        "gender",
    ]));
    assert!(
        err.contains("was not promoted: 1 fairness threshold(s) violated"),
        "{err}"
    );
    assert!(!ok(sextant(t.path()).args(["model", "list"])).contains("(promoted)"));
    std::fs::write(
        t.path().join("lenient.toml"),
        "min_disparate_impact_ratio = 0.1\n",
    )
    .unwrap();
    ok(sextant(t.path()).args([
        "model",
        "promote",
        "approve:1",
        "--thresholds",
        "lenient.toml",
        "--fairness-data",
        "d.csv",
        "--protected",
        "gender",
    ]));
    assert!(ok(sextant(t.path()).args(["model", "list"])).contains("approve:1"));
    assert!(ok(sextant(t.path()).args(["model", "list"])).contains("(promoted)"));
    let audit = ok(sextant(t.path()).args(["audit", "export"]));
    assert!(audit.contains("\"model.promotion_blocked\"") && audit.contains("\"model.promote\""));
}

#[test]
fn recommend_checks_rules_trains_shows_and_evaluates() {
    let t = tempfile::tempdir().unwrap();
    ok(sextant(t.path()).args([
        "generate",
        "--customers",
        "120",
        "--months",
        "6",
        "--seed",
        "9",
        "--out",
        "bank",
    ]));
    ok(sextant(t.path()).args(["import", "bank", "bank"]));
    // A rules file that does not fit the catalog stops with every error named.
    std::fs::write(
        t.path().join("bad.toml"),
        sextant_recommend::rules::DEMO_RULES
            .replace("[products.P-CC-GOLD]", "[products.P-YACHT]")
            .replace("alpha = 0.5", "alpha = 7"),
    )
    .unwrap();
    let err = fails(sextant(t.path()).args(["recommend", "check-rules", "bad.toml"]));
    assert!(err.contains("products.P-YACHT"), "{err}");
    assert!(err.contains("bandit.alpha"), "{err}");
    std::fs::write(
        t.path().join("bad.toml"),
        format!("{}\n[bandit2]\n", sextant_recommend::rules::DEMO_RULES),
    )
    .unwrap();
    let err = fails(sextant(t.path()).args(["recommend", "check-rules", "bad.toml"]));
    assert!(err.contains("line") && err.contains("bandit2"), "{err}");
    let out = ok(sextant(t.path()).args(["recommend", "check-rules"]));
    assert!(out.contains("all valid against the catalog"), "{out}");
    // The configured file is checked at start too.
    std::fs::write(
        t.path().join("sextant.toml"),
        "[recommend]\nrules_file = \"missing.toml\"\n",
    )
    .unwrap();
    let err = fails(sextant(t.path()).args(["recommend", "check-rules"]));
    assert!(err.contains("recommend.rules_file"), "{err}");
    std::fs::remove_file(t.path().join("sextant.toml")).unwrap();

    let out = ok(sextant(t.path()).args(["recommend", "train"]));
    assert!(out.contains("collaborative filtering trained on"), "{out}");
    // Somebody with marketing consent gets offers, each a recorded decision.
    let consents = std::fs::read_to_string(t.path().join("bank/consents.csv")).unwrap();
    let mut marketing = std::collections::BTreeMap::new();
    for line in consents.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols[2] == "marketing" {
            marketing.insert(cols[1].to_string(), cols[3] == "true");
        }
    }
    let id = marketing
        .iter()
        .find(|(_, g)| **g)
        .map(|(c, _)| c.clone())
        .expect("someone consents to marketing");
    let json = ok(sextant(t.path()).args(["recommend", "show", &id, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let shown = v["recommendations"].as_array().unwrap();
    let held = v["held_for_review"].as_array().unwrap();
    assert!(!shown.is_empty() || !held.is_empty(), "{v}");
    assert!(v["audit_seq"].as_i64().unwrap() > 0);
    ok(sextant(t.path()).args(["audit", "verify"]));
    let report = ok(sextant(t.path()).args(["recommend", "evaluate", "--json"]));
    let r: serde_json::Value = serde_json::from_str(&report).unwrap();
    let rankers: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ranker"].as_str().unwrap())
        .collect();
    assert_eq!(
        rankers,
        ["sextant", "sextant p", "rules only", "popularity"]
    );
    for x in r["results"].as_array().unwrap() {
        let h = x["hit_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&h), "{r}");
    }
    // Nothing resolved yet: the labels file has its header and no rows (resolution through the
    // API is covered in crates/server/tests/recommend.rs).
    let out = ok(sextant(t.path()).args(["recommend", "labels", "--out", "labels.csv"]));
    assert!(out.starts_with("0 resolved review cases"), "{out}");
    let csv = std::fs::read_to_string(t.path().join("labels.csv")).unwrap();
    assert!(
        csv.starts_with("review_id,decision_id,product_id") && csv.trim_end().ends_with("label"),
        "{csv}"
    );
    let sim = ok(sextant(t.path()).args(["recommend", "simulate", "--rounds", "2000"]));
    assert!(sim.contains("cumulative regret"), "{sim}");
}

#[test]
fn anomalies_train_score_and_evaluate_and_bank_tables_export() {
    let t = tempfile::tempdir().unwrap();
    ok(sextant(t.path()).args([
        "generate",
        "--customers",
        "300",
        "--months",
        "3",
        "--out",
        "bank",
    ]));
    ok(sextant(t.path()).args(["import", "bank", "bank", "--quiet"]));
    let err = fails(sextant(t.path()).args(["model", "anomalies"]));
    assert!(
        err.contains("give --train, --customer ID or --labels FILE"),
        "{err}"
    );
    let out = ok(sextant(t.path()).args(["model", "anomalies", "--train", "--trees", "50"]));
    assert!(
        out.starts_with("transaction_anomaly:1 ") && out.contains("promoted"),
        "{out}"
    );
    assert!(ok(sextant(t.path()).args(["model", "list"])).contains("transaction_anomaly:1"));
    // A customer with profiling consent (the bank's consents.csv decides) gets scored debits.
    let mut r = csv::Reader::from_path(t.path().join("bank/consents.csv")).unwrap();
    let id = r
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[2] == "profiling" && &r[3] == "true")
        .map(|r| r[1].to_string())
        .unwrap();
    let out = ok(sextant(t.path()).args([
        "model",
        "anomalies",
        "--customer",
        &id,
        "--limit",
        "3",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["transactions"].as_array().unwrap().len() <= 3, "{v}");
    let out =
        ok(sextant(t.path()).args(["model", "anomalies", "--labels", "bank/labels/fraud.csv"]));
    assert!(out.contains("combined"), "{out}");
    let out = ok(sextant(t.path()).args([
        "model",
        "export-bank",
        "--target",
        "churn",
        "--cutoff",
        "2026-09-30T00:00:00Z",
        "--out",
        "churn.csv",
    ]));
    assert!(out.starts_with("wrote churn.csv: "), "{out}");
    let header = std::fs::read_to_string(t.path().join("churn.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.starts_with("customer_id,age,") && header.ends_with(",label"),
        "{header}"
    );
}
