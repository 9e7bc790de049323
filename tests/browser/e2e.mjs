// tests/browser/e2e.mjs - the sse server seen by a real browser.
//
//   node e2e.mjs [--update-docs] [PATH_TO_SSE]      (default: ../../sse)
//
// The wire tests (tests/wire.c) prove the bytes; this proves that those
// bytes do in Chromium what SPEC sections 2 and 3 promise a browser:
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
// docs/page.png (the one in the README); otherwise only to out/page.png.
// drop-reconnect leaves its own in out/page-drop.png.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import http from "node:http";
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
const RUN_LIMIT = 55_000;	// bound on the whole run

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
		if (updateDocs) {
			mkdirSync(path.join(ROOT, "docs"), { recursive: true });
			await page.screenshot({ path: path.join(ROOT, "docs", "page.png") });
		}
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
