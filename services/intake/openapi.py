"""The intake API's OpenAPI 3.1 description, served at `/v1/openapi.json` (a test checks it against
the routes)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
_ERROR_RESPONSE = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_DELIVERY_STATUSES = ["pending", "publishing", "published", "unconfirmed", "failed", "rejected", "expired"]
_POST_STATUSES = [
    "queued",
    "waiting_for_hub",
    "awaiting_approval",
    "scheduled",
    "publishing",
    "published",
    "partially_published",
    "failed",
    "invalid",
    "rejected",
    "expired",
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Relais intake (agency endpoint)",
        "version": "1",
        "description": "Write a post once at the agency; Relais renders, approves and publishes it.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"}},
        "schemas": {
            "Error": _ERROR,
            "NewPost": {
                "type": "object",
                "required": ["text", "networks"],
                "additionalProperties": False,
                "properties": {
                    "text": {"type": "string", "minLength": 1},
                    "link": {"type": "string", "format": "uri"},
                    "networks": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "string",
                            "enum": ["x", "mastodon", "bluesky", "linkedin", "facebook"],
                        },
                    },
                    "pages": {"type": "array", "items": {"type": "string"}, "description": "default: all"},
                    "schedule_at": {"type": "string", "format": "date-time"},
                },
            },
            "Accepted": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": _POST_STATUSES},
                },
            },
            "Delivery": {
                "type": "object",
                "required": ["network", "page", "status", "remote_id", "url", "error"],
                "properties": {
                    "network": {"type": "string"},
                    "page": {"type": "string"},
                    "status": {"type": "string", "enum": _DELIVERY_STATUSES},
                    "remote_id": {"type": ["string", "null"]},
                    "url": {"type": ["string", "null"]},
                    "error": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["message", "network_code"],
                                "properties": {
                                    "message": {"type": "string"},
                                    "network_code": {"type": ["string", "null"]},
                                },
                            },
                        ]
                    },
                },
            },
            "Post": {
                "type": "object",
                "required": ["id", "status", "deliveries"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": _POST_STATUSES},
                    "reason": {"type": ["string", "null"]},
                    "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/posts": {
            "post": {
                "summary": "Queue a post (202 once it is stored durably at the agency)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPost"}}},
                },
                "responses": {
                    "202": {
                        "description": "stored at the agency",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                        },
                    },
                    "400": {"description": "malformed body", **_ERROR_RESPONSE},
                    "401": {"description": "missing or invalid token", **_ERROR_RESPONSE},
                    "403": {"description": "another agency's page or token", **_ERROR_RESPONSE},
                    "413": {"description": "body over 1 MiB", **_ERROR_RESPONSE},
                    "422": {"description": "breaks a rule (network, length, link…)", **_ERROR_RESPONSE},
                },
            },
            "get": {
                "summary": "The agency's latest posts",
                "responses": {"200": {"description": "latest first"}},
            },
        },
        "/v1/posts/{post_id}": {
            "get": {
                "summary": "A post and each of its deliveries",
                "parameters": [
                    {"name": "post_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "the post",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Post"}}},
                    },
                    "404": {"description": "no such post at this agency", **_ERROR_RESPONSE},
                },
            }
        },
        "/v1/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {}}}},
        "/healthz": {"get": {"summary": "The process answers", "security": [], "responses": {"200": {}}}},
        "/readyz": {
            "get": {
                "summary": "Bus and database reachable",
                "security": [],
                "responses": {"200": {}, "503": {}},
            }
        },
    },
}
