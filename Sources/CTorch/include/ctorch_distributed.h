/*
 * CTorch distributed: libtorch's c10d (TCPStore for rendezvous, ProcessGroupGloo for collectives on CPU tensors).
 * Same conventions as ctorch.h: an int status (0 = success), the message in pt_last_error(), no C++ exception
 * crosses this boundary. Every blocking call gives up after the timeout it was created with.
 */
#ifndef CTORCH_DISTRIBUTED_H
#define CTORCH_DISTRIBUTED_H

#include "ctorch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_store_s *pt_store;
typedef struct pt_group_s *pt_group;

typedef enum { PT_REDUCE_SUM = 0, PT_REDUCE_AVG = 1, PT_REDUCE_MAX = 2, PT_REDUCE_MIN = 3 } pt_collective_op;

/* ---- TCPStore: a key-value store served by one process (is_server) and reached by all ---- */
/// Connects to (or, with is_server, serves on) host:port; waits up to timeout_ms for the server and, for the
/// server, for world_size clients.
int pt_store_create(pt_store *out, const char *host, int port, int world_size, bool is_server, int64_t timeout_ms);
void pt_store_free(pt_store s);
int pt_store_set(pt_store s, const char *key, const uint8_t *data, size_t n);
/// Waits for `key` (up to the store's timeout) and returns its value in a malloc'd buffer the caller frees.
int pt_store_get(pt_store s, const char *key, uint8_t **data, size_t *n);
/// Atomically adds `delta` to the integer at `key` (0 when absent) and returns the new value.
int pt_store_add(pt_store s, const char *key, int64_t delta, int64_t *value);
/// The store's port (the one the server bound, when created with port 0).
int pt_store_port(pt_store s);

/* ---- process groups ---- */
/// A Gloo process group of `size` ranks meeting through `store`. `hostname` (may be NULL or empty) is the address
/// this rank's Gloo device binds (default: this machine's hostname, or GLOO_SOCKET_IFNAME's interface).
/// `threads` is Gloo's worker threads. A heartbeat thread bumps this rank's counter in the store every
/// heartbeat_ms so peers can tell a dead or hung rank from a slow one (pt_group_unresponsive).
int pt_group_create_gloo(
    pt_group *out, pt_store store, const char *store_host, int store_port, int rank, int size, const char *hostname,
    int64_t timeout_ms, int threads, int64_t heartbeat_ms);
void pt_group_free(pt_group g);
/// Reduces `n` tensors in place across ranks (same shapes and dtypes on every rank); they travel as one buffer per
/// dtype. `bytes` (may be NULL) receives the bytes this rank contributed.
int pt_group_allreduce(pt_group g, const pt_tensor *ts, int n, pt_collective_op op, int64_t *bytes);
/// All-reduces the gradients of `params` in buckets of at most bucket_bytes (a parameter without a gradient
/// contributes zeros and receives the reduced gradient). `bytes` (may be NULL) receives the bytes sent into reductions.
int pt_group_allreduce_gradients(pt_group g, const pt_tensor *params, int n, int64_t bucket_bytes, bool average, int64_t *bytes);
/// Copies `root`'s values of the `n` tensors into every rank's (in place, under no-grad).
int pt_group_broadcast(pt_group g, const pt_tensor *ts, int n, int root);
/// Every rank's `t` (same shape everywhere), stacked along a new first axis: (size, ...).
int pt_group_allgather(pt_tensor *out, pt_group g, pt_tensor t);
int pt_group_barrier(pt_group g);
/// Ranks whose heartbeat did not advance over wait_ms (dead or hung), written to ranks[0..<*count] (capacity:
/// the group size). Returns 2 when the store itself cannot be reached (its host, rank 0, is gone).
int pt_group_unresponsive(pt_group g, int64_t wait_ms, int *ranks, int *count);

#ifdef __cplusplus
}
#endif

#endif
