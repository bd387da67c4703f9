"""Accessibility basics on every page: each form field has a label, headings go in order
(one h1, no level skipped), the language is set, and the severity colours have enough
contrast (WCAG AA: 4.5:1 for the white badge text, 3:1 for the chart's bars)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from bot.findings import Severity
from bot.reports.html import COLOURS
from tests.web.api.conftest import Api
from tests.web.browser import Browser

CSS = Path(__file__).parents[2] / "bot" / "web" / "static" / "app.css"


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.fields: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.lang: str | None = None
        self.buttons_without_name = 0
        self._button_open = False
        self._button_text = ""
        self._button_label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "html":
            self.lang = named.get("lang")
        if tag == "label" and named.get("for"):
            self.labels.add(str(named["for"]))
        if tag in ("input", "select", "textarea") and named.get("type") not in (
                "hidden", "submit", "button"):
            self.fields.append((tag, named))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "button":
            self._button_open, self._button_text = True, ""
            self._button_label = bool(named.get("aria-label"))

    def handle_data(self, data: str) -> None:
        if self._button_open:
            self._button_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            if not self._button_text.strip() and not self._button_label:
                self.buttons_without_name += 1
            self._button_open = False


def _pages(api: Api) -> tuple[Browser, list[str]]:
    project = api.project("acme/app")
    task = api.task(project, head_sha="ab" * 20, pr_number=2, status="running")
    api.finding(task, status="false_positive", status_by="a@example.com")
    api.finding(task)
    browser = Browser(api)
    browser.login(api.user(admin=True).email)
    return browser, ["/", f"/projects/{project.id}", f"/reports/{task.id}", "/nowhere"]


def test_fields_have_labels_and_headings_go_in_order(api: Api) -> None:
    browser, paths = _pages(api)
    anonymous = Browser(api)
    pages = [(p, browser.get(p).text) for p in paths]
    pages += [(p, anonymous.get(p).text) for p in ("/login", "/register", "/reset-password")]
    for path, html in pages:
        audit = _Audit()
        audit.feed(html)
        assert audit.lang == "en", path
        unlabelled = [named.get("name") for _, named in audit.fields
                      if named.get("id") not in audit.labels and not named.get("aria-label")]
        assert unlabelled == [], path
        assert audit.fields or path in ("/", "/nowhere"), path
        assert audit.headings and audit.headings[0] == 1, path
        assert audit.headings.count(1) == 1, path
        for before, after in zip(audit.headings, audit.headings[1:], strict=False):
            assert after <= before + 1, f"{path}: h{before} then h{after}"
        assert audit.buttons_without_name == 0, path


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_helper_matches_known_values() -> None:
    assert round(contrast("#ffffff", "#000000"), 1) == 21.0
    assert round(contrast("#ffffff", "#767676"), 2) == 4.54  # the classic AA grey


def test_severity_colours_have_enough_contrast() -> None:
    css = CSS.read_text()
    for severity in Severity:
        found = re.search(rf"\.sev-{severity.value} \{{ background: (#[0-9a-f]{{6}}); \}}", css)
        assert found, severity
        page_colour = found.group(1)
        # The badge's white text on the page's colour, and the report's and chart's colours
        # are the same values.
        assert contrast("#ffffff", page_colour) >= 4.5, severity
        assert COLOURS[severity].lower() == page_colour, severity
        assert contrast("#ffffff", COLOURS[severity]) >= 4.5, severity
    # Muted text on the page background stays readable.
    assert contrast("#4b5563", "#f9fafb") >= 4.5
