//! `Dataset::from_csv`: column type detection, missing values, target parsing, and every error
//! with its exact message.

use std::io::Write;

use sextant_models::{ColumnKind, Dataset, ModelError};

fn file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    f
}

fn load(content: &str, target: &str) -> Result<Dataset, ModelError> {
    let f = file(content.as_bytes());
    Dataset::from_csv(f.path(), target, None, &[])
}

fn err(content: &[u8], target: &str) -> String {
    let f = file(content);
    let e = Dataset::from_csv(f.path(), target, None, &[]).unwrap_err();
    e.to_string()
        .replace(&f.path().display().to_string(), "FILE")
}

#[test]
fn detects_numeric_and_categorical_columns_and_missing_values() {
    let d = load(
        "id,income,region,score,default\n\
         a,100.5,north,NA,no\n\
         b,,south,3,yes\n\
         c,-2e3,,4,No\n\
         d,7,north,?,YES\n",
        "default",
    );
    // "No"/"YES" make four distinct strings: not binary.
    assert!(d.is_err());

    let f = file(
        b"id,income,region,score,default\n\
          a,100.5,north,NA,no\n\
          b,,south,3,yes\n\
          c,-2e3,,4,no\n\
          d,7,north,?,yes\n",
    );
    let d = Dataset::from_csv(f.path(), "default", Some("id"), &[]).unwrap();
    assert_eq!(
        d.feature_names,
        ["income", "region=north", "region=south", "score"]
    );
    assert_eq!((d.rows, d.cols), (4, 4));
    assert_eq!(d.schema.columns[0].kind, ColumnKind::Numeric);
    assert_eq!(
        d.schema.columns[1].kind,
        ColumnKind::Categorical {
            levels: vec!["north".into(), "south".into()]
        }
    );
    assert_eq!(d.y, [0.0, 1.0, 0.0, 1.0]);
    assert_eq!(d.schema.positive_label, "yes");
    assert_eq!(d.ids.as_deref().unwrap(), ["a", "b", "c", "d"]);
    assert_eq!(d.row(0)[..3], [100.5, 1.0, 0.0]);
    assert!(d.row(0)[3].is_nan());
    assert!(d.row(1)[0].is_nan());
    assert_eq!(d.row(2)[0], -2000.0);
    assert!(d.row(2)[1].is_nan() && d.row(2)[2].is_nan());
    assert!(d.warnings.is_empty());
}

#[test]
fn target_conventions() {
    let pos = |content: &str| load(content, "t").unwrap().schema.positive_label;
    assert_eq!(pos("x,t\n1,1\n2,0\n"), "1");
    assert_eq!(pos("x,t\n1,TRUE\n2,false\n"), "TRUE");
    assert_eq!(pos("x,t\n1,No\n2,Yes\n"), "Yes");
    assert_eq!(pos("x,t\n1,10\n2,9\n"), "10"); // numbers: greater, not lexicographic
    assert_eq!(pos("x,t\n1,churned\n2,stayed\n"), "stayed");
    let d = load("x,t\n1,b\n2,a\n3,b\n", "t").unwrap();
    assert_eq!(d.y, [1.0, 0.0, 1.0]);
    assert_eq!(d.schema.negative_label, "a");
}

#[test]
fn exclude_and_id_columns_are_not_features() {
    let f = file(b"id,a,b,t\n1,2,3,0\n4,5,6,1\n");
    let d = Dataset::from_csv(f.path(), "t", Some("id"), &["b"]).unwrap();
    assert_eq!(d.feature_names, ["a"]);
    let e = Dataset::from_csv(f.path(), "t", Some("id"), &["c"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "excluded column `c` not found; the columns are: id, a, b, t"
    );
    let e = Dataset::from_csv(f.path(), "t", Some("key"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "id column `key` not found; the columns are: id, a, b, t"
    );
}

#[test]
fn high_cardinality_text_is_dropped_with_a_warning() {
    let mut s = String::from("name,x,t\n");
    for i in 0..60 {
        s += &format!("person{i},{i},{}\n", i % 2);
    }
    let d = load(&s, "t").unwrap();
    assert_eq!(d.feature_names, ["x"]);
    assert_eq!(
        d.warnings,
        [
            "column `name` dropped: 60 distinct text values (at most 50 are one-hot encoded); \
          exclude it or recode it"
        ]
    );
    let d = load("x,y,t\n,1,0\nNA,2,1\n", "t").unwrap();
    assert_eq!(d.warnings, ["column `x` dropped: every value is missing"]);
    assert_eq!(
        err(b"x,t\n,0\n,1\n", "t"),
        "no usable feature columns (dropped: x)"
    );
    assert_eq!(
        err(b"t\n0\n1\n", "t"),
        "no usable feature columns (the file has only the target, id and excluded columns)"
    );
}

#[test]
fn error_messages() {
    assert_eq!(err(b"", "t"), "FILE is empty: no header row");
    assert_eq!(err(b"a,t\n", "t"), "FILE is empty: no data rows");
    assert_eq!(
        err(b"a,t\n1,0\n", "target"),
        "target column `target` not found; the columns are: a, t"
    );
    assert_eq!(
        err(b"a,t\n1,0\n2,0\n", "t"),
        "target column `t` has only one class (`0`); a binary target needs two"
    );
    assert_eq!(
        err(b"a,t\n1,0\n2,1\n3,2\n", "t"),
        "target column `t` has 3 distinct values (0, 1, 2); a binary target needs exactly two"
    );
    assert_eq!(
        err(b"a,t\n1,0\n2,1\n3,2\n4,3\n5,4\n6,5\n", "t"),
        "target column `t` has 6 distinct values (0, 1, 2, 3, 4, …); a binary target needs \
         exactly two"
    );
    assert_eq!(
        err(b"a,t\n1,0\n2,\n", "t"),
        "line 3: target column `t` is empty"
    );
    assert_eq!(
        err(b"a,t\n1,0\n2,1,9\n", "t"),
        "line 3: 3 fields, but the header has 2"
    );
    assert_eq!(
        err(b"a,t\n1,0\n\xff\xfe,1\n", "t"),
        "line 3: not valid UTF-8 (save the file as UTF-8)"
    );
    assert_eq!(
        err(b"a,a,t\n1,2,0\n", "t"),
        "column `a` appears more than once in the header"
    );
    let e = Dataset::from_csv("/nonexistent/x.csv", "t", None, &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/x.csv: "),
        "{e}"
    );
}

#[test]
fn content_hash_is_stable_and_sensitive() {
    let a = load("x,t\n1,0\n2,1\n", "t").unwrap();
    let b = load("x,t\n1,0\n2,1\n", "t").unwrap();
    let c = load("x,t\n1,0\n3,1\n", "t").unwrap();
    assert_eq!(a.content_hash(), b.content_hash());
    assert_ne!(a.content_hash(), c.content_hash());
    assert_eq!(a.content_hash().len(), 64);
}

#[test]
fn from_parts_checks_shapes() {
    let e = Dataset::from_parts(vec!["a".into()], vec![1.0, 2.0], vec![0.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid input: x has 2 values, expected 1 rows × 1 features"
    );
    let e = Dataset::from_parts(vec!["a".into()], vec![1.0], vec![2.0]).unwrap_err();
    assert_eq!(e.to_string(), "invalid input: y must be 0 or 1, found 2");
}
