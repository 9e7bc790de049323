/* timerwheel.c - a hierarchical timer wheel: O(1) add, cancel and next.
 *
 * The wheel is a clock face of 64 slots per level.  A timer is filed by how
 * far its deadline is from the wheel's "now": in level 0 when it falls in
 * the same 64 ms block as now, in level 1 when it falls in the same 4 s
 * block, and so on.  Its slot is the level's digit of its deadline:
 *
 *	level	slot width	level spans	deadline bits
 *	0	1 ms		64 ms		 0..5
 *	1	64 ms		4.1 s		 6..11
 *	2	4.1 s		4.4 min		12..17
 *	3	4.4 min		4.7 h		18..23
 *	4	4.7 h		12.4 days	24..29
 *	5	12.4 days	2.2 years	30..35
 *	6-10	...		the rest	36..63
 *
 * Eleven levels cover every bit of a 64-bit deadline, so any deadline has
 * a level and nothing needs an overflow list.  The level is where the
 * deadline and now first differ, reading from the top bit: one XOR and one
 * count of leading zeros.
 *
 * Why cascade: a slot of level 1 holds every timer of a 64 ms window, in
 * no order.  When that window begins, the wheel takes the slot's timers and
 * files them again against the new now; each lands in a nearer level, and
 * finally in a level-0 slot that is exactly its millisecond.  So a timer
 * fires in the very tw_advance() that reaches its deadline, never early and
 * never late, and it is moved at most once per level on the way (a
 * one-second stream event: once, or twice when its deadline lies past the
 * next 4,096 ms boundary).  Rounds (one level, a lap counter per
 * timer) would instead visit every timer on every lap.
 *
 * Finding the next deadline: timers of a lower level always fall before
 * those of a higher one (they share more of now's top bits), and a slot is
 * occupied only ahead of now, so the next work is the lowest set bit of the
 * lowest busy level.  That is what the server arms its timerfd for.
 */
#include "timerwheel.h"

#define SLOT_MASK	((uint64_t)TW_SLOTS - 1)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Intrusive circular lists: the head is a link that points at itself. */

static void list_init(struct tw_link *head)
{
	head->prev = head->next = head;
}

static bool list_empty(const struct tw_link *head)
{
	return head->next == head;
}

static void list_push(struct tw_link *head, struct tw_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void list_unlink(struct tw_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = NULL;	/* tw_pending() reads this */
}

/* Moves every link of from to the tail of to, keeping their order. */
static void list_splice(struct tw_link *to, struct tw_link *from)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	from->prev->next = to;
	to->prev->next = from->next;
	to->prev = from->prev;
	list_init(from);
}

static unsigned level_for(uint64_t now, uint64_t due)
{
	uint64_t differ = (now ^ due) | SLOT_MASK;

	return (63 - __builtin_clzll(differ)) / TW_SLOT_BITS;
}

static unsigned slot_for(uint64_t due, unsigned level)
{
	return (due >> (level * TW_SLOT_BITS)) & SLOT_MASK;
}

/* The moment slot s of level l begins, in the block of that level that
 * holds now.  The top level's block is the whole clock. */
static uint64_t slot_start(uint64_t now, unsigned level, unsigned slot)
{
	unsigned shift = level * TW_SLOT_BITS;
	unsigned block = shift + TW_SLOT_BITS;
	uint64_t base = block < 64 ? now >> block << block : 0;

	return base | (uint64_t)slot << shift;
}

/* Files a timer against the wheel's now: the expired list if its time has
 * come, else the slot its deadline names. */
static void file(struct tw_wheel *w, struct tw_timer *t)
{
	unsigned level, slot;

	if (t->due_ms <= w->now_ms) {
		list_push(&w->expired, &t->link);
		return;
	}
	level = level_for(w->now_ms, t->due_ms);
	slot = slot_for(t->due_ms, level);
	list_push(&w->slots[level][slot], &t->link);
	w->busy[level] |= (uint64_t)1 << slot;
}

/* The earliest occupied slot: false when every level is empty. */
static bool next_slot(const struct tw_wheel *w, unsigned *level,
		      unsigned *slot)
{
	for (unsigned l = 0; l < TW_LEVELS; l++) {
		if (w->busy[l] != 0) {
			*level = l;
			*slot = (unsigned)__builtin_ctzll(w->busy[l]);
			return true;
		}
	}
	return false;
}

void tw_init(struct tw_wheel *w, uint64_t now_ms)
{
	w->now_ms = now_ms;
	w->count = 0;
	list_init(&w->expired);
	for (unsigned l = 0; l < TW_LEVELS; l++) {
		w->busy[l] = 0;
		for (unsigned s = 0; s < TW_SLOTS; s++)
			list_init(&w->slots[l][s]);
	}
}

void tw_timer_init(struct tw_timer *t, tw_fn *fn)
{
	t->link.prev = t->link.next = NULL;
	t->due_ms = 0;
	t->fn = fn;
}

void tw_add(struct tw_wheel *w, struct tw_timer *t, uint64_t due_ms)
{
	tw_cancel(w, t);
	t->due_ms = due_ms;
	file(w, t);
	w->count++;
}

void tw_cancel(struct tw_wheel *w, struct tw_timer *t)
{
	if (!tw_pending(t))
		return;
	/* A timer ahead of now is still in the slot it was filed in: now has
	 * not reached that slot, so it still differs from the deadline in the
	 * same digit.  Any other pending timer is on a plain list. */
	if (t->due_ms > w->now_ms) {
		unsigned level = level_for(w->now_ms, t->due_ms);
		unsigned slot = slot_for(t->due_ms, level);
		struct tw_link *head = &w->slots[level][slot];

		list_unlink(&t->link);
		if (list_empty(head))
			w->busy[level] &= ~((uint64_t)1 << slot);
	} else {
		list_unlink(&t->link);
	}
	w->count--;
}

uint64_t tw_next(const struct tw_wheel *w)
{
	unsigned level, slot;

	if (!list_empty(&w->expired))
		return w->now_ms;
	if (!next_slot(w, &level, &slot))
		return UINT64_MAX;
	return slot_start(w->now_ms, level, slot);
}

size_t tw_advance(struct tw_wheel *w, uint64_t now_ms)
{
	struct tw_link due;
	unsigned level, slot;
	size_t fired = 0;

	/* 1. Visit every slot that begins by now_ms, earliest first, with the
	 *    wheel's clock at the slot's beginning, and file its timers again:
	 *    each moves to a nearer level or, when its time has come, to the
	 *    expired list.  Level-0 slots always empty into the expired list,
	 *    so it fills in deadline order. */
	while (next_slot(w, &level, &slot)) {
		uint64_t start = slot_start(w->now_ms, level, slot);
		struct tw_link taken;

		if (start > now_ms)
			break;
		w->now_ms = start;
		list_init(&taken);
		list_splice(&taken, &w->slots[level][slot]);
		w->busy[level] &= ~((uint64_t)1 << slot);
		while (!list_empty(&taken)) {
			struct tw_link *l = taken.next;

			list_unlink(l);
			file(w, container_of(l, struct tw_timer, link));
		}
	}
	if (now_ms > w->now_ms)
		w->now_ms = now_ms;

	/* 2. Move the due timers to a local list before calling anyone, so
	 *    that callbacks may add and cancel freely: what they add for now
	 *    or earlier goes to the wheel's expired list, for the next call. */
	list_init(&due);
	list_splice(&due, &w->expired);
	while (!list_empty(&due)) {
		struct tw_timer *t = container_of(due.next, struct tw_timer, link);

		list_unlink(&t->link);
		w->count--;
		fired++;
		t->fn(t);
	}
	return fired;
}

/* Checks one list: links that agree both ways, and each timer where its
 * deadline says (level l, slot s; l < 0 for the expired list).  Adds the
 * timers it saw to *seen. */
static const char *check_list(const struct tw_wheel *w,
			      const struct tw_link *head, int l, unsigned s,
			      size_t *seen)
{
	for (const struct tw_link *p = head->next; p != head; p = p->next) {
		const struct tw_timer *t =
			container_of(p, const struct tw_timer, link);

		if (p->next == NULL || p->next->prev != p)
			return "broken link";
		if (l < 0 && t->due_ms > w->now_ms)
			return "expired list holds a timer not yet due";
		if (l >= 0 && t->due_ms <= w->now_ms)
			return "slot holds a timer already due";
		if (l >= 0 && (level_for(w->now_ms, t->due_ms) != (unsigned)l ||
			       slot_for(t->due_ms, (unsigned)l) != s))
			return "timer filed in the wrong slot";
		(*seen)++;
	}
	return NULL;
}

const char *tw_check(const struct tw_wheel *w)
{
	const char *fault;
	size_t seen = 0;

	fault = check_list(w, &w->expired, -1, 0, &seen);
	for (unsigned l = 0; fault == NULL && l < TW_LEVELS; l++) {
		for (unsigned s = 0; fault == NULL && s < TW_SLOTS; s++) {
			const struct tw_link *head = &w->slots[l][s];
			bool busy = (w->busy[l] >> s) & 1;

			if (busy == list_empty(head))
				return "busy bit disagrees with its slot";
			fault = check_list(w, head, (int)l, s, &seen);
		}
	}
	if (fault == NULL && seen != w->count)
		return "count disagrees with the lists";
	return fault;
}
