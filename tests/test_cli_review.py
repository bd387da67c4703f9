"""`auditbot review` as users run it: a subprocess on a real git repository or a ZIP."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.gitrepo import commit, git, make_repo
from tests.support.processes import base_env

VULNERABLE = (
    "import subprocess\n\n\ndef export(target):\n"
    '    subprocess.call("dump > " + target, shell=True)\n'
)


def review(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if env is None:
        env = base_env(
            {
                "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'auditbot.db'}",
                "DATA_DIR": str(cwd / "data"),
            }
        )
    return subprocess.run(
        [sys.executable, "-m", "bot", "review", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hi')\n"})
    commit(repo, {"app.py": VULNERABLE}, "export")
    return repo


def test_table_and_exit_status_1_on_a_high_finding(repo: Path, tmp_path: Path) -> None:
    result = review(tmp_path, str(repo))
    assert result.returncode == 1, result.stderr
    assert "app.py:5" in result.stdout
    assert "conclusion: failure" in result.stdout
    assert "offline analyzers only" in result.stdout


def test_fail_on_critical_exits_0(repo: Path, tmp_path: Path) -> None:
    result = review(tmp_path, str(repo), "--fail-on", "critical")
    assert result.returncode == 0, result.stderr


def test_min_severity_hides_lower_findings_but_fail_on_weighs_all(
    repo: Path, tmp_path: Path
) -> None:
    everything = review(tmp_path, str(repo), "--format", "json")
    severities = {f["severity"] for f in json.loads(everything.stdout)["findings"]}
    assert {"high", "info"} <= severities  # shell=True, and Bandit's note on the import
    result = review(tmp_path, str(repo), "--format", "json", "--min-severity", "high",
                    "--fail-on", "info")
    assert result.returncode == 1, result.stderr
    shown = json.loads(result.stdout)
    assert {f["severity"] for f in shown["findings"]} == {"high"}
    assert shown["counts"]["info"] == 0
    assert "below high not shown (--min-severity)" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown", "html"])
def test_formats_to_file(repo: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = review(
        tmp_path, str(repo), "--format", fmt, "--output", str(out), "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt in {"json", "sarif"}:
        data = json.loads(text)
        if fmt == "sarif":
            assert data["version"] == "2.1.0"
            assert data["runs"][0]["results"]
    else:
        assert "app.py" in text


def test_zip_archive(tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project-main/app.py", VULNERABLE)
    result = review(tmp_path, "--zip", str(archive), "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert any(f["path"] == "app.py" and f["start_line"] == 5 for f in findings)


@pytest.mark.parametrize(
    "args",
    [["--format", "pdf"], ["/no/such/dir"], ["--fail-on", "severe"]],
    ids=["bad-format", "no-dir", "bad-fail-on"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = review(tmp_path, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_bad_ref_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    result = review(tmp_path, str(repo), "--base", "no-such-ref")
    assert result.returncode == 2
    assert "no-such-ref" in result.stderr
    assert "Traceback" not in result.stderr


def repository_state(repo: Path) -> tuple[str, bytes, str]:
    """What a review must leave as it was: the status (ignored files too), the index, and
    the objects."""
    return (
        git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all"),
        (repo / ".git" / "index").read_bytes(),
        git(repo, "count-objects", "-v"),
    )


def test_review_keeps_its_state_out_of_the_repository(repo: Path, tmp_path: Path) -> None:
    before = repository_state(repo)
    home = tmp_path / "home"
    # As a developer runs it: inside the repository, DATABASE_URL and DATA_DIR unset.
    result = review(repo, "--fail-on", "never", env=base_env({"HOME": str(home)}))
    assert result.returncode == 0, result.stderr
    assert "app.py:5" in result.stdout
    assert repository_state(repo) == before
    assert (home / ".cache" / "auditbot" / "review.db").is_file()


def test_working_tree_reviews_staged_unstaged_and_untracked_files(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ".gitignore").write_text("ignored.py\n")
    commit(repo, {"clean.py": "print('clean')\n"}, "clean and ignored")
    (repo / "clean.py").write_text(VULNERABLE)  # unstaged
    (repo / "staged.py").write_text(VULNERABLE)
    git(repo, "add", "staged.py")
    (repo / "new").mkdir()
    (repo / "new" / "untracked.py").write_text(VULNERABLE)
    (repo / "ignored.py").write_text(VULNERABLE)
    before = repository_state(repo)

    result = review(tmp_path, str(repo / "new"), "--working-tree", "--format", "json")
    assert result.returncode == 1, result.stderr
    found = {(f["path"], f["start_line"]) for f in json.loads(result.stdout)["findings"]}
    assert {("clean.py", 5), ("staged.py", 5), ("new/untracked.py", 5)} <= found
    # Committed changes, and what .gitignore excludes, are not the working tree's.
    assert not {path for path, _ in found} & {"app.py", "ignored.py"}
    assert repository_state(repo) == before


def test_working_tree_of_a_clean_repository_has_no_findings(repo: Path, tmp_path: Path) -> None:
    result = review(tmp_path, str(repo), "--working-tree", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []


def test_a_folder_that_is_no_git_repository_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    result = review(tmp_path, str(folder))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"auditbot: {folder} is not a git repository (run auditbot review inside a git "
        "working tree, or pass --zip FILE)"
    )
    assert "Traceback" not in result.stderr


def test_working_tree_takes_no_head(repo: Path, tmp_path: Path) -> None:
    result = review(tmp_path, str(repo), "--working-tree", "--head", "HEAD")
    assert result.returncode == 2
    assert "--working-tree" in result.stderr
