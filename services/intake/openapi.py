"""The intake API's OpenAPI 3.1 description, served at `/v1/openapi.json` (a test checks it against
the routes)."""

from __future__ import annotations

from typing import Any

from shared.networks import KNOWN_NETWORKS
from shared.networks.media import MEDIA_KINDS

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
_POLICY = {"type": "string", "enum": ["thread", "truncate", "reject"]}
_NETWORKS = {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(KNOWN_NETWORKS)}}
# The fields a preview and a post share.
_RENDERED_FIELDS: dict[str, Any] = {
    "text": {"type": "string", "minLength": 1},
    "link": {"type": "string", "format": "uri"},
    "networks": _NETWORKS,
    "policy": {
        "description": "what to do when the text is too long: for every network, or per network"
        " (a network left out keeps its default: thread where it can, else truncate)",
        "oneOf": [_POLICY, {"type": "object", "additionalProperties": _POLICY}],
    },
    "content_warning": {"type": "string", "description": "Mastodon's spoiler text, counted with the text"},
    "media": {
        "type": "array",
        "maxItems": 20,
        "items": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "description": "from POST /v1/media"},
                "alt": {"type": "string", "description": "required unless RELAIS_REQUIRE_ALT_TEXT=false"},
            },
        },
    },
}
_LIMIT = {
    "type": "object",
    "required": ["unit", "limit", "length"],
    "properties": {"unit": {"type": "string"}, "limit": {"type": "integer"}, "length": {"type": "integer"}},
}
_VARIANT = {
    "type": "object",
    "required": ["network", "unit", "limit", "length", "fits", "other_limits", "parts", "errors"],
    "properties": {
        "network": {"type": "string"},
        "unit": {"type": "string", "description": "the network's main measure"},
        "limit": {"type": "integer"},
        "length": {"type": "integer", "description": "the text as written, after normalisation"},
        "fits": {"type": "boolean"},
        "policy": {"type": ["string", "null"], "description": "applied because the text did not fit"},
        "other_limits": {"type": "array", "items": _LIMIT},
        "parts": {
            "type": "array",
            "description": "exactly what would be sent (several for a thread)",
            "items": {
                "type": "object",
                "required": ["text", "length"],
                "properties": {
                    "text": {"type": "string"},
                    "length": {"type": "integer"},
                    "facets": {
                        "type": "array",
                        "description": "Bluesky facets (index.byteStart/byteEnd) or Telegram entities",
                        "items": {"type": "object"},
                    },
                },
            },
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_DELIVERY_STATUSES = [
    "pending",
    "throttled",
    "publishing",
    "published",
    "unconfirmed",
    "failed",
    "rejected",
    "expired",
]
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
                    **_RENDERED_FIELDS,
                    "pages": {"type": "array", "items": {"type": "string"}, "description": "default: all"},
                    "selectors": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "agency:<self> or page:<id> of this agency, instead of pages",
                    },
                    "schedule_at": {"type": "string", "format": "date-time"},
                },
            },
            "PreviewRequest": {
                "type": "object",
                "required": ["text", "networks"],
                "additionalProperties": False,
                "properties": _RENDERED_FIELDS,
            },
            "Preview": {
                "type": "object",
                "required": ["variants"],
                "properties": {"variants": {"type": "array", "items": _VARIANT}},
            },
            "Media": {
                "type": "object",
                "required": ["id", "content_type", "size"],
                "properties": {
                    "id": {"type": "string"},
                    "content_type": {"type": "string", "enum": list(MEDIA_KINDS)},
                    "size": {"type": "integer"},
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
                    "throttled_until": {
                        "type": ["string", "null"],
                        "format": "date-time",
                        "description": "while throttled: when the network's rate limit resets (UTC)",
                    },
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
                    "parts": {
                        "type": "array",
                        "description": "every part of a published thread, first one first",
                        "items": {
                            "type": "object",
                            "properties": {
                                "remote_id": {"type": "string"},
                                "url": {"type": ["string", "null"]},
                            },
                        },
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
        "/v1/preview": {
            "post": {
                "summary": "How a post would be rendered on each network (nothing is stored)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/PreviewRequest"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "one variant per network; rule problems are in its errors",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Preview"}}},
                    },
                    "400": {"description": "malformed body", **_ERROR_RESPONSE},
                    "401": {"description": "missing or invalid token", **_ERROR_RESPONSE},
                    "403": {"description": "another agency's token", **_ERROR_RESPONSE},
                    "422": {"description": "unknown network or media id, bad policy…", **_ERROR_RESPONSE},
                },
            }
        },
        "/v1/media": {
            "post": {
                "summary": "Upload an attachment (201 once the file and its record are on disk)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "stored at the agency; name it in a post's media",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Media"}}},
                    },
                    "400": {"description": "not multipart, or no part named file", **_ERROR_RESPONSE},
                    "401": {"description": "missing or invalid token", **_ERROR_RESPONSE},
                    "403": {"description": "another agency's token", **_ERROR_RESPONSE},
                    "413": {"description": "over RELAIS_MEDIA_MAX_BYTES", **_ERROR_RESPONSE},
                    "415": {"description": "not JPEG, PNG, GIF, WebP or MP4 (by content)", **_ERROR_RESPONSE},
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
