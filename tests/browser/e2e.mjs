// tests/browser/e2e.mjs - the sse server seen by a real browser.
//
//   node e2e.mjs [--update-docs] [PATH_TO_SSE]      (default: ../../sse)
//
// The wire tests (tests/wire.c) prove the bytes; this proves that those
// bytes do in Chromium what docs/protocol.md sections 2 and 3 promise a
// browser:
//
//   same-origin-page  The demo page at GET / shows exactly the N messages
//                     of GET /message-stream, in order, and its EventSource
//                     then ends CLOSED (readyState 2) and stays closed for
//                     several retry delays: the 204 answer to the reconnect
//                     stops it, so there is no endless reconnect loop.
//                     The page's button reads POST /api with fetch() and
//                     shows ":ok", N data blocks and ":done"; a
//                     MutationObserver stamps each block as it appears, and
//                     the data blocks arrive spread over the stream's
//                     length, so each chunk reached the page when it was
//                     sent, not all at the end.
//   reconnect-count   The EventSource asked /message-stream exactly twice:
//                     once for the stream (200), once to reconnect with
//                     Last-Event-ID: N (204).  Seen three ways: the
//                     browser's own network events, the server's access log
//                     and GET /stats (responses["204"] grew by exactly 1).
//   drop-reconnect    The page's form opens /message-stream?drop=2: the
//                     server resets the connection when event 3 would be
//                     due (a whole interval after event 2, to read it),
//                     the EventSource reconnects with Last-Event-ID: 2 and
//                     gets events 3..5, then 204.  The page shows the five
//                     messages once each, in order, with one "reconnected
//                     after event 2" line, and ends CLOSED; the browser's
//                     network events show exactly three requests
//                     (200 reset, 200, 204) with Last-Event-ID none, 2, 5,
//                     and so do the access log and /stats.
//   shape-bad-parameter  The form opens /message-stream?n=0: the server
//                     answers 400, the EventSource gives up at once
//                     ("closed", no message, one request), and the page
//                     shows the server's JSON error.
//   cross-origin-cors A page from another origin (a small static server in
//                     this script) uses both the EventSource and the
//                     POST /api fetch against a server run with
//                     --cors <that origin>; the fetch's JSON Content-Type
//                     makes the browser send a preflight, which the access
//                     log shows as OPTIONS /api answered 204.
//   cross-origin-refused  The same page against a server without --cors:
//                     the browser refuses both, as it must (EventSource
//                     error and CLOSED with no message; fetch rejects with
//                     a TypeError), and the POST itself is never sent.
//   fetch-one-stream  "POST /api" pressed twice: the second run stops the
//                     first, and the list holds one stream (7 lines, one
//                     ":done"), not both interleaved.
//   size-and-heartbeat  size=200: each line of the EventSource says
//                     "200 B, +T ms", T an interval apart, and the end is
//                     called the normal end; heartbeat=100 on the fetch()
//                     stream shows ":" lines between the events.
//   stall-reconnect   stall=1: event 1, the reset when the stream would
//                     have ended, then a reconnect after event 1 and the
//                     rest, each message once.
//   no-favicon        The page links /stats and /metrics, and loading it
//                     asks for no /favicon.ico (the access log has none).
//   live-chart        The tiles drawn from /stats?stream while 40 streams
//                     of POST /api run from this script (and chat messages
//                     are published, with the hub): some second shows all
//                     40 open, events and deliveries a second, a lateness
//                     p99; the lines move; the open streams fall back after.
//   chat-two-pages    (These four need the hub: without it, /topics/chat a
//                     404, they are skipped.)  Two pages, each in its own
//                     browser context; one posts with the form, and both
//                     show "ann: hello from A" once.
//   chat-rights       Without --publish-open the post is refused (403) and
//                     the page says how to allow it; with
//                     --publish-token-file (401) it shows the token field,
//                     and with the token typed in the post goes through.
//                     The token is not in the server's log.
//   chat-resume       The page loads through a relay here, which cuts its
//                     chat stream after three messages; three more are
//                     published meanwhile.  The browser comes back with
//                     Last-Event-ID (the relay sees it) and the page shows
//                     all six once each.
//   chat-gap          The same with --history 2, one message before the cut
//                     and four during it: the page's gap listener shows the
//                     gap, then the two messages still kept.
//   graceful-exit     Every server started here exits 0 on SIGTERM.
//
// Each case prints one line on stdout, "pass NAME", "FAIL NAME: why" or
// "skip NAME: reason"; the exit status is 1 if any case failed.  Every wait
// is bounded (waitForFunction with a timeout, or a deadline); the one fixed
// pause is the deliberate window in which nothing more may happen after
// the EventSource closed.  The browser is Debian's /usr/bin/chromium, never
// a downloaded one; Playwright gives it a fresh temporary profile each run.
//
// With --update-docs the screenshot of the page is also written to
// docs/page.png (the one in the README): chat-two-pages takes it, or
// same-origin-page on a server without the hub.  Each case's own pictures
// are in out/ (page.png, page-drop.png, page-live.png, page-chat.png).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const OUT_DIR = path.join(HERE, "out");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
	"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
	"--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync",
];

const EVENTS = 5;		// -n: events per stream
const INTERVAL = 300;		// -i: ms between events, and the retry delay
const WAIT = 10_000;		// bound on any one wait for the page
const RUN_LIMIT = 150_000;	// bound on the whole run

const argv = process.argv.slice(2);
const updateDocs = argv.includes("--update-docs");
const ssePath = path.resolve(argv.find((a) => !a.startsWith("--")) ??
			     path.join(ROOT, "sse"));

/* ---- reporting ------------------------------------------------------- */

let failures = 0;

function report(line) {
	process.stdout.write(line + "\n");
}

// Runs one case: it passes unless it throws.
async function runCase(name, body) {
	try {
		await body();
		report(`pass ${name}`);
	} catch (err) {
		failures++;
		const why = String(err?.message ?? err).split("\n")[0];
		report(`FAIL ${name}: ${why}`);
	}
}

function check(ok, detail) {
	if (!ok)
		throw new Error(detail);
}

const show = (v) => JSON.stringify(v);

/* ---- the sse server -------------------------------------------------- */

const servers = [];
let hub = false;		// the server has the hub (/topics/...)

// Starts ./sse on a free loopback port with the access log on (no -q): the
// log tells which requests reached the server.  Resolves once the server
// has said "sse: listening on 127.0.0.1:PORT".
function startServer(extraArgs) {
	const args = ["-b", "127.0.0.1", "-p", "0", "-n", String(EVENTS),
		      "-i", String(INTERVAL), ...extraArgs];
	const child = spawn(ssePath, args, { stdio: ["ignore", "ignore", "pipe"] });
	const server = {
		args, child, port: 0, stderr: "",
		exited: new Promise((resolve) =>
			child.on("close", (code, signal) => resolve({ code, signal }))),
	};
	child.stderr.setEncoding("utf8");
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`sse ${args.join(" ")} did not say it was listening`));
		}, 5000);
		child.on("error", (err) => {
			clearTimeout(timer);
			reject(new Error(`cannot run ${ssePath}: ${err.message}`));
		});
		child.on("close", (code) => {
			clearTimeout(timer);
			reject(new Error(`sse exited (${code}) before listening: ` +
					 server.stderr.trim()));
		});
		child.stderr.on("data", (text) => {
			server.stderr += text;
			const m = /sse: listening on 127\.0\.0\.1:(\d+)/.exec(server.stderr);
			if (m && !server.port) {
				server.port = Number(m[1]);
				server.url = `http://127.0.0.1:${server.port}`;
				clearTimeout(timer);
				servers.push(server);
				resolve(server);
			}
		});
	});
}

// SIGTERM, then the exit status, within a bound.  Once the process has
// exited its whole access log has been read.
async function stopServer(server) {
	if (server.result)
		return server.result;
	server.child.kill("SIGTERM");
	const late = new Promise((resolve) =>
		setTimeout(() => resolve(null), 8000).unref());
	let result = await Promise.race([server.exited, late]);
	if (result === null) {
		server.child.kill("SIGKILL");
		await server.exited;
		result = { code: null, signal: "none within 8 s of SIGTERM" };
	}
	server.result = result;
	return result;
}

// The access log as [{method, target, status}], one per response.
function accessLog(server) {
	const re = /"(\S+) (\S+) HTTP\/1\.[01]" (\d{3}) /g;
	return [...server.stderr.matchAll(re)].map((m) =>
		({ method: m[1], target: m[2], status: Number(m[3]) }));
}

async function stats(server) {
	const response = await fetch(`${server.url}/stats`,
				     { signal: AbortSignal.timeout(WAIT) });
	check(response.ok, `GET /stats answered ${response.status}`);
	return response.json();
}

/* ---- the page of another origin -------------------------------------- */

// Opens an EventSource and a streaming fetch() on the sse server named by
// ?sse=, and records what happens in window.__es and window.__fetch (and
// shows it, for a person looking at a screenshot).
const CROSS_ORIGIN_PAGE = `<!doctype html>
<meta charset="utf-8"><title>cross-origin client</title>
<pre id="log"></pre>
<script>
"use strict";
const sse = new URLSearchParams(location.search).get("sse");
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };

window.__es = { messages: [], errors: 0, readyState: 0 };
const es = new EventSource(sse + "/message-stream");
es.onmessage = (e) => { __es.messages.push(JSON.parse(e.data).text); log("message " + e.data); };
es.onerror = () => { __es.errors++; __es.readyState = es.readyState; log("error, readyState " + es.readyState); };

window.__fetch = { done: false, status: 0, body: "", error: null };
fetch(sse + "/api", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: '{"stream":true}',
}).then(async (response) => {
  __fetch.status = response.status;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    __fetch.body += value;
  }
  log("fetch " + response.status + ": " + JSON.stringify(__fetch.body));
}).catch((err) => {
  __fetch.error = { name: err.name, message: err.message };
  log("fetch rejected: " + err.name + ": " + err.message);
}).finally(() => { __fetch.done = true; });
</script>
`;

function startStaticServer() {
	const server = http.createServer((req, res) => {
		if (req.method === "GET" && req.url.startsWith("/?")) {
			res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
			res.end(CROSS_ORIGIN_PAGE);
		} else {
			res.writeHead(404).end();
		}
	});
	return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
		server.origin = `http://127.0.0.1:${server.address().port}`;
		resolve(server);
	}));
}

/* ---- the cases ------------------------------------------------------- */

const expectedTexts = Array.from({ length: EVENTS },
	(_, i) => `Hello, world! (${i + 1}/${EVENTS})`);

// Same-origin: the demo page, its EventSource and its fetch() button.
async function sameOriginPage(browser, server, seen) {
	const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
	try {
		const page = await context.newPage();
		// The browser's own record of the EventSource's requests, kept
		// as they happen: {lastEventId, status}.
		const entries = new Map();
		page.on("request", (request) => {
			if (new URL(request.url()).pathname !== "/message-stream")
				return;
			const entry = { lastEventId: "unknown", status: "no answer" };
			request.allHeaders().then((h) => {
				entry.lastEventId = h["last-event-id"] ?? null;
			}, () => {});
			entries.set(request, entry);
			seen.requests.push(entry);
		});
		page.on("response", (response) => {
			const entry = entries.get(response.request());
			if (entry)
				entry.status = response.status();
		});
		await page.goto(server.url + "/", { timeout: WAIT });

		await page.waitForFunction((n) =>
			document.querySelectorAll("#messages li").length >= n &&
			document.getElementById("es-status").textContent === "closed",
			EVENTS, { timeout: WAIT });
		const items = await page.$$eval("#messages li", (lis) =>
			lis.map((li) => li.textContent));
		const want = expectedTexts.map((t) => "sse: " + t);
		check(show(items) === show(want),
		      `messages ${show(items)}, expected ${show(want)}`);

		// Nothing more may happen once it is closed: no reconnect, no
		// message, for clearly longer than the retry delay.
		const requestsWhenClosed = seen.requests.length;
		await page.waitForTimeout(4 * INTERVAL);
		const after = await page.evaluate(() => ({
			items: document.querySelectorAll("#messages li").length,
			status: document.getElementById("es-status").textContent,
			readyState: typeof es === "object" ? es.readyState : null,
		}));
		check(after.items === EVENTS && after.status === "closed" &&
		      after.readyState === 2,
		      `${4 * INTERVAL} ms after closing: ${show(after)}, ` +
		      `expected ${EVENTS} items, "closed", readyState 2`);
		check(seen.requests.length === requestsWhenClosed,
		      `${seen.requests.length - requestsWhenClosed} more ` +
		      "requests to /message-stream after it closed");

		// The fetch() button: stamp each block as the page adds it.
		await page.evaluate(() => {
			window.__arrivals = [];
			new MutationObserver((records) => {
				for (const r of records)
					for (const node of r.addedNodes)
						if (node.nodeName === "LI")
							__arrivals.push({ t: Date.now(), text: node.textContent });
			}).observe(document.getElementById("fetch-events"), { childList: true });
		});
		await page.click("#fetch-button", { timeout: WAIT });
		await page.waitForFunction(() =>
			document.getElementById("fetch-status").textContent.includes("finished"),
			null, { timeout: WAIT });
		const status = await page.textContent("#fetch-status");
		check(status === `stream 1 finished: ${EVENTS} events`,
		      `fetch status ${show(status)}`);
		const blocks = await page.$$eval("#fetch-events li", (lis) =>
			lis.map((li) => li.textContent));
		const data = /^data: \{"message":"Hello, world!","timestamp":\d+\}$/;
		check(blocks.length === EVENTS + 2 && blocks[0] === ":ok" &&
		      blocks.slice(1, -1).every((b) => data.test(b)) &&
		      blocks.at(-1) === ":done",
		      `fetch blocks ${show(blocks)}, expected ":ok", ` +
		      `${EVENTS} data blocks, ":done"`);

		// Incremental: the data blocks appeared over the stream's
		// length (event k is due k intervals in), not all at once.
		const arrivals = await page.evaluate(() => window.__arrivals);
		check(show(arrivals.map((a) => a.text)) === show(blocks),
		      `observed ${show(arrivals.map((a) => a.text))}`);
		const times = arrivals.filter((a) => a.text.startsWith("data: "))
			.map((a) => a.t);
		const spread = times.at(-1) - times[0];
		check(spread >= 3 * INTERVAL,
		      `the ${EVENTS} data blocks appeared within ${spread} ms ` +
		      `(offsets ${show(times.map((t) => t - times[0]))}); ` +
		      `at least ${3 * INTERVAL} expected: buffered, not streamed`);

		// A still picture of it: no hover, no focus ring.
		await page.mouse.move(0, 0);
		await page.evaluate(() => document.activeElement?.blur());
		mkdirSync(OUT_DIR, { recursive: true });
		await page.screenshot({ path: path.join(OUT_DIR, "page.png") });
		if (updateDocs && !hub)		// else chat-two-pages takes it
			await page.screenshot({ path: path.join(ROOT, "docs", "page.png") });
	} finally {
		await context.close();
	}
}

// The EventSource's requests, seen by the browser, the log and /stats.
async function reconnectCount(server, seen, before, after) {
	const browserSaw = seen.requests;
	const wantBrowser = [{ lastEventId: null, status: 200 },
			     { lastEventId: String(EVENTS), status: 204 }];
	check(show(browserSaw) === show(wantBrowser),
	      `browser requests to /message-stream ${show(browserSaw)}, ` +
	      `expected ${show(wantBrowser)}`);

	const logged = accessLog(server)
		.filter((r) => r.target.startsWith("/message-stream"))
		.map((r) => `${r.method} ${r.target} ${r.status}`);
	const wantLog = ["GET /message-stream 200", "GET /message-stream 204"];
	check(show(logged) === show(wantLog),
	      `access log ${show(logged)}, expected ${show(wantLog)}`);

	const grew = (after.responses["204"] ?? 0) - (before.responses["204"] ?? 0);
	check(grew === 1, `/stats responses["204"] grew by ${grew}, expected 1`);
}

// Records the browser's requests to exactly `target` (path and query):
// {type, lastEventId, status, end}, in the order they were sent.
// settled() resolves once every request's headers have been read.
function watchRequests(page, target) {
	const entries = new Map(), pending = [];
	const list = [];
	page.on("request", (request) => {
		const url = new URL(request.url());
		if (url.pathname + url.search !== target)
			return;
		const entry = { type: request.resourceType(), lastEventId: "unknown",
				status: "no answer", end: "open" };
		pending.push(request.allHeaders().then((h) => {
			entry.lastEventId = h["last-event-id"] ?? null;
		}, () => {}));
		entries.set(request, entry);
		list.push(entry);
	});
	page.on("response", (response) => {
		const entry = entries.get(response.request());
		if (entry)
			entry.status = response.status();
	});
	page.on("requestfinished", (request) => {
		const entry = entries.get(request);
		if (entry)
			entry.end = "finished";
	});
	page.on("requestfailed", (request) => {
		const entry = entries.get(request);
		if (entry)
			entry.end = "failed " + (request.failure()?.errorText ?? "");
	});
	list.settled = () => Promise.all(pending);
	return list;
}

// Fills in the demo page's form ("" leaves a field empty) and presses
// "Open stream".
async function openShaped(page, fields) {
	for (const name of ["n", "interval", "size", "heartbeat", "drop", "stall"])
		await page.fill(`#shape-${name}`, fields[name] ?? "", { timeout: WAIT });
	await page.click("#open-button", { timeout: WAIT });
}

// The page's EventSource, once its status reads "closed" for `url`.
async function closedState(page, url) {
	const state = () => ({
		url: typeof es === "object" && es ? es.url : null,
		readyState: typeof es === "object" && es ? es.readyState : null,
		status: document.getElementById("es-status").textContent,
		info: document.getElementById("es-info").textContent,
		shown: document.getElementById("es-url").textContent,
		lines: [...document.querySelectorAll("#messages li")].map((li) =>
			({ text: li.textContent, reconnect: li.classList.contains("reconnect") })),
	});
	try {
		await page.waitForFunction((url) =>
			es && es.url.endsWith(url) &&
			document.getElementById("es-status").textContent === "closed",
			url, { timeout: WAIT });
	} catch {
		throw new Error(`${url} not closed within ${WAIT} ms: ` +
				show(await page.evaluate(state)));
	}
	return page.evaluate(state);
}

// The form opens ?drop=2; the reconnect resumes after event 2.
async function dropReconnect(browser, server) {
	const target = "/message-stream?drop=2";
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		const requests = watchRequests(page, target);
		await page.goto(server.url + "/", { timeout: WAIT });
		await openShaped(page, { drop: "2" });	// n emptied: server's -n
		const st = await closedState(page, target);

		check(st.shown === target, `the page shows ${show(st.shown)}`);
		const texts = st.lines.filter((l) => !l.reconnect).map((l) => l.text);
		const want = expectedTexts.map((t) => "sse: " + t);
		check(show(texts) === show(want),
		      `messages ${show(texts)}, expected ${show(want)}`);
		const lines = st.lines.map((l) => l.text);
		const wantLines = [...want.slice(0, 2), "reconnected after event 2",
				   ...want.slice(2)];
		check(show(lines) === show(wantLines),
		      `list ${show(lines)}, expected ${show(wantLines)}`);
		check(st.readyState === 2, `readyState ${st.readyState}, expected 2`);
		check(st.info === `${EVENTS} events, then the normal end: the ` +
		      "server answered the browser's reconnect with 204 " +
		      "(connection 2)", `info ${show(st.info)}`);

		await requests.settled();
		const got = requests.map(({ type, lastEventId, status }) =>
			({ type, lastEventId, status }));
		const wantRequests = [
			{ type: "eventsource", lastEventId: null, status: 200 },
			{ type: "eventsource", lastEventId: "2", status: 200 },
			{ type: "eventsource", lastEventId: String(EVENTS), status: 204 },
		];
		check(show(got) === show(wantRequests),
		      `browser requests to ${target} ${show(requests)}, ` +
		      `expected ${show(wantRequests)}`);
		check(requests[0].end.startsWith("failed") &&
		      requests[1].end === "finished",
		      `the first request should fail (reset), the second finish: ` +
		      show(requests));

		mkdirSync(OUT_DIR, { recursive: true });
		await page.screenshot({ path: path.join(OUT_DIR, "page-drop.png") });

		const s = await stats(server);
		check(s.streams_dropped === 1,
		      `/stats streams_dropped ${s.streams_dropped}, expected 1`);
	} finally {
		await context.close();
	}
	await stopServer(server);	// so that its whole log is in
	const logged = accessLog(server)
		.filter((r) => r.target === target).map((r) => r.status);
	check(show(logged) === show([200, 200, 204]),
	      `access log for ${target}: ${show(logged)}, expected [200,200,204]`);
}

// The form opens ?n=0: 400, and the EventSource gives up.
async function shapeBadParameter(browser, server) {
	const target = "/message-stream?n=0";
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		const requests = watchRequests(page, target);
		await page.goto(server.url + "/", { timeout: WAIT });
		await openShaped(page, { n: "0" });
		const st = await closedState(page, target);
		check(st.lines.length === 0 && st.readyState === 2,
		      `closed with ${show(st.lines)}, readyState ${st.readyState}; ` +
		      "expected no line, readyState 2");

		// The page asks once more with fetch() to show why.
		await page.waitForFunction(() =>
			document.getElementById("es-info").textContent.startsWith("server answered"),
			null, { timeout: WAIT }).catch(() => {});
		const info = await page.textContent("#es-info");
		check(/^server answered 400: .*\bn\b/.test(info),
		      `es-info ${show(info)}, expected the server's 400 error on n`);

		await requests.settled();
		const answers = requests.filter((r) => r.type === "eventsource")
			.map((r) => r.status);
		check(show(answers) === show([400]),
		      `EventSource requests to ${target} answered ${show(answers)}, ` +
		      "expected exactly one, 400");
	} finally {
		await context.close();
	}
}

// Loads the other origin's page against `server` and waits until both
// the EventSource is closed and the fetch has ended.
async function crossOriginRun(browser, origin, server) {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		const consoleLines = [];
		page.on("console", (m) => consoleLines.push(m.text()));
		const esResponses = [];
		page.on("response", (r) => {
			if (new URL(r.url()).pathname === "/message-stream")
				esResponses.push(r);
		});
		await page.goto(`${origin}/?sse=${encodeURIComponent(server.url)}`,
				{ timeout: WAIT });
		try {
			await page.waitForFunction(() =>
				__es.readyState === 2 && __fetch.done,
				null, { timeout: WAIT });
		} catch {
			const state = await page.evaluate(() => ({ es: __es, fetch: __fetch }));
			throw new Error(`not finished within ${WAIT} ms: ${show(state)}`);
		}
		const result = await page.evaluate(() => ({ es: __es, fetch: __fetch }));
		result.allowOrigin = await Promise.all(esResponses.map(async (r) =>
			(await r.allHeaders())["access-control-allow-origin"] ?? null));
		result.console = consoleLines;
		return result;
	} finally {
		await context.close();
	}
}

async function crossOriginCors(browser, origin, server) {
	const r = await crossOriginRun(browser, origin, server);
	check(show(r.es.messages) === show(expectedTexts),
	      `EventSource messages ${show(r.es.messages)}`);
	check(r.allowOrigin.length > 0 && r.allowOrigin.every((v) => v === origin),
	      `Access-Control-Allow-Origin on /message-stream ${show(r.allowOrigin)}`);
	check(r.fetch.error === null && r.fetch.status === 200,
	      `fetch ${show(r.fetch)}; console ${show(r.console)}`);
	const dataLines = r.fetch.body.split("\n")
		.filter((l) => l.startsWith("data: ")).length;
	check(r.fetch.body.startsWith(":ok\n\n") && dataLines === EVENTS &&
	      r.fetch.body.endsWith(":done\n\n"),
	      `fetch body ${show(r.fetch.body)}`);

	await stopServer(server);	// so that its whole log is in
	const log = accessLog(server).map((e) => `${e.method} ${e.target} ${e.status}`);
	check(log.includes("OPTIONS /api 204") &&
	      log.indexOf("OPTIONS /api 204") < log.indexOf("POST /api 200"),
	      `no preflight before the POST in the access log ${show(log)}`);
}

async function crossOriginRefused(browser, origin, server) {
	const r = await crossOriginRun(browser, origin, server);
	check(r.es.messages.length === 0 && r.es.errors >= 1 &&
	      r.es.readyState === 2,
	      `EventSource ${show(r.es)}, expected an error, CLOSED, no message`);
	check(r.fetch.error?.name === "TypeError",
	      `fetch ${show(r.fetch)}, expected a rejection with a TypeError`);

	await stopServer(server);
	const log = accessLog(server).map((e) => `${e.method} ${e.target} ${e.status}`);
	check(!log.some((l) => l.startsWith("POST ")),
	      `the browser sent the POST though the preflight failed: ${show(log)}`);
}

/* ---- the page's panels ----------------------------------------------- */

// Waits for fn (run in the page, with arg) to be true; a timeout says what
// the page showed instead, from state().
async function waitFor(page, fn, arg, state, what) {
	try {
		await page.waitForFunction(fn, arg, { timeout: WAIT });
	} catch {
		throw new Error(`${what} not within ${WAIT} ms: ` +
				show(await page.evaluate(state, arg)));
	}
}

// The lines of the page's list #id, as the page shows them (run in the
// page: page.evaluate(lines, id)).
const lines = (id) => [...document.querySelectorAll(`#${id} li`)].map((li) =>
	({ text: li.textContent, meta: li.dataset.meta, className: li.className }));

// "POST /api" pressed twice: the second run stops the first, and the list
// holds the second stream alone (not both, interleaved).
async function fetchOneStream(browser, server) {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(server.url + "/", { timeout: WAIT });
		await page.click("#fetch-button", { timeout: WAIT });
		await page.waitForFunction(() =>
			document.querySelectorAll("#fetch-events li").length >= 2,
			null, { timeout: WAIT });	// the first is running
		await page.click("#fetch-button", { timeout: WAIT });
		const state = () => ({
			status: document.getElementById("fetch-status").textContent,
			lines: [...document.querySelectorAll("#fetch-events li")]
				.map((li) => li.textContent),
		});
		await waitFor(page, () => /finished/.test(
			document.getElementById("fetch-status").textContent),
			null, state, "a finished stream");
		await page.waitForTimeout(2 * INTERVAL);	// the first one's rest, if it ran on
		const st = await page.evaluate(state);
		check(st.status === `stream 2 finished: ${EVENTS} events`,
		      `status ${show(st.status)}`);
		check(st.lines.length === EVENTS + 2 && st.lines[0] === ":ok" &&
		      st.lines.filter((l) => l === ":done").length === 1 &&
		      st.lines.at(-1) === ":done",
		      `list ${show(st.lines)}: expected one stream, ${EVENTS + 2} lines`);
	} finally {
		await context.close();
	}
}

// size=200 on the EventSource: each line says "200 B, +T ms", T one
// interval apart; the end is called the normal end.  heartbeat=100 on the
// fetch() stream: the comments show there, between the events.
async function sizeAndHeartbeat(browser, server) {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(server.url + "/", { timeout: WAIT });
		await openShaped(page, { n: "3", size: "200" });
		const st = await closedState(page, "/message-stream?n=3&size=200");
		const metas = (await page.evaluate(lines, "messages")).map((l) => l.meta);
		const times = metas.map((m) => Number(/^200 B, \+(\d+) ms$/.exec(m)?.[1]));
		check(metas.length === 3 && times.every((t, i) =>
			t >= (i + 1) * INTERVAL - 50 && (i === 0 || t - times[i - 1] >= INTERVAL / 2)),
		      `meta ${show(metas)}: expected "200 B, +T ms", T an interval apart`);
		check(/^3 events, then the normal end/.test(st.info), `info ${show(st.info)}`);

		await openShaped(page, { n: "2", heartbeat: "100" });
		await page.click("#fetch-button", { timeout: WAIT });
		await waitFor(page, () => /finished/.test(
			document.getElementById("fetch-status").textContent), null,
			() => document.getElementById("fetch-events").innerText,
			"the fetch() stream's end");
		const blocks = (await page.evaluate(lines, "fetch-events")).map((l) => l.text);
		const beats = blocks.filter((l) => l === ":").length;
		check(beats >= 2 && blocks[0] === ":ok" && blocks.at(-1) === ":done" &&
		      blocks.filter((l) => l.startsWith("data: ")).length === 2,
		      `fetch list ${show(blocks)}: expected heartbeats between two events`);
		check(await page.textContent("#fetch-url") === "POST /api?n=2&heartbeat=100",
		      `fetch-url ${show(await page.textContent("#fetch-url"))}`);
	} finally {
		await context.close();
	}
}

// stall=1: event 1, silence, a reset when the stream would have ended; the
// browser reconnects after event 1 and gets the rest.
async function stallReconnect(browser, server) {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(server.url + "/", { timeout: WAIT });
		await openShaped(page, { n: "3", stall: "1" });
		const st = await closedState(page, "/message-stream?n=3&stall=1");
		const want = ["sse: Hello, world! (1/3)", "reconnected after event 1",
			      "sse: Hello, world! (2/3)", "sse: Hello, world! (3/3)"];
		check(show(st.lines.map((l) => l.text)) === show(want),
		      `list ${show(st.lines)}, expected ${show(want)}`);
	} finally {
		await context.close();
	}
}

// The page asks for no /favicon.ico (its icon is an empty data: URL) and
// links the counters.
async function noFavicon(browser, server) {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(server.url + "/", { timeout: WAIT });
		await page.waitForTimeout(3 * INTERVAL);
		const links = await page.$$eval("a", (as) => as.map((a) => a.getAttribute("href")));
		check(links.includes("/stats") && links.includes("/metrics"),
		      `links ${show(links)}, expected /stats and /metrics`);
	} finally {
		await context.close();
	}
	await stopServer(server);
	const asked = accessLog(server).map((r) => r.target);
	check(!asked.includes("/favicon.ico"), `the browser asked ${show(asked)}`);
}

// The live tiles while a load runs: LOAD streams of POST /api from here
// (a browser would allow six), and with a hub chat messages too.  Some
// second shows them all open, hundreds of events a second and a lateness
// p99; the lines move; after the load the open streams fall back.
async function liveChart(browser, server, hub) {
	const LOAD = 40, N = 30, EVERY = 100;	// 3 s of 400 events a second
	const context = await browser.newContext();
	const tiles = () => Object.fromEntries(["streams", "events", "deliveries", "p99"]
		.map((k) => [k, {
			value: document.querySelector(`#live-${k} b`).textContent,
			points: document.querySelector(`#live-${k} polyline`).getAttribute("points"),
		}]));
	try {
		const page = await context.newPage();
		await page.goto(server.url + "/", { timeout: WAIT });
		await waitFor(page, () => document.querySelector("#live-streams b")
			?.textContent !== "-", null, () => document.body.innerText,
			"a first value in the live tiles");
		const first = await page.evaluate(tiles);

		const load = Array.from({ length: LOAD }, () => new Promise((resolve) => {
			const req = http.request(`${server.url}/api?n=${N}&interval=${EVERY}`,
				{ method: "POST", agent: false,
				  headers: { "Content-Type": "application/json" } },
				(res) => { res.resume(); res.on("end", resolve); res.on("error", resolve); });
			req.on("error", resolve);
			req.end('{"stream":true}');
		}));
		let chats = 0;
		const publisher = hub ? setInterval(() => publish(server, "load", `m${++chats}`, "chat")
			.catch(() => {}), 200) : null;
		const samples = [];
		const done = Promise.all(load).then(() => true);
		const deadline = Date.now() + N * EVERY + 5000;
		while (Date.now() < deadline) {
			samples.push(await page.evaluate(tiles));
			if (await Promise.race([done, sleep(250)]) === true)
				break;
		}
		clearInterval(publisher);
		const num = (s, k) => Number(s[k].value);
		check(samples.some((s) => num(s, "streams") >= LOAD),
		      `open streams never reached ${LOAD}: ` +
		      show(samples.map((s) => s.streams.value)));
		check(samples.some((s) => num(s, "events") >= LOAD * 1000 / EVERY / 4),
		      `events a second ${show(samples.map((s) => s.events.value))}`);
		check(samples.some((s) => /^[\d.]+$/.test(s.p99.value)),
		      `lateness p99 ${show(samples.map((s) => s.p99.value))}`);
		if (hub)
			check(samples.some((s) => num(s, "deliveries") > 0),
			      `deliveries a second ${show(samples.map((s) => s.deliveries.value))}`);
		const last = samples.at(-1);
		for (const k of ["streams", "events", "p99"])
			check(last[k].points !== first[k].points,
			      `the ${k} line did not move: ${show(first[k].points)}`);
		await waitFor(page, (n) => Number(document.querySelector("#live-streams b")
			.textContent) < n, LOAD, () => document.querySelector("#live").innerText,
			"the open streams falling back after the load");
		await page.screenshot({ path: path.join(OUT_DIR, "page-live.png") });
	} finally {
		await context.close();
	}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* ---- the chat -------------------------------------------------------- */

// Publishes {"user":...,"text":...} on a topic; resolves to its id.
async function publish(server, user, text, topic = "chat") {
	const response = await fetch(`${server.url}/topics/${topic}`, {
		method: "POST", body: JSON.stringify({ user, text }),
		signal: AbortSignal.timeout(WAIT),
	});
	check(response.status === 200, `POST /topics/${topic} answered ${response.status}`);
	return (await response.json()).id;
}

// Does the server have the hub?  Without it /topics/chat is a 404.
async function hasHub(server) {
	const response = await fetch(`${server.url}/topics/chat`,
				     { method: "HEAD", signal: AbortSignal.timeout(WAIT) });
	return response.status !== 404;
}

// A relay in front of a server: the page loads from it, and a case can cut
// the relayed connections of a stream as a network failure would.  It
// keeps each request head that passes.
function startRelay(server) {
	const conns = new Set(), heads = [];
	const relay = net.createServer((client) => {
		const up = net.connect(server.port, "127.0.0.1");
		const conn = { client, up, request: "" };
		conns.add(conn);
		client.on("data", (d) => {
			const text = d.toString("latin1");
			if (/^[A-Z]+ \//.test(text)) {
				conn.request = text;
				heads.push(text);
			}
		});
		client.pipe(up);
		up.pipe(client);
		const end = () => { client.destroy(); up.destroy(); conns.delete(conn); };
		for (const s of [client, up]) {
			s.on("close", end);
			s.on("error", end);
		}
	});
	relay.heads = heads;
	relay.cut = (prefix) => {
		let n = 0;
		for (const c of conns)
			if (c.request.startsWith(prefix)) {
				c.client.resetAndDestroy();
				c.up.destroy();
				n++;
			}
		return n;
	};
	return new Promise((resolve) => relay.listen(0, "127.0.0.1", () => {
		relay.url = `http://127.0.0.1:${relay.address().port}`;
		resolve(relay);
	}));
}

const chatLines = () => [...document.querySelectorAll("#chat li")].map((li) =>
	({ text: li.textContent, className: li.className }));

// Opens the page at url and waits until its chat stream is open.
async function chatPage(context, url) {
	const page = await context.newPage();
	await page.goto(url + "/", { timeout: WAIT });
	await waitFor(page, () => chat.readyState === 1, null,
		      () => ({ readyState: chat.readyState,
			       note: document.getElementById("chat-note").textContent }),
		      "the chat stream open");
	return page;
}

async function chatPost(page, user, text) {
	await page.fill("#chat-user", user, { timeout: WAIT });
	await page.fill("#chat-text", text, { timeout: WAIT });
	await page.click("#chat-form button", { timeout: WAIT });
}

// Waits until the chat shows n lines, then a little longer, and returns
// them: a line shown twice would be there by then.
async function chatSettled(page, n) {
	await waitFor(page, (n) => document.querySelectorAll("#chat li").length >= n,
		      n, chatLines, `${n} chat lines`);
	await page.waitForTimeout(3 * INTERVAL);
	return page.evaluate(chatLines);
}

// Two pages on the chat, each its own browser context (its own
// connections); one posts with the form, and both show it once.
async function chatTwoPages(browser, server) {
	const a = await browser.newContext({ viewport: { width: 900, height: 700 } });
	const b = await browser.newContext();
	try {
		const pa = await chatPage(a, server.url), pb = await chatPage(b, server.url);
		await chatPost(pa, "ann", "hello from A");
		for (const [name, page] of [["the other page", pb], ["the poster", pa]]) {
			const lines = await chatSettled(page, 1);
			check(show(lines.map((l) => l.text)) === show(["ann: hello from A"]),
			      `${name} shows ${show(lines)}`);
		}
		check(await pa.textContent("#chat-note") === "" &&
		      await pa.inputValue("#chat-text") === "",
		      `after the post: note ${show(await pa.textContent("#chat-note"))}`);
		await chatPost(pb, "bob", "hi ann");

		// The picture in the README: both streams done, a chat, a load.
		await pa.click("#fetch-button");
		await chatSettled(pa, 2);
		await waitFor(pa, () => /finished/.test(document.getElementById(
			"fetch-status").textContent), null, () => null, "the fetch() stream");
		await pa.mouse.move(0, 0);
		await pa.evaluate(() => document.activeElement?.blur());
		await pa.screenshot({ path: path.join(OUT_DIR, "page-chat.png"), fullPage: true });
		if (updateDocs)
			await pa.screenshot({ path: path.join(ROOT, "docs", "page.png"), fullPage: true });
	} finally {
		await a.close();
		await b.close();
	}
}

// Publishing off (403) and by token (401): the page says how to allow it;
// with the token typed in, the post goes through.
async function chatRights(browser, off, tokened, token) {
	const context = await browser.newContext();
	try {
		let page = await chatPage(context, off.url);
		await chatPost(page, "ann", "nobody may post");
		await waitFor(page, () => document.getElementById("chat-note").textContent,
			      null, () => null, "a note");
		const note = await page.textContent("#chat-note");
		check(/^Publishing is off: start the server with --publish-open/.test(note),
		      `403 note ${show(note)}`);
		check((await page.evaluate(chatLines)).length === 0, "a line appeared");

		page = await chatPage(context, tokened.url);
		await chatPost(page, "ann", "with a token");
		await waitFor(page, () => document.getElementById("chat-note").textContent,
			      null, () => null, "a note");
		const note401 = await page.textContent("#chat-note");
		check(/token/.test(note401) && await page.isVisible("#chat-token"),
		      `401 note ${show(note401)}, token field visible: ` +
		      await page.isVisible("#chat-token"));
		await page.fill("#chat-token", token);
		await page.click("#chat-form button");
		const lines = await chatSettled(page, 1);
		check(show(lines.map((l) => l.text)) === show(["ann: with a token"]) &&
		      await page.textContent("#chat-note") === "",
		      `with the token: ${show(lines)}, note ` +
		      show(await page.textContent("#chat-note")));
	} finally {
		await context.close();
	}
	check(!tokened.stderr.includes(token), "the token is in the server's log");
}

// The page's chat stream is cut (through a relay) after three messages;
// three more are published while it is away.  It comes back with
// Last-Event-ID and shows all six once each, with no gap.
async function chatResume(browser, server) {
	const relay = await startRelay(server);
	const context = await browser.newContext();
	try {
		const page = await chatPage(context, relay.url);
		const ids = [];
		for (let i = 1; i <= 3; i++)
			ids.push(await publish(server, "pub", `m${i}`));
		await chatSettled(page, 3);
		check(relay.cut("GET /topics/chat") === 1, "no chat stream to cut");
		for (let i = 4; i <= 6; i++)
			ids.push(await publish(server, "pub", `m${i}`));
		const lines = await chatSettled(page, 6);
		const want = [1, 2, 3, 4, 5, 6].map((i) => `pub: m${i}`);
		check(show(lines.map((l) => l.text)) === show(want),
		      `chat ${show(lines)}, expected ${show(want)}`);
		const again = relay.heads.filter((h) => h.startsWith("GET /topics/chat"));
		check(again.length === 2 &&
		      new RegExp(`\r\nlast-event-id: ${ids[2]}\r\n`, "i").test(again[1]),
		      `requests for the chat ${show(again)}; expected the second ` +
		      `with Last-Event-ID: ${ids[2]}`);
	} finally {
		await context.close();
		relay.close();
	}
}

// --history 2: the stream is cut after one message and four more are
// published, so the message after the page's last is no longer kept.  It
// comes back to the gap event (the page's listener shows it), then the
// two kept messages.
async function chatGap(browser, server) {
	const relay = await startRelay(server);
	const context = await browser.newContext();
	try {
		const page = await chatPage(context, relay.url);
		await publish(server, "pub", "m1");
		await chatSettled(page, 1);
		check(relay.cut("GET /topics/chat") === 1, "no chat stream to cut");
		for (let i = 2; i <= 5; i++)
			await publish(server, "pub", `m${i}`);
		const lines = await chatSettled(page, 4);
		const texts = lines.map((l) => l.className === "gap" ? "(gap)" : l.text);
		check(show(texts) === show(["pub: m1", "(gap)", "pub: m4", "pub: m5"]),
		      `chat ${show(lines)}, expected m1, the gap, m4 and m5`);
	} finally {
		await context.close();
		relay.close();
	}
}

/* ---- the run --------------------------------------------------------- */

async function main() {
	const watchdog = setTimeout(() => {
		report(`FAIL e2e: the run took longer than ${RUN_LIMIT / 1000} s`);
		for (const s of servers)
			s.child.kill("SIGKILL");
		process.exit(1);
	}, RUN_LIMIT);
	watchdog.unref();

	let browser, staticServer;
	try {
		browser = await chromium.launch({
			executablePath: CHROMIUM, headless: true,
			args: CHROMIUM_ARGS, timeout: 20_000,
		});
		staticServer = await startStaticServer();
		const origin = staticServer.origin;

		// Cases 1 and 2 share one server, /stats read around case 1.
		const plain = await startServer([]);
		hub = await hasHub(plain);
		const seen = { requests: [] };
		let before = null, after = null;
		await runCase("same-origin-page", async () => {
			before = await stats(plain);
			try {
				await sameOriginPage(browser, plain, seen);
			} finally {
				after = await stats(plain);
			}
		});
		await runCase("reconnect-count", async () => {
			check(before && after, "/stats could not be read");
			await stopServer(plain);	// so that its whole log is in
			await reconnectCount(plain, seen, before, after);
		});

		await runCase("drop-reconnect", async () => {
			await dropReconnect(browser, await startServer([]));
		});
		await runCase("shape-bad-parameter", async () => {
			await shapeBadParameter(browser, await startServer([]));
		});

		await runCase("fetch-one-stream", async () => {
			await fetchOneStream(browser, await startServer([]));
		});
		await runCase("size-and-heartbeat", async () => {
			await sizeAndHeartbeat(browser, await startServer([]));
		});
		await runCase("stall-reconnect", async () => {
			await stallReconnect(browser, await startServer([]));
		});
		await runCase("no-favicon", async () => {
			await noFavicon(browser, await startServer([]));
		});
		await runCase("live-chart", async () => {
			const args = hub ? ["--publish-open"] : [];
			await liveChart(browser, await startServer(args), hub);
		});

		// The chat needs the hub: without it these are skipped.
		const chatCase = (name, body) => hub ? runCase(name, body)
			: report(`skip ${name}: server has no hub`);
		const open = ["--publish-open", "--retry", "1000"];
		await chatCase("chat-two-pages", async () => {
			await chatTwoPages(browser, await startServer(open));
		});
		await chatCase("chat-rights", async () => {
			const token = "t0ken-" + process.pid;
			const file = path.join(mkdtempSync(path.join(tmpdir(), "sse-e2e-")), "token");
			writeFileSync(file, token + "\n", { mode: 0o600 });
			await chatRights(browser, await startServer([]),
				await startServer(["--publish-token-file", file]), token);
		});
		await chatCase("chat-resume", async () => {
			await chatResume(browser, await startServer(open));
		});
		await chatCase("chat-gap", async () => {
			await chatGap(browser, await startServer([...open, "--history", "2"]));
		});

		await runCase("cross-origin-cors", async () => {
			const cors = await startServer(["--cors", origin]);
			await crossOriginCors(browser, origin, cors);
		});
		await runCase("cross-origin-refused", async () => {
			const closed = await startServer([]);
			await crossOriginRefused(browser, origin, closed);
		});
	} catch (err) {
		failures++;
		report(`FAIL e2e: ${String(err?.message ?? err).split("\n")[0]}`);
	} finally {
		await browser?.close();
		staticServer?.close();
	}

	const gracefulExit = async () => {
		const bad = [];
		for (const s of servers) {
			const { code, signal } = await stopServer(s);
			if (code !== 0)
				bad.push(`sse ${s.args.join(" ")}: exit ${code}, signal ${signal}`);
		}
		check(bad.length === 0, bad.join("; "));
	};
	if (servers.length > 0)
		await runCase("graceful-exit", gracefulExit);
	else
		report("skip graceful-exit: no server was started");
	process.exit(failures ? 1 : 0);
}

main();
