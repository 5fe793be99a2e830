/*
 * CTorch: a small C API over libtorch (ATen), in the style of tch-rs and mlx-c.
 *
 * Conventions
 * - Tensors are opaque handles (`pt_tensor`), owned by the caller and released with pt_free.
 * - Every fallible function returns an int status (0 = success) and writes its result through the
 *   first argument. On failure the message is in pt_last_error() (thread-local), no C++ exception
 *   ever crosses this boundary, and no output is written.
 * - dtype codes are c10::ScalarType values (see PT_* below); device codes: 0 = CPU, 1 = CUDA.
 * - Shapes and dimension lists are (int64_t *, int) pairs.
 * No logic about models lives here.
 */
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_tensor_s *pt_tensor;
typedef struct pt_generator_s *pt_generator;

enum {
  PT_UINT8 = 0, PT_INT8 = 1, PT_INT16 = 2, PT_INT32 = 3, PT_INT64 = 4, PT_FLOAT16 = 5,
  PT_FLOAT32 = 6, PT_FLOAT64 = 7, PT_BOOL = 11, PT_BFLOAT16 = 15
};
enum { PT_CPU = 0, PT_CUDA = 1 };

/// A scalar operand: kind 0 = floating (d), 1 = integer (i), 2 = boolean (i != 0).
typedef struct { double d; int64_t i; int kind; } pt_scalar;

typedef enum {
  PT_ADD, PT_SUB, PT_MUL, PT_DIV, PT_POW, PT_MINIMUM, PT_MAXIMUM, PT_REMAINDER, PT_FLOOR_DIVIDE,
  PT_EQ, PT_NE, PT_LT, PT_LE, PT_GT, PT_GE, PT_LOGICAL_AND, PT_LOGICAL_OR, PT_LOGICAL_XOR, PT_ATAN2
} pt_binary_op;

typedef enum {
  PT_NEG, PT_EXP, PT_LOG, PT_SQRT, PT_RSQRT, PT_ABS, PT_SIGMOID, PT_TANH, PT_SILU, PT_GELU,
  PT_GELU_TANH, PT_RELU, PT_LOGICAL_NOT, PT_SIN, PT_COS, PT_FLOOR, PT_CEIL, PT_ROUND, PT_SIGN,
  PT_RECIPROCAL, PT_ERF, PT_LOG1P, PT_EXPM1, PT_SQUARE, PT_ISNAN, PT_ISINF, PT_ISFINITE
} pt_unary_op;

typedef enum { PT_SUM, PT_MEAN, PT_AMAX, PT_AMIN, PT_PROD, PT_LOGSUMEXP, PT_ANY, PT_ALL } pt_reduce_op;

typedef enum { PT_REDUCTION_NONE = 0, PT_REDUCTION_MEAN = 1, PT_REDUCTION_SUM = 2 } pt_reduction;

/* ---- errors, library state ---- */
const char *pt_last_error(void);
void pt_free(pt_tensor t);
void pt_set_num_threads(int n);
int pt_get_num_threads(void);
void pt_manual_seed(uint64_t seed);
bool pt_cuda_is_available(void);
int pt_cuda_device_count(void);
bool pt_is_grad_enabled(void);
/// Sets the thread-local grad mode and returns the previous value.
bool pt_set_grad_enabled(bool enabled);
/// Tensors are shared by reference: a new handle to the same tensor (no copy).
int pt_shallow_clone(pt_tensor *out, pt_tensor t);
/// An undefined tensor (a placeholder for a failed op inside a checked scope).
pt_tensor pt_undefined(void);
bool pt_defined(pt_tensor t);

/* ---- generators ---- */
int pt_generator_new(pt_generator *out, uint64_t seed);
void pt_generator_free(pt_generator g);
int pt_generator_set_seed(pt_generator g, uint64_t seed);
/// The generator's full state as a uint8 tensor, and back (for checkpoints).
int pt_generator_get_state(pt_tensor *out, pt_generator g);
int pt_generator_set_state(pt_generator g, pt_tensor state);

/* ---- creation ---- */
int pt_from_data(pt_tensor *out, const void *data, const int64_t *shape, int ndim, int dtype);
int pt_empty(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device);
int pt_zeros(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device);
int pt_ones(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device);
int pt_full(pt_tensor *out, const int64_t *shape, int ndim, pt_scalar value, int dtype, int device);
int pt_arange(pt_tensor *out, pt_scalar start, pt_scalar end, pt_scalar step, int dtype, int device);
int pt_randn(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device, pt_generator g);
int pt_rand(pt_tensor *out, const int64_t *shape, int ndim, int dtype, int device, pt_generator g);
int pt_randint(pt_tensor *out, int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype,
               int device, pt_generator g);

/* ---- inspection and conversion ---- */
int pt_dim(pt_tensor t);
/// Writes dim() sizes into `sizes` (which must hold pt_dim(t) values).
void pt_sizes(pt_tensor t, int64_t *sizes);
void pt_strides(pt_tensor t, int64_t *strides);
int pt_dtype(pt_tensor t);
int pt_device(pt_tensor t);
int64_t pt_numel(pt_tensor t);
int64_t pt_element_size(pt_tensor t);
bool pt_is_contiguous(pt_tensor t);
bool pt_requires_grad(pt_tensor t);
/// Pointer to the first element of a CPU tensor (NULL for other devices); valid while t lives.
void *pt_data_ptr(pt_tensor t);
/// Copies the tensor's elements (converted to a contiguous CPU tensor of its dtype) into dst.
int pt_copy_to_buffer(pt_tensor t, void *dst, size_t nbytes);
int pt_item(pt_scalar *out, pt_tensor t);
int pt_to_dtype(pt_tensor *out, pt_tensor t, int dtype);
int pt_to_device(pt_tensor *out, pt_tensor t, int device, int index);
int pt_clone(pt_tensor *out, pt_tensor t);
int pt_contiguous(pt_tensor *out, pt_tensor t);
int pt_detach(pt_tensor *out, pt_tensor t);
/// Formats the tensor as libtorch prints it.
int pt_description(char **out, pt_tensor t);
void pt_free_string(char *s);

/* ---- shape ---- */
int pt_reshape(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim);
int pt_view(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim);
int pt_permute(pt_tensor *out, pt_tensor t, const int64_t *dims, int ndim);
int pt_transpose(pt_tensor *out, pt_tensor t, int64_t dim0, int64_t dim1);
int pt_expand(pt_tensor *out, pt_tensor t, const int64_t *shape, int ndim);
int pt_squeeze(pt_tensor *out, pt_tensor t, int64_t dim);
int pt_squeeze_all(pt_tensor *out, pt_tensor t);
int pt_unsqueeze(pt_tensor *out, pt_tensor t, int64_t dim);
int pt_flatten(pt_tensor *out, pt_tensor t, int64_t start_dim, int64_t end_dim);
int pt_cat(pt_tensor *out, const pt_tensor *ts, int n, int64_t dim);
int pt_stack(pt_tensor *out, const pt_tensor *ts, int n, int64_t dim);
/// Splits into pieces of the given sizes along dim; `outs` must hold `n` handles.
int pt_split_with_sizes(pt_tensor *outs, pt_tensor t, const int64_t *sizes, int n, int64_t dim);
int pt_narrow(pt_tensor *out, pt_tensor t, int64_t dim, int64_t start, int64_t length);
/// The tensor's entries shifted by `shift` along `dim`, wrapping around (torch.roll).
int pt_roll(pt_tensor *out, pt_tensor t, int64_t shift, int64_t dim);
int pt_slice(pt_tensor *out, pt_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step);
int pt_select(pt_tensor *out, pt_tensor t, int64_t dim, int64_t index);
int pt_index_select(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index);
int pt_gather(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index);
int pt_scatter(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src);
int pt_scatter_add(pt_tensor *out, pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src);
int pt_masked_fill(pt_tensor *out, pt_tensor t, pt_tensor mask, pt_scalar value);
int pt_where(pt_tensor *out, pt_tensor cond, pt_tensor a, pt_tensor b);
int pt_repeat_interleave(pt_tensor *out, pt_tensor t, int64_t repeats, int64_t dim);
int pt_repeat(pt_tensor *out, pt_tensor t, const int64_t *repeats, int ndim);
int pt_tril(pt_tensor *out, pt_tensor t, int64_t diagonal);
int pt_triu(pt_tensor *out, pt_tensor t, int64_t diagonal);
int pt_flip(pt_tensor *out, pt_tensor t, const int64_t *dims, int ndim);
int pt_nonzero(pt_tensor *out, pt_tensor t);
/// t[mask] for a boolean mask of t's shape (a 1-D result).
int pt_masked_select(pt_tensor *out, pt_tensor t, pt_tensor mask);

/* ---- elementwise ---- */
int pt_binary(pt_tensor *out, pt_binary_op op, pt_tensor a, pt_tensor b);
int pt_binary_scalar(pt_tensor *out, pt_binary_op op, pt_tensor a, pt_scalar b);
/// scalar (op) tensor, for non-commutative ops such as 1 - t or 2 / t.
int pt_scalar_binary(pt_tensor *out, pt_binary_op op, pt_scalar a, pt_tensor b);
int pt_unary(pt_tensor *out, pt_unary_op op, pt_tensor a);
/// Either bound may be absent (has_min / has_max false).
int pt_clamp(pt_tensor *out, pt_tensor t, bool has_min, pt_scalar min, bool has_max, pt_scalar max);

/* ---- reductions (ndim == 0 means all dimensions) ---- */
int pt_reduce(pt_tensor *out, pt_reduce_op op, pt_tensor t, const int64_t *dims, int ndim, bool keepdim);
int pt_var(pt_tensor *out, pt_tensor t, const int64_t *dims, int ndim, int64_t correction, bool keepdim);
int pt_std(pt_tensor *out, pt_tensor t, const int64_t *dims, int ndim, int64_t correction, bool keepdim);
int pt_max_dim(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool keepdim);
int pt_min_dim(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool keepdim);
int pt_argmax(pt_tensor *out, pt_tensor t, int64_t dim, bool keepdim);
int pt_argmin(pt_tensor *out, pt_tensor t, int64_t dim, bool keepdim);
int pt_topk(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t k, int64_t dim, bool largest, bool sorted);
int pt_sort(pt_tensor *values, pt_tensor *indices, pt_tensor t, int64_t dim, bool descending, bool stable);
int pt_cumsum(pt_tensor *out, pt_tensor t, int64_t dim);
int pt_norm(pt_tensor *out, pt_tensor t, double p, const int64_t *dims, int ndim, bool keepdim);

/* ---- linear algebra and neural-network functions ---- */
int pt_matmul(pt_tensor *out, pt_tensor a, pt_tensor b);
int pt_bmm(pt_tensor *out, pt_tensor a, pt_tensor b);
/// x W^T + b; bias may be NULL.
int pt_linear(pt_tensor *out, pt_tensor x, pt_tensor weight, pt_tensor bias);
/// Whether this libtorch has MKL's packed single-precision GEMM (the `mkl::_mkl_linear` operators).
bool pt_has_packed_linear(void);
/// A float32 weight (out, in) packed once for MKL's GEMM (an opaque tensor); `batch` is the row count it is tuned for.
int pt_pack_linear_weight(pt_tensor *out, pt_tensor weight, int64_t batch);
/// x W^T + b with W packed by pt_pack_linear_weight (`weight` is the same matrix unpacked); no autograd. bias may be NULL.
int pt_packed_linear(pt_tensor *out, pt_tensor x, pt_tensor packed, pt_tensor weight, pt_tensor bias);
/// The tensor's version counter: in-place writes (optimizer steps, copies) increase it.
int64_t pt_version(pt_tensor t);
/// Returns memory the C heap holds free to the operating system (glibc's malloc_trim) when at least `min_free_bytes`
/// are free in it. Returns the free bytes found, or -1 where the C library cannot tell (then nothing is done).
int64_t pt_trim_heap(int64_t min_free_bytes);
int pt_softmax(pt_tensor *out, pt_tensor t, int64_t dim);
int pt_log_softmax(pt_tensor *out, pt_tensor t, int64_t dim);
int pt_embedding(pt_tensor *out, pt_tensor weight, pt_tensor indices);
/// libtorch's fused RMSNorm: x / sqrt(mean(x^2) + eps) * weight over the last dims of `weight`'s shape.
int pt_rms_norm(pt_tensor *out, pt_tensor x, pt_tensor weight, double eps);
/// mask may be NULL; scale < 0 means the default 1/sqrt(head_dim).
int pt_scaled_dot_product_attention(pt_tensor *out, pt_tensor q, pt_tensor k, pt_tensor v, pt_tensor mask,
                                    bool is_causal, double scale, bool enable_gqa);
/// logits (N, C) or (N, C, d...), target class indices; weight-free.
int pt_cross_entropy(pt_tensor *out, pt_tensor logits, pt_tensor target, int64_t ignore_index,
                     pt_reduction reduction, double label_smoothing);
int pt_multinomial(pt_tensor *out, pt_tensor probs, int64_t n, bool replacement, pt_generator g);
int pt_dropout(pt_tensor *out, pt_tensor t, double p, bool train);

/* ---- autograd ---- */
int pt_set_requires_grad(pt_tensor t, bool requires_grad);
/// grad may be NULL (scalar output).
int pt_backward(pt_tensor t, pt_tensor grad, bool retain_graph);
/// *out is NULL when the tensor has no gradient.
int pt_grad(pt_tensor *out, pt_tensor t);
/// Drops the accumulated gradient (sets it to None, as optimizer.zero_grad(set_to_none=True)).
int pt_zero_grad(pt_tensor t);

/* ---- in-place ---- */
int pt_copy_(pt_tensor dst, pt_tensor src);
int pt_fill_(pt_tensor t, pt_scalar value);
int pt_zero_(pt_tensor t);
int pt_add_(pt_tensor t, pt_tensor other, pt_scalar alpha);
int pt_mul_scalar_(pt_tensor t, pt_scalar s);
int pt_index_copy_(pt_tensor t, int64_t dim, pt_tensor index, pt_tensor src);

/* ---- optimizers ---- */
/// One AdamW step over n parameters with libtorch's fused CPU kernel (decoupled weight decay).
/// steps are float32 scalar tensors, incremented here before the update; grads of NULL parameters are skipped.
int pt_adamw_step(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *exp_avgs,
                  const pt_tensor *exp_avg_sqs, const pt_tensor *steps, int n, double lr, double beta1,
                  double beta2, double weight_decay, double eps);
/// Scales gradients in place so their global L2 norm is at most max_norm; writes the norm before clipping.
int pt_clip_grad_norm(double *total_norm, const pt_tensor *grads, int n, double max_norm);

/* ---- benchmarking ---- */
/// Times `iterations` calls of at::add(a, b) from C++ alone (the baseline for Swift's per-op overhead).
int pt_benchmark_add_loop(double *ns_per_op, pt_tensor a, pt_tensor b, int64_t iterations);

#ifdef __cplusplus
}
#endif
#endif
