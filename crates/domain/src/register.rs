//! The register of processing activities (GDPR art. 30) as structured data.
//!
//! This is also the YAML format DPOs write ("register as code"): field names here are the
//! keys in the file, and unknown keys are refused so that a typo never silently drops a fact.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::category::{AuthenticSource, DataCategory, SpecialCategory, SubjectCategory};
use crate::identifiers::EnterpriseNumber;
use crate::legal::{Art9Condition, LegalBasis, SupervisoryAuthority, TransferSafeguard};
use crate::retention::RetentionSchedule;
use crate::text::Text;
use crate::vocabulary;

/// A stable, URL-safe identifier chosen by the DPO: lowercase letters, digits and dashes.
pub type Slug = String;

/// The whole register of a deployment: one or more controllers and what they process.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    #[serde(default)]
    pub controllers: Vec<Controller>,
    #[serde(default)]
    pub processors: Vec<Processor>,
    #[serde(default)]
    pub agreements: Vec<Agreement>,
    #[serde(default)]
    pub activities: Vec<ProcessingActivity>,
}

/// A controller (verwerkingsverantwoordelijke): a province, a city, an OCMW, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    pub id: Slug,
    pub name: Text,
    /// The department that processes, when the statement names one (e.g. "dienst PLOT").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<Text>,
    pub address: Address,
    /// Belgian enterprise number (KBO/BCE), validated with its check digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_number: Option<EnterpriseNumber>,
    /// Dutch chamber of commerce number, for Dutch controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvk_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The controller's representative, when it has one (art. 30(1)(a)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<Text>,
    pub dpo: Dpo,
    /// The authorities that supervise this controller; the first is where complaints go.
    pub supervisory_authorities: Vec<SupervisoryAuthority>,
    /// How citizens exercise their rights with this controller.
    pub rights_contact: RightsContact,
    /// Controllers this one shares controllership with (art. 26), e.g. city and OCMW.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joint_controllers: Vec<Slug>,
    /// The opening words of the statement, in the controller's own voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<Text>,
    /// Cookies and similar techniques on the controller's websites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<Cookie>,
    /// Security measures that apply to every activity of this controller (art. 32).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_measures: Vec<Text>,
    /// How significant changes of the statement are announced to citizens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_notice: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// ISO 3166-1 alpha-2 code: BE or NL for the controllers kluis serves.
    pub country: Country,
}

vocabulary! {
    /// Countries whose public bodies kluis serves; decides holidays and authorities.
    pub enum Country: "country" {
        Be = "BE",
        Nl = "NL",
    }
}

/// The data protection officer (functionaris voor gegevensbescherming).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The channels through which a citizen exercises a right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightsContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_form: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<Text>,
    /// What the person adds to prove identity, e.g. a copy of the front of the ID card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_proof: Option<Text>,
}

impl RightsContact {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.postal_address.is_none()
            && self.web_form.is_none()
            && self.desk.is_none()
    }
}

vocabulary! {
    /// What a cookie is for; only functional cookies may be set without consent.
    pub enum CookieType: "cookie_type" {
        Functional = "functional",
        Analytics = "analytics",
        Preferences = "preferences",
        Marketing = "marketing",
        Social = "social",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cookie {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CookieType,
    pub purpose: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// How long the cookie lives, as said to the visitor ("13 maanden", "sessie").
    pub lifetime: Text,
}

/// A processor (verwerker) that processes personal data on a controller's behalf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processor {
    pub id: Slug,
    pub name: String,
    /// Where the processor is established (ISO 3166-1 alpha-2).
    pub country: String,
    /// Where the data is processed or stored, when it differs or is worth saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_processors: Vec<SubProcessor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubProcessor {
    pub name: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Text>,
}

/// A written arrangement behind a processing: a processor agreement (art. 28), a
/// data-exchange protocol between public bodies (BE law of 30 July 2018, art. 20), an
/// authorisation to consult an authentic source, or a joint-controller arrangement (art. 26).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    pub id: Slug,
    pub title: Text,
    /// What the agreement is, with the facts that kind needs, e.g.
    /// `kind: {processor_agreement: {processor: cipal}}`.
    pub kind: AgreementKind,
    /// The controller(s) that are party to it.
    pub controllers: Vec<Slug>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_url: Option<String>,
    /// Whether the statement lists it in its overview of authorisations and protocols.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub public: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AgreementKind {
    ProcessorAgreement {
        processor: Slug,
    },
    DataExchangeProtocol(Box<Protocol>),
    Authorisation {
        /// Who granted it (e.g. the information security committee, a minister).
        granted_by: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<AuthenticSource>,
    },
    JointControllerArrangement {
        /// The essence of the arrangement made available to data subjects (art. 26(2)).
        essence: Text,
    },
}

impl AgreementKind {
    pub fn name(&self) -> &'static str {
        match self {
            AgreementKind::ProcessorAgreement { .. } => "processor_agreement",
            AgreementKind::DataExchangeProtocol(_) => "data_exchange_protocol",
            AgreementKind::Authorisation { .. } => "authorisation",
            AgreementKind::JointControllerArrangement { .. } => "joint_controller_arrangement",
        }
    }
}

/// The fourteen items a protocol must hold (BE law of 30 July 2018, art. 20 §1), and the
/// advice of both DPOs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// 1. The public body or organisation transferring the data.
    pub transferring_party: Text,
    /// 1. The party receiving the data.
    pub receiving_party: Text,
    /// 2. The controllers of both sides.
    pub controllers: Vec<Text>,
    /// 3. Both DPOs.
    pub dpos: Vec<Text>,
    /// 4. The purposes of the transfer.
    pub purposes: Vec<Text>,
    /// 5. The categories of data transferred and their format.
    pub data_categories: Vec<DataCategory>,
    pub data_format: Text,
    /// 6. The categories of recipients.
    pub recipient_categories: Vec<Text>,
    /// 7. The legal basis.
    pub legal_basis: Text,
    /// 8. How the data is communicated.
    pub communication_method: Text,
    /// 9. Specific measures to secure the transfer.
    pub specific_measures: Vec<Text>,
    /// 10. Limits on data-subject rights.
    pub restrictions_on_rights: Text,
    /// 11. How data-subject rights are handled.
    pub rights_handling: Text,
    /// 12. How often data is transferred.
    pub periodicity: Text,
    /// 13. How long the protocol runs.
    pub duration: Text,
    /// 14. Sanctions when the protocol is not respected.
    pub sanctions: Text,
    /// The advice of the DPOs of both parties (art. 20 §2), with its date.
    pub dpo_advice: Vec<DpoAdvice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpoAdvice {
    pub party: Text,
    pub given_on: Date,
    pub summary: Text,
}

vocabulary! {
    /// Where a processing activity stands in its life.
    pub enum ActivityStatus: "activity_status" {
        Draft = "draft",
        Active = "active",
        Retired = "retired",
    }
}

/// A processing activity (verwerkingsactiviteit): one line of the art. 30 register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingActivity {
    pub id: Slug,
    /// The controller responsible; joint controllers are listed on the controller.
    pub controller: Slug,
    pub name: Text,
    #[serde(default = "active", skip_serializing_if = "is_active")]
    pub status: ActivityStatus,
    /// Why the data is processed (art. 30(1)(b)); at least one.
    pub purposes: Vec<Text>,
    /// The lawful bases of art. 6(1), each with its reference in law where there is one.
    pub legal_bases: Vec<LegalBasisClaim>,
    /// How consent is given and withdrawn; required when a basis is consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentTerms>,
    pub data_categories: Vec<DataCategory>,
    /// What exactly is processed, in the statement's words ("titel, naam, voornaam, ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_description: Option<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_categories: Vec<SpecialCategoryClaim>,
    pub subject_categories: Vec<SubjectCategory>,
    /// Where the data comes from (art. 14(2)(f)).
    pub sources: Vec<Source>,
    /// Who the data is shared with (art. 30(1)(d)); an empty list says "not shared",
    /// leaving it out says nothing and is reported by the completeness check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<Recipient>>,
    /// Processors used, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<Slug>,
    /// Applications that hold the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
    /// Transfers outside the EEA (art. 30(1)(e)); an empty list says "none".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    /// Agreements that govern this processing (protocols, authorisations, ...), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreements: Vec<Slug>,
    /// How long data is kept: one schedule per kind of record (art. 30(1)(f)).
    pub retention: Vec<RetentionSchedule>,
    #[serde(default, skip_serializing_if = "AutomatedDecisionMaking::is_none")]
    pub automated_decision_making: AutomatedDecisionMaking,
    /// Measures specific to this activity; the controller's general measures also apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_measures: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpia: Option<Dpia>,
    /// Anything else a citizen should know ("aanvullende informatie").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<Text>,
}

fn active() -> ActivityStatus {
    ActivityStatus::Active
}

fn is_active(s: &ActivityStatus) -> bool {
    *s == ActivityStatus::Active
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasisClaim {
    pub basis: LegalBasis,
    /// The law or decree the basis rests on, e.g. "Camerawet van 21 maart 2007".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
}

/// How consent is asked and withdrawn for an activity that rests on consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentTerms {
    /// How the person withdraws: as easy as giving (art. 7(3)).
    pub withdrawal: Text,
    /// Whether the consent must be explicit (art. 9(2)(a), targeted photos).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
    /// Whether a parent or guardian consents for children under 16.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parental_for_minors: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialCategoryClaim {
    pub category: SpecialCategory,
    /// The art. 9(2) condition; criminal data (art. 10) names a reference in law instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Art9Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
}

/// Where personal data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// From the person (or their parent or guardian).
    DataSubject,
    /// Collected when the person uses the controller's websites and online services.
    OnlineServices,
    /// A named authentic source.
    AuthenticSource(AuthenticSource),
    /// Another public authority.
    OtherAuthority(Text),
    /// A partner, an employer, a third party.
    ThirdParty(Text),
    /// Public sources (publications, public registers).
    PublicSource(Text),
}

vocabulary! {
    /// What kind of party receives data.
    pub enum RecipientKind: "recipient_kind" {
        DataSubject = "data_subject",
        PublicAuthority = "public_authority",
        PoliceJustice = "police_justice",
        Internal = "internal",
        Partner = "partner",
        Processor = "processor",
        ThirdParty = "third_party",
        Public = "public",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub name: Text,
    pub kind: RecipientKind,
    /// Set when the recipient is outside the EEA; then a transfer must say its safeguard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    /// The processor that supplies or hosts it, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<Slug>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Who receives the data outside the EEA (e.g. "Microsoft (MS Teams)").
    pub recipient: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub safeguard: TransferSafeguard,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Text>,
}

/// Automated decision-making, including profiling (art. 22).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AutomatedDecisionMaking {
    /// No decision is made by automated means alone.
    #[default]
    None,
    Used {
        /// Meaningful information about the logic involved.
        logic: Text,
        /// The significance and envisaged consequences for the person.
        consequences: Text,
    },
}

impl AutomatedDecisionMaking {
    pub fn is_none(&self) -> bool {
        matches!(self, AutomatedDecisionMaking::None)
    }
}

/// A data protection impact assessment (art. 35).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpia {
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Text>,
}

impl Register {
    pub fn controller(&self, id: &str) -> Option<&Controller> {
        self.controllers.iter().find(|c| c.id == id)
    }

    pub fn processor(&self, id: &str) -> Option<&Processor> {
        self.processors.iter().find(|p| p.id == id)
    }

    pub fn agreement(&self, id: &str) -> Option<&Agreement> {
        self.agreements.iter().find(|a| a.id == id)
    }

    pub fn activity(&self, id: &str) -> Option<&ProcessingActivity> {
        self.activities.iter().find(|a| a.id == id)
    }

    /// The activities of one controller, in register order.
    pub fn activities_of<'a>(
        &'a self,
        controller: &'a str,
    ) -> impl Iterator<Item = &'a ProcessingActivity> + 'a {
        self.activities
            .iter()
            .filter(move |a| a.controller == controller)
    }

    /// The part of the register that one controller's statement is made of: the
    /// controller, its activities, and the processors and agreements they refer to.
    pub fn for_controller(&self, controller: &str) -> Option<Register> {
        let c = self.controller(controller)?.clone();
        let activities: Vec<_> = self
            .activities_of(controller)
            .filter(|a| a.status != ActivityStatus::Draft)
            .cloned()
            .collect();
        let processors = self
            .processors
            .iter()
            .filter(|p| {
                activities.iter().any(|a| {
                    a.processors.contains(&p.id)
                        || a.applications
                            .iter()
                            .any(|app| app.processor.as_ref() == Some(&p.id))
                })
            })
            .cloned()
            .collect();
        let agreements = self
            .agreements
            .iter()
            .filter(|ag| ag.controllers.iter().any(|x| x == controller))
            .cloned()
            .collect();
        Some(Register {
            controllers: vec![c],
            processors,
            agreements,
            activities,
        })
    }
}
