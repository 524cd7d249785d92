//! Legal grounds: the six bases of GDPR art. 6(1), the conditions of art. 9(2), and the
//! supervisory authorities, each mapped to its W3C Data Privacy Vocabulary identifier.

use crate::vocabulary;

vocabulary! {
    /// A lawful basis of GDPR art. 6(1). Public task is split the way DPV splits it.
    pub enum LegalBasis: "legal_basis" {
        Consent = "consent",
        Contract = "contract",
        LegalObligation = "legal_obligation",
        VitalInterests = "vital_interests",
        PublicInterest = "public_interest",
        OfficialAuthority = "official_authority",
        LegitimateInterests = "legitimate_interests",
    }
}

impl LegalBasis {
    /// The DPV identifier (`eu-gdpr:` namespace).
    pub fn dpv(self) -> &'static str {
        match self {
            LegalBasis::Consent => "eu-gdpr:A6-1-a",
            LegalBasis::Contract => "eu-gdpr:A6-1-b",
            LegalBasis::LegalObligation => "eu-gdpr:A6-1-c",
            LegalBasis::VitalInterests => "eu-gdpr:A6-1-d",
            LegalBasis::PublicInterest => "eu-gdpr:A6-1-e-public-interest",
            LegalBasis::OfficialAuthority => "eu-gdpr:A6-1-e-official-authority",
            LegalBasis::LegitimateInterests => "eu-gdpr:A6-1-f",
        }
    }

    /// The article, as a supervisory authority writes it.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "art. 6(1)(a)",
            LegalBasis::Contract => "art. 6(1)(b)",
            LegalBasis::LegalObligation => "art. 6(1)(c)",
            LegalBasis::VitalInterests => "art. 6(1)(d)",
            LegalBasis::PublicInterest | LegalBasis::OfficialAuthority => "art. 6(1)(e)",
            LegalBasis::LegitimateInterests => "art. 6(1)(f)",
        }
    }
}

vocabulary! {
    /// A condition of GDPR art. 9(2) that lifts the ban on processing special categories.
    pub enum Art9Condition: "art9_condition" {
        ExplicitConsent = "explicit_consent",
        EmploymentSocialSecurity = "employment_social_security",
        VitalInterests = "vital_interests",
        NotForProfitBody = "not_for_profit_body",
        MadePublic = "made_public",
        LegalClaims = "legal_claims",
        SubstantialPublicInterest = "substantial_public_interest",
        HealthOrSocialCare = "health_or_social_care",
        PublicHealth = "public_health",
        ArchivingResearchStatistics = "archiving_research_statistics",
    }
}

impl Art9Condition {
    /// The DPV identifier (`eu-gdpr:A9-2-a` ... `A9-2-j`).
    pub fn dpv(self) -> &'static str {
        match self {
            Art9Condition::ExplicitConsent => "eu-gdpr:A9-2-a",
            Art9Condition::EmploymentSocialSecurity => "eu-gdpr:A9-2-b",
            Art9Condition::VitalInterests => "eu-gdpr:A9-2-c",
            Art9Condition::NotForProfitBody => "eu-gdpr:A9-2-d",
            Art9Condition::MadePublic => "eu-gdpr:A9-2-e",
            Art9Condition::LegalClaims => "eu-gdpr:A9-2-f",
            Art9Condition::SubstantialPublicInterest => "eu-gdpr:A9-2-g",
            Art9Condition::HealthOrSocialCare => "eu-gdpr:A9-2-h",
            Art9Condition::PublicHealth => "eu-gdpr:A9-2-i",
            Art9Condition::ArchivingResearchStatistics => "eu-gdpr:A9-2-j",
        }
    }
}

vocabulary! {
    /// A supervisory authority a controller answers to and citizens complain to.
    pub enum SupervisoryAuthority: "authority" {
        /// Gegevensbeschermingsautoriteit / Autorité de protection des données (BE, federal).
        Gba = "gba",
        /// Vlaamse Toezichtcommissie (BE, Flemish public sector).
        Vtc = "vtc",
        /// Autoriteit Persoonsgegevens (NL).
        Ap = "ap",
    }
}

impl SupervisoryAuthority {
    /// Where a citizen files a complaint.
    pub fn website(self) -> &'static str {
        match self {
            SupervisoryAuthority::Gba => "https://www.gegevensbeschermingsautoriteit.be",
            SupervisoryAuthority::Vtc => "https://www.vlaamsetoezichtcommissie.be",
            SupervisoryAuthority::Ap => "https://www.autoriteitpersoonsgegevens.nl",
        }
    }
}

vocabulary! {
    /// How a transfer outside the EEA is safeguarded (GDPR chapter V).
    pub enum TransferSafeguard: "safeguard" {
        AdequacyDecision = "adequacy_decision",
        StandardContractualClauses = "standard_contractual_clauses",
        BindingCorporateRules = "binding_corporate_rules",
        CodeOfConduct = "code_of_conduct",
        Certification = "certification",
        Derogation = "derogation",
    }
}

impl TransferSafeguard {
    pub fn article(self) -> &'static str {
        match self {
            TransferSafeguard::AdequacyDecision => "art. 45",
            TransferSafeguard::StandardContractualClauses => "art. 46(2)(c)",
            TransferSafeguard::BindingCorporateRules => "art. 47",
            TransferSafeguard::CodeOfConduct => "art. 46(2)(e)",
            TransferSafeguard::Certification => "art. 46(2)(f)",
            TransferSafeguard::Derogation => "art. 49",
        }
    }

    pub fn dpv(self) -> &'static str {
        match self {
            TransferSafeguard::AdequacyDecision => "eu-gdpr:A45-3",
            TransferSafeguard::StandardContractualClauses => "eu-gdpr:A46-2-c",
            TransferSafeguard::BindingCorporateRules => "eu-gdpr:A47-1",
            TransferSafeguard::CodeOfConduct => "eu-gdpr:A46-2-e",
            TransferSafeguard::Certification => "eu-gdpr:A46-2-f",
            TransferSafeguard::Derogation => "eu-gdpr:A49-1",
        }
    }
}
