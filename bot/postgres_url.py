"""libpq's connection parameters in a PostgreSQL URL, made into what asyncpg takes.

Managed PostgreSQL hosts hand out ``postgresql://...?sslmode=require``. SQLAlchemy's asyncpg
dialect passes a URL's query parameters to ``asyncpg.connect()`` as keywords, which has no
``sslmode`` (``TypeError: connect() got an unexpected keyword argument 'sslmode'``). asyncpg
reads libpq's names in a DSN, though, and applies them as libpq does (``require`` with a
``~/.postgresql/root.crt`` present verifies, ``verify-full`` checks the host name, client
certificates, CRLs). So those parameters are taken out of the URL and handed over as a DSN
that holds nothing else: the host, user and database keep coming from the URL's keywords,
which asyncpg prefers to the DSN's. Any other parameter is refused with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import URL

# libpq parameters asyncpg's DSN parser applies itself (asyncpg/connect_utils.py).
DSN_PARAMETERS = (
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
    "sslnegotiation", "ssl_min_protocol_version", "ssl_max_protocol_version",
    "target_session_attrs", "krbsrvname", "gsslib", "passfile",
)
# A DSN's unknown parameters become server settings; application_name is one.
SERVER_SETTINGS = ("application_name",)
FILE_PARAMETERS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "passfile")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Read by SQLAlchemy's dialect itself, not by asyncpg.
DIALECT_PARAMETERS = ("prepared_statement_cache_size",)


def split_postgres_url(url: URL) -> tuple[URL, dict[str, Any]]:
    """``url`` without libpq's parameters, and the ``connect_args`` that carry them.

    Raises ValueError naming a parameter that neither libpq nor asyncpg knows, a bad
    ``sslmode``, or a certificate file that does not exist.
    """
    query = dict(url.query)
    unknown = sorted(
        set(query) - {*DSN_PARAMETERS, *SERVER_SETTINGS, "connect_timeout", *DIALECT_PARAMETERS}
    )
    if unknown:
        raise ValueError(
            f"unknown parameter {unknown[0]!r} in the URL; PostgreSQL URLs take "
            f"{', '.join((*DSN_PARAMETERS, *SERVER_SETTINGS, 'connect_timeout'))}"
        )
    libpq: dict[str, str] = {}
    for name in (*DSN_PARAMETERS, *SERVER_SETTINGS):
        value = query.pop(name, None)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name} is given more than once")
        libpq[name] = value
    mode = libpq.get("sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise ValueError(f"sslmode {mode!r} is not one of {', '.join(SSL_MODES)}")
    for name in FILE_PARAMETERS:
        # "system" is libpq's word for the operating system's CA store, not a file.
        path = libpq.get(name)
        if path and path != "system" and not Path(path).expanduser().is_file():
            raise ValueError(f"{name} file {path!r} does not exist")
    connect_args: dict[str, Any] = {}
    if libpq:
        connect_args["dsn"] = "postgresql://?" + urlencode(libpq)
    timeout = query.pop("connect_timeout", None)
    if timeout is not None:
        try:
            connect_args["timeout"] = float(str(timeout))
        except ValueError:
            raise ValueError(f"connect_timeout {timeout!r} is not a number of seconds") from None
    return url.set(query=query), connect_args
