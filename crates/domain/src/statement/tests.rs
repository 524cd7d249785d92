use time::macros::date;

use super::words;
use super::*;
use crate::register::{Agreement, AgreementKind, DpoAdvice, Processor, Protocol};
use crate::retention::{Period, RetentionEvent, RetentionRule, RetentionSchedule};
use crate::text::Text;

const REGISTER: &str = r#"
controllers:
  - id: limburg
    name: {nl: Provincie Limburg, en: Province of Limburg, fr: Province de Limbourg}
    department: dienst PLOT
    address: {street: Universiteitslaan 1, postcode: "3500", city: Hasselt, country: BE}
    enterprise_number: "0207.725.203"
    email: info@limburg.be
    website: https://www.limburg.be
    dpo: {email: dpo@limburg.be, name: Jan Peeters}
    supervisory_authorities: [vtc, gba]
    rights_contact:
      email: griffie@limburg.be
      postal_address: Griffie, provincie Limburg, Universiteitslaan 1, B-3500 Hasselt
      web_form: https://www.limburg.be/rechten?x=1&y=2
      desk: Provinciehuis, Universiteitslaan 1
      identity_proof: een kopie van de voorzijde van je identiteitskaart
    joint_controllers: [pom]
    introduction: "Om een goede dienstverlening te bieden, werken we met persoonsgegevens.\n\nLees hier hoe."
    cookies:
      - {name: session, type: functional, purpose: Houdt je sessie bij, lifetime: sessie}
      - {name: _ga, type: analytics, purpose: Bezoekersstatistieken, provider: Google, lifetime: 13 maanden}
    security_measures: [Toegang alleen voor wie het nodig heeft]
    change_notice: We melden belangrijke wijzigingen op onze website.
  - id: pom
    name: POM Limburg
    address: {street: Kempische Steenweg 555, postcode: "3500", city: Hasselt, country: BE}
    dpo: {email: dpo@pomlimburg.be}
    supervisory_authorities: [vtc]
    rights_contact: {email: privacy@pomlimburg.be}
processors:
  - {id: cipal, name: Cipal, country: BE}
  - id: microsoft
    name: Microsoft
    country: IE
    sub_processors: [{name: Microsoft Corporation, country: US}]
  - {id: unused, name: Niet gebruikt, country: BE}
agreements:
  - id: rr-machtiging
    title: Machtiging Rijksregister
    kind: {authorisation: {granted_by: Informatieveiligheidscomité, source: rijksregister}}
    controllers: [limburg]
    reference: IVC/KSZG/22/001
  - id: fga
    title: Onderlinge overeenkomst FGA
    kind: {joint_controller_arrangement: {essence: Elke partij beantwoordt de vragen over haar eigen deel.}}
    controllers: [limburg, pom]
  - id: cipal-dpa
    title: Verwerkersovereenkomst Cipal
    kind: {processor_agreement: {processor: cipal}}
    controllers: [limburg]
activities:
  - id: camera
    controller: limburg
    name: {nl: Camerabewaking, en: Camera surveillance}
    purposes: ["Bescherming van goederen <script>alert(1)</script>"]
    legal_bases: [{basis: public_interest, reference: Camerawet van 21 maart 2007}]
    data_categories: [sound_image]
    subject_categories: [visitors, staff]
    sources: [data_subject]
    recipients: [{name: Politie, kind: police_justice}]
    retention:
      - key: images
        rule: {after_event: {event: recording, period: 30 days}}
        evidence_hold: als bewijs van een misdrijf, schade of overlast
    security_measures: [Beelden op lokale servers]
  - id: newsletter
    controller: limburg
    name: {nl: Nieuwsbrieven, en: Newsletters, fr: Bulletins d'information}
    purposes: [Je op de hoogte houden]
    legal_bases: [{basis: consent}]
    consent: {withdrawal: Via de link in elke nieuwsbrief.}
    data_categories: [contact]
    subject_categories: [subscribers]
    sources: [data_subject]
    recipients: []
    retention: [{key: subscription, rule: {until_withdrawal: {}}}]
  - id: training
    controller: limburg
    name: Opleidingen
    purposes: [Opleidingen organiseren, Attesten uitreiken]
    legal_bases: [{basis: contract}]
    data_categories: [identification, contact, education]
    data_description: titel, naam, voornaam
    special_categories: [{category: health, condition: health_or_social_care}]
    subject_categories: [students, teachers]
    sources: [data_subject, {authentic_source: rijksregister}, {other_authority: de werkgever}]
    processors: [microsoft]
    applications: [{name: Digiflow, processor: cipal}]
    agreements: [rr-machtiging, cipal-dpa]
    transfers: [{recipient: Microsoft (MS Teams), country: US, safeguard: standard_contractual_clauses}]
    retention:
      - {key: students, applies_to: studentgegevens, rule: {until_age: {age: 70}}}
      - {key: timetable, applies_to: lessenrooster, rule: permanent}
      - key: teachers
        applies_to: sollicitaties docenten
        rule: {extendable: {event: end_of_procedure, period: 1 year, extension: 1 year, max_extensions: 2}}
        note: tenzij je vraagt ze eerder te wissen
    additional_information: Je werkgever kan je aanwezigheid opvragen.
    dpia: {reference: DPIA-2022-04}
  - id: secret-plan
    controller: limburg
    name: Geheim ontwerp
    status: draft
    purposes: [Nog niet beslist]
    legal_bases: [{basis: consent}]
    data_categories: [contact]
    subject_categories: [citizens]
    sources: [data_subject]
    retention: [{key: x, rule: permanent}]
"#;

fn protocol() -> Agreement {
    let t = Text::nl;
    Agreement {
        id: "politie-protocol".into(),
        title: t("Protocol met de Limburgse politiezones"),
        kind: AgreementKind::DataExchangeProtocol(Box::new(Protocol {
            transferring_party: t("de Limburgse politiezones"),
            receiving_party: t("het PLOT – Politieschool"),
            controllers: vec![t("politiezones"), t("provincie Limburg")],
            dpos: vec![t("DPO politie"), t("dpo@limburg.be")],
            purposes: vec![t("opleidingen verzekeren")],
            data_categories: vec![crate::category::DataCategory::Identification],
            data_format: t("CSV"),
            recipient_categories: vec![t("docenten")],
            legal_basis: t("art. 6.1.e AVG"),
            communication_method: t("beveiligde e-mail"),
            specific_measures: vec![t("versleuteling")],
            restrictions_on_rights: t("geen"),
            rights_handling: t("via de DPO"),
            periodicity: t("per opleiding"),
            duration: t("onbepaald"),
            sanctions: t("volgens het protocol"),
            dpo_advice: vec![DpoAdvice {
                party: t("provincie Limburg"),
                given_on: date!(2022 - 03 - 01),
                summary: t("gunstig"),
            }],
        })),
        controllers: vec!["limburg".into()],
        reference: None,
        signed_on: Some(date!(2022 - 07 - 01)),
        expires_on: None,
        document_url: Some("https://www.limburg.be/protocol.pdf".into()),
        public: true,
    }
}

fn register() -> Register {
    let mut r: Register = serde_saphyr::from_str(REGISTER).unwrap();
    r.agreements.push(protocol());
    r
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
        changes: vec![Change::ActivityAdded {
            activity: "camera".into(),
            name: Text::nl("Camerabewaking"),
        }],
    }
}

fn statement(lang: Lang) -> Statement {
    generate(&register(), "limburg", lang, &meta()).unwrap()
}

/// Fails on translation keys or placeholders that leaked into the output.
fn assert_fully_translated(out: &str) {
    for leak in [
        "statement.",
        "data_category.",
        "legal_basis.",
        "{controller}",
        "{name}",
        "{period}",
    ] {
        assert!(!out.contains(leak), "untranslated '{leak}' in:\n{out}");
    }
}

#[test]
fn every_section_is_present_in_every_language() {
    for lang in Lang::ALL {
        let s = statement(lang);
        let ids: Vec<&str> = s.sections.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, SECTION_IDS, "{lang}");
        for id in [
            "dpo",
            "joint-controllers",
            "exercise-rights",
            "basis-consent",
            "activity-camera",
            "cookies-analytics",
        ] {
            assert!(s.section(id).is_some(), "{id} missing in {lang}");
        }
        assert_fully_translated(&render_html(&s));
        assert_fully_translated(&render_markdown(&s));
    }
}

#[test]
fn sections_are_in_the_statement_language() {
    assert_eq!(
        statement(Lang::Nl).title_text(),
        "Privacyverklaring van Provincie Limburg"
    );
    assert_eq!(
        statement(Lang::En).title_text(),
        "Privacy statement of Province of Limburg"
    );
    assert_eq!(
        statement(Lang::Fr).title_text(),
        "Déclaration de confidentialité de Province de Limbourg"
    );
    let md = render_markdown(&statement(Lang::Fr));
    assert!(md.contains("## Quels sont vos droits ?"), "{md}");
}

#[test]
fn html_escapes_register_text() {
    let html = render_html(&statement(Lang::Nl));
    assert!(html.contains("Bescherming van goederen &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script"));
    assert!(
        html.contains("href=\"https://www.limburg.be/rechten?x=1&amp;y=2\""),
        "{html}"
    );
    assert!(!html.contains("style="));
}

#[test]
fn html_marks_fallback_language() {
    let fr = render_html(&statement(Lang::Fr));
    assert!(fr.starts_with("<article class=\"privacy-statement\" lang=\"fr\">"));
    assert!(
        fr.contains("<h4 id=\"activity-camera\"><span lang=\"nl\">Camerabewaking</span></h4>"),
        "{fr}"
    );
    // Translated text carries no attribute of its own.
    assert!(
        fr.contains("<h4 id=\"activity-newsletter\">Bulletins d&#39;information</h4>"),
        "{fr}"
    );
    let en = render_html(&statement(Lang::En));
    assert!(en.contains("<h4 id=\"activity-camera\">Camera surveillance</h4>"));
    // The Dutch-only purpose is marked inside an English list item.
    assert!(en.contains("<span lang=\"nl\">Bescherming van goederen"));
}

#[test]
fn html_has_headings_with_ids_and_a_table_of_contents() {
    let html = render_html(&statement(Lang::Nl));
    assert!(html.contains("<h1>Privacyverklaring van Provincie Limburg</h1>"));
    assert!(html.contains("<nav class=\"toc\" aria-label=\"Inhoud\">"));
    for id in SECTION_IDS {
        assert!(html.contains(&format!("<h2 id=\"{id}\">")), "{id}");
        assert!(
            html.contains(&format!("<a href=\"#{id}\">")),
            "toc lacks {id}"
        );
    }
    assert!(html.contains(
        "<h3 id=\"basis-public_interest\">Voor de vervulling van een taak van algemeen belang</h3>"
    ));
    assert!(html.contains("<dl>") && html.contains("<dt>Bewaartermijn</dt>"));
    assert!(html.contains("<th scope=\"col\">Naam</th>"));
}

#[test]
fn unsafe_links_are_shown_as_text() {
    let mut r = register();
    r.controllers[0].rights_contact.web_form = Some("javascript:alert(1)".into());
    let s = generate(&r, "limburg", Lang::Nl, &meta()).unwrap();
    let html = render_html(&s);
    assert!(!html.contains("javascript:"), "{html}");
    assert!(html.contains("via het webformulier: dat is de snelste manier"));
    assert!(!render_markdown(&s).contains("javascript:"));
}

#[test]
fn retention_rules_in_words() {
    let nl = |rule: RetentionRule| plain_text(&words::rule(Lang::Nl, &rule));
    let after = |event, period| RetentionRule::AfterEvent { event, period };
    assert_eq!(
        nl(after(RetentionEvent::Recording, Period::days(30))),
        "30 dagen na de opname"
    );
    assert_eq!(
        nl(after(RetentionEvent::EndOfTraining, Period::years(5))),
        "5 jaar na afloop van de opleiding"
    );
    assert_eq!(
        nl(after(
            RetentionEvent::EndOfProcedure,
            Period {
                years: 1,
                months: 6,
                weeks: 0,
                days: 1
            }
        )),
        "1 jaar, 6 maanden en 1 dag na afloop van de procedure"
    );
    assert_eq!(
        nl(after(RetentionEvent::Recording, Period::default())),
        "meteen na de opname"
    );
    assert_eq!(
        nl(RetentionRule::UntilAge { age: 70 }),
        "tot de leeftijd van 70 jaar"
    );
    let extendable = |max_extensions| RetentionRule::Extendable {
        event: RetentionEvent::EndOfProcedure,
        period: Period::years(1),
        extension: Period::years(1),
        max_extensions,
    };
    assert_eq!(
        nl(extendable(2)),
        "1 jaar na afloop van de procedure, hoogstens 2 keer met 1 jaar te verlengen"
    );
    assert_eq!(
        nl(extendable(1)),
        "1 jaar na afloop van de procedure, hoogstens één keer met 1 jaar te verlengen"
    );
    assert_eq!(nl(extendable(0)), "1 jaar na afloop van de procedure");
    assert_eq!(
        nl(RetentionRule::UntilWithdrawal { grace: None }),
        "tot je toestemming intrekt of je uitschrijft"
    );
    assert_eq!(
        nl(RetentionRule::UntilWithdrawal {
            grace: Some(Period::weeks(4))
        }),
        "tot je toestemming intrekt of je uitschrijft, daarna nog 4 weken"
    );
    assert_eq!(nl(RetentionRule::Permanent), "permanent");
    let archive = |event, period| RetentionRule::ArchiveLaw {
        reference: Text::nl("Archiefdecreet van 9 juli 2010"),
        event,
        period,
    };
    assert_eq!(
        nl(archive(None, None)),
        "volgens de archiefwetgeving (Archiefdecreet van 9 juli 2010)"
    );
    assert_eq!(
        nl(archive(
            Some(RetentionEvent::CaseClosed),
            Some(Period::years(10))
        )),
        "10 jaar na het afsluiten van het dossier, volgens de archiefwetgeving (Archiefdecreet van 9 juli 2010)"
    );
    let needed = |event, maximum| RetentionRule::WhileNeeded {
        criterion: Text::nl("zolang het subsidiedossier loopt"),
        event,
        maximum,
    };
    assert_eq!(nl(needed(None, None)), "zolang het subsidiedossier loopt");
    assert_eq!(
        nl(needed(
            Some(RetentionEvent::EndOfProcedure),
            Some(Period::years(1))
        )),
        "zolang het subsidiedossier loopt, hoogstens 1 jaar na afloop van de procedure"
    );

    let en = |rule: RetentionRule| plain_text(&words::rule(Lang::En, &rule));
    assert_eq!(
        en(after(RetentionEvent::Recording, Period::days(30))),
        "30 days after recording"
    );
    assert_eq!(
        en(extendable(2)),
        "1 year after the end of the procedure, which can be extended at most 2 times by 1 year"
    );
    let fr = |rule: RetentionRule| plain_text(&words::rule(Lang::Fr, &rule));
    assert_eq!(
        fr(RetentionRule::UntilAge { age: 70 }),
        "jusqu’à l’âge de 70 ans"
    );
    assert_eq!(
        fr(after(RetentionEvent::EndOfTraining, Period::years(5))),
        "5 ans après la fin de la formation"
    );
}

#[test]
fn retention_schedule_adds_what_it_covers_its_note_and_evidence_hold() {
    let schedule = RetentionSchedule {
        key: "images".into(),
        applies_to: Some(Text::nl("camerabeelden")),
        rule: RetentionRule::AfterEvent {
            event: RetentionEvent::Recording,
            period: Period::days(30),
        },
        evidence_hold: Some(Text::nl("bewijs van een misdrijf")),
        note: Some(Text::nl("of korter")),
        anonymise: None,
    };
    assert_eq!(
        plain_text(&words::schedule(Lang::Nl, &schedule)),
        "camerabeelden: 30 dagen na de opname (of korter). Als bewijs kunnen we de gegevens langer bewaren: bewijs van een misdrijf"
    );
    let anonymised = RetentionSchedule {
        anonymise: Some(anonymisation()),
        ..schedule.clone()
    };
    assert!(
        plain_text(&words::schedule(Lang::Nl, &anonymised))
            .contains("(of korter). Daarna anonimiseren we de gegevens"),
        "{}",
        plain_text(&words::schedule(Lang::Nl, &anonymised))
    );
    // In English the Dutch-only parts keep their language.
    let line = words::schedule(Lang::En, &schedule);
    assert!(
        line.iter().any(
            |i| matches!(i, Inline::Text(s) if s.lang == Lang::Nl && s.text == "camerabeelden")
        )
    );
    assert!(line.iter().any(|i| matches!(i, Inline::Text(s) if s.lang == Lang::En && s.text.contains("30 days after recording"))));
}

#[test]
fn activity_facts_appear() {
    let md = render_markdown(&statement(Lang::Nl));
    for fact in [
        "- **Gedeeld met:** niet gedeeld",
        "- **Gedeeld met:** Politie",
        "30 dagen na de opname. Als bewijs kunnen we de gegevens langer bewaren: als bewijs van een misdrijf",
        "studentgegevens: tot de leeftijd van 70 jaar",
        "lessenrooster: permanent",
        "sollicitaties docenten: 1 jaar na afloop van de procedure, hoogstens 2 keer met 1 jaar te verlengen (tenzij je vraagt ze eerder te wissen)",
        "tot je toestemming intrekt of je uitschrijft",
        "Identificatiegegevens, contactgegevens en opleidingsgegevens",
        "titel, naam, voornaam",
        "Gezondheidsgegevens: gezondheidszorg of sociale diensten (art. 9(2)(h) AVG)",
        "Uit een authentieke bron: Rijksregister",
        "Van een andere overheid: de werkgever",
        "Microsoft (IE), met subverwerkers Microsoft Corporation (US)",
        "Digiflow (van Cipal)",
        "Microsoft (MS Teams) (US), op basis van modelcontractbepalingen van de Europese Commissie (Standard Contractual Clauses) (art. 46(2)(c) AVG)",
        "Er worden geen beslissingen over jou genomen op basis van uitsluitend geautomatiseerde verwerking",
        "Je gegevens worden niet doorgegeven aan landen buiten de Europese Economische Ruimte.",
        "Via de link in elke nieuwsbrief.",
        "Taak van algemeen belang (art. 6(1)(e) AVG): Camerawet van 21 maart 2007",
        "Uitgevoerd (referentie DPIA-2022-04).",
        "Je werkgever kan je aanwezigheid opvragen.",
        "0207.725.203",
        "[dpo@limburg.be](<mailto:dpo@limburg.be>)",
        "Jan Peeters",
        "POM Limburg, Kempische Steenweg 555, 3500 Hasselt, België",
        "De essentie van de onderlinge regeling ‘Onderlinge overeenkomst FGA’:",
        "Elke partij beantwoordt de vragen over haar eigen deel.",
        "Beelden op lokale servers",
        "Toegang alleen voor wie het nodig heeft",
    ] {
        assert!(md.contains(fact), "missing {fact:?} in:\n{md}");
    }
    assert!(
        !md.contains("Geheim ontwerp"),
        "a draft activity was published"
    );
    let en = render_markdown(&statement(Lang::En));
    assert!(en.contains("- **Shared with:** not shared"));
    let fr = render_markdown(&statement(Lang::Fr));
    assert!(fr.contains("- **Partagées avec :** pas partagées"), "{fr}");
}

#[test]
fn activities_are_grouped_by_legal_basis_in_article_order() {
    let s = statement(Lang::Nl);
    let processing = s.section("processing").unwrap();
    let groups: Vec<&str> = processing
        .subsections
        .iter()
        .map(|g| g.id.as_str())
        .collect();
    assert_eq!(
        groups,
        ["basis-consent", "basis-contract", "basis-public_interest"]
    );
}

#[test]
fn agreements_overview_lists_public_protocols_and_authorisations_only() {
    let s = statement(Lang::Nl);
    let section = s.section("agreements").unwrap();
    let Block::List(items) = &section.blocks[1] else {
        panic!("no list")
    };
    let items: Vec<String> = items.iter().map(|l| plain_text(l)).collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items[0].starts_with("Machtiging Rijksregister (Machtiging; verleend door Informatieveiligheidscomité; voor Rijksregister; referentie IVC/KSZG/22/001)"));
    assert!(items[1].starts_with("Onderlinge overeenkomst FGA (Onderlinge regeling"));
    assert!(items[2].contains(
        "tussen de Limburgse politiezones en het PLOT – Politieschool; ondertekend op 1 juli 2022"
    ));
    assert!(!items.iter().any(|i| i.contains("Cipal")));
    let html = render_html(&s);
    assert!(html.contains(
        "<a href=\"https://www.limburg.be/protocol.pdf\">Protocol met de Limburgse politiezones</a>"
    ));
}

#[test]
fn rights_and_how_to_exercise_them() {
    let md = render_markdown(&statement(Lang::Nl));
    for fact in [
        "Recht op inzage",
        "Recht op verbetering",
        "Recht op wissen",
        "Recht op beperking van de verwerking",
        "Recht van bezwaar",
        "Recht op overdraagbaarheid",
        "Recht om niet onderworpen te worden aan geautomatiseerde besluitvorming",
        "Recht om je toestemming in te trekken",
        "via e-mail naar [griffie@limburg.be](<mailto:griffie@limburg.be>)",
        "per brief naar Griffie, provincie Limburg, Universiteitslaan 1, B-3500 Hasselt",
        "aan het loket: Provinciehuis",
        "een kopie van de voorzijde van je identiteitskaart",
        "binnen één maand",
        "met twee maanden verlengen",
        "artikel 12, lid 3 AVG",
    ] {
        assert!(md.contains(fact), "missing {fact:?}");
    }
}

#[test]
fn cookies_by_type_and_complaints() {
    let s = statement(Lang::Nl);
    let md = render_markdown(&s);
    assert!(md.contains("### Functionele cookies\n\nDeze cookies zijn nodig om de website te laten werken. We plaatsen ze altijd."));
    assert!(md.contains("### Analytische cookies\n\nDeze cookies plaatsen we alleen als je daarvoor toestemming geeft."));
    assert!(
        md.contains("| \\_ga | Bezoekersstatistieken | Google | 13 maanden |"),
        "{md}"
    );
    assert!(
        md.contains("[Vlaamse Toezichtcommissie (VTC)](<https://www.vlaamsetoezichtcommissie.be>)")
    );
    assert!(md.contains(
        "Voor meer informatie kun je ook terecht bij [Gegevensbeschermingsautoriteit (GBA)]"
    ));
    // A controller without cookies has no cookie section.
    let mut r = register();
    r.controllers[0].cookies.clear();
    let s = generate(&r, "limburg", Lang::Nl, &meta()).unwrap();
    assert!(s.section("cookies").is_none());
}

#[test]
fn changes_section_has_version_notice_changes_and_earlier_versions() {
    let md = render_markdown(&statement(Lang::Nl));
    assert!(
        md.contains("Dit is versie 3 van deze privacyverklaring, van kracht sinds 18 juli 2022.")
    );
    assert!(md.contains("We melden belangrijke wijzigingen op onze website."));
    assert!(md.contains("- Nieuwe verwerking: Camerabewaking."));
    assert!(md.contains("- [Versie 2, van kracht sinds 1 januari 2021](<?version=2>)\n- [Versie 1, van kracht sinds 29 mei 2020](<?version=1>)"));
    let fr = render_html(&statement(Lang::Fr));
    assert!(
        fr.contains("<a href=\"?version=2\">Version 2, en vigueur depuis le 1er janvier 2021</a>")
    );
}

#[test]
fn markdown_has_the_headings_and_escapes_register_text() {
    let md = render_markdown(&statement(Lang::Nl));
    for heading in [
        "# Privacyverklaring van Provincie Limburg\n",
        "## Wie zijn we?\n",
        "### Functionaris voor gegevensbescherming\n",
        "## Welke persoonsgegevens verwerken we en waarom?\n",
        "### Wanneer je hiervoor toestemming hebt gegeven\n",
        "#### Camerabewaking\n",
        "## Overzicht machtigingen en protocollen\n",
        "## Hoe beveiligen we jouw gegevens?\n",
        "## Wat zijn je rechten?\n",
        "### Hoe oefen je je rechten uit?\n",
        "## Cookies\n",
        "## Klachten\n",
        "## Wijzigingen\n",
    ] {
        assert!(md.contains(heading), "missing {heading:?}");
    }
    assert!(md.contains("Bescherming van goederen \\<script\\>alert(1)\\</script\\>"));
    // Multi-paragraph register text stays separate paragraphs.
    assert!(md.contains("werken we met persoonsgegevens.\n\nLees hier hoe.\n"));
}

#[test]
fn markdown_text_cannot_start_a_list_or_heading() {
    let mut r = register();
    r.controllers[0].introduction = Some(Text::nl("1. eerst\n# kop *vet*"));
    let md = render_markdown(&generate(&r, "limburg", Lang::Nl, &meta()).unwrap());
    assert!(md.contains("\n1\\. eerst \\# kop \\*vet\\*\n"), "{md}");
}

#[test]
fn unknown_controller_is_refused_with_the_known_ones() {
    let err = generate(&register(), "limbrug", Lang::Nl, &meta()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no controller 'limbrug' in the register; use one of: limburg, pom"
    );
    let err = generate(&Register::default(), "x", Lang::Nl, &meta()).unwrap_err();
    assert!(
        err.to_string()
            .contains("import a register with at least one controller first")
    );
}

#[test]
fn a_minimal_controller_still_gets_every_required_section() {
    let mut r = register();
    r.activities.clear();
    let s = generate(
        &r,
        "pom",
        Lang::En,
        &StatementMeta {
            version: 1,
            effective_date: date!(2026 - 01 - 01),
            earlier_versions: vec![],
            changes: vec![],
        },
    )
    .unwrap();
    let ids: Vec<&str> = s.sections.iter().map(|s| s.id.as_str()).collect();
    // pom is party to the joint arrangement, so it lists it too.
    assert_eq!(
        ids,
        [
            "who-we-are",
            "processing",
            "agreements",
            "security",
            "rights",
            "complaints",
            "changes"
        ]
    );
    let md = render_markdown(&s);
    assert!(md.contains("No processing activities are published at the moment."));
    assert!(md.contains("by e-mail to [privacy@pomlimburg.be]"));
    assert_fully_translated(&md);
}

#[test]
fn dates_are_written_per_language() {
    assert_eq!(words::date(Lang::Nl, date!(2022 - 07 - 18)), "18 juli 2022");
    assert_eq!(words::date(Lang::En, date!(2022 - 07 - 01)), "1 July 2022");
    assert_eq!(
        words::date(Lang::Fr, date!(2022 - 07 - 01)),
        "1er juillet 2022"
    );
}

// --- Changes between versions ------------------------------------------------------------

fn snapshot(r: &Register) -> Register {
    r.for_controller("limburg").unwrap()
}

#[test]
fn identical_snapshots_have_no_changes() {
    let s = snapshot(&register());
    assert!(changes(&s, &s.clone()).is_empty());
}

#[test]
fn changes_find_added_removed_and_changed_activities() {
    let old = register();
    let mut new = old.clone();
    // A draft becomes active: it is new to the public.
    new.activities[3].status = crate::register::ActivityStatus::Active;
    new.activities[0].retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Recording,
        period: Period::days(14),
    };
    new.activities[0].recipients = Some(vec![]);
    new.activities.remove(1);
    let found = changes(&snapshot(&old), &snapshot(&new));
    assert_eq!(
        found,
        vec![
            Change::ActivityChanged {
                activity: "camera".into(),
                name: old.activities[0].name.clone(),
                aspects: vec![ActivityAspect::Retention, ActivityAspect::Recipients],
            },
            Change::ActivityAdded {
                activity: "secret-plan".into(),
                name: Text::nl("Geheim ontwerp")
            },
            Change::ActivityRemoved {
                activity: "newsletter".into(),
                name: old.activities[1].name.clone()
            },
        ]
    );
    assert_eq!(
        found[0].describe(Lang::Nl),
        "Verwerking ‘Camerabewaking’ gewijzigd: bewaartermijn en ontvangers."
    );
    assert_eq!(
        found[0].describe(Lang::En),
        "Processing activity ‘Camera surveillance’ changed: retention period and recipients."
    );
    assert_eq!(
        found[0].describe(Lang::Fr),
        "Traitement « Camerabewaking » modifié : durée de conservation et destinataires."
    );
    assert_eq!(
        found[2].describe(Lang::Fr),
        "Traitement supprimé : Bulletins d'information."
    );
}

#[test]
fn changes_find_controller_processor_and_agreement_changes() {
    let old = register();
    let mut new = old.clone();
    new.controllers[0].dpo.email = "privacy@limburg.be".into();
    new.controllers[0].phone = Some("011 23 73 00".into());
    new.controllers[0].cookies.pop();
    new.processors.push(Processor {
        id: "zeticon".into(),
        name: "Zeticon".into(),
        country: "BE".into(),
        location: None,
        contact: None,
        sub_processors: vec![],
    });
    new.activities[0].processors.push("zeticon".into());
    new.processors[1].sub_processors.clear();
    new.agreements.retain(|a| a.id != "rr-machtiging");
    let found = changes(&snapshot(&old), &snapshot(&new));
    assert_eq!(
        found,
        vec![
            Change::Controller {
                aspect: ControllerAspect::Contact
            },
            Change::Controller {
                aspect: ControllerAspect::Dpo
            },
            Change::Controller {
                aspect: ControllerAspect::Cookies
            },
            Change::ActivityChanged {
                activity: "camera".into(),
                name: old.activities[0].name.clone(),
                aspects: vec![ActivityAspect::Processors],
            },
            Change::ProcessorChanged {
                processor: "microsoft".into(),
                name: "Microsoft".into()
            },
            Change::ProcessorAdded {
                processor: "zeticon".into(),
                name: "Zeticon".into()
            },
            Change::AgreementRemoved {
                agreement: "rr-machtiging".into(),
                title: Text::nl("Machtiging Rijksregister")
            },
        ]
    );
    let nl: Vec<String> = found.iter().map(|c| c.describe(Lang::Nl)).collect();
    assert_eq!(
        nl[1],
        "De contactgegevens van onze functionaris voor gegevensbescherming zijn gewijzigd."
    );
    assert_eq!(nl[2], "Het overzicht van de cookies is gewijzigd.");
    assert_eq!(nl[5], "Nieuwe verwerker: Zeticon.");
    for c in &found {
        for lang in Lang::ALL {
            let sentence = c.describe(lang);
            assert!(
                sentence.ends_with('.') && !sentence.contains("statement."),
                "{sentence}"
            );
        }
    }
    // Removing the only user of a processor removes it from the controller's snapshot.
    let mut gone = old.clone();
    gone.activities[2].processors.clear();
    let found = changes(&snapshot(&old), &snapshot(&gone));
    assert!(found.contains(&Change::ProcessorRemoved {
        processor: "microsoft".into(),
        name: "Microsoft".into()
    }));
}

#[test]
fn changes_round_trip_through_json() {
    let change = Change::ActivityChanged {
        activity: "camera".into(),
        name: Text::nl("Camerabewaking").with(Lang::En, "Camera surveillance"),
        aspects: vec![ActivityAspect::Retention],
    };
    let json = serde_json::to_string(&change).unwrap();
    assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), change);
}

// --- Scale and the demo register -----------------------------------------------------------

#[test]
fn a_large_register_generates_every_activity_with_unique_ids() {
    let mut r = register();
    let template = r.activities[2].clone();
    for i in 0..500 {
        let mut a = template.clone();
        a.id = format!("training-{i}");
        r.activities.push(a);
    }
    let started = std::time::Instant::now();
    let s = generate(&r, "limburg", Lang::Nl, &meta()).unwrap();
    let html = render_html(&s);
    // Not a benchmark (see BENCHMARKS.md); printed to spot a regression by eye.
    eprintln!(
        "500 activities: generated and rendered in {:?}",
        started.elapsed()
    );
    assert_eq!(html.matches("<h4 id=\"activity-").count(), 503);
}

#[test]
fn limburg_example_carries_the_facts_of_its_seed() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/limburg.yaml");
    let yaml = std::fs::read_to_string(path).unwrap();
    let register: Register = serde_saphyr::from_str(&yaml).unwrap();
    let s = generate(
        &register,
        "limburg",
        Lang::Nl,
        &StatementMeta {
            version: 1,
            effective_date: date!(2022 - 07 - 18),
            earlier_versions: vec![],
            changes: vec![],
        },
    )
    .unwrap();
    let md = render_markdown(&s);
    for fact in [
        "0207.725.203",
        "dpo@limburg.be",
        "griffie@limburg.be",
        "30 dagen",
        "70 jaar",
        "modelcontractbepalingen",
        "Standard Contractual Clauses",
        "niet gedeeld",
    ] {
        assert!(md.contains(fact), "the Limburg statement lacks {fact:?}");
    }
    assert_fully_translated(&md);
    assert_fully_translated(&render_html(&s));
}

fn anonymisation() -> crate::retention::Anonymisation {
    crate::retention::Anonymisation {
        keep: vec!["zone".into()],
    }
}
