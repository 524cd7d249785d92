//! Builds the statement's document tree from the register.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::words::{self, compose, decapitalize, join, label, label_list, link, push, text};
use super::{Block, Definition, Line, Section, Statement, StatementError, StatementMeta, changes};
use crate::category::{AuthenticSource, DataCategory, SpecialCategory, SubjectCategory};
use crate::i18n;
use crate::legal::{Art9Condition, LegalBasis, SupervisoryAuthority, TransferSafeguard};
use crate::register::{
    ActivityStatus, Address, Agreement, AgreementKind, AutomatedDecisionMaking, Controller,
    CookieType, Country, ProcessingActivity, Processor, Register, Source,
};
use crate::text::{Lang, Text};

pub(super) fn generate(
    register: &Register,
    controller_id: &str,
    lang: Lang,
    meta: &StatementMeta,
) -> Result<Statement, StatementError> {
    let controller = register
        .controller(controller_id)
        .ok_or_else(|| unknown(register, controller_id))?;
    let ctx = Ctx::new(register, controller, lang);
    let activities: Vec<&ProcessingActivity> = register
        .activities_of(controller_id)
        .filter(|a| a.status != ActivityStatus::Draft)
        .collect();

    let mut sections = vec![ctx.who_we_are(), ctx.processing(&activities)];
    sections.extend(ctx.agreements_overview());
    sections.push(ctx.security(&activities));
    sections.push(ctx.rights());
    sections.extend(ctx.cookies());
    sections.push(ctx.complaints());
    sections.push(ctx.changes(meta));

    let name = ctx
        .text(&controller.name)
        .unwrap_or_else(|| ctx.plain(&controller.id));
    Ok(Statement {
        lang,
        controller: controller.id.clone(),
        version: meta.version,
        effective_date: meta.effective_date,
        title: compose(lang, "statement.title", &[("controller", &name)]),
        contents_label: i18n::t(lang, "statement.contents").to_string(),
        sections,
    })
}

fn unknown(register: &Register, given: &str) -> StatementError {
    let known: Vec<&str> = register.controllers.iter().map(|c| c.id.as_str()).collect();
    let known = if known.is_empty() {
        "none yet: import a register with at least one controller first".to_string()
    } else {
        known.join(", ")
    };
    StatementError::UnknownController {
        given: given.to_string(),
        known,
    }
}

/// What every part of the generator needs, with the processors and agreements indexed
/// once so that a large register stays linear.
struct Ctx<'a> {
    lang: Lang,
    register: &'a Register,
    controller: &'a Controller,
    processors: HashMap<&'a str, &'a Processor>,
    agreements: HashMap<&'a str, &'a Agreement>,
}

impl<'a> Ctx<'a> {
    fn new(register: &'a Register, controller: &'a Controller, lang: Lang) -> Self {
        Ctx {
            lang,
            register,
            controller,
            processors: register
                .processors
                .iter()
                .map(|p| (p.id.as_str(), p))
                .collect(),
            agreements: register
                .agreements
                .iter()
                .map(|a| (a.id.as_str(), a))
                .collect(),
        }
    }

    fn t(&self, key: &'static str) -> &'static str {
        i18n::t(self.lang, key)
    }

    /// A translated line.
    fn say(&self, key: &str) -> Line {
        words::say(self.lang, key)
    }

    fn fill(&self, key: &str, args: &[(&str, &Line)]) -> Line {
        compose(self.lang, key, args)
    }

    /// Text without a language of its own (names, addresses, e-mail addresses).
    fn plain(&self, s: &str) -> Line {
        words::words(s, self.lang)
    }

    fn text(&self, t: &Text) -> Option<Line> {
        text(t, self.lang)
    }

    /// The label of a vocabulary term.
    fn label(&self, kind: &str, name: &str) -> Cow<'static, str> {
        label(self.lang, kind, name)
    }

    /// The label of a vocabulary term as a line.
    fn term(&self, kind: &str, name: &str) -> Line {
        words::words_cow(self.label(kind, name), self.lang)
    }

    /// Register text split into paragraphs at blank lines.
    fn paragraphs(&self, t: &Text) -> Vec<Block> {
        let Some((lang, s)) = t.get(self.lang) else {
            return Vec::new();
        };
        s.split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| Block::Paragraph(words::words(p, lang)))
            .collect()
    }

    fn def(&self, key: &'static str, details: Vec<Block>) -> Definition {
        Definition {
            term: self.say(key),
            details,
        }
    }

    fn mailto(&self, email: &str) -> Line {
        link(&format!("mailto:{email}"), email, self.lang)
    }

    fn address(&self, a: &Address) -> Line {
        let country = self.label(Country::KIND, a.country.name());
        self.plain(&format!(
            "{}, {} {}, {country}",
            a.street, a.postcode, a.city
        ))
    }

    fn section(&self, id: String, heading: Line, blocks: Vec<Block>) -> Section {
        Section {
            id,
            heading,
            blocks,
            subsections: Vec::new(),
        }
    }

    fn controller_name(&self) -> Line {
        self.text(&self.controller.name)
            .unwrap_or_else(|| self.plain(&self.controller.id))
    }

    // --- Who we are -------------------------------------------------------------------

    fn who_we_are(&self) -> Section {
        let c = self.controller;
        let mut blocks = c
            .introduction
            .as_ref()
            .map(|t| self.paragraphs(t))
            .unwrap_or_default();
        let mut who = self.controller_name();
        if let Some(dept) = c.department.as_ref().and_then(|d| self.text(d)) {
            push(&mut who, ", ", self.lang);
            words::extend(&mut who, &dept);
        }
        blocks.push(Block::Paragraph(self.fill(
            "statement.who.controller",
            &[("controller", &who), ("address", &self.address(&c.address))],
        )));

        let mut facts = vec![self.def(
            "statement.who.name",
            vec![Block::Paragraph(self.controller_name())],
        )];
        if let Some(dept) = c.department.as_ref().and_then(|d| self.text(d)) {
            facts.push(self.def("statement.who.department", vec![Block::Paragraph(dept)]));
        }
        facts.push(self.def(
            "statement.who.address",
            vec![Block::Paragraph(self.address(&c.address))],
        ));
        if let Some(n) = &c.enterprise_number {
            facts.push(self.def(
                "statement.who.enterprise_number",
                vec![Block::Paragraph(self.plain(&n.to_string()))],
            ));
        }
        if let Some(n) = &c.kvk_number {
            facts.push(self.def(
                "statement.who.kvk_number",
                vec![Block::Paragraph(self.plain(n))],
            ));
        }
        if let Some(e) = &c.email {
            facts.push(self.def(
                "statement.who.email",
                vec![Block::Paragraph(self.mailto(e))],
            ));
        }
        if let Some(p) = &c.phone {
            facts.push(self.def("statement.who.phone", vec![Block::Paragraph(self.plain(p))]));
        }
        if let Some(w) = &c.website {
            facts.push(self.def(
                "statement.who.website",
                vec![Block::Paragraph(link(w, w, self.lang))],
            ));
        }
        if let Some(r) = c.representative.as_ref().and_then(|r| self.text(r)) {
            facts.push(self.def("statement.who.representative", vec![Block::Paragraph(r)]));
        }
        blocks.push(Block::Definitions(facts));

        let mut section = self.section(
            "who-we-are".into(),
            self.say("statement.who.heading"),
            blocks,
        );
        section.subsections.push(self.dpo());
        section.subsections.extend(self.joint_controllers());
        section
    }

    fn dpo(&self) -> Section {
        let dpo = &self.controller.dpo;
        let mut facts = Vec::new();
        if let Some(name) = &dpo.name {
            facts.push(self.def(
                "statement.who.name",
                vec![Block::Paragraph(self.plain(name))],
            ));
        }
        facts.push(self.def(
            "statement.who.email",
            vec![Block::Paragraph(self.mailto(&dpo.email))],
        ));
        if let Some(p) = &dpo.phone {
            facts.push(self.def("statement.who.phone", vec![Block::Paragraph(self.plain(p))]));
        }
        if let Some(a) = &dpo.address {
            facts.push(self.def(
                "statement.who.address",
                vec![Block::Paragraph(self.plain(a))],
            ));
        }
        let blocks = vec![
            Block::Paragraph(self.say("statement.dpo.intro")),
            Block::Definitions(facts),
        ];
        self.section("dpo".into(), self.say("statement.dpo.heading"), blocks)
    }

    /// Joint controllers (art. 26) and the essence of their arrangement.
    fn joint_controllers(&self) -> Option<Section> {
        let c = self.controller;
        let arrangements: Vec<(&Agreement, &Text)> = self
            .party_agreements()
            .filter_map(|a| match &a.kind {
                AgreementKind::JointControllerArrangement { essence } => Some((a, essence)),
                _ => None,
            })
            .collect();
        if c.joint_controllers.is_empty() && arrangements.is_empty() {
            return None;
        }
        let mut blocks = Vec::new();
        if !c.joint_controllers.is_empty() {
            blocks.push(Block::Paragraph(self.say("statement.joint.intro")));
            let items = c
                .joint_controllers
                .iter()
                .map(|id| match self.register.controller(id) {
                    Some(other) => {
                        let mut line = self.text(&other.name).unwrap_or_else(|| self.plain(id));
                        push(&mut line, ", ", self.lang);
                        words::extend(&mut line, &self.address(&other.address));
                        line
                    }
                    None => self.plain(id),
                })
                .collect();
            blocks.push(Block::List(items));
        }
        for (agreement, essence) in arrangements {
            let title = self
                .text(&agreement.title)
                .unwrap_or_else(|| self.plain(&agreement.id));
            blocks.push(Block::Paragraph(
                self.fill("statement.joint.essence", &[("title", &title)]),
            ));
            blocks.extend(self.paragraphs(essence));
        }
        Some(self.section(
            "joint-controllers".into(),
            self.say("statement.joint.heading"),
            blocks,
        ))
    }

    /// Public agreements this controller is party to, in register order.
    fn party_agreements(&self) -> impl Iterator<Item = &'a Agreement> + '_ {
        let id = self.controller.id.as_str();
        self.register
            .agreements
            .iter()
            .filter(move |a| a.public && a.controllers.iter().any(|c| c == id))
    }

    // --- What we process and why --------------------------------------------------------

    fn processing(&self, activities: &[&ProcessingActivity]) -> Section {
        let mut blocks = vec![Block::Paragraph(self.say("statement.processing.intro"))];
        if activities.is_empty() {
            blocks.push(Block::Paragraph(self.say("statement.processing.none")));
        }
        let mut section = self.section(
            "processing".into(),
            self.say("statement.processing.heading"),
            blocks,
        );

        // Group by the first legal basis, in the order of art. 6(1), like seed 001.
        let mut groups: Vec<Vec<&ProcessingActivity>> = vec![Vec::new(); LegalBasis::ALL.len() + 1];
        for a in activities {
            let slot = a
                .legal_bases
                .first()
                .and_then(|b| LegalBasis::ALL.iter().position(|x| *x == b.basis))
                .unwrap_or(LegalBasis::ALL.len());
            groups[slot].push(a);
        }
        let mut ids = HashSet::new();
        for (slot, members) in groups.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let (id, heading) = match LegalBasis::ALL.get(slot) {
                Some(b) => (
                    format!("basis-{}", b.name()),
                    format!("statement.basis_group.{}", b.name()),
                ),
                None => (
                    "basis-other".to_string(),
                    "statement.basis_group.other".to_string(),
                ),
            };
            let mut group = self.section(id, self.say(&heading), Vec::new());
            group.subsections = members.iter().map(|a| self.activity(a, &mut ids)).collect();
            section.subsections.push(group);
        }
        section
    }

    fn activity(&self, a: &ProcessingActivity, ids: &mut HashSet<String>) -> Section {
        let lang = self.lang;
        let mut facts = Vec::with_capacity(20);
        if a.status == ActivityStatus::Retired {
            let status = self.fill(
                "statement.activity.retired",
                &[("status", &self.term(ActivityStatus::KIND, a.status.name()))],
            );
            facts.push(self.def("statement.activity.status", vec![Block::Paragraph(status)]));
        }
        let purposes: Vec<Line> = a.purposes.iter().filter_map(|p| self.text(p)).collect();
        facts.push(self.def("statement.activity.purposes", one_or_list(purposes)));
        facts.push(self.def(
            "statement.activity.legal_bases",
            one_or_list(self.legal_bases(a)),
        ));

        let mut data = vec![Block::Paragraph(label_list(
            lang,
            DataCategory::KIND,
            a.data_categories.iter().map(|c| c.name()),
        ))];
        data.extend(
            a.data_description
                .as_ref()
                .map(|d| self.paragraphs(d))
                .unwrap_or_default(),
        );
        facts.push(self.def("statement.activity.data", data));
        if !a.special_categories.is_empty() {
            facts.push(self.def(
                "statement.activity.special_categories",
                vec![Block::List(self.special(a))],
            ));
        }
        facts.push(self.def(
            "statement.activity.subjects",
            vec![Block::Paragraph(label_list(
                lang,
                SubjectCategory::KIND,
                a.subject_categories.iter().map(|c| c.name()),
            ))],
        ));
        let sources = a.sources.iter().map(|s| self.source(s)).collect();
        facts.push(self.def("statement.activity.sources", one_or_list(sources)));
        let retention = a
            .retention
            .iter()
            .map(|s| words::schedule(lang, s))
            .collect();
        facts.push(self.def("statement.activity.retention", one_or_list(retention)));
        if let Some(recipients) = &a.recipients {
            let details = if recipients.is_empty() {
                vec![Block::Paragraph(self.say("statement.activity.not_shared"))]
            } else {
                one_or_list(recipients.iter().map(|r| self.recipient(r)).collect())
            };
            facts.push(self.def("statement.activity.recipients", details));
        }
        let processors = self.processors_and_applications(a);
        if !processors.is_empty() {
            facts.push(self.def("statement.activity.processors", one_or_list(processors)));
        }
        facts.push(self.def("statement.activity.transfers", self.transfers(a)));
        facts.push(self.def(
            "statement.activity.automated",
            vec![Block::Paragraph(self.automated(a))],
        ));
        if let Some(consent) = &a.consent {
            let mut blocks: Vec<Block> = self.paragraphs(&consent.withdrawal);
            if consent.explicit {
                blocks.push(Block::Paragraph(
                    self.say("statement.activity.consent_explicit"),
                ));
            }
            if consent.parental_for_minors {
                blocks.push(Block::Paragraph(
                    self.say("statement.activity.consent_parental"),
                ));
            }
            facts.push(self.def("statement.activity.consent", blocks));
        }
        let agreements: Vec<Line> = a
            .agreements
            .iter()
            .filter_map(|id| self.agreements.get(id.as_str()))
            .filter(|ag| ag.public && !matches!(ag.kind, AgreementKind::ProcessorAgreement { .. }))
            .map(|ag| self.agreement_title(ag))
            .collect();
        if !agreements.is_empty() {
            facts.push(self.def("statement.activity.agreements", one_or_list(agreements)));
        }
        if let Some(dpia) = &a.dpia {
            let reference = self.plain(&dpia.reference);
            let mut line = match dpia.completed_on {
                Some(d) => self.fill(
                    "statement.activity.dpia_done",
                    &[
                        ("reference", &reference),
                        ("date", &self.plain(&words::date(lang, d))),
                    ],
                ),
                None => self.fill("statement.activity.dpia", &[("reference", &reference)]),
            };
            if let Some(outcome) = dpia.outcome.as_ref().and_then(|o| self.text(o)) {
                push(&mut line, " ", lang);
                words::extend(&mut line, &outcome);
            }
            facts.push(self.def(
                "statement.activity.dpia_heading",
                vec![Block::Paragraph(line)],
            ));
        }
        if let Some(extra) = &a.additional_information {
            facts.push(self.def("statement.activity.additional", self.paragraphs(extra)));
        }
        let heading = self.text(&a.name).unwrap_or_else(|| self.plain(&a.id));
        self.section(
            unique_id(ids, &format!("activity-{}", a.id)),
            heading,
            vec![Block::Definitions(facts)],
        )
    }

    fn legal_bases(&self, a: &ProcessingActivity) -> Vec<Line> {
        a.legal_bases
            .iter()
            .map(|claim| {
                let name = self.label(LegalBasis::KIND, claim.basis.name());
                let mut line = self.plain(&format!(
                    "{name} ({}{})",
                    claim.basis.article(),
                    self.t("statement.gdpr")
                ));
                if let Some(reference) = claim.reference.as_ref().and_then(|r| self.text(r)) {
                    push(&mut line, ": ", self.lang);
                    words::extend(&mut line, &reference);
                }
                line
            })
            .collect()
    }

    fn special(&self, a: &ProcessingActivity) -> Vec<Line> {
        a.special_categories
            .iter()
            .map(|claim| {
                let mut line = self.term(SpecialCategory::KIND, claim.category.name());
                let mut why = Vec::new();
                if let Some(cond) = claim.condition {
                    why.push(self.plain(&format!(
                        "{} ({}{})",
                        decapitalize(self.label(Art9Condition::KIND, cond.name())),
                        art9_article(cond),
                        self.t("statement.gdpr")
                    )));
                }
                if let Some(reference) = claim.reference.as_ref().and_then(|r| self.text(r)) {
                    why.push(reference);
                }
                if why.is_empty() && claim.category == SpecialCategory::CriminalConvictions {
                    why.push(self.plain("art. 10"));
                }
                if !why.is_empty() {
                    push(&mut line, ": ", self.lang);
                    words::extend(&mut line, &join(why, self.lang));
                }
                line
            })
            .collect()
    }

    fn source(&self, s: &Source) -> Line {
        let named = |key: &str, name: Line| compose(self.lang, key, &[("name", &name)]);
        match s {
            Source::DataSubject => self.say("statement.source.data_subject"),
            Source::OnlineServices => self.say("statement.source.online_services"),
            Source::AuthenticSource(a) => named(
                "statement.source.authentic_source",
                self.term(AuthenticSource::KIND, a.name()),
            ),
            Source::OtherAuthority(t) => named(
                "statement.source.other_authority",
                self.text(t).unwrap_or_default(),
            ),
            Source::ThirdParty(t) => named(
                "statement.source.third_party",
                self.text(t).unwrap_or_default(),
            ),
            Source::PublicSource(t) => named(
                "statement.source.public_source",
                self.text(t).unwrap_or_default(),
            ),
        }
    }

    fn recipient(&self, r: &crate::register::Recipient) -> Line {
        let mut line = self.text(&r.name).unwrap_or_default();
        if let Some(country) = &r.country {
            push(&mut line, &format!(" ({country})"), self.lang);
        }
        line
    }

    fn processor_line(&self, p: &Processor) -> Line {
        let mut line = self.plain(&format!("{} ({})", p.name, p.country));
        if let Some(location) = p.location.as_ref().and_then(|l| self.text(l)) {
            line = self.fill(
                "statement.activity.processor_location",
                &[("processor", &line), ("location", &location)],
            );
        }
        if !p.sub_processors.is_empty() {
            let subs = p
                .sub_processors
                .iter()
                .map(|s| {
                    let mut l = self.plain(&format!("{} ({})", s.name, s.country));
                    if let Some(service) = s.service.as_ref().and_then(|x| self.text(x)) {
                        push(&mut l, ": ", self.lang);
                        words::extend(&mut l, &service);
                    }
                    l
                })
                .collect();
            line = self.fill(
                "statement.activity.sub_processors",
                &[
                    ("processor", &line),
                    ("sub_processors", &join(subs, self.lang)),
                ],
            );
        }
        line
    }

    fn processors_and_applications(&self, a: &ProcessingActivity) -> Vec<Line> {
        let mut lines: Vec<Line> = a
            .processors
            .iter()
            .map(|id| match self.processors.get(id.as_str()) {
                Some(p) => self.processor_line(p),
                None => self.plain(id),
            })
            .collect();
        for app in &a.applications {
            let mut line = self.plain(&app.name);
            if let Some(d) = app.description.as_ref().and_then(|d| self.text(d)) {
                push(&mut line, ": ", self.lang);
                words::extend(&mut line, &d);
            }
            if let Some(id) = &app.processor {
                let supplier = self
                    .processors
                    .get(id.as_str())
                    .map_or(id.as_str(), |p| p.name.as_str());
                line = self.fill(
                    "statement.activity.application_of",
                    &[("application", &line), ("processor", &self.plain(supplier))],
                );
            }
            lines.push(line);
        }
        lines
    }

    fn transfers(&self, a: &ProcessingActivity) -> Vec<Block> {
        if a.transfers.is_empty() {
            return vec![Block::Paragraph(
                self.say("statement.activity.no_transfers"),
            )];
        }
        let lines = a
            .transfers
            .iter()
            .map(|t| {
                let safeguard = self.plain(&format!(
                    "{} ({}{})",
                    decapitalize(self.label(TransferSafeguard::KIND, t.safeguard.name())),
                    t.safeguard.article(),
                    self.t("statement.gdpr")
                ));
                let mut line = self.fill(
                    "statement.activity.transfer",
                    &[
                        ("recipient", &self.plain(&t.recipient)),
                        ("country", &self.plain(&t.country)),
                        ("safeguard", &safeguard),
                    ],
                );
                if let Some(r) = t.reference.as_ref().and_then(|r| self.text(r)) {
                    push(&mut line, " ", self.lang);
                    words::extend(&mut line, &r);
                }
                line
            })
            .collect();
        one_or_list(lines)
    }

    fn automated(&self, a: &ProcessingActivity) -> Line {
        match &a.automated_decision_making {
            AutomatedDecisionMaking::None => self.say("statement.activity.no_automated"),
            AutomatedDecisionMaking::Used {
                logic,
                consequences,
            } => self.fill(
                "statement.activity.automated_used",
                &[
                    ("logic", &self.text(logic).unwrap_or_default()),
                    ("consequences", &self.text(consequences).unwrap_or_default()),
                ],
            ),
        }
    }

    fn agreement_title(&self, ag: &Agreement) -> Line {
        let title = self.text(&ag.title).unwrap_or_else(|| self.plain(&ag.id));
        match &ag.document_url {
            Some(url) => {
                // A link keeps one language: the title's.
                let lang = match title.first() {
                    Some(super::Inline::Text(s)) => s.lang,
                    _ => self.lang,
                };
                link(url, &super::plain_text(&title), lang)
            }
            None => title,
        }
    }

    // --- Authorisations and protocols ---------------------------------------------------

    fn agreements_overview(&self) -> Option<Section> {
        let items: Vec<Line> = self
            .party_agreements()
            .filter(|a| !matches!(a.kind, AgreementKind::ProcessorAgreement { .. }))
            .map(|a| self.agreement_item(a))
            .collect();
        if items.is_empty() {
            return None;
        }
        let blocks = vec![
            Block::Paragraph(self.say("statement.agreements.intro")),
            Block::List(items),
        ];
        Some(self.section(
            "agreements".into(),
            self.say("statement.agreements.heading"),
            blocks,
        ))
    }

    fn agreement_item(&self, a: &Agreement) -> Line {
        let mut line = self.agreement_title(a);
        let mut facts: Vec<Line> = vec![self.term("agreement_kind", a.kind.name())];
        match &a.kind {
            AgreementKind::DataExchangeProtocol(p) => {
                if let (Some(from), Some(to)) = (
                    self.text(&p.transferring_party),
                    self.text(&p.receiving_party),
                ) {
                    facts.push(self.fill(
                        "statement.agreements.parties",
                        &[("from", &from), ("to", &to)],
                    ));
                }
            }
            AgreementKind::Authorisation { granted_by, source } => {
                if let Some(by) = self.text(granted_by) {
                    facts.push(self.fill("statement.agreements.granted_by", &[("by", &by)]));
                }
                if let Some(s) = source {
                    let name = self.term(AuthenticSource::KIND, s.name());
                    facts.push(self.fill("statement.agreements.source", &[("source", &name)]));
                }
            }
            AgreementKind::JointControllerArrangement { .. }
            | AgreementKind::ProcessorAgreement { .. } => {}
        }
        if let Some(r) = &a.reference {
            facts.push(self.fill(
                "statement.agreements.reference",
                &[("reference", &self.plain(r))],
            ));
        }
        if let Some(d) = a.signed_on {
            facts.push(self.fill(
                "statement.agreements.signed_on",
                &[("date", &self.plain(&words::date(self.lang, d)))],
            ));
        }
        push(&mut line, " (", self.lang);
        for (i, fact) in facts.iter().enumerate() {
            if i > 0 {
                push(&mut line, "; ", self.lang);
            }
            words::extend(&mut line, fact);
        }
        push(&mut line, ")", self.lang);
        line
    }

    // --- Security -----------------------------------------------------------------------

    fn security(&self, activities: &[&ProcessingActivity]) -> Section {
        let mut blocks = vec![Block::Paragraph(self.say("statement.security.intro"))];
        let general: Vec<Line> = self
            .controller
            .security_measures
            .iter()
            .filter_map(|m| self.text(m))
            .collect();
        if !general.is_empty() {
            blocks.push(Block::List(general));
        }
        let specific: Vec<Definition> = activities
            .iter()
            .filter(|a| !a.security_measures.is_empty())
            .map(|a| Definition {
                term: self.text(&a.name).unwrap_or_else(|| self.plain(&a.id)),
                details: one_or_list(
                    a.security_measures
                        .iter()
                        .filter_map(|m| self.text(m))
                        .collect(),
                ),
            })
            .collect();
        if !specific.is_empty() {
            blocks.push(Block::Paragraph(self.say("statement.security.specific")));
            blocks.push(Block::Definitions(specific));
        }
        self.section(
            "security".into(),
            self.say("statement.security.heading"),
            blocks,
        )
    }

    // --- Your rights --------------------------------------------------------------------

    fn rights(&self) -> Section {
        const RIGHTS: [(&str, &str); 8] = [
            ("statement.rights.access", "statement.rights.access_text"),
            (
                "statement.rights.rectification",
                "statement.rights.rectification_text",
            ),
            ("statement.rights.erasure", "statement.rights.erasure_text"),
            (
                "statement.rights.restriction",
                "statement.rights.restriction_text",
            ),
            (
                "statement.rights.objection",
                "statement.rights.objection_text",
            ),
            (
                "statement.rights.portability",
                "statement.rights.portability_text",
            ),
            (
                "statement.rights.automated",
                "statement.rights.automated_text",
            ),
            (
                "statement.rights.withdraw_consent",
                "statement.rights.withdraw_consent_text",
            ),
        ];
        let rights = RIGHTS
            .iter()
            .map(|(name, explanation)| {
                self.def(name, vec![Block::Paragraph(self.say(explanation))])
            })
            .collect();
        let blocks = vec![
            Block::Paragraph(self.say("statement.rights.intro")),
            Block::Definitions(rights),
            Block::Paragraph(self.say("statement.rights.limits")),
        ];
        let mut section = self.section(
            "rights".into(),
            self.say("statement.rights.heading"),
            blocks,
        );
        section.subsections.push(self.exercise_rights());
        section
    }

    fn exercise_rights(&self) -> Section {
        let rc = &self.controller.rights_contact;
        let mut ways = Vec::new();
        if let Some(form) = &rc.web_form {
            let form = link(form, self.t("statement.exercise.web_form_label"), self.lang);
            ways.push(self.fill("statement.exercise.web_form", &[("form", &form)]));
        }
        if let Some(email) = &rc.email {
            ways.push(self.fill(
                "statement.exercise.email",
                &[("email", &self.mailto(email))],
            ));
        }
        if let Some(address) = rc.postal_address.as_ref().and_then(|a| self.text(a)) {
            ways.push(self.fill("statement.exercise.letter", &[("address", &address)]));
        }
        if let Some(desk) = rc.desk.as_ref().and_then(|d| self.text(d)) {
            ways.push(self.fill("statement.exercise.desk", &[("desk", &desk)]));
        }
        if ways.is_empty() {
            ways.push(self.fill(
                "statement.exercise.email",
                &[("email", &self.mailto(&self.controller.dpo.email))],
            ));
        }
        let identity = match rc.identity_proof.as_ref().and_then(|p| self.text(p)) {
            Some(proof) => self.fill("statement.exercise.identity", &[("proof", &proof)]),
            None => self.say("statement.exercise.identity_generic"),
        };
        let blocks = vec![
            Block::Paragraph(self.say("statement.exercise.intro")),
            Block::List(ways),
            Block::Paragraph(identity),
            Block::Paragraph(self.say("statement.exercise.deadline")),
        ];
        self.section(
            "exercise-rights".into(),
            self.say("statement.exercise.heading"),
            blocks,
        )
    }

    // --- Cookies ------------------------------------------------------------------------

    fn cookies(&self) -> Option<Section> {
        let cookies = &self.controller.cookies;
        if cookies.is_empty() {
            return None;
        }
        let mut section = self.section(
            "cookies".into(),
            self.say("statement.cookies.heading"),
            vec![Block::Paragraph(self.say("statement.cookies.intro"))],
        );
        for kind in CookieType::ALL {
            let rows: Vec<Vec<Line>> = cookies
                .iter()
                .filter(|c| c.kind == *kind)
                .map(|c| {
                    vec![
                        self.plain(&c.name),
                        self.text(&c.purpose).unwrap_or_default(),
                        self.plain(c.provider.as_deref().unwrap_or("")),
                        self.text(&c.lifetime).unwrap_or_default(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let rule = if *kind == CookieType::Functional {
                "statement.cookies.always"
            } else {
                "statement.cookies.with_consent"
            };
            let header = ["name", "purpose", "provider", "lifetime"]
                .iter()
                .map(|h| self.term("statement.cookies.column", h))
                .collect();
            let blocks = vec![
                Block::Paragraph(self.say(rule)),
                Block::Table(super::Table { header, rows }),
            ];
            section.subsections.push(self.section(
                format!("cookies-{}", kind.name()),
                self.term(CookieType::KIND, kind.name()),
                blocks,
            ));
        }
        Some(section)
    }

    // --- Complaints ---------------------------------------------------------------------

    fn complaints(&self) -> Section {
        let authorities = &self.controller.supervisory_authorities;
        let mut blocks = vec![Block::Paragraph(self.fill(
            "statement.complaints.dpo_first",
            &[("email", &self.mailto(&self.controller.dpo.email))],
        ))];
        let authority_link = |a: &crate::legal::SupervisoryAuthority| {
            link(
                a.website(),
                &self.label(SupervisoryAuthority::KIND, a.name()),
                self.lang,
            )
        };
        match authorities.split_first() {
            Some((first, others)) => {
                blocks.push(Block::Paragraph(self.fill(
                    "statement.complaints.authority",
                    &[("authority", &authority_link(first))],
                )));
                if !others.is_empty() {
                    let others = join(others.iter().map(authority_link).collect(), self.lang);
                    blocks.push(Block::Paragraph(
                        self.fill("statement.complaints.others", &[("authorities", &others)]),
                    ));
                }
            }
            None => blocks.push(Block::Paragraph(
                self.say("statement.complaints.no_authority"),
            )),
        }
        self.section(
            "complaints".into(),
            self.say("statement.complaints.heading"),
            blocks,
        )
    }

    // --- Changes ------------------------------------------------------------------------

    fn changes(&self, meta: &StatementMeta) -> Section {
        let lang = self.lang;
        let mut blocks = vec![Block::Paragraph(self.fill(
            "statement.changes.version",
            &[
                ("version", &self.plain(&meta.version.to_string())),
                ("date", &self.plain(&words::date(lang, meta.effective_date))),
            ],
        ))];
        if let Some(notice) = &self.controller.change_notice {
            blocks.extend(self.paragraphs(notice));
        }
        if !meta.changes.is_empty() {
            blocks.push(Block::Paragraph(self.say("statement.changes.what_changed")));
            blocks.push(Block::List(
                meta.changes
                    .iter()
                    .map(|c| changes::describe_line(c, lang))
                    .collect(),
            ));
        }
        if !meta.earlier_versions.is_empty() {
            blocks.push(Block::Paragraph(self.say("statement.changes.earlier")));
            let mut earlier = meta.earlier_versions.clone();
            earlier.sort_by_key(|v| std::cmp::Reverse(v.version));
            let items = earlier
                .iter()
                .map(|v| {
                    let label = i18n::tf(
                        lang,
                        "statement.changes.version_link",
                        &[
                            ("version", &v.version.to_string()),
                            ("date", &words::date(lang, v.effective_date)),
                        ],
                    );
                    link(&format!("?version={}", v.version), &label, lang)
                })
                .collect();
            blocks.push(Block::List(items));
        }
        self.section(
            "changes".into(),
            self.say("statement.changes.heading"),
            blocks,
        )
    }
}

/// One line as a paragraph, several as a list, none as nothing.
fn one_or_list(mut lines: Vec<Line>) -> Vec<Block> {
    match lines.len() {
        0 => Vec::new(),
        1 => vec![Block::Paragraph(lines.remove(0))],
        _ => vec![Block::List(lines)],
    }
}

/// "art. 9(2)(h)" from the DPV identifier `eu-gdpr:A9-2-h`.
fn art9_article(c: Art9Condition) -> String {
    let letter = c.dpv().rsplit('-').next().unwrap_or("");
    format!("art. 9(2)({letter})")
}

/// An id safe in HTML and URLs, unique within the statement.
fn unique_id(taken: &mut HashSet<String>, wanted: &str) -> String {
    let base: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}
