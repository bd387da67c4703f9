"""Titles and fixes for Bandit's findings, written for the person reading the PR comment.

Bandit's own texts are notes for a scanner's log ("subprocess call with shell=True
identified, security issue"): as a comment title they read badly, and they rarely say what
to do. Each known test gets a short title and a fix here; Bandit's text stays as the
explanation, and its id ends the message so a reader can look the check up. A test missing
from the table (a newer Bandit) gets its own text, cleaned of the log phrasing.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Wording(NamedTuple):
    title: str
    fix: str


_SAFE_XML = Wording(
    "XML parsed with a parser open to entity attacks",
    "Parse untrusted XML with defusedxml (defusedxml.ElementTree.fromstring and friends).",
)
_WEAK_HASH = Wording(
    "Weak hash function (MD4, MD5 or SHA-1)",
    "Use hashlib.sha256 or stronger; for a checksum that guards nothing, pass "
    "usedforsecurity=False.",
)
_OLD_TLS = Wording(
    "Outdated SSL/TLS protocol version",
    "Use ssl.create_default_context(), which negotiates TLS 1.2 or later.",
)
_PASSWORD = Wording(
    "Hard-coded password",
    "Read it at run time from the environment or a secret store, and rotate the value that "
    "was committed.",
)
_MARK_SAFE = Wording(
    "HTML marked safe without escaping",
    "Escape user data first (format_html, markupsafe.escape) and mark only constant markup safe.",
)

WORDING: dict[str, Wording] = {
    "B101": Wording(
        "assert used for a check that must hold",
        "python -O strips asserts: raise an exception for checks that guard data or access.",
    ),
    "B102": Wording(
        "Use of exec()",
        "Call a function chosen from a fixed table instead of running code built at run time.",
    ),
    "B103": Wording(
        "File permissions open to every user",
        "Use 0o600 or 0o644 for files and 0o700 or 0o755 for folders.",
    ),
    "B104": Wording(
        "Server listens on every network interface",
        "Bind to 127.0.0.1 or a configured address, and expose the service through a proxy.",
    ),
    "B105": _PASSWORD,
    "B106": _PASSWORD,
    "B107": _PASSWORD,
    "B108": Wording(
        "Predictable temporary file path",
        "Use tempfile.mkstemp() or tempfile.TemporaryDirectory(), which pick unguessable names.",
    ),
    "B110": Wording(
        "Exception swallowed by `except: pass`",
        "Catch the specific exception and log it, or let it propagate.",
    ),
    "B112": Wording(
        "Exception swallowed by `except: continue`",
        "Catch the specific exception and log it, or let it propagate.",
    ),
    "B113": Wording(
        "HTTP request without a timeout",
        "Pass timeout=..., so a slow or silent server cannot hold the caller forever.",
    ),
    "B201": Wording(
        "Flask debug mode enabled",
        "Never ship debug=True: its debugger runs Python sent from the browser. Read it from "
        "the configuration.",
    ),
    "B202": Wording(
        "Archive extracted without checking its members",
        "Pass filter='data' to extractall (Python 3.12+) or check each member's path first.",
    ),
    "B301": Wording(
        "Unpickling data",
        "Unpickle only data this program wrote and signed; exchange data as JSON.",
    ),
    "B302": Wording("Unmarshalling data", "Exchange data as JSON; marshal is for .pyc files."),
    "B303": _WEAK_HASH,
    "B304": Wording(
        "Insecure cipher", "Use AES-GCM or ChaCha20-Poly1305 (cryptography's AEAD classes)."
    ),
    "B305": Wording(
        "Insecure cipher mode", "Use an authenticated mode such as GCM instead of ECB."
    ),
    "B306": Wording(
        "tempfile.mktemp() races with an attacker",
        "Use tempfile.mkstemp() or NamedTemporaryFile(), which create the file atomically.",
    ),
    "B307": Wording(
        "Use of eval()",
        "Parse literals with ast.literal_eval or the data with json.loads.",
    ),
    "B308": _MARK_SAFE,
    "B310": Wording(
        "URL opened without checking its scheme",
        "Allow only http and https before calling urlopen: file:// reads local files.",
    ),
    "B311": Wording(
        "Pseudo-random numbers used",
        "For tokens, passwords or keys use the secrets module; random is fine for simulations.",
    ),
    "B312": Wording("Telnet sends everything in clear text", "Use SSH (paramiko, asyncssh)."),
    "B313": _SAFE_XML,
    "B314": _SAFE_XML,
    "B315": _SAFE_XML,
    "B316": _SAFE_XML,
    "B317": _SAFE_XML,
    "B318": _SAFE_XML,
    "B319": _SAFE_XML,
    "B320": _SAFE_XML,
    "B321": Wording("FTP sends everything in clear text", "Use SFTP or FTPS."),
    "B323": Wording(
        "TLS certificate checks turned off",
        "Use ssl.create_default_context(); for a private CA, load it with cafile=.",
    ),
    "B324": _WEAK_HASH,
    "B401": Wording("Telnet module imported", "Use SSH (paramiko, asyncssh) instead of Telnet."),
    "B402": Wording("FTP module imported", "Use SFTP or FTPS instead of FTP."),
    "B403": Wording(
        "Pickle-like module imported",
        "Unpickle only data this program wrote and signed; exchange data as JSON.",
    ),
    "B404": Wording(
        "subprocess imported: check how commands are built",
        "Run programs with a list of arguments, without shell=True.",
    ),
    "B405": _SAFE_XML,
    "B406": _SAFE_XML,
    "B407": _SAFE_XML,
    "B408": _SAFE_XML,
    "B409": _SAFE_XML,
    "B410": _SAFE_XML,
    "B411": _SAFE_XML,
    "B412": Wording(
        "CGI handler open to httpoxy",
        "Ignore the HTTP_PROXY variable in CGI code, or upgrade wsgiref's handler.",
    ),
    "B413": Wording(
        "Unmaintained pyCrypto imported",
        "Use the cryptography package (or pycryptodome) instead.",
    ),
    "B415": Wording(
        "IPMI module imported",
        "IPMI is unencrypted: reach the hardware through a "
        "management network or an encrypted protocol.",
    ),
    "B501": Wording(
        "TLS certificate check disabled (verify=False)",
        "Remove verify=False; for a private CA pass verify='/path/to/ca.pem'.",
    ),
    "B502": _OLD_TLS,
    "B503": _OLD_TLS,
    "B504": _OLD_TLS,
    "B505": Wording(
        "Cryptographic key too short",
        "Use RSA or DSA keys of 2048 bits or more, and elliptic curves of 224 bits or more.",
    ),
    "B506": Wording(
        "yaml.load without a safe loader",
        "Use yaml.safe_load(), or Loader=yaml.SafeLoader: the full loader builds any object.",
    ),
    "B507": Wording(
        "SSH host key not verified",
        "Load the known hosts and use paramiko.RejectPolicy, so a server in the middle is refused.",
    ),
    "B508": Wording(
        "SNMP v1/v2c sends its community string in clear text",
        "Use SNMPv3 (mpModel=2 is v2c; use UsmUserData).",
    ),
    "B509": Wording(
        "SNMPv3 without authentication and privacy",
        "Pass both authKey and privKey to UsmUserData (authPriv).",
    ),
    "B601": Wording(
        "Shell command sent over SSH",
        "Quote every argument with shlex.quote(), or avoid building commands from input.",
    ),
    "B602": Wording(
        "Shell command run with shell=True",
        "Pass a list of arguments to subprocess without shell=True, never a string built "
        "from input.",
    ),
    "B603": Wording(
        "Subprocess started: check where its arguments come from",
        "Keep the program fixed and pass input only as separate list items.",
    ),
    "B604": Wording(
        "Function called with shell=True",
        "Pass a list of arguments without a shell, never a string built from input.",
    ),
    "B605": Wording(
        "Process started through a shell",
        "Use subprocess.run([...]) with a list of arguments instead of os.system or os.popen.",
    ),
    "B606": Wording(
        "Process started without a shell: check its arguments",
        "Keep the program fixed and pass input only as separate arguments.",
    ),
    "B607": Wording(
        "Program started by a partial path",
        "Use the program's full path, so whoever controls PATH cannot swap it.",
    ),
    "B608": Wording(
        "SQL built from strings",
        "Use the driver's placeholders (execute('... WHERE id = %s', (value,))) or the ORM.",
    ),
    "B609": Wording(
        "Wildcard in a shell command",
        "A file named like an option (--checkpoint-action=...) becomes one: pass explicit "
        "paths after '--'.",
    ),
    "B610": Wording(
        "Django QuerySet.extra() with raw SQL",
        "Use ORM expressions, or params= for the values.",
    ),
    "B611": Wording("Django RawSQL", "Use ORM expressions, or pass the values as params."),
    "B612": Wording(
        "logging.config.listen() runs configuration sent over the network",
        "Pass verify= to check a signature, or load the logging configuration from a file.",
    ),
    "B613": Wording(
        "Bidirectional control characters in the source (Trojan Source)",
        "Remove them: they make the code read differently from how it runs.",
    ),
    "B614": Wording(
        "torch.load can unpickle code",
        "Pass weights_only=True, or load safetensors files.",
    ),
    "B615": Wording(
        "Hugging Face download without a pinned revision",
        "Pass revision= with a commit hash, so a changed repository cannot change the model.",
    ),
    "B701": Wording(
        "Jinja2 autoescape disabled",
        "Use Environment(autoescape=select_autoescape()) for HTML templates.",
    ),
    "B702": Wording(
        "Mako templates do not escape HTML",
        "Set default_filters=['h'] or escape every user value with ${value | h}.",
    ),
    "B703": _MARK_SAFE,
    "B704": _MARK_SAFE,
}

_LOG_PHRASES = re.compile(
    r",?\s*(?:identified|detected|found)?,?\s*(?:possible\s+)?security issue\.?$", re.IGNORECASE
)


def title_and_message(test_id: str, text: str) -> tuple[str, str]:
    """A comment title and message for Bandit's ``test_id`` and its (masked) ``text``."""
    explanation = _sentence(text)
    wording = WORDING.get(test_id)
    reference = f"(Bandit {test_id})"
    if wording is not None:
        message = " ".join(filter(None, (explanation, f"Fix: {wording.fix}", reference)))
        return wording.title, message
    title = explanation.split(". ")[0].rstrip(".") or f"Bandit {test_id}"
    return title[:200], " ".join(filter(None, (explanation, reference)))


def _sentence(text: str) -> str:
    """``text`` without the log phrasing, capitalised, ending with a full stop."""
    cleaned = _LOG_PHRASES.sub("", " ".join(text.split())).strip()
    if not cleaned:
        return ""
    cleaned = cleaned[:1].upper() + cleaned[1:]
    return cleaned if cleaned.endswith(".") else cleaned + "."
