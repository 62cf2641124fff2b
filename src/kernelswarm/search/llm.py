"""Language models behind their APIs: any OpenAI-compatible endpoint, and Anthropic's.

Both go through the official SDKs, which retry 429s and 5xx with exponential backoff
(``max_retries``) and time out each call (``timeout_seconds``). Replies are cached by a hash of
the whole request, so a rerun or a resumed run never pays twice. Keys come from the environment
variable the swarm file names; a missing key, a wrong base URL or a refused key is reported for
that generator alone, in words, and the others go on.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import os
from collections.abc import Iterator
from typing import Any, Protocol

from kernelswarm.search.extract import extract_candidate
from kernelswarm.search.prompts import SYSTEM, user_prompt
from kernelswarm.search.types import GenerationRequest, GeneratorConfig, Proposal


class GeneratorError(Exception):
    """This generator could not propose anything this round (the message says why)."""


class ReplyCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


def request_key(config: GeneratorConfig, system: str, prompt: str, sample: int) -> str:
    payload = {
        "kind": config.kind, "model": config.model, "base_url": config.base_url,
        "temperature": config.temperature, "max_tokens": config.max_tokens,
        "system": system, "prompt": prompt, "sample": sample,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


#: the SDK each API kind needs, and the extra that installs it
SDKS = {"openai": ("openai", "openai"), "anthropic": ("anthropic", "anthropic")}
PROBE_SECONDS = 15.0


def sdk(kind: str) -> Any:
    """The SDK module of an API kind, or a GeneratorError naming the extra that installs it."""
    module, extra = SDKS[kind]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise GeneratorError(
            f"kind {kind!r} needs the {module} package: pip install 'kernelswarm[{extra}]' "
            "(or 'kernelswarm[llm]' for every model API)"
        ) from None


class _ChatGenerator:
    """What both API kinds share: keys, caching, costing, extraction."""

    default_key_env = ""
    kind = ""  # the API kind: its SDK (``SDKS``)
    client_name = ""  # the SDK's client class

    def __init__(self, config: GeneratorConfig, context: Any) -> None:
        self.config = config
        self.cache: ReplyCache | None = getattr(context, "cache", None)
        self._made: Any = None  # the SDK client, made once

    def _key(self) -> str:
        env = self.config.api_key_env or self.default_key_env
        key = os.environ.get(env, "")
        if not key:
            raise GeneratorError(
                f"environment variable {env} is not set: put the API key there (keys never live in the swarm file)"
            )
        return key

    def _call(self, system: str, prompt: str) -> tuple[str, int, int]:
        raise NotImplementedError

    def probe(self) -> str | None:
        """Before anything is measured: the SDK installed, the key's variable set, the endpoint
        reachable, and the model offered there (where the endpoint lists its models). None when
        all is well; otherwise why not, in words."""
        try:
            module = sdk(self.kind)
            client = getattr(module, self.client_name)(
                api_key=self._key(), base_url=self.config.base_url, max_retries=0,
                timeout=PROBE_SECONDS,
            )  # fmt: skip
            if getattr(client, "models", None) is None:
                return None  # an SDK too old to list models: the first call will tell
            with self._errors(module):
                try:
                    offered = [m.id for m in client.models.list()]
                except module.NotFoundError:
                    return None  # an endpoint that does not list its models: reachable is enough
                except module.APIStatusError as exc:
                    if exc.status_code in (404, 405, 501):
                        return None
                    raise
        except GeneratorError as exc:
            return str(exc)
        if offered and self.config.model not in offered:
            shown = ", ".join(sorted(offered)[:8]) + (", …" if len(offered) > 8 else "")
            return (
                f"model {self.config.model!r} is not offered at "
                f"{self.config.base_url or 'the API'} (it offers {shown})"
            )
        return None

    def _client(self) -> Any:
        """The SDK's client, made once: it retries 429s and 5xx with backoff, and times out."""
        if self._made is None:
            self._made = getattr(sdk(self.kind), self.client_name)(
                api_key=self._key(), base_url=self.config.base_url, max_retries=self.config.max_retries,
                timeout=self.config.timeout_seconds,
            )  # fmt: skip
        return self._made

    @contextlib.contextmanager
    def _errors(self, sdk: Any) -> Iterator[None]:
        """The SDK's exceptions, said in words (both SDKs name them alike)."""
        try:
            yield
        except sdk.APIConnectionError as exc:
            raise GeneratorError(
                f"could not reach {self.config.base_url or 'the API'}: {exc}"
            ) from exc
        except sdk.AuthenticationError as exc:
            raise GeneratorError(
                f"the API refused the key in {self.config.api_key_env}: {exc}"
            ) from exc
        except sdk.RateLimitError as exc:
            raise GeneratorError(
                f"rate-limited even after {self.config.max_retries} retries: {exc}"
            ) from exc
        except sdk.APIStatusError as exc:
            raise GeneratorError(f"the API answered {exc.status_code}: {exc.message}") from exc

    def propose(self, request: GenerationRequest) -> list[Proposal]:
        prompt = user_prompt(request)
        proposals = []
        for sample in range(self.config.proposals_per_round):
            key = request_key(self.config, SYSTEM, prompt, sample + 1000 * request.round)
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                reply, tin, tout = (
                    cached["reply"],
                    int(cached["input_tokens"]),
                    int(cached["output_tokens"]),
                )
            else:
                reply, tin, tout = self._call(SYSTEM, prompt)
                if self.cache is not None:
                    self.cache.put(
                        key, {"reply": reply, "input_tokens": tin, "output_tokens": tout}
                    )
            source, note = extract_candidate(reply)
            cost = (
                tin * self.config.price_per_input_token + tout * self.config.price_per_output_token
            )
            proposals.append(
                Proposal(
                    generator=self.config.name,
                    source=source,
                    note=note,
                    prompt=prompt,
                    reply=reply,
                    input_tokens=tin,
                    output_tokens=tout,
                    cost=0.0 if cached else cost,
                    cached=cached is not None,
                )
            )
        return proposals


class OpenAIGenerator(_ChatGenerator):
    """Any OpenAI-compatible chat endpoint: hosted APIs, OpenRouter, vLLM, SGLang, Ollama."""

    default_key_env = "OPENAI_API_KEY"
    kind, client_name = "openai", "OpenAI"

    def _call(self, system: str, prompt: str) -> tuple[str, int, int]:
        openai = sdk("openai")

        with self._errors(openai):
            response = self._client().chat.completions.create(
                model=self.config.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
        if not response.choices:
            raise GeneratorError("the API answered with no choices")
        usage = response.usage
        return (
            response.choices[0].message.content or "",
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
        )


class AnthropicGenerator(_ChatGenerator):
    """Anthropic's Messages API."""

    default_key_env = "ANTHROPIC_API_KEY"
    kind, client_name = "anthropic", "Anthropic"

    def _call(self, system: str, prompt: str) -> tuple[str, int, int]:
        anthropic = sdk("anthropic")

        client = self._client()
        params: dict[str, Any] = {
            "model": self.config.model,
            "system": system,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.config.max_tokens,
        }
        # Newer SDK versions dropped sampling parameters from the signature: pass what it takes.
        if "temperature" in inspect.signature(client.messages.create).parameters:
            params["temperature"] = self.config.temperature
        with self._errors(anthropic):
            response = client.messages.create(**params)
        text = "".join(getattr(block, "text", "") for block in response.content)
        return text, int(response.usage.input_tokens or 0), int(response.usage.output_tokens or 0)
