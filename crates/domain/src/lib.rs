//! The rules of kluis, with no I/O: the register of processing activities and its
//! validation, retention arithmetic, staff roles, and the public privacy statement.

pub mod vocabulary;

pub mod access;
pub mod access_package;
pub mod art30;
pub mod breach;
pub mod calendar;
pub mod category;
pub mod completeness;
pub mod consent;
pub mod cookie_consent;
pub mod dataset_map;
pub mod destruction;
pub mod dpv;
pub mod i18n;
pub mod identifiers;
pub mod inventory;
pub mod legal;
pub mod mail;
pub mod media;
pub mod processing_log;
pub mod register;
pub mod register_file;
pub mod retention;
pub mod rights;
pub mod statement;
pub mod statistics;
pub mod text;
pub mod trace;
pub mod validate;
