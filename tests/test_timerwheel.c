/* test_timerwheel.c - unit tests for the timer wheel, on a fake clock.
 *
 * The wheel reads no clock, so these tests tell it the time with plain
 * integers and watch what fires.  The promise under test: every timer fires
 * exactly once, in the very tw_advance() call that first reaches its
 * deadline (never earlier, never later), earliest first; and tw_next() is
 * never later than the earliest deadline, so a server that sleeps until
 * tw_next() wakes a few times per timer, not once per millisecond.
 *
 * Each case is a row in the table at the bottom.  Most cases drive a test
 * timer (struct ttimer) whose callback records when it ran; the helper
 * advance() wraps tw_advance() and checks after every call that the clock,
 * the count, the order of the callbacks and tw_check() all agree.  The
 * model case compares thousands of random steps against a plain array, and
 * the sweep case puts a timer in every slot of every level.
 *
 * Each case runs in a child process, so a crash or a hang in the wheel
 * fails that case and the others still run.  Output, one line per case:
 * "pass NAME" or "FAIL NAME: line N: detail"; the exit status is 0 when
 * every case passes.  Random choices come from a fixed-seed xorshift, so
 * every run is the same.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timerwheel.h"

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define NTIMERS		10000	/* the largest case */
#define LOG_MAX		(NTIMERS + 1000)
#define DAY_MS		(24ULL * 3600 * 1000)
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- checks ---------------------------------------------------------- */

static char failure[512];	/* the first failed check of the case */
static char where[160];		/* what the case is doing, for the report */

static bool failed(void)
{
	return failure[0] != '\0';
}

/* Names the sub-case (start time, delay, ...) that a failure reports. */
static void context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(where, sizeof where, fmt, ap);
	va_end(ap);
}

/* Records the first failure of a case, with its line and the context.
 * Returns ok, so a caller may stop where going on would only crash. */
static bool check_at(bool ok, int line, const char *fmt, ...)
{
	if (ok || failed())
		return ok;
	int n = snprintf(failure, sizeof failure, "line %d: ", line);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(failure + n, sizeof failure - n, fmt, ap);
	va_end(ap);
	if (where[0] && n < (int)sizeof failure)
		snprintf(failure + n, sizeof failure - n, " [%s]", where);
	return ok;
}

static bool check_eq_at(uint64_t got, uint64_t want, int line,
			const char *got_expr, const char *want_expr)
{
	return check_at(got == want, line, "%s is %llu, want %s = %llu",
			got_expr, (unsigned long long)got,
			want_expr, (unsigned long long)want);
}

#define CHECK(ok, ...)	check_at((ok), __LINE__, __VA_ARGS__)
#define CHECK_EQ(got, want) \
	check_eq_at((uint64_t)(got), (uint64_t)(want), __LINE__, #got, #want)

/* ---- random numbers -------------------------------------------------- */

static uint64_t rng = 1;

static void seed(uint64_t s)
{
	rng = s ? s : 1;
}

/* xorshift64 (Marsaglia): small, fast and the same on every machine. */
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A number in [0, n); n > 0. */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* A number in [0, 2^k) for a random k < max_bits: mostly small. */
static uint64_t below_bits(unsigned max_bits)
{
	return rnd() & ((1ULL << below(max_bits)) - 1);
}

/* ---- test timers and the fake clock ----------------------------------- */

/* A test timer records each time it fires; peer and period steer what its
 * callback does besides.  queued and fresh belong to the model case. */
struct ttimer {
	struct tw_timer tw;
	int id;
	uint64_t due_ms;	/* the deadline the test last set */
	unsigned fired;		/* how many times fn ran */
	uint64_t fired_ms;	/* the clock when it last fired */
	uint64_t before_ms;	/* the clock before that tw_advance() call */
	unsigned call;		/* the tw_advance() call in which it fired */
	struct ttimer *peer;	/* the timer the callback cancels or adds */
	uint64_t peer_ms;	/* the deadline it gives the peer */
	uint64_t period_ms;	/* re-adds itself at due + period ... */
	unsigned rearm;		/* ... this many more times */
	bool queued;		/* the model: it should be in the wheel */
	bool fresh;		/* the model: added during this tw_advance() */
};

/* One firing, as seen by the callback. */
struct fire {
	struct ttimer *t;
	uint64_t due_ms;
};

static struct tw_wheel wheel;		/* the wheel under test */
static struct ttimer timers[NTIMERS];
static uint64_t clock_ms;		/* the time the wheel is being told */
static uint64_t before_ms;		/* the wheel's time before that call */
static unsigned calls;			/* tw_advance() calls in this case */
static struct fire fire_log[LOG_MAX];	/* this call's callbacks, in order */
static size_t nfired;

/* Readies timers[0..n) with fn; none is in a wheel afterwards. */
static void reset_timers(size_t n, tw_fn *fn)
{
	memset(timers, 0, n * sizeof timers[0]);
	for (size_t i = 0; i < n; i++) {
		tw_timer_init(&timers[i].tw, fn);
		timers[i].id = (int)i;
		CHECK(!tw_pending(&timers[i].tw), "timer %zu pending", i);
	}
}

static void add(struct tw_wheel *w, struct ttimer *t, uint64_t due_ms)
{
	tw_add(w, &t->tw, due_ms);
	t->due_ms = due_ms;
	CHECK(tw_pending(&t->tw), "timer %d not pending after tw_add", t->id);
}

/* The part of every callback that checks and records the firing. */
static void record(struct ttimer *t)
{
	CHECK(!tw_pending(&t->tw), "timer %d still linked in its callback",
	      t->id);
	CHECK(clock_ms >= t->due_ms, "timer %d due %llu fired early at %llu",
	      t->id, (unsigned long long)t->due_ms,
	      (unsigned long long)clock_ms);
	CHECK(t->fired == 0 || t->call != calls,
	      "timer %d fired twice in one call", t->id);
	if (CHECK(nfired < LOG_MAX, "fire log full"))
		fire_log[nfired++] = (struct fire){ t, t->due_ms };
	t->fired++;
	t->fired_ms = clock_ms;
	t->before_ms = before_ms;
	t->call = calls;
}

static void on_fire(struct tw_timer *tw)
{
	record(container_of(tw, struct ttimer, tw));
}

static void cancel_peer(struct tw_timer *tw)
{
	struct ttimer *t = container_of(tw, struct ttimer, tw);

	record(t);
	tw_cancel(&wheel, &t->peer->tw);
}

static void add_peer(struct tw_timer *tw)
{
	struct ttimer *t = container_of(tw, struct ttimer, tw);

	record(t);
	add(&wheel, t->peer, t->peer_ms);
}

/* A periodic timer: absolute deadlines, due + period, as the server's. */
static void readd_self(struct tw_timer *tw)
{
	struct ttimer *t = container_of(tw, struct ttimer, tw);

	record(t);
	if (t->rearm > 0) {
		t->rearm--;
		add(&wheel, t, t->due_ms + t->period_ms);
	}
}

/* Checks that the callbacks of one call ran earliest first.  A timer that
 * was already overdue when the call began counts as due at that time. */
static void check_order(void)
{
	uint64_t last = 0;

	for (size_t i = 0; i < nfired; i++) {
		uint64_t due = fire_log[i].due_ms;
		uint64_t key = due > before_ms ? due : before_ms;
		CHECK(key >= last, "timer %d (due %llu) fired after one due "
		      "%llu", fire_log[i].t->id, (unsigned long long)due,
		      (unsigned long long)last);
		last = key;
	}
}

/* Calls tw_advance() as the server would and checks what every call must
 * leave behind.  Returns how many timers fired. */
static size_t advance(struct tw_wheel *w, uint64_t to_ms)
{
	before_ms = w->now_ms;
	clock_ms = to_ms > before_ms ? to_ms : before_ms;
	calls++;
	nfired = 0;
	size_t n = tw_advance(w, to_ms);
	CHECK_EQ(n, nfired);
	CHECK_EQ(w->now_ms, clock_ms);
	check_order();
	const char *fault = tw_check(w);
	CHECK(fault == NULL, "tw_check after advancing to %llu: %s",
	      (unsigned long long)to_ms, fault);
	return n;
}

/* Checks that t fired once, in the first call that reached its due. */
static bool on_time(const struct ttimer *t)
{
	return CHECK(t->fired == 1 && t->before_ms < t->due_ms &&
		     t->due_ms <= t->fired_ms,
		     "timer %d due %llu fired %u times, last at %llu by a call "
		     "from %llu", t->id, (unsigned long long)t->due_ms,
		     t->fired, (unsigned long long)t->fired_ms,
		     (unsigned long long)t->before_ms);
}

/* Checks on_time() for timers[0..n); stops at the first late one. */
static void all_on_time(size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!on_time(&timers[i]))
			return;
}

/* The level a timer due at due_ms sits on when the clock reads now_ms. */
static unsigned level_of(uint64_t now_ms, uint64_t due_ms)
{
	if (due_ms <= now_ms)
		return 0;
	return (unsigned)(63 - __builtin_clzll(now_ms ^ due_ms)) /
	       TW_SLOT_BITS;
}

/* What a server does: sleeps until tw_next() and advances to it, until
 * the wheel is empty or limit calls have run.  Every call must have work:
 * a tw_next() at or before now with nothing to fire would spin. */
static void walk(struct tw_wheel *w, unsigned limit)
{
	unsigned start = calls;

	while (w->count > 0 && calls - start < limit && !failed()) {
		uint64_t now = w->now_ms, next = tw_next(w);
		size_t n = advance(w, next);
		CHECK(next > now || n > 0, "tw_next %llu at now %llu, but "
		      "nothing fires", (unsigned long long)next,
		      (unsigned long long)now);
	}
	CHECK(w->count == 0, "%zu timers left after %u calls", w->count,
	      limit);
}

/* ---- the delays and start times for the level cases ------------------ */

/* Delays around each level's edge: level l holds what differs from now
 * first in bits 6l..6l+5 (64 ms, 4.1 s, 4.4 min, 4.7 h, ...). */
static const uint64_t delays[] = {
	0, 1, 63, 64, 65, 4095, 4096, 4097, 262143, 262144, 262145,
	(1ULL << 24) - 1, 1ULL << 24, (1ULL << 24) + 1,
	(1ULL << 30) - 1, (1ULL << 30) + 1,
	(1ULL << 36) - 1, (1ULL << 36) + 1,
	(1ULL << 42) - 1, 1ULL << 42, (1ULL << 42) + 1,
	3 * DAY_MS, 3 * DAY_MS + 17,
};

/* Start times: zero, just below level edges, odd, and huge. */
static const uint64_t starts[] = {
	0, 1, 62, (1ULL << 12) - 1, (1ULL << 18) - 2, 1000000007,
	(1ULL << 36) - 3, (1ULL << 62) - 1, (1ULL << 62) + 12345,
};

/* ---- cases ------------------------------------------------------------ */

/* A new wheel is empty at its start time and stays so when advanced. */
static void case_empty(void)
{
	struct tw_wheel *w = &wheel;

	for (size_t i = 0; i < NELEM(starts) && !failed(); i++) {
		context("start %llu", (unsigned long long)starts[i]);
		tw_init(w, starts[i]);
		CHECK_EQ(w->now_ms, starts[i]);
		CHECK_EQ(w->count, 0);
		CHECK_EQ(tw_next(w), UINT64_MAX);
		CHECK(tw_check(w) == NULL, "tw_check: %s", tw_check(w));
		CHECK_EQ(advance(w, starts[i] + 1000), 0);
		CHECK_EQ(tw_next(w), UINT64_MAX);
	}
}

/* Adds n timers due in (start, start + span] in random order. */
static void add_random(struct tw_wheel *w, size_t n, uint64_t start,
		       unsigned span_bits)
{
	for (size_t i = 0; i < n; i++) {
		struct ttimer *t = &timers[below(n)];
		while (tw_pending(&t->tw))
			t = &timers[(t - timers + 1) % n];
		add(w, t, start + 1 + below_bits(span_bits));
	}
	CHECK_EQ(w->count, n);
}

/* Stepping 1 ms at a time, each timer fires in its own millisecond. */
static void case_order_step(void)
{
	struct tw_wheel *w = &wheel;
	const size_t n = 600;
	const uint64_t start = 1000;

	seed(1);
	tw_init(w, start);
	reset_timers(n, on_fire);
	add_random(w, n, start, 13);
	for (uint64_t now = start + 1; now <= start + 8192 && !failed(); now++)
		advance(w, now);
	all_on_time(n);		/* 1 ms steps: fired_ms == due_ms */
	CHECK_EQ(w->count, 0);
}

/* Jumping by random amounts, or all at once, each timer fires in the
 * first call that reaches it, earliest first (advance() checks order). */
static void case_order_jump(void)
{
	struct tw_wheel *w = &wheel;
	const size_t n = 1000;

	seed(2);
	for (int round = 0; round < 2 && !failed(); round++) {
		uint64_t start = round ? (1ULL << 36) - 3 : 5;
		context("round %d", round);
		tw_init(w, start);
		reset_timers(n, on_fire);
		add_random(w, n, start, 32);
		while (w->count > 0 && !failed())
			advance(w, w->now_ms + 1 + below_bits(34));
		all_on_time(n);
	}
	context("one jump");
	tw_init(w, 77);
	reset_timers(n, on_fire);
	add_random(w, n, 77, 40);
	CHECK_EQ(advance(w, 1ULL << 41), n);
	all_on_time(n);
}

/* Cancelling takes a timer out for good; repeating it, or cancelling a
 * timer never added, changes nothing. */
static void case_cancel(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1], *c = &timers[2];
	struct ttimer *d = &timers[3], *e = &timers[4];

	tw_init(w, 100);
	reset_timers(5, on_fire);
	add(w, a, 110);
	add(w, c, 150);
	tw_cancel(w, &a->tw);
	CHECK(!tw_pending(&a->tw), "cancelled timer still pending");
	CHECK_EQ(w->count, 1);
	tw_cancel(w, &a->tw);
	CHECK_EQ(w->count, 1);
	tw_cancel(w, &b->tw);		/* never added */
	CHECK(!tw_pending(&b->tw), "never-added timer pending");
	CHECK_EQ(w->count, 1);
	CHECK(tw_check(w) == NULL, "tw_check: %s", tw_check(w));

	add(w, d, 100);			/* due now: in the expired list */
	add(w, e, 100 + (1ULL << 40));	/* far away, level 6 */
	tw_cancel(w, &d->tw);
	tw_cancel(w, &e->tw);
	CHECK_EQ(w->count, 1);
	CHECK(tw_check(w) == NULL, "tw_check: %s", tw_check(w));
	CHECK(tw_next(w) <= 150, "tw_next %llu, c is due at 150",
	      (unsigned long long)tw_next(w));

	CHECK_EQ(advance(w, 100), 0);
	CHECK_EQ(advance(w, 1ULL << 42), 1);
	on_time(c);
	CHECK_EQ(a->fired + b->fired + d->fired + e->fired, 0);
	tw_cancel(w, &c->tw);		/* already fired */
	CHECK_EQ(w->count, 0);
	CHECK_EQ(tw_next(w), UINT64_MAX);
}

/* Sets up a to fire at a_ms and cancel b, which is due at b_ms. */
static void arm_cancel(struct tw_wheel *w, struct ttimer *a, uint64_t a_ms,
		       struct ttimer *b, uint64_t b_ms)
{
	a->tw.fn = cancel_peer;
	a->peer = b;
	add(w, a, a_ms);
	add(w, b, b_ms);
}

/* A callback that cancels a timer due in the same call stops it firing,
 * wherever the cancelled timer was when the call began. */
static void case_cancel_in_callback(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1];

	static const struct {
		uint64_t a_ms, b_ms, to_ms;
	} rows[] = {
		{ 10, 12, 20 },			/* same level-0 batch */
		{ 10, 5000, 10000 },		/* b in a far slot */
		{ 10, 1ULL << 40, 1ULL << 41 },	/* b much further */
		{ 10, 30, 20 },			/* b not due yet */
	};
	for (size_t i = 0; i < NELEM(rows) && !failed(); i++) {
		context("row %zu", i);
		tw_init(w, 0);
		reset_timers(2, on_fire);
		arm_cancel(w, a, rows[i].a_ms, b, rows[i].b_ms);
		CHECK_EQ(advance(w, rows[i].to_ms), 1);
		CHECK_EQ(a->fired, 1);
		CHECK_EQ(b->fired, 0);
		CHECK_EQ(w->count, 0);
		advance(w, 1ULL << 42);
		CHECK_EQ(b->fired, 0);
	}

	context("mutual cancel");	/* whichever fires first wins */
	tw_init(w, 0);
	reset_timers(2, on_fire);
	arm_cancel(w, a, 64 * 64 + 7, b, 64 * 64 + 7);
	b->tw.fn = cancel_peer;
	b->peer = a;
	CHECK_EQ(advance(w, 10000), 1);
	CHECK_EQ(a->fired + b->fired, 1);
	CHECK_EQ(w->count, 0);

	context("self cancel");		/* already unlinked: no effect */
	tw_init(w, 0);
	reset_timers(2, on_fire);
	arm_cancel(w, a, 10, b, 11);
	a->peer = a;
	CHECK_EQ(advance(w, 20), 2);
	CHECK_EQ(w->count, 0);
}

/* Adding a pending timer moves it: it fires at the new time only. */
static void case_readd(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1], *c = &timers[2];
	struct ttimer *d = &timers[3], *e = &timers[4];
	const uint64_t far = 1000 + (1ULL << 30);

	tw_init(w, 1000);
	reset_timers(5, on_fire);
	add(w, a, 1100);
	add(w, a, 1050);		/* earlier */
	add(w, b, 1100);
	add(w, b, 1200);		/* later */
	add(w, c, far);
	add(w, c, 1003);		/* from level 5 to level 0 */
	add(w, d, 1003);
	add(w, d, far);			/* and back */
	add(w, e, 1300);
	add(w, e, 1300);		/* the same time again */
	CHECK_EQ(w->count, 5);
	for (uint64_t now = 1001; now <= 1400 && !failed(); now++)
		advance(w, now);
	on_time(a);
	on_time(b);
	on_time(c);
	on_time(e);
	CHECK_EQ(a->fired_ms, 1050);
	CHECK_EQ(b->fired_ms, 1200);
	CHECK_EQ(c->fired_ms, 1003);
	CHECK_EQ(d->fired, 0);
	CHECK_EQ(w->count, 1);
	walk(w, 2 * TW_LEVELS);
	on_time(d);
	CHECK_EQ(d->fired_ms, far);

	add(w, a, far + 5);		/* a fired timer may be added again */
	a->fired = 0;
	CHECK_EQ(advance(w, far + 5), 1);
	on_time(a);
}

/* A callback that re-adds its own timer, due at once, is not called again
 * until the next tw_advance(), even one to the same time. */
static void case_readd_in_callback(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0];

	context("due at once, same clock");
	tw_init(w, 0);
	reset_timers(1, readd_self);
	a->rearm = 3;			/* period 0: its own due, 10 */
	add(w, a, 10);
	for (unsigned i = 1; i <= 4 && !failed(); i++) {
		CHECK_EQ(advance(w, 20), 1);
		CHECK_EQ(a->fired, i);
		CHECK_EQ(tw_pending(&a->tw), i < 4);
		CHECK(!tw_pending(&a->tw) || tw_next(w) <= 20,
		      "tw_next %llu, yet a timer is due",
		      (unsigned long long)tw_next(w));
	}
	CHECK_EQ(advance(w, 20), 0);

	context("periodic, catching up");
	tw_init(w, 0);
	reset_timers(1, readd_self);
	a->period_ms = 10;
	a->rearm = 1000;
	add(w, a, 10);
	CHECK_EQ(advance(w, 35), 1);	/* 10; re-added at 20 */
	CHECK_EQ(advance(w, 35), 1);	/* 20; re-added at 30 */
	CHECK_EQ(advance(w, 35), 1);	/* 30; re-added at 40 */
	CHECK_EQ(advance(w, 35), 0);
	CHECK_EQ(advance(w, 39), 0);
	CHECK_EQ(advance(w, 40), 1);
	CHECK_EQ(a->due_ms, 50);
	a->fired = 0;
	for (uint64_t now = 41; now <= 200 && !failed(); now++)
		advance(w, now);
	CHECK_EQ(a->fired, 16);		/* 50, 60, ... 200 */
	CHECK_EQ(a->fired_ms, 200);
	CHECK(tw_next(w) > 200 && tw_next(w) <= 210, "tw_next %llu",
	      (unsigned long long)tw_next(w));
}

/* A callback that adds another timer: due at once, it fires at the next
 * call, not this one, even if it was due in this call before. */
static void case_add_in_callback(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1];

	static const struct {
		uint64_t b_ms;	/* b's deadline before a fires, 0: none */
		uint64_t peer_ms, to_ms, fires_ms;
	} rows[] = {
		{ 0, 15, 20, 21 },	/* new, due at once: next call */
		{ 0, 5, 20, 21 },	/* due before a itself */
		{ 12, 15, 20, 21 },	/* b was due in this call */
		{ 12, 30, 20, 30 },	/* moved later */
		{ 0, 1000, 20, 1000 },	/* new, far */
		{ 5000, 4, 10000, 10001 },	/* b was in a far slot */
	};
	for (size_t i = 0; i < NELEM(rows) && !failed(); i++) {
		context("row %zu", i);
		tw_init(w, 0);
		reset_timers(2, on_fire);
		a->tw.fn = add_peer;
		a->peer = b;
		a->peer_ms = rows[i].peer_ms;
		add(w, a, 10);
		if (rows[i].b_ms)
			add(w, b, rows[i].b_ms);
		CHECK_EQ(advance(w, rows[i].to_ms), 1);
		CHECK_EQ(b->fired, 0);
		CHECK(tw_pending(&b->tw), "b not pending");
		CHECK_EQ(w->count, 1);
		for (uint64_t now = rows[i].to_ms + 1; b->fired == 0 &&
		     now <= rows[i].fires_ms + 1 && !failed(); now++)
			advance(w, now);
		CHECK_EQ(b->fired, 1);
		CHECK_EQ(b->fired_ms, rows[i].fires_ms);
	}
}

/* A deadline at or before now fires at the next call, whatever time that
 * call names; an earlier time leaves the clock where it is. */
static void case_past_due(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1], *c = &timers[2];
	struct ttimer *d = &timers[3], *e = &timers[4];

	tw_init(w, 1000);
	reset_timers(5, on_fire);
	add(w, a, 999);
	add(w, b, 0);
	add(w, c, 1000);
	add(w, e, 1005);
	CHECK_EQ(w->count, 4);
	CHECK(tw_next(w) <= 1000, "tw_next %llu with timers due at 1000",
	      (unsigned long long)tw_next(w));
	CHECK_EQ(advance(w, 1000), 3);
	CHECK_EQ(a->fired + b->fired + c->fired, 3);
	CHECK_EQ(c->fired_ms, 1000);

	add(w, d, 500);
	CHECK_EQ(advance(w, 700), 1);	/* backwards: no change */
	CHECK_EQ(d->fired, 1);
	CHECK_EQ(w->now_ms, 1000);
	CHECK_EQ(advance(w, 0), 0);
	CHECK_EQ(advance(w, 1004), 0);
	CHECK_EQ(advance(w, 1005), 1);
	on_time(e);
	CHECK_EQ(w->count, 0);
}

/* Runs one timer from start to start + delay along a list of times to
 * advance to; it must fire in the first call that reaches its due. */
static void run_plan(uint64_t start, uint64_t delay, const uint64_t *to,
		     size_t n)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *t = &timers[0];
	uint64_t due = start + delay;

	tw_init(w, start);
	reset_timers(1, on_fire);
	add(w, t, due);
	for (size_t i = 0; i < n && !failed(); i++) {
		advance(w, to[i]);
		CHECK_EQ(t->fired, w->now_ms >= due);
		CHECK_EQ(w->count, w->now_ms < due);
	}
	if (w->now_ms >= due && delay > 0)
		on_time(t);
}

/* Jumps to from_ms, then steps 1 ms at a time until the timer fires; it
 * must fire exactly at its due.  A timer due at from_ms or before has
 * fired at the jump, which run_plan() checks. */
static void run_steps(uint64_t start, uint64_t delay, uint64_t from_ms)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *t = &timers[0];
	uint64_t due = start + delay;

	run_plan(start, delay, &from_ms, 1);
	if (t->fired)
		return;
	while (t->fired == 0 && w->now_ms <= due && !failed())
		advance(w, w->now_ms + 1);
	on_time(t);
	CHECK_EQ(t->fired_ms, due);
}

/* Every level, from every start time: the timer fires exactly at its due,
 * reached by one jump, by jumps that stop just short, by overshooting and
 * by 1 ms steps over the last stretch. */
static void case_levels(void)
{
	for (size_t i = 0; i < NELEM(starts) && !failed(); i++) {
		for (size_t j = 0; j < NELEM(delays) && !failed(); j++) {
			uint64_t s = starts[i], d = delays[j], due = s + d;
			context("start %llu delay %llu",
				(unsigned long long)s, (unsigned long long)d);
			uint64_t one[] = { due };
			uint64_t short_of[] = { s + d / 2, due - 1, due };
			uint64_t over[] = { due + d + 77 };
			run_plan(s, d, one, 1);
			if (d > 0)
				run_plan(s, d, short_of, 3);
			run_plan(s, d, over, 1);
			run_steps(s, d, due > s + 200 ? due - 200 : s);
		}
	}
}

/* All the delays at once, from each start: cascading one level must not
 * disturb the timers on the others. */
static void case_levels_together(void)
{
	struct tw_wheel *w = &wheel;
	const size_t n = NELEM(delays);

	for (size_t i = 0; i < NELEM(starts) && !failed(); i++) {
		context("start %llu", (unsigned long long)starts[i]);
		tw_init(w, starts[i]);
		reset_timers(n, on_fire);
		for (size_t j = 0; j < n; j++)
			add(w, &timers[j], starts[i] + delays[j]);
		walk(w, (unsigned)(2 * n * TW_LEVELS));
		for (size_t j = 0; j < n && !failed(); j++) {
			CHECK_EQ(timers[j].fired, 1);
			CHECK_EQ(timers[j].fired_ms, timers[j].due_ms);
		}
	}
}

/* Ten thousand timers due at the same millisecond fire in one call. */
static void case_many_same_due(void)
{
	struct tw_wheel *w = &wheel;
	const uint64_t due = 5000 + 64 * 64 + 5;

	tw_init(w, 5000);
	reset_timers(NTIMERS, on_fire);
	for (size_t i = 0; i < NTIMERS; i++)
		add(w, &timers[i], due);
	CHECK_EQ(w->count, NTIMERS);
	CHECK_EQ(advance(w, due - 1), 0);
	CHECK_EQ(w->count, NTIMERS);
	CHECK_EQ(advance(w, due), NTIMERS);
	all_on_time(NTIMERS);
	CHECK_EQ(w->count, 0);
	CHECK_EQ(tw_next(w), UINT64_MAX);
}

/* Ten thousand timers in one level-2 slot, half of them cancelled: the
 * rest fire each at its own millisecond as the slot is split. */
static void case_many_one_slot(void)
{
	struct tw_wheel *w = &wheel;

	seed(3);
	tw_init(w, 0);
	reset_timers(NTIMERS, on_fire);
	for (size_t i = 0; i < NTIMERS; i++)
		add(w, &timers[i], 3 * 4096 + below(4096));
	for (size_t i = 1; i < NTIMERS; i += 2)
		tw_cancel(w, &timers[i].tw);
	CHECK_EQ(w->count, NTIMERS / 2);
	walk(w, 4096 + 2 * TW_SLOTS + 2 * TW_LEVELS);
	for (size_t i = 0; i < NTIMERS && !failed(); i += 2) {
		CHECK_EQ(timers[i].fired, 1);
		CHECK_EQ(timers[i].fired_ms, timers[i].due_ms);
		CHECK_EQ(timers[i + 1].fired, 0);
	}
}

/* tw_next(): UINT64_MAX when empty, at or before now when a timer is due,
 * and otherwise after now but never after the earliest deadline. */
static void case_next(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *a = &timers[0], *b = &timers[1];

	for (size_t i = 0; i < NELEM(starts) && !failed(); i++) {
		for (size_t j = 0; j < NELEM(delays) && !failed(); j++) {
			uint64_t s = starts[i], due = s + delays[j];
			context("start %llu delay %llu", (unsigned long long)s,
				(unsigned long long)delays[j]);
			tw_init(w, s);
			reset_timers(2, on_fire);
			add(w, a, due);
			uint64_t next = tw_next(w);
			CHECK(next <= due && (next > s || due == s),
			      "tw_next %llu", (unsigned long long)next);
			add(w, b, s + 1 + (delays[j] + 1) / 2);
			uint64_t first = due < b->due_ms ? due : b->due_ms;
			next = tw_next(w);
			CHECK(next <= first && (next > s) == (first > s),
			      "tw_next %llu with b", (unsigned long long)next);
			tw_cancel(w, &b->tw);
			advance(w, s + delays[j] / 2);
			if (!tw_pending(&a->tw))
				continue;
			next = tw_next(w);
			CHECK(next <= due && next > w->now_ms, "tw_next %llu "
			      "halfway", (unsigned long long)next);
			tw_cancel(w, &a->tw);
			CHECK_EQ(tw_next(w), UINT64_MAX);
		}
	}
}

/* Advancing to exactly tw_next() each time, every timer fires at exactly
 * its due, and the wheel needs at most two calls per level a timer falls
 * through: a server wakes a few times per timer, not every millisecond. */
static void case_next_walk(void)
{
	struct tw_wheel *w = &wheel;
	struct ttimer *t = &timers[0];

	for (size_t i = 0; i < NELEM(starts) && !failed(); i++) {
		for (size_t j = 0; j < NELEM(delays) && !failed(); j++) {
			uint64_t s = starts[i], due = s + delays[j];
			context("start %llu delay %llu", (unsigned long long)s,
				(unsigned long long)delays[j]);
			tw_init(w, s);
			reset_timers(1, on_fire);
			add(w, t, due);
			unsigned start = calls;
			walk(w, 2 * (level_of(s, due) + 1));
			CHECK_EQ(t->fired, 1);
			CHECK_EQ(t->fired_ms, due);
			CHECK(calls - start <= 2 * (level_of(s, due) + 1),
			      "%u calls", calls - start);
			CHECK_EQ(tw_next(w), UINT64_MAX);
		}
	}

	context("300 random timers");
	seed(4);
	tw_init(w, 123456);
	reset_timers(300, on_fire);
	add_random(w, 300, 123456, 44);
	unsigned limit = 0;
	for (size_t i = 0; i < 300; i++)
		limit += 2 * (level_of(123456, timers[i].due_ms) + 1);
	walk(w, limit);
	for (size_t i = 0; i < 300 && !failed(); i++)
		CHECK_EQ(timers[i].fired_ms, timers[i].due_ms);
}

/* ---- the model case ---------------------------------------------------- */

#define MODEL_TIMERS	100
#define MODEL_STEPS	20000

/* A deadline from now: mostly within a second, sometimes days or years. */
static uint64_t random_delay(void)
{
	uint64_t k = below(16);

	if (k == 0)
		return 0;
	if (k < 11)
		return below(130);
	if (k < 15)
		return below_bits(26);
	return below_bits(46);
}

/* How far to advance: mostly a few ms, sometimes far, rarely backwards. */
static uint64_t random_target(const struct tw_wheel *w)
{
	uint64_t k = below(32);

	if (k == 0)
		return w->now_ms - below(w->now_ms < 100 ? w->now_ms + 1 : 100);
	if (k < 4)
		return tw_next(w);
	if (k < 26)
		return w->now_ms + below(70);
	if (k < 31)
		return w->now_ms + below_bits(23);
	return w->now_ms + below_bits(44);
}

static void model_add(struct ttimer *t, uint64_t due_ms, bool in_callback)
{
	add(&wheel, t, due_ms);
	t->queued = true;
	t->fresh = in_callback;
}

/* Fires as the model says, then maybe re-adds itself, cancels or adds a
 * random timer, as a server's callbacks would. */
static void model_fire(struct tw_timer *tw)
{
	struct ttimer *t = container_of(tw, struct ttimer, tw);

	CHECK(t->queued && !t->fresh, "timer %d fired, queued %d fresh %d",
	      t->id, t->queued, t->fresh);
	record(t);
	t->queued = false;
	struct ttimer *other = &timers[below(MODEL_TIMERS)];
	switch (below(8)) {
	case 0:
	case 1:
		model_add(t, t->due_ms + below(100), true);
		break;
	case 2:
		tw_cancel(&wheel, &other->tw);
		other->queued = false;
		break;
	case 3:		/* from 50 ms ago (due at once) to 150 ms ahead */
		model_add(other, clock_ms + below(150) -
			  below(clock_ms < 50 ? clock_ms + 1 : 50), true);
		break;
	}
}

/* Compares the wheel with the model after each step; after an advance,
 * nothing the model had due by then may still be waiting. */
static void model_check(const struct tw_wheel *w, bool advanced)
{
	size_t queued = 0;
	uint64_t earliest = UINT64_MAX;

	for (size_t i = 0; i < MODEL_TIMERS && !failed(); i++) {
		const struct ttimer *t = &timers[i];
		CHECK(tw_pending(&t->tw) == t->queued, "timer %zu pending %d "
		      "queued %d", i, tw_pending(&t->tw), t->queued);
		CHECK(!advanced || !t->queued || t->fresh ||
		      t->due_ms > w->now_ms,
		      "timer %zu due %llu did not fire", i,
		      (unsigned long long)t->due_ms);
		if (t->queued) {
			queued++;
			if (t->due_ms < earliest)
				earliest = t->due_ms;
		}
	}
	CHECK_EQ(w->count, queued);
	const char *fault = tw_check(w);
	CHECK(fault == NULL, "tw_check: %s", fault);
	/* Due at or before now: tw_next() says "at once", any time <= now.
	 * Otherwise after now, and not after the earliest deadline. */
	uint64_t next = tw_next(w), now = w->now_ms;
	if (earliest <= now)
		CHECK(next <= now, "tw_next %llu at now %llu, a timer due %llu",
		      (unsigned long long)next, (unsigned long long)now,
		      (unsigned long long)earliest);
	else
		CHECK(next > now && next <= earliest, "tw_next %llu at now "
		      "%llu, the earliest due %llu", (unsigned long long)next,
		      (unsigned long long)now, (unsigned long long)earliest);
}

/* One random step: add, re-add or cancel a timer, or advance the clock. */
static void model_step(struct tw_wheel *w, unsigned step)
{
	struct ttimer *t = &timers[below(MODEL_TIMERS)];
	uint64_t k = below(100);
	bool advanced = false;

	if (k < 40) {
		context("step %u: add %d", step, t->id);
		model_add(t, w->now_ms + random_delay(), false);
	} else if (k < 50) {
		context("step %u: cancel %d", step, t->id);
		tw_cancel(w, &t->tw);
		t->queued = false;
	} else {
		uint64_t to = random_target(w);
		context("step %u: advance %llu to %llu", step,
			(unsigned long long)w->now_ms, (unsigned long long)to);
		for (size_t i = 0; i < MODEL_TIMERS; i++)
			timers[i].fresh = false;
		advance(w, to);
		advanced = true;
	}
	model_check(w, advanced);
}

/* Thousands of random steps, each compared with a plain array of what
 * should be in the wheel and when it is due. */
static void case_model(void)
{
	static const uint64_t model_starts[] = {
		0, (1ULL << 36) - 3, 0x0123456789abcdULL,
	};

	for (size_t r = 0; r < NELEM(model_starts) && !failed(); r++) {
		seed(100 + r);
		tw_init(&wheel, model_starts[r]);
		reset_timers(MODEL_TIMERS, model_fire);
		for (unsigned step = 0; step < MODEL_STEPS && !failed(); step++)
			model_step(&wheel, step);
	}
}

/* ---- the sweep case ---------------------------------------------------- */

/* The delays that land in slot s of level l: its first, second and last
 * millisecond.  Returns how many fit without overflowing from start. */
static size_t slot_delays(uint64_t start, unsigned l, unsigned s,
			  uint64_t d[3])
{
	unsigned shift = l * TW_SLOT_BITS;
	uint64_t width = 1ULL << shift;
	size_t n = 0;

	if (shift + 6 > 64 && (uint64_t)s >> (64 - shift) != 0)
		return 0;
	uint64_t base = (uint64_t)s << shift;
	uint64_t offs[3] = { 0, 1, width - 1 };
	for (size_t i = 0; i < 3; i++) {
		uint64_t delay = base + offs[i];
		if (delay < base || delay >= UINT64_MAX - start)
			continue;	/* UINT64_MAX stays "nothing" */
		if (i > 0 && offs[i] <= offs[i - 1])
			continue;
		d[n++] = delay;
	}
	return n;
}

/* One timer in slot s of level l, reached by one jump after one just
 * short of it. */
static void sweep_one(uint64_t start, unsigned l, unsigned s)
{
	uint64_t d[3];
	size_t n = slot_delays(start, l, s, d);

	for (size_t i = 0; i < n && !failed(); i++) {
		uint64_t due = start + d[i];
		uint64_t to[] = { due > start ? due - 1 : start, due };
		context("start %llu level %u slot %u delay %llu",
			(unsigned long long)start, l, s,
			(unsigned long long)d[i]);
		run_plan(start, d[i], to, 2);
	}
}

/* Every slot of level l filled at once, emptied by following tw_next(). */
static void sweep_level(uint64_t start, unsigned l)
{
	struct tw_wheel *w = &wheel;
	size_t n = 0;

	context("start %llu level %u together", (unsigned long long)start, l);
	tw_init(w, start);
	reset_timers(TW_SLOTS * 3, on_fire);
	for (unsigned s = 0; s < TW_SLOTS; s++) {
		uint64_t d[3];
		size_t k = slot_delays(start, l, s, d);
		for (size_t i = 0; i < k; i++)
			add(w, &timers[n++], start + d[i]);
	}
	walk(w, (unsigned)n * 2 * TW_LEVELS);
	for (size_t i = 0; i < n && !failed(); i++) {
		CHECK_EQ(timers[i].fired, 1);
		CHECK_EQ(timers[i].fired_ms, timers[i].due_ms);
	}
}

/* For each level and each slot position, from several start times, a
 * timer at start + (s << 6l) (+ 1, + the slot's width - 1) fires exactly
 * at its time, alone or with the whole level full. */
static void case_sweep(void)
{
	static const uint64_t sweep_starts[] = {
		0, (1ULL << 12) - 1, (1ULL << 40) + 12345, (1ULL << 62) - 1,
	};

	for (size_t i = 0; i < NELEM(sweep_starts) && !failed(); i++) {
		for (unsigned l = 0; l < TW_LEVELS && !failed(); l++) {
			for (unsigned s = 0; s < TW_SLOTS && !failed(); s++)
				sweep_one(sweep_starts[i], l, s);
			sweep_level(sweep_starts[i], l);
		}
	}
}

/* ---- the table and the runner ------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{ "empty", case_empty },
	{ "order_step", case_order_step },
	{ "order_jump", case_order_jump },
	{ "cancel", case_cancel },
	{ "cancel_in_callback", case_cancel_in_callback },
	{ "readd", case_readd },
	{ "readd_in_callback", case_readd_in_callback },
	{ "add_in_callback", case_add_in_callback },
	{ "past_due", case_past_due },
	{ "levels", case_levels },
	{ "levels_together", case_levels_together },
	{ "many_same_due", case_many_same_due },
	{ "many_one_slot", case_many_one_slot },
	{ "next", case_next },
	{ "next_walk", case_next_walk },
	{ "model", case_model },
	{ "sweep", case_sweep },
};

/* Runs one case in a child process and prints its line.  The alarm is a
 * watchdog, not a timing: a wheel that loops forever fails its case. */
static bool run_case(const char *name, void (*run)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		run();
		if (failed())
			printf("FAIL %s: %s\n", name, failure);
		else
			printf("pass %s\n", name);
		exit(failed() ? 1 : 0);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		printf("FAIL %s: cannot run the case in a child\n", name);
		return false;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)\n", name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
	bool ok = true;

	for (size_t i = 0; i < NELEM(cases); i++)
		ok &= run_case(cases[i].name, cases[i].run);
	return ok ? 0 : 1;
}
