"""A private PostgreSQL server on a free loopback port, for what the shared one cannot show:
TLS only (its own certificate authority), a user with a password (scram-sha-256), and a
server that is stopped while we look. Never the shared server on 5432.

PostgreSQL refuses to run as root, so the server runs as the `postgres` user (the Debian
package makes it) in a folder under /tmp that user can enter.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.servers import free_port

USER = "auditor"
PASSWORD = "right-password-15"
DATABASE = "auditor_db"


@dataclass
class PostgresServer:
    port: int
    folder: Path
    ca_file: Path  # the authority that signed the server's certificate
    other_ca_file: Path  # an authority that did not
    bin_dir: Path

    def url(self, *, user: str = USER, password: str = PASSWORD, query: str = "") -> str:
        base = f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{DATABASE}"
        return f"{base}?{query}" if query else base

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        _as_postgres(str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), *args,
                     check=check)

    def stop(self) -> None:
        """Stop the server as a crash would; stopping a stopped server does nothing."""
        self.pg_ctl("-m", "immediate", "stop", check=False)


def _as_postgres(*argv: str, check: bool = True) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=check,
                   capture_output=True, timeout=60)


def _bin_dir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file():
            return candidate
    return None


def _authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _server_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@contextmanager
def tls_postgres() -> Iterator[PostgresServer]:
    """Start the server (TLS only; ``auditor`` with a password owns ``auditor_db``)."""
    bin_dir = _bin_dir()
    if bin_dir is None or shutil.which("runuser") is None:
        pytest.skip("needs PostgreSQL's server binaries and runuser (Debian's postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="auditbot-pg-"))
    try:
        shutil.chown(folder, "postgres")
        ca_key, ca = _authority("auditbot test CA")
        _, other_ca = _authority("someone else's CA")
        key, cert = _server_certificate(ca_key, ca)
        (folder / "ca.pem").write_bytes(_pem(ca))
        (folder / "other-ca.pem").write_bytes(_pem(other_ca))
        (folder / "server.crt").write_bytes(_pem(cert))
        (folder / "server.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        (folder / "server.key").chmod(0o600)
        shutil.chown(folder / "server.key", "postgres")
        _as_postgres(str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
                     "-A", "trust", "--no-sync")
        (folder / "data" / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            f"hostssl all {USER} 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 127.0.0.1/32 reject\n"
        )
        server = PostgresServer(free_port(), folder, folder / "ca.pem",
                                folder / "other-ca.pem", bin_dir)
        options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -k {folder} -c ssl=on "
                   f"-c ssl_cert_file={folder / 'server.crt'} "
                   f"-c ssl_key_file={folder / 'server.key'} -c fsync=off")
        server.pg_ctl("-o", options, "-l", str(folder / "log"), "-w", "start")
        try:
            _as_postgres(str(bin_dir / "psql"), "-h", str(folder), "-p", str(server.port),
                         "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                         "-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'",
                         "-c", f"CREATE DATABASE {DATABASE} OWNER {USER}")
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
