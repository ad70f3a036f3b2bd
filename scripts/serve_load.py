#!/usr/bin/env python3
"""Load and abuse test for `moai serve` (127.0.0.1 only; Python standard library only).

CLIENTS threads run for at most DURATION seconds or REQUESTS requests each, mixing:
  valid:  chat (JSON), chat (SSE stream), completion (JSON), completion (SSE stream)
  abuse:  stream dropped after the first chunk, headers sent a byte at a time (slow client), a
          100 MB body, JSON nested 100k deep, malformed JSON, invalid UTF-8, huge max_tokens, a
          wrong type in each field
Every valid request must get 200 or 429 (never a reset or another status); every abusive one must
get a 4xx or be closed by the server (slow client, oversized body). The server's RSS is sampled.
Prints a summary (outcomes by kind, latency p50/p99 of valid requests, RSS start/peak/end) and exits
1 when any expectation failed or the server stopped answering /health.
"""
import argparse
import http.client
import json
import os
import random
import socket
import threading
import time

HOST = "127.0.0.1"
WRONG_TYPES = [("messages", "hi"), ("max_tokens", "8"), ("temperature", "hot"), ("top_p", []),
               ("stream", 1), ("stop", 5), ("seed", 1.5), ("n", "1"), ("stream_options", 3),
               ("model", 7), ("top_k", -1), ("presence_penalty", {})]


def chat_body(stream=False, **extra):
    body = {"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 8,
            "stream": stream}
    body.update(extra)
    return json.dumps(body).encode()


def completion_body(stream=False):
    return json.dumps({"prompt": "Once upon a time", "max_tokens": 8, "stream": stream}).encode()


def post(port, path, body, timeout, stream_drop=False):
    """Returns (status or 'reset'/'timeout', seconds)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        if stream_drop and res.status == 200:
            res.fp.readline()  # the first event, then go away
            conn.sock.close()
            return "dropped", time.monotonic() - start
        data = res.read()
        if res.status == 200 and b"text/event-stream" in (res.getheader("Content-Type") or "").encode():
            if b"data: [DONE]" not in data:
                return "stream-incomplete", time.monotonic() - start
        return res.status, time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
            http.client.IncompleteRead):
        return "reset", time.monotonic() - start
    except socket.timeout:
        return "timeout", time.monotonic() - start
    finally:
        conn.close()


def slow_headers(port, delay, limit):
    """Sends a request's headers a byte at a time; 'closed' when the server cuts it off."""
    start = time.monotonic()
    text = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock = socket.create_connection((HOST, port), timeout=limit)
    try:
        for byte in text * 50:
            sock.sendall(bytes([byte]))
            time.sleep(delay)
            if time.monotonic() - start > limit:
                return "not-closed", time.monotonic() - start
        return "not-closed", time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError, socket.timeout, OSError):
        return "closed", time.monotonic() - start
    finally:
        sock.close()


def huge_body(port, megabytes, timeout):
    start = time.monotonic()
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % (megabytes << 20))
        chunk = b"[" * (1 << 20)
        for _ in range(megabytes):
            sock.sendall(chunk)
        reply = sock.recv(64)
        return (int(reply.split()[1]) if reply.startswith(b"HTTP/") else "closed"), time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError, OSError):
        return "closed", time.monotonic() - start
    finally:
        sock.close()


def abuse_body(kind, rng):
    if kind == "nested":
        depth = 100000
        return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == "malformed":
        return chat_body()[: rng.randrange(1, 40)]
    if kind == "bad_utf8":
        return b'{"messages": [{"role": "user", "content": "\xff\xfe\xc3("}], "max_tokens": 4}'
    if kind == "huge_max_tokens":
        return chat_body(max_tokens=10**12)
    field, value = WRONG_TYPES[rng.randrange(len(WRONG_TYPES))]
    body = json.loads(chat_body())
    body[field] = value
    return json.dumps(body).encode()


VALID = ["chat", "chat_stream", "completion", "completion_stream"]
ABUSE = ["stream_drop", "slow", "huge", "nested", "malformed", "bad_utf8", "huge_max_tokens",
         "wrong_type"]


def one(kind, port, args, rng):
    if kind == "chat":
        return post(port, "/v1/chat/completions", chat_body(), args.timeout)
    if kind == "chat_stream":
        return post(port, "/v1/chat/completions", chat_body(True), args.timeout)
    if kind == "completion":
        return post(port, "/v1/completions", completion_body(), args.timeout)
    if kind == "completion_stream":
        return post(port, "/v1/completions", completion_body(True), args.timeout)
    if kind == "stream_drop":
        return post(port, "/v1/chat/completions", chat_body(True, max_tokens=64), args.timeout,
                    stream_drop=True)
    if kind == "slow":
        return slow_headers(port, args.slow_delay, args.header_timeout * 3 + 5)
    if kind == "huge":
        return huge_body(port, args.huge_mb, args.timeout)
    return post(port, "/v1/chat/completions", abuse_body(kind, rng), args.timeout)


def ok(kind, outcome):
    if kind in VALID:
        return outcome in (200, 429)
    if kind == "stream_drop":
        return outcome in ("dropped", 429)
    if kind == "slow":
        return outcome == "closed"
    if kind == "huge":
        return outcome in (413, "closed")
    return isinstance(outcome, int) and 400 <= outcome < 500


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, default=0, help="server pid, for RSS")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests", type=int, default=20, help="per client")
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--header_timeout", type=float, default=10, help="the server's --header_timeout")
    p.add_argument("--slow_delay", type=float, default=0.5)
    p.add_argument("--huge_mb", type=int, default=100)
    p.add_argument("--abuse_share", type=float, default=0.3)
    args = p.parse_args()

    results = []  # (kind, outcome, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + args.duration
    rss = [rss_kb(args.pid)] if args.pid else []
    stop = threading.Event()

    def sampler():
        while not stop.wait(0.2):
            rss.append(rss_kb(args.pid))

    def client(index):
        rng = random.Random(index)
        for n in range(args.requests):
            if time.monotonic() > deadline:
                break
            # Every abuse kind appears at least once (client i starts with kind i) when clients allow.
            if n == 0 and index < len(ABUSE):
                kind = ABUSE[index]
            elif rng.random() < args.abuse_share:
                kind = rng.choice([k for k in ABUSE if k not in ("slow", "huge")])
            else:
                kind = rng.choice(VALID)
            outcome, seconds = one(kind, args.port, args, rng)
            with lock:
                results.append((kind, outcome, seconds))

    if args.pid:
        threading.Thread(target=sampler, daemon=True).start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    stop.set()
    conn = http.client.HTTPConnection(HOST, args.port, timeout=10)
    try:
        conn.request("GET", "/health")
        health = conn.getresponse().status
    except OSError:
        health = "down"
    if args.pid:
        rss.append(rss_kb(args.pid))

    failures = [(k, o) for k, o, _ in results if not ok(k, o)]
    by_kind = {}
    for kind, outcome, _ in results:
        by_kind.setdefault(kind, {}).setdefault(str(outcome), 0)
        by_kind[kind][str(outcome)] += 1
    latencies = sorted(s for k, o, s in results if k in VALID and o == 200)
    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    print(f"serve_load: {len(results)} requests from {args.clients} clients in {wall:.1f} s")
    for kind in VALID + ABUSE:
        if kind in by_kind:
            print(f"  {kind:18s} " + ", ".join(f"{o}: {c}" for o, c in sorted(by_kind[kind].items())))
    print(f"  valid 200 latency: p50 {pct(0.5) * 1000:.0f} ms, p99 {pct(0.99) * 1000:.0f} ms "
          f"({len(latencies)} answered)")
    if rss:
        print(f"  server RSS: start {rss[0] / 1024:.0f} MiB, peak {max(rss) / 1024:.0f} MiB, "
              f"end {rss[-1] / 1024:.0f} MiB")
    print(f"  /health after the run: {health}")
    if failures or health != 200:
        print(f"FAIL: {len(failures)} unexpected outcome(s): {failures[:10]}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
