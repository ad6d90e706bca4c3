"""A loopback OpenAI-compatible model server driven by the organism, for benchmarks and tests.

The real ``openai`` client talks to it through Inspect's ``openai`` provider::

    python -m alignment_faking.organism.loopback --port 8765 --latency 0.05 &
    OPENAI_API_KEY=loopback OPENAI_BASE_URL=http://127.0.0.1:8765/v1 \\
        inspect eval tasks/gap.py --model openai/faker --model-role grader=openai/grader

The model name picks the organism persona (``faker``, ``refuser``, ``complier``, ``sycophant``,
``malformed``, ``grader``); persona settings are fixed when the server starts. The server answers
``POST /v1/chat/completions`` (with ``n`` choices), ``POST /v1/completions`` (a base model's document),
the batch endpoints (``POST /v1/files``, ``POST /v1/batches``, ``GET /v1/batches/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches/{id}/cancel``), ``GET /v1/models`` and, for Inspect's
``anthropic`` provider (``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT``), the Anthropic Messages API
``POST /v1/messages`` (one reply per request, as the API has no several-choices option).

It reports usage as a provider does (tokens counted as 4 characters each, see
``organism.behaviour.approx_tokens``) and simulates automatic prefix caching the way OpenAI documents
it: prompts of at least 1,024 tokens are cached in 128-token blocks, and a request's
``cached_tokens`` is its longest block-aligned prefix already seen for that model. On ``/v1/messages`` it
simulates Anthropic's explicit prompt caching (``organism.prompt_cache.BreakpointCache``): blocks marked
``cache_control`` (or a top-level ``cache_control``, automatic caching) are breakpoints, and usage reports
``cache_creation_input_tokens`` and ``cache_read_input_tokens`` besides the uncached ``input_tokens``.
Faults are injected on the OpenAI endpoints only.

It counts every request, token and fault it receives (``GET /_loopback/stats``, reset with
``POST /_loopback/reset``); with ``record_requests`` it also keeps every answered request's path, body
and the times it arrived and was answered (``GET /_loopback/requests``), for tests of what a provider puts
on the wire (cache breakpoints, when votes are sent). It can inject faults: each distinct request body is
drawn once (seeded) against the fault rates, and a request that draws a fault gets it on its first ``fault_attempts``
attempts, then succeeds, as a transient provider fault would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

try:
    from aiohttp import web
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "the loopback server (alignment_faking.organism.loopback) is test and benchmark machinery and needs aiohttp, "
        "which the dev extra installs: pip install -e \".[dev]\""
    ) from error

from alignment_faking.organism.behaviour import PERSONAS, approx_tokens, organism_reply, persona_settings, uniform
from alignment_faking.organism.prompt_cache import CHARS_PER_TOKEN, BreakpointCache, PrefixCache

FAULTS = (
    "rate_limit",  # 429 without retry-after
    "rate_limit_retry_after",  # 429 with retry-after
    "server_error",  # 500
    "reset",  # the connection is closed without a response
    "timeout",  # the response comes after `timeout_delay` seconds
    "truncated_json",  # 200 whose JSON body stops half-way: the connection drops mid-body
    "invalid_json",  # 200 with a body that is not JSON
    "content_filter",  # 200, finish_reason content_filter, no content
    "empty_choices",  # 200 with an empty choices list
)

@dataclass
class LoopbackConfig:
    latency: float = 0.0  # seconds added to every chat/completions request
    personas: dict[str, dict[str, float]] = field(default_factory=dict)  # persona -> organism settings
    faults: dict[str, float] = field(default_factory=dict)  # fault kind -> share of distinct requests
    fault_attempts: int = 1  # how many attempts of a faulted request fail before it succeeds
    fault_seed: int = 0
    timeout_delay: float = 30.0  # how long a "timeout" fault keeps the client waiting
    retry_after: float = 1.0  # seconds in the retry-after header of rate_limit_retry_after
    batch_delay: float = 0.0  # seconds a batch stays in_progress before it completes
    fault_models: list[str] | None = None  # only these models get faults (default: all)
    fault_limit: int | None = None  # at most this many distinct request bodies get faults (default: no limit)
    record_requests: bool = False  # keep every answered request (path, body, arrival and answer times), for tests
    # other model names answered by a persona: the suite's default grader (openai/gpt-4o) is the
    # organism grader, so a run pointed at the server needs no grader role
    aliases: dict[str, str] = field(default_factory=lambda: {"gpt-4o": "grader", "gpt-4o-mini": "grader"})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; choose from: {', '.join(FAULTS)}")
        if sum(self.faults.values()) > 1:
            raise ValueError(f"fault rates add up to {sum(self.faults.values())}, more than 1")
        bad = sorted(a for a, p in self.aliases.items() if p not in PERSONAS)
        if bad:
            raise ValueError(f"alias(es) {', '.join(bad)} name no persona; personas are: {', '.join(PERSONAS)}")
        for persona in self.personas:
            persona_settings(persona, self.personas[persona])  # raises on unknown personas or settings


@dataclass
class Counts:
    requests: int = 0  # requests answered with a completion (faulted attempts not included)
    choices: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0  # of `input_tokens`, read from the prompt cache
    cache_write_tokens: int = 0  # of `input_tokens`, written to the prompt cache (Anthropic bills them apart)
    output_tokens: int = 0
    batch_requests: int = 0  # of `requests`, those that came through the batch API
    probes: int = 0  # provider start-up probes (not counted above): Inspect's openai provider asks a
    # Responses-API model once whether it supports reasoning summaries

    @classmethod
    def of(cls, stats: dict[str, Any], model: str) -> "Counts":
        """One model's counts from ``stats()`` (zeros for a model the server never saw)."""
        counts = stats["models"].get(model, {})
        return cls(**{name: int(counts.get(name, 0)) for name in cls.__dataclass_fields__})

    def per_sample(self, n: int) -> dict[str, float]:
        return {name: getattr(self, name) / n for name in self.__dataclass_fields__}


def is_probe(body: dict[str, Any]) -> bool:
    """Inspect's openai provider asks a Responses-API model once, at start-up, whether it supports reasoning
    summaries (a string input with ``reasoning.summary``)."""
    return isinstance(body.get("reasoning"), dict) and "summary" in body["reasoning"] and isinstance(body.get("input"), str)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The prompt as one string in message order (role and text), for token counts and caching."""
    return "".join(f"{m.get('role', '')}:{content_text(m.get('content'))}\n" for m in messages)


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


class Loopback:
    """The server's state and request handling (an aiohttp application)."""

    def __init__(self, config: LoopbackConfig) -> None:
        self.config = config
        self.settings = {p: persona_settings(p, config.personas.get(p, {})) for p in PERSONAS}
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, Counts] = defaultdict(Counts)
        self.faults_sent: dict[str, int] = defaultdict(int)
        self.attempts: dict[str, int] = defaultdict(int)
        self.faulted_bodies: set[str] = set()
        self.cache = PrefixCache()
        self.breakpoints = BreakpointCache()
        self.in_flight = 0
        self.max_in_flight = 0
        self.http_requests = 0
        self.recorded: list[dict[str, Any]] = []  # answered requests, when config.record_requests
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.started = time.monotonic()

    def stats(self) -> dict[str, Any]:
        totals = Counts()
        for c in self.counts.values():
            for name in vars(totals):
                setattr(totals, name, getattr(totals, name) + getattr(c, name))
        return {
            "models": {m: vars(c) for m, c in sorted(self.counts.items())},
            "total": vars(totals),
            "faults": dict(self.faults_sent),
            "http_requests": self.http_requests,
            "max_in_flight": self.max_in_flight,
            "distinct_request_bodies": len(self.attempts),
        }

    # ---------------------------------------------------------------------------------- app

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024**2)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/responses", self.responses)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/files", self.upload_file)
        app.router.add_get("/v1/files/{id}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches/{id}", self.retrieve_batch)
        app.router.add_post("/v1/batches/{id}/cancel", self.cancel_batch)
        app.router.add_get("/_loopback/stats", self._stats)
        app.router.add_get("/_loopback/requests", self._requests)
        app.router.add_post("/_loopback/reset", self._reset)
        return app

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _requests(self, _: web.Request) -> web.Response:
        if not self.config.record_requests:
            return _error(409, "Requests are not recorded: start the server with LoopbackConfig(record_requests=True).", "not_recording")
        return web.json_response(self.recorded)

    async def _reset(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def models(self, _: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": p, "object": "model", "created": 0, "owned_by": "organism"} for p in [*PERSONAS, *self.config.aliases]]}
        )

    # ------------------------------------------------------------------------------ answers

    def _persona(self, body: dict[str, Any]) -> str | None:
        model = str(body.get("model", ""))
        return model if model in PERSONAS else self.config.aliases.get(model)

    def _unknown_model(self, body: dict[str, Any]) -> web.Response:
        names = [*PERSONAS, *self.config.aliases]
        message = f"The model '{body.get('model')}' does not exist on the loopback server; choose one of: {', '.join(names)}"
        return web.json_response({"error": {"message": message, "type": "invalid_request_error", "code": "model_not_found"}}, status=404)

    def answer_chat(self, body: dict[str, Any], batch: bool = False, probe: bool = False) -> dict[str, Any]:
        """A chat.completion object for a request body (the persona must be known)."""
        model, persona, messages = str(body["model"]), self._persona(body) or "", list(body.get("messages") or [])
        system = "\n".join(content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
        users = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
        tail = content_text(messages[-1].get("content")) if messages and messages[-1].get("role") == "assistant" else None
        n = int(body.get("n") or 1)
        texts, stop_reason = organism_reply(persona, self.settings[persona], system, users, tail, n)
        prompt = prompt_text(messages)
        usage = self._count(model, prompt, texts, batch, probe)
        finish = {"stop": "stop", "content_filter": "content_filter", "max_tokens": "length"}.get(stop_reason, "stop")
        return {
            "id": f"chatcmpl-{hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": None if finish == "content_filter" and not text else text},
                    "finish_reason": finish,
                    "logprobs": None,
                }
                for i, text in enumerate(texts)
            ],
            "usage": usage,
        }

    def _count(self, model: str, prompt: str, texts: list[str], batch: bool, probe: bool = False) -> dict[str, Any]:
        prompt_tokens = approx_tokens(prompt)
        completion_tokens = sum(approx_tokens(t) for t in texts)
        c = self.counts[model]
        if probe:
            c.probes += 1
            return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens, "prompt_tokens_details": {"cached_tokens": 0}}
        cached = self.cache.lookup_and_add(model, prompt)
        c.requests += 1
        c.choices += len(texts)
        c.input_tokens += prompt_tokens
        c.cached_input_tokens += cached
        c.output_tokens += completion_tokens
        c.batch_requests += int(batch)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    def _fault_for(self, raw: bytes, model: str) -> str | None:
        """The fault this attempt of this request body gets, if any."""
        digest = hashlib.sha256(raw).hexdigest()
        attempt = self.attempts[digest]
        self.attempts[digest] += 1
        cfg = self.config
        if not cfg.faults or attempt >= cfg.fault_attempts:
            return None
        if cfg.fault_models is not None and model not in cfg.fault_models:
            return None
        if cfg.fault_limit is not None and digest not in self.faulted_bodies and len(self.faulted_bodies) >= cfg.fault_limit:
            return None
        draw, edge = uniform(cfg.fault_seed, digest, "fault"), 0.0
        for kind in FAULTS:
            edge += cfg.faults.get(kind, 0.0)
            if draw < edge:
                self.faulted_bodies.add(digest)
                return kind
        return None

    async def _faulted(self, request: web.Request, kind: str, body: dict[str, Any], answer_for) -> web.StreamResponse | None:
        self.faults_sent[kind] += 1
        if kind == "rate_limit":
            return _error(429, "Rate limit reached (loopback fault).", "rate_limit_exceeded")
        if kind == "rate_limit_retry_after":
            response = _error(429, "Rate limit reached (loopback fault).", "rate_limit_exceeded")
            response.headers["retry-after"] = str(self.config.retry_after)
            response.headers["retry-after-ms"] = str(int(self.config.retry_after * 1000))
            return response
        if kind == "server_error":
            return _error(500, "The server had an error while processing your request (loopback fault).", "server_error")
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()  # aiohttp drops the handler; the client sees a dropped connection
        if kind == "timeout":
            await asyncio.sleep(self.config.timeout_delay)
            if request.transport is None or request.transport.is_closing():
                raise asyncio.CancelledError()  # the client gave up: nothing is answered or counted
            return None  # if the client is still waiting, it gets a normal answer
        if kind == "invalid_json":  # a gateway's error page: no completion was made, nothing is counted
            return web.Response(text="<html>upstream gateway error</html>", content_type="application/json")
        answer = answer_for(body)
        if kind == "truncated_json":
            # the headers promise the whole body, half of it arrives, then the connection drops (as when a
            # proxy or the provider dies mid-response); the client sees an incomplete body, not a 200
            data = json.dumps(answer).encode()
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = len(data)
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        if kind == "content_filter":
            if answer["object"] == "response":
                answer.update(status="incomplete", incomplete_details={"reason": "content_filter"}, output=[])
            for choice in answer.get("choices", []):
                choice["finish_reason"] = "content_filter"
                if "message" in choice:
                    choice["message"]["content"] = None
                else:
                    choice["text"] = ""
            return web.json_response(answer)
        if kind == "empty_choices":
            answer["choices" if "choices" in answer else "output"] = []
            return web.json_response(answer)
        raise AssertionError(kind)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.answer_chat)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.answer_completion)

    async def responses(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.answer_response)

    async def _serve(self, request: web.Request, answer, faults: bool = True) -> web.StreamResponse:
        arrived = time.monotonic()
        self.http_requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                return _error(400, "The request body is not valid JSON.", "invalid_json")
            if self._persona(body) is None:
                return self._unknown_model(body)
            if self.config.latency:
                await asyncio.sleep(self.config.latency)
            # the provider's start-up probe is never faulted: a fault there is swallowed, so it would not count
            kind = self._fault_for(raw, str(body["model"])) if faults and not is_probe(body) else None
            if kind is not None:
                response = await self._faulted(request, kind, body, answer)
                if response is not None:
                    return response
            response = web.json_response(answer(body))
            if self.config.record_requests:
                self.recorded.append({"path": request.path, "arrived": arrived, "answered": time.monotonic(), "body": body})
            return response
        finally:
            self.in_flight -= 1

    def answer_completion(self, body: dict[str, Any], batch: bool = False) -> dict[str, Any]:
        """A text_completion for a base model's document (the persona reads the document as one user turn)."""
        model, persona, prompt = str(body["model"]), self._persona(body) or "", body.get("prompt") or ""
        prompt = prompt if isinstance(prompt, str) else "".join(prompt)
        tail = prompt.rsplit("</user_input>", 1)[-1] if "</user_input>" in prompt else ""
        texts, stop_reason = organism_reply(persona, self.settings[persona], "", [prompt], tail, int(body.get("n") or 1))
        usage = self._count(model, prompt, texts, batch)
        return {
            "id": "cmpl-loopback",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": i, "text": t, "finish_reason": "content_filter" if stop_reason == "content_filter" else "stop", "logprobs": None}
                for i, t in enumerate(texts)
            ],
            "usage": usage,
        }

    def answer_response(self, body: dict[str, Any], batch: bool = False) -> dict[str, Any]:
        """A Responses API object (Inspect's openai provider uses this API for models it takes to be recent)."""
        items = body.get("input") or []
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
        messages += [{"role": i.get("role"), "content": content_text(i.get("content"))} for i in items if i.get("role")]
        chat = self.answer_chat({"model": body["model"], "messages": messages}, batch=batch, probe=is_probe(body))
        choice, usage = chat["choices"][0], chat["usage"]
        filtered = choice["finish_reason"] == "content_filter"
        text = choice["message"]["content"] or ""
        return {
            "id": chat["id"].replace("chatcmpl-", "resp_"),
            "object": "response",
            "created_at": chat["created"],
            "model": chat["model"],
            "status": "incomplete" if filtered else "completed",
            "incomplete_details": {"reason": "content_filter"} if filtered else None,
            "error": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": False,
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "tool_choice": "auto",
            "tools": [],
            "output": [] if filtered and not text else [
                {
                    "type": "message",
                    "id": chat["id"].replace("chatcmpl-", "msg_"),
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "input_tokens_details": {"cached_tokens": usage["prompt_tokens_details"]["cached_tokens"], "cache_write_tokens": 0},
                "output_tokens": usage["completion_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage["total_tokens"],
            },
        }

    # ------------------------------------------------------------------------ Anthropic Messages

    async def messages(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # a cache entry written after this is not readable by this request
        return await self._serve(request, lambda body: self.answer_messages(body, arrived), faults=False)

    def answer_messages(self, body: dict[str, Any], arrived: float | None = None) -> dict[str, Any]:
        """An Anthropic Messages API ``message`` (one reply: the API has no several-choices option), with
        the prompt-caching usage fields; ``cache_control`` breakpoints are honoured (``BreakpointCache``)."""
        model, persona = str(body["model"]), self._persona(body) or ""
        system = body.get("system") or []
        system_blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
        messages = list(body.get("messages") or [])
        users = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
        tail = content_text(messages[-1].get("content")) if messages and messages[-1].get("role") == "assistant" else None
        [text], stop_reason = organism_reply(persona, self.settings[persona], content_text(system_blocks), users, tail, 1)
        blocks = anthropic_blocks(body, system_blocks, messages)
        read, write = self.breakpoints.lookup_and_add(model, blocks, time.monotonic() if arrived is None else arrived, time.monotonic())
        prompt_tokens = sum(len(t) for t, _ in blocks) // CHARS_PER_TOKEN
        output_tokens = approx_tokens(text)
        c = self.counts[model]
        c.requests += 1
        c.choices += 1
        c.input_tokens += prompt_tokens
        c.cached_input_tokens += read
        c.cache_write_tokens += write
        c.output_tokens += output_tokens
        filtered = stop_reason == "content_filter"
        return {
            "id": f"msg_{hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [] if filtered and not text else [{"type": "text", "text": text}],
            "stop_reason": "refusal" if filtered else "max_tokens" if stop_reason == "max_tokens" else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens - read - write,
                "cache_creation_input_tokens": write,
                "cache_read_input_tokens": read,
                "output_tokens": output_tokens,
            },
        }

    # -------------------------------------------------------------------------------- batch

    async def upload_file(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "file"):
            return _error(400, "Upload a file in the multipart field 'file'.", "invalid_request_error")
        data = upload.file.read()
        file_id = f"file-{len(self.files) + 1:06d}"
        self.files[file_id] = data
        return web.json_response(_file_object(file_id, data, getattr(upload, "filename", "batch.jsonl"), str(form.get("purpose", "batch"))))

    async def file_content(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        if file_id not in self.files:
            return _error(404, f"No such file: {file_id}", "not_found")
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def create_batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return _error(400, f"No such input file: {file_id}", "invalid_request_error")
        batch_id = f"batch_{len(self.batches) + 1:06d}"
        lines = [json.loads(line) for line in self.files[file_id].decode().splitlines() if line.strip()]
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "input_file_id": file_id,
            "completion_window": body.get("completion_window", "24h"),
            "status": "in_progress",
            "created_at": int(time.time()),
            "output_file_id": None,
            "error_file_id": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_lines": lines,
            "_ready_at": time.monotonic() + self.config.batch_delay,
        }
        self.batches[batch_id] = batch
        return web.json_response(_public(batch))

    def _complete_batch(self, batch: dict[str, Any]) -> None:
        out, completed, failed = [], 0, 0
        for line in batch["_lines"]:
            body = line.get("body", {})
            if self._persona(body) is None:
                failed += 1
                out.append({"id": f"resp-{line.get('custom_id')}", "custom_id": line.get("custom_id"), "response": None,
                            "error": {"code": 404, "message": f"The model '{body.get('model')}' does not exist"}})
                continue
            url = str(line.get("url", batch["endpoint"]))
            answer_for = self.answer_response if url.endswith("/responses") else self.answer_chat if url.endswith("chat/completions") else self.answer_completion
            answer = answer_for(body, batch=True)
            completed += 1
            out.append({"id": f"resp-{line.get('custom_id')}", "custom_id": line.get("custom_id"),
                        "response": {"status_code": 200, "request_id": answer["id"], "body": answer}, "error": None})
        output_id = f"file-{len(self.files) + 1:06d}"
        self.files[output_id] = "".join(json.dumps(o) + "\n" for o in out).encode()
        batch.update(status="completed", output_file_id=output_id, completed_at=int(time.time()),
                     request_counts={"total": len(out), "completed": completed, "failed": failed})

    async def retrieve_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, f"No such batch: {request.match_info['id']}", "not_found")
        if batch["status"] == "in_progress" and time.monotonic() >= batch["_ready_at"]:
            self._complete_batch(batch)
        return web.json_response(_public(batch))

    async def cancel_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, f"No such batch: {request.match_info['id']}", "not_found")
        if batch["status"] == "in_progress":
            batch["status"] = "cancelled"
        return web.json_response(_public(batch))


def anthropic_blocks(body: dict[str, Any], system_blocks: list[Any], messages: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """A Messages request's prompt as (text, has a cache breakpoint) blocks in cache order: tools, system,
    messages. A top-level ``cache_control`` (automatic caching) marks the last block."""
    blocks: list[tuple[str, bool]] = []
    for tool in body.get("tools") or []:
        blocks.append((json.dumps({k: v for k, v in tool.items() if k != "cache_control"}, sort_keys=True), "cache_control" in tool))
    for block in system_blocks:
        blocks.append(("system:" + content_text([block]), isinstance(block, dict) and "cache_control" in block))
    for message in messages:
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        for part in parts:
            text = part.get("text") if isinstance(part, dict) and "text" in part else json.dumps(part, sort_keys=True)
            blocks.append((f"{message.get('role', '')}:{text}", isinstance(part, dict) and "cache_control" in part))
    if body.get("cache_control") and blocks:
        blocks[-1] = (blocks[-1][0], True)
    return blocks


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": code, "code": code, "param": None}}, status=status)


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _file_object(file_id: str, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": filename,
            "purpose": purpose, "status": "processed"}


# ---------------------------------------------------------------------------------- running it


class LoopbackServer:
    """Runs the loopback server on 127.0.0.1, in a background thread (default) or a child process.

    A child process keeps the server's CPU time out of the process being measured (benchmarks)::

        with LoopbackServer(LoopbackConfig(latency=0.05), process=True) as server:
            env = server.env()  # OPENAI_BASE_URL and OPENAI_API_KEY for Inspect's openai provider
            ...
            server.stats()
    """

    def __init__(self, config: LoopbackConfig | None = None, process: bool = False, port: int = 0) -> None:
        self.config = config or LoopbackConfig()
        self.process = process
        self.port = port
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.loopback: Loopback | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """Environment that points Inspect's openai and anthropic providers at this server."""
        return {
            "OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": "loopback",
            "ANTHROPIC_BASE_URL": self.base_url.removesuffix("/v1"), "ANTHROPIC_API_KEY": "loopback",
        }

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """Point Inspect's openai and anthropic providers at this server (``env()`` set in ``os.environ``) for the block."""
        saved = {k: os.environ.get(k) for k in self.env()}
        os.environ.update(self.env())
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def start(self) -> "LoopbackServer":
        if self.process:
            args = [sys.executable, "-m", "alignment_faking.organism.loopback", "--port", str(self.port), "--config", json.dumps(vars(self.config))]
            args.append("--exit-with-stdin")  # the child goes when this process does, even if it is killed
            self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = self._proc.stdout.readline() if self._proc.stdout else ""
            if not line.startswith("LOOPBACK "):
                self._proc.kill()
                raise RuntimeError(f"the loopback server did not start (it printed {line!r})")
            self.port = int(line.split()[1].rsplit(":", 1)[1].split("/")[0])
            return self
        ready = threading.Event()
        self.loopback = Loopback(self.config)

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(self.loopback.app(), access_log=None)  # type: ignore[union-attr]
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=serve, name="loopback-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the loopback server did not start within 30 s")
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_loopback/stats", timeout=30) as r:
            return json.loads(r.read())

    def requests(self) -> list[dict[str, Any]]:
        """The answered requests in the order they were answered (``record_requests`` must be on): each a dict
        of ``path``, ``body``, and ``arrived`` and ``answered`` (``time.monotonic()`` of the server's process)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_loopback/requests", timeout=30) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/_loopback/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=30).close()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the organism as an OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--latency", type=float, default=None, help="seconds added to every completion request")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND=RATE", help=f"inject a fault; kinds: {', '.join(FAULTS)}")
    parser.add_argument("--config", default=None, help="the whole LoopbackConfig as JSON")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when standard input closes (a parent's pipe)")
    args = parser.parse_args(argv)
    config = LoopbackConfig(**json.loads(args.config)) if args.config else LoopbackConfig()
    if args.latency is not None:
        config.latency = args.latency
    for spec in args.fault:
        kind, _, rate = spec.partition("=")
        config.faults[kind] = float(rate or 1)
    config.__post_init__()

    async def run() -> None:
        runner = web.AppRunner(Loopback(config).app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"LOOPBACK http://127.0.0.1:{port}/v1", flush=True)
        if args.exit_with_stdin:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # returns at EOF
            return
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
