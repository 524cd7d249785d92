//! What is processed and about whom: data categories (the ones the seeds list), special
//! categories of art. 9 and 10, data-subject categories and sources.

use crate::vocabulary;

vocabulary! {
    /// A category of personal data, as the privacy statements name them.
    pub enum DataCategory: "data_category" {
        Identification = "identification",
        Contact = "contact",
        ElectronicIdentification = "electronic_identification",
        NationalNumber = "national_number",
        IdCardNumber = "id_card_number",
        Financial = "financial",
        Patrimony = "patrimony",
        PersonalCharacteristics = "personal_characteristics",
        FamilyComposition = "family_composition",
        Housing = "housing",
        Education = "education",
        Employment = "employment",
        FunctionOrganisation = "function_organisation",
        SoundImage = "sound_image",
        Location = "location",
        Communication = "communication",
        LifestyleLeisure = "lifestyle_leisure",
        Social = "social",
        CaseFile = "case_file",
        Usage = "usage",
    }
}

impl DataCategory {
    /// The nearest W3C DPV personal-data concept (`pd:` namespace).
    pub fn dpv(self) -> &'static str {
        match self {
            DataCategory::Identification => "pd:Identifying",
            DataCategory::Contact => "pd:Contact",
            DataCategory::ElectronicIdentification => "pd:OnlineIdentifier",
            DataCategory::NationalNumber => "pd:NationalIdentificationNumber",
            DataCategory::IdCardNumber => "pd:OfficialID",
            DataCategory::Financial => "pd:Financial",
            DataCategory::Patrimony => "pd:Ownership",
            DataCategory::PersonalCharacteristics => "pd:Demographic",
            DataCategory::FamilyComposition => "pd:Family",
            DataCategory::Housing => "pd:HouseOwned",
            DataCategory::Education => "pd:Education",
            DataCategory::Employment => "pd:Professional",
            DataCategory::FunctionOrganisation => "pd:Job",
            DataCategory::SoundImage => "pd:Image",
            DataCategory::Location => "pd:Location",
            DataCategory::Communication => "pd:Communication",
            DataCategory::LifestyleLeisure => "pd:Behavioural",
            DataCategory::Social => "pd:Social",
            DataCategory::CaseFile => "pd:PersonalDocuments",
            DataCategory::Usage => "pd:UsageHistory",
        }
    }
}

vocabulary! {
    /// A special category of art. 9(1), or criminal data of art. 10.
    pub enum SpecialCategory: "special_category" {
        RacialEthnicOrigin = "racial_ethnic_origin",
        PoliticalOpinions = "political_opinions",
        ReligiousBeliefs = "religious_beliefs",
        TradeUnionMembership = "trade_union_membership",
        Genetic = "genetic",
        Biometric = "biometric",
        Health = "health",
        SexLifeOrientation = "sex_life_orientation",
        CriminalConvictions = "criminal_convictions",
    }
}

impl SpecialCategory {
    pub fn dpv(self) -> &'static str {
        match self {
            SpecialCategory::RacialEthnicOrigin => "pd:Racial",
            SpecialCategory::PoliticalOpinions => "pd:PoliticalOpinion",
            SpecialCategory::ReligiousBeliefs => "pd:Religion",
            SpecialCategory::TradeUnionMembership => "pd:TradeUnionMembership",
            SpecialCategory::Genetic => "pd:Genetic",
            SpecialCategory::Biometric => "pd:Biometric",
            SpecialCategory::Health => "pd:Health",
            SpecialCategory::SexLifeOrientation => "pd:SexualOrientation",
            SpecialCategory::CriminalConvictions => "pd:CriminalConviction",
        }
    }

    /// Criminal data (art. 10) needs a legal basis in law, not an art. 9(2) condition.
    pub fn is_criminal(self) -> bool {
        matches!(self, SpecialCategory::CriminalConvictions)
    }
}

vocabulary! {
    /// A category of data subjects.
    pub enum SubjectCategory: "subject_category" {
        Citizens = "citizens",
        Residents = "residents",
        Visitors = "visitors",
        WebsiteVisitors = "website_visitors",
        Applicants = "applicants",
        Staff = "staff",
        Students = "students",
        Teachers = "teachers",
        Participants = "participants",
        Subscribers = "subscribers",
        Tenants = "tenants",
        Candidates = "candidates",
        Suppliers = "suppliers",
        Contacts = "contacts",
        Clients = "clients",
        Minors = "minors",
        Owners = "owners",
        Volunteers = "volunteers",
    }
}

impl SubjectCategory {
    pub fn dpv(self) -> &'static str {
        match self {
            SubjectCategory::Citizens => "dpv:Citizen",
            SubjectCategory::Residents => "dpv:Citizen",
            SubjectCategory::Visitors => "dpv:Visitor",
            SubjectCategory::WebsiteVisitors => "dpv:Visitor",
            SubjectCategory::Applicants => "dpv:Applicant",
            SubjectCategory::Staff => "dpv:Employee",
            SubjectCategory::Students => "dpv:Student",
            SubjectCategory::Teachers => "dpv:Contractor",
            SubjectCategory::Participants => "dpv:Participant",
            SubjectCategory::Subscribers => "dpv:Subscriber",
            SubjectCategory::Tenants => "dpv:Tenant",
            SubjectCategory::Candidates => "dpv:JobApplicant",
            SubjectCategory::Suppliers => "dpv:Supplier",
            SubjectCategory::Contacts => "dpv:DataSubject",
            SubjectCategory::Clients => "dpv:Client",
            SubjectCategory::Minors => "dpv:Child",
            SubjectCategory::Owners => "dpv:DataSubject",
            SubjectCategory::Volunteers => "dpv:Volunteer",
        }
    }
}

vocabulary! {
    /// An authentic source a public body may consult (with an authorisation or protocol).
    pub enum AuthenticSource: "authentic_source" {
        /// Rijksregister / Registre national (BE national register).
        Rijksregister = "rijksregister",
        /// Kruispuntbank van de Sociale Zekerheid (BE).
        Ksz = "ksz",
        /// Kruispuntbank van Ondernemingen (BE).
        Kbo = "kbo",
        /// Kadaster / patrimoniumdocumentatie (BE: AAPD).
        Kadaster = "kadaster",
        /// Dienst Inschrijving Voertuigen (BE).
        Div = "div",
        /// Nationale Bank van België.
        Nbb = "nbb",
        /// FOD Financiën / BTW.
        Financien = "financien",
        /// Basisregistratie Personen (NL).
        Brp = "brp",
        /// Kamer van Koophandel (NL).
        Kvk = "kvk",
        /// Vlaamse authentieke bronnen via MAGDA.
        Magda = "magda",
    }
}
