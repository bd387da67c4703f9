"""LLM economy at real pull-request sizes, side by side with PR-Agent (issue 14).

Two pull requests of issue 14's shape (``bench/economy_pr.py``: 57 and 417 files of small
Python edits plus three new files with flaws and five files no reviewer sends) go through
auditbot as users run it (``auditbot serve`` + ``auditbot worker``, default settings, a
signed webhook, timed until the check run is concluded) and through PR-Agent's ``/review``
(its own Python 3.12 venv in a temporary folder, local git provider, ``gpt-4o``, max
tokens raised to 128k so it prunes nothing). Both talk to the same scripted
OpenAI-compatible model (``bench/economy_model.py``), which answers at once (or after
``--delay``), counts every request's characters and reports cached tokens as OpenAI's
prompt caching would (1,024-token minimum, 128-token steps).

Printed per pull request: calls, prompt characters (all messages), characters per
changed line, prompt and cached tokens, wall time webhook -> check concluded, and the
ratios to PR-Agent; then the goals of issue 14. With ``--pushes``: open + 4 pushes of one
file each, against PR-Agent's five full reviews; with ``--rerun``: ``/audit`` on the same
head (cache hits).

    .venv/bin/python bench/bench_llm_economy.py [--files 57 417] [--delay 0] [--pushes]
        [--rerun] [--provider openai|openai_compatible] [--no-pr-agent] [--pr-agent-budget N]

PR_AGENT_VENV=/path/to/venv reuses an installed PR-Agent instead of installing it into the
run's temporary folder.

Everything runs on loopback; a private redis-server is started and stopped.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.economy_model import scripted_model
from bench.economy_peer import PeerRun, pr_agent_review
from bench.economy_pr import build, line_counts, push_one
from bench.economy_stack import Measured, Stack, private_redis
from bot.diff.tokens import count_tokens

CHUNK_BUDGET = 12_000  # CHUNK_TOKEN_CAP: the budget of a chunk on a large-window model


def _row(label: str, m: Measured, changed: int, peer: PeerRun | None) -> str:
    ratio = (f"{m.chars / peer.chars:5.2f} x chars, {m.seconds / peer.seconds:4.2f} x time"
             if peer and peer.chars else "    -  ")
    return (f"  {label:10} {m.calls:>6} {m.chars:>10,} {m.chars / changed:>8.0f} "
            f"{m.prompt_tokens:>9,} {m.cached_tokens:>8,} {m.seconds:>8.1f} s   {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[57, 417])
    parser.add_argument("--delay", type=float, default=0.0, help="model answer delay, s")
    parser.add_argument("--provider", default="openai",
                        choices=["openai", "openai_compatible"])
    parser.add_argument("--pushes", action="store_true", help="open + 4 one-file pushes")
    parser.add_argument("--rerun", action="store_true", help="/audit on the same head")
    parser.add_argument("--no-pr-agent", action="store_true")
    parser.add_argument("--pr-agent-budget", type=int, default=128_000,
                        help="PR-Agent's max_model_tokens (its default, 32000, prunes files)")
    args = parser.parse_args()
    count_tokens("warm up", "gpt-4o")
    extra = {"LLM_MODEL": "gpt-4.1-mini"} if args.provider == "openai_compatible" else {}
    with tempfile.TemporaryDirectory(prefix="bench-economy-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        model = scripted_model(args.delay, openai_itself=args.provider == "openai")
        auditbot = Stack(root / "auditbot", model, args.provider, extra)
        (root / "auditbot").mkdir()
        auditbot.start(stack, stack.enter_context(private_redis(root)))
        print(f"auditbot: LLM_PROVIDER={args.provider} (model gpt-4.1-mini at the fake), "
              f"other settings default; model delay {args.delay:g} s")
        print(f"  {'PR':10} {'calls':>6} {'chars':>10} {'ch/line':>8} {'tokens':>9} "
              f"{'cached':>8} {'wall':>10}   vs PR-Agent")
        for files in args.files:
            pr = build(root / f"repo-{files}", files)
            added, removed = line_counts(pr)
            changed = added + removed
            peer = None if args.no_pr_agent else pr_agent_review(
                root, pr, args.delay, max_tokens=args.pr_agent_budget)
            number, head, measured = auditbot.open(pr)
            print(f"{files} files ({pr.reviewable} reviewable), +{added} -{removed} lines:")
            print(_row("auditbot", measured, changed, peer))
            if peer is not None:
                print(f"  {'PR-Agent':10} {peer.calls:>6} {peer.chars:>10,} "
                      f"{peer.chars / changed:>8.0f} {peer.tokens:>9,} {'':>8} "
                      f"{peer.seconds:>8.1f} s   (files in its prompt: {peer.files_sent} "
                      f"of {pr.reviewable})")
            bound = math.ceil(1.25 * measured.prompt_tokens / CHUNK_BUDGET) + 1
            print(f"  goal calls <= ceil(1.25 x tokens / {CHUNK_BUDGET:,}) + 1 = {bound}: "
                  f"{'met' if measured.calls <= bound else 'missed'}; "
                  f"comments posted {measured.comments}")
            if args.rerun:
                again = auditbot.rerun(number, head)
                print(_row("re-review", again, changed, None) +
                      f"   (model calls {again.calls}: "
                      f"{'100 % cache hits' if again.calls == 0 else 'NOT all cached'})")
            if args.pushes:
                total = measured.chars
                previous = head
                for k in range(1, 5):
                    new_head = push_one(pr, k)
                    pushed = auditbot.push(pr, number, previous, new_head)
                    previous = new_head
                    total += pushed.chars
                    print(_row(f"push {k}", pushed, changed, None))
                peer_total = 5 * peer.chars if peer else 0
                ratio = f"{total / peer_total:.2f} x" if peer_total else "-"
                print(f"  open + 4 pushes: {total:,} chars; PR-Agent's 5 full reviews "
                      f"{peer_total:,}: {ratio} (goal <= 0.3 x)")


if __name__ == "__main__":
    main()
