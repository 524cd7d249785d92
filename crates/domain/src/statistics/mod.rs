//! Statistics and research extracts (GDPR art. 89): records of one processing activity,
//! direct identifiers dropped, each person under a keyed pseudonym of the project,
//! quasi-identifiers generalised, and a k-anonymity and l-diversity check with suppression
//! before anything is released.
//!
//! The flow: [`parse`] a specification into a [`Plan`]; feed records to an [`Extractor`]
//! (the caller supplies the pseudonym function, so the key stays in `kluis-keys`); then
//! [`check`] the [`Extract`] and, if the [`ReleaseReport`] says released, [`write_csv`].
//!
//! Speed comes from never grouping strings: each cell is generalised to a small integer
//! per column (interned), each person numbered once by a hash of their subject id, and
//! groups keyed by the column codes packed into one integer.

mod anonymity;
mod extract;
mod pseudonyms;
mod spec;

pub use anonymity::{
    AggregateTable, Release, ReleaseReport, TableCell, check, group_rows, write_csv,
};
pub use extract::{Extract, Extractor, SourceRow, looks_like_identifier};
pub use pseudonyms::Pseudonymise;
pub use spec::{
    ColumnRole, ColumnSpec, DEFAULT_K, DEFAULT_MAX_SUPPRESSED_SHARE, ExtractSpec, Generalisation,
    IDENTIFYING_CATEGORIES, MAX_SPEC_BYTES, OTHER, Plan, Source, SpecError, TableSpec, Thresholds,
    is_direct_field, parse,
};

#[cfg(test)]
mod tests;
