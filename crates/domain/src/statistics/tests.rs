use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use time::Date;
use time::macros::date;

use super::*;
use crate::category::DataCategory;

const SPEC: &str = r#"
activity: leefloon
project: armoedebarometer-2026
purpose: Armoedebarometer 2026 (art. 89 AVG)
thresholds:
  k: 2
  max_suppressed_share: 0.5
columns:
  - name: person
    role: pseudonym
  - name: born
    source: subject.birth_date
    role: quasi_identifier
    generalise: {year_band: 10}
  - name: postcode
    source: field.postcode
    role: quasi_identifier
    generalise: {prefix: 2}
  - name: decision
    source: field.decision
    role: sensitive
  - name: amount
    source: field.amount
    role: attribute
    generalise: {ranges: [0, 1000, 2000]}
tables:
  - name: by_postcode
    by: [postcode]
"#;

fn plan(text: &str) -> Plan {
    parse("spec.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(text: &str) -> SpecError {
    parse("spec.yaml", text).expect_err("the spec should be refused")
}

/// The spec with `columns:` replaced by one column built from `column`.
fn with_column(column: &str) -> String {
    format!(
        "activity: a\nproject: p\npurpose: q\ncolumns:\n  - name: c\n{}\n",
        column
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

struct Rec {
    subject: &'static str,
    born: Option<Date>,
    category: DataCategory,
    collected: Date,
    fields: BTreeMap<String, Value>,
}

fn rec(subject: &'static str, born: Date, fields: Value) -> Rec {
    let Value::Object(map) = fields else {
        panic!("fields must be an object")
    };
    Rec {
        subject,
        born: Some(born),
        category: DataCategory::Financial,
        collected: date!(2026 - 03 - 01),
        fields: map.into_iter().collect(),
    }
}

fn extract(plan: &Plan, records: &[Rec]) -> (Extract, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut x = Extractor::new(
        plan,
        &[DataCategory::Financial],
        Arc::new(move |s: &str| {
            counter.fetch_add(1, Ordering::Relaxed);
            format!("ps-{s}")
        }),
    );
    for r in records {
        x.push(&SourceRow {
            subject: r.subject,
            birth_date: r.born,
            category: r.category,
            collected_on: r.collected,
            source: None,
            fields: &r.fields,
        });
    }
    let e = x.finish();
    (e, calls.load(Ordering::Relaxed))
}

fn csv_of(e: &Extract, r: &Release) -> String {
    let mut out = Vec::new();
    write_csv(e, r, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_full_spec_parses_into_a_plan() {
    let p = plan(SPEC);
    assert_eq!(p.pseudonym, Some(0));
    assert_eq!(p.tables, vec![vec![2]]);
    assert_eq!(p.sources[2], Some(Source::Field("postcode".into())));
    assert_eq!(p.spec.thresholds.k, 2);
    // Defaults: min_cell follows the default k, l checks nothing.
    assert_eq!(p.spec.thresholds.min_cell, DEFAULT_K);
    assert_eq!(p.spec.thresholds.l, 1);
}

#[test]
fn thresholds_default_to_k_5_and_5_percent() {
    let p = plan(&with_column("source: field.x\nrole: attribute"));
    assert_eq!(p.spec.thresholds, Thresholds::default());
    assert_eq!(p.spec.thresholds.k, 5);
    assert_eq!(p.spec.thresholds.max_suppressed_share, 0.05);
}

#[test]
fn unknown_fields_are_refused_with_their_name_and_line() {
    let e = refused(&SPEC.replace("purpose:", "purpse: x\npurpose:"));
    let text = e.to_string();
    assert!(text.contains("purpse"), "{text}");
    assert!(text.starts_with("spec.yaml:"), "{text}");
    assert!(e.line.is_some(), "{e:?}");
    let e = refused(&with_column("source: field.x\nrole: attribute\nlevel: 2"));
    assert!(e.to_string().contains("level"), "{e}");
}

#[test]
fn direct_identifiers_are_refused_naming_the_column() {
    for (source, what) in [
        ("subject.national_number", "subject.national_number"),
        ("subject.bsn", "subject.bsn"),
        ("subject.email", "subject.email"),
        ("subject.family_name", "subject.family_name"),
        ("field.email", "field 'email'"),
        ("field.contact_e-mail", "field 'contact_e-mail'"),
        ("field.Voornaam", "field 'Voornaam'"),
        ("field.rijksregisternummer", "field 'rijksregisternummer'"),
        ("field.telefoon_2", "field 'telefoon_2'"),
        ("field.IBAN", "field 'IBAN'"),
        ("record.subject_id", "record.subject_id"),
    ] {
        let e = refused(&with_column(&format!("source: {source}\nrole: attribute")));
        assert!(e.direct_identifier, "{source}: {e:?}");
        let text = e.to_string();
        assert!(text.contains("column 'c'"), "{text}");
        assert!(text.contains(what), "{text}");
        assert!(text.contains("columns[0].source"), "{text}");
        assert!(text.contains("direct identifier"), "{text}");
    }
    // Quasi-identifiers are not direct identifiers.
    for ok in [
        "field.postcode",
        "field.gemeente",
        "field.nationality",
        "subject.birth_date",
    ] {
        plan(&with_column(&format!(
            "source: {ok}\nrole: quasi_identifier"
        )));
    }
}

#[test]
fn identifying_categories_are_refused() {
    let e = refused(&SPEC.replace(
        "thresholds:",
        "categories: [financial, contact]\nthresholds:",
    ));
    assert!(e.direct_identifier);
    assert!(e.to_string().contains("categories[1]"), "{e}");
    assert!(e.to_string().contains("'contact'"), "{e}");
}

#[test]
fn categories_default_to_the_activitys_non_identifying_ones() {
    let p = plan(SPEC);
    let chosen = p
        .categories(&[
            DataCategory::Identification,
            DataCategory::Financial,
            DataCategory::Contact,
            DataCategory::FamilyComposition,
        ])
        .unwrap();
    assert_eq!(
        chosen,
        vec![DataCategory::Financial, DataCategory::FamilyComposition]
    );
    let err = p.categories(&[DataCategory::Identification]).unwrap_err();
    assert!(err.contains("only identifying"), "{err}");
    let named = plan(&SPEC.replace("thresholds:", "categories: [housing]\nthresholds:"));
    let err = named.categories(&[DataCategory::Financial]).unwrap_err();
    assert!(err.contains("does not record category 'housing'"), "{err}");
}

#[test]
fn bad_columns_and_thresholds_name_their_field() {
    let cases: &[(&str, &str)] = &[
        (
            "source: record.category\nrole: quasi_identifier\ngeneralise: year",
            "columns[0].generalise",
        ),
        (
            "source: record.collected_on\nrole: quasi_identifier\ngeneralise: {age_band: 10}",
            "columns[0].generalise",
        ),
        (
            "source: field.x\nrole: attribute\ngeneralise: {ranges: [10, 5]}",
            "increasing",
        ),
        (
            "source: field.x\nrole: attribute\ngeneralise: {prefix: 0}",
            "at least 1",
        ),
        (
            "source: field.x\nrole: attribute\ngeneralise: {groups: {a: [x], b: [x]}}",
            "two groups",
        ),
        ("role: attribute", "needs a source"),
        (
            "source: subject.shoe_size\nrole: attribute",
            "no attribute 'shoe_size'",
        ),
        ("source: postcode\nrole: attribute", "is not a source"),
        ("role: pseudonym\nsource: field.x", "takes no source"),
    ];
    for (column, expected) in cases {
        let e = refused(&with_column(column));
        assert!(!e.direct_identifier, "{column}");
        assert!(e.to_string().contains(expected), "{column}: {e}");
    }
    for (threshold, field) in [
        ("k: 1", "thresholds.k"),
        ("l: 2", "thresholds.l"),
        (
            "max_suppressed_share: 1.5",
            "thresholds.max_suppressed_share",
        ),
        ("min_cell: 0", "thresholds.min_cell"),
    ] {
        let e = refused(&format!(
            "{}thresholds:\n  {threshold}\n",
            with_column("source: field.x\nrole: attribute")
        ));
        assert!(e.to_string().contains(field), "{threshold}: {e}");
    }
    let e = refused(&SPEC.replace("by: [postcode]", "by: [person]"));
    assert!(e.to_string().contains("tables[0].by[0]"), "{e}");
    let e = refused(&SPEC.replace("by: [postcode]", "by: [nope]"));
    assert!(e.to_string().contains("no column 'nope'"), "{e}");
    let e = refused(&SPEC.replace("name: amount", "name: born"));
    assert!(e.to_string().contains("named twice"), "{e}");
    let e = refused(&SPEC.replace("activity: leefloon", "activity: ' '"));
    assert!(e.to_string().contains("activity: must not be empty"), "{e}");
}

#[test]
fn generalisations_give_their_labels() {
    let text = r#"
activity: a
project: p
purpose: q
columns:
  - {name: year, source: subject.birth_date, role: attribute, generalise: year}
  - {name: month, source: record.collected_on, role: attribute, generalise: month}
  - {name: band, source: subject.birth_date, role: attribute, generalise: {year_band: 5}}
  - {name: age, source: subject.birth_date, role: attribute, generalise: {age_band: 10}}
  - {name: pc, source: field.postcode, role: attribute, generalise: {prefix: 2}}
  - {name: income, source: field.income, role: attribute, generalise: {ranges: [0, 1000, 2000]}}
  - {name: household, source: field.household, role: attribute, generalise: {groups: {alone: [alleenstaand], together: [samenwonend, gehuwd]}}}
  - {name: raw, source: field.note, role: attribute}
  - {name: born, source: subject.birth_date, role: attribute}
  - {name: visit, source: field.visit, role: attribute, generalise: year}
"#;
    let p = plan(text);
    let records = [
        rec(
            "s1",
            date!(1983 - 07 - 14),
            json!({"postcode": "3500", "income": 1500.5, "household": "gehuwd",
                   "note": "=HYPERLINK(1)", "visit": "2024-02-29"}),
        ),
        rec(
            "s2",
            date!(1990 - 03 - 01),
            json!({"postcode": 9000, "income": -3, "household": "kot", "note": 42}),
        ),
        rec("s3", date!(1990 - 03 - 02), json!({"income": "2500"})),
    ];
    let (e, _) = extract(&p, &records);
    let row = |r: usize| -> Vec<&str> { (0..e.names.len()).map(|c| e.label(c, r)).collect() };
    assert_eq!(
        row(0),
        [
            "1983",
            "2026-03",
            "1980-1984",
            "40-49",
            "35",
            "1000-<2000",
            "together",
            "=HYPERLINK(1)",
            "1983-07-14",
            "2024"
        ]
    );
    // Age on the collection date: 36 on the birthday, 35 the day before.
    assert_eq!(
        row(1),
        [
            "1990",
            "2026-03",
            "1990-1994",
            "30-39",
            "90",
            "<0",
            "other",
            "42",
            "1990-03-01",
            ""
        ]
    );
    assert_eq!(row(2)[3], "30-39");
    assert_eq!(row(2)[4], "", "a missing field is empty");
    assert_eq!(row(2)[5], ">=2000", "a number written as text still ranges");
    assert_eq!(row(2)[6], "");
    // Age bands from a field: a birth date written as text, or an age.
    let p = plan(
        "activity: a\nproject: p\npurpose: q\ncolumns:\n  - {name: age, source: field.born, \
         role: attribute, generalise: {age_band: 5}}\n",
    );
    let (e, _) = extract(
        &p,
        &[
            rec("s1", date!(1990 - 01 - 01), json!({"born": "2000-03-01"})),
            rec("s2", date!(1990 - 01 - 01), json!({"born": 44})),
            rec("s3", date!(1990 - 01 - 01), json!({"born": "2030-01-01"})),
        ],
    );
    assert_eq!(
        [e.label(0, 0), e.label(0, 1), e.label(0, 2)],
        ["25-29", "40-44", ""]
    );
}

#[test]
fn records_of_other_categories_are_skipped() {
    let p = plan(SPEC);
    let mut r = rec("s1", date!(1980 - 01 - 01), json!({}));
    r.category = DataCategory::Contact;
    let (e, calls) = extract(&p, &[r]);
    assert_eq!(e.rows(), 0);
    assert_eq!(calls, 0);
}

/// Six people: four in postcode 35xx born in the 1980s, two alone in their groups.
fn six_people() -> Vec<Rec> {
    let mut out = Vec::new();
    for (s, decision) in [
        ("a", "granted"),
        ("b", "refused"),
        ("c", "granted"),
        ("d", "granted"),
    ] {
        out.push(rec(
            s,
            date!(1985 - 01 - 01),
            json!({"postcode": "3500", "decision": decision, "amount": 500}),
        ));
    }
    // One person with three records is still one person: alone in 1990s/90xx.
    for _ in 0..3 {
        out.push(rec(
            "e",
            date!(1995 - 01 - 01),
            json!({"postcode": "9000", "decision": "granted", "amount": 1500}),
        ));
    }
    out.push(rec(
        "f",
        date!(1975 - 01 - 01),
        json!({"postcode": "=1+1", "decision": "refused", "amount": 2500}),
    ));
    out
}

#[test]
fn k_anonymity_counts_people_not_rows_and_suppresses_the_rest() {
    let p = plan(&SPEC.replace("k: 2", "k: 3"));
    let (e, calls) = extract(&p, &six_people());
    assert_eq!(calls, 6, "one pseudonym per person");
    let r = check(&e, &p);
    let rep = &r.report;
    assert_eq!(rep.rows_in, 8);
    assert_eq!(rep.persons_in, 6);
    assert_eq!(rep.groups, 3);
    assert_eq!(rep.groups_suppressed, 2);
    assert_eq!(rep.rows_suppressed, 4, "e's three rows and f's one");
    assert_eq!(rep.rows_suppressed_for_k, 4);
    assert_eq!(rep.rows_released, 4);
    assert_eq!(rep.k_achieved, 4);
    assert_eq!(rep.l_achieved, Some(2));
    assert_eq!(rep.suppressed_share, 0.5);
    assert!(rep.released, "{rep:?}");
    let csv = csv_of(&e, &r);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "person,born,postcode,decision,amount");
    assert_eq!(lines.len(), 5);
    assert!(
        lines[1..].iter().all(|l| l.contains(",1980-1989,35,")),
        "{csv}"
    );
    assert!(!csv.contains("ps-e") && !csv.contains("ps-f"), "{csv}");
    // Sorted by pseudonym, so the file's order says nothing of when records were made.
    assert!(
        lines[1].starts_with("ps-a,") && lines[4].starts_with("ps-d,"),
        "{csv}"
    );
}

#[test]
fn the_release_is_refused_when_too_much_is_suppressed() {
    let p = plan(&SPEC.replace("k: 2", "k: 3").replace("0.5", "0.4"));
    let (e, _) = extract(&p, &six_people());
    let r = check(&e, &p);
    assert!(!r.report.released);
    let why = r.report.refusal.clone().unwrap();
    assert!(
        why.contains("50.0% of the rows would be suppressed"),
        "{why}"
    );
    assert!(why.contains("40.0%"), "{why}");
    // Nothing but the header is written for a refused release.
    assert_eq!(csv_of(&e, &r), "person,born,postcode,decision,amount\n");
}

#[test]
fn the_release_is_refused_when_every_row_stands_out() {
    let p = plan(&SPEC.replace("k: 2", "k: 10").replace("0.5", "1.0"));
    let (e, _) = extract(&p, &six_people());
    let r = check(&e, &p);
    assert!(!r.report.released);
    assert_eq!(r.report.rows_released, 0);
    assert_eq!(r.report.k_achieved, 0);
    assert!(
        r.report
            .refusal
            .as_deref()
            .unwrap()
            .contains("every row stands out")
    );
    let (empty, _) = extract(&p, &[]);
    let r = check(&empty, &p);
    assert!(!r.report.released);
    assert!(r.report.refusal.as_deref().unwrap().contains("no records"));
}

#[test]
fn l_diversity_suppresses_groups_that_show_one_sensitive_value() {
    let text = SPEC.replace("k: 2", "k: 2\n  l: 2").replace("0.5", "1.0");
    let p = plan(&text);
    let mut records = six_people();
    // g and h join f's group, all refused: three people, one decision.
    for s in ["g", "h"] {
        records.push(rec(
            s,
            date!(1975 - 06 - 01),
            json!({"postcode": "=1+1", "decision": "refused", "amount": 1}),
        ));
    }
    let (e, _) = extract(&p, &records);
    let r = check(&e, &p);
    assert_eq!(r.report.rows_suppressed_for_k, 3, "e alone");
    assert_eq!(r.report.rows_suppressed_for_l, 3, "f, g, h: all refused");
    assert_eq!(r.report.l_achieved, Some(2));
    assert_eq!(r.report.rows_released, 4);
    assert!(r.report.released);
}

#[test]
fn aggregate_tables_suppress_small_cells() {
    let text = SPEC
        .replace("k: 2", "k: 2\n  min_cell: 2")
        .replace("0.5", "1.0")
        .replace("by: [postcode]", "by: [decision]");
    let p = plan(&text);
    let mut records = six_people();
    records.push(rec(
        "f2",
        date!(1975 - 01 - 01),
        json!({"postcode": "=1+1", "decision": "appeal", "amount": 2500}),
    ));
    let (e, _) = extract(&p, &records);
    let r = check(&e, &p);
    let t = &r.report.tables[0];
    assert_eq!(t.columns, ["decision"]);
    // Released rows: a-d (3 granted, 1 refused) and f, f2 (refused, appeal).
    let cells: Vec<(&str, Option<u64>)> = t
        .cells
        .iter()
        .map(|c| (c.values[0].as_str(), c.count))
        .collect();
    assert_eq!(
        cells,
        [("appeal", None), ("granted", Some(3)), ("refused", Some(2))]
    );
    assert_eq!(t.cells_suppressed, 1);
}

#[test]
fn csv_cells_are_defused_against_formulas() {
    let text = SPEC
        .replace("0.5", "1.0")
        .replace("{prefix: 2}", "{prefix: 4}");
    let p = plan(&text);
    let mut records = six_people();
    records.push(rec(
        "g",
        date!(1975 - 06 - 01),
        json!({"postcode": "=1+1", "decision": "@cmd", "amount": 1}),
    ));
    let (e, _) = extract(&p, &records);
    let r = check(&e, &p);
    let csv = csv_of(&e, &r);
    assert!(csv.contains(",'=1+1,"), "{csv}");
    assert!(csv.contains(",'@cmd,"), "{csv}");
    assert!(!csv.contains(",=1+1"), "{csv}");
}

#[test]
fn grouping_folds_wide_keys_the_same_as_packed_ones() {
    let a = [1u32, 2, 1, 2, 1];
    let b = [7u32, 7, 7, 8, 7];
    let c = [0u32, 0, 0, 0, 3];
    let cols: [&[u32]; 3] = [&a, &b, &c];
    let (packed, n) = group_rows(&cols, &[3, 9, 4], 5);
    // Cardinalities that cannot pack into 128 bits force the folding path.
    let huge = usize::MAX >> 1;
    let cols5: [&[u32]; 5] = [&a, &b, &c, &a, &b];
    let (folded, m) = group_rows(&cols5, &[huge; 5], 5);
    assert_eq!(n, 4);
    assert_eq!(m, 4);
    assert_eq!(packed, [0, 1, 0, 2, 3]);
    assert_eq!(folded, packed);
}

#[test]
fn pseudonyms_made_on_worker_threads_stay_with_their_person() {
    // More people than one batch, so the workers run; some people have two records.
    let p = plan(SPEC);
    let subjects: Vec<&'static str> = (0..20_000)
        .map(|i| &*Box::leak(format!("subject-{i}").into_boxed_str()))
        .collect();
    let mut records = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        records.push(rec(s, date!(1980 - 01 - 01), json!({"postcode": "3500"})));
        if i % 3 == 0 {
            records.push(rec(s, date!(1980 - 01 - 01), json!({"postcode": "3500"})));
        }
    }
    let (e, calls) = extract(&p, &records);
    assert_eq!(calls, 20_000);
    assert_eq!(e.persons(), 20_000);
    assert_eq!(e.rows(), records.len());
    for (row, r) in records.iter().enumerate() {
        assert_eq!(
            e.pseudonyms[e.persons[row] as usize],
            format!("ps-{}", r.subject)
        );
    }
}

#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("## Statistics and research extracts")
        .nth(1)
        .expect("the README has the statistics section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the section has a YAML example");
    let p = plan(yaml);
    assert_eq!(p.spec.thresholds.l, 2);
    assert_eq!(p.tables, vec![vec![3, 6]]);
}

#[test]
fn values_that_look_like_identifiers_refuse_the_release() {
    assert_eq!(
        looks_like_identifier("an@example.be"),
        Some("e-mail addresses")
    );
    assert_eq!(
        looks_like_identifier("+32 11 23 45 67"),
        Some("phone numbers")
    );
    assert_eq!(
        looks_like_identifier("85.07.30-033.28"),
        Some("national numbers")
    );
    assert_eq!(looks_like_identifier("111222333"), Some("BSNs"));
    for innocent in [
        "granted",
        "3500",
        "85.07.30-033.29",
        "111222334",
        "a@b",
        "1500.5",
    ] {
        assert_eq!(looks_like_identifier(innocent), None, "{innocent}");
    }
    // A field with an innocent name that holds e-mail addresses, released as recorded.
    let text = SPEC.replace("0.5", "1.0").replace(
        "source: field.decision\n    role: sensitive",
        "source: field.decision\n    role: attribute",
    );
    let p = plan(&text);
    let mut records = six_people();
    records[0]
        .fields
        .insert("decision".into(), json!("an@example.be"));
    let (e, _) = extract(&p, &records);
    let r = check(&e, &p);
    assert!(!r.report.released);
    let why = r.report.refusal.as_deref().unwrap();
    assert!(
        why.contains("column 'decision' holds e-mail addresses"),
        "{why}"
    );
    assert_eq!(csv_of(&e, &r).lines().count(), 1, "only the header");
    // Generalised, the same values are coarsened and the column is not checked.
    let grouped = text.replace(
        "source: field.decision\n    role: attribute",
        "source: field.decision\n    role: attribute\n    generalise: {groups: {yes: [granted]}}",
    );
    let p = plan(&grouped);
    let (e, _) = extract(&p, &records);
    assert!(check(&e, &p).report.released);
    // A national number stored as a JSON number is caught too.
    let mut records = six_people();
    records[1]
        .fields
        .insert("amount".into(), json!(85073003328u64));
    let p = plan(&text.replace("    generalise: {ranges: [0, 1000, 2000]}\n", ""));
    let (e, _) = extract(&p, &records);
    let why = check(&e, &p).report.refusal.unwrap();
    assert!(
        why.contains("column 'amount' holds national numbers"),
        "{why}"
    );
}
