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
];

/// Register entries are documented by the register format in README.md; their JSON is
/// the same as their YAML.
fn schemas() -> Value {
    let entry = |what: &str| json!({"type": "object", "description": format!("A {what} of the register, as in the register YAML format (README.md, \"Register format\"); unknown fields are refused.")});
    let list = |item: &str| json!({"type": "array", "items": {"allOf": [{"$ref": format!("#/components/schemas/{item}")}, {"type": "object", "properties": {"version": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}}}]}});
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
        "Problem": {"type": "object", "description": "RFC 9457 problem details", "required": ["type", "title", "status", "detail"], "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
    })
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn operation(o: &Operation) -> Value {
    let mut responses = Map::new();
    let ok = match o.method {
        "post" => "201",
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
    if matches!(o.method, "put" | "delete") && o.path.ends_with("{id}") {
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
