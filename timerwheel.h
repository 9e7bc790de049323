/* timerwheel.h - a hierarchical timer wheel with millisecond ticks.
 *
 * A timer is a struct tw_timer embedded in the object that owns it; the
 * wheel links and unlinks it but never allocates or frees anything.  The
 * wheel reads no clock: the caller says what time it is (tw_advance) and
 * asks when it next has work (tw_next), so tests drive it with a fake clock
 * and the server drives it with CLOCK_MONOTONIC and one timerfd.
 *
 * Times are absolute milliseconds on whatever clock the caller uses.
 */
#ifndef SSE_TIMERWHEEL_H
#define SSE_TIMERWHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_SLOT_BITS	6
#define TW_SLOTS	(1 << TW_SLOT_BITS)
/* 11 levels of 6 bits cover all 64 bits of a deadline (see timerwheel.c). */
#define TW_LEVELS	11

/* A link in an intrusive circular list; a lone node points at itself. */
struct tw_link {
	struct tw_link *prev, *next;
};

struct tw_timer;
typedef void tw_fn(struct tw_timer *t);

/* Embed one in the owner; find the owner again with container_of(). */
struct tw_timer {
	struct tw_link link;	/* next == NULL: not in the wheel */
	uint64_t due_ms;	/* fires at the first tw_advance() >= due_ms */
	tw_fn *fn;		/* called once when due, already unlinked */
};

struct tw_wheel {
	uint64_t now_ms;		/* the time of the last tw_advance() */
	size_t count;			/* timers in the wheel */
	uint64_t busy[TW_LEVELS];	/* bit s set: slots[l][s] not empty */
	struct tw_link expired;		/* due at or before now_ms */
	struct tw_link slots[TW_LEVELS][TW_SLOTS];
};

/* Starts an empty wheel whose clock reads now_ms. */
void tw_init(struct tw_wheel *w, uint64_t now_ms);

/* Initialises a timer that is not in any wheel; tw_pending() is false. */
void tw_timer_init(struct tw_timer *t, tw_fn *fn);

/* Schedules t to fire at due_ms, first cancelling it if it is pending.
 * A deadline at or before the wheel's now fires at the next tw_advance().
 * O(1); the wheel keeps a pointer to t until it fires or is cancelled. */
void tw_add(struct tw_wheel *w, struct tw_timer *t, uint64_t due_ms);

/* Takes t out of its wheel.  O(1); does nothing if t is not pending. */
void tw_cancel(struct tw_wheel *w, struct tw_timer *t);

static inline bool tw_pending(const struct tw_timer *t)
{
	return t->link.next != NULL;
}

/* The earliest time at which tw_advance() has work to do: a timer's
 * deadline, or the moment a far slot must be split into nearer ones (never
 * later than the earliest deadline).  A value at or before now means "at
 * once".  UINT64_MAX when the wheel is empty: arm nothing. */
uint64_t tw_next(const struct tw_wheel *w);

/* Moves the wheel's clock to now_ms (a smaller value is taken as no
 * change) and calls fn for every timer due at or before it, earliest
 * first.  Callbacks may add and cancel any timer, their own included; a
 * timer they add with a deadline at or before now_ms fires at the next
 * call, not this one, so a callback cannot keep the wheel busy forever.
 * Returns how many timers fired. */
size_t tw_advance(struct tw_wheel *w, uint64_t now_ms);

/* Checks that every timer sits in the slot its deadline demands and that
 * the busy bits and the count agree with the lists.  For tests: returns
 * NULL when the wheel is consistent, else a description of the first fault. */
const char *tw_check(const struct tw_wheel *w);

#endif
