//! The OpenAPI 3.1 document, built from the operation table below.
//!
//! The register handlers are generic over the kind of entry, which derive-based OpenAPI
//! generators cannot describe; one table of operations is the single place the document
//! comes from, and a test checks that every operation in it is routed.

use axum::Json;
use serde_json::{Map, Value, json};

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// The schema of the request body, if any.
    pub body: Option<&'static str>,
    /// The schema of the 2xx response, if any.
    pub returns: Option<&'static str>,
    /// Whether the operation answers without a token.
    pub public: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    returns: Option<&'static str>,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        tag,
        body,
        returns,
        public: false,
    }
}

pub const OPERATIONS: &[Operation] = &[
    Operation {
        public: true,
        ..op(
            "get",
            "/api/v1/openapi.json",
            "meta",
            "This document",
            None,
            None,
        )
    },
    op(
        "get",
        "/api/v1/controllers",
        "controllers",
        "List controllers with their versions",
        None,
        Some("ControllerList"),
    ),
    op(
        "post",
        "/api/v1/controllers",
        "controllers",
        "Create a controller",
        Some("Controller"),
        Some("Controller"),
    ),
    op(
        "get",
        "/api/v1/controllers/{id}",
        "controllers",
        "Read a controller (ETag = version)",
        None,
        Some("Controller"),
    ),
    op(
        "put",
        "/api/v1/controllers/{id}",
        "controllers",
        "Replace a controller (If-Match required)",
        Some("Controller"),
        Some("Controller"),
    ),
    op(
        "delete",
        "/api/v1/controllers/{id}",
        "controllers",
        "Delete an unreferenced controller (If-Match required)",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/processors",
        "processors",
        "List processors",
        None,
        Some("ProcessorList"),
    ),
    op(
        "post",
        "/api/v1/processors",
        "processors",
        "Create a processor",
        Some("Processor"),
        Some("Processor"),
    ),
    op(
        "get",
        "/api/v1/processors/{id}",
        "processors",
        "Read a processor (ETag = version)",
        None,
        Some("Processor"),
    ),
    op(
        "put",
        "/api/v1/processors/{id}",
        "processors",
        "Replace a processor (If-Match required)",
        Some("Processor"),
        Some("Processor"),
    ),
    op(
        "delete",
        "/api/v1/processors/{id}",
        "processors",
        "Delete an unreferenced processor (If-Match required)",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/agreements",
        "agreements",
        "List processor agreements, protocols, authorisations and joint-controller arrangements",
        None,
        Some("AgreementList"),
    ),
    op(
        "post",
        "/api/v1/agreements",
        "agreements",
        "Create an agreement",
        Some("Agreement"),
        Some("Agreement"),
    ),
    op(
        "get",
        "/api/v1/agreements/{id}",
        "agreements",
        "Read an agreement (ETag = version)",
        None,
        Some("Agreement"),
    ),
    op(
        "put",
        "/api/v1/agreements/{id}",
        "agreements",
        "Replace an agreement (If-Match required)",
        Some("Agreement"),
        Some("Agreement"),
    ),
    op(
        "delete",
        "/api/v1/agreements/{id}",
        "agreements",
        "Delete an unreferenced agreement (If-Match required)",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/activities",
        "activities",
        "List processing activities (?controller= filters)",
        None,
        Some("ActivityList"),
    ),
    op(
        "post",
        "/api/v1/activities",
        "activities",
        "Create a processing activity",
        Some("ProcessingActivity"),
        Some("ProcessingActivity"),
    ),
    op(
        "get",
        "/api/v1/activities/{id}",
        "activities",
        "Read the version in force (ETag = version)",
        None,
        Some("ProcessingActivity"),
    ),
    op(
        "put",
        "/api/v1/activities/{id}",
        "activities",
        "Edit an activity: creates a new version (If-Match required); retire with status: retired",
        Some("ProcessingActivity"),
        Some("ProcessingActivity"),
    ),
    op(
        "get",
        "/api/v1/activities/{id}/versions",
        "activities",
        "Every version of an activity with its validity start",
        None,
        Some("ActivityVersions"),
    ),
    op(
        "get",
        "/api/v1/activities/{id}/completeness",
        "activities",
        "What art. 30(1) requires and the activity lacks",
        None,
        Some("Completeness"),
    ),
    op(
        "post",
        "/api/v1/subjects",
        "inventory",
        "Record a data subject under an activity (200 with the existing one when the national number or BSN is known)",
        Some("NewSubject"),
        Some("Subject"),
    ),
    op(
        "post",
        "/api/v1/subjects/search",
        "inventory",
        "Find data subjects by one identifier, within need-to-know; every hit is logged",
        Some("Search"),
        Some("SearchResult"),
    ),
    op(
        "get",
        "/api/v1/subjects/{id}",
        "inventory",
        "A data subject with the records of the caller's activities (403, logged, outside them)",
        None,
        Some("Subject"),
    ),
    op(
        "post",
        "/api/v1/subjects/{id}/records",
        "inventory",
        "Record personal data; the retention deadline is computed from the activity's rule",
        Some("NewRecord"),
        Some("Record"),
    ),
    op(
        "post",
        "/api/v1/subjects/{id}/disclosures",
        "inventory",
        "Record a disclosure outside the authority, with recipient and legal ground",
        Some("Disclosure"),
        None,
    ),
    op(
        "patch",
        "/api/v1/records/{id}",
        "inventory",
        "Change a record's fields, source or event dates (If-Match required)",
        Some("RecordPatch"),
        Some("Record"),
    ),
    op(
        "get",
        "/api/v1/log",
        "log",
        "Processing-log entries by ?trace=, ?activity= or ?subject= (400 without one)",
        None,
        Some("LogEntries"),
    ),
    op(
        "post",
        "/api/v1/subjects/{id}/consents",
        "consent",
        "Record consent given on paper, orally, by e-mail or through a form (renews a valid one)",
        Some("NewConsent"),
        Some("Consent"),
    ),
    op(
        "get",
        "/api/v1/subjects/{id}/consents",
        "consent",
        "A person's consents for the caller's purposes, with their history",
        None,
        Some("Consents"),
    ),
    op(
        "get",
        "/api/v1/consents/{id}",
        "consent",
        "One consent with its history and its one-click unsubscribe link",
        None,
        Some("Consent"),
    ),
    op(
        "post",
        "/api/v1/consents/{id}/withdrawal",
        "consent",
        "Withdraw consent at the person's request (idempotent)",
        None,
        Some("Withdrawal"),
    ),
    op(
        "get",
        "/api/v1/consents/{id}/iso27560",
        "consent",
        "The consent as an ISO/IEC TS 27560 consent record",
        None,
        Some("Iso27560Record"),
    ),
    op(
        "post",
        "/api/v1/consent/check",
        "consent",
        "May this purpose use these people's data now? (1 to 1,000 people per call)",
        Some("ConsentCheck"),
        Some("ConsentCheckResult"),
    ),
    op(
        "post",
        "/api/v1/media",
        "media",
        "Record a photo or video: targeted (identifiable people, consent) or overview",
        Some("NewMediaItem"),
        Some("MediaItem"),
    ),
    op(
        "get",
        "/api/v1/media/{id}",
        "media",
        "A media item with the people on it and its removal requests (the read is logged)",
        None,
        Some("MediaItem"),
    ),
    op(
        "post",
        "/api/v1/media/{id}/subjects",
        "media",
        "Link a person identifiable on the item (targeted: 422 without valid consent; 200 if already linked)",
        Some("MediaLink"),
        Some("MediaItem"),
    ),
    op(
        "post",
        "/api/v1/media/{id}/removal-requests",
        "media",
        "Record a request to remove the item; a published item goes on the take-down list",
        Some("MediaRemovalRequest"),
        Some("MediaItem"),
    ),
    op(
        "get",
        "/api/v1/media/take-down",
        "media",
        "Published items of the caller's activities to take down: consent ended or removal requested",
        None,
        Some("MediaItems"),
    ),
    op(
        "post",
        "/api/v1/media/{id}/taken-down",
        "media",
        "Record that the item was taken down (idempotent); it leaves the take-down list",
        None,
        Some("MediaItem"),
    ),
    op(
        "get",
        "/api/v1/breaches",
        "breaches",
        "The register of data breaches, most recent first (?open=true, ?overdue=true: 72 hours passed, not notified)",
        None,
        Some("Breaches"),
    ),
    op(
        "post",
        "/api/v1/breaches",
        "breaches",
        "Register a data breach (art. 33(5)); an awareness time in the future is refused (422)",
        Some("NewBreach"),
        Some("Breach"),
    ),
    op(
        "get",
        "/api/v1/breaches/{id}",
        "breaches",
        "A breach with its 72-hour clock, notifications and art. 34 decision (ETag = version)",
        None,
        Some("Breach"),
    ),
    op(
        "patch",
        "/api/v1/breaches/{id}",
        "breaches",
        "Change the fields given (If-Match required: 428 without, 409 when stale; null clears)",
        Some("BreachPatch"),
        Some("Breach"),
    ),
    op(
        "post",
        "/api/v1/breaches/{id}/notifications",
        "breaches",
        "Record a phase of the notification to the supervisory authority (art. 33(4)); a late initial notice needs delay_reason; with If-Match only on that version (409 when stale)",
        Some("BreachNotification"),
        Some("Breach"),
    ),
    op(
        "put",
        "/api/v1/breaches/{id}/art34-decision",
        "breaches",
        "Record whether the people affected are told (art. 34), or the art. 34(3) ground for not telling them; with If-Match only on that version (409 when stale)",
        Some("Art34Decision"),
        Some("Breach"),
    ),
    op(
        "get",
        "/api/v1/breaches/{id}/notification-draft",
        "breaches",
        "The supervisory authority's form filled in from the file (?authority=gba|vtc|ap&lang=nl|fr)",
        None,
        Some("NotificationDraft"),
    ),
    op(
        "post",
        "/api/v1/breaches/{id}/affected",
        "breaches",
        "Find the people affected in the vault and the connected systems (logged for breach handling; people in systems listed by their identifiers when the risk is high or they are to be told); with notify=true queue a mail to each person of the vault in their language",
        Some("AffectedQuery"),
        Some("Affected"),
    ),
    op(
        "get",
        "/api/v1/log/head",
        "log",
        "The chain's head: the anchor to keep outside kluis",
        None,
        Some("Anchor"),
    ),
    op(
        "put",
        "/api/v1/users/{username}/activities/{activity}",
        "staff",
        "Assign a staff member to a processing activity",
        None,
        None,
    ),
    op(
        "delete",
        "/api/v1/users/{username}/activities/{activity}",
        "staff",
        "End a staff member's assignment",
        None,
        None,
    ),
    op(
        "post",
        "/api/v1/users/{username}/confidentiality-statements",
        "staff",
        "Record a signed confidentiality statement",
        Some("NewConfidentialityStatement"),
        Some("Clearance"),
    ),
    op(
        "get",
        "/api/v1/users/{username}/clearance",
        "staff",
        "A staff member's assignments and latest confidentiality statement",
        None,
        Some("Clearance"),
    ),
    op(
        "get",
        "/api/v1/register",
        "register",
        "Export the register (?format=yaml|json|csv|dpv; csv takes ?lang=)",
        None,
        Some("Register"),
    ),
    op(
        "put",
        "/api/v1/register",
        "register",
        "Import a register YAML document atomically (?prune=true retires what it lacks)",
        Some("RegisterYaml"),
        Some("ImportSummary"),
    ),
    op(
        "get",
        "/api/v1/controllers/{id}/statement",
        "statements",
        "Preview the privacy statement from the current register (?lang=nl|en|fr&format=html|md)",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/controllers/{id}/statement/versions",
        "statements",
        "Published versions of the statement",
        None,
        Some("StatementVersions"),
    ),
    op(
        "post",
        "/api/v1/controllers/{id}/statement/versions",
        "statements",
        "Publish the statement as a new version with an effective date",
        Some("Publish"),
        Some("StatementVersion"),
    ),
    op(
        "get",
        "/api/v1/cookie-choices/summary",
        "consent",
        "Cookie choices on the authority's websites counted per banner version, source and choice (?controller=)",
        None,
        Some("CookieChoiceSummary"),
    ),
    op(
        "post",
        "/api/v1/rights-requests",
        "rights",
        "Register a data-subject rights request received by e-mail, letter or at the desk (the receipt is mailed; the status link is shown once)",
        Some("NewRightsRequest"),
        Some("FiledRightsRequest"),
    ),
    op(
        "get",
        "/api/v1/rights-requests",
        "rights",
        "Rights requests, due first (?filter=open|overdue|due_soon|all)",
        None,
        Some("RightsRequestList"),
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}",
        "rights",
        "A rights request with its personal data, decisions and timeline (ETag = version)",
        None,
        Some("RightsRequest"),
    ),
    op(
        "post",
        "/api/v1/rights-requests/{id}/changes",
        "rights",
        "One step with If-Match: request_identity, verify_identity, decide, close or extend; a step the stage does not allow is refused with 422 (carrying out is POST .../fulfilment)",
        Some("RightsRequestChange"),
        Some("RightsRequest"),
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/documents/{document}",
        "rights",
        "The requester's ID copy (its own content type), to compare with the inventory; each look goes on the timeline; 404 once destroyed",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/default-decisions",
        "rights",
        "The decisions the register supplies per right and processing activity, to confirm",
        None,
        Some("DefaultDecisionList"),
    ),
    op(
        "put",
        "/api/v1/rights-requests/{id}/assignee",
        "rights",
        "Assign the request, with If-Match, to the caseworker or DPO who handles it and gets its daily reminder; 422 for someone who may not handle requests",
        Some("Assignee"),
        Some("RightsRequest"),
    ),
    op(
        "post",
        "/api/v1/rights-requests/{id}/fulfilment",
        "rights",
        "Carry out what was granted in the vault and every connected system (resumes after a failure; done actions are never redone); optional {\"done_by_hand\": note} confirms the actions by hand; 409 when the request may not be carried out",
        Some("FulfilmentRun"),
        Some("FulfilmentStatus"),
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/fulfilment",
        "rights",
        "The actions per right, activity and place with their status, and the recipients to tell (GDPR art. 19)",
        None,
        Some("FulfilmentStatus"),
    ),
    op(
        "post",
        "/api/v1/rights-requests/{id}/rectifications",
        "rights",
        "Rectify one column of the person's rows in one table of a connected system (GDPR art. 16), recorded on the timeline and in the processing log (not the value), the old and new values kept sealed with the request, and the request's rectification action for the system marked done where rectification was granted whole; the answer gives each changed row's old value by primary key; 422 for an unknown system or a column the dataset map does not list, 409 unless rectification was granted for an activity the system serves, 502 with the system's error when it could not be done there",
        Some("SystemRectificationRun"),
        Some("SystemRectification"),
    ),
    op(
        "post",
        "/api/v1/subjects/{id}/restrictions/lift",
        "rights",
        "Lift the restriction of the subject's data under an activity once the person was told (GDPR art. 18(3)): the marks its request set in connected systems are cleared first, then the vault's restriction is lifted; 422 for another request's reference, a told-on day after today or no reason, 403 without need-to-know of the activity, 502 naming the system when its marks could not be cleared (the restriction then stays in force)",
        Some("RestrictionLift"),
        Some("RestrictionLifted"),
    ),
    op(
        "post",
        "/api/v1/subjects/{id}/objections/compelling-grounds",
        "rights",
        "Record the compelling legitimate grounds that override the subject's objection under an activity (GDPR art. 21(1)), so processing continues: the marks the objection's request set in connected systems are cleared first; 422 without grounds or for a request that did not object, 403 without need-to-know of the activity, 502 naming the system when its marks could not be cleared (the objection then stays in force)",
        Some("CompellingGrounds"),
        Some("ObjectionOverridden"),
    ),
    op(
        "post",
        "/api/v1/rights-requests/{id}/recipients-told",
        "rights",
        "Record that a recipient of the data was told of a rectification, erasure or restriction (art. 19); closing is refused until all are",
        Some("RecipientTold"),
        Some("FulfilmentStatus"),
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/access-package",
        "rights",
        "The access package (art. 15): ?format=html|pdf|zip; the data, purposes, recipients, retention, source, rights and who consulted the data; 409 before the identity is verified and access granted",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/letter",
        "rights",
        "The latest letter to the person (closing letter, extension, request for proof of identity) as a PDF to print and post: the person's address, the date, the letter as mailed; 422 when nothing was written to the person yet",
        None,
        None,
    ),
    op(
        "get",
        "/api/v1/rights-requests/{id}/portability",
        "rights",
        "The data the person provided under consent or contract (art. 20), ?format=json|csv; 409 unless portability was granted",
        None,
        None,
    ),
    op(
        "post",
        "/api/v1/rights-requests/{id}/portability/transmissions",
        "rights",
        "Send the portability export (art. 20(2)) straight to another controller's HTTPS endpoint; 422 for a non-https endpoint, credentials in it, no recipient, or a host on an internal network (loopback, private, link-local...) not in [rights] portability_allowed_hosts (nothing sent; a failed transmission on the timeline), 409 while no data may be released, 502 with the endpoint's answer when it was not taken (a failed transmission on the timeline)",
        Some("PortabilityTransmission"),
        Some("PortabilityTransmitted"),
    ),
];

/// Register entries are documented by the register format in README.md; their JSON is
/// the same as their YAML.
fn schemas() -> Value {
    let entry = |what: &str| json!({"type": "object", "description": format!("A {what} of the register, as in the register YAML format (README.md, \"Register format\"); unknown fields are refused.")});
    let list = |item: &str| json!({"type": "array", "items": {"allOf": [{"$ref": format!("#/components/schemas/{item}")}, {"type": "object", "properties": {"version": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}}}]}});
    // Apart: inside the big object it would nest deeper than `json!` may.
    let affected_system = json!({"type": "object", "properties": {"system": {"type": "string"}, "activities": {"type": "array", "items": {"type": "string"}}, "tables": {"type": "array", "items": {"type": "object", "properties": {"table": {"type": "string"}, "rows": {"type": "integer"}, "categories": {"type": "array", "items": {"type": "string"}}, "window_applied": {"type": "boolean"}}}}, "rows": {"type": "integer"}, "people": {"type": "integer"}, "listed": {"type": "array", "items": {"type": "object", "properties": {"identifiers": {"type": "object", "additionalProperties": {"type": "string"}}, "categories": {"type": "array", "items": {"type": "string"}}, "in_vault": {"type": "boolean"}, "also_in": {"type": "string"}}}}, "cap": {"type": "integer"}, "notes": {"type": "array", "items": {"type": "string"}}, "error": {"type": "string"}}});
    let told_in_systems = json!({"type": "object", "description": "With notify: people found only in connected systems, mailed once per address and breach in the controller's language, or to tell by post", "properties": {"queued": {"type": "object", "additionalProperties": {"type": "integer"}}, "already_told": {"type": "integer"}, "to_tell_by_post": {"type": "array", "items": {"type": "object", "properties": {"system": {"type": "string"}, "identifiers": {"type": "object", "additionalProperties": {"type": "string"}}}}}, "errors": {"type": "object", "additionalProperties": {"type": "string"}}}});
    json!({
        "Controller": entry("controller"),
        "Processor": entry("processor"),
        "Agreement": entry("agreement"),
        "ProcessingActivity": entry("processing activity"),
        "Register": {"type": "object", "properties": {"controllers": {"type": "array", "items": {"$ref": "#/components/schemas/Controller"}}, "processors": {"type": "array", "items": {"$ref": "#/components/schemas/Processor"}}, "agreements": {"type": "array", "items": {"$ref": "#/components/schemas/Agreement"}}, "activities": {"type": "array", "items": {"$ref": "#/components/schemas/ProcessingActivity"}}}},
        "RegisterYaml": {"type": "string", "description": "A register in YAML (content type application/yaml)."},
        "ControllerList": list("Controller"),
        "ProcessorList": list("Processor"),
        "AgreementList": list("Agreement"),
        "ActivityList": list("ProcessingActivity"),
        "ActivityVersions": {"type": "array", "items": {"type": "object", "required": ["version", "valid_from", "recorded_by", "activity"], "properties": {"version": {"type": "integer"}, "valid_from": {"type": "string", "format": "date-time"}, "recorded_by": {"type": "string"}, "activity": {"$ref": "#/components/schemas/ProcessingActivity"}}}},
        "Completeness": {"type": "object", "properties": {"activity": {"type": "string"}, "complete": {"type": "boolean"}, "gaps": {"type": "array", "items": {"type": "object", "properties": {"gap": {"type": "string"}, "article": {"type": "string"}, "explanation": {"type": "string"}}}}}},
        "ImportSummary": {"type": "object", "properties": {"created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "retired": {"type": "integer"}}},
        "Publish": {"type": "object", "required": ["effective_date"], "additionalProperties": false, "properties": {"effective_date": {"type": "string", "format": "date"}}},
        "StatementVersion": {"type": "object", "properties": {"controller": {"type": "string"}, "version": {"type": "integer"}, "effective_date": {"type": "string", "format": "date"}, "published_at": {"type": "string", "format": "date-time"}, "published_by": {"type": "string"}}},
        "StatementVersions": {"type": "array", "items": {"$ref": "#/components/schemas/StatementVersion"}},
        "NewSubject": {"type": "object", "required": ["activity"], "description": "A data subject recorded under a processing activity: `activity`, at least one of national_number (checked), bsn (checked), email, phone, or family_name with birth_date; optional given_name and guardians (subject ids).", "properties": {"activity": {"type": "string"}, "national_number": {"type": "string"}, "bsn": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}, "given_name": {"type": "string"}, "family_name": {"type": "string"}, "birth_date": {"type": "string", "format": "date"}, "guardians": {"type": "array", "items": {"type": "string", "format": "uuid"}}}},
        "Subject": {"type": "object", "description": "A data subject with the records of the caller's activities; every read is logged."},
        "NewRecord": {"type": "object", "required": ["activity", "category", "collected_on"], "properties": {"activity": {"type": "string"}, "schedule": {"type": "string"}, "category": {"type": "string"}, "fields": {"type": "object"}, "source": {"type": "string"}, "collected_on": {"type": "string", "format": "date"}, "events": {"type": "object", "additionalProperties": {"type": "string", "format": "date"}}, "provided_by_subject": {"type": "boolean"}}},
        "RecordPatch": {"type": "object", "properties": {"fields": {"type": "object"}, "source": {"type": ["string", "null"]}, "events": {"type": "object"}}},
        "Record": {"type": "object", "description": "A record of personal data with its retention deadline."},
        "Search": {"type": "object", "description": "Exactly one of national_number, bsn, email, phone.", "properties": {"national_number": {"type": "string"}, "bsn": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}}},
        "SearchResult": {"type": "object", "properties": {"subjects": {"type": "array", "items": {"$ref": "#/components/schemas/Subject"}}}},
        "Disclosure": {"type": "object", "required": ["activity", "categories", "recipient", "legal_ground"], "properties": {"activity": {"type": "string"}, "categories": {"type": "array", "items": {"type": "string"}}, "recipient": {"type": "string"}, "legal_ground": {"type": "string"}}},
        "LogEntries": {"type": "array", "items": {"type": "object", "description": "A processing-log entry; `actor` only in the audit view."}},
        "Anchor": {"type": "object", "properties": {"anchor": {"type": "string"}, "seq": {"type": "integer"}}},
        "NewConfidentialityStatement": {"type": "object", "required": ["signed_on", "reference"], "properties": {"signed_on": {"type": "string", "format": "date"}, "reference": {"type": "string"}}},
        "Clearance": {"type": "object", "properties": {"username": {"type": "string"}, "activities": {"type": "array", "items": {"type": "string"}}, "confidentiality_signed_on": {"type": "string", "format": "date"}}},
        "NewConsent": {"type": "object", "required": ["activity", "method", "affirmative_act", "notice_text", "language", "evidence"], "properties": {"activity": {"type": "string"}, "method": {"type": "string", "enum": ["web_form", "paper_form", "email", "oral"]}, "affirmative_act": {"type": "boolean", "description": "true: the person ticked, signed, wrote or said yes; false is refused"}, "notice_text": {"type": "string"}, "language": {"type": "string", "enum": ["nl", "en", "fr"]}, "statement_version": {"type": "integer"}, "evidence": {"type": "string"}, "valid_until": {"type": "string", "format": "date"}, "guardian": {"type": "string", "format": "uuid"}}},
        "Consent": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "subject_id": {"type": "string", "format": "uuid"}, "activity": {"type": "string"}, "state": {"type": "string", "enum": ["given", "renewed", "withdrawn", "expired"]}, "valid_until": {"type": "string", "format": "date"}, "allowed": {"type": "boolean"}, "unsubscribe_url": {"type": "string", "format": "uri"}, "events": {"type": "array", "items": {"type": "object"}}}},
        "Consents": {"type": "array", "items": {"$ref": "#/components/schemas/Consent"}},
        "Withdrawal": {"type": "object", "properties": {"changed": {"type": "boolean"}, "consent": {"$ref": "#/components/schemas/Consent"}, "take_down": {"description": "Published photos and videos showing the person for this purpose: take them down", "$ref": "#/components/schemas/MediaItems"}}},
        "NewMediaItem": {"type": "object", "required": ["title", "kind", "activity", "taken_on", "reference"], "additionalProperties": false, "properties": {"title": {"type": "string"}, "kind": {"type": "string", "enum": ["targeted", "overview"], "description": "targeted: identifiable people are the subject, each needs explicit consent; overview: atmosphere or crowd, no consent, removal on request"}, "activity": {"type": "string", "description": "The processing activity the item is used for; targeted items need one based on explicit consent"}, "taken_on": {"type": "string", "format": "date"}, "reference": {"type": "string", "description": "URL or archive id where the item is kept"}, "published_on": {"type": "string", "format": "date"}}},
        "MediaItem": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "title": {"type": "string"}, "kind": {"type": "string", "enum": ["targeted", "overview"]}, "activity": {"type": "string"}, "taken_on": {"type": "string", "format": "date"}, "reference": {"type": "string"}, "published_on": {"type": "string", "format": "date"}, "published": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"}, "taken_down_at": {"type": "string", "format": "date-time"}, "take_down": {"type": "array", "items": {"type": "string", "enum": ["consent_ended", "removal_requested"]}}, "subjects": {"type": "array", "items": {"type": "object", "properties": {"subject_id": {"type": "string", "format": "uuid"}, "linked_at": {"type": "string", "format": "date-time"}, "consent_allows": {"type": "boolean"}}}}, "removal_requests": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "subject_id": {"type": "string", "format": "uuid"}, "requested_at": {"type": "string", "format": "date-time"}, "channel": {"type": "string"}, "note": {"type": "string"}}}}}},
        "MediaItems": {"type": "array", "items": {"$ref": "#/components/schemas/MediaItem"}},
        "MediaLink": {"type": "object", "required": ["subject"], "additionalProperties": false, "properties": {"subject": {"type": "string", "format": "uuid"}}},
        "MediaRemovalRequest": {"type": "object", "required": ["channel"], "additionalProperties": false, "properties": {"subject": {"type": "string", "format": "uuid"}, "channel": {"type": "string", "enum": ["on_the_spot", "email", "letter", "phone", "desk"]}, "note": {"type": "string"}}},
        "Iso27560Record": {"type": "object", "description": "ISO/IEC TS 27560 consent record: notice, purposes, controller, state, events"},
        "NewRightsRequest": {"type": "object", "required": ["controller", "rights", "channel", "requester"], "properties": {"controller": {"type": "string"}, "rights": {"type": "array", "items": {"type": "string", "enum": ["access", "rectification", "erasure", "restriction", "objection", "portability", "no_automated_decision", "consent_withdrawal"]}}, "channel": {"type": "string", "enum": ["portal", "email", "letter", "desk"]}, "requester": {"type": "object", "required": ["identity", "acting_for"], "properties": {"identity": {"type": "object"}, "acting_for": {"type": "string", "enum": ["themselves", "child", "ward"]}, "filed_by": {"type": "object"}, "email": {"type": "string"}, "postal_address": {"type": "string"}, "message": {"type": "string"}}}, "language": {"type": "string", "enum": ["nl", "en", "fr"]}, "received_on": {"type": "string", "format": "date"}}},
        "FiledRightsRequest": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "reference": {"type": "string"}, "status_url": {"type": "string"}, "due_on": {"type": "string", "format": "date"}}},
        "RightsRequestList": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "reference": {"type": "string"}, "stage": {"type": "string"}, "due_on": {"type": "string", "format": "date"}, "urgency": {"type": "object"}}}},
        "Assignee": {"type": "object", "required": ["username"], "properties": {"username": {"type": "string"}}},
        "FulfilmentRun": {"type": "object", "properties": {"done_by_hand": {"type": "string", "description": "What a staff member did by hand: confirms the actions by hand."}}},
        "FulfilmentStatus": {"type": "object", "description": "Per right, activity and place (vault, package or a system): who carries it out (kluis or staff), status (pending, done, failed), attempts, the report per table or the error; and the recipients to tell with when and how they were told."},
        "SystemRectificationRun": {"type": "object", "required": ["system", "table", "column", "value"], "additionalProperties": false, "properties": {"system": {"type": "string"}, "table": {"type": "string"}, "column": {"type": "string", "description": "A column the system's dataset map lists for the table"}, "value": {"type": "string", "description": "The new value, as text; the database converts it to the column's type"}}},
        "SystemRectification": {"type": "object", "properties": {"reference": {"type": "string"}, "system": {"type": "string"}, "table": {"type": "string"}, "column": {"type": "string"}, "activities": {"type": "array", "items": {"type": "string"}}, "rows": {"type": "integer", "description": "The person's rows in the table"}, "changed": {"type": "integer", "description": "Rows given the new value"}, "old_values": {"type": "array", "description": "The value each changed row held before, by primary key: what undoes a wrong change", "items": {"type": "object", "properties": {"key": {"type": "object", "description": "The row's primary key, column by column, as text", "additionalProperties": {"type": "string"}}, "value": {"type": ["string", "null"], "description": "The old value as text; null for NULL, not the empty text"}}}}}},
        "RestrictionLift": {"type": "object", "required": ["activity", "request", "told_on", "reason"], "additionalProperties": false, "properties": {"activity": {"type": "string"}, "request": {"type": "string", "description": "The reference of the rights request that asked for the restriction"}, "told_on": {"type": "string", "format": "date", "description": "The day the person was told the restriction would be lifted; not after today"}, "reason": {"type": "string"}}},
        "RestrictionLifted": {"type": "object", "properties": {"lifted": {"type": "object", "description": "The vault's restriction, now lifted"}, "systems": {"$ref": "#/components/schemas/SystemsUnmarked"}}},
        "CompellingGrounds": {"type": "object", "required": ["activity", "request", "grounds"], "additionalProperties": false, "properties": {"activity": {"type": "string"}, "request": {"type": "string", "description": "The reference of the rights request that objected"}, "grounds": {"type": "string"}}},
        "ObjectionOverridden": {"type": "object", "properties": {"recorded": {"type": "object", "description": "The objection with its grounds"}, "systems": {"$ref": "#/components/schemas/SystemsUnmarked"}}},
        "SystemsUnmarked": {"type": "array", "description": "Per connected system the request marked: the person's rows and how many were cleared, why marks were kept (another restriction or objection still needs them) or what staff must clear by hand", "items": {"type": "object", "properties": {"system": {"type": "string"}, "rows": {"type": "integer"}, "cleared": {"type": "integer"}, "kept_because": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}, "by_hand": {"type": ["string", "null"]}}}},
        "RecipientTold": {"type": "object", "required": ["recipient", "how"], "properties": {"recipient": {"type": "string"}, "how": {"type": "string"}}},
        "RightsRequest": {"type": "object", "description": "A request with requester, deadline, decisions, DPV status and timeline."},
        "RightsRequestChange": {"type": "object", "required": ["change"], "properties": {"change": {"type": "string", "enum": ["request_identity", "verify_identity", "decide", "close", "extend"]}, "note": {"type": "string"}, "subject_id": {"type": "string", "format": "uuid"}, "decisions": {"type": "array", "items": {"type": "object", "required": ["right", "activity", "outcome", "motivation"], "properties": {"right": {"type": "string"}, "activity": {"type": "string"}, "outcome": {"type": "string", "enum": ["granted", "partly_granted", "refused"]}, "grounds": {"type": "array", "items": {"type": "string"}}, "motivation": {"type": "string"}}}}, "months": {"type": "integer", "minimum": 1, "maximum": 2}, "reason": {"type": "string"}, "told_on": {"type": "string", "format": "date"}}},
        "PortabilityTransmission": {"type": "object", "required": ["endpoint", "recipient"], "additionalProperties": false, "properties": {"endpoint": {"type": "string", "format": "uri", "description": "An https:// URL without user name or password; redirects are not followed"}, "recipient": {"type": "string", "description": "The receiving controller, as the processing log records it"}, "format": {"type": "string", "enum": ["json", "csv"], "default": "json"}}},
        "PortabilityTransmitted": {"type": "object", "properties": {"endpoint_host": {"type": "string"}, "recipient": {"type": "string"}, "format": {"type": "string", "enum": ["json", "csv"]}, "bytes": {"type": "integer"}, "sha256": {"type": "string", "description": "SHA-256 of the body sent, hex"}, "status": {"type": "integer", "description": "The endpoint's HTTP status"}}},
        "DefaultDecisionList": {"type": "array", "items": {"type": "object", "properties": {"right": {"type": "string"}, "activity": {"type": "string"}, "outcome": {"type": "string"}, "ground": {"type": "string"}, "article": {"type": "string"}, "motivation": {"type": "string"}}}},
        "ConsentCheck": {"type": "object", "required": ["purpose", "people"], "properties": {"purpose": {"type": "string"}, "people": {"type": "array", "items": {"type": "object", "properties": {"email": {"type": "string"}, "subject": {"type": "string", "format": "uuid"}}}}}},
        "ConsentCheckResult": {"type": "object", "properties": {"purpose": {"type": "string"}, "results": {"type": "array", "items": {"type": "object", "properties": {"allowed": {"type": "boolean"}, "state": {"type": ["string", "null"]}, "valid_until": {"type": "string", "format": "date"}, "unsubscribe_url": {"type": "string", "format": "uri"}}}}}},
        "CookieChoiceSummary": {"type": "object", "properties": {"choices": {"type": "array", "items": {"type": "object", "properties": {"controller": {"type": "string"}, "banner_version": {"type": "string"}, "current": {"type": "boolean", "description": "The banner the controller's websites show now"}, "source": {"type": "string", "enum": ["banner", "gpc"]}, "accepted": {"type": "array", "items": {"type": "string"}}, "refused": {"type": "array", "items": {"type": "string"}}, "count": {"type": "integer"}, "first_at": {"type": "string", "format": "date-time"}, "last_at": {"type": "string", "format": "date-time"}}}}}},
        "NewBreach": {"type": "object", "required": ["controller", "detected_at", "aware_at", "reported_by", "description"], "additionalProperties": false, "properties": {"controller": {"type": "string"}, "detected_at": {"type": "string", "format": "date-time"}, "aware_at": {"type": "string", "format": "date-time", "description": "When the controller became aware: the 72-hour clock starts here; not in the future, not before detected_at"}, "reported_by": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["staff", "citizen", "processor"]}, "name": {"type": "string"}, "contact": {"type": "string"}}}, "description": {"type": "string"}, "data_categories": {"type": "array", "items": {"type": "string"}}, "special_categories": {"type": "array", "items": {"type": "string"}}, "subject_categories": {"type": "array", "items": {"type": "string"}}, "approx_subjects": {"type": "integer"}, "approx_records": {"type": "integer"}, "consequences": {"type": "string"}, "measures_taken": {"type": "string"}, "measures_proposed": {"type": "string"}, "risk": {"type": "object", "required": ["level", "reasons"], "properties": {"level": {"type": "string", "enum": ["no_risk", "risk", "high_risk"]}, "reasons": {"type": "string"}}}, "closed_at": {"type": "string", "format": "date-time"}}},
        "BreachPatch": {"type": "object", "description": "Any fields of NewBreach except controller; null clears approx_subjects, approx_records, risk and closed_at."},
        "Breach": {"type": "object", "description": "The fields of NewBreach, and what kluis works out and records.", "properties": {"id": {"type": "string", "format": "uuid"}, "reference": {"type": "string"}, "version": {"type": "integer"}, "notification_due": {"type": "string", "format": "date-time"}, "clock": {"type": "string", "enum": ["not_required", "not_due", "due_soon", "overdue", "notified", "notified_late"]}, "people_must_be_told": {"type": "boolean"}, "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/BreachNotification"}}, "art34": {"$ref": "#/components/schemas/Art34Decision"}, "people_told": {"type": "integer", "description": "People a notice was prepared for"}, "people_mailed": {"type": "integer", "description": "Of those, people whose mail went out"}, "people_told_in_systems": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "People found only in a connected system and mailed a notice, per system"}}},
        "Breaches": {"type": "array", "items": {"$ref": "#/components/schemas/Breach"}},
        "BreachNotification": {"type": "object", "required": ["phase", "sent_at", "content"], "additionalProperties": false, "properties": {"phase": {"type": "string", "enum": ["initial", "supplement"]}, "sent_at": {"type": "string", "format": "date-time"}, "content": {"type": "string"}, "authority_reference": {"type": "string"}, "delay_reason": {"type": "string", "description": "Required when the initial notice is sent more than 72 hours after awareness"}}},
        "Art34Decision": {"type": "object", "required": ["inform", "reasons"], "additionalProperties": false, "properties": {"inform": {"type": "boolean"}, "ground": {"type": "string", "enum": ["unintelligible", "risk_removed", "disproportionate_effort"], "description": "art. 34(3)(a), (b) or (c); required when the risk is high and inform is false"}, "reasons": {"type": "string"}, "public_communication": {"type": "string", "description": "Required with disproportionate_effort"}}},
        "NotificationDraft": {"type": "object", "properties": {"authority": {"type": "string", "enum": ["gba", "vtc", "ap"]}, "language": {"type": "string", "enum": ["nl", "fr"]}, "title": {"type": "string"}, "website": {"type": "string"}, "fields": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "value": {"type": "string"}}}}}},
        "AffectedQuery": {"type": "object", "additionalProperties": false, "description": "At least one activity or data category.", "properties": {"activities": {"type": "array", "items": {"type": "string"}}, "data_categories": {"type": "array", "items": {"type": "string"}}, "collected_from": {"type": "string", "format": "date"}, "collected_until": {"type": "string", "format": "date"}, "systems": {"type": "array", "items": {"type": "string"}, "description": "Only these places: connected systems by name, kluis for the vault"}, "limit": {"type": "integer", "minimum": 0, "description": "People listed per system when they must be told (default 1000, at most 10000)"}, "offset": {"type": "integer", "minimum": 0, "description": "People skipped per system, for the next page"}, "notify": {"type": "boolean"}, "language": {"type": "string", "enum": ["nl", "en", "fr"], "description": "For people whose language kluis does not know"}}},
        "Affected": {"type": "object", "properties": {"count": {"type": "integer"}, "subjects": {"type": "array", "items": {"type": "string", "format": "uuid"}}, "records": {"type": "integer"}, "by_activity": {"type": "object", "additionalProperties": {"type": "integer"}}, "queued": {"type": "integer"}, "without_email": {"type": "integer"}, "to_tell_by_post": {"type": "array", "description": "With notify: the vault's people without an e-mail address, to send a letter", "items": {"type": "object", "required": ["subject_id"], "properties": {"subject_id": {"type": "string", "format": "uuid"}, "given_name": {"type": "string"}, "family_name": {"type": "string"}}}}, "already_told": {"type": "integer"}, "systems": {"type": "array", "items": affected_system}, "total_people": {"type": ["integer", "null"], "description": "Everyone once across the vault and the systems; null when that cannot be told (see total_note)"}, "total_note": {"type": "string"}, "told_in_systems": told_in_systems}},
        "Problem": {"type": "object", "description": "RFC 9457 problem details", "required": ["type", "title", "status", "detail"], "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
    })
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn operation(o: &Operation) -> Value {
    let mut responses = Map::new();
    // A POST creates something, except the ones that ask or act on what exists.
    let acts = [
        "/search",
        "/check",
        "/withdrawal",
        "/taken-down",
        "/affected",
        "/changes",
    ]
    .iter()
    .any(|action| o.path.ends_with(action));
    let ok = match o.method {
        "post" if !acts => "201",
        "delete" => "204",
        _ => "200",
    };
    let success = match o.returns {
        Some(schema) => {
            json!({"description": "Success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
        }
        None => json!({"description": "Success"}),
    };
    responses.insert(ok.into(), success);
    responses.insert(
        "4XX".into(),
        problem("The request was refused; the problem says why"),
    );
    if !o.public {
        responses.insert("401".into(), problem("No valid bearer token"));
        responses.insert("403".into(), problem("The token's account lacks the role"));
    }
    if matches!(o.method, "put" | "patch" | "delete") && o.path.ends_with("{id}") {
        responses.insert("409".into(), problem("The If-Match version is stale"));
        responses.insert("428".into(), problem("If-Match is missing"));
    }
    let mut value = json!({
        "summary": o.summary,
        "tags": [o.tag],
        "operationId": format!("{}_{}", o.method, o.path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '.'], "_")),
        "responses": responses,
    });
    let parameters: Vec<Value> = o
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !parameters.is_empty() {
        value["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = o.body {
        let content_type = if body == "RegisterYaml" {
            "application/yaml"
        } else {
            "application/json"
        };
        value["requestBody"] = json!({"required": true, "content": {content_type: {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
    }
    if !o.public {
        value["security"] = json!([{"bearer": []}]);
    }
    value
}

/// The OpenAPI 3.1 document of the API.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let item = paths.entry(o.path).or_insert_with(|| json!({}));
        item[o.method] = operation(o);
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kluis",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The privacy office of a public authority: register of processing activities and privacy statements.",
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token from `kluis token create`"}},
        },
    });
    doc["tags"] = json!(
        [
            "controllers",
            "processors",
            "agreements",
            "activities",
            "register",
            "statements",
            "inventory",
            "log",
            "breaches",
            "staff",
            "meta"
        ]
        .iter()
        .map(|t| json!({"name": t}))
        .collect::<Vec<_>>()
    );
    doc
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
