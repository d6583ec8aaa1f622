/*
 * One rule for what is replaced while others read it: the authorization
 * snapshot, the LDAP settings and the certificate authd serves.
 *
 * Such an object is immutable once published and carries a reference count.
 * A reader takes a reference from the slot that holds the current object and
 * drops it when done, however long that takes: an LDAP login waits for the
 * directory, a TLS connection keeps its certificate for its whole life, a
 * decision may stall behind the engine. Publishing puts the new object in
 * the slot and drops the slot's reference to the old one, and whoever drops
 * the last reference frees the object: the writer at once when nobody reads
 * it, else the last reader.
 */
#ifndef AUTHD_REFCOUNT_H
#define AUTHD_REFCOUNT_H

#include <pthread.h>
#include <stdatomic.h>

/* The first member of a counted object, so that a struct ref * is the object's address. */
struct ref {
	atomic_long count;
	void (*free)(struct ref *r); /* frees the whole object */
};

/* Where the current object of a kind is published; it holds one reference to it. */
struct ref_slot {
	pthread_mutex_t lock; /* covers taking a reference and swapping, nothing else */
	struct ref *current;
};

/* A new object's count: one reference, its creator's. */
void ref_init(struct ref *r, void (*free_fn)(struct ref *r));
/* Another reference to an object the caller holds one to. */
void ref_get(struct ref *r);
/* Drops a reference (NULL: nothing); the last one frees the object. */
void ref_put(struct ref *r);

void ref_slot_init(struct ref_slot *s);
/* The current object with a reference for the caller, or NULL when none is published. */
struct ref *ref_slot_take(struct ref_slot *s);
/* Publishes r (NULL withdraws the current one), taking over the caller's reference to it. */
void ref_slot_publish(struct ref_slot *s, struct ref *r);
/* Withdraws the current object and destroys the slot; readers may still hold it. */
void ref_slot_destroy(struct ref_slot *s);

#endif
