/*
 * Reference counts and the slots objects are published in (refcount.h).
 *
 * Taking a reference is a load of the slot and an increment of the object's
 * count; a swap and a free between the two would leave the increment on
 * freed memory. The slot's lock makes the two one step: it is held for
 * those nanoseconds only, never across anything else, and a swap takes it
 * too. Dropping a reference is one atomic decrement and takes no lock.
 */
#include "refcount.h"

void ref_init(struct ref *r, void (*free_fn)(struct ref *r))
{
	atomic_init(&r->count, 1);
	r->free = free_fn;
}

void ref_get(struct ref *r)
{
	atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

void ref_put(struct ref *r)
{
	if (r == NULL)
		return;
	/* release: this holder's reads happen before the free; acquire: the free sees them */
	if (atomic_fetch_sub_explicit(&r->count, 1, memory_order_acq_rel) == 1)
		r->free(r);
}

void ref_slot_init(struct ref_slot *s)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	/* the lock is held for a load and an increment: spinning beats sleeping */
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(&s->lock, &a);
	pthread_mutexattr_destroy(&a);
	s->current = NULL;
}

struct ref *ref_slot_take(struct ref_slot *s)
{
	struct ref *r;

	pthread_mutex_lock(&s->lock);
	r = s->current;
	if (r != NULL)
		ref_get(r);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ref_slot_publish(struct ref_slot *s, struct ref *r)
{
	struct ref *old;

	pthread_mutex_lock(&s->lock);
	old = s->current;
	s->current = r;
	pthread_mutex_unlock(&s->lock);
	/* outside the lock: a free may be long, and readers wait for nothing of it */
	ref_put(old);
}

void ref_slot_destroy(struct ref_slot *s)
{
	ref_slot_publish(s, NULL);
	pthread_mutex_destroy(&s->lock);
}
