"""The HTML report as text: escaping, the SVG chart's geometry, filters without script.
(The page in a real browser is tested in tests/web/test_pages.py.)"""

from __future__ import annotations

import re

from bot.reports import Report, TaskInfo, render_html
from bot.reports.html import chart_bars


def test_untrusted_text_is_escaped(report: Report) -> None:
    html = render_html(report)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "return f&#39;&lt;b&gt;{name}&lt;/b&gt;&#39;" in html
    assert "<script" not in html  # no script of our own either


def test_chart_bars_scale_to_the_largest_count(report: Report) -> None:
    bars = {bar.severity: bar for bar in chart_bars(report)}
    assert bars["critical"].count == 1
    assert bars["medium"].width == 0
    assert bars["critical"].width == bars["high"].width > 0
    html = render_html(report)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 5
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)]
    assert widths == [bar.width for bar in chart_bars(report)]


def test_findings_grouped_by_file_with_code_and_filters(report: Report) -> None:
    html = render_html(report)
    sections = re.findall(r'<section class="file" data-path="([^"]+)"', html)
    assert sections == ["app/db.py", "app/views.py", "app/util.py"]
    assert html.count('<article class="finding') == 4
    assert "cur.execute(&#34;SELECT * FROM u WHERE id=&#34; + user_id)" in html
    for sev in ("critical", "high", "medium", "low", "info"):
        assert f'id="show-{sev}" checked' in html
        assert f"body:has(#show-{sev}:not(:checked)) .sev-{sev} {{ display: none; }}" in html
    assert 'class="finding sev-medium dismissed"' in html
    assert "static/big.min.js" in html


def test_empty_report_says_so() -> None:
    html = render_html(Report.build(TaskInfo(id="t", kind="local", status="succeeded"), []))
    assert 'id="no-findings"' in html
    assert "0 findings" in html
