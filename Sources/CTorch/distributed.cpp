// c10d bindings: TCPStore and ProcessGroupGloo, over the C API in ctorch_distributed.h.
//
// The torch wheel ships Gloo's compiled code inside libtorch_cpu.so but not Gloo's headers, which
// ProcessGroupGloo.hpp includes. gloo-declarations/ declares only what that header names: gloo::Context and the
// transport types are held there by pointer (their size never matters) and gloo::rendezvous::Store is the abstract
// base of a class this file never constructs. Nothing here calls Gloo: the process group is built by libtorch's
// exported ProcessGroupGloo constructor and used through c10d::Backend's virtual functions, so every Gloo call is
// libtorch's own code, and ProcessGroupGloo's layout comes from libtorch's header unchanged.
//
// NCCL is not built in: ProcessGroupNCCL.hpp needs CUDA's and NCCL's headers, which the wheel does not ship, and
// Ponder links libtorch_cpu only (see docs/ARCHITECTURE.md, "Distributed training").
#define USE_C10D_GLOO 1

#include "ctorch_distributed.h"
#include "ctorch_internal.hpp"

#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

struct pt_store_s {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

struct pt_group_s {
  c10::intrusive_ptr<c10d::Backend> backend;
  std::string store_host;
  int store_port;
  int rank;
  int size;
  std::chrono::milliseconds timeout;
  // Heartbeat: a thread with its own store connection bumps ponder/heartbeat/<rank> every `heartbeat`.
  std::chrono::milliseconds heartbeat;
  std::thread beat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;

  ~pt_group_s() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    wake.notify_all();
    if (beat.joinable()) beat.join();
  }
};

namespace {

std::string heartbeat_key(int rank) { return "ponder/heartbeat/" + std::to_string(rank); }

c10::intrusive_ptr<c10d::TCPStore> connect(const std::string &host, int port, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = false;
  o.numWorkers = std::nullopt;
  o.waitWorkers = false;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, o);
}

// The Swift side names the operation and the rank; the message is libtorch's (Gloo's, the store's).
std::string describe(const std::exception &e) {
  const auto *c = dynamic_cast<const c10::Error *>(&e);
  return c ? c->what_without_backtrace() : e.what();
}

void wait(const c10::intrusive_ptr<c10d::Work> &work, std::chrono::milliseconds timeout) {
  if (!work->wait(timeout)) throw std::runtime_error("timed out after " + std::to_string(timeout.count()) + " ms");
}

// Runs `body` on one contiguous buffer per dtype holding `tensors` flattened in order, then copies the buffers
// back (bucket_bytes > 0 starts a new buffer once one holds that many bytes). Returns the bytes handled.
template <class Body>
int64_t flat_buffers(const std::vector<at::Tensor> &tensors, int64_t bucket_bytes, Body body) {
  at::NoGradGuard no_grad;
  int64_t total = 0;
  size_t i = 0;
  while (i < tensors.size()) {
    std::vector<at::Tensor> bucket{tensors[i]};
    int64_t bytes = tensors[i].numel() * tensors[i].element_size();
    size_t j = i + 1;
    while (j < tensors.size() && tensors[j].scalar_type() == tensors[i].scalar_type() &&
           (bucket_bytes <= 0 || bytes + tensors[j].numel() * tensors[j].element_size() <= bucket_bytes)) {
      bytes += tensors[j].numel() * tensors[j].element_size();
      bucket.push_back(tensors[j]);
      ++j;
    }
    std::vector<at::Tensor> flat;
    flat.reserve(bucket.size());
    for (auto &t : bucket) flat.push_back(t.reshape(-1));
    at::Tensor buffer = bucket.size() == 1 && bucket[0].is_contiguous() ? bucket[0].detach().reshape(-1) : at::cat(flat);
    body(buffer);
    // A collective writes the buffer's memory directly: move the version counters as an in-place op would (readers
    // keeping derived copies of a tensor, like packed decode weights, watch them).
    for (auto &t : bucket) t.unsafeGetTensorImpl()->bump_version();
    if (!(bucket.size() == 1 && bucket[0].is_contiguous())) {
      int64_t offset = 0;
      for (auto &t : bucket) {
        t.detach().copy_(buffer.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
    total += bytes;
    i = j;
  }
  return total;
}

c10d::ReduceOp reduce_op(pt_collective_op op) {
  switch (op) {
    case PT_REDUCE_MAX: return c10d::ReduceOp(c10d::ReduceOp::MAX);
    case PT_REDUCE_MIN: return c10d::ReduceOp(c10d::ReduceOp::MIN);
    default: return c10d::ReduceOp(c10d::ReduceOp::SUM);  // Gloo has no AVG: sum, then divide
  }
}

void allreduce_buffer(pt_group g, at::Tensor &buffer, pt_collective_op op) {
  std::vector<at::Tensor> v{buffer};
  c10d::AllreduceOptions o;
  o.reduceOp = reduce_op(op);
  o.timeout = g->timeout;
  wait(g->backend->allreduce(v, o), g->timeout);
  if (op == PT_REDUCE_AVG) buffer.div_(g->size);
}

}  // namespace

#define PT_DIST_TRY(what, rank, ...)                                 \
  try {                                                              \
    __VA_ARGS__;                                                     \
    return 0;                                                        \
  } catch (const std::exception &e) {                                \
    ctorch_set_last_error(describe(e));                              \
  } catch (...) {                                                    \
    ctorch_set_last_error(std::string(what) + ": unknown C++ error"); \
  }                                                                  \
  return 1;

extern "C" {

int pt_store_create(pt_store *out, const char *host, int port, int world_size, bool is_server, int64_t timeout_ms) {
  PT_DIST_TRY(is_server ? "serving the TCPStore" : "connecting to the TCPStore", is_server ? 0 : -1, {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(port);
    o.isServer = is_server;
    o.numWorkers = static_cast<std::size_t>(world_size);
    o.waitWorkers = true;
    o.timeout = std::chrono::milliseconds(timeout_ms);
    *out = new pt_store_s{c10::make_intrusive<c10d::TCPStore>(std::string(host), o)};
  })
}

void pt_store_free(pt_store s) { delete s; }

int pt_store_set(pt_store s, const char *key, const uint8_t *data, size_t n) {
  PT_DIST_TRY("store set", -1, s->store->set(key, std::vector<uint8_t>(data, data + n)))
}

int pt_store_get(pt_store s, const char *key, uint8_t **data, size_t *n) {
  PT_DIST_TRY("store get", -1, {
    auto v = s->store->get(key);
    auto *buffer = static_cast<uint8_t *>(std::malloc(v.empty() ? 1 : v.size()));
    if (!v.empty()) std::memcpy(buffer, v.data(), v.size());
    *data = buffer;
    *n = v.size();
  })
}

int pt_store_add(pt_store s, const char *key, int64_t delta, int64_t *value) {
  PT_DIST_TRY("store add", -1, *value = s->store->add(key, delta))
}

int pt_store_port(pt_store s) { return static_cast<int>(s->store->getPort()); }

int pt_group_create_gloo(
    pt_group *out, pt_store store, const char *store_host, int store_port, int rank, int size, const char *hostname,
    int64_t timeout_ms, int threads, int64_t heartbeat_ms) {
  PT_DIST_TRY("creating the Gloo process group", rank, {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    std::string host = hostname ? hostname : "";
    const char *interface = std::getenv("GLOO_SOCKET_IFNAME");
    if (!host.empty())
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
    else if (interface && *interface)
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = threads < 1 ? 1 : threads;
    auto group = std::make_unique<pt_group_s>();
    group->store_host = store_host;
    group->store_port = store_port;
    group->rank = rank;
    group->size = size;
    group->timeout = timeout;
    group->heartbeat = std::chrono::milliseconds(heartbeat_ms);
    group->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store->store, rank, size, options);
    if (heartbeat_ms > 0) {
      auto beats = connect(group->store_host, store_port, timeout);
      beats->add(heartbeat_key(rank), 1);
      pt_group_s *g = group.get();
      g->beat = std::thread([g, beats] {
        std::unique_lock<std::mutex> lock(g->mutex);
        while (!g->wake.wait_for(lock, g->heartbeat, [g] { return g->stop; })) {
          try {
            beats->add(heartbeat_key(g->rank), 1);
          } catch (...) {
            return;  // the store is gone; collectives will report it
          }
        }
      });
    }
    *out = group.release();
  })
}

void pt_group_free(pt_group g) { delete g; }

int pt_group_allreduce(pt_group g, const pt_tensor *ts, int n, pt_collective_op op, int64_t *bytes) {
  PT_DIST_TRY("allreduce", g->rank, {
    std::vector<at::Tensor> tensors;
    for (int i = 0; i < n; ++i) tensors.push_back(ts[i]->t);
    int64_t total = flat_buffers(tensors, 0, [&](at::Tensor &b) { allreduce_buffer(g, b, op); });
    if (bytes) *bytes = total;
  })
}

int pt_group_allreduce_gradients(pt_group g, const pt_tensor *params, int n, int64_t bucket_bytes, bool average, int64_t *bytes) {
  PT_DIST_TRY("allreduce of gradients", g->rank, {
    std::vector<at::Tensor> grads;
    for (int i = 0; i < n; ++i) {
      at::Tensor &p = params[i]->t;
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      grads.push_back(p.grad());
    }
    int64_t total = flat_buffers(grads, bucket_bytes, [&](at::Tensor &b) {
      allreduce_buffer(g, b, average ? PT_REDUCE_AVG : PT_REDUCE_SUM);
    });
    if (bytes) *bytes = total;
  })
}

int pt_group_broadcast(pt_group g, const pt_tensor *ts, int n, int root) {
  PT_DIST_TRY("broadcast", g->rank, {
    std::vector<at::Tensor> tensors;
    for (int i = 0; i < n; ++i) tensors.push_back(ts[i]->t);
    flat_buffers(tensors, 0, [&](at::Tensor &b) {
      std::vector<at::Tensor> v{b};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.timeout = g->timeout;
      wait(g->backend->broadcast(v, o), g->timeout);
    });
  })
}

int pt_group_allgather(pt_tensor *out, pt_group g, pt_tensor t) {
  PT_DIST_TRY("allgather", g->rank, {
    at::NoGradGuard no_grad;
    at::Tensor input = t->t.detach().contiguous();
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < g->size; ++r) outputs[0].push_back(at::empty_like(input));
    std::vector<at::Tensor> inputs{input};
    c10d::AllgatherOptions o;
    o.timeout = g->timeout;
    wait(g->backend->allgather(outputs, inputs, o), g->timeout);
    *out = new pt_tensor_s{at::stack(outputs[0])};
  })
}

int pt_group_barrier(pt_group g) {
  PT_DIST_TRY("barrier", g->rank, {
    c10d::BarrierOptions o;
    o.timeout = g->timeout;
    wait(g->backend->barrier(o), g->timeout);
  })
}

int pt_group_unresponsive(pt_group g, int64_t wait_ms, int *ranks, int *count) {
  *count = 0;
  c10::intrusive_ptr<c10d::TCPStore> store;
  std::vector<int64_t> before(static_cast<size_t>(g->size));
  try {
    store = connect(g->store_host, g->store_port, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1000)));
    for (int r = 0; r < g->size; ++r) before[r] = store->add(heartbeat_key(r), 0);
  } catch (const std::exception &e) {
    ctorch_set_last_error(e.what());
    return 2;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  try {
    for (int r = 0; r < g->size; ++r)
      if (r != g->rank && store->add(heartbeat_key(r), 0) == before[r]) ranks[(*count)++] = r;
  } catch (const std::exception &e) {
    ctorch_set_last_error(e.what());
    return 2;
  }
  return 0;
}

}  // extern "C"
