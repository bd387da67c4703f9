"""What both schemathesis passes share: the API's OpenAPI document and the checks run on
every answer."""

from __future__ import annotations

import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bot.web.api import openapi_document

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# ZIP uploads are raw bytes, like application/octet-stream.
schemathesis.serializer.alias("application/zip", "application/octet-stream")

# The document is generated from the route declarations, so no server is needed to load it;
# test_openapi.py checks that the served document is the same one.
schema = schemathesis.openapi.from_dict(openapi_document())
