//! Speed of the privacy statement for a register of 500 processing activities (issue 2:
//! under 20 ms). The register is the Limburg example with its activities cloned under new
//! ids, so every activity carries realistic text, retention rules, recipients and
//! processors.
//!
//!   cargo bench -p kluis-domain --bench statement
//!   cargo bench -p kluis-domain --bench statement -- --write-register PATH
//!
//! The second form only writes the 500-activity register as YAML (for the server
//! benchmarks in scripts/bench) and times nothing. Plain `std::time::Instant` rather than
//! criterion: one number per step is what BENCHMARKS.md quotes, and it needs no
//! dependency.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kluis_domain::register::{ProcessingActivity, Register};
use kluis_domain::statement::{self, StatementMeta, VersionRef};
use kluis_domain::text::{Lang, Text};
use kluis_domain::{register_file, validate};
use time::macros::date;

const LIMBURG: &str = include_str!("../../../examples/limburg.yaml");
const CONTROLLER: &str = "limburg";
const ACTIVITIES: usize = 500;
const WARM_UP: usize = 10;
const RUNS: usize = 50;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench statement: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    // `cargo bench` passes `--bench`. Without it this is `cargo test --all-targets`
    // checking that the benchmark still runs: build the register, generate once, time nothing.
    if args.is_empty() {
        let register = register_of(ACTIVITIES)?;
        let meta = meta();
        let s = statement::generate(&register, CONTROLLER, Lang::Nl, &meta)
            .map_err(|e| e.to_string())?;
        black_box(statement::render_html(&s));
        println!("bench statement: smoke run passed (time it with `cargo bench`)");
        return Ok(());
    }
    let register = register_of(ACTIVITIES)?;
    // Anything else but --write-register is refused.
    let mut args = args.into_iter().filter(|a| a != "--bench");
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, _, _) => {
            time_statement(&register);
            time_activities_json(&register)
        }
        (Some("--write-register"), Some(path), None) => write_register(&register, &path),
        _ => Err("usage: statement [--write-register PATH]".into()),
    }
}

/// The Limburg register with its activities repeated, under new ids and numbered names,
/// until there are `n`. Validated, so the server accepts it on import.
fn register_of(n: usize) -> Result<Register, String> {
    let limburg =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    let originals: Vec<_> = limburg
        .activities
        .iter()
        .filter(|a| a.controller == CONTROLLER)
        .cloned()
        .collect();
    if originals.is_empty() {
        return Err(format!(
            "examples/limburg.yaml has no activities of '{CONTROLLER}'"
        ));
    }
    let mut register = limburg;
    register.activities.retain(|a| a.controller != CONTROLLER);
    for i in 0..n {
        let mut activity = originals[i % originals.len()].clone();
        let copy = i / originals.len();
        if copy > 0 {
            activity.id = format!("{}-{copy}", activity.id);
            activity.name = numbered(&activity.name, copy);
        }
        register.activities.push(activity);
    }
    let issues = validate::validate(&register);
    if !issues.is_empty() {
        return Err(format!("the generated register is not valid: {issues:?}"));
    }
    Ok(register)
}

fn numbered(name: &Text, copy: usize) -> Text {
    name.languages().fold(Text::default(), |t, lang| {
        t.with(lang, format!("{} ({copy})", name.show(lang)))
    })
}

fn write_register(register: &Register, path: &str) -> Result<(), String> {
    let yaml = register_file::to_yaml(register)
        .map_err(|e| format!("cannot write the register as YAML: {e}"))?;
    // Read it back as the import does, so a broken file fails here and not in the server.
    register_file::parse(path, &yaml).map_err(|e| e.to_string())?;
    std::fs::write(path, yaml).map_err(|e| format!("cannot write {path}: {e}"))?;
    eprintln!(
        "wrote {path}: {} activities of '{CONTROLLER}'",
        register.activities.len()
    );
    Ok(())
}

fn meta() -> StatementMeta {
    StatementMeta {
        version: 3,
        effective_date: date!(2022 - 07 - 18),
        earlier_versions: vec![
            VersionRef {
                version: 1,
                effective_date: date!(2020 - 05 - 29),
            },
            VersionRef {
                version: 2,
                effective_date: date!(2021 - 01 - 01),
            },
        ],
        changes: Vec::new(),
    }
}

fn time_statement(register: &Register) {
    let meta = meta();
    let generate = || statement::generate(register, CONTROLLER, Lang::Nl, &meta);
    let Ok(sample) = generate() else {
        eprintln!("bench statement: '{CONTROLLER}' is not in the generated register");
        return;
    };
    let html_len = statement::render_html(&sample).len();
    let md_len = statement::render_markdown(&sample).len();
    println!(
        "statement of '{CONTROLLER}' (nl), {} activities; html {} KiB, markdown {} KiB; {RUNS} runs after {WARM_UP} warm-up",
        register.activities.len(),
        html_len / 1024,
        md_len / 1024,
    );
    header();
    report("generate", || {
        black_box(generate().ok());
    });
    report("render_html", || {
        black_box(statement::render_html(&sample));
    });
    report("render_markdown", || {
        black_box(statement::render_markdown(&sample));
    });
    report("generate + render_html", || {
        black_box(generate().ok().map(|s| statement::render_html(&s)));
    });
    report("generate + render_markdown", || {
        black_box(generate().ok().map(|s| statement::render_markdown(&s)));
    });
}

/// The JSON work of `GET /api/v1/activities` on this register: the store keeps each
/// activity as a JSON document, the handler parses every row and writes the list back out.
/// Timed apart from the server so BENCHMARKS.md can say where a request's time goes.
fn time_activities_json(register: &Register) -> Result<(), String> {
    let documents = register
        .activities
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot write an activity as JSON: {e}"))?;
    let parse = || {
        documents
            .iter()
            .map(|d| serde_json::from_str::<ProcessingActivity>(d))
            .collect::<Result<Vec<_>, _>>()
    };
    let activities = parse().map_err(|e| format!("cannot read an activity back from JSON: {e}"))?;
    let bytes: usize = documents.iter().map(String::len).sum();
    println!();
    println!(
        "JSON of {} activities as GET /api/v1/activities handles it ({} KiB)",
        documents.len(),
        bytes / 1024
    );
    header();
    report("parse the stored documents", || {
        black_box(parse().ok());
    });
    report("write the list", || {
        black_box(serde_json::to_vec(&activities).ok());
    });
    Ok(())
}

fn header() {
    let (step, min, median, p90) = ("step", "min ms", "median ms", "p90 ms");
    println!("{step:<30} {min:>10} {median:>10} {p90:>10}");
}

/// Times `f` RUNS times after WARM_UP calls and prints min, median and p90.
fn report(step: &str, mut f: impl FnMut()) {
    for _ in 0..WARM_UP {
        f();
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p90 = times[(RUNS * 9).div_ceil(10) - 1];
    let median = (times[RUNS / 2 - 1] + times[RUNS / 2]) / 2;
    println!(
        "{step:<30} {:>10.3} {:>10.3} {:>10.3}",
        ms(times[0]),
        ms(median),
        ms(p90)
    );
}
