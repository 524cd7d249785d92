//! The form and pages of processing activities, with their art. 30 completeness check and
//! version history.

use kluis_domain::category::{DataCategory, SpecialCategory, SubjectCategory};
use kluis_domain::completeness;
use kluis_domain::i18n;
use kluis_domain::legal::{Art9Condition, LegalBasis};
use kluis_domain::register::{
    ActivityStatus, AutomatedDecisionMaking, ConsentTerms, Dpia, LegalBasisClaim,
    ProcessingActivity, Recipient, Register, SpecialCategoryClaim,
};
use kluis_domain::text::Lang;
use kluis_domain::validate::Section as RegisterSection;
use kluis_store::StoreError;

use super::entities::{AdminEntity, Cell, Extras, HistoryRow, Words, format_time};
use super::form::{Builder, FieldErrors, FormData, Parser, Section, vocabulary_options};
use super::kinds::{id_field, parse_id, section, view_link};
use super::view::{Row, Rows};
use crate::state::AppState;

fn legal_basis_options(lang: Lang) -> Vec<(String, String)> {
    LegalBasis::ALL
        .iter()
        .map(|b| {
            (
                b.name().to_string(),
                format!("{} ({})", i18n::t(lang, &b.label_key()), b.article()),
            )
        })
        .collect()
}

fn labels<T: Copy>(terms: &[T], key: fn(T) -> String, lang: Lang) -> Vec<String> {
    terms
        .iter()
        .map(|t| i18n::t(lang, &key(*t)).to_string())
        .collect()
}

fn gap_count(activity: &ProcessingActivity, register: &Register) -> usize {
    completeness::check(activity, register.controller(&activity.controller)).len()
}

impl AdminEntity for ProcessingActivity {
    const SEGMENT: &'static str = "activities";
    const SECTION: RegisterSection = RegisterSection::Activities;
    const WORDS: Words = Words {
        list_title: "admin.activities.list_title",
        new_title: "admin.activities.new_title",
        edit_title: "admin.activities.edit_title",
        view_title: "admin.activities.view_title",
        new_button: "admin.activities.new_button",
        empty: "admin.activities.empty",
    };
    const REQUIRED: &'static [&'static str] =
        &["id", "controller", "name", "status", "legal_bases"];

    fn title(&self, lang: Lang) -> String {
        self.name.show(lang).to_string()
    }

    fn blank() -> FormData {
        let mut d = FormData::default();
        d.push("status", ActivityStatus::Active.name());
        d
    }

    fn to_form(&self) -> Result<FormData, String> {
        let mut d = FormData::default();
        d.push("id", &self.id);
        d.push("controller", &self.controller);
        d.push_text("name", Some(&self.name));
        d.push("status", self.status.name());
        d.push_lines("purposes", &self.purposes);
        for claim in &self.legal_bases {
            d.push("legal_bases", claim.basis.name());
            d.push_text(
                &format!("legal_bases.{}.reference", claim.basis),
                claim.reference.as_ref(),
            );
        }
        if let Some(consent) = &self.consent {
            d.push_text("consent.withdrawal", Some(&consent.withdrawal));
            d.push_flag("consent.explicit", consent.explicit);
            d.push_flag("consent.parental_for_minors", consent.parental_for_minors);
        }
        for c in &self.data_categories {
            d.push("data_categories", c.name());
        }
        d.push_text("data_description", self.data_description.as_ref());
        for claim in &self.special_categories {
            d.push("special_categories", claim.category.name());
            d.push_some(
                format!("special_categories.{}.condition", claim.category),
                claim.condition.map(|c| c.name()),
            );
            d.push_text(
                &format!("special_categories.{}.reference", claim.category),
                claim.reference.as_ref(),
            );
        }
        for s in &self.subject_categories {
            d.push("subject_categories", s.name());
        }
        if !self.sources.is_empty() {
            d.push_yaml("sources", &self.sources)?;
        }
        if let Some(recipients) = &self.recipients {
            d.push_yaml("recipients", recipients)?;
        }
        for p in &self.processors {
            d.push("processors", p);
        }
        if !self.applications.is_empty() {
            d.push_yaml("applications", &self.applications)?;
        }
        if !self.transfers.is_empty() {
            d.push_yaml("transfers", &self.transfers)?;
        }
        for a in &self.agreements {
            d.push("agreements", a);
        }
        if !self.retention.is_empty() {
            d.push_yaml("retention", &self.retention)?;
        }
        if let AutomatedDecisionMaking::Used {
            logic,
            consequences,
        } = &self.automated_decision_making
        {
            d.push_flag("automated_decision_making.used", true);
            d.push_text("automated_decision_making.logic", Some(logic));
            d.push_text("automated_decision_making.consequences", Some(consequences));
        }
        d.push_lines("security_measures", &self.security_measures);
        if let Some(dpia) = &self.dpia {
            d.push("dpia.reference", &dpia.reference);
            d.push_date("dpia.completed_on", dpia.completed_on);
            d.push_text("dpia.outcome", dpia.outcome.as_ref());
        }
        d.push_text(
            "additional_information",
            self.additional_information.as_ref(),
        );
        Ok(d)
    }

    fn parse(data: &FormData, lang: Lang, id: Option<&str>) -> Result<Self, FieldErrors> {
        let mut p = Parser::new(data, lang);
        let id = parse_id(&mut p, id);
        let controller = p.required("controller");
        let name = p.text("name");
        let status = p.required_term("status").unwrap_or(ActivityStatus::Active);
        let legal_bases = p
            .terms::<LegalBasis>("legal_bases")
            .into_iter()
            .map(|basis| LegalBasisClaim {
                basis,
                reference: p.opt_text(&format!("legal_bases.{basis}.reference")),
            })
            .collect();
        let explicit = p.checked("consent.explicit");
        let parental_for_minors = p.checked("consent.parental_for_minors");
        let consent = match p.opt_text("consent.withdrawal") {
            None if !explicit && !parental_for_minors => None,
            withdrawal => Some(ConsentTerms {
                withdrawal: withdrawal.unwrap_or_default(),
                explicit,
                parental_for_minors,
            }),
        };
        let special_categories = p
            .terms::<SpecialCategory>("special_categories")
            .into_iter()
            .map(|category| SpecialCategoryClaim {
                category,
                condition: p.term(&format!("special_categories.{category}.condition")),
                reference: p.opt_text(&format!("special_categories.{category}.reference")),
            })
            .collect();
        let recipients = if data.get("recipients").trim().is_empty() {
            None
        } else {
            p.yaml::<Vec<Recipient>>("recipients")
        };
        let automated_decision_making = if p.checked("automated_decision_making.used") {
            AutomatedDecisionMaking::Used {
                logic: p.text("automated_decision_making.logic"),
                consequences: p.text("automated_decision_making.consequences"),
            }
        } else {
            AutomatedDecisionMaking::None
        };
        let completed_on = p.date("dpia.completed_on");
        let outcome = p.opt_text("dpia.outcome");
        let dpia = match p.opt_string("dpia.reference") {
            Some(reference) => Some(Dpia {
                reference,
                completed_on,
                outcome,
            }),
            None => {
                if completed_on.is_some() || outcome.is_some() {
                    let m = i18n::t(lang, "form.error.dpia_reference").to_string();
                    p.fail("dpia.reference", m);
                }
                None
            }
        };
        let value = ProcessingActivity {
            id,
            controller,
            name,
            status,
            purposes: p.lines("purposes"),
            legal_bases,
            consent,
            data_categories: p.terms("data_categories"),
            data_description: p.opt_text("data_description"),
            special_categories,
            subject_categories: p.terms("subject_categories"),
            sources: p.yaml_list("sources"),
            recipients,
            processors: data
                .all("processors")
                .into_iter()
                .map(str::to_string)
                .collect(),
            applications: p.yaml_list("applications"),
            transfers: p.yaml_list("transfers"),
            agreements: data
                .all("agreements")
                .into_iter()
                .map(str::to_string)
                .collect(),
            retention: p.yaml_list("retention"),
            automated_decision_making,
            security_measures: p.lines("security_measures"),
            dpia,
            additional_information: p.opt_text("additional_information"),
        };
        p.finish(value)
    }

    fn sections(b: &Builder, register: &Register, editing: bool) -> Vec<Section> {
        let lang = b.lang;
        let controllers = register
            .controllers
            .iter()
            .map(|c| (c.id.clone(), c.name.show(lang).to_string()))
            .collect();
        let statuses = vocabulary_options(
            ActivityStatus::ALL,
            ActivityStatus::name,
            ActivityStatus::label_key,
            lang,
        );
        let conditions: Vec<(String, String)> = Art9Condition::ALL
            .iter()
            .map(|c| {
                (
                    c.name().to_string(),
                    format!("{} ({})", i18n::t(lang, &c.label_key()), c.dpv()),
                )
            })
            .collect();
        let specials = vocabulary_options(
            SpecialCategory::ALL,
            SpecialCategory::name,
            SpecialCategory::label_key,
            lang,
        );
        let processors = register
            .processors
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        let agreements = register
            .agreements
            .iter()
            .map(|a| (a.id.clone(), a.title.show(lang).to_string()))
            .collect();
        let mut completed = b.input("dpia.completed_on", "form.field.dpia_completed_on", "date");
        completed.hint = Some(b.t("form.hint.date"));
        vec![
            section(
                b,
                "form.section.activity",
                vec![
                    id_field(b, editing),
                    b.select("controller", "form.field.controller", controllers, true),
                    b.translated("name", "form.field.activity_name", false),
                    b.select("status", "form.field.status", statuses, false),
                    b.lines("purposes", "form.field.purposes"),
                    b.translated(
                        "additional_information",
                        "form.field.additional_information",
                        true,
                    ),
                ],
            ),
            section(
                b,
                "form.section.lawfulness",
                vec![
                    b.claims(
                        "legal_bases",
                        "form.field.legal_bases",
                        legal_basis_options(lang),
                        None,
                    ),
                    b.translated("consent.withdrawal", "form.field.consent_withdrawal", true),
                    b.checkbox("consent.explicit", "form.field.consent_explicit"),
                    b.checkbox("consent.parental_for_minors", "form.field.consent_parental"),
                ],
            ),
            section(
                b,
                "form.section.data",
                vec![
                    b.checkboxes(
                        "data_categories",
                        "form.field.data_categories",
                        vocabulary_options(
                            DataCategory::ALL,
                            DataCategory::name,
                            DataCategory::label_key,
                            lang,
                        ),
                    ),
                    b.translated("data_description", "form.field.data_description", true),
                    b.claims(
                        "special_categories",
                        "form.field.special_categories",
                        specials,
                        Some(&conditions),
                    ),
                    b.checkboxes(
                        "subject_categories",
                        "form.field.subject_categories",
                        vocabulary_options(
                            SubjectCategory::ALL,
                            SubjectCategory::name,
                            SubjectCategory::label_key,
                            lang,
                        ),
                    ),
                    b.yaml("sources", "form.field.sources", "form.hint.sources"),
                ],
            ),
            section(
                b,
                "form.section.sharing",
                vec![
                    b.yaml(
                        "recipients",
                        "form.field.recipients",
                        "form.hint.recipients",
                    ),
                    b.checkboxes("processors", "form.field.processors", processors),
                    b.yaml(
                        "applications",
                        "form.field.applications",
                        "form.hint.applications",
                    ),
                    b.yaml("transfers", "form.field.transfers", "form.hint.transfers"),
                    b.checkboxes("agreements", "form.field.agreements", agreements),
                ],
            ),
            section(
                b,
                "form.section.retention",
                vec![
                    b.yaml("retention", "form.field.retention", "form.hint.retention"),
                    b.lines("security_measures", "form.field.activity_security_measures"),
                    b.input("dpia.reference", "form.field.dpia_reference", "text"),
                    completed,
                    b.translated("dpia.outcome", "form.field.dpia_outcome", true),
                    b.checkbox("automated_decision_making.used", "form.field.adm_used"),
                    b.translated(
                        "automated_decision_making.logic",
                        "form.field.adm_logic",
                        true,
                    ),
                    b.translated(
                        "automated_decision_making.consequences",
                        "form.field.adm_consequences",
                        true,
                    ),
                ],
            ),
        ]
    }

    fn issue_field(field: &'static str) -> &'static str {
        match field {
            "consent" => "consent.withdrawal",
            other => other,
        }
    }

    fn view_rows(&self, lang: Lang, register: &Register) -> Vec<Row> {
        let mut r = Rows::new(lang);
        r.plain("form.field.id", Some(&self.id));
        let controller = register
            .controller(&self.controller)
            .map_or(self.controller.clone(), |c| c.name.show(lang).to_string());
        r.link(
            "form.field.controller",
            view_link("controllers", &self.controller, lang),
            &controller,
        );
        r.text("form.field.activity_name", Some(&self.name));
        r.plain(
            "form.field.status",
            Some(i18n::t(lang, &self.status.label_key())),
        );
        r.texts("form.field.purposes", &self.purposes);
        let bases: Vec<String> = self
            .legal_bases
            .iter()
            .map(|c| {
                let label = format!(
                    "{} ({})",
                    i18n::t(lang, &c.basis.label_key()),
                    c.basis.article()
                );
                match &c.reference {
                    Some(reference) => format!("{label}: {}", reference.show(lang)),
                    None => label,
                }
            })
            .collect();
        r.terms("form.field.legal_bases", bases);
        match &self.consent {
            Some(c) => {
                r.text("form.field.consent_withdrawal", Some(&c.withdrawal));
                r.yes_no("form.field.consent_explicit", c.explicit);
                r.yes_no("form.field.consent_parental", c.parental_for_minors);
            }
            None => r.text("form.field.consent_withdrawal", None),
        }
        r.terms(
            "form.field.data_categories",
            labels(&self.data_categories, DataCategory::label_key, lang),
        );
        r.text(
            "form.field.data_description",
            self.data_description.as_ref(),
        );
        let specials = self
            .special_categories
            .iter()
            .map(|s| {
                let mut text = i18n::t(lang, &s.category.label_key()).to_string();
                if let Some(c) = s.condition {
                    text.push_str(&format!(
                        ": {} ({})",
                        i18n::t(lang, &c.label_key()),
                        c.dpv()
                    ));
                }
                if let Some(reference) = &s.reference {
                    text.push_str(&format!(" – {}", reference.show(lang)));
                }
                text
            })
            .collect();
        r.terms("form.field.special_categories", specials);
        r.terms(
            "form.field.subject_categories",
            labels(&self.subject_categories, SubjectCategory::label_key, lang),
        );
        r.yaml("form.field.sources", &self.sources, self.sources.is_empty());
        r.yaml(
            "form.field.recipients",
            &self.recipients,
            self.recipients.is_none(),
        );
        let processor_links = self
            .processors
            .iter()
            .map(|p| {
                (
                    view_link("processors", p, lang),
                    register.processor(p).map_or(p.clone(), |x| x.name.clone()),
                )
            })
            .collect();
        r.links("form.field.processors", processor_links);
        r.yaml(
            "form.field.applications",
            &self.applications,
            self.applications.is_empty(),
        );
        r.yaml(
            "form.field.transfers",
            &self.transfers,
            self.transfers.is_empty(),
        );
        let agreement_links = self
            .agreements
            .iter()
            .map(|a| {
                (
                    view_link("agreements", a, lang),
                    register
                        .agreement(a)
                        .map_or(a.clone(), |x| x.title.show(lang).to_string()),
                )
            })
            .collect();
        r.links("form.field.agreements", agreement_links);
        r.yaml(
            "form.field.retention",
            &self.retention,
            self.retention.is_empty(),
        );
        r.texts(
            "form.field.activity_security_measures",
            &self.security_measures,
        );
        match &self.dpia {
            Some(d) => {
                r.plain("form.field.dpia_reference", Some(&d.reference));
                r.date("form.field.dpia_completed_on", d.completed_on);
                r.text("form.field.dpia_outcome", d.outcome.as_ref());
            }
            None => r.plain("form.field.dpia_reference", None),
        }
        match &self.automated_decision_making {
            AutomatedDecisionMaking::None => r.yes_no("form.field.adm_used", false),
            AutomatedDecisionMaking::Used {
                logic,
                consequences,
            } => {
                r.yes_no("form.field.adm_used", true);
                r.text("form.field.adm_logic", Some(logic));
                r.text("form.field.adm_consequences", Some(consequences));
            }
        }
        r.text(
            "form.field.additional_information",
            self.additional_information.as_ref(),
        );
        r.rows()
    }

    fn list_head(lang: Lang) -> Vec<String> {
        [
            "form.field.activity_name",
            "form.field.id",
            "form.field.controller",
            "form.field.status",
            "admin.activities.completeness",
        ]
        .iter()
        .map(|k| i18n::t(lang, k).to_string())
        .collect()
    }

    fn list_row(&self, lang: Lang, register: &Register) -> Vec<Cell> {
        let (name_lang, name) = self.name.get(lang).unwrap_or((lang, ""));
        let controller = register
            .controller(&self.controller)
            .map_or(self.controller.clone(), |c| c.name.show(lang).to_string());
        let gaps = gap_count(self, register);
        let completeness = if gaps == 0 {
            i18n::t(lang, "admin.activities.complete").to_string()
        } else {
            i18n::tf(
                lang,
                "admin.activities.gap_count",
                &[("count", &gaps.to_string())],
            )
        };
        vec![
            Cell {
                text: name.to_string(),
                href: Some(view_link(Self::SEGMENT, &self.id, lang)),
                lang: (name_lang != lang).then_some(name_lang.code()),
            },
            Cell::plain(&self.id),
            Cell::plain(controller),
            Cell::plain(i18n::t(lang, &self.status.label_key())),
            Cell::plain(completeness),
        ]
    }

    fn controller_of(&self) -> Option<&str> {
        Some(&self.controller)
    }

    async fn extras(state: &AppState, value: &Self, lang: Lang) -> Result<Extras, StoreError> {
        let controller = state
            .store
            .controller(&value.controller)
            .await?
            .map(|c| c.value);
        let gaps = completeness::check(value, controller.as_ref())
            .iter()
            .map(|g| (g.article(), i18n::t(lang, g.label_key()).to_string()))
            .collect();
        let versions = state.store.activity_versions(&value.id).await?;
        let history = versions
            .iter()
            .map(|v| HistoryRow {
                version: v.version,
                valid_from: format_time(v.valid_from),
                recorded_by: v.recorded_by.clone(),
                compare: (v.version > 1).then(|| {
                    format!(
                        "/admin/activities/{}/compare?from={}&to={}&lang={}",
                        value.id,
                        v.version - 1,
                        v.version,
                        lang.code()
                    )
                }),
            })
            .collect();
        Ok(Extras {
            gaps: Some(gaps),
            history: Some(history),
        })
    }
}
