// C shim over libtorch's ATen. Every entry point catches C++ exceptions and records the message in a
// thread-local string read by pt_last_error(); nothing here knows about models.
#include "ctorch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <dlfcn.h>
#include <malloc.h>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "ctorch_internal.hpp"

struct pt_generator_s {
  at::Generator g;
};

namespace {

thread_local std::string last_error;

inline pt_tensor wrap(at::Tensor t) { return new pt_tensor_s{std::move(t)}; }
inline at::IntArrayRef dims(const int64_t *p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
inline at::ScalarType dtype_of(int code) { return static_cast<at::ScalarType>(code); }

bool load_cuda() {
  // libtorch_cpu is what Ponder links; the CUDA kernels register themselves when libtorch_cuda loads.
  static const bool loaded = dlopen("libtorch_cuda.so", RTLD_NOW | RTLD_GLOBAL) != nullptr;
  return loaded;
}

at::Device device_of(int code, int index = -1) {
  if (code == PT_CUDA) {
    if (!load_cuda() || !at::hasCUDA())
      throw std::runtime_error("CUDA was requested but this libtorch has no usable CUDA (libtorch_cuda.so could not be loaded or no GPU is present)");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  if (code != PT_CPU) throw std::runtime_error("unknown device code " + std::to_string(code));
  return at::Device(at::kCPU);
}

at::TensorOptions options(int dtype, int device) {
  return at::TensorOptions().dtype(dtype_of(dtype)).device(device_of(device));
}

at::Scalar scalar_of(pt_scalar s) {
  switch (s.kind) {
    case 1: return at::Scalar(static_cast<int64_t>(s.i));
    case 2: return at::Scalar(s.i != 0);
    default: return at::Scalar(s.d);
  }
}

std::optional<at::Generator> gen_of(pt_generator g) {
  if (g == nullptr) return std::nullopt;
  return g->g;
}

std::vector<at::Tensor> tensors_of(const pt_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(ts[i]->t);
  return v;
}

at::Tensor binary(pt_binary_op op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case PT_ADD: return at::add(a, b);
    case PT_SUB: return at::sub(a, b);
    case PT_MUL: return at::mul(a, b);
    case PT_DIV: return at::div(a, b);
    case PT_POW: return at::pow(a, b);
    case PT_MINIMUM: return at::minimum(a, b);
    case PT_MAXIMUM: return at::maximum(a, b);
    case PT_REMAINDER: return at::remainder(a, b);
    case PT_FLOOR_DIVIDE: return at::floor_divide(a, b);
    case PT_EQ: return at::eq(a, b);
    case PT_NE: return at::ne(a, b);
    case PT_LT: return at::lt(a, b);
    case PT_LE: return at::le(a, b);
    case PT_GT: return at::gt(a, b);
    case PT_GE: return at::ge(a, b);
    case PT_LOGICAL_AND: return at::logical_and(a, b);
    case PT_LOGICAL_OR: return at::logical_or(a, b);
    case PT_LOGICAL_XOR: return at::logical_xor(a, b);
    case PT_ATAN2: return at::atan2(a, b);
  }
  throw std::runtime_error("unknown binary op " + std::to_string(static_cast<int>(op)));
}

at::Tensor binary_scalar(pt_binary_op op, const at::Tensor &a, const at::Scalar &b) {
  switch (op) {
    case PT_ADD: return at::add(a, b);
    case PT_SUB: return at::sub(a, b);
    case PT_MUL: return at::mul(a, b);
    case PT_DIV: return at::div(a, b);
    case PT_POW: return at::pow(a, b);
    case PT_REMAINDER: return at::remainder(a, b);
    case PT_FLOOR_DIVIDE: return at::floor_divide(a, b);
    case PT_EQ: return at::eq(a, b);
    case PT_NE: return at::ne(a, b);
    case PT_LT: return at::lt(a, b);
    case PT_LE: return at::le(a, b);
    case PT_GT: return at::gt(a, b);
    case PT_GE: return at::ge(a, b);
    default: {
      // Ops without a scalar overload: wrap the scalar as a 0-dim tensor (type promotion treats it as a scalar).
      return binary(op, a, at::scalar_tensor(b, at::TensorOptions().dtype(b.type()).device(a.device())));
    }
  }
}

at::Tensor unary(pt_unary_op op, const at::Tensor &a) {
  switch (op) {
    case PT_NEG: return at::neg(a);
    case PT_EXP: return at::exp(a);
    case PT_LOG: return at::log(a);
    case PT_SQRT: return at::sqrt(a);
    case PT_RSQRT: return at::rsqrt(a);
    case PT_ABS: return at::abs(a);
    case PT_SIGMOID: return at::sigmoid(a);
    case PT_TANH: return at::tanh(a);
    case PT_SILU: return at::silu(a);
    case PT_GELU: return at::gelu(a);
    case PT_GELU_TANH: return at::gelu(a, "tanh");
    case PT_RELU: return at::relu(a);
    case PT_LOGICAL_NOT: return at::logical_not(a);
    case PT_SIN: return at::sin(a);
    case PT_COS: return at::cos(a);
    case PT_FLOOR: return at::floor(a);
    case PT_CEIL: return at::ceil(a);
    case PT_ROUND: return at::round(a);
    case PT_SIGN: return at::sign(a);
    case PT_RECIPROCAL: return at::reciprocal(a);
    case PT_ERF: return at::erf(a);
    case PT_LOG1P: return at::log1p(a);
    case PT_EXPM1: return at::expm1(a);
    case PT_SQUARE: return at::square(a);
    case PT_ISNAN: return at::isnan(a);
    case PT_ISINF: return at::isinf(a);
    case PT_ISFINITE: return at::isfinite(a);
  }
  throw std::runtime_error("unknown unary op " + std::to_string(static_cast<int>(op)));
}

}  // namespace

void ctorch_set_last_error(std::string message) { last_error = std::move(message); }

#define PT_TRY(...)                                         \
  try {                                                     \
    __VA_ARGS__;                                            \
    return 0;                                               \
  } catch (const c10::Error &e) {                           \
    last_error = e.what_without_backtrace();                \
  } catch (const std::exception &e) {                       \
    last_error = e.what();                                  \
  } catch (...) {                                           \
    last_error = "unknown C++ exception in libtorch";       \
  }                                                         \
  return 1;

#define PT_OUT(...) PT_TRY(*out = wrap(__VA_ARGS__))

extern "C" {

/* ---- errors, library state ---- */
const char *pt_last_error(void) { return last_error.c_str(); }
void pt_free(pt_tensor t) { delete t; }
void pt_set_num_threads(int n) { at::set_num_threads(n); }
int pt_get_num_threads(void) { return at::get_num_threads(); }
void pt_manual_seed(uint64_t seed) { at::manual_seed(seed); }
bool pt_cuda_is_available(void) {
  try { return load_cuda() && at::hasCUDA(); } catch (...) { return false; }
}
int pt_cuda_device_count(void) {
  try { return pt_cuda_is_available() ? static_cast<int>(at::detail::getCUDAHooks().deviceCount()) : 0; }
  catch (...) { return 0; }
}
bool pt_is_grad_enabled(void) { return c10::GradMode::is_enabled(); }
bool pt_set_grad_enabled(bool enabled) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled);
  return previous;
}
int pt_shallow_clone(pt_tensor *out, pt_tensor t) { PT_OUT(t->t) }
pt_tensor pt_undefined(void) { return wrap(at::Tensor()); }
bool pt_defined(pt_tensor t) { return t->t.defined(); }

/* ---- generators ---- */
int pt_generator_new(pt_generator *out, uint64_t seed) {
  PT_TRY(*out = new pt_generator_s{at::make_generator<at::CPUGeneratorImpl>(seed)})
}
void pt_generator_free(pt_generator g) { delete g; }
int pt_generator_set_seed(pt_generator g, uint64_t seed) {
  PT_TRY(std::lock_guard<std::mutex> lock(g->g.mutex()); g->g.set_current_seed(seed))
}
int pt_generator_get_state(pt_tensor *out, pt_generator g) {
  PT_TRY(std::lock_guard<std::mutex> lock(g->g.mutex()); *out = wrap(g->g.get_state()))
}
int pt_generator_set_state(pt_generator g, pt_tensor state) {
  PT_TRY(std::lock_guard<std::mutex> lock(g->g.mutex()); g->g.set_state(state->t))
}

/* ---- creation ---- */
int pt_from_data(pt_tensor *out, const void *data, const int64_t *shape, int ndim, int dtype) {
  PT_TRY({
    at::Tensor t = at::empty(dims(shape, ndim), at::TensorOptions().dtype(dtype_of(dtype)));
    size_t nbytes = t.numel() * t.element_size();
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    *out = wrap(std::move(t));
  })
}
int pt_empty(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device) {
  PT_OUT(at::empty(dims(shape, ndim), options(dtype, device)))
}
int pt_zeros(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device) {
  PT_OUT(at::zeros(dims(shape, ndim), options(dtype, device)))
}
int pt_ones(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device) {
  PT_OUT(at::ones(dims(shape, ndim), options(dtype, device)))
}
int pt_full(pt_tensor *out, const int64_t *shape, int ndim, pt_scalar value, int dtype, int device) {
  PT_OUT(at::full(dims(shape, ndim), scalar_of(value), options(dtype, device)))
}
int pt_arange(pt_tensor *out, pt_scalar start, pt_scalar end, pt_scalar step, int dtype, int device) {
  PT_OUT(at::arange(scalar_of(start), scalar_of(end), scalar_of(step), options(dtype, device)))
}
// Random numbers are drawn on the CPU from the (CPU) generator, then moved, so a seed means the same
// numbers on every device.
int pt_randn(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device, pt_generator g) {
  PT_OUT(at::randn(dims(shape, ndim), gen_of(g), at::TensorOptions().dtype(dtype_of(dtype))).to(device_of(device)))
}
int pt_rand(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device, pt_generator g) {
  PT_OUT(at::rand(dims(shape, ndim), gen_of(g), at::TensorOptions().dtype(dtype_of(dtype))).to(device_of(device)))
}
int pt_randint(pt_tensor *out, int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype, int device,
               pt_generator g) {
  PT_OUT(at::randint(low, high, dims(shape, ndim), gen_of(g), at::TensorOptions().dtype(dtype_of(dtype)))
             .to(device_of(device)))
}

/* ---- inspection and conversion ---- */
int pt_dim(pt_tensor t) { return t->t.defined() ? static_cast<int>(t->t.dim()) : 0; }
void pt_sizes(pt_tensor t, int64_t *sizes) {
  if (!t->t.defined()) return;
  auto s = t->t.sizes();
  std::copy(s.begin(), s.end(), sizes);
}
void pt_strides(pt_tensor t, int64_t *strides) {
  if (!t->t.defined()) return;
  auto s = t->t.strides();
  std::copy(s.begin(), s.end(), strides);
}
int pt_dtype(pt_tensor t) { return t->t.defined() ? static_cast<int>(t->t.scalar_type()) : -1; }
int pt_device(pt_tensor t) { return t->t.defined() && t->t.is_cuda() ? PT_CUDA : PT_CPU; }
int64_t pt_numel(pt_tensor t) { return t->t.defined() ? t->t.numel() : 0; }
int64_t pt_element_size(pt_tensor t) { return t->t.defined() ? t->t.element_size() : 0; }
bool pt_is_contiguous(pt_tensor t) { return t->t.defined() && t->t.is_contiguous(); }
bool pt_requires_grad(pt_tensor t) { return t->t.defined() && t->t.requires_grad(); }
void *pt_data_ptr(pt_tensor t) { return t->t.defined() && t->t.is_cpu() ? t->t.data_ptr() : nullptr; }
int pt_copy_to_buffer(pt_tensor t, void *dst, size_t nbytes) {
  PT_TRY({
    at::Tensor c = t->t.detach().to(at::kCPU).contiguous();
    size_t have = c.numel() * c.element_size();
    if (have != nbytes)
      throw std::runtime_error("buffer of " + std::to_string(nbytes) + " bytes for a tensor of " +
                               std::to_string(have) + " bytes");
    if (have > 0) std::memcpy(dst, c.data_ptr(), have);
  })
}
int pt_item(pt_scalar *out, pt_tensor t) {
  PT_TRY({
    at::Scalar s = t->t.item();
    if (s.isBoolean()) *out = pt_scalar{0, s.toBool() ? 1 : 0, 2};
    else if (s.isIntegral(false)) *out = pt_scalar{0, s.toLong(), 1};
    else *out = pt_scalar{s.toDouble(), 0, 0};
  })
}
int pt_to_dtype(pt_tensor *out, pt_tensor t, int dtype) { PT_OUT(t->t.to(dtype_of(dtype))) }
int pt_to_device(pt_tensor *out, pt_tensor t, int device, int index) { PT_OUT(t->t.to(device_of(device, index))) }
int pt_clone(pt_tensor *out, pt_tensor t) { PT_OUT(t->t.clone()) }
int pt_contiguous(pt_tensor *out, pt_tensor t) { PT_OUT(t->t.contiguous()) }
int pt_detach(pt_tensor *out, pt_tensor t) { PT_OUT(t->t.detach()) }
int pt_description(char **out, pt_tensor t) {
  PT_TRY({
    std::ostringstream s;
    if (t->t.defined()) s << t->t; else s << "undefined tensor";
    *out = strdup(s.str().c_str());
  })
}
void pt_free_string(char *s) { free(s); }

/* ---- shape ---- */
int pt_reshape(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim) { PT_OUT(t->t.reshape(dims(shape, ndim))) }
int pt_view(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim) { PT_OUT(t->t.view(dims(shape, ndim))) }
int pt_permute(pt_tensor *out, pt_tensor t, const int64_t *d, int ndim) { PT_OUT(t->t.permute(dims(d, ndim))) }
int pt_transpose(pt_tensor *out, pt_tensor t, int64_t dim0, int64_t dim1) { PT_OUT(t->t.transpose(dim0, dim1)) }
int pt_expand(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim) { PT_OUT(t->t.expand(dims(shape, ndim))) }
int pt_squeeze(pt_tensor *out, pt_tensor t, int64_t dim) { PT_OUT(t->t.squeeze(dim)) }
int pt_squeeze_all(pt_tensor *out, pt_tensor t) { PT_OUT(t->t.squeeze()) }
int pt_unsqueeze(pt_tensor *out, pt_tensor t, int64_t dim) { PT_OUT(t->t.unsqueeze(dim)) }
int pt_flatten(pt_tensor *out, pt_tensor t, int64_t s, int64_t e) { PT_OUT(t->t.flatten(s, e)) }
int pt_cat(pt_tensor *out, const pt_tensor *ts, int n, int64_t dim) { PT_OUT(at::cat(tensors_of(ts, n), dim)) }
int pt_stack(pt_tensor *out, const pt_tensor *ts, int n, int64_t dim) { PT_OUT(at::stack(tensors_of(ts, n), dim)) }
int pt_split_with_sizes(pt_tensor *outs, pt_tensor t, const int64_t *sizes, int n, int64_t dim) {
  PT_TRY({
    auto parts = t->t.split_with_sizes(dims(sizes, n), dim);
    for (int i = 0; i < n; ++i) outs[i] = wrap(parts[static_cast<size_t>(i)]);
  })
}
int pt_narrow(pt_tensor *out, pt_tensor t, int64_t dim, int64_t start, int64_t length) {
  PT_OUT(t->t.narrow(dim, start, length))
}
int pt_roll(pt_tensor *out, pt_tensor t, int64_t shift, int64_t dim) { PT_OUT(at::roll(t->t, {shift}, {dim})) }
int pt_slice(pt_tensor *out, pt_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  PT_OUT(t->t.slice(dim, start, end, step))
}
int pt_select(pt_tensor *out, pt_tensor t, int64_t dim, int64_t index) { PT_OUT(t->t.select(dim, index)) }
int pt_index_select(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index) {
  PT_OUT(at::index_select(t->t, dim, index->t))
}
int pt_gather(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index) { PT_OUT(at::gather(t->t, dim, index->t)) }
int pt_scatter(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src) {
  PT_OUT(at::scatter(t->t, dim, index->t, src->t))
}
int pt_scatter_add(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src) {
  PT_OUT(at::scatter_add(t->t, dim, index->t, src->t))
}
int pt_masked_fill(pt_tensor *out, pt_tensor t, pt_tensor mask, pt_scalar value) {
  PT_OUT(at::masked_fill(t->t, mask->t, scalar_of(value)))
}
int pt_where(pt_tensor *out, pt_tensor cond, pt_tensor a, pt_tensor b) { PT_OUT(at::where(cond->t, a->t, b->t)) }
int pt_repeat_interleave(pt_tensor *out, pt_tensor t, int64_t repeats, int64_t dim) {
  PT_OUT(at::repeat_interleave(t->t, repeats, dim))
}
int pt_repeat(pt_tensor *out, pt_tensor t, const int64_t *repeats, int ndim) { PT_OUT(t->t.repeat(dims(repeats, ndim))) }
int pt_tril(pt_tensor *out, pt_tensor t, int64_t diagonal) { PT_OUT(at::tril(t->t, diagonal)) }
int pt_triu(pt_tensor *out, pt_tensor t, int64_t diagonal) { PT_OUT(at::triu(t->t, diagonal)) }
int pt_flip(pt_tensor *out, pt_tensor t, const int64_t *d, int ndim) { PT_OUT(at::flip(t->t, dims(d, ndim))) }
int pt_nonzero(pt_tensor *out, pt_tensor t) { PT_OUT(at::nonzero(t->t)) }
int pt_masked_select(pt_tensor *out, pt_tensor t, pt_tensor mask) { PT_OUT(at::masked_select(t->t, mask->t)) }

/* ---- elementwise ---- */
int pt_binary(pt_tensor *out, pt_binary_op op, pt_tensor a, pt_tensor b) { PT_OUT(binary(op, a->t, b->t)) }
int pt_binary_scalar(pt_tensor *out, pt_binary_op op, pt_tensor a, pt_scalar b) {
  PT_OUT(binary_scalar(op, a->t, scalar_of(b)))
}
int pt_scalar_binary(pt_tensor *out, pt_binary_op op, pt_scalar a, pt_tensor b) {
  PT_TRY({
    at::Scalar s = scalar_of(a);
    if (op == PT_SUB) *out = wrap(at::rsub(b->t, s));
    else if (op == PT_ADD || op == PT_MUL) *out = wrap(binary_scalar(op, b->t, s));
    else *out = wrap(binary(op, at::scalar_tensor(s, at::TensorOptions().dtype(s.type()).device(b->t.device())), b->t));
  })
}
int pt_unary(pt_tensor *out, pt_unary_op op, pt_tensor a) { PT_OUT(unary(op, a->t)) }
int pt_clamp(pt_tensor *out, pt_tensor t, bool has_min, pt_scalar min, bool has_max, pt_scalar max) {
  PT_OUT(at::clamp(t->t, has_min ? std::optional<at::Scalar>(scalar_of(min)) : std::nullopt,
                   has_max ? std::optional<at::Scalar>(scalar_of(max)) : std::nullopt))
}

/* ---- reductions ---- */
int pt_reduce(pt_tensor *out, pt_reduce_op op, pt_tensor t, const int64_t *d, int ndim, bool keepdim) {
  PT_TRY({
    const at::Tensor &x = t->t;
    std::vector<int64_t> all;
    if (ndim == 0) { for (int64_t i = 0; i < x.dim(); ++i) all.push_back(i); }
    at::IntArrayRef ds = ndim == 0 ? at::IntArrayRef(all) : dims(d, ndim);
    at::OptionalIntArrayRef ods = ndim == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(ds);
    switch (op) {
      case PT_SUM: *out = wrap(at::sum(x, ods, keepdim)); break;
      case PT_MEAN: *out = wrap(at::mean(x, ods, keepdim)); break;
      case PT_AMAX: *out = wrap(at::amax(x, ds, keepdim)); break;
      case PT_AMIN: *out = wrap(at::amin(x, ds, keepdim)); break;
      case PT_LOGSUMEXP: *out = wrap(at::logsumexp(x, ds, keepdim)); break;
      case PT_ANY: *out = wrap(ndim == 0 && !keepdim ? at::any(x) : at::any(x, ods, keepdim)); break;
      case PT_ALL: *out = wrap(ndim == 0 && !keepdim ? at::all(x) : at::all(x, ods, keepdim)); break;
      case PT_PROD: {
        at::Tensor r = x;
        if (ndim == 0 && !keepdim) { r = at::prod(x); }
        else {
          std::vector<int64_t> sorted(ds.begin(), ds.end());
          for (auto &v : sorted) if (v < 0) v += x.dim();
          std::sort(sorted.rbegin(), sorted.rend());
          for (int64_t v : sorted) r = at::prod(r, v, keepdim);
        }
        *out = wrap(r);
        break;
      }
      default: throw std::runtime_error("unknown reduction " + std::to_string(static_cast<int>(op)));
    }
  })
}
int pt_var(pt_tensor *out, pt_tensor t, const int64_t *d, int ndim, int64_t correction, bool keepdim) {
  PT_OUT(at::var(t->t, ndim == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(dims(d, ndim)),
                 at::Scalar(correction), keepdim))
}
int pt_std(pt_tensor *out, pt_tensor t, const int64_t *d, int ndim, int64_t correction, bool keepdim) {
  PT_OUT(at::std(t->t, ndim == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(dims(d, ndim)),
                 at::Scalar(correction), keepdim))
}
int pt_max_dim(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool keepdim) {
  PT_TRY({
    auto r = at::max(t->t, dim, keepdim);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int pt_min_dim(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool keepdim) {
  PT_TRY({
    auto r = at::min(t->t, dim, keepdim);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int pt_argmax(pt_tensor *out, pt_tensor t, int64_t dim, bool keepdim) { PT_OUT(at::argmax(t->t, dim, keepdim)) }
int pt_argmin(pt_tensor *out, pt_tensor t, int64_t dim, bool keepdim) { PT_OUT(at::argmin(t->t, dim, keepdim)) }
int pt_topk(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t k, int64_t dim, bool largest, bool sorted) {
  PT_TRY({
    auto r = at::topk(t->t, k, dim, largest, sorted);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int pt_sort(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool descending, bool stable) {
  PT_TRY({
    auto r = at::sort(t->t, stable, dim, descending);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int pt_cumsum(pt_tensor *out, pt_tensor t, int64_t dim) { PT_OUT(at::cumsum(t->t, dim)) }
int pt_norm(pt_tensor *out, pt_tensor t, double p, const int64_t *d, int ndim, bool keepdim) {
  PT_OUT(at::linalg_vector_norm(t->t, at::Scalar(p),
                                ndim == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(dims(d, ndim)),
                                keepdim))
}

/* ---- linear algebra and neural-network functions ---- */
int pt_matmul(pt_tensor *out, pt_tensor a, pt_tensor b) { PT_OUT(at::matmul(a->t, b->t)) }
int pt_bmm(pt_tensor *out, pt_tensor a, pt_tensor b) { PT_OUT(at::bmm(a->t, b->t)) }
int pt_linear(pt_tensor *out, pt_tensor x, pt_tensor weight, pt_tensor bias) {
  PT_OUT(at::linear(x->t, weight->t, bias ? std::optional<at::Tensor>(bias->t) : std::nullopt))
}
static const c10::OperatorHandle *packed_linear_operator(const char *name) {
  auto handle = c10::Dispatcher::singleton().findSchema({name, ""});
  return handle ? new c10::OperatorHandle(*handle) : nullptr;
}
static const c10::OperatorHandle *pack_operator() {
  static const c10::OperatorHandle *op = packed_linear_operator("mkl::_mkl_reorder_linear_weight");
  return op;
}
static const c10::OperatorHandle *packed_linear_op() {
  static const c10::OperatorHandle *op = packed_linear_operator("mkl::_mkl_linear");
  return op;
}
bool pt_has_packed_linear(void) { return pack_operator() && packed_linear_op(); }
int pt_pack_linear_weight(pt_tensor *out, pt_tensor weight, int64_t batch) {
  PT_TRY(
    if (!pt_has_packed_linear()) throw std::runtime_error("this libtorch has no MKL packed GEMM (mkl::_mkl_linear)");
    if (weight->t.scalar_type() != at::kFloat || weight->t.dim() != 2 || !weight->t.device().is_cpu())
      throw std::runtime_error("a packed linear weight must be a 2-D float32 CPU tensor");
    at::NoGradGuard no_grad;
    *out = wrap(pack_operator()->typed<at::Tensor(const at::Tensor &, int64_t)>().call(weight->t.contiguous(), batch)))
}
int pt_packed_linear(pt_tensor *out, pt_tensor x, pt_tensor packed, pt_tensor weight, pt_tensor bias) {
  PT_TRY(
    if (!pt_has_packed_linear()) throw std::runtime_error("this libtorch has no MKL packed GEMM (mkl::_mkl_linear)");
    // The operator runs the packed GEMM when its batch argument equals the input's rows (else plain linear).
    const int64_t rows = x->t.numel() / x->t.size(-1);
    auto op = packed_linear_op()->typed<at::Tensor(const at::Tensor &, const at::Tensor &, const at::Tensor &,
                                                   const std::optional<at::Tensor> &, int64_t)>();
    *out = wrap(op.call(x->t, packed->t, weight->t, bias ? std::optional<at::Tensor>(bias->t) : std::nullopt, rows)))
}
int64_t pt_version(pt_tensor t) { return static_cast<int64_t>(t->t._version()); }
int64_t pt_trim_heap(int64_t min_free_bytes) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 info = mallinfo2();
  const int64_t free_bytes = static_cast<int64_t>(info.fordblks);
  if (free_bytes >= min_free_bytes) malloc_trim(0);
  return free_bytes;
#else
  (void)min_free_bytes;
  return -1;
#endif
}
int pt_softmax(pt_tensor *out, pt_tensor t, int64_t dim) { PT_OUT(at::softmax(t->t, dim)) }
int pt_log_softmax(pt_tensor *out, pt_tensor t, int64_t dim) { PT_OUT(at::log_softmax(t->t, dim)) }
int pt_embedding(pt_tensor *out, pt_tensor weight, pt_tensor indices) { PT_OUT(at::embedding(weight->t, indices->t)) }
int pt_rms_norm(pt_tensor *out, pt_tensor x, pt_tensor weight, double eps) {
  PT_OUT(at::rms_norm(x->t, weight->t.sizes(), weight->t, eps))
}
int pt_scaled_dot_product_attention(pt_tensor *out, pt_tensor q, pt_tensor k, pt_tensor v, pt_tensor mask,
                                    bool is_causal, double scale, bool enable_gqa) {
  PT_OUT(at::scaled_dot_product_attention(q->t, k->t, v->t,
                                          mask ? std::optional<at::Tensor>(mask->t) : std::nullopt, 0.0, is_causal,
                                          scale < 0 ? std::nullopt : std::optional<double>(scale), enable_gqa))
}
int pt_cross_entropy(pt_tensor *out, pt_tensor logits, pt_tensor target, int64_t ignore_index, pt_reduction reduction,
                     double label_smoothing) {
  PT_OUT(at::cross_entropy_loss(logits->t, target->t, std::nullopt, static_cast<int64_t>(reduction), ignore_index,
                                label_smoothing))
}
int pt_multinomial(pt_tensor *out, pt_tensor probs, int64_t n, bool replacement, pt_generator g) {
  PT_OUT(at::multinomial(probs->t, n, replacement, gen_of(g)))
}
int pt_dropout(pt_tensor *out, pt_tensor t, double p, bool train) { PT_OUT(at::dropout(t->t, p, train)) }

/* ---- autograd ---- */
int pt_set_requires_grad(pt_tensor t, bool requires_grad) { PT_TRY(t->t.requires_grad_(requires_grad)) }
int pt_backward(pt_tensor t, pt_tensor grad, bool retain_graph) {
  PT_TRY(t->t.backward(grad ? grad->t : at::Tensor(), retain_graph ? std::optional<bool>(true) : std::nullopt))
}
int pt_grad(pt_tensor *out, pt_tensor t) {
  PT_TRY({
    const at::Tensor &g = t->t.grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}
int pt_zero_grad(pt_tensor t) { PT_TRY(t->t.mutable_grad().reset()) }

/* ---- in-place ---- */
int pt_copy_(pt_tensor dst, pt_tensor src) { PT_TRY(dst->t.copy_(src->t)) }
int pt_fill_(pt_tensor t, pt_scalar value) { PT_TRY(t->t.fill_(scalar_of(value))) }
int pt_zero_(pt_tensor t) { PT_TRY(t->t.zero_()) }
int pt_add_(pt_tensor t, pt_tensor other, pt_scalar alpha) { PT_TRY(t->t.add_(other->t, scalar_of(alpha))) }
int pt_mul_scalar_(pt_tensor t, pt_scalar s) { PT_TRY(t->t.mul_(scalar_of(s))) }
int pt_index_copy_(pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src) {
  PT_TRY(t->t.index_copy_(dim, index->t, src->t))
}

/* ---- optimizers ---- */
int pt_adamw_step(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *exp_avgs,
                  const pt_tensor *exp_avg_sqs, const pt_tensor *steps, int n, double lr, double beta1, double beta2,
                  double weight_decay, double eps) {
  PT_TRY({
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> p, g, m, v, s;
    for (int i = 0; i < n; ++i) {
      if (grads[i] == nullptr) continue;
      p.push_back(params[i]->t);
      g.push_back(grads[i]->t);
      m.push_back(exp_avgs[i]->t);
      v.push_back(exp_avg_sqs[i]->t);
      s.push_back(steps[i]->t);
    }
    // As torch.optim.AdamW(fused=True): the step counters advance first, the kernel reads them for bias correction.
    if (!p.empty()) at::_foreach_add_(s, at::Scalar(1));
    if (!p.empty())
      at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps, false, false, std::nullopt,
                        std::nullopt);
    // The fused kernel writes the parameters without moving their version counters; readers that keep derived
    // copies (packed decode weights) rely on them, as on any in-place op's.
    for (auto &t : p) t.unsafeGetTensorImpl()->bump_version();
  })
}
int pt_clip_grad_norm(double *total_norm, const pt_tensor *grads, int n, double max_norm) {
  PT_TRY({
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> g;
    for (int i = 0; i < n; ++i)
      if (grads[i] != nullptr) g.push_back(grads[i]->t);
    if (g.empty()) { *total_norm = 0; return 0; }
    auto norms = at::_foreach_norm(g, 2);
    double norm = at::linalg_vector_norm(at::stack(norms).to(at::kDouble), 2).item<double>();
    *total_norm = norm;
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) at::_foreach_mul_(g, at::Scalar(coef));
  })
}

/* ---- benchmarking ---- */
int pt_benchmark_add_loop(double *ns_per_op, pt_tensor a, pt_tensor b, int64_t iterations) {
  PT_TRY({
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < iterations; ++i) {
      auto *r = wrap(at::add(a->t, b->t));  // the same allocation of a handle that Swift's ops make
      delete r;
    }
    auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    *ns_per_op = elapsed / static_cast<double>(iterations);
  })
}

}  // extern "C"
