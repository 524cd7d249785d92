//! HTML forms of the back-office: the submitted fields, parsing them into domain values
//! with one message per field, and the description of each control the form template
//! renders.
//!
//! Every form is rendered from a [`FormData`]: a stored value is first turned into the
//! fields a browser would send, so showing a value and re-showing a user's rejected input
//! are one path, and `value -> FormData -> parse` must give the value back (tested).

use std::collections::BTreeMap;
use std::str::FromStr;

use kluis_domain::i18n;
use kluis_domain::text::{Lang, Text};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::Date;
use time::macros::format_description;

/// The fields of a submitted form, in order; a name may repeat (checkboxes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Adds `value` unless it is empty: an empty input and an absent one mean the same.
    pub fn push_some(&mut self, name: impl Into<String>, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.push(name, v);
        }
    }

    pub fn push_text(&mut self, name: &str, text: Option<&Text>) {
        let Some(text) = text else { return };
        for lang in Lang::ALL {
            self.push_some(format!("{name}.{lang}"), exact(text, lang));
        }
    }

    /// A list of texts as one block per language, one item per line; line n of every
    /// language belongs to item n.
    pub fn push_lines(&mut self, name: &str, items: &[Text]) {
        for lang in Lang::ALL {
            let lines: Vec<&str> = items.iter().map(|t| exact(t, lang).unwrap_or("")).collect();
            let block = lines.join("\n");
            self.push_some(format!("{name}.{lang}"), Some(block.trim_end_matches('\n')));
        }
    }

    pub fn push_yaml<T: Serialize>(&mut self, name: &str, value: &T) -> Result<(), String> {
        let yaml = serde_saphyr::to_string(value).map_err(|e| format!("{name}: {e}"))?;
        self.push_some(name, Some(yaml.trim_end()));
        Ok(())
    }

    pub fn push_date(&mut self, name: &str, date: Option<Date>) {
        self.push_some(name, date.map(format_date).as_deref());
    }

    pub fn push_flag(&mut self, name: &str, on: bool) {
        if on {
            self.push(name, "on");
        }
    }
}

/// The text in exactly `lang`, without falling back to another language.
pub fn exact(text: &Text, lang: Lang) -> Option<&str> {
    text.get(lang).filter(|(l, _)| *l == lang).map(|(_, s)| s)
}

pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// Messages per field name, from parsing or from validating the register.
pub type FieldErrors = BTreeMap<String, String>;

/// Reads domain values out of a form, collecting one message per field that is wrong.
pub struct Parser<'a> {
    pub data: &'a FormData,
    pub lang: Lang,
    pub errors: FieldErrors,
}

impl<'a> Parser<'a> {
    pub fn new(data: &'a FormData, lang: Lang) -> Self {
        Parser {
            data,
            lang,
            errors: FieldErrors::new(),
        }
    }

    pub fn fail(&mut self, name: &str, message: String) {
        self.errors.entry(name.to_string()).or_insert(message);
    }

    fn message(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tf(self.lang, key, args)
    }

    pub fn string(&self, name: &str) -> String {
        self.data.get(name).trim().to_string()
    }

    pub fn opt_string(&self, name: &str) -> Option<String> {
        Some(self.string(name)).filter(|s| !s.is_empty())
    }

    /// A value the form cannot do without.
    pub fn required(&mut self, name: &str) -> String {
        let s = self.string(name);
        if s.is_empty() {
            let m = self.message("form.error.required", &[]);
            self.fail(name, m);
        }
        s
    }

    pub fn checked(&self, name: &str) -> bool {
        !self.data.get(name).is_empty()
    }

    pub fn opt_text(&self, name: &str) -> Option<Text> {
        let mut text = Text::default();
        for lang in Lang::ALL {
            let v = self.data.get(&format!("{name}.{lang}")).trim();
            if !v.is_empty() {
                text = text.with(lang, v);
            }
        }
        (!text.is_blank()).then_some(text)
    }

    /// A text that must be given in at least one language.
    pub fn text(&mut self, name: &str) -> Text {
        self.opt_text(name).unwrap_or_else(|| {
            let m = self.message("form.error.required_text", &[]);
            self.fail(name, m);
            Text::default()
        })
    }

    /// Items written one per line, per language; an item blank in every language is skipped.
    pub fn lines(&self, name: &str) -> Vec<Text> {
        let blocks: Vec<(Lang, Vec<&str>)> = Lang::ALL
            .iter()
            .map(|l| {
                (
                    *l,
                    self.data
                        .get(&format!("{name}.{l}"))
                        .lines()
                        .map(str::trim)
                        .collect(),
                )
            })
            .collect();
        let count = blocks
            .iter()
            .map(|(_, lines)| lines.len())
            .max()
            .unwrap_or(0);
        (0..count)
            .map(|i| {
                blocks
                    .iter()
                    .fold(Text::default(), |text, (lang, lines)| match lines.get(i) {
                        Some(line) if !line.is_empty() => text.with(*lang, *line),
                        _ => text,
                    })
            })
            .filter(|t| !t.is_blank())
            .collect()
    }

    /// The terms ticked in a group of checkboxes.
    pub fn terms<T: FromStr>(&mut self, name: &str) -> Vec<T> {
        let mut out = Vec::new();
        for raw in self.data.all(name) {
            match raw.parse() {
                Ok(t) => out.push(t),
                Err(_) => {
                    let m = self.message("form.error.unknown_choice", &[("value", raw)]);
                    self.fail(name, m);
                }
            }
        }
        out
    }

    /// The term chosen in a select; None when nothing is chosen.
    pub fn term<T: FromStr>(&mut self, name: &str) -> Option<T> {
        let raw = self.string(name);
        if raw.is_empty() {
            return None;
        }
        let parsed = raw.parse().ok();
        if parsed.is_none() {
            let m = self.message("form.error.unknown_choice", &[("value", &raw)]);
            self.fail(name, m);
        }
        parsed
    }

    /// A term that must be chosen.
    pub fn required_term<T: FromStr>(&mut self, name: &str) -> Option<T> {
        let t = self.term(name);
        if t.is_none() && self.string(name).is_empty() {
            let m = self.message("form.error.choose", &[]);
            self.fail(name, m);
        }
        t
    }

    pub fn date(&mut self, name: &str) -> Option<Date> {
        let raw = self.string(name);
        if raw.is_empty() {
            return None;
        }
        let d = parse_date(&raw);
        if d.is_none() {
            let m = self.message("form.error.date", &[("value", &raw)]);
            self.fail(name, m);
        }
        d
    }

    /// A YAML block in the register's format; None when blank or wrong (then with a
    /// message that names the line).
    pub fn yaml<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let raw = self.data.get(name);
        if raw.trim().is_empty() {
            return None;
        }
        match serde_saphyr::from_str(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                let line = e
                    .location()
                    .map(|l| l.line().to_string())
                    .unwrap_or_else(|| "1".into());
                let m = self.message(
                    "form.error.yaml",
                    &[("line", &line), ("message", &yaml_message(&e))],
                );
                self.fail(name, m);
                None
            }
        }
    }

    /// A YAML list; blank is the empty list.
    pub fn yaml_list<T: DeserializeOwned>(&mut self, name: &str) -> Vec<T> {
        self.yaml(name).unwrap_or_default()
    }

    pub fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// The parser's own sentence, without the snippet and position it appends.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    first
        .rfind(" at line ")
        .map_or(first, |i| &first[..i])
        .to_string()
}

/// One option of a select or one box of a group of checkboxes.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
    /// The id of this option's own input (checkboxes).
    pub id: String,
}

/// One language's input of a translated field.
#[derive(Debug, Clone)]
pub struct LangInput {
    pub id: String,
    pub name: String,
    pub code: &'static str,
    pub label: String,
    pub value: String,
}

/// A legal basis or special category with its details, ticked or not.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub choice: Choice,
    /// The art. 9(2) condition (special categories only).
    pub condition: Option<(String, String, Vec<Choice>)>,
    pub reference_label: String,
    pub reference: Vec<LangInput>,
}

#[derive(Debug, Clone)]
pub enum Control {
    Input {
        input_type: &'static str,
        value: String,
        autocomplete: &'static str,
    },
    TextArea {
        value: String,
        rows: u8,
        code: bool,
    },
    Select {
        options: Vec<Choice>,
    },
    Checkbox {
        checked: bool,
    },
    Checkboxes {
        options: Vec<Choice>,
    },
    Translated {
        inputs: Vec<LangInput>,
        multiline: bool,
    },
    Claims {
        rows: Vec<ClaimRow>,
    },
    /// Shown but not editable (the id of an existing entry).
    Fixed {
        value: String,
    },
}

/// One field of a form, with everything the template needs to render it accessibly.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub error: Option<String>,
    pub required: bool,
    pub control: Control,
    /// The ids the controls point at with aria-describedby.
    pub describedby: String,
}

impl Field {
    pub fn hint_id(&self) -> String {
        format!("{}-hint", self.id)
    }

    pub fn error_id(&self) -> String {
        format!("{}-error", self.id)
    }

    /// Where the error summary links to: the field's first control.
    pub fn anchor(&self) -> String {
        match &self.control {
            Control::Checkboxes { options } => {
                options.first().map_or(self.id.clone(), |o| o.id.clone())
            }
            Control::Translated { inputs, .. } => {
                inputs.first().map_or(self.id.clone(), |i| i.id.clone())
            }
            Control::Claims { rows } => rows
                .first()
                .map_or(self.id.clone(), |r| r.choice.id.clone()),
            _ => self.id.clone(),
        }
    }

    fn finish(mut self) -> Self {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(self.hint_id());
        }
        if self.error.is_some() {
            ids.push(self.error_id());
        }
        self.describedby = ids.join(" ");
        self
    }
}

/// A form section: a heading and its fields.
#[derive(Debug, Clone)]
pub struct Section {
    pub heading: String,
    pub fields: Vec<Field>,
}

/// The HTML id of a form control: `f-` and the name with dots as dashes.
pub fn control_id(name: &str) -> String {
    format!("f-{}", name.replace(['.', '_'], "-"))
}

/// Builds the fields of a form from submitted (or stored) data, in the page's language.
pub struct Builder<'a> {
    pub data: &'a FormData,
    pub lang: Lang,
}

impl<'a> Builder<'a> {
    pub fn new(data: &'a FormData, lang: Lang) -> Self {
        Builder { data, lang }
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key).to_string()
    }

    fn field(
        &self,
        name: &str,
        label_key: &str,
        hint_key: Option<&str>,
        control: Control,
    ) -> Field {
        Field {
            name: name.to_string(),
            id: control_id(name),
            label: self.t(label_key),
            hint: hint_key.map(|k| self.t(k)),
            error: None,
            required: false,
            control,
            describedby: String::new(),
        }
    }

    pub fn input(&self, name: &str, label_key: &str, input_type: &'static str) -> Field {
        let control = Control::Input {
            input_type,
            value: self.data.get(name).to_string(),
            autocomplete: "off",
        };
        self.field(name, label_key, None, control)
    }

    pub fn fixed(&self, name: &str, label_key: &str) -> Field {
        self.field(
            name,
            label_key,
            None,
            Control::Fixed {
                value: self.data.get(name).to_string(),
            },
        )
    }

    pub fn checkbox(&self, name: &str, label_key: &str) -> Field {
        self.field(
            name,
            label_key,
            None,
            Control::Checkbox {
                checked: !self.data.get(name).is_empty(),
            },
        )
    }

    fn lang_inputs(&self, name: &str) -> Vec<LangInput> {
        Lang::ALL
            .iter()
            .map(|l| {
                let n = format!("{name}.{l}");
                LangInput {
                    id: control_id(&n),
                    value: self.data.get(&n).to_string(),
                    name: n,
                    code: l.code(),
                    label: self.t(lang_label_key(*l)),
                }
            })
            .collect()
    }

    /// A text in Dutch, English and French.
    pub fn translated(&self, name: &str, label_key: &str, multiline: bool) -> Field {
        let inputs = self.lang_inputs(name);
        let hint = if multiline {
            None
        } else {
            Some("form.hint.translated")
        };
        self.field(
            name,
            label_key,
            hint,
            Control::Translated { inputs, multiline },
        )
    }

    /// A list of texts, one per line, per language.
    pub fn lines(&self, name: &str, label_key: &str) -> Field {
        let inputs = self.lang_inputs(name);
        self.field(
            name,
            label_key,
            Some("form.hint.lines"),
            Control::Translated {
                inputs,
                multiline: true,
            },
        )
    }

    pub fn yaml(&self, name: &str, label_key: &str, hint_key: &str) -> Field {
        let control = Control::TextArea {
            value: self.data.get(name).to_string(),
            rows: 8,
            code: true,
        };
        self.field(name, label_key, Some(hint_key), control)
    }

    /// A select of `(value, label)` options, with an empty first option when `blank` is set.
    pub fn select(
        &self,
        name: &str,
        label_key: &str,
        options: Vec<(String, String)>,
        blank: bool,
    ) -> Field {
        let current = self.data.get(name);
        let mut choices = Vec::new();
        if blank {
            choices.push(Choice {
                value: String::new(),
                label: self.t("form.choose"),
                selected: current.is_empty(),
                id: String::new(),
            });
        }
        choices.extend(options.into_iter().map(|(value, label)| Choice {
            selected: value == current,
            id: String::new(),
            value,
            label,
        }));
        self.field(name, label_key, None, Control::Select { options: choices })
    }

    pub fn checkboxes(&self, name: &str, label_key: &str, options: Vec<(String, String)>) -> Field {
        let ticked = self.data.all(name);
        let options = options
            .into_iter()
            .map(|(value, label)| Choice {
                selected: ticked.contains(&value.as_str()),
                id: control_id(&format!("{name}.{value}")),
                value,
                label,
            })
            .collect();
        self.field(name, label_key, None, Control::Checkboxes { options })
    }

    /// Ticked terms each with a reference in law and, when `conditions` is given, an
    /// art. 9(2) condition: legal bases and special categories.
    pub fn claims(
        &self,
        name: &str,
        label_key: &str,
        terms: Vec<(String, String)>,
        conditions: Option<&[(String, String)]>,
    ) -> Field {
        let ticked = self.data.all(name);
        let rows = terms
            .into_iter()
            .map(|(value, label)| {
                let condition = conditions.map(|options| {
                    let n = format!("{name}.{value}.condition");
                    let current = self.data.get(&n);
                    let mut choices = vec![Choice {
                        value: String::new(),
                        label: self.t("form.choose"),
                        selected: current.is_empty(),
                        id: String::new(),
                    }];
                    choices.extend(options.iter().map(|(v, l)| Choice {
                        value: v.clone(),
                        label: l.clone(),
                        selected: v == current,
                        id: String::new(),
                    }));
                    (control_id(&n), n, choices)
                });
                ClaimRow {
                    choice: Choice {
                        selected: ticked.contains(&value.as_str()),
                        id: control_id(&format!("{name}.{value}")),
                        value: value.clone(),
                        label,
                    },
                    condition,
                    reference_label: self.t("form.reference"),
                    reference: self.lang_inputs(&format!("{name}.{value}.reference")),
                }
            })
            .collect();
        self.field(name, label_key, None, Control::Claims { rows })
    }
}

/// Marks required fields, attaches the messages to the fields they name, and returns the
/// messages no field of the form claims (shown in the summary only).
pub fn attach_errors(
    sections: &mut [Section],
    required: &[&str],
    mut errors: FieldErrors,
) -> Vec<String> {
    for section in sections.iter_mut() {
        for field in section.fields.iter_mut() {
            field.required = required.contains(&field.name.as_str());
            field.error = errors.remove(&field.name);
            *field = field.clone().finish();
        }
    }
    errors.into_values().collect()
}

pub fn lang_label_key(lang: Lang) -> &'static str {
    match lang {
        Lang::Nl => "form.lang.nl",
        Lang::En => "form.lang.en",
        Lang::Fr => "form.lang.fr",
    }
}

/// `(value, label)` pairs of a vocabulary, labelled in `lang`.
pub fn vocabulary_options<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    key: fn(T) -> String,
    lang: Lang,
) -> Vec<(String, String)> {
    all.iter()
        .map(|t| (name(*t).to_string(), i18n::t(lang, &key(*t)).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn lines_align_languages_by_line_and_round_trip() {
        let items = vec![
            Text::nl("Eerste").with(Lang::En, "First"),
            Text::nl("Tweede"),
            Text::default().with(Lang::Fr, "Troisième"),
        ];
        let mut d = FormData::default();
        d.push_lines("purposes", &items);
        assert_eq!(d.get("purposes.nl"), "Eerste\nTweede");
        assert_eq!(d.get("purposes.en"), "First");
        assert_eq!(d.get("purposes.fr"), "\n\nTroisième");
        assert_eq!(Parser::new(&d, Lang::En).lines("purposes"), items);
    }

    #[test]
    fn lines_accept_crlf_and_skip_empty_items() {
        let d = data(&[("p.nl", "a\r\n\r\n  b  \r\n")]);
        assert_eq!(
            Parser::new(&d, Lang::Nl).lines("p"),
            vec![Text::nl("a"), Text::nl("b")]
        );
    }

    #[test]
    fn text_is_required_in_one_language() {
        let d = data(&[("name.en", "  "), ("name.fr", "Nom")]);
        let mut p = Parser::new(&d, Lang::En);
        assert_eq!(p.text("name"), Text::default().with(Lang::Fr, "Nom"));
        assert!(p.errors.is_empty());
        let empty = FormData::default();
        let mut p = Parser::new(&empty, Lang::En);
        p.text("name");
        assert!(p.errors.contains_key("name"));
    }

    #[test]
    fn yaml_errors_name_the_line() {
        use kluis_domain::register::Recipient;
        let d = data(&[(
            "recipients",
            "- name: Politie\n  kind: police_justice\n- name: X\n  kind: alien\n",
        )]);
        let mut p = Parser::new(&d, Lang::En);
        assert_eq!(p.yaml::<Vec<Recipient>>("recipients"), None);
        assert!(p.errors.contains_key("recipients"));
        let e = serde_saphyr::from_str::<Vec<Recipient>>(d.get("recipients")).unwrap_err();
        assert_eq!(e.location().map(|l| l.line()), Some(4));
        assert!(yaml_message(&e).contains("alien"), "{}", yaml_message(&e));
        let mut p = Parser::new(&d, Lang::En);
        assert!(p.yaml::<Vec<Recipient>>("absent").is_none());
        assert!(p.errors.is_empty());
    }

    #[test]
    fn unknown_terms_and_bad_dates_are_reported_on_their_field() {
        use kluis_domain::category::DataCategory;
        let d = data(&[
            ("cats", "contact"),
            ("cats", "nonsense"),
            ("signed", "31-12-2024"),
        ]);
        let mut p = Parser::new(&d, Lang::En);
        assert_eq!(p.terms::<DataCategory>("cats"), vec![DataCategory::Contact]);
        assert_eq!(p.date("signed"), None);
        assert!(p.errors.contains_key("cats") && p.errors.contains_key("signed"));
        let d = data(&[("signed", "2024-12-31")]);
        assert_eq!(
            Parser::new(&d, Lang::En).date("signed"),
            parse_date("2024-12-31")
        );
    }

    #[test]
    fn errors_attach_to_their_field_and_the_rest_is_returned() {
        let d = data(&[("id", "x")]);
        let b = Builder::new(&d, Lang::En);
        let mut sections = vec![Section {
            heading: "s".into(),
            fields: vec![b.input("id", "form.field.id", "text")],
        }];
        let mut errors = FieldErrors::new();
        errors.insert("id".into(), "bad id".into());
        errors.insert("elsewhere".into(), "other".into());
        let rest = attach_errors(&mut sections, &["id"], errors);
        let f = &sections[0].fields[0];
        assert_eq!(f.error.as_deref(), Some("bad id"));
        assert!(f.required);
        assert_eq!(f.describedby, "f-id-error");
        assert_eq!(rest, vec!["other".to_string()]);
    }
}
