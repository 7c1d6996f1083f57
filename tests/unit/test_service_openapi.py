"""The HTTP API's OpenAPI document stays what clients were built against: operations, ids, parameters, models.

Pinned by hand: a change here is an API change (say so in the changelog), not a refactor.
FastAPI's own validation-error models are left out: their fields follow the FastAPI version.
"""

from __future__ import annotations

from pathlib import Path

from unmask.service.app import create_app
from unmask.service.settings import ServiceSettings

OPERATIONS = [
    ("GET", "/healthz", "health_healthz_get", ["200"], []),
    ("POST", "/v1/scans", "create_scan_v1_scans_post", ["202"], []),
    ("GET", "/v1/scans", "list_scans_v1_scans_get", ["200", "422"], ["limit", "offset", "status"]),
    ("GET", "/v1/scans/{scan_id}", "get_scan_v1_scans__scan_id__get", ["200", "422"], ["scan_id", "report"]),
    ("DELETE", "/v1/scans/{scan_id}", "delete_scan_v1_scans__scan_id__delete", ["204", "422"], ["scan_id"]),
    ("GET", "/v1/scans/{scan_id}/report.html", "get_report_html_v1_scans__scan_id__report_html_get",
     ["200", "409", "422"], ["scan_id", "download"]),
    ("GET", "/v1/people", "list_people_v1_people_get", ["200"], []),
    ("POST", "/v1/people", "enrol_person_v1_people_post", ["201", "202", "422"], ["wait"]),
    ("POST", "/v1/people/import", "import_person_v1_people_import_post", ["201"], []),
    ("GET", "/v1/people/{name}", "person_versions_v1_people__name__get", ["200", "422"], ["name"]),
    ("DELETE", "/v1/people/{name}", "delete_person_v1_people__name__delete", ["204", "422"], ["name", "version"]),
    ("GET", "/v1/people/{name}/export", "export_person_v1_people__name__export_get", ["200", "422"],
     ["name", "version"]),
    ("GET", "/v1/enrolments", "list_enrolments_v1_enrolments_get", ["200", "422"], ["limit", "status"]),
    ("GET", "/v1/enrolments/{enrolment_id}", "get_enrolment_v1_enrolments__enrolment_id__get", ["200", "422"],
     ["enrolment_id"]),
    ("DELETE", "/v1/enrolments/{enrolment_id}", "delete_enrolment_v1_enrolments__enrolment_id__delete", ["204", "422"],
     ["enrolment_id"]),
]

SCAN_FIELDS = ["attempts", "claims", "created_at", "error", "finished_at", "id", "label", "links", "progress", "score",
               "sha256", "size_bytes", "source_name", "stage", "started_at", "status"]
MODELS = {
    "ClaimOut": ["conclusion", "name", "version"],
    "EnrolledPerson": ["name", "summary", "version"],
    "EnrolmentFileOut": ["name", "size_bytes"],
    "EnrolmentLinks": ["person", "self"],
    "EnrolmentOut": ["attempts", "created_at", "error", "files", "finished_at", "id", "lines", "links", "name",
                     "person", "progress", "stage", "started_at", "status"],
    "Health": ["queued", "running", "status", "version", "workers_alive"],
    "PersonOut": ["created_at", "name", "profile_bytes", "summary", "version"],
    "ScanDetail": sorted([*SCAN_FIELDS, "report"]),
    "ScanLinks": ["page", "report_html", "self"],
    "ScanOut": SCAN_FIELDS,
    "ScanPageOut": ["items", "limit", "next_offset", "offset", "total"],
}


def test_the_openapi_document_is_pinned(tmp_path: Path) -> None:
    doc = create_app(ServiceSettings.from_env(env={}, data_dir=tmp_path), start_workers=False).openapi()
    ops = [(m.upper(), p, op["operationId"], sorted(op["responses"]), [q["name"] for q in op.get("parameters", [])])
           for p, methods in doc["paths"].items() for m, op in methods.items()]
    assert ops == OPERATIONS
    models = {k: sorted(v.get("properties", {})) for k, v in doc["components"]["schemas"].items()
              if k not in ("HTTPValidationError", "ValidationError")}
    assert models == MODELS
    assert doc["info"]["title"] == "unmask" and set(doc["components"]["securitySchemes"]) == {"HTTPBearer"}
