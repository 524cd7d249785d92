//! The forms and pages of controllers, processors and agreements.

use kluis_domain::i18n;
use kluis_domain::identifiers::EnterpriseNumber;
use kluis_domain::legal::SupervisoryAuthority;
use kluis_domain::register::{
    Address, Agreement, AgreementKind, Controller, Country, Dpo, Processor, Register, RightsContact,
};
use kluis_domain::text::Lang;
use kluis_domain::validate::Section as RegisterSection;

use super::entities::{AdminEntity, Cell, Words};
use super::form::{Builder, FieldErrors, FormData, Parser, Section, vocabulary_options};
use super::view::{Row, Rows};

/// The id field: typed when creating, shown when editing (ids never change).
pub fn id_field(b: &Builder, editing: bool) -> super::form::Field {
    if editing {
        b.fixed("id", "form.field.id")
    } else {
        let mut f = b.input("id", "form.field.id", "text");
        f.hint = Some(b.t("form.hint.id"));
        f
    }
}

/// The id from the URL when editing, else the one typed.
pub fn parse_id(p: &mut Parser, id: Option<&str>) -> String {
    match id {
        Some(id) => id.to_string(),
        None => p.required("id"),
    }
}

pub fn section(b: &Builder, heading_key: &str, fields: Vec<super::form::Field>) -> Section {
    Section {
        heading: b.t(heading_key),
        fields,
    }
}

pub fn view_link(segment: &str, id: &str, lang: Lang) -> String {
    format!("/admin/{segment}/{id}?lang={}", lang.code())
}

fn authority_options(lang: Lang) -> Vec<(String, String)> {
    vocabulary_options(
        SupervisoryAuthority::ALL,
        SupervisoryAuthority::name,
        SupervisoryAuthority::label_key,
        lang,
    )
}

impl AdminEntity for Controller {
    const SEGMENT: &'static str = "controllers";
    const SECTION: RegisterSection = RegisterSection::Controllers;
    const WORDS: Words = Words {
        list_title: "admin.controllers.list_title",
        new_title: "admin.controllers.new_title",
        edit_title: "admin.controllers.edit_title",
        view_title: "admin.controllers.view_title",
        new_button: "admin.controllers.new_button",
        empty: "admin.controllers.empty",
    };
    const REQUIRED: &'static [&'static str] = &[
        "id",
        "name",
        "address.street",
        "address.postcode",
        "address.city",
        "address.country",
        "dpo.email",
        "supervisory_authorities",
    ];

    fn title(&self, lang: Lang) -> String {
        self.name.show(lang).to_string()
    }

    fn to_form(&self) -> Result<FormData, String> {
        let mut d = FormData::default();
        d.push("id", &self.id);
        d.push_text("name", Some(&self.name));
        d.push_text("department", self.department.as_ref());
        d.push("address.street", &self.address.street);
        d.push("address.postcode", &self.address.postcode);
        d.push("address.city", &self.address.city);
        d.push("address.country", self.address.country.name());
        d.push_some(
            "enterprise_number",
            self.enterprise_number.map(|n| n.to_string()).as_deref(),
        );
        d.push_some("kvk_number", self.kvk_number.as_deref());
        d.push_some("email", self.email.as_deref());
        d.push_some("phone", self.phone.as_deref());
        d.push_some("website", self.website.as_deref());
        d.push_text("representative", self.representative.as_ref());
        d.push_some("dpo.name", self.dpo.name.as_deref());
        d.push("dpo.email", &self.dpo.email);
        d.push_some("dpo.phone", self.dpo.phone.as_deref());
        d.push_some("dpo.address", self.dpo.address.as_deref());
        if let Some((first, others)) = self.supervisory_authorities.split_first() {
            d.push("supervisory_authorities", first.name());
            for a in others {
                d.push("supervisory_authorities.others", a.name());
            }
        }
        if self.rights_contact != RightsContact::default() {
            d.push_yaml("rights_contact", &self.rights_contact)?;
        }
        for j in &self.joint_controllers {
            d.push("joint_controllers", j);
        }
        d.push_text("introduction", self.introduction.as_ref());
        if !self.cookies.is_empty() {
            d.push_yaml("cookies", &self.cookies)?;
        }
        d.push_lines("security_measures", &self.security_measures);
        d.push_text("change_notice", self.change_notice.as_ref());
        Ok(d)
    }

    fn parse(data: &FormData, lang: Lang, id: Option<&str>) -> Result<Self, FieldErrors> {
        let mut p = Parser::new(data, lang);
        let id = parse_id(&mut p, id);
        let name = p.text("name");
        let address = Address {
            street: p.required("address.street"),
            postcode: p.required("address.postcode"),
            city: p.required("address.city"),
            country: p.required_term("address.country").unwrap_or(Country::Be),
        };
        let enterprise_number = p.opt_string("enterprise_number").and_then(|raw| {
            match raw.parse::<EnterpriseNumber>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let m = i18n::tf(lang, "form.error.enterprise_number", &[("value", &raw)]);
                    p.fail("enterprise_number", m);
                    None
                }
            }
        });
        let dpo = Dpo {
            name: p.opt_string("dpo.name"),
            email: p.required("dpo.email"),
            phone: p.opt_string("dpo.phone"),
            address: p.opt_string("dpo.address"),
        };
        let mut authorities: Vec<SupervisoryAuthority> = p
            .required_term("supervisory_authorities")
            .into_iter()
            .collect();
        for other in p.terms::<SupervisoryAuthority>("supervisory_authorities.others") {
            if !authorities.contains(&other) {
                authorities.push(other);
            }
        }
        let value = Controller {
            id,
            name,
            department: p.opt_text("department"),
            address,
            enterprise_number,
            kvk_number: p.opt_string("kvk_number"),
            email: p.opt_string("email"),
            phone: p.opt_string("phone"),
            website: p.opt_string("website"),
            representative: p.opt_text("representative"),
            dpo,
            supervisory_authorities: authorities,
            rights_contact: p.yaml("rights_contact").unwrap_or_default(),
            joint_controllers: data
                .all("joint_controllers")
                .into_iter()
                .map(str::to_string)
                .collect(),
            introduction: p.opt_text("introduction"),
            cookies: p.yaml_list("cookies"),
            security_measures: p.lines("security_measures"),
            change_notice: p.opt_text("change_notice"),
        };
        p.finish(value)
    }

    fn sections(b: &Builder, register: &Register, editing: bool) -> Vec<Section> {
        let countries = vocabulary_options(Country::ALL, Country::name, Country::label_key, b.lang);
        let this = b.data.get("id");
        let others: Vec<(String, String)> = register
            .controllers
            .iter()
            .filter(|c| c.id != this)
            .map(|c| (c.id.clone(), c.name.show(b.lang).to_string()))
            .collect();
        vec![
            section(
                b,
                "form.section.identity",
                vec![
                    id_field(b, editing),
                    b.translated("name", "form.field.name", false),
                    b.translated("department", "form.field.department", false),
                    b.input("enterprise_number", "form.field.enterprise_number", "text"),
                    b.input("kvk_number", "form.field.kvk_number", "text"),
                    b.translated("representative", "form.field.representative", false),
                ],
            ),
            section(
                b,
                "form.section.contact",
                vec![
                    b.input("address.street", "form.field.street", "text"),
                    b.input("address.postcode", "form.field.postcode", "text"),
                    b.input("address.city", "form.field.city", "text"),
                    b.select("address.country", "form.field.country", countries, true),
                    b.input("email", "form.field.email", "email"),
                    b.input("phone", "form.field.phone", "tel"),
                    b.input("website", "form.field.website", "url"),
                ],
            ),
            section(
                b,
                "form.section.dpo",
                vec![
                    b.input("dpo.name", "form.field.dpo_name", "text"),
                    b.input("dpo.email", "form.field.dpo_email", "email"),
                    b.input("dpo.phone", "form.field.dpo_phone", "tel"),
                    b.input("dpo.address", "form.field.dpo_address", "text"),
                ],
            ),
            section(
                b,
                "form.section.rights",
                vec![
                    b.select(
                        "supervisory_authorities",
                        "form.field.authority_primary",
                        authority_options(b.lang),
                        true,
                    ),
                    b.checkboxes(
                        "supervisory_authorities.others",
                        "form.field.authority_others",
                        authority_options(b.lang),
                    ),
                    b.yaml(
                        "rights_contact",
                        "form.field.rights_contact",
                        "form.hint.rights_contact",
                    ),
                    b.checkboxes("joint_controllers", "form.field.joint_controllers", others),
                ],
            ),
            section(
                b,
                "form.section.statement",
                vec![
                    b.translated("introduction", "form.field.introduction", true),
                    b.lines("security_measures", "form.field.security_measures"),
                    b.yaml("cookies", "form.field.cookies", "form.hint.cookies"),
                    b.translated("change_notice", "form.field.change_notice", true),
                ],
            ),
        ]
    }

    fn issue_field(field: &'static str) -> &'static str {
        match field {
            "dpo" => "dpo.email",
            other => other,
        }
    }

    fn view_rows(&self, lang: Lang, register: &Register) -> Vec<Row> {
        let mut r = Rows::new(lang);
        r.plain("form.field.id", Some(&self.id));
        r.text("form.field.name", Some(&self.name));
        r.text("form.field.department", self.department.as_ref());
        r.plain(
            "form.field.enterprise_number",
            self.enterprise_number.map(|n| n.to_string()).as_deref(),
        );
        r.plain("form.field.kvk_number", self.kvk_number.as_deref());
        r.text("form.field.representative", self.representative.as_ref());
        let a = &self.address;
        let country = i18n::t(lang, &a.country.label_key()).to_string();
        r.plain(
            "form.field.address",
            Some(&format!(
                "{}, {} {}, {country}",
                a.street, a.postcode, a.city
            )),
        );
        r.plain("form.field.email", self.email.as_deref());
        r.plain("form.field.phone", self.phone.as_deref());
        r.plain("form.field.website", self.website.as_deref());
        r.plain("form.field.dpo_name", self.dpo.name.as_deref());
        r.plain("form.field.dpo_email", Some(&self.dpo.email));
        r.plain("form.field.dpo_phone", self.dpo.phone.as_deref());
        r.plain("form.field.dpo_address", self.dpo.address.as_deref());
        r.terms(
            "form.field.supervisory_authorities",
            self.supervisory_authorities
                .iter()
                .map(|a| i18n::t(lang, &a.label_key()).to_string())
                .collect(),
        );
        r.yaml(
            "form.field.rights_contact",
            &self.rights_contact,
            self.rights_contact == RightsContact::default(),
        );
        r.links(
            "form.field.joint_controllers",
            self.joint_controllers
                .iter()
                .map(|j| {
                    let name = register
                        .controller(j)
                        .map_or(j.clone(), |c| c.name.show(lang).to_string());
                    (view_link("controllers", j, lang), name)
                })
                .collect(),
        );
        r.text("form.field.introduction", self.introduction.as_ref());
        r.texts("form.field.security_measures", &self.security_measures);
        r.yaml("form.field.cookies", &self.cookies, self.cookies.is_empty());
        r.text("form.field.change_notice", self.change_notice.as_ref());
        r.rows()
    }

    fn list_head(lang: Lang) -> Vec<String> {
        [
            "form.field.name",
            "form.field.id",
            "form.field.city",
            "form.field.dpo_email",
        ]
        .iter()
        .map(|k| i18n::t(lang, k).to_string())
        .collect()
    }

    fn list_row(&self, lang: Lang, _register: &Register) -> Vec<Cell> {
        let (name_lang, name) = self.name.get(lang).unwrap_or((lang, ""));
        vec![
            Cell {
                text: name.to_string(),
                href: Some(view_link(Self::SEGMENT, &self.id, lang)),
                lang: (name_lang != lang).then_some(name_lang.code()),
            },
            Cell::plain(&self.id),
            Cell::plain(&self.address.city),
            Cell::plain(&self.dpo.email),
        ]
    }
}

impl AdminEntity for Processor {
    const SEGMENT: &'static str = "processors";
    const SECTION: RegisterSection = RegisterSection::Processors;
    const WORDS: Words = Words {
        list_title: "admin.processors.list_title",
        new_title: "admin.processors.new_title",
        edit_title: "admin.processors.edit_title",
        view_title: "admin.processors.view_title",
        new_button: "admin.processors.new_button",
        empty: "admin.processors.empty",
    };
    const REQUIRED: &'static [&'static str] = &["id", "name", "country"];

    fn title(&self, _lang: Lang) -> String {
        self.name.clone()
    }

    fn to_form(&self) -> Result<FormData, String> {
        let mut d = FormData::default();
        d.push("id", &self.id);
        d.push("name", &self.name);
        d.push("country", &self.country);
        d.push_text("location", self.location.as_ref());
        d.push_some("contact", self.contact.as_deref());
        if !self.sub_processors.is_empty() {
            d.push_yaml("sub_processors", &self.sub_processors)?;
        }
        Ok(d)
    }

    fn parse(data: &FormData, lang: Lang, id: Option<&str>) -> Result<Self, FieldErrors> {
        let mut p = Parser::new(data, lang);
        let value = Processor {
            id: parse_id(&mut p, id),
            name: p.required("name"),
            country: p.required("country").to_ascii_uppercase(),
            location: p.opt_text("location"),
            contact: p.opt_string("contact"),
            sub_processors: p.yaml_list("sub_processors"),
        };
        p.finish(value)
    }

    fn sections(b: &Builder, _register: &Register, editing: bool) -> Vec<Section> {
        let mut country = b.input("country", "form.field.processor_country", "text");
        country.hint = Some(b.t("form.hint.country_code"));
        vec![section(
            b,
            "form.section.processor",
            vec![
                id_field(b, editing),
                b.input("name", "form.field.processor_name", "text"),
                country,
                b.translated("location", "form.field.location", false),
                b.input("contact", "form.field.contact", "text"),
                b.yaml(
                    "sub_processors",
                    "form.field.sub_processors",
                    "form.hint.sub_processors",
                ),
            ],
        )]
    }

    fn view_rows(&self, lang: Lang, _register: &Register) -> Vec<Row> {
        let mut r = Rows::new(lang);
        r.plain("form.field.id", Some(&self.id));
        r.plain("form.field.processor_name", Some(&self.name));
        r.plain("form.field.processor_country", Some(&self.country));
        r.text("form.field.location", self.location.as_ref());
        r.plain("form.field.contact", self.contact.as_deref());
        r.yaml(
            "form.field.sub_processors",
            &self.sub_processors,
            self.sub_processors.is_empty(),
        );
        r.rows()
    }

    fn list_head(lang: Lang) -> Vec<String> {
        [
            "form.field.processor_name",
            "form.field.id",
            "form.field.processor_country",
        ]
        .iter()
        .map(|k| i18n::t(lang, k).to_string())
        .collect()
    }

    fn list_row(&self, lang: Lang, _register: &Register) -> Vec<Cell> {
        vec![
            Cell {
                text: self.name.clone(),
                href: Some(view_link(Self::SEGMENT, &self.id, lang)),
                lang: None,
            },
            Cell::plain(&self.id),
            Cell::plain(&self.country),
        ]
    }
}

fn kind_label(kind: &AgreementKind, lang: Lang) -> String {
    i18n::t(lang, &format!("agreement_kind.{}", kind.name())).to_string()
}

impl AdminEntity for Agreement {
    const SEGMENT: &'static str = "agreements";
    const SECTION: RegisterSection = RegisterSection::Agreements;
    const WORDS: Words = Words {
        list_title: "admin.agreements.list_title",
        new_title: "admin.agreements.new_title",
        edit_title: "admin.agreements.edit_title",
        view_title: "admin.agreements.view_title",
        new_button: "admin.agreements.new_button",
        empty: "admin.agreements.empty",
    };
    const REQUIRED: &'static [&'static str] = &["id", "title", "kind", "controllers"];

    fn title(&self, lang: Lang) -> String {
        self.title.show(lang).to_string()
    }

    fn blank() -> FormData {
        let mut d = FormData::default();
        d.push_flag("public", true);
        d
    }

    fn to_form(&self) -> Result<FormData, String> {
        let mut d = FormData::default();
        d.push("id", &self.id);
        d.push_text("title", Some(&self.title));
        d.push_yaml("kind", &self.kind)?;
        for c in &self.controllers {
            d.push("controllers", c);
        }
        d.push_some("reference", self.reference.as_deref());
        d.push_date("signed_on", self.signed_on);
        d.push_date("expires_on", self.expires_on);
        d.push_some("document_url", self.document_url.as_deref());
        d.push_flag("public", self.public);
        Ok(d)
    }

    fn parse(data: &FormData, lang: Lang, id: Option<&str>) -> Result<Self, FieldErrors> {
        let mut p = Parser::new(data, lang);
        let id = parse_id(&mut p, id);
        let title = p.text("title");
        let kind = p.yaml::<AgreementKind>("kind");
        if kind.is_none() && data.get("kind").trim().is_empty() {
            let m = i18n::t(lang, "form.error.required").to_string();
            p.fail("kind", m);
        }
        let value = Agreement {
            id,
            title,
            kind: kind.unwrap_or(AgreementKind::ProcessorAgreement {
                processor: String::new(),
            }),
            controllers: data
                .all("controllers")
                .into_iter()
                .map(str::to_string)
                .collect(),
            reference: p.opt_string("reference"),
            signed_on: p.date("signed_on"),
            expires_on: p.date("expires_on"),
            document_url: p.opt_string("document_url"),
            public: p.checked("public"),
        };
        p.finish(value)
    }

    fn sections(b: &Builder, register: &Register, editing: bool) -> Vec<Section> {
        let controllers = register
            .controllers
            .iter()
            .map(|c| (c.id.clone(), c.name.show(b.lang).to_string()))
            .collect();
        let mut signed = b.input("signed_on", "form.field.signed_on", "date");
        signed.hint = Some(b.t("form.hint.date"));
        let mut expires = b.input("expires_on", "form.field.expires_on", "date");
        expires.hint = Some(b.t("form.hint.date"));
        vec![section(
            b,
            "form.section.agreement",
            vec![
                id_field(b, editing),
                b.translated("title", "form.field.title", false),
                b.yaml("kind", "form.field.kind", "form.hint.kind"),
                b.checkboxes(
                    "controllers",
                    "form.field.agreement_controllers",
                    controllers,
                ),
                b.input("reference", "form.field.reference", "text"),
                signed,
                expires,
                b.input("document_url", "form.field.document_url", "url"),
                b.checkbox("public", "form.field.public"),
            ],
        )]
    }

    fn view_rows(&self, lang: Lang, register: &Register) -> Vec<Row> {
        let mut r = Rows::new(lang);
        r.plain("form.field.id", Some(&self.id));
        r.text("form.field.title", Some(&self.title));
        r.plain("form.field.kind_name", Some(&kind_label(&self.kind, lang)));
        r.yaml("form.field.kind", &self.kind, false);
        r.links(
            "form.field.agreement_controllers",
            self.controllers
                .iter()
                .map(|c| {
                    let name = register
                        .controller(c)
                        .map_or(c.clone(), |x| x.name.show(lang).to_string());
                    (view_link("controllers", c, lang), name)
                })
                .collect(),
        );
        r.plain("form.field.reference", self.reference.as_deref());
        r.date("form.field.signed_on", self.signed_on);
        r.date("form.field.expires_on", self.expires_on);
        r.plain("form.field.document_url", self.document_url.as_deref());
        r.yes_no("form.field.public", self.public);
        r.rows()
    }

    fn list_head(lang: Lang) -> Vec<String> {
        [
            "form.field.title",
            "form.field.id",
            "form.field.kind_name",
            "form.field.expires_on",
        ]
        .iter()
        .map(|k| i18n::t(lang, k).to_string())
        .collect()
    }

    fn list_row(&self, lang: Lang, _register: &Register) -> Vec<Cell> {
        let (title_lang, title) = self.title.get(lang).unwrap_or((lang, ""));
        vec![
            Cell {
                text: title.to_string(),
                href: Some(view_link(Self::SEGMENT, &self.id, lang)),
                lang: (title_lang != lang).then_some(title_lang.code()),
            },
            Cell::plain(&self.id),
            Cell::plain(kind_label(&self.kind, lang)),
            Cell::plain(
                self.expires_on
                    .map(super::form::format_date)
                    .unwrap_or_default(),
            ),
        ]
    }
}
