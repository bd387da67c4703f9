"""The model provider: one tiny call (a few tokens), only when asked (`doctor --llm`), since
it costs money. One attempt, no retries: doctor reports what the provider says."""

from __future__ import annotations

import asyncio
import time

from bot.config import Settings
from bot.doctor.report import Line, fail, ok, skip
from bot.errors import ConfigError
from bot.llm.factory import build_provider, default_model
from bot.llm.types import PermanentError, ProviderCall, TransientError

PING = ProviderCall(system="You are a health check. Answer with the word OK.", user="OK?",
                    json_schema=None, schema_name="ping", max_output_tokens=16,
                    temperature=0.0)


async def model_lines(settings: Settings) -> list[Line]:
    name = settings.chosen_provider()
    if name is None:
        return [skip("model", "no model configured: nothing to call")]
    try:
        model = default_model(name, settings)
        provider = build_provider(name, model, settings, primary=True)
    except ConfigError as exc:
        return [fail("model", str(exc))]
    started = time.monotonic()
    try:
        reply = await asyncio.wait_for(provider.complete(PING), settings.llm_timeout_s)
    except PermanentError as exc:
        return [fail("model", f"{name} refused a call to {model}: {exc.reason}",
                     hint="check the key, LLM_MODEL and LLM_BASE_URL")]
    except (TransientError, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, TransientError) else "no answer in time"
        return [fail("model", f"{name} did not answer a call to {model}: {reason}",
                     hint="a rate limit or an outage: try again later")]
    finally:
        await provider.aclose()
    ms = round((time.monotonic() - started) * 1000)
    usage = reply.usage
    return [ok("model", f"{name} {reply.model or model} answered in {ms} ms "
               f"({usage.input_tokens} + {usage.output_tokens} tokens)")]
