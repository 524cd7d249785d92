//! The release check: k-anonymity by people (not rows), l-diversity of sensitive columns,
//! suppression of the groups that still stand out, small-cell suppression of aggregate
//! tables, and the decision whether the extract may be released.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::extract::Extract;
use super::spec::{ColumnRole, Plan};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// What the check found and decided: stored with the extract's log entry and printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseReport {
    pub released: bool,
    /// Why the release was refused, in words that say what to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    pub k_required: u32,
    /// The fewest people any released group of quasi-identifier values holds (0 when
    /// nothing is released).
    pub k_achieved: u32,
    pub l_required: u32,
    /// The fewest distinct values of a sensitive column in any released group; absent
    /// without sensitive columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_achieved: Option<u32>,
    pub max_suppressed_share: f64,
    pub rows_in: u64,
    pub persons_in: u64,
    pub rows_suppressed: u64,
    /// Of the suppressed rows, those in groups of fewer than k people.
    pub rows_suppressed_for_k: u64,
    /// Of the suppressed rows, those in groups with fewer than l sensitive values.
    pub rows_suppressed_for_l: u64,
    pub rows_released: u64,
    pub suppressed_share: f64,
    /// Groups of equal quasi-identifier values, and how many were suppressed.
    pub groups: u64,
    pub groups_suppressed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<AggregateTable>,
    /// Columns released as recorded whose values look like direct identifiers (e-mail
    /// addresses, phone numbers, national numbers, BSNs): the release is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direct_identifiers: Vec<String>,
}

/// A count table released with small-cell suppression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateTable {
    pub name: String,
    pub columns: Vec<String>,
    pub min_cell: u32,
    pub cells: Vec<TableCell>,
    pub cells_suppressed: u64,
}

/// One cell: the values of the table's columns and the count of rows, or none when fewer
/// than `min_cell` people are in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCell {
    pub values: Vec<String>,
    pub count: Option<u64>,
}

/// The checked extract: the report, and which rows may be released.
#[derive(Debug, Clone)]
pub struct Release {
    pub report: ReleaseReport,
    pub(crate) keep: Vec<bool>,
}

impl Release {
    /// Whether row `i` survives suppression.
    pub fn keeps(&self, i: usize) -> bool {
        self.keep.get(i).copied().unwrap_or(false)
    }
}

/// Numbers the distinct combinations of `columns`' codes row by row: the group of each
/// row, and how many groups there are. Codes are packed into one u128 key when their bits
/// fit (a single hash lookup per row); wider combinations are folded two columns at a time.
pub fn group_rows(columns: &[&[u32]], cardinalities: &[usize], rows: usize) -> (Vec<u32>, usize) {
    if columns.is_empty() {
        return (vec![0; rows], usize::from(rows > 0));
    }
    let bits: Vec<u32> = cardinalities
        .iter()
        .map(|&n| usize::BITS - n.max(1).leading_zeros())
        .collect();
    if bits.iter().sum::<u32>() <= 128 {
        let mut ids: FastMap<u128, u32> = FastMap::default();
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut key = 0u128;
            for (c, b) in columns.iter().zip(&bits) {
                key = (key << b) | u128::from(c[r]);
            }
            let next = ids.len() as u32;
            out.push(*ids.entry(key).or_insert(next));
        }
        let n = ids.len();
        return (out, n);
    }
    // Too wide: group the first half and the second half, then the two results.
    let mid = columns.len() / 2;
    let (left, nl) = group_rows(&columns[..mid], &cardinalities[..mid], rows);
    let (right, nr) = group_rows(&columns[mid..], &cardinalities[mid..], rows);
    group_rows(&[&left, &right], &[nl, nr], rows)
}

/// Counts, per group, the distinct values of `values` (a person or a code) among its rows.
fn distinct_per_group(groups: &[u32], n: usize, values: &[u32]) -> Vec<u32> {
    let mut seen: FastSet<u64> = FastSet::default();
    seen.reserve(groups.len() / 2);
    let mut counts = vec![0u32; n];
    for (g, v) in groups.iter().zip(values) {
        if seen.insert((u64::from(*g) << 32) | u64::from(*v)) {
            counts[*g as usize] += 1;
        }
    }
    counts
}

/// Runs the release check of `plan` on `extract`.
pub fn check(extract: &Extract, plan: &Plan) -> Release {
    let t = &plan.spec.thresholds;
    let rows = extract.rows();
    let of_role = |role: ColumnRole| -> Vec<usize> {
        (0..extract.names.len())
            .filter(|&c| extract.roles[c] == role)
            .collect()
    };
    let qi = of_role(ColumnRole::QuasiIdentifier);
    let sensitive = of_role(ColumnRole::Sensitive);
    let (groups, n) = group_rows(
        &qi.iter()
            .map(|&c| extract.codes[c].as_slice())
            .collect::<Vec<_>>(),
        &qi.iter()
            .map(|&c| extract.labels[c].len())
            .collect::<Vec<_>>(),
        rows,
    );
    let people = distinct_per_group(&groups, n, &extract.persons);
    let mut diversity = vec![u32::MAX; n];
    for &c in &sensitive {
        let d = distinct_per_group(&groups, n, &extract.codes[c]);
        for (m, v) in diversity.iter_mut().zip(d) {
            *m = (*m).min(v);
        }
    }
    // A group is suppressed whole: for too few people first, else for too few values.
    let below_k: Vec<bool> = people.iter().map(|&p| p < t.k).collect();
    let below_l: Vec<bool> = diversity.iter().map(|&d| d < t.l).collect();
    let mut keep = Vec::with_capacity(rows);
    let (mut for_k, mut for_l) = (0u64, 0u64);
    for &g in &groups {
        let g = g as usize;
        if below_k[g] {
            for_k += 1;
        } else if below_l[g] {
            for_l += 1;
        }
        keep.push(!below_k[g] && !below_l[g]);
    }
    let released_groups: Vec<usize> = (0..n).filter(|&g| !below_k[g] && !below_l[g]).collect();
    let k_achieved = released_groups
        .iter()
        .map(|&g| people[g])
        .min()
        .unwrap_or(0);
    let l_achieved = (!sensitive.is_empty()).then(|| {
        released_groups
            .iter()
            .map(|&g| diversity[g])
            .min()
            .unwrap_or(0)
    });
    let suppressed = for_k + for_l;
    let share = if rows == 0 {
        0.0
    } else {
        suppressed as f64 / rows as f64
    };
    let mut report = ReleaseReport {
        released: false,
        refusal: None,
        k_required: t.k,
        k_achieved,
        l_required: t.l,
        l_achieved,
        max_suppressed_share: t.max_suppressed_share,
        rows_in: rows as u64,
        persons_in: extract.persons() as u64,
        rows_suppressed: suppressed,
        rows_suppressed_for_k: for_k,
        rows_suppressed_for_l: for_l,
        rows_released: rows as u64 - suppressed,
        suppressed_share: share,
        groups: n as u64,
        groups_suppressed: (n - released_groups.len()) as u64,
        tables: Vec::new(),
        direct_identifiers: extract.identifiers.clone(),
    };
    report.refusal = refusal(&report);
    report.released = report.refusal.is_none();
    let release = Release { report, keep };
    let tables = plan
        .tables
        .iter()
        .zip(&plan.spec.tables)
        .map(|(columns, spec)| table(extract, &release, &spec.name, columns, t.min_cell))
        .collect();
    Release {
        report: ReleaseReport {
            tables,
            ..release.report
        },
        keep: release.keep,
    }
}

/// Why the release must be refused, if it must.
fn refusal(r: &ReleaseReport) -> Option<String> {
    if !r.direct_identifiers.is_empty() {
        return Some(format!(
            "{}, direct identifiers an extract never holds: leave the column out, or \
             generalise it (prefix, groups)",
            r.direct_identifiers.join("; ")
        ));
    }
    if r.rows_in == 0 {
        return Some(
            "the activity has no records in the chosen categories: there is nothing to release"
                .into(),
        );
    }
    if r.rows_released == 0 {
        return Some(format!(
            "every row stands out (no group of quasi-identifier values holds {} people{}): \
             generalise the quasi-identifiers further (a wider year_band or age_band, a \
             shorter prefix) or use fewer of them",
            r.k_required,
            if r.l_required > 1 {
                format!(" with {} sensitive values", r.l_required)
            } else {
                String::new()
            }
        ));
    }
    if r.suppressed_share > r.max_suppressed_share {
        return Some(format!(
            "{:.1}% of the rows would be suppressed, more than the {:.1}% allowed: generalise \
             the quasi-identifiers further (a wider year_band or age_band, a shorter prefix) \
             or use fewer of them",
            r.suppressed_share * 100.0,
            r.max_suppressed_share * 100.0
        ));
    }
    if r.k_achieved < r.k_required || r.l_achieved.is_some_and(|l| l < r.l_required) {
        return Some(format!(
            "k {} and l {} fall short of the required k {} and l {}",
            r.k_achieved,
            r.l_achieved.unwrap_or(1),
            r.k_required,
            r.l_required
        ));
    }
    None
}

/// Counts released rows by `columns`; cells of fewer than `min_cell` people are suppressed.
/// Counting released rows only keeps a table from giving away, by difference with the
/// row-level extract, what suppression took out.
fn table(
    extract: &Extract,
    release: &Release,
    name: &str,
    columns: &[usize],
    min_cell: u32,
) -> AggregateTable {
    let kept: Vec<usize> = (0..extract.rows()).filter(|&r| release.keeps(r)).collect();
    let codes: Vec<Vec<u32>> = columns
        .iter()
        .map(|&c| kept.iter().map(|&r| extract.codes[c][r]).collect())
        .collect();
    let persons: Vec<u32> = kept.iter().map(|&r| extract.persons[r]).collect();
    let (cells, n) = group_rows(
        &codes.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        &columns
            .iter()
            .map(|&c| extract.labels[c].len())
            .collect::<Vec<_>>(),
        kept.len(),
    );
    let people = distinct_per_group(&cells, n, &persons);
    let mut counts = vec![0u64; n];
    let mut first = vec![usize::MAX; n];
    for (i, &cell) in cells.iter().enumerate() {
        counts[cell as usize] += 1;
        if first[cell as usize] == usize::MAX {
            first[cell as usize] = kept[i];
        }
    }
    let mut out: Vec<TableCell> = (0..n)
        .map(|cell| TableCell {
            values: columns
                .iter()
                .map(|&c| extract.label(c, first[cell]).to_string())
                .collect(),
            count: (people[cell] >= min_cell).then_some(counts[cell]),
        })
        .collect();
    out.sort_by(|a, b| a.values.cmp(&b.values));
    AggregateTable {
        name: name.to_string(),
        columns: columns.iter().map(|&c| extract.names[c].clone()).collect(),
        min_cell,
        cells_suppressed: out.iter().filter(|c| c.count.is_none()).count() as u64,
        cells: out,
    }
}

/// Keeps a spreadsheet from reading a cell as a formula (CSV injection).
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes the released rows as CSV, header first, cells defused against spreadsheet
/// formulas. Rows are sorted by pseudonym and then by value, so their order tells nothing
/// about when records were made. Returns the number of rows written.
pub fn write_csv<W: std::io::Write>(
    extract: &Extract,
    release: &Release,
    out: W,
) -> Result<u64, csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(extract.names.iter().map(|n| defuse(n).into_owned()))?;
    if !release.report.released {
        writer.flush()?;
        return Ok(0);
    }
    let columns = extract.names.len();
    // Per column, the defused labels and each code's rank in label order.
    let labels: Vec<Vec<String>> = extract
        .labels
        .iter()
        .map(|l| l.iter().map(|s| defuse(s).into_owned()).collect())
        .collect();
    let ranks: Vec<Vec<u32>> = extract
        .labels
        .iter()
        .map(|l| {
            let mut order: Vec<usize> = (0..l.len()).collect();
            order.sort_by(|a, b| l[*a].cmp(&l[*b]));
            let mut rank = vec![0u32; l.len()];
            for (r, code) in order.into_iter().enumerate() {
                rank[code] = r as u32;
            }
            rank
        })
        .collect();
    let coded: Vec<usize> = (0..columns)
        .filter(|&c| extract.roles[c] != ColumnRole::Pseudonym)
        .collect();
    let mut rows: Vec<usize> = (0..extract.rows()).filter(|&r| release.keeps(r)).collect();
    let pseudonym = |r: usize| {
        extract
            .pseudonyms
            .get(extract.persons[r] as usize)
            .map_or("", String::as_str)
    };
    // Each person's rank in pseudonym order, so rows sort on integers.
    let mut by_pseudonym: Vec<usize> = (0..extract.pseudonyms.len()).collect();
    by_pseudonym.sort_unstable_by(|&a, &b| extract.pseudonyms[a].cmp(&extract.pseudonyms[b]));
    let mut person_rank = vec![0u32; extract.pseudonyms.len()];
    for (rank, person) in by_pseudonym.into_iter().enumerate() {
        person_rank[person] = rank as u32;
    }
    let rank_of = |r: usize| {
        person_rank
            .get(extract.persons[r] as usize)
            .copied()
            .unwrap_or(0)
    };
    rows.sort_unstable_by(|&a, &b| {
        rank_of(a).cmp(&rank_of(b)).then_with(|| {
            coded
                .iter()
                .map(|&c| ranks[c][extract.codes[c][a] as usize])
                .cmp(
                    coded
                        .iter()
                        .map(|&c| ranks[c][extract.codes[c][b] as usize]),
                )
        })
    });
    let mut record: Vec<&str> = Vec::with_capacity(columns);
    for &r in &rows {
        record.clear();
        for c in 0..columns {
            if extract.roles[c] == ColumnRole::Pseudonym {
                record.push(pseudonym(r));
            } else {
                record.push(&labels[c][extract.codes[c][r] as usize]);
            }
        }
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(rows.len() as u64)
}
